"""The monitoring pages: the programme's overview, a pillar, a target, the Decision 766 ranking,
the wards' heat table and drill-down, the overdue work, the agencies' reports and their review,
the DTI self-assessment, and the monthly report.

Thin views: they parse, call the monitoring selectors (which read the daily snapshots and the
other domains' aggregates, never rows one by one) or one service, and render. Dashboards need
Perm.DASHBOARD_VIEW; reporting and reviewing need Perm.MONITORING_REPORT (the services decide in
which agency). A domain refusal is never a 500: `PermissionDenied` is a 403, `NotFound` a 404,
`InvalidTransition` a 409 with its message and `ValidationFailed` puts its messages on the form's
fields (422). Every table page answers `?format=csv` and `?format=xlsx` with the same table.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from thudo.accounts.models import Agency
from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from thudo.web.access import official_required

from . import charts, selectors, services
from .charts import Bar, Chart
from .forms import (
    DtiPointsForm,
    MonthForm,
    NoteForm,
    PeriodForm,
    RankingForm,
    ReportForm,
    YearForm,
    apply_domain_error,
    error_summary,
)
from .models import (
    DtiComponent,
    Indicator,
    Programme,
    ReportedValue,
    Status,
    Target,
    Task,
)

CACHE_SECONDS = 300  # the ranking's and the wards' figures of one period (aggregates over dossiers)
CHART_BARS = 15  # bars in the ranking's chart; the table after it has every row
STATUS_ORDER = [
    Status.ACHIEVED,
    Status.ON_TRACK,
    Status.AT_RISK,
    Status.OFF_TRACK,
    Status.NO_DATA,
]

View = Callable[..., HttpResponse]


def _guarded(permission: str) -> Callable[[View], View]:
    """A verified official (the workspace's rule) holding `permission` in some agency."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not can(request.user, permission):
                raise DjangoPermissionDenied
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                raise Http404 from None
            except PermissionDenied as exc:
                raise DjangoPermissionDenied(str(exc.message)) from None

        return never_cache(official_required(wrapped))

    return decorator


FileView = Callable[..., HttpResponseBase]
official_files = cast(Callable[[FileView], FileView], official_required)
"""`official_required` for views that stream files (it passes any response through)."""

dashboard_view = _guarded(Perm.DASHBOARD_VIEW)
reporting_view = _guarded(Perm.MONITORING_REPORT)


# --- small helpers ---------------------------------------------------------------------------


def _english() -> bool:
    return (get_language() or "").startswith("en")


def local_name(obj: Any) -> str:
    """The object's English name on English pages when it has one, else its name."""
    english = getattr(obj, "name_en", "")
    return str(english if english and _english() else getattr(obj, "name", "") or "")


def status_label(status: str) -> str:
    try:
        return str(Status(status).label)
    except ValueError:
        return status


def progress(target: Target) -> float | None:
    """How far the current value is toward the target, as a percentage of it (capped at
    nothing: 120 means beyond the target). Lower-is-better targets: target / value."""
    current, goal = target.current_value, target.target_value
    if current is None or goal is None:
        return None
    current_f, goal_f = float(current), float(goal)
    if target.direction == "down":
        if current_f <= 0:
            return 100.0
        return round(100 * goal_f / current_f, 1)
    if goal_f == 0:
        return 100.0 if current_f >= 0 else 0.0
    return round(100 * current_f / goal_f, 1)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def _query(request: HttpRequest, **changes: str) -> str:
    query = request.GET.copy()
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


def _export_links(request: HttpRequest) -> list[dict[str, str]]:
    return [
        {"label": _("Download as CSV"), "query": _query(request, format="csv")},
        {"label": _("Download as Excel (XLSX)"), "query": _query(request, format="xlsx")},
    ]


# --- tables and their exports ----------------------------------------------------------------


@dataclass
class Sheet:
    """A page's table as plain values, for CSV and XLSX."""

    name: str  # the file name's stem
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


def _exported(request: HttpRequest, sheet: Sheet) -> HttpResponse | None:
    """The table as a download when the page was asked `?format=csv|xlsx`, else None."""
    wanted = request.GET.get("format", "")
    if wanted not in ("csv", "xlsx"):
        return None
    from . import exports  # openpyxl is loaded only for a download

    if wanted == "csv":
        body, content_type, extension = (
            exports.table_csv(sheet.columns, sheet.rows),
            "text/csv; charset=utf-8",
            "csv",
        )
    elif wanted == "xlsx":
        body, content_type, extension = (
            exports.table_xlsx(sheet.title, sheet.columns, sheet.rows),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    else:
        return None
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{sheet.name}.{extension}"'
    return response


# --- rows for the pages ----------------------------------------------------------------------


@dataclass(frozen=True)
class TargetRow:
    target: Target
    name: str
    pillar: str
    progress: float | None

    @property
    def status(self) -> str:
        return self.target.status

    @property
    def status_label(self) -> str:
        return status_label(self.target.status)


def _target_rows(targets: Sequence[Target], pillar: str) -> list[TargetRow]:
    return [TargetRow(t, local_name(t), pillar, progress(t)) for t in targets]


def _status_counts(by_status: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"status": str(s), "label": status_label(s), "count": by_status.get(str(s), 0)}
        for s in STATUS_ORDER
    ]


def _status_chart(title: str, by_status: dict[str, int], ident: str) -> Chart:
    counts = [(str(s), status_label(s), by_status.get(str(s), 0)) for s in STATUS_ORDER]
    return charts.status_bar(title=title, counts=counts, ident=ident)


def _progress_chart(title: str, rows: Sequence[TargetRow], ident: str) -> Chart:
    bars = [
        Bar(
            label=row.name,
            value=row.progress,
            tone=row.status,
            text=(
                _("{share}% · {status}").format(
                    share=charts.number(row.progress, 0), status=row.status_label
                )
                if row.progress is not None
                else row.status_label
            ),
            extra=[
                charts.with_unit(row.target.current_value, row.target.unit),
                charts.with_unit(row.target.target_value, row.target.unit),
                row.status_label,
            ],
        )
        for row in rows
    ]
    return charts.bar_chart(
        title=title,
        bars=bars,
        max_value=100,
        ident=ident,
        description=_(
            "How far each target's current value is toward its target, as a share of the "
            "target; each bar is labelled with the share and the target's status."
        ),
        label_header=_("Target"),
        value_header=_("Share of the target reached (%)"),
        extra_headers=[_("Current value"), _("Target value"), _("Status")],
    )


def _target_sheet(name: str, title: str, rows: Sequence[TargetRow]) -> Sheet:
    columns = [
        _("Code"),
        _("Target"),
        _("Pillar"),
        _("Unit"),
        _("Baseline"),
        _("Current value"),
        _("Target value"),
        _("Deadline"),
        _("Status"),
        _("Forecast at the deadline"),
        _("Evaluated at"),
    ]
    sheet = Sheet(name, title, columns)
    for row in rows:
        t = row.target
        sheet.rows.append(
            [
                t.code,
                row.name,
                row.pillar,
                t.unit,
                t.baseline,
                t.current_value,
                t.target_value,
                t.deadline,
                row.status_label,
                t.forecast_value,
                timezone.localtime(t.evaluated_at).replace(tzinfo=None) if t.evaluated_at else None,
            ]
        )
    return sheet


# --- the overview ----------------------------------------------------------------------------


@require_GET
@dashboard_view
def overview(request: HttpRequest) -> HttpResponse:
    """The headline ("8 of 15 targets achieved"), the targets per status, a chart per pillar
    and every target with its value, target, deadline, status and forecast. A fixed number of
    queries whatever the number of targets (the selectors read the evaluated targets)."""
    programme = selectors.programme_current()
    if programme is None:
        return render(request, "monitoring/empty.html", {})
    headline = selectors.headline(programme=programme)
    pillars = []
    all_rows: list[TargetRow] = []
    for index, pillar_row in enumerate(selectors.pillars_overview(programme=programme)):
        name = local_name(pillar_row.pillar)
        rows = _target_rows(pillar_row.targets, name)
        all_rows += rows
        pillars.append(
            {
                "pillar": pillar_row.pillar,
                "name": name,
                "rows": rows,
                "counts": _status_counts(pillar_row.by_status),
                "achieved": pillar_row.by_status.get(Status.ACHIEVED, 0),
                "total": len(rows),
                "chart": _progress_chart(name, rows, f"pillar-{index}") if rows else None,
            }
        )
    exported = _exported(
        request,
        _target_sheet(f"targets-{programme.code}", local_name(programme), all_rows),
    )
    if exported is not None:
        return exported
    context = {
        "programme": programme,
        "programme_name": local_name(programme),
        "headline": headline,
        "headline_text": headline.text,
        "counts": _status_counts(headline.by_status),
        "status_chart": _status_chart(_("Targets by status"), headline.by_status, "status"),
        "pillars": pillars,
        "rows": all_rows,
        "exports": _export_links(request),
        "month": timezone.localdate().strftime("%Y-%m"),
    }
    return render(request, "monitoring/overview.html", context)


@require_GET
@dashboard_view
def pillar(request: HttpRequest, code: str) -> HttpResponse:
    programme = selectors.programme_current()
    if programme is None:
        raise Http404
    found = selectors.pillar_get(programme=programme, code=code)
    row = next(
        (r for r in selectors.pillars_overview(programme=programme) if r.pillar.pk == found.pk),
        None,
    )
    if row is None:
        raise Http404
    name = local_name(found)
    rows = _target_rows(row.targets, name)
    exported = _exported(request, _target_sheet(f"targets-{found.code}", name, rows))
    if exported is not None:
        return exported
    context = {
        "programme": programme,
        "programme_name": local_name(programme),
        "pillar": found,
        "name": name,
        "rows": rows,
        "counts": _status_counts(row.by_status),
        "achieved": row.by_status.get(Status.ACHIEVED, 0),
        "total": len(rows),
        "status_chart": _status_chart(_("Targets by status"), row.by_status, "status"),
        "chart": _progress_chart(name, rows, "progress") if rows else None,
        "exports": _export_links(request),
    }
    return render(request, "monitoring/pillar.html", context)


# --- a target --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorRow:
    indicator: Indicator
    name: str
    latest: Decimal | None
    latest_date: date | None
    reportable: bool


@dataclass(frozen=True)
class TaskRow:
    task: Task
    overdue: bool


@dataclass(frozen=True)
class ReportedRow:
    reported: ReportedValue
    indicator_name: str
    evidence_url: str


@require_GET
@dashboard_view
def target(request: HttpRequest, code: str) -> HttpResponse:
    """The primary indicator's daily values with the target line and the forecast, the table
    behind the chart, the other indicators, the tasks and the reported values."""
    detail = selectors.target_detail(target=selectors.target_get(code=code))
    found = detail.target
    name = local_name(found)
    today = timezone.localdate()
    agencies = selectors.reporting_agencies(request.user)
    office = found.pillar.programme.agency_id
    indicator_rows = []
    for indicator in detail.indicators:
        known = [(d, v) for d, v in detail.series.get(indicator.pk, []) if v is not None]
        indicator_rows.append(
            IndicatorRow(
                indicator,
                local_name(indicator),
                known[-1][1] if known else None,
                known[-1][0] if known else None,
                indicator.kind == Indicator.Kind.REPORTED and indicator.agency_id in agencies,
            )
        )
    primary = detail.indicators[0] if detail.indicators else None
    chart = None
    if primary is not None:
        forecast = (
            (found.deadline, found.forecast_value) if found.forecast_value is not None else None
        )
        chart = charts.line_chart(
            title=_("{indicator}: daily values").format(indicator=local_name(primary)),
            points=detail.series.get(primary.pk, []),
            unit=found.unit,
            target=found.target_value,
            forecast=forecast,
            ident="series",
            value_label=_("Value ({unit})").format(unit=primary.unit or found.unit),
        )
    tasks = [TaskRow(t, t.state == Task.State.OPEN and t.due < today) for t in detail.tasks]
    names = {i.pk: local_name(i) for i in detail.indicators}
    reported = [
        ReportedRow(
            r,
            names.get(r.indicator_id, ""),
            reverse("monitoring:evidence", args=[r.pk])
            if r.evidence and selectors.reported_value_open(r, agencies=agencies, office=office)
            else "",
        )
        for r in detail.reported
        # Values waiting or returned (with the reviewer's note) are the agency's and the
        # office's business, as in the API; everyone with the dashboard sees approved ones.
        if r.state == ReportedValue.State.APPROVED
        or selectors.reported_value_open(r, agencies=agencies, office=office)
    ]
    context = {
        "target": found,
        "name": name,
        "pillar_name": local_name(found.pillar),
        "status_label": status_label(found.status),
        "progress": progress(found),
        "chart": chart,
        "primary": primary,
        "indicators": indicator_rows,
        "tasks": tasks,
        "reported": reported,
        "agency_name": local_name(found.agency),
    }
    return render(request, "monitoring/target.html", context)


# --- the Decision 766 ranking ----------------------------------------------------------------


def _ranking(start: date, end: date, group: str, order: str) -> list[Any]:
    key = f"monitoring:ranking:{start}:{end}:{group}:{order}:{get_language()}"
    hit = cache.get(key)
    if hit is None:
        hit = selectors.ranking(start=start, end=end, group=group, order=order)
        cache.set(key, hit, CACHE_SECONDS)
    return hit


@require_GET
@dashboard_view
def ranking(request: HttpRequest) -> HttpResponse:
    """Agencies or wards ranked by their service score or on-time rate over a month, a quarter
    or a year (Decision 766/QĐ-TTg), from the dossiers' service index aggregates."""
    form = RankingForm(request.GET or None)
    period, start, end = form.bounds()
    values = form.values()
    group = values.get("group") or "agency"
    order = values.get("order") or "score"
    rows = _ranking(start, end, group, order)
    name_header = _("Ward or commune") if group == "unit" else _("Agency")
    columns = [
        _("Rank"),
        _("Code"),
        name_header,
        _("Service score"),
        _("On-time rate (%)"),
        _("Online rate (%)"),
        _("Digitisation rate (%)"),
        _("Satisfaction (0–100)"),
        _("Dossiers received"),
        _("Settled on time"),
        _("Settled late"),
    ]
    sheet = Sheet(f"ranking-{group}-{start:%Y%m%d}-{end:%Y%m%d}", _("Ranking"), columns)
    for r in rows:
        f = r.figures
        sheet.rows.append(
            [
                r.rank or None,
                r.code,
                r.label,
                r.score,
                f.on_time_rate,
                f.online_rate,
                f.digitisation_rate,
                f.satisfaction,
                f.received,
                f.settled_on_time,
                f.settled_late,
            ]
        )
    exported = _exported(request, sheet)
    if exported is not None:
        return exported
    measure = _("Service score") if order == "score" else _("On-time rate (%)")
    ranked = [r for r in rows if r.rank][:CHART_BARS]
    bars = [
        Bar(
            label=_("{rank}. {name}").format(rank=r.rank, name=r.label),
            value=r.score if order == "score" else r.figures.on_time_rate,
        )
        for r in ranked
    ]
    chart = charts.bar_chart(
        title=_("The first {count} by {measure}").format(count=len(bars), measure=measure),
        bars=bars,
        max_value=100,
        ident="ranking",
        label_header=name_header,
        value_header=measure,
        description=_(
            "The {count} best ranked by {measure}, from {start} to {end}; every row is in the "
            "table after the chart."
        ).format(
            count=len(bars),
            measure=measure,
            start=charts.short_date(start),
            end=charts.short_date(end),
        ),
    )
    context = {
        "form": form,
        "period": period,
        "start": start,
        "end": end,
        "group": group,
        "order": order,
        "rows": rows,
        "chart": chart,
        "name_header": name_header,
        "exports": _export_links(request),
    }
    return render(request, "monitoring/ranking.html", context)


# --- the wards -------------------------------------------------------------------------------

GOOD, FAIR = 90.0, 70.0


@dataclass(frozen=True)
class HeatCell:
    value: float | None
    band: str  # good, fair, poor, none

    @property
    def band_label(self) -> str:
        return {
            "good": _("good"),
            "fair": _("fair"),
            "poor": _("poor"),
        }.get(self.band, _("no data"))


@dataclass(frozen=True)
class HeatRow:
    code: str
    name: str
    received: int
    reports: int
    cells: list[HeatCell]


def _cell(value: float | None) -> HeatCell:
    if value is None:
        return HeatCell(None, "none")
    return HeatCell(value, "good" if value >= GOOD else "fair" if value >= FAIR else "poor")


def ward_heat(start: date, end: date) -> list[HeatRow]:
    """Every ward of the city with its dossiers' on-time and online rates (the service index,
    grouped by ward in one aggregate query) and the share of residents' reports resolved on
    time by its People's Committee (the feedback statistics, one grouped query)."""
    from thudo.dossiers.index import service_index_rows
    from thudo.feedback.stats import feedback_statistics

    key = f"monitoring:wards:{start}:{end}"
    hit = cache.get(key)
    if hit is not None:
        return list(hit)
    index_rows = service_index_rows(start=start, end=end, group="unit", include_empty=True)
    since, until = _bounds(start, end)
    stats = feedback_statistics(start=since, end=until)
    agency_ids = {s.agency_id for s in stats if s.agency_id is not None}
    unit_of = dict(Agency.objects.filter(pk__in=agency_ids).values_list("pk", "admin_unit_id"))
    resolved: dict[int, list[int]] = {}
    for s in stats:
        unit = unit_of.get(s.agency_id) if s.agency_id is not None else None
        if unit is None:
            continue
        counts = resolved.setdefault(unit, [0, 0, 0])
        counts[0] += s.resolved_on_time
        counts[1] += s.resolved_late
        counts[2] += s.received
    rows = []
    for r in index_rows:
        on_time, late, received = resolved.get(r.key, [0, 0, 0])
        settled = on_time + late
        rate = round(100 * on_time / settled, 1) if settled else None
        rows.append(
            HeatRow(
                r.code,
                r.name,
                r.figures.received,
                received,
                [_cell(r.figures.on_time_rate), _cell(r.figures.online_rate), _cell(rate)],
            )
        )
    cache.set(key, rows, CACHE_SECONDS)
    return rows


@require_GET
@dashboard_view
def wards(request: HttpRequest) -> HttpResponse:
    """A heat table: wards × (dossiers settled on time, dossiers online, reports resolved on
    time), each cell coloured by band with its number written in it."""
    form = PeriodForm(request.GET or None)
    period, start, end = form.bounds()
    rows = ward_heat(start, end)
    measures = [
        _("Dossiers settled on time (%)"),
        _("Dossiers online (%)"),
        _("Reports resolved on time (%)"),
    ]
    sheet = Sheet(
        f"wards-{start:%Y%m%d}-{end:%Y%m%d}",
        _("Wards and communes"),
        [_("Code"), _("Ward or commune"), *measures, _("Dossiers received"), _("Reports received")],
    )
    for row in rows:
        sheet.rows.append(
            [row.code, row.name, *[c.value for c in row.cells], row.received, row.reports]
        )
    exported = _exported(request, sheet)
    if exported is not None:
        return exported
    context = {
        "form": form,
        "period": period,
        "start": start,
        "end": end,
        "rows": rows,
        "measures": measures,
        "good": GOOD,
        "fair": FAIR,
        "exports": _export_links(request),
    }
    return render(request, "monitoring/wards.html", context)


@require_GET
@dashboard_view
def ward(request: HttpRequest, code: str) -> HttpResponse:
    """One ward: its dossier figures and the reports its People's Committee handled."""
    form = PeriodForm(request.GET or None)
    period, start, end = form.bounds()
    key = f"monitoring:ward:{code}:{start}:{end}"
    drill = cache.get(key)
    if drill is None:
        drill = selectors.ward_drilldown(unit_code=code, start=start, end=end)
        cache.set(key, drill, CACHE_SECONDS)
    figures, feedback = drill.figures, drill.feedback
    resolved = (
        round(100 * feedback.resolved_on_time_rate, 1)
        if feedback is not None and feedback.resolved_on_time_rate is not None
        else None
    )
    satisfied = (
        round(100 * feedback.satisfaction_rate, 1)
        if feedback is not None and feedback.satisfaction_rate is not None
        else None
    )
    bars = [
        Bar(_("Dossiers settled on time"), figures.on_time_rate),
        Bar(_("Dossiers submitted online"), figures.online_rate),
        Bar(_("Dossiers digitised"), figures.digitisation_rate),
        Bar(
            _("Applicants' satisfaction (0–100)"),
            figures.satisfaction,
            text=charts.number(figures.satisfaction, 1) if figures.satisfaction is not None else "",
        ),
        Bar(_("Reports resolved on time"), resolved),
        Bar(_("Residents satisfied with the answer"), satisfied),
    ]
    chart = charts.bar_chart(
        title=_("{ward}: rates").format(ward=drill.unit.name),
        bars=bars,
        unit="%",
        max_value=100,
        ident="ward",
        label_header=_("Measure"),
        value_header=_("Rate (%)"),
    )
    context = {
        "form": form,
        "period": period,
        "start": start,
        "end": end,
        "unit": drill.unit,
        "agency": drill.agency,
        "agency_name": local_name(drill.agency) if drill.agency else "",
        "figures": figures,
        "feedback": feedback,
        "feedback_rows": drill.feedback_rows,
        "resolved": resolved,
        "chart": chart,
    }
    return render(request, "monitoring/ward.html", context)


# --- overdue work ----------------------------------------------------------------------------


@require_GET
@dashboard_view
def overdue(request: HttpRequest) -> HttpResponse:
    """Per agency: its tasks past their deadline and its reports past their due date."""
    today = timezone.localdate()
    rows = selectors.overdue_by_agency(today=today)
    sheet = Sheet(
        f"overdue-{today:%Y%m%d}",
        _("Overdue work"),
        [_("Agency code"), _("Agency"), _("Kind"), _("What"), _("Due"), _("Days late")],
    )
    for row in rows:
        agency = local_name(row.agency)
        for task in row.tasks:
            sheet.rows.append(
                [row.agency.code, agency, _("Task"), task.title, task.due, (today - task.due).days]
            )
        for item in row.reports:
            sheet.rows.append(
                [
                    row.agency.code,
                    agency,
                    _("Indicator report"),
                    _("{indicator}, {period}").format(
                        indicator=local_name(item.indicator), period=str(item.period)
                    ),
                    item.period.due,
                    (today - item.period.due).days,
                ]
            )
    exported = _exported(request, sheet)
    if exported is not None:
        return exported
    context = {
        "rows": [
            {
                "agency": r.agency,
                "name": local_name(r.agency),
                "tasks": r.tasks,
                "reports": [
                    {"name": local_name(m.indicator), "period": m.period} for m in r.reports
                ],
                "total": r.total,
            }
            for r in rows
        ],
        "today": today,
        "tasks_total": sum(len(r.tasks) for r in rows),
        "reports_total": sum(len(r.reports) for r in rows),
        "exports": _export_links(request),
    }
    return render(request, "monitoring/overdue.html", context)


# --- reporting -------------------------------------------------------------------------------


@require_GET
@reporting_view
def report(request: HttpRequest) -> HttpResponse:
    """The reported indicators of the user's agencies with their open periods, and the values
    the agencies submitted (returned ones with the reviewer's note)."""
    today = timezone.localdate()
    reportable = list(selectors.reportable_for(user=request.user))
    periods = selectors.periods_open_by_indicator(indicators=reportable, today=today)
    indicators = [
        {
            "indicator": indicator,
            "name": local_name(indicator),
            "target_name": local_name(indicator.target),
            "agency_name": local_name(indicator.agency),
            "periods": periods[indicator.pk],
        }
        for indicator in reportable
    ]
    submitted = list(selectors.reported_of(user=request.user).order_by("-submitted_at", "-pk")[:50])
    context = {
        "indicators": indicators,
        "submitted": [
            {
                "reported": r,
                "name": local_name(r.indicator),
                "evidence_url": reverse("monitoring:evidence", args=[r.pk]) if r.evidence else "",
            }
            for r in submitted
        ],
    }
    return render(request, "monitoring/report.html", context)


def _reportable(request: HttpRequest, code: str) -> Indicator:
    indicator = (
        Indicator.objects.filter(code=code, kind=Indicator.Kind.REPORTED)
        .select_related("target", "target__pillar", "agency")
        .first()
    )
    if indicator is None:
        raise Http404
    if not selectors.reportable_for(user=request.user).filter(pk=indicator.pk).exists():
        raise DjangoPermissionDenied(_("This is not one of your agency's indicators."))
    return indicator


@require_http_methods(["GET", "POST"])
@reporting_view
def report_form(request: HttpRequest, code: str) -> HttpResponse:
    """Submit a value for an indicator: period, value, unit, evidence, explanation. The
    service judges everything; its refusals land on the fields they concern."""
    indicator = _reportable(request, code)
    open_periods = list(selectors.periods_open(indicator=indicator))
    status = 200
    if request.method == "POST":
        form = ReportForm(
            request.POST, request.FILES, indicator=indicator, open_periods=open_periods
        )
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.reported_value_submit(
                    user=request.user,
                    indicator=indicator,
                    period=data["period"],
                    value=data["value"],
                    unit=data["unit"],
                    evidence=data.get("evidence"),
                    note=data.get("note") or "",
                )
            except ValidationFailed as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(
                    request, _("The value was sent to the monitoring office for approval.")
                )
                return redirect("monitoring:report")
        status = 422
    else:
        form = ReportForm(indicator=indicator, open_periods=open_periods)
    context = {
        "indicator": indicator,
        "name": local_name(indicator),
        "target_name": local_name(indicator.target),
        "form": form,
        "errors": error_summary(form),
        "open_periods": open_periods,
    }
    return render(request, "monitoring/report_form.html", context, status=status)


def _review_rows(
    request: HttpRequest, failed: tuple[int, str, NoteForm] | None = None
) -> list[dict[str, Any]]:
    rows = []
    for reported in selectors.reported_for_review(user=request.user):
        forms_ = {}
        for action in ("approve", "reject"):
            if failed and failed[0] == reported.pk and failed[1] == action:
                forms_[action] = failed[2]
            else:
                forms_[action] = NoteForm(auto_id=f"id_{action}_{reported.pk}_%s")
        rows.append(
            {
                "reported": reported,
                "name": local_name(reported.indicator),
                "target_name": local_name(reported.indicator.target),
                "agency_name": local_name(reported.indicator.agency),
                "evidence_url": reverse("monitoring:evidence", args=[reported.pk])
                if reported.evidence
                else "",
                "approve": forms_["approve"],
                "reject": forms_["reject"],
            }
        )
    return rows


@require_GET
@reporting_view
def review(request: HttpRequest) -> HttpResponse:
    """The values waiting for the monitoring office's approval, with their evidence."""
    rows = _review_rows(request)
    return render(request, "monitoring/review.html", {"rows": rows, "errors": []})


@require_POST
@reporting_view
def review_decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Approve or return a reported value (a note is required to return it)."""
    reported = selectors.reported_for_review(user=request.user).filter(pk=pk).first()
    if reported is None:
        raise Http404
    form = NoteForm(request.POST, auto_id=f"id_{action}_{pk}_%s")
    if form.is_valid():
        note = form.cleaned_data.get("note") or ""
        try:
            if action == "approve":
                services.reported_value_approve(user=request.user, reported=reported, note=note)
                messages.success(request, _("The value was approved."))
            else:
                services.reported_value_reject(user=request.user, reported=reported, note=note)
                messages.success(request, _("The value was returned to the agency."))
        except ValidationFailed as exc:
            apply_domain_error(form, exc)
        except InvalidTransition as exc:
            messages.error(request, str(exc.message))
            return render(
                request,
                "monitoring/review.html",
                {"rows": _review_rows(request), "errors": []},
                status=409,
            )
        else:
            return redirect("monitoring:review")
    rows = _review_rows(request, (pk, action, form))
    return render(
        request,
        "monitoring/review.html",
        {"rows": rows, "errors": error_summary(form)},
        status=422,
    )


@require_GET
@official_files
def evidence(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A reported value's evidence, for the submitting agency and the monitoring office."""
    reported = (
        ReportedValue.objects.filter(pk=pk)
        .select_related("indicator", "indicator__target__pillar__programme")
        .first()
    )
    if reported is None or not reported.evidence:
        raise Http404
    agencies = selectors.reporting_agencies(request.user)
    office = reported.indicator.target.pillar.programme.agency_id
    if not selectors.reported_value_open(reported, agencies=agencies, office=office):
        raise DjangoPermissionDenied
    try:
        handle = reported.evidence.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    name = reported.evidence_name or reported.evidence.name.rsplit("/", 1)[-1]
    content_type = mimetypes.guess_type(reported.evidence.name)[0] or "application/octet-stream"
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- DTI -------------------------------------------------------------------------------------


def _dti_years() -> list[int]:
    """The years that have DTI components, newest first."""
    return sorted(set(DtiComponent.objects.values_list("year", flat=True).distinct()), reverse=True)


def _dti_default_year(years: list[int]) -> int:
    """This year when it has components, else the latest year before it that has."""
    this_year = timezone.localdate().year
    earlier = [y for y in years if y <= this_year]
    return this_year if this_year in years or not earlier else earlier[0]


def _office_of(programme: Programme | None, request: HttpRequest) -> bool:
    return programme is not None and can(request.user, Perm.MONITORING_REPORT, programme.agency)


def _dti_context(
    request: HttpRequest, year: int, failed: tuple[int, DtiPointsForm] | None = None
) -> dict[str, Any]:
    scores = selectors.dti_scores(year=year)
    editable = _office_of(selectors.programme_current(), request)
    groups = []
    for group in scores.groups:
        components = []
        for c in group.components:
            form = None
            if editable and c.indicator_id is None:
                if failed and failed[0] == c.pk:
                    form = failed[1]
                else:
                    form = DtiPointsForm(initial={"points": c.points}, auto_id=f"id_dti_{c.pk}_%s")
            components.append({"component": c, "name": local_name(c), "form": form})
        groups.append({"group": group, "components": components})
    bars = [
        Bar(
            label=g.label,
            value=float(100 * g.points / g.max_points) if g.max_points else None,
            text=_("{points} of {max} points").format(
                points=charts.number(g.points), max=charts.number(g.max_points)
            ),
            extra=[charts.number(g.points), charts.number(g.max_points)],
        )
        for g in scores.groups
        if g.components
    ]
    chart = charts.bar_chart(
        title=_("DTI {year}: points by pillar").format(year=year),
        bars=bars,
        max_value=100,
        ident="dti",
        label_header=_("Pillar"),
        value_header=_("Share of the maximum (%)"),
        extra_headers=[_("Points"), _("Maximum points")],
        description=_("Total: {total} of {max} points.").format(
            total=charts.number(scores.total), max=charts.number(scores.max_total)
        ),
    )
    return {
        "year": year,
        "scores": scores,
        "groups": groups,
        "editable": editable,
        "chart": chart,
    }


@require_GET
@dashboard_view
def dti(request: HttpRequest) -> HttpResponse:
    """The provincial DTI self-assessment of a year: components by group, each group's sum and
    the total of 1,000; the monitoring office enters the points of the components that are not
    computed from an indicator."""
    years = _dti_years()
    form = YearForm(request.GET or None)
    year = form.year_value(default=_dti_default_year(years))
    if not form.is_bound:
        form = YearForm(initial={"year": year})
    context = _dti_context(request, year)
    context["years"] = years
    scores = context["scores"]
    sheet = Sheet(
        f"dti-{year}",
        _("DTI {year}").format(year=year),
        [
            _("Pillar"),
            _("Code"),
            _("Component"),
            _("Points"),
            _("Maximum points"),
            _("Computed from"),
        ],
    )
    for group in scores.groups:
        for c in group.components:
            sheet.rows.append(
                [
                    group.label,
                    c.code,
                    local_name(c),
                    c.points,
                    c.max_points,
                    c.indicator.code if c.indicator_id else "",
                ]
            )
        sheet.rows.append(
            [group.label, "", _("Total of the pillar"), group.points, group.max_points, ""]
        )
    sheet.rows.append(["", "", _("Total"), scores.total, scores.max_total, ""])
    exported = _exported(request, sheet)
    if exported is not None:
        return exported
    context.update({"form": form, "exports": _export_links(request), "errors": []})
    return render(request, "monitoring/dti.html", context)


@require_POST
@reporting_view
def dti_set(request: HttpRequest, pk: int) -> HttpResponse:
    component = DtiComponent.objects.filter(pk=pk).first()
    if component is None:
        raise Http404
    form = DtiPointsForm(request.POST, auto_id=f"id_dti_{pk}_%s")
    if form.is_valid():
        try:
            services.dti_component_set(
                user=request.user, component=component, points=form.cleaned_data["points"]
            )
        except ValidationFailed as exc:
            apply_domain_error(form, exc)
        else:
            messages.success(request, _("The points were saved."))
            return redirect(f"{reverse('monitoring:dti')}?year={component.year}")
    context = _dti_context(request, component.year, (pk, form))
    context.update(
        {
            "form": YearForm(initial={"year": component.year}),
            "years": _dti_years(),
            "exports": [],
            "errors": error_summary(form),
        }
    )
    return render(request, "monitoring/dti.html", context, status=422)


# --- the monthly report ----------------------------------------------------------------------


@require_GET
@dashboard_view
def monthly_pdf(request: HttpRequest) -> HttpResponse:
    """The monthly report for the People's Committee as a PDF (?month=YYYY-MM)."""
    form = MonthForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            "; ".join(str(e) for e in form.errors.get("month", [])),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    month = form.first_day()
    programme = selectors.programme_current()
    if programme is None:
        raise Http404
    from . import exports

    try:
        body = exports.monthly_report_pdf(programme=programme, month=month)
    except ValidationFailed as exc:
        return HttpResponse(
            " ".join(" ".join(v) for v in exc.as_dict()["fields"].values()) or str(exc.message),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="monitoring-{programme.code}-{month:%Y-%m}.pdf"'
    )
    return response
