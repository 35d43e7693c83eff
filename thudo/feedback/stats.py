"""Statistics of the feedback domain for dashboards: per handling unit and category, computed by
aggregate queries (one for the period's reports, one for the open ones now), never row by row.

* received — reports submitted in the period;
* accepted_on_time / accepted_late, resolved_on_time / resolved_late — of those, as settled at
  their current level;
* backlog, overdue — open reports now (whatever their submission date), and those past their
  accept (not accepted yet) or resolve deadline;
* avg_resolution_hours — wall-clock hours from submission to the answer;
* rated, satisfied, satisfaction_rate — satisfied / rated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from .models import OPEN_STATUSES, Report, ReportStatus


@dataclass(frozen=True)
class StatRow:
    agency_id: int | None
    agency_name: str
    category_code: str
    category_name: str
    received: int = 0
    accepted_on_time: int = 0
    accepted_late: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    backlog: int = 0
    overdue: int = 0
    avg_resolution_hours: float | None = None
    rated: int = 0
    satisfied: int = 0
    satisfaction_rate: float | None = field(default=None)

    @property
    def accepted_on_time_rate(self) -> float | None:
        total = self.accepted_on_time + self.accepted_late
        return self.accepted_on_time / total if total else None

    @property
    def resolved_on_time_rate(self) -> float | None:
        total = self.resolved_on_time + self.resolved_late
        return self.resolved_on_time / total if total else None


def _hours(value: Any) -> float | None:
    """An average duration as hours (a timedelta on PostgreSQL, microseconds elsewhere)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return round(value.total_seconds() / 3600, 2)
    return round(float(value) / 3_600_000_000, 2)


_DURATION = ExpressionWrapper(F("answered_at") - F("submitted_at"), output_field=DurationField())


def _period_aggregates() -> dict[str, Any]:
    return {
        "received": Count("pk"),
        "accepted_on_time_n": Count("pk", filter=Q(accepted_on_time=True)),
        "accepted_late_n": Count("pk", filter=Q(accepted_on_time=False)),
        "resolved_on_time_n": Count("pk", filter=Q(resolved_on_time=True)),
        "resolved_late_n": Count("pk", filter=Q(resolved_on_time=False)),
        "avg_resolution": Avg(_DURATION, filter=Q(answered_at__isnull=False)),
        "rated_n": Count("pk", filter=Q(rating__isnull=False)),
        "satisfied_n": Count("pk", filter=Q(rating__isnull=False, satisfied=True)),
    }


def _open_aggregates(now: datetime) -> dict[str, Any]:
    overdue = Q(resolve_due__lt=now) | Q(status=ReportStatus.SUBMITTED, accept_due__lt=now)
    return {"backlog_n": Count("pk"), "overdue_n": Count("pk", filter=overdue)}


def _scope(agency_ids: Any) -> QuerySet[Report]:
    qs = Report.objects.all()
    if agency_ids is not None:
        qs = qs.filter(agency_id__in=list(agency_ids))
    return qs.order_by()


def _row(
    key: tuple[Any, str, str, str], period: dict[str, Any] | None, open_: dict[str, Any] | None
) -> StatRow:
    period = period or {}
    open_ = open_ or {}
    rated = int(period.get("rated_n") or 0)
    satisfied = int(period.get("satisfied_n") or 0)
    return StatRow(
        agency_id=key[0],
        agency_name=key[1] or "",
        category_code=key[2] or "",
        category_name=key[3] or "",
        received=int(period.get("received") or 0),
        accepted_on_time=int(period.get("accepted_on_time_n") or 0),
        accepted_late=int(period.get("accepted_late_n") or 0),
        resolved_on_time=int(period.get("resolved_on_time_n") or 0),
        resolved_late=int(period.get("resolved_late_n") or 0),
        backlog=int(open_.get("backlog_n") or 0),
        overdue=int(open_.get("overdue_n") or 0),
        avg_resolution_hours=_hours(period.get("avg_resolution")),
        rated=rated,
        satisfied=satisfied,
        satisfaction_rate=round(satisfied / rated, 4) if rated else None,
    )


GROUP = ("agency_id", "agency__name", "category__code", "category__name")


def feedback_statistics(
    *,
    start: datetime,
    end: datetime,
    agency_ids: Any = None,
    now: datetime | None = None,
) -> list[StatRow]:
    """One row per (handling unit, category) that received reports in [start, end) or has
    open ones now, ordered by unit and category."""
    moment = now or timezone.now()
    base = _scope(agency_ids)
    period_rows = (
        base.filter(submitted_at__gte=start, submitted_at__lt=end)
        .values(*GROUP)
        .annotate(**_period_aggregates())
    )
    open_rows = (
        base.filter(status__in=OPEN_STATUSES).values(*GROUP).annotate(**_open_aggregates(moment))
    )
    period = {tuple(r[g] for g in GROUP): r for r in period_rows}
    opened = {tuple(r[g] for g in GROUP): r for r in open_rows}
    keys = sorted(set(period) | set(opened), key=lambda k: (k[1] or "", k[0] or 0, k[2] or ""))
    return [_row(key, period.get(key), opened.get(key)) for key in keys]  # type: ignore[arg-type]


def feedback_totals(
    *, start: datetime, end: datetime, agency_ids: Any = None, now: datetime | None = None
) -> StatRow:
    """The same figures for every unit and category together (indicators)."""
    moment = now or timezone.now()
    base = _scope(agency_ids)
    period = base.filter(submitted_at__gte=start, submitted_at__lt=end).aggregate(
        **_period_aggregates()
    )
    open_ = base.filter(status__in=OPEN_STATUSES).aggregate(**_open_aggregates(moment))
    return replace(_row((None, "", "", ""), period, open_))
