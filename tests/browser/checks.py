"""Checks run inside the page: layout at small widths and the WCAG 2.1 AA basics.

Each returns a list of problems (empty = pass), so a failed assertion shows what is wrong:

    assert horizontal_overflow(page) == []
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page


@cache
def _source() -> str:
    return (Path(__file__).parent / "checks.js").read_text(encoding="utf-8")


def _run(page: Page, name: str, arg: Any = None) -> list[str]:
    return list(page.evaluate(f"(arg) => ({_source()}).{name}(arg)", arg))


def horizontal_overflow(page: Page) -> list[str]:
    """Elements reaching past the viewport's sides (the page must not scroll sideways)."""
    return _run(page, "horizontalOverflow")


def contrast_failures(page: Page) -> list[str]:
    """Text below 4.5:1 (3:1 for large text) against its effective background colour."""
    return _run(page, "contrastFailures")


def small_targets(page: Page, minimum: int = 44) -> list[str]:
    """Controls smaller than minimum x minimum CSS px (links inside sentences are exempt)."""
    return _run(page, "smallTargets", minimum)


def unlabelled_controls(page: Page) -> list[str]:
    """Form controls without a label, buttons and links without an accessible name."""
    return _run(page, "unlabelledControls")
