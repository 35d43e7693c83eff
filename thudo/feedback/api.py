"""The feedback API for apps and other systems (mounted at /api/feedback/).

Reading is open to anyone (public reports only; a signed-in reporter, handling official or
moderator also reads the reports they may see). A new report is multipart: a `payload` part
holding the JSON of `ReportIn` and 1–5 `media` parts; the caller is signed in (page session with
CSRF, or a bearer token) as in /api/dossiers/. Errors share the API's body
`{code, message, fields}`: 422 `validation_failed` (fields: category, description, position,
unit_code, media, attribute:<code>…), 404 `not_found`, 429 `throttled` with Retry-After."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Form, Query, Router, Status
from pydantic import ValidationError as PydanticValidationError

from thudo.accounts.models import Agency
from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import Perm
from thudo.api.auth import session_auth, token_auth
from thudo.core.errors import NotFound, PermissionDenied, ValidationFailed

from . import selectors, services
from .forms import category_name, event_label, local_text
from .models import Category, Report, ReportEvent, ReportMedia
from .schemas import (
    CategoryOut,
    EventOut,
    MediaOut,
    NearbyOut,
    QuestionOut,
    QuestionValueOut,
    ReportIn,
    ReportOut,
    ReportPageOut,
    ReportSummaryOut,
    StatRowOut,
    multipart_doc,
)

router = Router(tags=["feedback"])

PAGE_DEFAULT = 50
PAGE_MAX = 200
STATS_DAYS = 30


def _anyone(request: HttpRequest) -> Any:
    """Public reading: whoever asks (after the token and the session had their say)."""
    return getattr(request, "user", None) or True


# Reading endpoints: a token or a session makes the caller known; nobody is refused.
PUBLIC = [token_auth, session_auth, _anyone]


def _user(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


# --- building the answers --------------------------------------------------------------------


def _category_out(c: Category) -> CategoryOut:
    questions = sorted(
        (q for q in c.questions or [] if isinstance(q, dict) and q.get("code")),
        key=lambda q: int(q.get("order") or 0),
    )
    return CategoryOut(
        code=c.code,
        name=category_name(c),
        description=local_text(c, "description"),
        group=c.group,
        keywords=c.keywords,
        handler=c.handler,
        default_urgency=c.default_urgency,
        notice=local_text(c, "notice"),
        redirect_phone=c.redirect_phone,
        questions=[
            QuestionOut(
                code=str(q["code"]),
                label=local_text(q, "label") or str(q["code"]),
                datatype=str(q.get("datatype") or "string"),
                required=bool(q.get("required")),
                order=int(q.get("order") or 0),
                values=[
                    QuestionValueOut(
                        key=str(v.get("key")), name=local_text(v, "name") or str(v.get("key"))
                    )
                    for v in q.get("values") or []
                    if isinstance(v, dict)
                ],
            )
            for q in questions
        ],
    )


def _summary_fields(r: Report) -> dict[str, Any]:
    return {
        "id": r.pk,
        "category": r.category.code,
        "category_name": category_name(r.category),
        "status": r.status,
        "status_label": str(r.get_status_display()),
        "description": r.description,
        "address": r.address,
        "latitude": r.latitude,
        "longitude": r.longitude,
        "ward": r.unit.code,
        "ward_name": r.unit.name,
        "agency": r.agency.code,
        "agency_name": r.agency.name,
        "urgency": r.urgency,
        "submitted_at": r.submitted_at,
        "accept_due": r.accept_due,
        "resolve_due": r.resolve_due,
        "answered_at": r.answered_at,
        "closed_at": r.closed_at,
        "url": reverse("feedback:detail", args=[r.pk]),
    }


def _summary(r: Report) -> ReportSummaryOut:
    return ReportSummaryOut(**_summary_fields(r))


def _media_out(m: ReportMedia) -> MediaOut:
    return MediaOut(
        id=m.pk,
        kind=m.kind,
        purpose=m.purpose,
        content_type=m.content_type,
        width=m.width,
        height=m.height,
        url=reverse("feedback:media", args=[m.pk]),
    )


def _event_out(e: ReportEvent, media: list[ReportMedia]) -> EventOut:
    return EventOut(
        at=e.at,
        action=e.action,
        label=event_label(e.action, e.to_status),
        status=e.to_status,
        agency=e.agency.code if e.agency_id and e.agency else "",
        note=e.note,
        media=[_media_out(m) for m in media],
    )


def _report_out(request: HttpRequest, r: Report) -> ReportOut:
    user = _user(request)
    if user is not None:
        media = list(selectors.report_media_for(user=user, report=r))
    else:
        media = list(selectors.report_media_public(report=r))
    by_event: dict[int, list[ReportMedia]] = {}
    for m in media:
        if m.event_id and m.purpose == ReportMedia.Purpose.EVIDENCE:
            by_event.setdefault(m.event_id, []).append(m)
    return ReportOut(
        **_summary_fields(r),
        reporter=selectors.reporter_label(r),
        attributes=r.attributes or {},
        visibility=r.visibility,
        level=r.level,
        answer=r.answer,
        resolution=r.resolution,
        rating=r.rating,
        satisfied=r.satisfied,
        follower_count=r.follower_count,
        media=[_media_out(m) for m in media],
        timeline=[
            _event_out(e, by_event.get(e.pk, []))
            for e in selectors.report_timeline(user=user, report=r)
        ],
    )


# --- reading ---------------------------------------------------------------------------------


@router.get(
    "/categories",
    auth=None,
    response=list[CategoryOut],
    url_name="feedback_categories",
    summary="The kinds of problem a resident can report, with their questions",
    description=(
        "A category with `redirect_phone` takes no report: the app shows the number to call."
    ),
)
def categories(request: HttpRequest) -> list[CategoryOut]:
    return [_category_out(c) for c in selectors.categories_active()]


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """`minLng,minLat,maxLng,maxLat` → (min lat, min lng, max lat, max lng)."""
    if not raw:
        return None
    message = _("Give bbox as minLng,minLat,maxLng,maxLat.")
    try:
        min_lng, min_lat, max_lng, max_lat = (float(p) for p in raw.split(","))
    except ValueError:
        raise ValidationFailed(fields={"bbox": message}) from None
    if not (
        -180 <= min_lng <= max_lng <= 180 and -90 <= min_lat <= max_lat <= 90
    ):  # also refuses NaN
        raise ValidationFailed(fields={"bbox": message})
    return min_lat, min_lng, max_lat, max_lng


def _codes(raw: str | None) -> list[str] | None:
    codes = [c.strip() for c in (raw or "").split(",") if c.strip()]
    return codes or None


@router.get(
    "/reports",
    auth=None,
    response=ReportPageOut,
    url_name="feedback_reports",
    summary="Public reports, newest first (filters: bbox, category, status, ward)",
)
def reports(
    request: HttpRequest,
    bbox: str | None = Query(  # type: ignore[assignment]
        None, description="minLng,minLat,maxLng,maxLat (as a map's bounds).", max_length=100
    ),
    category: str | None = Query(None, description="Category codes, comma-separated."),  # type: ignore[assignment]
    status: str | None = Query(None, description="Statuses, comma-separated."),  # type: ignore[assignment]
    ward: str | None = Query(None, max_length=8, description="A ward's code (5 digits)."),  # type: ignore[assignment]
    limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX),  # type: ignore[assignment]
    offset: int = Query(0, ge=0, le=1_000_000),  # type: ignore[assignment]
) -> ReportPageOut:
    found = selectors.reports_public(
        bbox=_bbox(bbox),
        category_codes=_codes(category),
        statuses=_codes(status),
        unit_code=ward or None,
        limit=None,
    )
    return ReportPageOut(
        count=found.count(), items=[_summary(r) for r in found[offset : offset + limit]]
    )


@router.get(
    "/reports/{int:report_id}",
    auth=PUBLIC,
    response=ReportOut,
    url_name="feedback_report",
    summary="One report with its photos, answer and public timeline",
    description=(
        "Anyone reads a public report. Its reporter, the handling units and moderators also "
        "read a hidden one, its videos and (officials) its internal events."
    ),
)
def report_get(request: HttpRequest, report_id: int) -> ReportOut:
    user = _user(request)
    if user is not None:
        report = selectors.report_get_for(user=user, report_id=report_id)
    else:
        report = selectors.report_public_get(report_id=report_id)
    return _report_out(request, report)


@router.get(
    "/nearby",
    auth=None,
    response=list[NearbyOut],
    url_name="feedback_nearby",
    summary="Open public reports of a category near a point, nearest first",
    description="For the app to offer following a similar report before sending a new one.",
)
def nearby(
    request: HttpRequest,
    category: str,
    lat: float = Query(..., ge=-90, le=90),  # type: ignore[assignment]
    lng: float = Query(..., ge=-180, le=180),  # type: ignore[assignment]
    radius_m: float = Query(250, gt=0, le=1000),  # type: ignore[assignment]
) -> list[NearbyOut]:
    try:
        found = selectors.category_get(code=category)
    except NotFound:
        raise ValidationFailed(
            fields={"category": _("There is no category with this code.")}
        ) from None
    rows = selectors.reports_nearby(
        category=found, latitude=lat, longitude=lng, radius_m=radius_m, limit=10
    )
    return [
        NearbyOut(**_summary_fields(r), distance_m=float(getattr(r, "distance_m", 0.0)))
        for r in rows
    ]


# --- reporting -------------------------------------------------------------------------------


def _report_in(payload: str) -> ReportIn:
    try:
        return ReportIn.model_validate_json(payload)
    except PydanticValidationError as exc:
        fields: dict[str, Any] = {}
        for err in exc.errors():
            fields[".".join(str(p) for p in err["loc"]) or "payload"] = str(err["msg"])
        raise ValidationFailed(fields=fields) from None


@router.post(
    "/reports",
    response={201: ReportOut},
    url_name="feedback_submit",
    summary="Report a problem (multipart: payload JSON + 1–5 media parts)",
    openapi_extra=multipart_doc(),
)
def submit(request: HttpRequest, payload: Form[str]) -> Status:
    body = _report_in(payload)
    unknown = [name for name in request.FILES if name != "media"]
    if unknown:
        raise ValidationFailed(
            fields={name: _("Send photos and videos as parts named “media”.") for name in unknown}
        )
    try:
        category = selectors.category_get(code=body.category)
    except NotFound:
        raise ValidationFailed(
            fields={"category": _("There is no category with this code.")}
        ) from None
    report = services.report_submit(
        reporter=request.user,
        category=category,
        description=body.description,
        latitude=body.latitude,
        longitude=body.longitude,
        address=body.address,
        unit_code=body.unit_code,
        urgency="urgent" if body.urgent else "",
        attributes=body.attributes,
        media=request.FILES.getlist("media"),
        show_name=body.show_name,
        source=Report.Source.WEB,
    )
    report = selectors.report_get_for(user=request.user, report_id=report.pk)
    return Status(201, _report_out(request, report))


# --- statistics ------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@router.get(
    "/statistics",
    response=list[StatRowOut],
    url_name="feedback_statistics",
    summary="Per unit and category: received, on time, backlog, overdue, satisfaction",
    description=(
        "Needs the dashboard permission; a caller sees the units where they hold it (and the "
        "units below). `start` and `end` are local dates, `end` included; default: the last "
        "30 days."
    ),
)
def statistics(
    request: HttpRequest,
    start: date | None = None,
    end: date | None = None,
    agency: str | None = Query(None, max_length=32, description="One unit's code."),  # type: ignore[assignment]
) -> list[StatRowOut]:
    if not can(request.user, Perm.DASHBOARD_VIEW):
        raise PermissionDenied()
    today = timezone.localdate()
    last = end or today
    first = start or (last - timedelta(days=STATS_DAYS - 1))
    if first > last:
        raise ValidationFailed(fields={"start": _("The start is after the end.")})
    allowed = agencies_where(request.user, Perm.DASHBOARD_VIEW)
    if agency:
        unit = Agency.objects.filter(code=agency).only("id").first()
        if unit is None or unit.pk not in allowed:
            raise NotFound(fields={"agency": _("There is no unit with this code for you.")})
        allowed = [unit.pk]
    rows = selectors.feedback_statistics(
        start=_day_start(first), end=_day_start(last + timedelta(days=1)), agency_ids=allowed
    )
    return [
        StatRowOut(
            agency_id=row.agency_id,
            agency_name=row.agency_name,
            category_code=row.category_code,
            category_name=row.category_name,
            received=row.received,
            accepted_on_time=row.accepted_on_time,
            accepted_late=row.accepted_late,
            resolved_on_time=row.resolved_on_time,
            resolved_late=row.resolved_late,
            backlog=row.backlog,
            overdue=row.overdue,
            avg_resolution_hours=row.avg_resolution_hours,
            rated=row.rated,
            satisfied=row.satisfied,
            satisfaction_rate=row.satisfaction_rate,
        )
        for row in rows
    ]
