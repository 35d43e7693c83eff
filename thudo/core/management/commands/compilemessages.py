"""`compilemessages` without GNU gettext: compiles the .po catalogues with Babel.

Overrides Django's command of the same name (an app's command wins over Django's), so set-up
needs no system package. It compiles every `<lang>/LC_MESSAGES/*.po` under settings.LOCALE_PATHS
to the `.mo` beside it, leaves fuzzy entries out (like msgfmt), and stops with an error naming the
file and line when a catalogue is malformed or a translation breaks its placeholders.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.core import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _locale(name: str) -> Locale | None:
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        return None


_STRING = r'"(?:[^"\\]|\\.)*"'
_LINE = re.compile(rf"^(?:(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+)?({_STRING})$")


@dataclass
class _Entry:
    keyword: str = ""
    context: str = ""
    msgid: str = ""
    start: int = 0  # line of its first msgctxt/msgid, 0 before any
    translated: bool = False


def _lint(path: Path, text: str) -> None:
    """What Babel's lenient parser lets through: broken lines, unclosed quotes, a message
    without msgstr, duplicates. (Babel's own strict mode is not used: it also rejects the
    harmless empty msgstr[1] that makemessages writes for one-plural languages like vi.)"""
    seen: dict[tuple[str, str], int] = {}
    entry = _Entry()

    def fail(line: int, problem: str) -> CommandError:
        return CommandError(f"{path}:{line}: malformed catalogue: {problem}")

    def close() -> None:
        if entry.start and not entry.translated:
            raise fail(entry.start, "msgid without msgstr")
        key = (entry.context, entry.msgid)
        if entry.msgid and key in seen:
            raise fail(
                entry.start,
                f"duplicate message definition (first on line {seen[key]}): {entry.msgid!r}",
            )
        seen[key] = entry.start

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise fail(number, f"cannot parse {raw!r}")
        word = match.group(1)
        try:
            value = ast.literal_eval(match.group(2))
        except (SyntaxError, ValueError) as error:
            raise fail(number, str(error)) from error
        if word is None and not entry.keyword:
            raise fail(number, "a string outside any msgid or msgstr")
        if word in {"msgctxt", "msgid"} and entry.keyword in {"msgid", "msgid_plural"}:
            raise fail(entry.start, "msgid without msgstr")
        if word in {"msgctxt", "msgid"} and entry.keyword.startswith("msgstr"):
            close()
            entry = _Entry()
        if word is not None:
            entry.keyword = word
            if word in {"msgctxt", "msgid"} and not entry.start:
                entry.start = number
            entry.translated = entry.translated or word.startswith("msgstr")
        if entry.keyword == "msgctxt":
            entry.context += value
        elif entry.keyword == "msgid":
            entry.msgid += value
    close()


def _read(path: Path, language: str) -> tuple[Catalog, list[str]]:
    """The catalogue, and Babel's warnings about it (which it would print to stdout)."""
    babel_says = io.StringIO()
    try:
        _lint(path, path.read_text(encoding="utf-8"))
        with path.open("rb") as fileobj, contextlib.redirect_stdout(babel_says):
            catalog = read_po(fileobj, locale=_locale(language), ignore_obsolete=True)
    except PoFileError as error:
        raise CommandError(f"{path}: malformed catalogue: {error}") from error
    except (UnicodeDecodeError, ValueError, LookupError) as error:
        raise CommandError(f"{path}: cannot be read: {error}") from error
    problems = [
        line.removeprefix("WARNING:").strip()
        for line in babel_says.getvalue().splitlines()
        if line.startswith("WARNING:") and not line.startswith("WARNING: Problem on line")
    ]
    extra_plurals = problems.count(_EXTRA_PLURALS)
    warnings = [f"{path}: {p}" for p in problems if p != _EXTRA_PLURALS]
    if extra_plurals:
        warnings.append(
            f"{path}: {extra_plurals} message(s) have more plural forms than "
            f"nplurals={catalog.num_plurals}; the extra forms are ignored"
        )
    return catalog, warnings


_EXTRA_PLURALS = "msg has more translations than num_plurals of catalog"


def _check(path: Path, catalog: Catalog, use_fuzzy: bool) -> None:
    problems = []
    for message, errors in catalog.check():
        if message.fuzzy and not use_fuzzy:
            continue  # left out of the .mo anyway
        line = message.lineno or "?"
        for error in errors:
            problems.append(f"{path}:{line}: {message.id!r}: {error}")
    if problems:
        raise CommandError("translations with errors:\n" + "\n".join(problems))


def _write_atomically(target: Path, catalog: Catalog, use_fuzzy: bool) -> None:
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".mo.tmp")
    try:
        with os.fdopen(handle, "wb") as fileobj:
            write_mo(fileobj, catalog, use_fuzzy=use_fuzzy)
        Path(temp).chmod(0o644)
        Path(temp).replace(target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class Command(BaseCommand):
    help = (
        "Compiles the .po files under LOCALE_PATHS to .mo files for gettext, with Babel "
        "(no GNU gettext needed)."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--locale", "-l", action="append", default=[],
            help="Locale(s) to compile (e.g. vi). Default: all. Can be repeated.",
        )  # fmt: skip
        parser.add_argument(
            "--exclude", "-x", action="append", default=[],
            help="Locale(s) to leave out. Can be repeated.",
        )  # fmt: skip
        parser.add_argument(
            "--use-fuzzy", "-f", action="store_true",
            help="Compile fuzzy translations too (left out by default).",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = set(options["locale"])
        excluded = set(options["exclude"])
        use_fuzzy = bool(options["use_fuzzy"])
        files = sorted(
            path
            for base in settings.LOCALE_PATHS
            for path in Path(base).glob("*/LC_MESSAGES/*.po")
            if (not wanted or path.parent.parent.name in wanted)
            and path.parent.parent.name not in excluded
        )
        if not files:
            self.stderr.write("compilemessages: no .po files found under LOCALE_PATHS")
            return
        for path in files:
            self._compile(path, use_fuzzy)

    def _compile(self, path: Path, use_fuzzy: bool) -> None:
        language = path.parent.parent.name
        if not os.access(path.parent, os.W_OK):
            raise CommandError(f"{path.parent}: not writable, cannot write the .mo file")
        catalog, warnings = _read(path, language)
        for warning in warnings:
            self.stderr.write(f"warning: {warning}")
        _check(path, catalog, use_fuzzy)
        messages = [m for m in catalog if m.id]
        fuzzy = sum(1 for m in messages if m.fuzzy and m.string)
        untranslated = sum(1 for m in messages if not _translated(m.string))
        compiled = len(messages) - untranslated - (0 if use_fuzzy else fuzzy)
        target = path.with_suffix(".mo")
        _write_atomically(target, catalog, use_fuzzy)
        self.stdout.write(
            f"compiled {path} -> {target.name}: {compiled} translated"
            f", {fuzzy} fuzzy {'included' if use_fuzzy else 'skipped'}"
            f", {untranslated} untranslated"
        )


def _translated(string: object) -> bool:
    if isinstance(string, (list, tuple)):
        return all(string)
    return bool(string)
