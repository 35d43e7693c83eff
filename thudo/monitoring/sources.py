"""Where computed indicators get their values: the indicators other domains declare in the
registry (`core.registry.Indicator`), named by code (e.g. "dossiers.online_rate").

A value at a past moment needs the source's `compute_at`; a source that can only say "now" answers
for today only. An unknown code, a source that fails or answers None, or an answer that is not a
number all mean "no data" (None, logged) — never 0.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from thudo.core.registry import Indicator, registry

from .status import quantize

logger = logging.getLogger(__name__)


def _sources() -> dict[str, Indicator]:
    return {i.code: i for i in registry.indicators()}


def source_get(code: str) -> Indicator | None:
    return _sources().get(code)


def sources_available() -> list[tuple[str, str, str]]:
    """(code, label, unit) of every registry indicator, by code (the admin's choices)."""
    return sorted((i.code, str(i.label), i.unit) for i in registry.indicators())


def _number(code: str, raw: Any) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        logger.warning("monitoring source %s answered a boolean, not a number", code)
        return None
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError, TypeError):
        logger.warning("monitoring source %s answered %r, not a number", code, raw)
        return None
    if not value.is_finite():
        logger.warning("monitoring source %s answered %r", code, raw)
        return None
    return quantize(value)


def source_value(code: str, *, at: datetime) -> Decimal | None:
    """The value of registry indicator `code` at the moment `at` (2 decimal places), or None
    ("no data")."""
    source = source_get(code)
    if source is None:
        logger.warning("monitoring source %s is not a registered indicator", code)
        return None
    try:
        if source.compute_at is not None:
            raw = source.compute_at(at)
        elif timezone.localdate(at) == timezone.localdate():
            raw = source.compute()
        else:
            logger.info("monitoring source %s has no history; no value for %s", code, at)
            return None
    except Exception:  # a failing source is "no data", never a failed snapshot run
        logger.exception("monitoring source %s failed", code)
        return None
    return _number(code, raw)
