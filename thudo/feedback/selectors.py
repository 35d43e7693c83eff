"""Every read of the feedback domain that leaves it, already filtered by who asks.

The public sees only reports whose visibility is public, never videos, never internal events,
and the reporter's name only when they chose to show it. The reporter sees their own report in
full; officials of a unit that has (or had) a part in a report see it and its internal
timeline; moderators (Perm.REPORT_MODERATE) see everything.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from thudo.accounts.models import Agency
from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import Perm
from thudo.core.errors import NotFound, PermissionDenied
from thudo.core.units import haversine_m

from .models import (
    OPEN_STATUSES,
    Assignment,
    Category,
    ModerationAction,
    Report,
    ReportEvent,
    ReportMedia,
    ReportStatus,
    ResponseTemplate,
    Visibility,
)
from .stats import StatRow, feedback_statistics, feedback_totals

__all__ = [
    "StatRow",
    "categories_active",
    "category_get",
    "feedback_statistics",
    "feedback_totals",
    "media_get_for",
    "moderation_history",
    "moderation_queue",
    "report_get_for",
    "report_media_for",
    "report_media_public",
    "report_public_get",
    "report_queue",
    "report_timeline",
    "reporter_label",
    "reports_followed",
    "reports_nearby",
    "reports_of",
    "reports_public",
    "templates_for",
    "user_can_handle",
    "user_can_moderate",
]

METRES_PER_DEGREE = 111_320.0
NEARBY_SCAN_LIMIT = 500  # rows read for the distance check at most (a 250 m box holds few)


def _authenticated(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def _reports() -> QuerySet[Report]:
    return Report.objects.select_related("category", "unit", "agency")


# --- categories ------------------------------------------------------------------------------


def categories_active() -> QuerySet[Category]:
    """The categories a resident can choose (those with an emergency number included: the form
    shows the number instead of taking the report)."""
    return Category.objects.filter(is_active=True).select_related("department")


def category_get(*, code: str) -> Category:
    category = Category.objects.filter(code=code, is_active=True).first()
    if category is None:
        raise NotFound()
    return category


# --- who may see what ------------------------------------------------------------------------


def user_can_moderate(user: Any) -> bool:
    return can(user, Perm.REPORT_MODERATE)


def user_can_handle(user: Any, report: Report) -> bool:
    """An official of a unit that has or had a part in the report (REPORT_HANDLE)."""
    if not _authenticated(user):
        return False
    mine = set(agencies_where(user, Perm.REPORT_HANDLE))
    if not mine:
        return False
    if report.agency_id in mine:
        return True
    return Assignment.objects.filter(report=report, agency_id__in=mine).exists()


def _is_reporter(user: Any, report: Report) -> bool:
    return _authenticated(user) and report.reporter_id == user.pk


def _privileged(user: Any, report: Report) -> bool:
    return _is_reporter(user, report) or user_can_handle(user, report) or user_can_moderate(user)


def reporter_label(report: Report) -> str:
    """The reporter as the public sees them: the name when they chose to show it."""
    from django.utils.translation import gettext

    if report.show_name and report.reporter_name:
        return report.reporter_name
    return gettext("A resident")


# --- single reports --------------------------------------------------------------------------


def report_public_get(*, report_id: Any) -> Report:
    """A public report, or NotFound (hidden and flagged ones included)."""
    try:
        pk = int(report_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    report = _reports().filter(pk=pk, visibility=Visibility.PUBLIC).first()
    if report is None:
        raise NotFound()
    return report


def report_get_for(*, user: Any, report_id: Any) -> Report:
    """The report for its reporter, a handling official or a moderator; else the public rule."""
    try:
        pk = int(report_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    report = _reports().filter(pk=pk).first()
    if report is None:
        raise NotFound()
    if report.visibility == Visibility.PUBLIC or _privileged(user, report):
        return report
    raise NotFound()


# --- lists -----------------------------------------------------------------------------------


def reports_public(
    *,
    bbox: tuple[float, float, float, float] | None = None,
    category_codes: Any = None,
    statuses: Any = None,
    unit_code: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = 500,
) -> QuerySet[Report]:
    """Public reports for the map and the list, newest first. `bbox` is (min_lat, min_lng,
    max_lat, max_lng); without `statuses` withdrawn reports are left out. `limit` None: no
    slice (the caller pages)."""
    qs = _reports().filter(visibility=Visibility.PUBLIC)
    if statuses:
        qs = qs.filter(status__in=[s for s in statuses if s in ReportStatus.values])
    else:
        qs = qs.exclude(status=ReportStatus.WITHDRAWN)
    if bbox is not None:
        min_lat, min_lng, max_lat, max_lng = (float(v) for v in bbox)
        qs = qs.filter(
            latitude__gte=min_lat,
            latitude__lte=max_lat,
            longitude__gte=min_lng,
            longitude__lte=max_lng,
        )
    if category_codes:
        qs = qs.filter(category__code__in=list(category_codes))
    if unit_code:
        qs = qs.filter(unit__code=unit_code)
    if start is not None:
        qs = qs.filter(submitted_at__gte=start)
    if end is not None:
        qs = qs.filter(submitted_at__lt=end)
    qs = qs.order_by("-submitted_at", "-pk")
    if limit is not None:
        qs = qs[: max(0, int(limit))]
    return qs


def reports_nearby(
    *,
    category: Category,
    latitude: float,
    longitude: float,
    radius_m: float = 250,
    limit: int = 5,
) -> list[Report]:
    """Open public reports of the same category within `radius_m`, nearest first, each with a
    `distance_m` attribute: a bounding-box query on the ``fb_near`` index (category, status,
    latitude, longitude), then the exact distance on the few rows inside the box."""
    lat, lng = float(latitude), float(longitude)
    if not (math.isfinite(lat) and math.isfinite(lng)) or radius_m <= 0 or limit <= 0:
        return []
    d_lat = radius_m / METRES_PER_DEGREE
    d_lng = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    candidates = (
        Report.objects.filter(
            category=category,
            status__in=list(OPEN_STATUSES),
            latitude__gte=lat - d_lat,
            latitude__lte=lat + d_lat,
            longitude__gte=lng - d_lng,
            longitude__lte=lng + d_lng,
            visibility=Visibility.PUBLIC,
        )
        .order_by()
        .values_list("pk", "latitude", "longitude")[:NEARBY_SCAN_LIMIT]
    )
    near = sorted(
        (d, pk)
        for pk, r_lat, r_lng in candidates
        if (d := haversine_m(lat, lng, r_lat, r_lng)) <= radius_m
    )[:limit]
    if not near:
        return []
    rows = _reports().in_bulk([pk for _d, pk in near])
    found: list[Report] = []
    for distance, pk in near:
        report = rows.get(pk)
        if report is not None:
            report.distance_m = round(distance, 1)  # type: ignore[attr-defined]
            found.append(report)
    return found


def reports_of(*, user: Any) -> QuerySet[Report]:
    """The reporter's own reports, newest first."""
    if not _authenticated(user):
        return Report.objects.none()
    return _reports().filter(reporter=user).order_by("-submitted_at", "-pk")


def reports_followed(*, user: Any) -> QuerySet[Report]:
    """Reports the user follows (their own included while visible), newest first."""
    if not _authenticated(user):
        return Report.objects.none()
    return (
        _reports()
        .filter(follows__user=user)
        .filter(Q(visibility=Visibility.PUBLIC) | Q(reporter=user))
        .order_by("-submitted_at", "-pk")
        .distinct()
    )


def report_queue(
    *,
    user: Any,
    agency: Agency | None = None,
    status: str | None = None,
    overdue_only: bool = False,
    now: datetime | None = None,
) -> QuerySet[Assignment]:
    """The open parts (pending, accepted) of the units where the user handles reports, overdue
    first, then by the deadline that runs (accept while pending, resolve once accepted). Each
    row has `due` and `is_overdue` (0/1) annotations. `status` is an assignment state or a
    report status."""
    moment = now or timezone.now()
    ids = agencies_where(user, Perm.REPORT_HANDLE)
    if agency is not None:
        ids = [agency.pk] if agency.pk in ids else []
    qs = Assignment.objects.filter(
        agency_id__in=ids,
        state__in=[Assignment.State.PENDING, Assignment.State.ACCEPTED],
    ).select_related("report", "report__category", "report__unit", "agency")
    if status:
        if status in Assignment.State.values:
            qs = qs.filter(state=status)
        elif status in ReportStatus.values:
            qs = qs.filter(report__status=status)
    qs = qs.annotate(
        due=Case(
            When(state=Assignment.State.PENDING, then=F("accept_due")),
            default=F("resolve_due"),
        )
    ).annotate(
        is_overdue=Case(
            When(due__lt=moment, then=Value(1)), default=Value(0), output_field=IntegerField()
        )
    )
    if overdue_only:
        qs = qs.filter(due__lt=moment)
    return qs.order_by("-is_overdue", "due", "pk")


# --- timeline and media ----------------------------------------------------------------------


def report_timeline(*, user: Any, report: Report) -> list[ReportEvent]:
    """The report's events: internal ones only for handling officials and moderators."""
    events = ReportEvent.objects.filter(report=report).select_related("actor", "agency")
    if not (user_can_handle(user, report) or user_can_moderate(user)):
        events = events.filter(public=True)
    return list(events.prefetch_related("media").order_by("at", "pk"))


def report_media_public(*, report: Report) -> QuerySet[ReportMedia]:
    """The photos anyone may see: of a public report, not a video, not of an internal event."""
    if report.visibility != Visibility.PUBLIC:
        return ReportMedia.objects.none()
    return ReportMedia.objects.filter(
        Q(event__isnull=True) | Q(event__public=True),
        report=report,
        kind=ReportMedia.Kind.PHOTO,
    ).order_by("pk")


def report_media_for(*, user: Any, report: Report) -> QuerySet[ReportMedia]:
    """The reporter sees their report's photos and videos (not internal evidence); handling
    officials and moderators see everything; others the public photos."""
    if user_can_handle(user, report) or user_can_moderate(user):
        return ReportMedia.objects.filter(report=report).order_by("pk")
    if _is_reporter(user, report):
        return ReportMedia.objects.filter(
            Q(event__isnull=True) | Q(event__public=True), report=report
        ).order_by("pk")
    return report_media_public(report=report)


def media_get_for(*, user: Any, media_id: Any) -> ReportMedia:
    """One file the user may download (the `feedback:media` view), or NotFound."""
    try:
        pk = int(media_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    media = ReportMedia.objects.select_related("report").filter(pk=pk).first()
    if media is None or not report_media_for(user=user, report=media.report).filter(pk=pk).exists():
        raise NotFound()
    return media


def templates_for(
    *, agency: Agency | None, category: Category | None
) -> QuerySet[ResponseTemplate]:
    """The unit's and the city-wide answers, for the category or any category."""
    agency_q = Q(agency__isnull=True) | (Q(agency=agency) if agency is not None else Q())
    category_q = Q(category__isnull=True) | (Q(category=category) if category is not None else Q())
    if agency is None:
        agency_q = Q(agency__isnull=True)
    if category is None:
        category_q = Q(category__isnull=True)
    return ResponseTemplate.objects.filter(agency_q, category_q).order_by("title")


# --- moderation ------------------------------------------------------------------------------


def moderation_queue(*, user: Any) -> QuerySet[Report]:
    """Reports that need a moderator: flagged first, then hidden, then public ones with open
    flags; most flags first."""
    if not user_can_moderate(user):
        raise PermissionDenied()
    return (
        _reports()
        .filter(
            Q(visibility__in=[Visibility.FLAGGED, Visibility.HIDDEN])
            | Q(flags__reviewed_at__isnull=True, flags__isnull=False)
        )
        .distinct()
        .annotate(
            rank=Case(
                When(visibility=Visibility.FLAGGED, then=Value(0)),
                When(visibility=Visibility.HIDDEN, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "-flag_count", "-submitted_at", "-pk")
    )


def moderation_history(*, user: Any, report: Report | None = None) -> QuerySet[ModerationAction]:
    """Moderators' acts, newest first (of one report when given)."""
    if not user_can_moderate(user):
        raise PermissionDenied()
    qs = ModerationAction.objects.select_related("moderator", "target_user", "report")
    if report is not None:
        qs = qs.filter(report=report)
    return qs.order_by("-created_at", "-pk")
