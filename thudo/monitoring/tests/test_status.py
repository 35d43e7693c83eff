"""The status of a target: pure functions, no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from thudo.monitoring import status
from thudo.monitoring.models import Status

TODAY = date(2026, 6, 30)
D = Decimal


@dataclass
class T:
    """A target as `status` sees it."""

    target_value: Decimal = Decimal(100)
    baseline: Decimal | None = Decimal(40)
    baseline_date: date | None = date(2026, 1, 1)
    deadline: date = date(2026, 12, 31)
    direction: str = "up"


def line(start: date, first: float, per_day: float, days: int, step: int = 1) -> list:
    return [(start + timedelta(days=d), D(str(first + per_day * d))) for d in range(0, days, step)]


# --- forecast ------------------------------------------------------------------------------


def test_forecast_is_the_least_squares_line_at_the_deadline() -> None:
    # 50 → 60 over 10 days: +1 a day; 30 days after the last point → 90.
    points = line(date(2026, 6, 1), 50, 1, 11)
    assert status.forecast(points, date(2026, 7, 11)) == D("90.00")


def test_forecast_fits_noisy_points_by_least_squares() -> None:
    # x = 0, 10, 20 ; y = 10, 30, 20 → slope 0.5, intercept 15: at x = 40 → 35.
    points = [(date(2026, 6, 1), 10), (date(2026, 6, 11), 30), (date(2026, 6, 21), 20)]
    assert status.forecast(points, date(2026, 7, 11)) == D("35.00")


def test_forecast_of_a_falling_line() -> None:
    points = line(date(2026, 6, 1), 100, -2, 8)  # 100 → 86 over 7 days
    assert status.forecast(points, date(2026, 6, 18)) == D("66.00")


def test_forecast_needs_two_dates_a_week_apart() -> None:
    assert status.forecast([], date(2026, 12, 31)) is None
    assert status.forecast([(date(2026, 6, 1), 5)], date(2026, 12, 31)) is None
    # Two values on the same date are one date.
    same = [(date(2026, 6, 1), 5), (date(2026, 6, 1), 7)]
    assert status.forecast(same, date(2026, 12, 31)) is None
    # Six days apart: too short a span.
    short = line(date(2026, 6, 1), 50, 1, 7)
    assert status.forecast(short, date(2026, 12, 31)) is None
    # Seven days apart: enough.
    week = line(date(2026, 6, 1), 50, 1, 8)
    assert status.forecast(week, date(2026, 6, 18)) == D("67.00")


def test_forecast_ignores_missing_values_and_old_points() -> None:
    points: list = [(date(2026, 6, 1), None), (date(2026, 6, 20), None)]
    assert status.forecast(points, date(2026, 12, 31)) is None
    # A point older than 180 days before the newest does not bend the line.
    old = [(date(2025, 1, 1), D("0"))]
    recent = line(date(2026, 6, 1), 50, 1, 11)
    assert status.forecast(old + recent, date(2026, 7, 11)) == D("90.00")
    # Points after `today` are not known yet.
    assert status.forecast(recent, date(2026, 7, 11), today=date(2026, 6, 5)) is None


def test_forecast_of_a_flat_line_is_its_level() -> None:
    points = [(date(2026, 6, d), D("42.5")) for d in range(1, 20)]
    assert status.forecast(points, date(2027, 1, 1)) == D("42.50")


# --- evaluate ------------------------------------------------------------------------------


def test_no_value_is_no_data() -> None:
    assert status.evaluate(T(), None, D("100"), TODAY) == Status.NO_DATA
    assert status.evaluate(T(direction="down"), None, None, TODAY) == Status.NO_DATA


def test_achieved_both_directions() -> None:
    assert status.evaluate(T(), D("100"), None, TODAY) == Status.ACHIEVED
    assert status.evaluate(T(), D("120"), D("0"), TODAY) == Status.ACHIEVED
    down = T(target_value=D("5"), baseline=D("20"), direction="down")
    assert status.evaluate(down, D("5"), None, TODAY) == Status.ACHIEVED
    assert status.evaluate(down, D("3"), D("50"), TODAY) == Status.ACHIEVED
    # Achieved even after the deadline.
    assert status.evaluate(T(), D("100"), None, date(2027, 5, 1)) == Status.ACHIEVED


def test_deadline_passed_not_met_is_off_track() -> None:
    after = date(2027, 1, 1)
    assert status.evaluate(T(), D("99.99"), D("150"), after) == Status.OFF_TRACK
    down = T(target_value=D("5"), baseline=D("20"), direction="down")
    assert status.evaluate(down, D("5.01"), None, after) == Status.OFF_TRACK
    # On the deadline itself it is not passed yet.
    assert status.evaluate(T(), D("99"), D("100"), T().deadline) == Status.ON_TRACK


@pytest.mark.parametrize(
    ("predicted", "expected"),
    [
        (D("100"), Status.ON_TRACK),
        (D("130"), Status.ON_TRACK),
        (D("94"), Status.AT_RISK),  # short by 6 ≤ 10% of |100 − 40| = 6
        (D("93.99"), Status.OFF_TRACK),
        (D("10"), Status.OFF_TRACK),
    ],
)
def test_forecast_decides_going_up(predicted: Decimal, expected: str) -> None:
    assert status.evaluate(T(), D("70"), predicted, TODAY) == expected


@pytest.mark.parametrize(
    ("predicted", "expected"),
    [
        (D("5"), Status.ON_TRACK),
        (D("1"), Status.ON_TRACK),
        (D("6.5"), Status.AT_RISK),  # over by 1.5 ≤ 10% of |5 − 20| = 1.5
        (D("6.51"), Status.OFF_TRACK),
    ],
)
def test_forecast_decides_going_down(predicted: Decimal, expected: str) -> None:
    down = T(target_value=D("5"), baseline=D("20"), direction="down")
    assert status.evaluate(down, D("12"), predicted, TODAY) == expected


def test_without_baseline_the_tolerance_is_a_tenth_of_the_target() -> None:
    t = T(baseline=None, baseline_date=None)
    assert status.evaluate(t, D("50"), D("90"), TODAY) == Status.AT_RISK
    assert status.evaluate(t, D("50"), D("89.99"), TODAY) == Status.OFF_TRACK


def test_too_few_points_compares_with_the_straight_path() -> None:
    # Baseline 40 on 1 January to 100 on 31 December 2026 (364 days): expected on
    # 30 June (180 days) = 40 + 60 × 180/364 = 69.67; tolerance 6.
    t = T()
    assert status.expected_today(t, TODAY) == D("69.67")
    assert status.evaluate(t, D("69.67"), None, TODAY) == Status.ON_TRACK
    assert status.evaluate(t, D("75"), None, TODAY) == Status.ON_TRACK
    assert status.evaluate(t, D("63.67"), None, TODAY) == Status.AT_RISK
    assert status.evaluate(t, D("63.66"), None, TODAY) == Status.OFF_TRACK


def test_straight_path_going_down() -> None:
    down = T(target_value=D("5"), baseline=D("20"), direction="down")
    # Expected on 30 June: 20 − 15 × 180/364 = 12.58; tolerance 1.5.
    assert status.expected_today(down, TODAY) == D("12.58")
    assert status.evaluate(down, D("12"), None, TODAY) == Status.ON_TRACK
    assert status.evaluate(down, D("14.08"), None, TODAY) == Status.AT_RISK
    assert status.evaluate(down, D("14.09"), None, TODAY) == Status.OFF_TRACK


def test_no_baseline_and_no_trend_is_at_risk() -> None:
    assert status.evaluate(T(baseline=None), D("1"), None, TODAY) == Status.AT_RISK
    assert status.evaluate(T(baseline_date=None), D("1"), None, TODAY) == Status.AT_RISK
    assert status.expected_today(T(baseline=None), TODAY) is None


def test_expected_before_the_baseline_and_after_the_deadline() -> None:
    t = T()
    assert status.expected_today(t, date(2025, 6, 1)) == D("40.00")
    assert status.expected_today(t, date(2027, 6, 1)) == D("100.00")


def test_assess_uses_the_days_value_and_the_trend() -> None:
    t = T(deadline=date(2026, 7, 31))
    points = line(date(2026, 6, 20), 80, 1, 11)  # 80 → 90 on 30 June; +1/day → 121 at deadline
    result = status.assess(t, points, TODAY)
    assert result.value == D("90.00")
    assert result.forecast == D("121.00")
    assert result.status == Status.ON_TRACK
    # Tomorrow's point (not known on `today`) is ignored; no value on the day → no data.
    result = status.assess(t, points, date(2026, 6, 19))
    assert (result.status, result.value, result.forecast) == (Status.NO_DATA, None, None)


def test_quantize() -> None:
    assert status.quantize(None) is None
    assert status.quantize(1 / 3) == D("0.33")
    assert status.quantize(D("2.005")) == D("2.01")
    assert status.quantize(7) == D("7.00")
