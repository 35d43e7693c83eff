"""Citizen feedback's indicators for the leaders' dashboard (registered by manifest.py).

This year's figures for the whole city from `selectors.feedback_totals`: the rates over the
reports submitted this year (local calendar year); the backlog and the overdue count are the
open reports now, whenever they were submitted. One pair of aggregate queries, cached briefly so
the dashboard's refresh every minute does not recount a million reports four times.

The two rates also answer for a past moment (`compute_at`, monitoring's daily snapshots and their
history): over the reports submitted from 1 January of the moment's local year up to the moment,
each counted with its outcome as recorded now (a report answered after the moment counts with
that answer). Not cached. The backlog and the overdue count only say "now".
"""

from __future__ import annotations

from datetime import datetime, time

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.registry import Indicator

from .selectors import StatRow, feedback_totals

CACHE_SECONDS = 60


def this_year(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[1 January 00:00, next 1 January 00:00) of the local year of `now`."""
    today = timezone.localdate(now or timezone.now())
    zone = timezone.get_current_timezone()
    start = datetime.combine(today.replace(month=1, day=1), time.min, tzinfo=zone)
    end = datetime.combine(
        today.replace(year=today.year + 1, month=1, day=1), time.min, tzinfo=zone
    )
    return start, end


def _totals() -> StatRow:
    start, end = this_year()
    key = f"feedback:indicators:{start.year}"
    totals = cache.get(key)
    if totals is None:
        totals = feedback_totals(start=start, end=end)
        cache.set(key, totals, CACHE_SECONDS)
    return totals  # type: ignore[no-any-return]


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def on_time_rate() -> float | None:
    """Reports answered by their resolve-by time / reports answered (submitted this year)."""
    t = _totals()
    return _percent(t.resolved_on_time, t.resolved_on_time + t.resolved_late)


def satisfaction_rate() -> float | None:
    """Answers rated satisfactory / answers rated (reports submitted this year)."""
    t = _totals()
    return _percent(t.satisfied, t.rated)


def _totals_to(moment: datetime) -> StatRow:
    start, _end = this_year(moment)
    return feedback_totals(start=start, end=moment, now=moment)


def on_time_rate_at(moment: datetime) -> float | None:
    """`on_time_rate` over the reports submitted this year up to `moment`."""
    t = _totals_to(moment)
    return _percent(t.resolved_on_time, t.resolved_on_time + t.resolved_late)


def satisfaction_rate_at(moment: datetime) -> float | None:
    """`satisfaction_rate` over the reports submitted this year up to `moment`."""
    t = _totals_to(moment)
    return _percent(t.satisfied, t.rated)


def backlog() -> int:
    """Reports waiting to be accepted or being handled now."""
    return _totals().backlog


def overdue_now() -> int:
    """Open reports past their accept-by (not accepted yet) or resolve-by time now."""
    return _totals().overdue


INDICATORS = [
    Indicator(
        "feedback.on_time_rate",
        _("Citizen reports resolved on time this year"),
        on_time_rate,
        "%",
        compute_at=on_time_rate_at,
    ),
    Indicator(
        "feedback.satisfaction",
        _("Answers rated satisfactory this year"),
        satisfaction_rate,
        "%",
        compute_at=satisfaction_rate_at,
    ),
    Indicator("feedback.backlog", _("Citizen reports open now"), backlog),
    Indicator("feedback.overdue", _("Citizen reports overdue now"), overdue_now),
]
