"""The monitoring API (mounted at /api/monitoring/): the programme tree with each indicator's
latest snapshot, a target with its series, an indicator's snapshots, the headline, and the
reported values — read, and submitted by the responsible agencies.

Authentication: a system token, or the page session of an official who has passed the second
factor. Reads need Perm.DASHBOARD_VIEW (leaders, monitoring officers, auditors); submitting a
value needs Perm.MONITORING_REPORT in the indicator's agency (the service checks it). Reported
values: approved ones are visible to every dashboard reader; those waiting or returned only to
the reporting agency and to the programme's monitoring office. Errors share the API's body
`{code, message, fields}`: 401, 403 `permission_denied`, 404 `not_found`, 422
`validation_failed` with the fields by name (`indicator`, `period`, `value`, `unit`,
`evidence`, `note`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Form, Query, Router, Status

from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import Perm
from thudo.api.auth import SessionAuth, token_auth
from thudo.core.errors import NotFound, PermissionDenied, ValidationFailed

from . import selectors, services
from .models import (
    Indicator,
    Pillar,
    Programme,
    ReportedValue,
    ReportingPeriod,
    Snapshot,
    Target,
    Task,
)
from .schemas import (
    HeadlineOut,
    IndicatorOut,
    PeriodOut,
    PillarOut,
    PointOut,
    ProgrammeOut,
    ReportedOut,
    ReportedPageOut,
    SeriesOut,
    SnapshotOut,
    TargetDetailOut,
    TargetOut,
    TaskOut,
)

PAGE_DEFAULT = 50
PAGE_MAX = 200
DAYS_MAX = 366 * 5

MSG_INDICATOR = _("There is no reported indicator with this code.")
MSG_PERIOD = _("There is no reporting period with this number.")
MSG_REQUIRED = _("This field is required.")
MSG_FILE_PART = _("Only one file, named evidence, may be attached.")


class VerifiedSessionAuth(SessionAuth):
    """The page session, for officials only once they passed the second factor."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None:
            return None
        if getattr(user, "is_official", False) and not user.is_verified():
            return None
        return user


router = Router(tags=["monitoring"], auth=[token_auth, VerifiedSessionAuth()])


def _require(request: HttpRequest, permission: str) -> None:
    if not can(request.user, permission):
        raise PermissionDenied()


def _number(value: Any) -> float | None:
    return float(value) if value is not None else None


# --- building the answers ----------------------------------------------------------------------


def _snapshot_out(s: Snapshot) -> SnapshotOut:
    return SnapshotOut(
        date=s.date,
        value=_number(s.value),
        status=s.status,
        forecast_value=_number(s.forecast_value),
    )


def _latest_snapshots(indicator_ids: list[int]) -> dict[int, Snapshot]:
    """Each indicator's newest snapshot, in one query."""
    if not indicator_ids:
        return {}
    newest = (
        Snapshot.objects.filter(indicator=OuterRef("indicator")).order_by("-date").values("date")
    )
    return {
        s.indicator_id: s
        for s in Snapshot.objects.filter(indicator_id__in=indicator_ids, date=Subquery(newest[:1]))
    }


def _indicator_out(i: Indicator, latest: Snapshot | None) -> IndicatorOut:
    return IndicatorOut(
        code=i.code,
        name=i.name,
        name_en=i.name_en,
        kind=i.kind,
        source=i.source,
        unit=i.unit,
        frequency=i.frequency,
        evidence_required=i.evidence_required,
        min_value=_number(i.min_value),
        max_value=_number(i.max_value),
        agency=i.agency.code,
        is_primary=i.is_primary,
        latest=_snapshot_out(latest) if latest is not None else None,
    )


def _target_fields(t: Target, indicators: list[IndicatorOut]) -> dict[str, Any]:
    return {
        "code": t.code,
        "name": t.name,
        "name_en": t.name_en,
        "description": t.description,
        "unit": t.unit,
        "direction": t.direction,
        "baseline": _number(t.baseline),
        "baseline_date": t.baseline_date,
        "target_value": float(t.target_value),
        "deadline": t.deadline,
        "agency": t.agency.code,
        "agency_name": t.agency.name,
        "status": t.status,
        "status_label": str(t.get_status_display()),
        "current_value": _number(t.current_value),
        "forecast_value": _number(t.forecast_value),
        "evaluated_at": t.evaluated_at,
        "indicators": indicators,
    }


def _period_out(p: ReportingPeriod) -> PeriodOut:
    return PeriodOut(id=p.pk, frequency=p.frequency, start=p.start, end=p.end, due=p.due)


def _person(user: Any) -> str | None:
    if user is None:
        return None
    return str(getattr(user, "full_name", "") or user.get_username())


def _reported_out(r: ReportedValue) -> ReportedOut:
    return ReportedOut(
        id=r.pk,
        indicator=r.indicator.code,
        target=r.indicator.target.code,
        agency=r.indicator.agency.code,
        period=_period_out(r.period),
        value=float(r.value),
        unit=r.indicator.unit,
        note=r.note,
        state=r.state,
        state_label=str(r.get_state_display()),
        evidence_name=r.evidence_name,
        submitted_by=_person(r.submitted_by) or "",
        submitted_at=r.submitted_at,
        reviewed_by=_person(r.reviewed_by),
        reviewed_at=r.reviewed_at,
        review_note=r.review_note,
    )


def _task_out(t: Task, today: date) -> TaskOut:
    return TaskOut(
        id=t.pk,
        title=t.title,
        agency=t.agency.code,
        owner=_person(t.owner),
        due=t.due,
        state=t.state,
        done_at=t.done_at,
        overdue=t.state == Task.State.OPEN and t.due < today,
    )


# --- reads -------------------------------------------------------------------------------------


@router.get(
    "/programmes",
    response=list[ProgrammeOut],
    url_name="monitoring_programmes",
    summary="Every programme: pillars → targets → indicators with their latest snapshot",
)
def programmes(request: HttpRequest) -> list[ProgrammeOut]:
    _require(request, Perm.DASHBOARD_VIEW)
    progs = list(Programme.objects.select_related("agency", "parent").order_by("start", "code"))
    pillars = list(Pillar.objects.filter(programme__in=progs).order_by("order", "code"))
    targets = list(
        Target.objects.filter(pillar__in=pillars).select_related("agency").order_by("order", "code")
    )
    indicators = list(
        Indicator.objects.filter(target__in=targets)
        .select_related("agency")
        .order_by("-is_primary", "order", "code")
    )
    latest = _latest_snapshots([i.pk for i in indicators])
    by_target: dict[int, list[IndicatorOut]] = defaultdict(list)
    for i in indicators:
        by_target[i.target_id].append(_indicator_out(i, latest.get(i.pk)))
    by_pillar: dict[int, list[TargetOut]] = defaultdict(list)
    for t in targets:
        by_pillar[t.pillar_id].append(TargetOut(**_target_fields(t, by_target[t.pk])))
    by_programme: dict[int, list[PillarOut]] = defaultdict(list)
    for p in pillars:
        by_programme[p.programme_id].append(
            PillarOut(code=p.code, name=p.name, name_en=p.name_en, targets=by_pillar[p.pk])
        )
    return [
        ProgrammeOut(
            code=prog.code,
            name=prog.name,
            name_en=prog.name_en,
            legal_basis=prog.legal_basis,
            parent=prog.parent.code if prog.parent else None,
            start=prog.start,
            end=prog.end,
            monitoring_office=prog.agency.code,
            pillars=by_programme[prog.pk],
        )
        for prog in progs
    ]


@router.get(
    "/headline",
    response=HeadlineOut,
    url_name="monitoring_headline",
    summary='"X of Y targets achieved" for the current programme, with the count per status',
)
def headline(request: HttpRequest) -> HeadlineOut:
    _require(request, Perm.DASHBOARD_VIEW)
    programme = selectors.programme_current()
    if programme is None:
        raise NotFound(code="no_programme")
    result = selectors.headline(programme=programme)
    return HeadlineOut(
        programme=programme.code,
        achieved=result.achieved,
        total=result.total,
        by_status=result.by_status,
        text=result.text,
    )


@router.get(
    "/targets/{code}",
    response=TargetDetailOut,
    url_name="monitoring_target",
    summary="One target: its indicators with their daily series, tasks and reported values",
)
def target(
    request: HttpRequest,
    code: str,
    days: int = Query(365, ge=1, le=DAYS_MAX),  # type: ignore[type-arg]
) -> TargetDetailOut:
    _require(request, Perm.DASHBOARD_VIEW)
    found = selectors.target_get(code=code)
    detail = selectors.target_detail(target=found, days=days)
    latest = _latest_snapshots([i.pk for i in detail.indicators])
    visible = set(
        selectors.reported_visible(request.user)
        .filter(pk__in=[r.pk for r in detail.reported])
        .values_list("pk", flat=True)
    )
    today = timezone.localdate()
    return TargetDetailOut(
        **_target_fields(found, [_indicator_out(i, latest.get(i.pk)) for i in detail.indicators]),
        pillar=found.pillar.code,
        programme=found.pillar.programme.code,
        series=[
            SeriesOut(
                indicator=i.code,
                points=[
                    PointOut(date=day, value=_number(value))
                    for day, value in detail.series.get(i.pk, [])
                ],
            )
            for i in detail.indicators
        ],
        tasks=[_task_out(t, today) for t in detail.tasks],
        reported=[_reported_out(r) for r in detail.reported if r.pk in visible],
    )


@router.get(
    "/indicators/{code}/snapshots",
    response=list[SnapshotOut],
    url_name="monitoring_snapshots",
    summary="An indicator's daily snapshots (oldest first) over the last `days` days",
)
def snapshots(
    request: HttpRequest,
    code: str,
    days: int = Query(365, ge=1, le=DAYS_MAX),  # type: ignore[type-arg]
) -> list[SnapshotOut]:
    _require(request, Perm.DASHBOARD_VIEW)
    indicator = Indicator.objects.filter(code=code).first()
    if indicator is None:
        raise NotFound()
    today = timezone.localdate()
    return [
        _snapshot_out(s)
        for s in Snapshot.objects.filter(
            indicator=indicator, date__gt=today - timedelta(days=days), date__lte=today
        ).order_by("date")
    ]


@router.get(
    "/reported",
    response=ReportedPageOut,
    url_name="monitoring_reported",
    summary="Reported values visible to the caller, newest first",
    description=(
        "Filters: `state` (submitted, approved, rejected), `indicator` (code), `agency` "
        "(code of the reporting agency), `mine=true` (the caller's agencies only)."
    ),
)
def reported(
    request: HttpRequest,
    state: str | None = None,
    indicator: str | None = None,
    agency: str | None = None,
    mine: bool = False,
    limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX),  # type: ignore[type-arg]
    offset: int = Query(0, ge=0),  # type: ignore[type-arg]
) -> ReportedPageOut:
    _require(request, Perm.DASHBOARD_VIEW)
    qs = selectors.reported_visible(request.user)
    if state:
        if state not in ReportedValue.State.values:
            raise ValidationFailed(fields={"state": _("Unknown state.")})
        qs = qs.filter(state=state)
    if indicator:
        qs = qs.filter(indicator__code=indicator)
    if agency:
        qs = qs.filter(indicator__agency__code=agency)
    if mine:
        qs = qs.filter(
            indicator__agency_id__in=agencies_where(request.user, Perm.MONITORING_REPORT)
        )
    qs = qs.order_by("-submitted_at", "-pk")
    return ReportedPageOut(
        count=qs.count(), items=[_reported_out(r) for r in qs[offset : offset + limit]]
    )


# --- submitting --------------------------------------------------------------------------------


@router.post(
    "/reported",
    response={201: ReportedOut},
    url_name="monitoring_report_submit",
    summary="Report an indicator's value for a period (multipart, evidence in `evidence`)",
    description=(
        "Form fields: `indicator` (code of a reported indicator of the caller's agency), "
        "`period` (the id of an open reporting period of the indicator's frequency), `value`, "
        "`unit` (the indicator's), `note`; the file part `evidence` (PDF, JPEG, PNG or XLSX, "
        "at most 10 MB) when the indicator requires evidence. The value waits for the "
        "monitoring office's approval."
    ),
)
def report_submit(
    request: HttpRequest,
    indicator: Form[str] = "",
    period: Form[str] = "",
    value: Form[str] = "",
    unit: Form[str] = "",
    note: Form[str] = "",
) -> Status:
    _require(request, Perm.MONITORING_REPORT)
    errors: dict[str, Any] = {}
    found = (
        Indicator.objects.filter(code=indicator.strip(), kind=Indicator.Kind.REPORTED)
        .select_related("agency", "target__pillar__programme")
        .first()
        if indicator.strip()
        else None
    )
    if found is None:
        errors["indicator"] = MSG_INDICATOR if indicator.strip() else MSG_REQUIRED
    chosen = None
    if period.strip():
        number = period.strip()
        # ASCII digits that fit a database integer ("²" is a digit to isdigit, not to int).
        chosen = (
            ReportingPeriod.objects.filter(pk=int(number)).first()
            if number.isascii() and number.isdigit() and len(number) <= 18
            else None
        )
        if chosen is None:
            errors["period"] = MSG_PERIOD
    else:
        errors["period"] = MSG_REQUIRED
    if not value.strip():
        errors["value"] = MSG_REQUIRED
    extra = [name for name in request.FILES if name != "evidence"]
    if extra or len(request.FILES.getlist("evidence")) > 1:
        for name in extra or ["evidence"]:
            errors[name] = MSG_FILE_PART
    if errors:
        raise ValidationFailed(fields=errors)
    assert found is not None and chosen is not None
    created = services.reported_value_submit(
        user=request.user,
        indicator=found,
        period=chosen,
        value=value,
        unit=unit,
        evidence=request.FILES.get("evidence"),
        note=note,
    )
    created = selectors.reported_visible(request.user).get(pk=created.pk)
    return Status(201, _reported_out(created))
