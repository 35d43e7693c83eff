"""Vietnamese first: every string in the code has a Vietnamese translation in the catalogue."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command

from thudo.core.testing import require_program

CATALOGUES = ["django.po", "djangojs.po"]
IGNORE = [
    ".venv/*",
    "var/*",
    "benchmarks/*",
    "node_modules/*",
    "build/*",
    "*/tests/*",
    "tests/*",
    "conftest.py",
]


def _msgids(path: Path) -> dict[str, object]:
    with path.open("rb") as fh:
        catalog = read_po(fh)
    return {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}


def test_every_catalogued_string_is_translated() -> None:
    po = Path(settings.BASE_DIR) / "locale" / "vi" / "LC_MESSAGES" / "django.po"
    untranslated = []
    for msgid, message in _msgids(po).items():
        string = message.string  # type: ignore[attr-defined]
        values = string if isinstance(string, tuple | list) else [string]
        if not all(values) or message.fuzzy:  # type: ignore[attr-defined]
            untranslated.append(msgid)
    assert not untranslated, f"untranslated or fuzzy in vi: {untranslated[:20]}"


def test_catalogue_covers_every_string_in_the_code(tmp_path: Path, settings) -> None:
    """Extract the strings afresh (GNU gettext) from a copy of the code, and compare with the
    committed catalogue. The copy keeps makemessages from touching the repository."""
    require_program("xgettext", "extracting strings needs GNU gettext (apt: gettext)")
    base = Path(settings.BASE_DIR)
    tree = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "static")
    for part in ("config", "thudo", "locale"):
        shutil.copytree(base / part, tree / part, ignore=skip)
    settings.LOCALE_PATHS = [tree / "locale"]
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        call_command("makemessages", locale=["vi"], verbosity=0, no_obsolete=True)
    finally:
        os.chdir(cwd)
    fresh = _msgids(tree / "locale" / "vi" / "LC_MESSAGES" / "django.po")
    committed = _msgids(base / "locale" / "vi" / "LC_MESSAGES" / "django.po")
    missing = sorted(set(fresh) - set(committed))
    assert not missing, (
        f"{len(missing)} strings are not in locale/vi (run `make messages` and translate): "
        f"{missing[:15]}"
    )


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_languages_are_configured(lang: str) -> None:
    assert lang in dict(settings.LANGUAGES)
    assert settings.LANGUAGE_CODE == "vi"
