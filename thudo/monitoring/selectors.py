"""Every read of the monitoring domain that leaves it, filtered by who asks where it matters.

The service figures behind the ranking and the ward drill-down come from the dossiers' and the
feedback's own selectors (`dossiers.index`, `feedback.stats`); monitoring never scans their rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency
from thudo.accounts.permissions import agencies_where
from thudo.accounts.roles import Perm
from thudo.core.errors import NotFound

from .models import (
    DtiComponent,
    Indicator,
    Pillar,
    Programme,
    ReportedValue,
    ReportingPeriod,
    Snapshot,
    Status,
    Target,
    Task,
)
from .status import quantize

HEADLINE = _("{achieved} of {total} targets achieved")
DTI_MAX_TOTAL = Decimal("1000")


def grace_days() -> int:
    return int(getattr(settings, "MONITORING_GRACE_DAYS", 15))


def remind_days() -> int:
    return int(getattr(settings, "MONITORING_REMIND_DAYS", 7))


def _today(today: date | None) -> date:
    return today or timezone.localdate()


def _status_counts(statuses: list[str]) -> dict[str, int]:
    counts = {str(s): 0 for s in Status.values}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return counts


# --- The programme ---------------------------------------------------------------------------


def programme_current() -> Programme | None:
    """The newest top-level programme (a resolution; its plans hang below it)."""
    return (
        Programme.objects.filter(parent__isnull=True)
        .select_related("agency")
        .order_by("-start", "-pk")
        .first()
    )


def programme_ids(programme: Programme) -> list[int]:
    """The programme and every plan below it."""
    found, frontier = {programme.pk}, [programme.pk]
    while frontier:
        frontier = [
            pk
            for pk in Programme.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
            if pk not in found
        ]
        found.update(frontier)
    return sorted(found)


def programme_of(indicator: Indicator) -> Programme:
    return indicator.target.pillar.programme


def targets_of(*, programme: Programme) -> QuerySet[Target]:
    return Target.objects.filter(pillar__programme_id__in=programme_ids(programme))


@dataclass(frozen=True)
class Headline:
    achieved: int
    total: int
    by_status: dict[str, int]

    @property
    def text(self) -> str:
        return str(HEADLINE).format(achieved=self.achieved, total=self.total)

    def __str__(self) -> str:
        return self.text


def headline(*, programme: Programme) -> Headline:
    """ "{achieved} of {total} targets achieved" and the count of targets per status (every
    status present, zeros included)."""
    statuses = list(targets_of(programme=programme).values_list("status", flat=True))
    counts = _status_counts(statuses)
    return Headline(achieved=counts[Status.ACHIEVED], total=len(statuses), by_status=counts)


@dataclass(frozen=True)
class PillarRow:
    pillar: Pillar
    targets: list[Target]
    by_status: dict[str, int]

    @property
    def achieved(self) -> int:
        return self.by_status.get(Status.ACHIEVED, 0)

    @property
    def total(self) -> int:
        return len(self.targets)


def pillars_overview(*, programme: Programme) -> list[PillarRow]:
    """Each pillar of the programme (and of its plans) with its targets and their statuses.
    Two queries."""
    pillars = (
        Pillar.objects.filter(programme_id__in=programme_ids(programme))
        .select_related("programme")
        .prefetch_related(
            Prefetch(
                "targets",
                queryset=Target.objects.select_related("agency").order_by("order", "code"),
            )
        )
        .order_by("programme__start", "order", "code")
    )
    rows = []
    for pillar in pillars:
        targets = list(pillar.targets.all())
        rows.append(PillarRow(pillar, targets, _status_counts([t.status for t in targets])))
    return rows


def pillar_get(*, programme: Programme, code: str) -> Pillar:
    pillar = (
        Pillar.objects.filter(programme_id__in=programme_ids(programme), code=code)
        .select_related("programme")
        .first()
    )
    if pillar is None:
        raise NotFound()
    return pillar


def target_get(*, code: str) -> Target:
    target = (
        Target.objects.filter(code=code)
        .select_related("pillar", "pillar__programme", "agency")
        .first()
    )
    if target is None:
        raise NotFound()
    return target


def primary_indicator(target: Target) -> Indicator | None:
    """The indicator the target's status follows (the first primary one, else the first)."""
    indicators = list(
        Indicator.objects.filter(target=target).order_by("-is_primary", "order", "code")
    )
    return indicators[0] if indicators else None


Series = list[tuple[date, Decimal | None]]


def indicator_series(*, indicator: Indicator, days: int = 365, today: date | None = None) -> Series:
    """The indicator's daily values over the `days` days to `today` (None: no data that day;
    days without a snapshot are left out)."""
    last = _today(today)
    first = last - timedelta(days=days - 1)
    return [
        (day, value)
        for day, value in Snapshot.objects.filter(
            indicator=indicator, date__gte=first, date__lte=last
        )
        .order_by("date")
        .values_list("date", "value")
    ]


class TargetDetail(NamedTuple):
    target: Target
    indicators: list[Indicator]
    series: dict[int, Series]  # indicator pk → [(date, value)]
    tasks: list[Task]
    reported: list[ReportedValue]


def target_detail(*, target: Target, days: int = 365, today: date | None = None) -> TargetDetail:
    """The target, its indicators (primary first), each one's daily series, its tasks and the
    values reported for it. A fixed number of queries."""
    last = _today(today)
    first = last - timedelta(days=days - 1)
    indicators = list(
        Indicator.objects.filter(target=target)
        .select_related("agency")
        .order_by("-is_primary", "order", "code")
    )
    series: dict[int, Series] = {i.pk: [] for i in indicators}
    for indicator_id, day, value in (
        Snapshot.objects.filter(indicator__target=target, date__gte=first, date__lte=last)
        .order_by("indicator_id", "date")
        .values_list("indicator_id", "date", "value")
    ):
        series.setdefault(indicator_id, []).append((day, value))
    tasks = list(
        Task.objects.filter(target=target).select_related("agency", "owner").order_by("due", "pk")
    )
    reported = list(
        ReportedValue.objects.filter(indicator__target=target).select_related(
            "indicator", "period", "submitted_by", "reviewed_by"
        )
    )
    return TargetDetail(target, indicators, series, tasks, reported)


# --- Reporting -------------------------------------------------------------------------------


def reportable_for(*, user: Any) -> QuerySet[Indicator]:
    """The reported indicators of the agencies where the user may report."""
    agencies = agencies_where(user, Perm.MONITORING_REPORT)
    return (
        Indicator.objects.filter(kind=Indicator.Kind.REPORTED, agency_id__in=agencies)
        .select_related("target", "target__pillar", "target__pillar__programme", "agency")
        .order_by("target__pillar__order", "target__order", "order", "code")
    )


def reported_for_review(*, user: Any) -> QuerySet[ReportedValue]:
    """Values waiting for approval in the programmes whose monitoring office the user reviews
    for, other than the user's own submissions (nobody approves their own), oldest first."""
    agencies = agencies_where(user, Perm.MONITORING_REPORT)
    qs = ReportedValue.objects.filter(
        state=ReportedValue.State.SUBMITTED,
        indicator__target__pillar__programme__agency_id__in=agencies,
    )
    if getattr(user, "pk", None) is not None:
        qs = qs.exclude(submitted_by=user)
    return qs.select_related(
        "indicator", "indicator__agency", "indicator__target", "period", "submitted_by"
    ).order_by("submitted_at", "pk")


def reported_of(*, user: Any) -> QuerySet[ReportedValue]:
    """The values reported for the indicators of the user's agencies, newest first."""
    agencies = agencies_where(user, Perm.MONITORING_REPORT)
    return ReportedValue.objects.filter(indicator__agency_id__in=agencies).select_related(
        "indicator", "period", "submitted_by", "reviewed_by"
    )


def period_is_open(period: ReportingPeriod, today: date | None = None) -> bool:
    """Started, not closed, and not past its due date plus the grace days."""
    day = _today(today)
    return (
        period.closed_at is None
        and period.start <= day
        and day <= period.due + timedelta(days=grace_days())
    )


def periods_open(*, indicator: Indicator, today: date | None = None) -> QuerySet[ReportingPeriod]:
    """The periods of the indicator's programme and frequency one may still report for."""
    day = _today(today)
    return ReportingPeriod.objects.filter(
        programme_id=indicator.target.pillar.programme_id,
        frequency=indicator.frequency,
        closed_at__isnull=True,
        start__lte=day,
        due__gte=day - timedelta(days=grace_days()),
    ).order_by("start")


def periods_open_by_indicator(
    *, indicators: list[Indicator], today: date | None = None
) -> dict[int, list[ReportingPeriod]]:
    """`periods_open` of each indicator (its pk → periods, oldest first), in one query."""
    day = _today(today)
    keys = {(i.target.pillar.programme_id, i.frequency) for i in indicators}
    found: dict[tuple[int, str], list[ReportingPeriod]] = defaultdict(list)
    if keys:
        for period in ReportingPeriod.objects.filter(
            programme_id__in={programme for programme, _f in keys},
            frequency__in={frequency for _p, frequency in keys},
            closed_at__isnull=True,
            start__lte=day,
            due__gte=day - timedelta(days=grace_days()),
        ).order_by("start"):
            found[(period.programme_id, period.frequency)].append(period)
    return {
        i.pk: list(found.get((i.target.pillar.programme_id, i.frequency), [])) for i in indicators
    }


# --- Overdue work ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MissingReport:
    indicator: Indicator
    period: ReportingPeriod


@dataclass
class OverdueRow:
    agency: Agency
    tasks: list[Task] = field(default_factory=list)
    reports: list[MissingReport] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.tasks) + len(self.reports)


def missing_reports(
    *, today: date | None = None, due_before: date | None = None
) -> list[MissingReport]:
    """Reported indicators with a period (not closed) whose due date is before `due_before`
    (default: today) and nothing submitted or approved for it. Three queries."""
    limit = due_before or _today(today)
    indicators = list(
        Indicator.objects.filter(kind=Indicator.Kind.REPORTED).select_related(
            "agency", "target", "target__pillar"
        )
    )
    if not indicators:
        return []
    programmes = {i.target.pillar.programme_id for i in indicators}
    periods: dict[tuple[int, str], list[ReportingPeriod]] = defaultdict(list)
    for period in ReportingPeriod.objects.filter(
        programme_id__in=programmes, closed_at__isnull=True, due__lt=limit
    ).order_by("start"):
        periods[(period.programme_id, period.frequency)].append(period)
    done = set(
        ReportedValue.objects.filter(
            indicator__in=indicators,
            state__in=[ReportedValue.State.SUBMITTED, ReportedValue.State.APPROVED],
        ).values_list("indicator_id", "period_id")
    )
    missing = []
    for indicator in indicators:
        for period in periods.get((indicator.target.pillar.programme_id, indicator.frequency), []):
            if (indicator.pk, period.pk) not in done:
                missing.append(MissingReport(indicator, period))
    return missing


def overdue_by_agency(*, today: date | None = None) -> list[OverdueRow]:
    """Per agency: its open tasks past their deadline and its reports past their due date,
    agencies with the most overdue first."""
    day = _today(today)
    rows: dict[int, OverdueRow] = {}
    for task in (
        Task.objects.filter(state=Task.State.OPEN, due__lt=day)
        .select_related("agency", "owner", "target")
        .order_by("due", "pk")
    ):
        rows.setdefault(task.agency_id, OverdueRow(task.agency)).tasks.append(task)
    for item in missing_reports(today=day):
        agency = item.indicator.agency
        rows.setdefault(agency.pk, OverdueRow(agency)).reports.append(item)
    return sorted(rows.values(), key=lambda r: (-r.total, r.agency.name))


# --- Public services: the Decision 766 ranking and the ward drill-down -----------------------


@dataclass(frozen=True)
class RankRow:
    rank: int
    row: Any  # dossiers.index.IndexRow
    score: float | None

    @property
    def figures(self) -> Any:
        return self.row.figures

    @property
    def code(self) -> str:
        return str(self.row.code)

    @property
    def label(self) -> str:
        return str(self.row.label)


def service_score(figures: Any) -> float | None:
    """A 0–100 score in the spirit of Decision 766: the mean of the measured rates (on-time
    settlement, online provision, digitisation, satisfaction); None when none is measured."""
    rates = [
        r
        for r in (
            figures.on_time_rate,
            figures.online_rate,
            figures.digitisation_rate,
            figures.satisfaction,
        )
        if r is not None
    ]
    return round(sum(rates) / len(rates), 1) if rates else None


def ranking(
    *, start: date, end: date, group: str = "agency", order: str = "score"
) -> list[RankRow]:
    """The agencies (group="agency") or wards (group="unit") ranked by their service score
    (order="score") or on-time rate (order="on_time"), best first; the rest break ties by the
    other measure then by name, and rows with nothing to rank come last without a rank."""
    from thudo.dossiers.index import service_index_rows

    rows = service_index_rows(start=start, end=end, group=group)

    def measure(row: Any) -> tuple[float | None, float | None]:
        score = service_score(row.figures)
        on_time = row.figures.on_time_rate
        return (score, on_time) if order != "on_time" else (on_time, score)

    def key(row: Any) -> tuple[int, float, float, str]:
        first, second = measure(row)
        return (
            first is None,
            -(first if first is not None else 0),
            -(second if second is not None else 0),
            str(row.name),
        )

    ranked = []
    rank = 0
    for row in sorted(rows, key=key):
        first, _second = measure(row)
        if first is not None:
            rank += 1
        ranked.append(RankRow(rank if first is not None else 0, row, service_score(row.figures)))
    return ranked


@dataclass(frozen=True)
class WardDrilldown:
    unit: Any  # core.AdminUnit
    agency: Agency | None  # the ward's People's Committee
    figures: Any  # dossiers.index.IndexFigures
    feedback: Any  # feedback.stats.StatRow (totals), None without an agency
    feedback_rows: list[Any]  # feedback.stats.StatRow per category


def _moments(start: date, end: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def ward_drilldown(*, unit_code: str, start: date, end: date) -> WardDrilldown:
    """A ward's dossier figures (dossiers received by its units) and the citizen reports
    handled by its People's Committee (with its sub-units) over [start, end]."""
    from thudo.core.models import AdminUnit
    from thudo.dossiers.index import agency_scope, service_index
    from thudo.feedback.stats import feedback_statistics, feedback_totals

    unit = AdminUnit.objects.filter(code=unit_code).first()
    if unit is None:
        raise NotFound()
    figures = service_index(start=start, end=end, unit=unit)
    seated = Agency.objects.filter(admin_unit=unit, is_active=True).order_by("code")
    agency = seated.filter(kind=Agency.Kind.COMMUNE_COMMITTEE).first() or seated.first()
    feedback = None
    rows: list[Any] = []
    if agency is not None:
        since, until = _moments(start, end)
        scope = agency_scope(agency)
        feedback = feedback_totals(start=since, end=until, agency_ids=scope)
        rows = feedback_statistics(start=since, end=until, agency_ids=scope)
    return WardDrilldown(unit, agency, figures, feedback, rows)


# --- DTI -------------------------------------------------------------------------------------


def dti_points(component: DtiComponent, value: Decimal | None) -> Decimal | None:
    """Points of a component computed from its indicator: max × min(1, value / target)
    (higher is better), max × min(1, target / value) (lower is better)."""
    if component.indicator is None or value is None:
        return component.points
    target = component.indicator.target
    goal = Decimal(target.target_value)
    current = Decimal(value)
    if target.direction == "down":
        share = Decimal(1) if current <= goal else (goal / current if current > 0 else Decimal(0))
    else:
        share = Decimal(1) if current >= goal else (current / goal if goal > 0 else Decimal(0))
    share = min(Decimal(1), max(Decimal(0), share))
    return quantize(Decimal(component.max_points) * share)


@dataclass
class DtiGroup:
    group: str
    label: str
    components: list[DtiComponent]
    points: Decimal
    max_points: Decimal


@dataclass
class DtiScores:
    year: int
    groups: list[DtiGroup]
    total: Decimal
    max_total: Decimal
    scored: int  # components with points


def _year_values(indicator_ids: set[int], year: int, until: date) -> dict[int, Decimal | None]:
    """Each indicator's latest snapshot value in `year` up to `until`; for a reported indicator
    with no snapshot then, its latest approved value for a period that ended in the year. Two
    queries."""
    first = date(year, 1, 1)
    values: dict[int, Decimal | None] = {}
    for indicator_id, value in (
        Snapshot.objects.filter(
            indicator_id__in=indicator_ids, date__gte=first, date__lte=until, value__isnull=False
        )
        .order_by("indicator_id", "-date")
        .values_list("indicator_id", "value")
    ):
        values.setdefault(indicator_id, value)
    missing = indicator_ids - set(values)
    if missing:
        for indicator_id, value in (
            ReportedValue.objects.filter(
                indicator_id__in=missing,
                state=ReportedValue.State.APPROVED,
                period__end__gte=first,
                period__end__lte=until,
            )
            .order_by("indicator_id", "-period__end", "-reviewed_at", "-pk")
            .values_list("indicator_id", "value")
        ):
            values.setdefault(indicator_id, value)
    return values


def dti_scores(*, year: int, today: date | None = None) -> DtiScores:
    """The year's DTI components by group with their points (a component computed from an
    indicator: from the indicator's latest value in that year, see `dti_points`), each group's
    sum and the total (of 1,000). A fixed number of queries."""
    components = list(
        DtiComponent.objects.filter(year=year)
        .select_related("indicator", "indicator__target")
        .order_by("group", "code")
    )
    until = min(date(year, 12, 31), _today(today))
    linked = {c.indicator_id for c in components if c.indicator_id is not None}
    values = _year_values(linked, year, until) if linked else {}
    labels = dict(DtiComponent.Group.choices)
    groups: dict[str, DtiGroup] = {
        g: DtiGroup(g, str(labels[g]), [], Decimal("0.00"), Decimal("0.00"))
        for g in DtiComponent.Group.values
    }
    scored = 0
    for c in components:
        if c.indicator_id is not None:
            c.points = dti_points(c, values.get(c.indicator_id))
        entry = groups.setdefault(
            c.group,
            DtiGroup(c.group, str(labels.get(c.group, c.group)), [], Decimal(0), Decimal(0)),
        )
        entry.components.append(c)
        entry.max_points += Decimal(c.max_points)
        if c.points is not None:
            entry.points += Decimal(c.points)
            scored += 1
    total = sum((g.points for g in groups.values()), Decimal("0.00"))
    return DtiScores(
        year=year,
        groups=list(groups.values()),
        total=quantize(total) or Decimal("0.00"),
        max_total=DTI_MAX_TOTAL,
        scored=scored,
    )


# --- who sees a reported value in full ---------------------------------------------------------


def reporting_agencies(user: Any) -> set[int]:
    """The agencies in which the user reports indicators (and, for the office, reviews them)."""
    return set(agencies_where(user, Perm.MONITORING_REPORT))


def reported_value_open(reported: ReportedValue, *, agencies: set[int], office: int | None) -> bool:
    """Whether a value waiting or returned, and any value's evidence, is open to a user who
    reports for `agencies`: the indicator's agency and the programme's monitoring `office` only."""
    return reported.indicator.agency_id in agencies or (office is not None and office in agencies)


def reported_visible(user: Any) -> QuerySet[ReportedValue]:
    """The reported values the user may read: every approved one (as the target pages show
    them); those waiting or returned when the user reports for the indicator's agency or works
    in the programme's monitoring office (the rule of `reported_value_open`)."""
    qs = ReportedValue.objects.select_related(
        "indicator",
        "indicator__agency",
        "indicator__target",
        "period",
        "submitted_by",
        "reviewed_by",
    )
    if getattr(user, "is_superuser", False):
        return qs
    mine = reporting_agencies(user)
    return qs.filter(
        Q(state=ReportedValue.State.APPROVED)
        | Q(indicator__agency_id__in=mine)
        | Q(indicator__target__pillar__programme__agency_id__in=mine)
    )
