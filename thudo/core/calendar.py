"""The working-day calendar: every deadline in the platform is computed here.

Public services count their deadlines in working days or working hours (DOMAIN.md, "Online
public services"): weekends and public holidays do not count, nor do the hours outside office
sessions. Three sources decide whether a date is a working day, in increasing priority:

1. the weekly weekend and the public holidays of the country (the ``holidays`` package, which
   knows Vietnam's lunar holidays such as Tết and Hung Kings' day);
2. the make-up working days those holidays imply: when the government moves a day off next to a
   holiday, a Saturday is worked in exchange (22 Aug 2026 for 31 Aug 2026). The package exposes
   these dates as structured data (``HolidayBase.weekend_workdays``), so no label is parsed;
3. the administrators' ``CalendarException`` rows, which override everything else.

Time is measured only inside office sessions (08:00-12:00 and 13:00-17:00 local time by
default). All datetimes going in must be timezone-aware (a naive one raises ``ValueError``); all
datetimes coming out are aware and expressed in the calendar's local time zone.

**The working-day convention.** One working day is the total length of one day's office
sessions (8 hours by default), and ``add_working_days(moment, n)`` walks ``n`` times that much
working time through office hours. From inside office hours this lands on the same clock time
``n`` working days later (received Monday 10:00 + 3 working days = Thursday 10:00); from outside
office hours it lands at the end of the ``n``-th working day (received Saturday + 3 = Wednesday
17:00). Because days are a fixed amount of working time, a deadline can be paused and resumed
exactly: a clock paused with 1.5 working days left resumes with 12 working hours left
(``WorkingClock``).

Use ``get_calendar()`` in application code (settings plus the exception table, cached) and build
``WorkingCalendar(...)`` directly in tests or tools that must not touch the database.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from time import monotonic
from typing import Any, Final
from zoneinfo import ZoneInfo

import holidays
from django.db import connections, transaction
from django.db.models.signals import post_delete, post_save

__all__ = [
    "DAY_OFF",
    "DEFAULT_OFFICE_HOURS",
    "WORKING",
    "WorkingCalendar",
    "WorkingClock",
    "get_calendar",
    "invalidate_calendar",
]

WORKING: Final = "working"
"""Exception kind: a make-up working day (the value of ``CalendarException.Kind.WORKING_DAY``)."""
DAY_OFF: Final = "day_off"
"""Exception kind: an extra day off (the value of ``CalendarException.Kind.DAY_OFF``)."""

DEFAULT_OFFICE_HOURS: Final[tuple[tuple[str, str], ...]] = (("08:00", "12:00"), ("13:00", "17:00"))
DEFAULT_COUNTRY: Final = "VN"
DEFAULT_TIME_ZONE: Final = "Asia/Ho_Chi_Minh"
DEFAULT_CACHE_SECONDS: Final = 60

_ONE_DAY: Final = timedelta(days=1)
# A walk that finds no working time in this many consecutive days is a misconfigured calendar.
_MAX_IDLE_DAYS: Final = 3660

OfficeHours = Sequence[tuple[time | str, time | str]]
Period = tuple[datetime, datetime]


# --- National holidays, computed lazily and cached per year --------------------------------------


@dataclass(frozen=True)
class _NationalYear:
    holidays: Mapping[date, str]
    weekend_workdays: frozenset[date]
    weekend: frozenset[int]


@functools.lru_cache(maxsize=512)
def _national_year(country: str, subdiv: str | None, year: int) -> _NationalYear:
    """One year of a country's holidays. Shared by every calendar: it depends on nothing else.

    ``weekend_workdays`` holds the make-up working days: weekend dates worked in exchange for a
    substituted day off. The package records them when it populates the year of the day off, and
    records those that cross a year boundary (a day off in January worked the December before)
    for every year, so the year's own population is enough.
    """
    national = holidays.country_holidays(country, subdiv=subdiv, years=year)
    return _NationalYear(
        holidays={day: str(name) for day, name in national.items() if day.year == year},
        weekend_workdays=frozenset(d for d in national.weekend_workdays if d.year == year),
        weekend=frozenset(national.weekend),
    )


# --- Helpers -------------------------------------------------------------------------------------


def _aware_utc(moment: datetime, name: str = "moment") -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive datetime {moment!r}.")
    return moment.astimezone(UTC)


def _as_duration(amount: float | timedelta, name: str = "hours") -> timedelta:
    """A non-negative amount of working time: a timedelta, or a number of hours."""
    if isinstance(amount, timedelta):
        duration = amount
    elif isinstance(amount, int | float) and not isinstance(amount, bool):
        if not math.isfinite(amount):
            raise ValueError(f"{name} must be finite, got {amount!r}.")
        duration = timedelta(hours=amount)
    else:
        raise TypeError(f"{name} must be a number of hours or a timedelta, not {amount!r}.")
    if duration < timedelta(0):
        raise ValueError(f"{name} must not be negative, got {amount!r}.")
    return duration


def _parse_time(value: time | str) -> time:
    parsed = value if isinstance(value, time) else time.fromisoformat(value)
    if parsed.tzinfo is not None:
        raise ValueError(f"Office hours are local times without a time zone, got {value!r}.")
    return parsed


def _parse_office_hours(office_hours: OfficeHours) -> tuple[tuple[time, time], ...]:
    sessions = tuple((_parse_time(start), _parse_time(end)) for start, end in office_hours)
    if not sessions:
        raise ValueError("Office hours need at least one session.")
    previous_end: time | None = None
    for start, end in sessions:
        if start >= end:
            raise ValueError(f"An office session must end after it starts: {start}-{end}.")
        if previous_end is not None and start < previous_end:
            raise ValueError("Office sessions must be in order and must not overlap.")
        previous_end = end
    return sessions


def _session_length(start: time, end: time) -> timedelta:
    return datetime.combine(date.min, end) - datetime.combine(date.min, start)


# --- The calendar --------------------------------------------------------------------------------


class WorkingCalendar:
    """Working days and office hours of one country, time zone and set of exceptions.

    Args:
        exceptions: ``{date: "working" | "day_off"}``, the administrators' overrides; they win
            over weekends, holidays and make-up days.
        office_hours: local ``(start, end)`` sessions in order, as ``time`` or ``"HH:MM"``.
        tz: the local time zone (a ``tzinfo`` or an IANA name).
        country: an ISO 3166 code the ``holidays`` package knows; ``subdiv`` its subdivision.

    A calendar is immutable and safe to share between threads.
    """

    def __init__(
        self,
        *,
        exceptions: Mapping[date, str] | None = None,
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
        tz: tzinfo | str = DEFAULT_TIME_ZONE,
        country: str = DEFAULT_COUNTRY,
        subdiv: str | None = None,
    ) -> None:
        if country not in holidays.list_supported_countries():
            raise ValueError(f"The holidays package does not know the country {country!r}.")
        self.country = country
        self.subdiv = subdiv
        self.tz: tzinfo = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.office_hours = _parse_office_hours(office_hours)
        # The working time of one working day: the unit of ``add_working_days``.
        self.day_length = sum(
            (_session_length(start, end) for start, end in self.office_hours), timedelta(0)
        )
        self._exceptions: dict[date, bool] = {}
        for day, kind in (exceptions or {}).items():
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"Exception dates must be dates, got {day!r}.")
            if kind not in (WORKING, DAY_OFF):
                raise ValueError(
                    f"Exception kind must be {WORKING!r} or {DAY_OFF!r}, got {kind!r}."
                )
            self._exceptions[day] = kind == WORKING

    def __repr__(self) -> str:
        sessions = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.office_hours)
        return (
            f"<WorkingCalendar {self.country} {self.tz} [{sessions}] "
            f"{len(self._exceptions)} exception(s)>"
        )

    # --- Days ---

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day: exceptions, then make-up days, weekends, holidays."""
        if isinstance(d, datetime):
            raise TypeError(
                "is_working_day takes a date; use moment.astimezone(calendar.tz).date()."
            )
        if d in self._exceptions:
            return self._exceptions[d]
        national = _national_year(self.country, self.subdiv, d.year)
        if d.weekday() in national.weekend:
            return d in national.weekend_workdays
        return d not in national.holidays

    def holiday_name(self, d: date) -> str | None:
        """The public holiday's name on ``d`` (in the package's default language), else None.

        Exceptions are not consulted: a holiday remains named even where an exception makes it a
        working day.
        """
        return _national_year(self.country, self.subdiv, d.year).holidays.get(d)

    def working_periods(self, d: date) -> list[Period]:
        """The office sessions of ``d`` as aware local datetimes; empty on a day off."""
        if not self.is_working_day(d):
            return []
        return [
            (datetime.combine(d, start, tzinfo=self.tz), datetime.combine(d, end, tzinfo=self.tz))
            for start, end in self.office_hours
        ]

    def _utc_periods(self, d: date) -> list[Period]:
        # Arithmetic is done in UTC: subtracting two datetimes that share a tzinfo ignores their
        # offsets, which would be wrong across a daylight-saving change in another zone.
        return [
            (start.astimezone(UTC), end.astimezone(UTC)) for start, end in self.working_periods(d)
        ]

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def _local_date(self, utc_moment: datetime) -> date:
        return utc_moment.astimezone(self.tz).date()

    # --- Moments ---

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it falls inside an office session, else the next session's start.

        Sessions are half-open: 12:00 belongs to the lunch break, 17:00 to the evening.
        """
        current = _aware_utc(moment)
        day = self._local_date(current)
        for _ in range(_MAX_IDLE_DAYS):
            for start, end in self._utc_periods(day):
                if current < end:
                    return self._local(max(start, current))
            day += _ONE_DAY
        raise RuntimeError(f"No working time within {_MAX_IDLE_DAYS} days after {moment}.")

    def received_on(self, moment: datetime, cutoff: time | None = None) -> datetime:
        """The moment a submission made at ``moment`` counts as received.

        Outside working time it counts from the start of the next session. With a same-day
        ``cutoff`` (local time, e.g. ``time(15, 0)``) a submission strictly after the cut-off counts
        from the first session of the next working day; one at the cut-off exactly is on time.
        """
        local = self._local(_aware_utc(moment))
        if cutoff is not None:
            if cutoff.tzinfo is not None:
                raise ValueError("The cut-off is a local time without a time zone.")
            if local.time() > cutoff:
                next_day = datetime.combine(local.date() + _ONE_DAY, time.min, tzinfo=self.tz)
                return self.next_working_moment(next_day)
        return self.next_working_moment(local)

    def add_working_hours(self, moment: datetime, hours: float | timedelta) -> datetime:
        """The earliest moment at which ``hours`` of working time have passed since ``moment``.

        ``hours`` is a number of hours or a timedelta, not negative. Only office sessions count;
        a positive amount that runs out exactly at the end of a session gives the session's end
        (17:00), not the next session's start. Zero gives ``moment`` itself (in local time).
        Walks day by day, so far deadlines cost a few hundred steps at most.
        """
        left = _as_duration(hours)
        current = _aware_utc(moment)
        if not left:
            return self._local(current)
        day = self._local_date(current)
        idle_days = 0
        while idle_days < _MAX_IDLE_DAYS:
            periods = self._utc_periods(day)
            idle_days = 0 if periods else idle_days + 1
            for start, end in periods:
                if end <= current:
                    continue
                begin = max(start, current)
                available = end - begin
                if left <= available:
                    return self._local(begin + left)
                left -= available
            day += _ONE_DAY
        raise RuntimeError(f"No working time within {_MAX_IDLE_DAYS} days after {day}.")

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """``moment`` plus ``days`` working days, one working day being ``day_length`` of work.

        Received Monday 10:00 + 3 = Thursday 10:00; received on a Saturday + 3 = Wednesday
        17:00, the end of the third working day (see the module's docstring).
        """
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be a whole number of working days, got {days!r}.")
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}.")
        return self.add_working_hours(moment, days * self.day_length)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time between two moments; zero if ``end`` is not after ``start``.

        The inverse of ``add_working_hours``:
        ``working_time_between(m, add_working_hours(m, h)) == h``.
        """
        begin, finish = _aware_utc(start, "start"), _aware_utc(end, "end")
        total = timedelta(0)
        if finish <= begin:
            return total
        day, last = self._local_date(begin), self._local_date(finish)
        while day <= last:
            for period_start, period_end in self._utc_periods(day):
                low, high = max(period_start, begin), min(period_end, finish)
                if high > low:
                    total += high - low
            day += _ONE_DAY
        return total


# --- The calendar of this deployment: settings + the CalendarException table, cached -------------


class _CalendarCache:
    """``get_calendar()``'s cache, invalidated by signals, by transactions, and by age.

    - Saving or deleting a ``CalendarException`` (``post_save`` / ``post_delete``, connected below
      with a ``dispatch_uid``) drops the cached calendar at once, and again when the transaction
      commits, so a calendar that another thread built from the old rows meanwhile is dropped too.
    - While the current thread is inside the transaction that changed the table, ``get_calendar()``
      builds a calendar that sees the change but does not cache it: if the transaction rolls back
      (as every test's does), no calendar holding rows that never existed is left behind. Once
      that transaction is over, by commit or by rollback, caching resumes.
    - Each invalidation bumps a generation number; a calendar whose rows were read before the
      latest invalidation is returned but not kept.
    - Signals reach only the process that saved. Other processes (the web server's workers, the
      Celery worker) rebuild their calendar when it is older than
      ``WORKING_CALENDAR["CACHE_SECONDS"]`` (default 60): one small query a minute, for a table
      that administrators change a few times a year, usually weeks ahead.
    - ``QuerySet.update()``, ``bulk_create()`` and raw SQL send no signals: call
      ``invalidate_calendar()`` after them.

    Public holidays are cached separately, per year and for the life of the process: they depend
    only on the country, so rebuilding the calendar costs one query on the exception table.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calendar: WorkingCalendar | None = None
        self._built_at = 0.0
        # Bumped by every invalidation, so a calendar built from rows read before it is not kept.
        self._generation = 0
        self._local = threading.local()

    def _dirty(self) -> dict[str, object]:
        """This thread's uncommitted changes: database alias -> its outermost atomic block."""
        dirty: dict[str, object] | None = getattr(self._local, "dirty", None)
        if dirty is None:
            dirty = self._local.dirty = {}
        return dirty

    @staticmethod
    def _outermost_block(using: str) -> object:
        blocks = getattr(connections[using], "atomic_blocks", None)
        return blocks[0] if blocks else None

    def invalidate(self) -> None:
        with self._lock:
            self._calendar = None
            self._generation += 1

    def table_changed(self, using: str) -> None:
        self.invalidate()
        if connections[using].in_atomic_block:
            self._dirty()[using] = self._outermost_block(using)

            def committed() -> None:
                self._dirty().pop(using, None)
                self.invalidate()

            transaction.on_commit(committed, using=using)

    def _still_dirty(self, using: str, block: object) -> bool:
        # The transaction has ended (or a new one began) without the commit callback running:
        # it was rolled back, and so was the change.
        return connections[using].in_atomic_block and self._outermost_block(using) is block

    def get(self) -> WorkingCalendar:
        dirty = self._dirty()
        for using, block in list(dirty.items()):
            if not self._still_dirty(using, block):
                del dirty[using]
        if dirty:
            return _build_calendar()
        with self._lock:
            calendar, built_at, generation = self._calendar, self._built_at, self._generation
        if calendar is not None and monotonic() - built_at < _cache_seconds():
            return calendar
        calendar = _build_calendar()
        with self._lock:
            if self._generation == generation:
                self._calendar, self._built_at = calendar, monotonic()
        return calendar


def _settings() -> Mapping[str, Any]:
    from django.conf import settings

    return getattr(settings, "WORKING_CALENDAR", {})


def _cache_seconds() -> float:
    return float(_settings().get("CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def _build_calendar() -> WorkingCalendar:
    from django.conf import settings

    from thudo.core.models import CalendarException

    config = _settings()
    return WorkingCalendar(
        exceptions=dict(CalendarException.objects.values_list("date", "kind")),
        office_hours=config.get("OFFICE_HOURS", DEFAULT_OFFICE_HOURS),
        tz=settings.TIME_ZONE or DEFAULT_TIME_ZONE,
        country=config.get("COUNTRY", DEFAULT_COUNTRY),
        subdiv=config.get("SUBDIVISION"),
    )


_cache = _CalendarCache()


def get_calendar() -> WorkingCalendar:
    """The deployment's calendar: ``settings.WORKING_CALENDAR``, ``TIME_ZONE`` and the
    ``CalendarException`` rows. Cached; see ``_CalendarCache`` for when it is rebuilt."""
    return _cache.get()


def invalidate_calendar() -> None:
    """Drop the cached calendar (after changing ``CalendarException`` rows without signals)."""
    _cache.invalidate()


def _on_exception_changed(sender: Any, using: str = "default", **kwargs: Any) -> None:
    _cache.table_changed(using)


post_save.connect(
    _on_exception_changed,
    sender="core.CalendarException",
    dispatch_uid="thudo.core.calendar.exception_saved",
)
post_delete.connect(
    _on_exception_changed,
    sender="core.CalendarException",
    dispatch_uid="thudo.core.calendar.exception_deleted",
)


# --- A pausable deadline clock -------------------------------------------------------------------

Pause = tuple[datetime, datetime | None]

_DURATION_RE = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{1,6}))?S)?$")


def _format_duration(duration: timedelta) -> str:
    """ISO 8601 in hours, minutes and seconds only ("PT24H"): a day of working time is 8 hours,
    so the calendar-day designator "D" (24 hours) would mislead."""
    micro = duration // timedelta(microseconds=1)
    hours, micro = divmod(micro, 3_600_000_000)
    minutes, micro = divmod(micro, 60_000_000)
    seconds, micro = divmod(micro, 1_000_000)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if seconds or micro:
        text += f"{seconds}.{micro:06d}".rstrip("0").rstrip(".") + "S"
    return text if text != "PT" else "PT0S"


def _parse_duration(text: str) -> timedelta:
    match = _DURATION_RE.match(text) if isinstance(text, str) else None
    if match is None or text == "PT":
        raise ValueError(f"Not an ISO 8601 duration in hours/minutes/seconds: {text!r}.")
    hours, minutes, seconds, fraction = match.groups()
    return timedelta(
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
        microseconds=int((fraction or "").ljust(6, "0")),
    )


def _parse_moment(text: Any, name: str) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"{name} must be an ISO 8601 string, got {text!r}.")
    return datetime.fromisoformat(text)


@dataclass
class WorkingClock:
    """A budget of working time that runs from ``started_at`` and can be paused and resumed.

    A dossier's processing clock: the budget is the procedure's time limit (``n *
    calendar.day_length`` for ``n`` working days), it starts when the dossier counts as received
    (``calendar.received_on``), and it stops while the citizen supplements papers.

    The clock is plain data: it holds no calendar. Methods that measure time take
    ``calendar=`` and default to ``get_calendar()``, so a stored clock is always measured against
    the current calendar (a day off added later moves its deadline) and ``to_dict()`` holds only
    the budget and the moments. Tests pass an explicit ``WorkingCalendar``.

    ``pauses`` lists ``(paused_at, resumed_at)`` in order; only the last may be open
    (``resumed_at`` None). Times are aware; they are stored in UTC.
    """

    budget: timedelta
    started_at: datetime
    pauses: list[Pause] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.budget, timedelta) or self.budget < timedelta(0):
            raise ValueError(f"The budget must be a non-negative timedelta, got {self.budget!r}.")
        _aware_utc(self.started_at, "started_at")
        previous = self.started_at
        for index, (paused_at, resumed_at) in enumerate(self.pauses):
            _aware_utc(paused_at, "paused_at")
            if paused_at < previous:
                raise ValueError(f"Pause {index} starts before the clock was running: {paused_at}.")
            if resumed_at is None:
                if index != len(self.pauses) - 1:
                    raise ValueError("Only the last pause may still be open.")
                continue
            _aware_utc(resumed_at, "resumed_at")
            if resumed_at < paused_at:
                raise ValueError(f"Pause {index} ends before it starts: {resumed_at}.")
            previous = resumed_at

    # --- State changes ---

    @property
    def is_paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    def _last_change(self) -> datetime:
        if not self.pauses:
            return self.started_at
        paused_at, resumed_at = self.pauses[-1]
        return resumed_at or paused_at

    def pause(self, at: datetime) -> None:
        """Stop the clock at ``at``. Raises ValueError if paused already or ``at`` goes back."""
        _aware_utc(at, "at")
        if self.is_paused:
            raise ValueError(f"The clock is already paused (since {self.pauses[-1][0]}).")
        if at < self._last_change():
            raise ValueError(f"Cannot pause at {at}: before the clock's last change.")
        self.pauses.append((at, None))

    def resume(self, at: datetime) -> None:
        """Restart the clock at ``at``. Raises ValueError if running or ``at`` goes back."""
        _aware_utc(at, "at")
        if not self.is_paused:
            raise ValueError("The clock is running; only a paused clock can be resumed.")
        paused_at = self.pauses[-1][0]
        if at < paused_at:
            raise ValueError(f"Cannot resume at {at}: before the pause at {paused_at}.")
        self.pauses[-1] = (paused_at, at)

    # --- Measurements ---

    def _running(self) -> list[Pause]:
        """The intervals during which the clock ran; the last is open if it is running now."""
        segments: list[Pause] = []
        start = self.started_at
        for paused_at, resumed_at in self.pauses:
            segments.append((start, paused_at))
            if resumed_at is None:
                return segments
            start = resumed_at
        segments.append((start, None))
        return segments

    def _exhausted_at(self, calendar: WorkingCalendar, until: datetime | None) -> datetime | None:
        """The earliest moment the budget ran out, if the clock ran past it (before ``until``).

        Within each running interval the moment is ``add_working_hours(start, left)``; it counts
        only if the clock was still running after it, so a clock paused exactly as its budget ran
        out is not overdue while paused (its deadline becomes the moment it resumes).
        """
        left = self.budget
        for start, end in self._running():
            stop = end if until is None else until if end is None else min(end, until)
            if stop is None:
                return calendar.add_working_hours(start, left)
            if stop <= start:
                continue
            worked = calendar.working_time_between(start, stop)
            if left <= worked:
                moment = calendar.add_working_hours(start, left)
                if moment < stop:
                    return moment
            left -= min(left, worked)
        return None

    def elapsed(self, at: datetime, *, calendar: WorkingCalendar | None = None) -> timedelta:
        """The working time the clock has run from ``started_at`` to ``at``."""
        at_utc = _aware_utc(at, "at")
        calendar = calendar or get_calendar()
        total = timedelta(0)
        for start, end in self._running():
            stop = at_utc if end is None else min(end, at_utc)
            total += calendar.working_time_between(start, stop)
        return total

    def remaining(self, at: datetime, *, calendar: WorkingCalendar | None = None) -> timedelta:
        """Budget minus elapsed working time; negative once more working time has passed."""
        return self.budget - self.elapsed(at, calendar=calendar)

    def deadline(self, *, calendar: WorkingCalendar | None = None) -> datetime | None:
        """The moment the budget runs out, counting only working time while running.

        None while paused (the deadline is not known until the clock resumes). If the budget ran
        out before an earlier pause, that past moment is returned.
        """
        if self.is_paused:
            return None
        return self._exhausted_at(calendar or get_calendar(), until=None)

    def is_overdue(self, at: datetime, *, calendar: WorkingCalendar | None = None) -> bool:
        """Whether the clock ran past its deadline by ``at``.

        For a running clock this is ``at > deadline()``: a dossier still open at 17:30 on the day
        it was due at 17:00 is overdue, although ``remaining()`` (working time) is still zero. A
        paused clock is overdue if its budget ran out while it was running.
        """
        _aware_utc(at, "at")
        return self._exhausted_at(calendar or get_calendar(), until=at) is not None

    # --- Storage ---

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: the budget as an ISO 8601 duration, moments as ISO 8601 in UTC."""

        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(UTC).isoformat()

        return {
            "budget": _format_duration(self.budget),
            "started_at": iso(self.started_at),
            "pauses": [[iso(paused_at), iso(resumed_at)] for paused_at, resumed_at in self.pauses],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkingClock:
        """The clock ``to_dict()`` stored. Raises ValueError on malformed data."""
        try:
            budget, started_at, pauses = data["budget"], data["started_at"], data.get("pauses", [])
        except (KeyError, TypeError) as error:
            raise ValueError(f"Not a stored working clock: {data!r}.") from error
        if not isinstance(pauses, list) or not all(
            isinstance(pause, list | tuple) and len(pause) == 2 for pause in pauses
        ):
            raise ValueError(f"pauses must be a list of [paused_at, resumed_at]: {pauses!r}.")
        return cls(
            budget=_parse_duration(budget),
            started_at=_parse_moment(started_at, "started_at"),
            pauses=[
                (
                    _parse_moment(paused_at, "paused_at"),
                    None if resumed_at is None else _parse_moment(resumed_at, "resumed_at"),
                )
                for paused_at, resumed_at in pauses
            ],
        )
