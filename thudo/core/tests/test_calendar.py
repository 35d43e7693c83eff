"""The working-day calendar and the pausable clock (thudo/core/calendar.py).

Most tests build a ``WorkingCalendar`` by hand and need no database; the ``django_db`` ones check
``get_calendar()``: the ``CalendarException`` table and its cache.
"""

from __future__ import annotations

import json
import time as timer
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thudo.core import calendar as calendar_module
from thudo.core.calendar import (
    DAY_OFF,
    WORKING,
    WorkingCalendar,
    WorkingClock,
    get_calendar,
    invalidate_calendar,
)

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR = timedelta(hours=1)
DAY = 8 * HOUR  # one working day of working time


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A Hanoi local moment: at(2026, 3, 2, 10) is Monday 2 March 2026, 10:00."""
    return datetime(year, month, day, hour, minute, second, tzinfo=HANOI)


@pytest.fixture
def cal() -> WorkingCalendar:
    return WorkingCalendar()


# --- Working days ---------------------------------------------------------------------------------


def test_weekends_are_days_off(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2026, 3, 6))  # Friday
    assert not cal.is_working_day(date(2026, 3, 7))  # Saturday
    assert not cal.is_working_day(date(2026, 3, 8))  # Sunday
    assert cal.working_periods(date(2026, 3, 7)) == []


def test_tet_2026_is_off_from_16_to_20_february(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2026, 2, 13))  # the Friday before
    for day in range(16, 21):
        assert not cal.is_working_day(date(2026, 2, day)), day
    assert cal.is_working_day(date(2026, 2, 23))  # back on Monday
    # One working day from Friday 10:00 jumps the whole of Tết.
    assert cal.add_working_days(at(2026, 2, 13, 10), 1) == at(2026, 2, 23, 10)


def test_hung_kings_day_and_its_observed_monday(cal: WorkingCalendar) -> None:
    # 10th day of the 3rd lunar month = Sunday 26 April 2026; the day off moves to Monday.
    assert cal.holiday_name(date(2026, 4, 26)) is not None
    assert not cal.is_working_day(date(2026, 4, 27))
    assert cal.is_working_day(date(2026, 4, 28))
    # Reunification Day and Labour Day follow on Thursday and Friday.
    assert not cal.is_working_day(date(2026, 4, 30))
    assert not cal.is_working_day(date(2026, 5, 1))


def test_saturday_22_august_2026_is_a_make_up_working_day(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2026, 8, 22))  # worked in exchange for Monday 31 August
    assert not cal.is_working_day(date(2026, 8, 29))  # an ordinary Saturday
    assert not cal.is_working_day(date(2026, 8, 31))
    assert cal.working_periods(date(2026, 8, 22)) == [
        (at(2026, 8, 22, 8), at(2026, 8, 22, 12)),
        (at(2026, 8, 22, 13), at(2026, 8, 22, 17)),
    ]
    # Friday 21 August 10:00 + 1 working day lands on the make-up Saturday.
    assert cal.add_working_days(at(2026, 8, 21, 10), 1) == at(2026, 8, 22, 10)


def test_make_up_days_that_cross_a_year_boundary(cal: WorkingCalendar) -> None:
    # Saturday 27 Dec 2014 was worked for Friday 2 Jan 2015; Saturday 5 Jan 2019 for 31 Dec 2018.
    assert cal.is_working_day(date(2014, 12, 27))
    assert cal.is_working_day(date(2019, 1, 5))
    assert not cal.is_working_day(date(2018, 12, 31))


def test_agrees_with_the_holidays_package_day_by_day(cal: WorkingCalendar) -> None:
    national = holidays.country_holidays("VN", years=range(2014, 2028))
    day = date(2014, 1, 1)
    while day.year < 2028:
        assert cal.is_working_day(day) == national.is_working_day(day), day
        day += timedelta(days=1)


def test_exceptions_override_weekends_holidays_and_make_up_days() -> None:
    cal = WorkingCalendar(
        exceptions={
            date(2026, 3, 10): DAY_OFF,  # an ordinary Tuesday given off
            date(2026, 3, 8): WORKING,  # a Sunday worked
            date(2026, 9, 1): WORKING,  # a National Day holiday worked
            date(2026, 8, 22): DAY_OFF,  # the make-up Saturday cancelled
        }
    )
    assert not cal.is_working_day(date(2026, 3, 10))
    assert cal.is_working_day(date(2026, 3, 8))
    assert cal.is_working_day(date(2026, 9, 1))
    assert not cal.is_working_day(date(2026, 8, 22))
    # Friday 6 March 16:00 + 1 working day: Sunday 8 March is worked.
    assert cal.add_working_days(at(2026, 3, 6, 16), 1) == at(2026, 3, 8, 16)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        WorkingCalendar(exceptions={date(2026, 3, 10): "holiday"})
    with pytest.raises(TypeError):
        WorkingCalendar(exceptions={datetime(2026, 3, 10, tzinfo=UTC): DAY_OFF})
    with pytest.raises(ValueError, match="after it starts"):
        WorkingCalendar(office_hours=[("12:00", "08:00")])
    with pytest.raises(ValueError, match="overlap"):
        WorkingCalendar(office_hours=[("08:00", "12:00"), ("11:00", "17:00")])
    with pytest.raises(ValueError, match="at least one"):
        WorkingCalendar(office_hours=[])
    with pytest.raises(ValueError, match="country"):
        WorkingCalendar(country="XX")
    with pytest.raises(TypeError):
        WorkingCalendar().is_working_day(datetime(2026, 3, 2, tzinfo=UTC))


# --- Moments and hours ----------------------------------------------------------------------------


def test_the_working_day_convention(cal: WorkingCalendar) -> None:
    assert cal.day_length == DAY
    # From inside office hours: the same clock time n working days later.
    assert cal.add_working_days(at(2026, 3, 2, 10), 3) == at(2026, 3, 5, 10)  # Mon -> Thu
    # From outside office hours: the end of the n-th working day.
    assert cal.add_working_days(at(2026, 3, 7, 11), 3) == at(2026, 3, 11, 17)  # Sat -> Wed
    assert cal.add_working_days(at(2026, 3, 2, 19), 1) == at(2026, 3, 3, 17)  # Mon evening
    assert cal.add_working_days(at(2026, 3, 6, 16), 1) == at(2026, 3, 9, 16)  # Fri -> Mon
    assert cal.add_working_days(at(2026, 3, 2, 10), 0) == at(2026, 3, 2, 10)


def test_a_shorter_office_day_is_a_shorter_working_day() -> None:
    cal = WorkingCalendar(office_hours=[(time(7, 30), time(11, 30))])
    assert cal.day_length == 4 * HOUR
    assert cal.add_working_days(at(2026, 3, 2, 9), 2) == at(2026, 3, 4, 9)


def test_lunch_break_does_not_count(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2026, 3, 2, 11), 2) == at(2026, 3, 2, 14)
    assert cal.add_working_hours(at(2026, 3, 2, 11), 1) == at(2026, 3, 2, 12)
    assert cal.working_time_between(at(2026, 3, 2, 11), at(2026, 3, 2, 14)) == 2 * HOUR
    assert cal.working_time_between(at(2026, 3, 2, 12), at(2026, 3, 2, 13)) == timedelta(0)
    assert cal.next_working_moment(at(2026, 3, 2, 12, 30)) == at(2026, 3, 2, 13)
    assert cal.next_working_moment(at(2026, 3, 2, 12)) == at(2026, 3, 2, 13)  # 12:00 is lunch
    assert cal.next_working_moment(at(2026, 3, 2, 11, 59)) == at(2026, 3, 2, 11, 59)


def test_next_working_moment_after_hours_and_over_weekends(cal: WorkingCalendar) -> None:
    assert cal.next_working_moment(at(2026, 3, 2, 7)) == at(2026, 3, 2, 8)
    assert cal.next_working_moment(at(2026, 3, 2, 17)) == at(2026, 3, 3, 8)
    assert cal.next_working_moment(at(2026, 3, 6, 17)) == at(2026, 3, 9, 8)  # Fri -> Mon
    assert cal.next_working_moment(at(2026, 2, 13, 18)) == at(2026, 2, 23, 8)  # over Tết


def test_urgent_reports_in_working_hours(cal: WorkingCalendar) -> None:
    assert cal.add_working_hours(at(2026, 3, 2, 9), 4) == at(2026, 3, 2, 14)
    assert cal.add_working_hours(at(2026, 3, 6, 15), 4) == at(2026, 3, 9, 10)  # Fri -> Mon
    assert cal.add_working_hours(at(2026, 3, 2, 9), timedelta(minutes=90)) == at(2026, 3, 2, 10, 30)
    assert cal.add_working_hours(at(2026, 3, 2, 9), 0.25) == at(2026, 3, 2, 9, 15)


def test_results_are_in_local_time_whatever_the_input_zone(cal: WorkingCalendar) -> None:
    monday_10_utc = datetime(2026, 3, 2, 3, tzinfo=UTC)  # 10:00 in Hanoi
    result = cal.add_working_hours(monday_10_utc, 1)
    assert result == at(2026, 3, 2, 11)
    assert result.utcoffset() == timedelta(hours=7)
    assert cal.next_working_moment(datetime(2026, 3, 1, 23, tzinfo=UTC)).tzinfo == HANOI
    # Sunday 23:00 UTC is already Monday 06:00 in Hanoi.
    assert cal.next_working_moment(datetime(2026, 3, 1, 23, tzinfo=UTC)) == at(2026, 3, 2, 8)


def test_cut_off_at_15_00(cal: WorkingCalendar) -> None:
    cutoff = time(15, 0)
    assert cal.received_on(at(2026, 3, 2, 14, 59), cutoff) == at(2026, 3, 2, 14, 59)
    assert cal.received_on(at(2026, 3, 2, 15, 0), cutoff) == at(2026, 3, 2, 15, 0)
    assert cal.received_on(at(2026, 3, 2, 15, 1), cutoff) == at(2026, 3, 3, 8)
    assert cal.received_on(at(2026, 3, 6, 16), cutoff) == at(2026, 3, 9, 8)  # Fri -> Mon
    assert cal.received_on(at(2026, 3, 7, 10), cutoff) == at(2026, 3, 9, 8)  # Saturday
    assert cal.received_on(at(2026, 3, 2, 12, 30), cutoff) == at(2026, 3, 2, 13)  # lunch
    # Without a cut-off only office hours matter.
    assert cal.received_on(at(2026, 3, 2, 16)) == at(2026, 3, 2, 16)
    assert cal.received_on(at(2026, 3, 2, 18)) == at(2026, 3, 3, 8)
    # Received after the cut-off, a 3-day procedure ends at the end of the third working day.
    received = cal.received_on(at(2026, 3, 2, 16), cutoff)
    assert cal.add_working_days(received, 3) == at(2026, 3, 5, 17)


def test_working_time_between(cal: WorkingCalendar) -> None:
    assert cal.working_time_between(at(2026, 3, 2, 10), at(2026, 3, 5, 10)) == 3 * DAY
    assert cal.working_time_between(at(2026, 3, 6, 16), at(2026, 3, 9, 9)) == 2 * HOUR
    assert cal.working_time_between(at(2026, 3, 5, 10), at(2026, 3, 2, 10)) == timedelta(0)
    assert cal.working_time_between(at(2026, 3, 2, 10), at(2026, 3, 2, 10)) == timedelta(0)
    assert cal.working_time_between(at(2026, 2, 13, 8), at(2026, 2, 23, 17)) == 2 * DAY


def test_far_deadlines_walk_day_by_day(cal: WorkingCalendar) -> None:
    start = at(2026, 1, 5, 9)
    began = timer.perf_counter()
    deadline = cal.add_working_days(start, 200)
    assert cal.working_time_between(start, deadline) == 200 * DAY
    assert timer.perf_counter() - began < 0.5
    assert deadline.time() == time(9)
    far = cal.add_working_days(start, 1000)  # about four years of working days
    assert far.year == 2030
    assert cal.working_time_between(start, far) == 1000 * DAY


def test_arguments_are_checked(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_hours(datetime(2026, 3, 2, 10), 1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        cal.next_working_moment(datetime(2026, 3, 2, 10))  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        cal.working_time_between(at(2026, 3, 2, 10), datetime(2026, 3, 3, 10))  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_hours(at(2026, 3, 2, 10), -1)
    with pytest.raises(ValueError, match="finite"):
        cal.add_working_hours(at(2026, 3, 2, 10), float("nan"))
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_days(at(2026, 3, 2, 10), -1)
    with pytest.raises(TypeError):
        cal.add_working_days(at(2026, 3, 2, 10), 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cut-off"):
        cal.received_on(at(2026, 3, 2, 10), time(15, tzinfo=UTC))


ZONES = st.sampled_from([UTC, HANOI, ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")])
MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 — hypothesis attaches the zones
    max_value=datetime(2027, 12, 31, 23, 59, 59),  # noqa: DTZ001
    timezones=ZONES,
    allow_imaginary=False,
)
AMOUNTS = st.one_of(
    st.floats(min_value=0, max_value=2000, allow_nan=False, allow_infinity=False),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2000)),
)
CALENDAR = WorkingCalendar(exceptions={date(2026, 6, 10): DAY_OFF, date(2026, 6, 14): WORKING})


def as_duration(amount: float | timedelta) -> timedelta:
    return amount if isinstance(amount, timedelta) else timedelta(hours=amount)


@settings(max_examples=300, deadline=None)
@given(moment=MOMENTS, amount=AMOUNTS)
def test_working_time_between_inverts_add_working_hours(
    moment: datetime, amount: float | timedelta
) -> None:
    start = CALENDAR.next_working_moment(moment)
    end = CALENDAR.add_working_hours(start, amount)
    assert CALENDAR.working_time_between(start, end) == as_duration(amount)
    # It holds from any moment, not only from inside office hours.
    assert CALENDAR.working_time_between(moment, CALENDAR.add_working_hours(moment, amount)) == (
        as_duration(amount)
    )
    assert end >= start
    assert end.tzinfo == HANOI


@settings(max_examples=200, deadline=None)
@given(moment=MOMENTS)
def test_next_working_moment_is_inside_office_hours(moment: datetime) -> None:
    start = CALENDAR.next_working_moment(moment)
    assert start >= moment
    assert CALENDAR.working_time_between(moment, start) == timedelta(0)
    assert any(s <= start < e for s, e in CALENDAR.working_periods(start.date()))
    assert CALENDAR.next_working_moment(start) == start


# --- The clock ------------------------------------------------------------------------------------


def test_clock_runs_through_working_time_only(cal: WorkingCalendar) -> None:
    clock = WorkingClock(budget=3 * DAY, started_at=at(2026, 3, 2, 10))
    assert not clock.is_paused
    assert clock.deadline(calendar=cal) == at(2026, 3, 5, 10)
    assert clock.elapsed(at(2026, 3, 3, 10), calendar=cal) == DAY
    assert clock.remaining(at(2026, 3, 3, 10), calendar=cal) == 2 * DAY
    assert clock.elapsed(at(2026, 3, 1, 10), calendar=cal) == timedelta(0)  # before the start


def test_clock_paused_over_a_weekend(cal: WorkingCalendar) -> None:
    clock = WorkingClock(budget=3 * DAY, started_at=at(2026, 3, 5, 10))  # Thursday
    assert clock.deadline(calendar=cal) == at(2026, 3, 10, 10)  # Tuesday
    clock.pause(at(2026, 3, 6, 10))  # Friday: the citizen is asked to supplement
    assert clock.is_paused
    assert clock.deadline(calendar=cal) is None
    assert clock.elapsed(at(2026, 3, 6, 10), calendar=cal) == DAY
    assert clock.elapsed(at(2026, 3, 9, 9), calendar=cal) == DAY  # frozen while paused
    clock.resume(at(2026, 3, 9, 10))  # Monday
    assert not clock.is_paused
    assert clock.remaining(at(2026, 3, 9, 10), calendar=cal) == 2 * DAY
    assert clock.deadline(calendar=cal) == at(2026, 3, 11, 10)  # Wednesday


def test_clock_paused_over_tet(cal: WorkingCalendar) -> None:
    clock = WorkingClock(budget=3 * DAY, started_at=at(2026, 2, 12, 10))  # Thursday
    assert clock.deadline(calendar=cal) == at(2026, 2, 24, 10)  # Tết costs nothing
    clock.pause(at(2026, 2, 13, 10))
    clock.resume(at(2026, 2, 23, 10))
    assert clock.elapsed(at(2026, 2, 23, 10), calendar=cal) == DAY
    assert clock.deadline(calendar=cal) == at(2026, 2, 25, 10)


def test_clock_overdue_and_negative_remaining(cal: WorkingCalendar) -> None:
    clock = WorkingClock(budget=DAY, started_at=at(2026, 3, 2, 8))
    assert clock.deadline(calendar=cal) == at(2026, 3, 2, 17)
    assert not clock.is_overdue(at(2026, 3, 2, 17), calendar=cal)
    assert clock.remaining(at(2026, 3, 2, 17), calendar=cal) == timedelta(0)
    # Still open after the deadline: overdue, though no working time has passed since.
    assert clock.is_overdue(at(2026, 3, 2, 17, 30), calendar=cal)
    assert clock.remaining(at(2026, 3, 2, 17, 30), calendar=cal) == timedelta(0)
    assert clock.remaining(at(2026, 3, 3, 10), calendar=cal) == -2 * HOUR
    assert clock.remaining(at(2026, 3, 4, 17), calendar=cal) == -2 * DAY
    assert clock.is_overdue(at(2026, 3, 3, 10), calendar=cal)


def test_clock_paused_exactly_at_the_deadline_is_not_overdue(cal: WorkingCalendar) -> None:
    clock = WorkingClock(budget=DAY, started_at=at(2026, 3, 2, 8))
    clock.pause(at(2026, 3, 2, 17))
    assert not clock.is_overdue(at(2026, 3, 5, 10), calendar=cal)
    clock.resume(at(2026, 3, 5, 10))
    assert clock.deadline(calendar=cal) == at(2026, 3, 5, 10)  # due as soon as it resumes
    assert not clock.is_overdue(at(2026, 3, 5, 10), calendar=cal)
    assert clock.is_overdue(at(2026, 3, 5, 10, 1), calendar=cal)


def test_clock_paused_after_its_deadline_stays_overdue(cal: WorkingCalendar) -> None:
    clock = WorkingClock(budget=DAY, started_at=at(2026, 3, 2, 8))
    clock.pause(at(2026, 3, 3, 10))  # two working hours late
    assert clock.is_overdue(at(2026, 3, 4, 10), calendar=cal)
    assert clock.remaining(at(2026, 3, 4, 10), calendar=cal) == -2 * HOUR
    assert not clock.is_overdue(at(2026, 3, 2, 16), calendar=cal)  # asked about the past
    clock.resume(at(2026, 3, 9, 8))
    assert clock.deadline(calendar=cal) == at(2026, 3, 2, 17)  # the past moment it ran out


def test_zero_budget_is_due_at_once(cal: WorkingCalendar) -> None:
    clock = WorkingClock(budget=timedelta(0), started_at=at(2026, 3, 2, 10))
    assert clock.deadline(calendar=cal) == at(2026, 3, 2, 10)
    assert not clock.is_overdue(at(2026, 3, 2, 10), calendar=cal)
    assert clock.is_overdue(at(2026, 3, 2, 10, 0, 1), calendar=cal)


def test_clock_round_trips_through_json(cal: WorkingCalendar) -> None:
    clock = WorkingClock(
        budget=3 * DAY + timedelta(minutes=30, microseconds=5), started_at=at(2026, 3, 5, 10)
    )
    clock.pause(at(2026, 3, 6, 10))
    clock.resume(at(2026, 3, 9, 10))
    clock.pause(at(2026, 3, 10, 9, 15))
    stored = json.loads(json.dumps(clock.to_dict()))
    assert stored == {
        "budget": "PT24H30M0.000005S",
        "started_at": "2026-03-05T03:00:00+00:00",
        "pauses": [
            ["2026-03-06T03:00:00+00:00", "2026-03-09T03:00:00+00:00"],
            ["2026-03-10T02:15:00+00:00", None],
        ],
    }
    restored = WorkingClock.from_dict(stored)
    assert restored == clock
    assert restored.is_paused
    assert restored.elapsed(at(2026, 3, 11, 10), calendar=cal) == clock.elapsed(
        at(2026, 3, 11, 10), calendar=cal
    )
    assert WorkingClock.from_dict(WorkingClock(DAY, at(2026, 3, 2, 8)).to_dict()).to_dict() == {
        "budget": "PT8H",
        "started_at": "2026-03-02T01:00:00+00:00",
        "pauses": [],
    }
    assert WorkingClock(timedelta(0), at(2026, 3, 2, 8)).to_dict()["budget"] == "PT0S"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"budget": "P1D", "started_at": "2026-03-02T01:00:00+00:00"},  # calendar days: ambiguous
        {"budget": "8 hours", "started_at": "2026-03-02T01:00:00+00:00"},
        {"budget": "PT8H", "started_at": "2026-03-02T08:00:00"},  # naive
        {"budget": "PT8H", "started_at": "yesterday"},
        {"budget": "PT8H", "started_at": "2026-03-02T01:00:00+00:00", "pauses": "none"},
        {"budget": "PT8H", "started_at": "2026-03-02T01:00:00+00:00", "pauses": [["x"]]},
        {  # the pause ends before it starts
            "budget": "PT8H",
            "started_at": "2026-03-02T01:00:00+00:00",
            "pauses": [["2026-03-03T01:00:00+00:00", "2026-03-02T02:00:00+00:00"]],
        },
    ],
)
def test_malformed_stored_clocks_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WorkingClock.from_dict(data)


def test_clock_refuses_impossible_changes() -> None:
    clock = WorkingClock(budget=DAY, started_at=at(2026, 3, 2, 10))
    with pytest.raises(ValueError, match="running"):
        clock.resume(at(2026, 3, 2, 11))
    with pytest.raises(ValueError, match="before"):
        clock.pause(at(2026, 3, 2, 9))  # before the start
    with pytest.raises(ValueError, match="naive"):
        clock.pause(datetime(2026, 3, 2, 11))  # noqa: DTZ001
    clock.pause(at(2026, 3, 2, 11))
    with pytest.raises(ValueError, match="already paused"):
        clock.pause(at(2026, 3, 2, 12))
    with pytest.raises(ValueError, match="before the pause"):
        clock.resume(at(2026, 3, 2, 10, 30))
    clock.resume(at(2026, 3, 2, 14))
    with pytest.raises(ValueError, match="before"):
        clock.pause(at(2026, 3, 2, 13))  # before the last resume
    with pytest.raises(ValueError, match="non-negative"):
        WorkingClock(budget=-HOUR, started_at=at(2026, 3, 2, 10))
    with pytest.raises(ValueError, match="naive"):
        WorkingClock(budget=HOUR, started_at=datetime(2026, 3, 2, 10))  # noqa: DTZ001
    with pytest.raises(ValueError, match="last pause"):
        WorkingClock(
            budget=HOUR,
            started_at=at(2026, 3, 2, 10),
            pauses=[(at(2026, 3, 2, 11), None), (at(2026, 3, 2, 12), at(2026, 3, 2, 13))],
        )


# --- get_calendar(): settings + the CalendarException table ---------------------------------------


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A cache of its own, so no test sees a calendar another test built."""
    monkeypatch.setattr(calendar_module, "_cache", calendar_module._CalendarCache())
    yield


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_get_calendar_follows_the_settings() -> None:
    cal = get_calendar()
    assert cal.tz == HANOI
    assert cal.country == "VN"
    assert cal.office_hours == ((time(8), time(12)), (time(13), time(17)))
    assert cal.add_working_days(at(2026, 3, 2, 10), 3) == at(2026, 3, 5, 10)


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_get_calendar_is_cached(django_assert_num_queries: object) -> None:
    first = get_calendar()
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert get_calendar() is first


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_table_rows_override_holidays_and_invalidate_the_cache() -> None:
    from thudo.core.models import CalendarException

    assert get_calendar().is_working_day(date(2026, 3, 10))
    assert not get_calendar().is_working_day(date(2026, 9, 1))

    day_off = CalendarException.objects.create(
        date=date(2026, 3, 10), kind=CalendarException.Kind.DAY_OFF, name="Extra day off"
    )
    CalendarException.objects.create(
        date=date(2026, 9, 1), kind=CalendarException.Kind.WORKING_DAY, name="Worked"
    )
    cal = get_calendar()
    assert not cal.is_working_day(date(2026, 3, 10))
    assert cal.is_working_day(date(2026, 9, 1))  # a National Day holiday, worked
    assert cal.add_working_days(at(2026, 3, 9, 10), 1) == at(2026, 3, 11, 10)

    day_off.kind = CalendarException.Kind.WORKING_DAY
    day_off.save()
    assert get_calendar().is_working_day(date(2026, 3, 10))

    day_off.delete()
    assert get_calendar().is_working_day(date(2026, 3, 10))
    CalendarException.objects.create(
        date=date(2026, 3, 14), kind=CalendarException.Kind.WORKING_DAY, name="Make-up Saturday"
    )
    assert get_calendar().is_working_day(date(2026, 3, 14))


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_committed_change_is_cached_again(django_capture_on_commit_callbacks: object) -> None:
    from thudo.core.models import CalendarException

    get_calendar()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        CalendarException.objects.create(
            date=date(2026, 3, 10), kind=CalendarException.Kind.DAY_OFF, name="Extra day off"
        )
    cal = get_calendar()
    assert not cal.is_working_day(date(2026, 3, 10))
    assert get_calendar() is cal


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_rolled_back_change_leaves_no_trace() -> None:
    from django.db import transaction

    from thudo.core.models import CalendarException

    assert get_calendar().is_working_day(date(2026, 3, 10))
    with pytest.raises(RuntimeError), transaction.atomic():
        CalendarException.objects.create(
            date=date(2026, 3, 10), kind=CalendarException.Kind.DAY_OFF, name="Extra day off"
        )
        assert not get_calendar().is_working_day(date(2026, 3, 10))
        raise RuntimeError("roll back")
    assert get_calendar().is_working_day(date(2026, 3, 10))


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_caching_resumes_once_the_changing_transaction_is_over() -> None:
    # As left behind by a change whose whole transaction was rolled back (the end of a test):
    # the outermost atomic block it was made in is gone.
    calendar_module._cache._dirty()["default"] = object()
    first = get_calendar()
    assert get_calendar() is first


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_writes_without_signals_need_invalidate_calendar() -> None:
    from thudo.core.models import CalendarException

    assert get_calendar().is_working_day(date(2026, 3, 10))
    CalendarException.objects.bulk_create(
        [CalendarException(date=date(2026, 3, 10), kind="day_off", name="Bulk")]
    )
    assert get_calendar().is_working_day(date(2026, 3, 10))  # stale: bulk_create sends no signal
    invalidate_calendar()
    assert not get_calendar().is_working_day(date(2026, 3, 10))


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_other_processes_rebuild_after_cache_seconds(settings: object) -> None:
    from thudo.core.models import CalendarException

    settings.WORKING_CALENDAR = {  # type: ignore[attr-defined]
        **settings.WORKING_CALENDAR,  # type: ignore[attr-defined]
        "CACHE_SECONDS": 0,
    }
    get_calendar()
    # As if another process had written the row: no signal reaches this one.
    CalendarException.objects.bulk_create(
        [CalendarException(date=date(2026, 3, 10), kind="day_off", name="Elsewhere")]
    )
    assert not get_calendar().is_working_day(date(2026, 3, 10))


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_cache")
def test_clock_uses_the_deployment_calendar_by_default() -> None:
    from thudo.core.models import CalendarException

    clock = WorkingClock(budget=DAY, started_at=at(2026, 3, 9, 10))
    assert clock.deadline() == at(2026, 3, 10, 10)
    CalendarException.objects.create(
        date=date(2026, 3, 10), kind=CalendarException.Kind.DAY_OFF, name="Extra day off"
    )
    assert clock.deadline() == at(2026, 3, 11, 10)  # a day off added later moves the deadline
    assert clock.remaining(at(2026, 3, 11, 9)) == HOUR
    assert not clock.is_overdue(at(2026, 3, 11, 9))
