"""The dossier's processing clock: a `core.calendar.WorkingClock` stored on the dossier.

The budget is the procedure's legal deadline in working days (``deadline_days`` may be a
fraction: "0.5" is half a working day) times the calendar's working-day length; the clock starts
when the dossier counts as received (`WorkingCalendar.received_on`, with the procedure's same-day
cut-off), pauses while the applicant supplements and resumes when they do.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from thudo.core.calendar import WorkingCalendar, WorkingClock, get_calendar

from .models import Dossier


def spec_cutoff(spec: dict[str, Any]) -> time | None:
    value = spec.get("cutoff")
    if not value:
        return None
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def spec_budget(spec: dict[str, Any], calendar: WorkingCalendar | None = None) -> timedelta:
    """The legal deadline as working time."""
    calendar = calendar or get_calendar()
    try:
        days = Decimal(str(spec.get("deadline_days") or "0"))
    except InvalidOperation:
        days = Decimal(0)
    days = max(days, Decimal(0))
    seconds = Decimal(calendar.day_length.total_seconds()) * days
    return timedelta(seconds=int(seconds))


def clock_start(
    spec: dict[str, Any], submitted_at: datetime, calendar: WorkingCalendar | None = None
) -> WorkingClock:
    calendar = calendar or get_calendar()
    started = calendar.received_on(submitted_at, spec_cutoff(spec))
    return WorkingClock(budget=spec_budget(spec, calendar), started_at=started)


def clock_of(dossier: Dossier) -> WorkingClock | None:
    """The dossier's clock, or None for a draft (no clock yet)."""
    if not dossier.clock:
        return None
    return WorkingClock.from_dict(dossier.clock)


def clock_store(
    dossier: Dossier, clock: WorkingClock, calendar: WorkingCalendar | None = None
) -> None:
    """Write the clock and its deadline (None while paused) onto the dossier (not saved)."""
    dossier.clock = clock.to_dict()
    dossier.due_at = clock.deadline(calendar=calendar or get_calendar())


def remaining_share(dossier: Dossier, at: datetime) -> float | None:
    """The share of the budget still left at `at` (negative once overdue); None without one."""
    clock = clock_of(dossier)
    if clock is None or not clock.budget:
        return None
    return clock.remaining(at) / clock.budget
