"""The Babel-based compilemessages: compiles, skips fuzzy entries, rejects malformed catalogues."""

from __future__ import annotations

import gettext
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, get_commands
from django.test import override_settings

GOOD_PO = """\
# A small Vietnamese catalogue for the test.
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: vi\\n"
"Plural-Forms: nplurals=1; plural=0;\\n"

msgid "Home"
msgstr "Trang chủ"

#, python-format
msgid "Public services of %(city)s"
msgstr "Dịch vụ công %(city)s"

#, fuzzy
msgid "Dashboard"
msgstr "Bảng điều khiển"

msgctxt "menu"
msgid "Services"
msgstr "Dịch vụ"

msgid "Not yet translated"
msgstr ""
"""


def _catalogue(root: Path, text: str, language: str = "vi") -> Path:
    folder = root / language / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "django.po"
    po.write_text(text, encoding="utf-8")
    return po


def _compile(root: Path, *args: str) -> str:
    out = StringIO()
    with override_settings(LOCALE_PATHS=[root]):
        call_command("compilemessages", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_ours_overrides_djangos() -> None:
    assert get_commands()["compilemessages"] == "thudo.core"


def test_compiles_and_skips_fuzzy(tmp_path: Path) -> None:
    po = _catalogue(tmp_path, GOOD_PO)

    output = _compile(tmp_path)

    mo = po.with_suffix(".mo")
    assert "vi/LC_MESSAGES/django.po" in output
    assert "3 translated, 1 fuzzy skipped, 1 untranslated" in output
    with mo.open("rb") as fileobj:
        catalogue = gettext.GNUTranslations(fileobj)
    assert catalogue.gettext("Home") == "Trang chủ"
    assert catalogue.gettext("Public services of %(city)s") == "Dịch vụ công %(city)s"
    assert catalogue.pgettext("menu", "Services") == "Dịch vụ"
    assert catalogue.gettext("Dashboard") == "Dashboard"  # fuzzy: left out
    assert catalogue.gettext("Not yet translated") == "Not yet translated"


def test_use_fuzzy_includes_them(tmp_path: Path) -> None:
    po = _catalogue(tmp_path, GOOD_PO)

    _compile(tmp_path, "--use-fuzzy")

    with po.with_suffix(".mo").open("rb") as fileobj:
        assert gettext.GNUTranslations(fileobj).gettext("Dashboard") == "Bảng điều khiển"


def test_locale_filter(tmp_path: Path) -> None:
    _catalogue(tmp_path, GOOD_PO, "vi")
    _catalogue(tmp_path, GOOD_PO.replace("Language: vi", "Language: en"), "en")

    output = _compile(tmp_path, "--locale", "vi")

    assert (tmp_path / "vi/LC_MESSAGES/django.mo").exists()
    assert not (tmp_path / "en/LC_MESSAGES/django.mo").exists()
    assert "en/LC_MESSAGES" not in output


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ('msgid "Home"\nmsgstr "Trang chủ\n', "malformed catalogue"),  # unclosed quote
        ('msgid "Home"\nmsgsrt "Trang chủ"\n', "malformed catalogue"),  # misspelt keyword
        ('msgid "Home"\nmsgstr "Trang chủ"\n\nmsgid "Home"\nmsgstr "Nhà"\n', "duplicate"),
        ('#, python-format\nmsgid "Hello %(name)s"\nmsgstr "Xin chào %(ten)s"\n', "ten"),
        ('msgid "Home"\n\nmsgid "Help"\nmsgstr "Trợ giúp"\n', "without msgstr"),
        ('msgid "Home"\nmsgstr "Trang chủ"\n"stray"\n"more"\nmsgid\n', "cannot parse"),
    ],
    ids=["unclosed-quote", "bad-keyword", "duplicate", "placeholder", "no-msgstr", "no-string"],
)
def test_malformed_catalogue_fails_clearly(tmp_path: Path, broken: str, expected: str) -> None:
    header = GOOD_PO.split("\n\n")[0] + "\n\n"
    po = _catalogue(tmp_path, header + broken)

    with pytest.raises(CommandError) as failure:
        _compile(tmp_path)

    message = str(failure.value)
    assert str(po) in message
    assert expected in message
    assert not po.with_suffix(".mo").exists()


def test_extra_empty_plural_forms_are_accepted(tmp_path: Path) -> None:
    """makemessages writes msgstr[0] and msgstr[1] even where nplurals=1 (Vietnamese)."""
    po = _catalogue(
        tmp_path,
        GOOD_PO
        + '\n#, python-format\nmsgid "%(n)s event"\nmsgid_plural "%(n)s events"\n'
        + 'msgstr[0] "%(n)s sự kiện"\nmsgstr[1] ""\n',
    )

    _compile(tmp_path)

    with po.with_suffix(".mo").open("rb") as fileobj:
        catalogue = gettext.GNUTranslations(fileobj)
    assert catalogue.ngettext("%(n)s event", "%(n)s events", 5) == "%(n)s sự kiện"


def test_no_catalogues_is_not_an_error(tmp_path: Path) -> None:
    err = StringIO()
    with override_settings(LOCALE_PATHS=[tmp_path]):
        call_command("compilemessages", stdout=StringIO(), stderr=err)
    assert "no .po files" in err.getvalue()
