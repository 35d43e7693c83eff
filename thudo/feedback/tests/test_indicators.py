"""The feedback indicators of the leaders' dashboard: this year's rates, the open reports now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from thudo.feedback import indicators
from thudo.feedback.tests.factories import fb, media_root, photo, submit  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


def _codes() -> set[str]:
    return {i.code for i in indicators.INDICATORS}


def test_indicators_are_declared_with_codes_and_units() -> None:
    assert _codes() == {
        "feedback.on_time_rate",
        "feedback.satisfaction",
        "feedback.backlog",
        "feedback.overdue",
    }
    units = {i.code: i.unit for i in indicators.INDICATORS}
    assert units["feedback.on_time_rate"] == units["feedback.satisfaction"] == "%"


def test_no_reports_no_rates() -> None:
    assert indicators.on_time_rate() is None
    assert indicators.satisfaction_rate() is None
    assert indicators.backlog() == 0
    assert indicators.overdue_now() == 0


def test_this_year_is_the_local_calendar_year() -> None:
    zone = timezone.get_current_timezone()
    # 31 December 20:00 UTC is already 1 January in Hanoi (UTC+7).
    start, end = indicators.this_year(datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    assert start == datetime(2027, 1, 1, tzinfo=zone)
    assert end == datetime(2028, 1, 1, tzinfo=zone)


def _moment() -> datetime:
    """A moment in the past and in this (local) year."""
    now = timezone.now()
    start, _end = indicators.this_year(now)
    return max(now - timedelta(days=3), start + (now - start) / 2)


def test_indicators_from_the_reports(fb: Any) -> None:  # noqa: F811
    from thudo.feedback import services

    moment = _moment()
    start, _end = indicators.this_year()

    on_time = submit(fb, now=moment)
    services.report_accept(user=fb.ward_officer, report=on_time, now=moment + timedelta(minutes=1))
    services.report_answer(
        user=fb.ward_officer,
        report=on_time,
        text="Đã vá ổ gà.",
        resolution="fixed",
        evidence=[photo()],
        now=moment + timedelta(minutes=2),
    )
    services.report_rate(
        user=fb.resident, report=on_time, rating=5, now=moment + timedelta(minutes=3)
    )

    late = submit(fb, now=moment + timedelta(minutes=5))
    services.report_accept(user=fb.ward_officer, report=late, now=moment + timedelta(minutes=6))
    services.report_answer(
        user=fb.ward_officer,
        report=late,
        text="Đã kiểm tra, đưa vào kế hoạch duy tu.",
        resolution="answered",
        now=late.resolve_due + timedelta(hours=1),
    )
    services.report_rate(
        user=fb.resident, report=late, rating=1, now=late.resolve_due + timedelta(hours=2)
    )

    waiting = submit(fb, now=moment + timedelta(minutes=10))
    # Submitted last year and still open: in the backlog, not in this year's rates.
    old = submit(fb, reporter=fb.neighbour, now=start - timedelta(days=30))

    assert indicators.on_time_rate() == 50.0
    assert indicators.satisfaction_rate() == 50.0
    assert indicators.backlog() == 2
    now = timezone.now()
    expected_overdue = sum(1 for r in (waiting, old) if r.accept_due < now)
    assert indicators.overdue_now() == expected_overdue >= 1  # last year's is overdue for sure

    # Cached for a minute: a new report shows once the cache expires.
    submit(fb, reporter=fb.neighbour, now=moment)
    assert indicators.backlog() == 2
    cache.clear()
    assert indicators.backlog() == 3


def test_indicator_values_are_numbers_or_none(fb: Any) -> None:  # noqa: F811
    """The values are numbers the dashboard formats (None for "no data")."""
    submit(fb, now=_moment())
    values = {i.code: i.compute() for i in indicators.INDICATORS}
    assert values["feedback.backlog"] == 1
    assert values["feedback.on_time_rate"] is None
    assert isinstance(values["feedback.overdue"], int)


def test_rates_at_a_moment_count_the_reports_submitted_until_then(fb: Any) -> None:  # noqa: F811
    """`compute_at(moment)`: the rates over the reports submitted from 1 January of the
    moment's local year up to the moment; never cached."""
    from thudo.feedback import services

    by_code = {i.code: i for i in indicators.INDICATORS}
    assert by_code["feedback.on_time_rate"].compute_at is indicators.on_time_rate_at
    assert by_code["feedback.satisfaction"].compute_at is indicators.satisfaction_rate_at
    assert by_code["feedback.backlog"].compute_at is None  # only "now"
    assert by_code["feedback.overdue"].compute_at is None

    moment = _moment()
    early = submit(fb, now=moment - timedelta(hours=3))
    services.report_accept(
        user=fb.ward_officer, report=early, now=moment - timedelta(hours=2, minutes=50)
    )
    services.report_answer(
        user=fb.ward_officer,
        report=early,
        text="Đã vá ổ gà.",
        resolution="fixed",
        evidence=[photo()],
        now=moment - timedelta(hours=2),
    )
    services.report_rate(user=fb.resident, report=early, rating=5, now=moment - timedelta(hours=1))
    late = submit(fb, reporter=fb.neighbour, now=moment + timedelta(minutes=5))
    services.report_accept(user=fb.ward_officer, report=late, now=moment + timedelta(minutes=6))
    services.report_answer(
        user=fb.ward_officer,
        report=late,
        text="Đã kiểm tra.",
        resolution="answered",
        now=late.resolve_due + timedelta(hours=1),
    )
    services.report_rate(
        user=fb.neighbour, report=late, rating=1, now=late.resolve_due + timedelta(hours=2)
    )

    assert indicators.on_time_rate_at(moment) == 100.0
    assert indicators.satisfaction_rate_at(moment) == 100.0
    assert indicators.on_time_rate() == indicators.satisfaction_rate() == 50.0
    # Before the first report: no data, not 0.
    assert indicators.on_time_rate_at(moment - timedelta(hours=4)) is None
    # A moment in another year counts that year only.
    start, _end = indicators.this_year(moment)
    assert indicators.on_time_rate_at(start - timedelta(days=1)) is None
    # At the present moment, both count (as the dashboard's figure, which is cached).
    assert indicators.on_time_rate_at(timezone.now()) == 50.0
