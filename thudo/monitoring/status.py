"""How a target stands: pure functions over numbers and dates (no database).

* no value → no data;
* the value meets the target (≥ when higher is better, ≤ when lower is better) → achieved;
* the deadline has passed and the target is not met → off track;
* otherwise a forecast: the least-squares line through the values of the last 180 days
  (at least 2 distinct dates spanning at least 7 days), evaluated at the deadline. With fewer
  points, the straight path from (baseline date, baseline) to (deadline, target) gives the value
  expected today, and today's value is compared with it; with no baseline either, a target not
  achieved is at risk.
* the forecast (or today's value against the expected one) meets the target → on track; misses
  it by at most 10% of |target − baseline| (|target| with no baseline) → at risk; else off track.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from .models import Direction, Status

WINDOW_DAYS = 180
MIN_SPAN_DAYS = 7
TOLERANCE = Decimal("0.10")
TWO_PLACES = Decimal("0.01")


class TargetLike(Protocol):
    direction: str
    baseline: Decimal | None
    baseline_date: date | None
    target_value: Decimal
    deadline: date


@dataclass(frozen=True)
class Assessment:
    """The evaluation of a target on a day."""

    status: str
    value: Decimal | None
    forecast: Decimal | None  # at the deadline, from the trend; None without one
    expected: Decimal | None = None  # on the straight baseline → target path, today


def quantize(value: Any) -> Decimal | None:
    """A number as a Decimal with 2 places (None stays None)."""
    if value is None:
        return None
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def _valued(points: Iterable[tuple[date, Any]]) -> list[tuple[date, Decimal]]:
    return [(day, Decimal(str(v))) for day, v in points if v is not None]


def forecast(
    points: Iterable[tuple[date, Any]], deadline: date, *, today: date | None = None
) -> Decimal | None:
    """The least-squares line through the points with a value within the 180 days up to
    `today` (default: the newest point), evaluated at `deadline`; None with fewer than 2
    distinct dates or a span under 7 days."""
    valued = _valued(points)
    if not valued:
        return None
    last = today or max(day for day, _v in valued)
    since = last - timedelta(days=WINDOW_DAYS)
    window = [(day, v) for day, v in valued if since <= day <= last]
    days = {day for day, _v in window}
    if len(days) < 2 or (max(days) - min(days)).days < MIN_SPAN_DAYS:
        return None
    origin = min(days)
    xs = [Decimal((day - origin).days) for day, _v in window]
    ys = [v for _day, v in window]
    n = Decimal(len(window))
    mean_x = sum(xs, Decimal(0)) / n
    mean_y = sum(ys, Decimal(0)) / n
    sxx = sum(((x - mean_x) ** 2 for x in xs), Decimal(0))
    sxy = sum(((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)), Decimal(0))
    slope = sxy / sxx
    at = Decimal((deadline - origin).days)
    return quantize(mean_y + slope * (at - mean_x))


def expected_today(target: TargetLike, today: date) -> Decimal | None:
    """The value on the straight path from (baseline date, baseline) to (deadline, target)
    today; None without a baseline and its date."""
    if target.baseline is None or target.baseline_date is None:
        return None
    base = Decimal(target.baseline)
    goal = Decimal(target.target_value)
    total = (target.deadline - target.baseline_date).days
    if total <= 0 or today >= target.deadline:
        return quantize(goal)
    elapsed = max(0, (today - target.baseline_date).days)
    return quantize(base + (goal - base) * Decimal(elapsed) / Decimal(total))


def meets(direction: str, value: Decimal, goal: Decimal) -> bool:
    return value <= goal if direction == Direction.DOWN else value >= goal


def shortfall(direction: str, value: Decimal, goal: Decimal) -> Decimal:
    """How far `value` is from reaching `goal` (0 when it reaches it)."""
    gap = value - goal if direction == Direction.DOWN else goal - value
    return max(gap, Decimal(0))


def tolerance(target: TargetLike) -> Decimal:
    """10% of |target − baseline|, or of |target| with no baseline."""
    goal = Decimal(target.target_value)
    span = abs(goal - Decimal(target.baseline)) if target.baseline is not None else abs(goal)
    return span * TOLERANCE


def _grade(target: TargetLike, value: Decimal, goal: Decimal) -> str:
    if meets(target.direction, value, goal):
        return Status.ON_TRACK
    if shortfall(target.direction, value, goal) <= tolerance(target):
        return Status.AT_RISK
    return Status.OFF_TRACK


def evaluate(target: TargetLike, value: Any, forecast: Any, today: date) -> str:  # a Status value
    """The target's status on `today` from its current value and the forecast at the deadline
    (None: not enough points for a trend)."""
    if value is None:
        return Status.NO_DATA
    current = Decimal(str(value))
    goal = Decimal(target.target_value)
    if meets(target.direction, current, goal):
        return Status.ACHIEVED
    if today > target.deadline:
        return Status.OFF_TRACK
    if forecast is not None:
        return _grade(target, Decimal(str(forecast)), goal)
    expected = expected_today(target, today)
    if expected is None:
        return Status.AT_RISK
    return _grade(target, current, expected)


def assess(target: TargetLike, points: Iterable[tuple[date, Any]], today: date) -> Assessment:
    """Evaluate the target on `today` from its indicator's daily values (today's value is the
    point dated `today`; a point after today is ignored)."""
    known = [(day, v) for day, v in points if day <= today]
    value = next((v for day, v in known if day == today), None)
    predicted = forecast(known, target.deadline, today=today)
    status = evaluate(target, value, predicted, today)
    return Assessment(
        status=status,
        value=quantize(value),
        forecast=predicted,
        expected=expected_today(target, today),
    )
