"""The residents' and the public's pages: the city's reports on a map and in a list, reporting a
problem, a report with its answer, my reports, and the report's photos. Every write goes through
`services`, every read through `selectors`; the officials' pages are in `views_official.py`.

Uploaded files cannot survive a page that is shown again (the browser forgets them), so the
checks that can send the form back — the place taken from a photo, the ward to confirm, similar
reports nearby — also run before sending, in the page (htmx, `nearby`), and a page that comes
back says plainly that the photos must be chosen again."""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from thudo.accounts.permissions import permissions
from thudo.accounts.roles import Perm
from thudo.core.errors import NotFound, Throttled, ThudoError, ValidationFailed
from thudo.core.models import AdminUnit
from thudo.core.units import haversine_m, unit_at

from . import selectors, services
from .forms import (
    MEDIA_ACCEPT,
    EditForm,
    FlagForm,
    ForgetForm,
    MapFilterForm,
    QuestionsForm,
    RateForm,
    ReopenForm,
    ReportForm,
    category_name,
    city_code,
    domain_errors,
    error_summary,
    event_label,
    local_text,
)
from .media import max_files, max_photo_bytes, max_video_bytes
from .media import photo_position as read_position
from .models import Category, Flag, Follow, Report, ReportMedia, ReportStatus, Visibility

PAGE_SIZE = 20
GEOJSON_LIMIT = 500
NEARBY_RADIUS_M = 250
DEFAULT_BOUNDS = (20.5, 105.2, 21.4, 106.1)
DEFAULT_CENTRE = (21.0285, 105.8542)  # Hoàn Kiếm, when no ward centre is known
# Marker colours by status; every one has at least 4.5:1 against the offline base map.
STATUS_COLOURS: dict[str, str] = {
    ReportStatus.SUBMITTED: "#a1121a",
    ReportStatus.ACCEPTED: "#8a4b00",
    ReportStatus.ANSWERED: "#0a58ca",
    ReportStatus.CLOSED: "#1e6b30",
    ReportStatus.WITHDRAWN: "#4b4b55",
}


# --- small helpers -------------------------------------------------------------------------


def bounds() -> tuple[float, float, float, float]:
    """(min lat, min lng, max lat, max lng) of the city (FEEDBACK_BOUNDS)."""
    value = getattr(settings, "FEEDBACK_BOUNDS", DEFAULT_BOUNDS)
    return tuple(float(v) for v in value)  # type: ignore[return-value]


def _authenticated(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_authenticated", False))


def _report(request: HttpRequest, report_id: int) -> Report:
    """The report if this viewer may see it (404 otherwise)."""
    try:
        if _authenticated(request):
            return selectors.report_get_for(user=request.user, report_id=report_id)
        return selectors.report_public_get(report_id=report_id)
    except NotFound:
        raise Http404 from None


def _media_for(request: HttpRequest, report: Report) -> list[ReportMedia]:
    if _authenticated(request):
        return list(selectors.report_media_for(user=request.user, report=report))
    return list(selectors.report_media_public(report=report))


def status_badge(report: Report, now: Any = None) -> str:
    """The CSS modifier of a report's status badge (late, settled, withdrawn or plain)."""
    now = now or timezone.now()
    if report.status == ReportStatus.SUBMITTED and report.accept_due and report.accept_due < now:
        return "badge-late"
    if report.status == ReportStatus.ACCEPTED and report.resolve_due and report.resolve_due < now:
        return "badge-late"
    if report.status in (ReportStatus.ANSWERED, ReportStatus.CLOSED):
        return "badge-ok"
    if report.status == ReportStatus.WITHDRAWN:
        return "badge-paused"
    return ""


def snippet(text: str, words: int = 14) -> str:
    return Truncator(" ".join((text or "").split())).words(words, truncate=" …")


def _rows(reports: Any, now: Any = None) -> list[dict[str, Any]]:
    now = now or timezone.now()
    return [
        {
            "report": r,
            "category": category_name(r.category),
            "badge": status_badge(r, now),
            "snippet": snippet(r.description),
        }
        for r in reports
    ]


def pager(request: HttpRequest, page: Any, param: str = "page", label: str = "") -> dict[str, Any]:
    """The page's links to the previous and next pages, keeping the other query parameters."""

    def url(number: int) -> str:
        query = request.GET.copy()
        query[param] = str(number)
        return f"?{query.urlencode()}"

    return {
        "page": page,
        "label": label or _("Pages"),
        "prev": url(page.previous_page_number()) if page.has_previous() else "",
        "next": url(page.next_page_number()) if page.has_next() else "",
    }


def _ward_centres() -> list[dict[str, Any]]:
    units = (
        AdminUnit.objects.filter(
            level=AdminUnit.Level.COMMUNE, parent__code=city_code(), latitude__isnull=False
        )
        .order_by("name")
        .values("code", "name", "latitude", "longitude")
    )
    return [
        {"code": u["code"], "name": u["name"], "lat": u["latitude"], "lng": u["longitude"]}
        for u in units
    ]


def map_config(**extra: Any) -> dict[str, Any]:
    """What map.js needs (given to the page with json_script): tiles or the offline base map of
    ward centres, the city's bounds and the texts in the page's language."""
    tile_url = str(getattr(settings, "MAP_TILE_URL", "") or "")
    wards = [] if tile_url else _ward_centres()
    min_lat, min_lng, max_lat, max_lng = bounds()
    if wards:
        centre = [
            sum(w["lat"] for w in wards) / len(wards),
            sum(w["lng"] for w in wards) / len(wards),
        ]
    else:
        centre = list(DEFAULT_CENTRE)
    config: dict[str, Any] = {
        "tileUrl": tile_url,
        "tileAttribution": str(getattr(settings, "MAP_TILE_ATTRIBUTION", "") or ""),
        "wards": wards,
        "bounds": [[min_lat, min_lng], [max_lat, max_lng]],
        "centre": centre,
        "zoom": 14,
        "colours": {str(k): v for k, v in STATUS_COLOURS.items()},
        "text": {
            "offline": "" if tile_url else _("Offline base map: ward centres only, no streets."),
            "open": _("See the report"),
            "marker": _("The place of the problem"),
            "loading": _("Loading reports…"),
            "loaded": _("%(n)s reports on the map."),
            "tooMany": _("Only the newest %(n)s reports are shown: zoom in to see the others."),
            "failed": _("The reports could not be loaded."),
            "locating": _("Looking for your position…"),
            "located": _("Your position is filled in. Check it on the map."),
            "locateFailed": _("Your position could not be found. Choose the place on the map."),
            "photoLooking": _("Looking for a position in the photo…"),
            "photoFound": _("The photo has a position."),
            "photoNone": _("The photo has no position."),
            "photoUsed": _(
                "The place where the photo was taken is filled in. Check it on the map."
            ),
            "charsLeft": _("%(n)s characters left"),
            "charsOver": _("%(n)s characters too many"),
        },
    }
    config.update(extra)
    return config


def _fail_status(exc: ThudoError) -> int:
    return 400 if isinstance(exc, ValidationFailed) else exc.status


def _with_retry(response: HttpResponse, exc: ThudoError | None) -> HttpResponse:
    if isinstance(exc, Throttled) and exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


# --- the public map and list ----------------------------------------------------------------


def _filter_args(values: dict[str, str]) -> dict[str, Any]:
    return {
        "category_codes": [values["category"]] if values.get("category") else None,
        "statuses": [values["status"]] if values.get("status") else None,
        "unit_code": values.get("ward") or None,
    }


@require_GET
def report_map(request: HttpRequest) -> HttpResponse:
    """Public reports on a map (JavaScript) and in a list (always), with filters and pages."""
    categories = list(selectors.categories_active())
    form = MapFilterForm(request.GET or None, categories=categories)
    values = form.values()
    found = selectors.reports_public(**_filter_args(values), limit=None)
    found = found.select_related("category", "unit")
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "rows": _rows(page.object_list),
        "pager": pager(request, page),
        "filtered": any(values.values()),
        "legend": [
            {"status": s, "label": label, "colour": STATUS_COLOURS[s]}
            for s, label in ReportStatus.choices
            if s != ReportStatus.WITHDRAWN
        ],
        "map_config": map_config(
            mode="reports",
            geojsonUrl=reverse("feedback:geojson"),
            filters={k: v for k, v in values.items() if v},
            zoom=13,
        ),
        "offline_map": not getattr(settings, "MAP_TILE_URL", ""),
    }
    return render(request, "feedback/map.html", context)


def _parse_bbox(raw: str) -> tuple[float, float, float, float] | None:
    """`minLng,minLat,maxLng,maxLat` (as Leaflet writes it) → (min lat, min lng, max lat, max
    lng); None when empty; ValueError when malformed."""
    if not raw:
        return None
    parts = [float(p) for p in raw.split(",")]
    if len(parts) != 4:
        raise ValueError(raw)
    min_lng, min_lat, max_lng, max_lat = parts
    if not all(-180 <= v <= 180 for v in (min_lng, max_lng)) or not all(
        -90 <= v <= 90 for v in (min_lat, max_lat)
    ):
        raise ValueError(raw)
    if min_lat > max_lat or min_lng > max_lng:
        raise ValueError(raw)
    return min_lat, min_lng, max_lat, max_lng


def _codes(raw: str) -> list[str] | None:
    codes = [c.strip() for c in raw.split(",") if c.strip()]
    return codes or None


GEOJSON_FIELDS = (
    "id",
    "status",
    "description",
    "latitude",
    "longitude",
    "submitted_at",
    "category__code",
    "category__name",
    "category__name_en",
)


@require_GET
def geojson(request: HttpRequest) -> JsonResponse:
    """The public reports inside `bbox` (newest first, at most 500) as a GeoJSON
    FeatureCollection, for the map."""
    try:
        box = _parse_bbox(request.GET.get("bbox", ""))
    except ValueError:
        return JsonResponse(
            {
                "code": "validation_failed",
                "message": _("Some fields are not valid."),
                "fields": {"bbox": [_("Give bbox as minLng,minLat,maxLng,maxLat.")]},
            },
            status=400,
        )
    statuses = _codes(request.GET.get("status", ""))
    found = selectors.reports_public(
        bbox=box,
        category_codes=_codes(request.GET.get("category", "")),
        statuses=statuses,
        unit_code=request.GET.get("ward") or None,
        limit=GEOJSON_LIMIT,
    )
    features = []
    # Only what a marker needs: the map asks for up to 500 reports on every pan.
    rows = found.select_related(None).select_related("category")
    rows = rows.only(*GEOJSON_FIELDS)
    for r in rows:
        features.append(
            {
                "type": "Feature",
                "id": r.pk,
                "geometry": {"type": "Point", "coordinates": [r.longitude, r.latitude]},
                "properties": {
                    "id": r.pk,
                    "status": r.status,
                    "status_label": str(r.get_status_display()),
                    "category": r.category.code,
                    "category_name": category_name(r.category),
                    "title": snippet(r.description, 12),
                    "submitted_at": r.submitted_at.isoformat(),
                    "url": reverse("feedback:detail", args=[r.pk]),
                },
            }
        )
    body = {
        "type": "FeatureCollection",
        "features": features,
        "truncated": len(features) >= GEOJSON_LIMIT,
    }
    response = JsonResponse(body)
    response["Cache-Control"] = "public, max-age=30"
    # The labels follow the visitor's language (the cookie or the browser's).
    patch_vary_headers(response, ["Cookie", "Accept-Language"])
    return response


# --- reporting a problem ----------------------------------------------------------------------


def _groups(categories: list[Category]) -> list[dict[str, Any]]:
    """Categories by group, in the order the groups first appear."""
    groups: dict[str, list[Category]] = {}
    for c in categories:
        groups.setdefault(c.group or "", []).append(c)
    return [
        {
            "name": name,
            "categories": [
                {
                    "category": c,
                    "name": category_name(c),
                    "description": local_text(c, "description"),
                    "notice": local_text(c, "notice"),
                }
                for c in items
            ],
        }
        for name, items in groups.items()
    ]


def position_check(
    *,
    category: Category,
    latitude: float,
    longitude: float,
    unit_code: str = "",
    confirm_new: bool = False,
) -> dict[str, Any]:
    """What the reporter should see about a place before sending: whether it lies outside the
    city, the ward to confirm when it is not certain, and open reports of the same category
    nearby (unless they already chose to send theirs anyway)."""
    min_lat, min_lng, max_lat, max_lng = bounds()
    check: dict[str, Any] = {
        "outside": not (min_lat <= latitude <= max_lat and min_lng <= longitude <= max_lng),
        "ward_code": "",
        "ward_name": "",
        "ward_needed": False,
        "nearby": [],
    }
    if check["outside"]:
        return check
    if not unit_code:
        try:
            unit, exact = unit_at(latitude=latitude, longitude=longitude, province=city_code())
        except ThudoError:
            unit, exact = None, False
        if unit is not None:
            check["ward_code"], check["ward_name"] = unit.code, unit.name
            check["ward_needed"] = not exact
    if not confirm_new:
        near = selectors.reports_nearby(
            category=category, latitude=latitude, longitude=longitude, radius_m=NEARBY_RADIUS_M
        )
        check["nearby"] = [
            {
                **row,
                "distance": round(
                    haversine_m(
                        latitude, longitude, row["report"].latitude, row["report"].longitude
                    )
                ),
            }
            for row in _rows(near)
        ]
    return check


def _photo_position(uploads: list[Any]) -> tuple[float, float] | None:
    for upload in uploads:
        with contextlib.suppress(Exception):
            position = read_position(upload)
            if position is not None:
                return position
    return None


def _file_help() -> dict[str, Any]:
    return {
        "accept": MEDIA_ACCEPT,
        "max_files": max_files(),
        "photo_mb": max_photo_bytes() // (1024 * 1024),
        "video_mb": max_video_bytes() // (1024 * 1024),
    }


def _report_page(
    request: HttpRequest,
    *,
    category: Category,
    form: ReportForm,
    questions: QuestionsForm,
    check: dict[str, Any] | None = None,
    media_errors: list[str] | None = None,
    extra: list[str] | None = None,
    notices: list[str] | None = None,
    files_lost: bool = False,
    status: int = 200,
) -> HttpResponse:
    media_errors = media_errors or []
    summary = error_summary([form, questions])
    summary += [
        {"href": "#id_media", "label": _("Photos and video"), "message": m} for m in media_errors
    ]
    summary += [{"href": "", "label": "", "message": m} for m in extra or []]
    context = {
        "category": category,
        "category_name": category_name(category),
        "notice": local_text(category, "notice"),
        "form": form,
        "questions": questions,
        "check": check,
        "media_errors": media_errors,
        "files": _file_help(),
        "errors": summary,
        "notices": notices or [],
        "files_lost": files_lost,
        "map_config": map_config(
            mode="pick",
            photoPositionUrl=reverse("feedback:photo_position"),
        ),
        "offline_map": not getattr(settings, "MAP_TILE_URL", ""),
    }
    return render(request, "feedback/report_form.html", context, status=status)


def _category_or_404(code: str) -> Category:
    try:
        category = selectors.category_get(code=code)
    except NotFound:
        raise Http404 from None
    if not category.is_active:
        raise Http404
    return category


@login_required
@require_http_methods(["GET", "POST"])
def report_new(request: HttpRequest) -> HttpResponse:
    """Step 1: choose a category (its notice; an emergency number instead of a form). Step 2:
    what, where, photos; the place from a photo, the ward to confirm and similar reports nearby
    are checked before the report is sent."""
    code = (request.POST.get("category") if request.method == "POST" else None) or request.GET.get(
        "category", ""
    )
    if not code:
        categories = list(selectors.categories_active())
        return render(request, "feedback/report_pick.html", {"groups": _groups(categories)})
    category = _category_or_404(code)
    if category.redirect_phone:
        context = {
            "category": category,
            "category_name": category_name(category),
            "notice": local_text(category, "notice"),
        }
        return render(request, "feedback/report_call.html", context)
    if request.method != "POST":
        form = ReportForm(initial={"category": category.code})
        questions = QuestionsForm(category=category)
        return _report_page(request, category=category, form=form, questions=questions)
    return _report_post(request, category)


def _report_post(request: HttpRequest, category: Category) -> HttpResponse:
    form = ReportForm(request.POST)
    questions = QuestionsForm(request.POST, category=category)
    uploads = [f for f in request.FILES.getlist("media") if f]
    valid = form.is_valid()
    valid = questions.is_valid() and valid
    data = form.cleaned_data  # the valid fields, even when another one is not
    lat, lng = data.get("latitude"), data.get("longitude")
    notices: list[str] = []
    media_errors: list[str] = []
    shown = request.POST.copy()

    if valid and lat is None and lng is None:
        position = _photo_position(uploads)
        if position is not None:
            lat, lng = position
            shown["latitude"], shown["longitude"] = f"{lat:.6f}", f"{lng:.6f}"
            notices.append(
                _(
                    "We took the place from where your photo was taken. Check it on the map "
                    "or in the latitude and longitude fields."
                )
            )
    if not valid or lat is None or lng is None:
        place_given = form.has_error("latitude") or form.has_error("longitude")
        if lat is None and lng is None and not place_given:
            form.add_error(
                "latitude",
                _(
                    "Choose the place on the map, use your location, or enter its latitude "
                    "and longitude."
                ),
            )
        if not uploads:
            media_errors.append(_("Attach at least one photo or video of the problem."))
        return _report_page(
            request,
            category=category,
            form=form,
            questions=questions,
            media_errors=media_errors,
            files_lost=bool(uploads),
            status=400,
        )

    unit_code = data.get("unit_code") or ""
    confirm_new = data.get("confirm_new") == "1"
    check = position_check(
        category=category,
        latitude=lat,
        longitude=lng,
        unit_code=unit_code,
        confirm_new=confirm_new,
    )
    if check["ward_needed"]:
        shown["unit_code"] = check["ward_code"]
        notices.append(_("Please confirm the ward or commune of the place."))
    if check["nearby"]:
        shown["confirm_new"] = "1"  # shown once: sending again means "mine anyway"
        notices.append(_("Similar reports are open nearby. Follow one of them, or send yours."))
    if notices:
        form = ReportForm(shown)
        form.is_valid()
        questions = QuestionsForm(shown, category=category)
        questions.is_valid()
        return _report_page(
            request,
            category=category,
            form=form,
            questions=questions,
            check=check,
            notices=notices,
            files_lost=bool(uploads),
        )

    try:
        report = services.report_submit(
            reporter=request.user,
            category=category,
            description=data["description"],
            latitude=lat,
            longitude=lng,
            address=data.get("address") or "",
            unit_code=unit_code,
            urgency="urgent" if data.get("urgent") else "",
            attributes=questions.attributes(),
            media=uploads,
            show_name=bool(data.get("show_name")),
            source=Report.Source.WEB,
        )
    except ThudoError as exc:
        extra = domain_errors(exc, forms_=[form, questions], media=media_errors)
        if isinstance(exc, Throttled):
            extra = [str(exc.message)]
        response = _report_page(
            request,
            category=category,
            form=form,
            questions=questions,
            check=_ward_only(check, unit_code or check["ward_code"])
            if unit_code or form.has_error("unit_code")
            else None,
            media_errors=media_errors,
            extra=extra,
            files_lost=bool(uploads),
            status=_fail_status(exc),
        )
        return _with_retry(response, exc)
    messages.success(
        request,
        _("Thank you. Your report #%(id)s has been sent to %(agency)s.")
        % {"id": report.pk, "agency": report.agency.name},
    )
    return redirect("feedback:detail", report_id=report.pk)


def _ward_only(check: dict[str, Any], code: str) -> dict[str, Any]:
    """The position check reduced to the ward select (a page sent back with errors)."""
    return {**check, "ward_needed": True, "ward_code": code, "nearby": []}


def _float(raw: str | None) -> float | None:
    try:
        value = float(str(raw or "").strip().replace(",", "."))
    except ValueError:
        return None
    return value if -180 <= value <= 180 else None


@require_GET
def nearby(request: HttpRequest) -> HttpResponse:
    """The htmx partial of the report form: the ward to confirm and open reports of the same
    category within 250 m of ?lat=&lng= (also latitude=/longitude=)."""
    lat = _float(request.GET.get("lat") or request.GET.get("latitude"))
    lng = _float(request.GET.get("lng") or request.GET.get("longitude"))
    code = request.GET.get("category", "")
    check = None
    form = None
    if lat is not None and lng is not None and code:
        try:
            category = selectors.category_get(code=code)
        except NotFound:
            raise Http404 from None
        check = position_check(category=category, latitude=lat, longitude=lng)
        form = ReportForm(initial={"category": code, "unit_code": check["ward_code"]})
        if check["nearby"]:
            form.initial["confirm_new"] = "1"
    return render(request, "feedback/partials/position_check.html", {"check": check, "form": form})


@require_POST
def photo_position(request: HttpRequest) -> JsonResponse:
    """The GPS position in a chosen photo's EXIF as {lat, lng}, or {} — nothing is stored."""
    if not _authenticated(request):
        return JsonResponse({}, status=403)
    upload = request.FILES.get("photo")
    position = _photo_position([upload]) if upload is not None else None
    if position is None:
        return JsonResponse({})
    return JsonResponse({"lat": position[0], "lng": position[1]})


# --- one report ------------------------------------------------------------------------------


def _timeline(request: HttpRequest, report: Report, media: list[ReportMedia]) -> list[dict]:
    user = request.user if _authenticated(request) else None
    by_event: dict[int, list[ReportMedia]] = {}
    for m in media:
        if m.event_id and m.purpose == ReportMedia.Purpose.EVIDENCE:
            by_event.setdefault(m.event_id, []).append(m)
    events = selectors.report_timeline(user=user, report=report)
    return [
        {
            "event": e,
            "label": event_label(e.action, e.to_status),
            "agency": e.agency.name if e.agency_id and e.agency else "",
            "media": by_event.get(e.pk, []),
            "rating": (e.data or {}).get("rating") if e.action == "rate" else None,
        }
        for e in events
    ]


def _answers(report: Report) -> list[dict[str, str]]:
    """The answers to the category's questions, with their labels, in the question order."""
    answers: list[dict[str, str]] = []
    given = report.attributes or {}
    for question in report.category.questions or []:
        code = str(question.get("code") or "")
        if code not in given:
            continue
        value = given[code]
        names = {str(v.get("key")): local_text(v, "name") for v in question.get("values") or []}
        if isinstance(value, list):
            text = ", ".join(names.get(str(v)) or str(v) for v in value)
        elif isinstance(value, bool):
            text = _("Yes") if value else _("No")
        else:
            text = names.get(str(value)) or str(value)
        answers.append({"label": local_text(question, "label") or code, "value": text})
    return answers


def _detail_context(
    request: HttpRequest,
    report: Report,
    *,
    bound: dict[str, Any] | None = None,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    bound = bound or {}
    user = request.user
    signed_in = _authenticated(request)
    is_reporter = signed_in and report.reporter_id == user.pk
    media = _media_for(request, report)
    report_media = [m for m in media if m.purpose == ReportMedia.Purpose.REPORT]
    timeline = _timeline(request, report, media)
    # The latest answer's photos of the fix (the timeline keeps those of earlier answers too).
    answers_ = [item for item in timeline if item["event"].action == "answer"]
    answer_media = answers_[-1]["media"] if answers_ else []
    evidence_free = [
        m for m in media if m.purpose == ReportMedia.Purpose.EVIDENCE and not m.event_id
    ]
    uid = user.pk or 0
    following = signed_in and Follow.objects.filter(report=report, user_id=uid).exists()
    flagged = signed_in and Flag.objects.filter(report=report, user_id=uid).exists()
    public = report.visibility == Visibility.PUBLIC
    # Edit and withdraw: before any unit took the report up (not after a transfer of an
    # accepted report, nor after a reopening, though it waits to be accepted again).
    open_ = (
        is_reporter
        and report.status == ReportStatus.SUBMITTED
        and not services.report_taken_up(report)
    )
    can_rate = is_reporter and report.status == ReportStatus.ANSWERED and report.rated_at is None
    can_reopen = (
        is_reporter
        and report.status == ReportStatus.ANSWERED
        and report.satisfied is False
        and report.level == 0
    )
    forms_: dict[str, Any] = {
        "rate_form": (bound.get("rate") or RateForm()) if can_rate else None,
        "reopen_form": (bound.get("reopen") or ReopenForm()) if can_reopen else None,
        "flag_form": (bound.get("flag") or FlagForm())
        if signed_in and public and not is_reporter and not flagged
        else None,
        "forget_form": (bound.get("forget") or ForgetForm())
        if is_reporter and not report.personal_data_removed_at
        else None,
    }
    official_url = ""
    if signed_in and getattr(user, "is_official", False):
        held = permissions(user)
        if Perm.REPORT_HANDLE in held or Perm.REPORT_MODERATE in held:
            with contextlib.suppress(NoReverseMatch):
                official_url = reverse("feedback_official:detail", args=[report.pk])
    context = {
        "report": report,
        "category_name": category_name(report.category),
        "badge": status_badge(report),
        "reporter": selectors.reporter_label(report),
        "answers": _answers(report),
        "photos": [m for m in report_media if m.kind == ReportMedia.Kind.PHOTO],
        "videos": [m for m in report_media if m.kind == ReportMedia.Kind.VIDEO],
        "evidence": [*answer_media, *evidence_free],
        "timeline": timeline,
        "is_reporter": is_reporter,
        "signed_in": signed_in,
        "following": following,
        "flagged": flagged,
        "can_follow": signed_in and public,
        "can_edit": is_reporter and open_,
        "public": public,
        "official_url": official_url,
        "map_config": map_config(mode="point", point=[report.latitude, report.longitude], zoom=16),
        "offline_map": not getattr(settings, "MAP_TILE_URL", ""),
        **forms_,
    }
    shown = [f for f in forms_.values() if f is not None and f.is_bound]
    # A form sent but no longer offered (e.g. flagged meanwhile): its messages, without links.
    unshown = [
        str(message)
        for form in bound.values()
        if form is not None and form not in shown
        for messages_ in form.errors.values()
        for message in messages_
    ]
    context["errors"] = error_summary(shown, [*unshown, *(extra or [])])
    return context


@require_GET
def detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = _report(request, report_id)
    return render(request, "feedback/detail.html", _detail_context(request, report))


def _action(
    request: HttpRequest,
    report_id: int,
    *,
    form_key: str = "",
    form_class: Any = None,
    call: Any,
    success: str,
    done: str = "",
) -> HttpResponse:
    """One POST action on a report: check the form, call one service, go back to the report
    with a message; field errors come back on the page, a wrong state is a message (409)."""
    report = _report(request, report_id)
    form = form_class(request.POST) if form_class else None
    if form is not None and not form.is_valid():
        context = _detail_context(request, report, bound={form_key: form})
        return render(request, "feedback/detail.html", context, status=400)
    try:
        call(report, form.cleaned_data if form is not None else {})
    except ThudoError as exc:
        extra = domain_errors(exc, forms_=[form] if form is not None else [])
        if not isinstance(exc, ValidationFailed):
            extra = [str(exc.message)]
        report = _report(request, report_id)
        context = _detail_context(
            request, report, bound={form_key: form} if form is not None else {}, extra=extra
        )
        response = render(request, "feedback/detail.html", context, status=_fail_status(exc))
        return _with_retry(response, exc)
    messages.success(request, success)
    if done:
        return redirect(done)
    return redirect("feedback:detail", report_id=report_id)


@login_required
@require_POST
def follow(request: HttpRequest, report_id: int) -> HttpResponse:
    return _action(
        request,
        report_id,
        call=lambda r, d: services.report_follow(user=request.user, report=r),
        success=_("You follow this report: you will be told of every change."),
    )


@login_required
@require_POST
def unfollow(request: HttpRequest, report_id: int) -> HttpResponse:
    return _action(
        request,
        report_id,
        call=lambda r, d: services.report_unfollow(user=request.user, report=r),
        success=_("You no longer follow this report."),
    )


@login_required
@require_POST
def rate(request: HttpRequest, report_id: int) -> HttpResponse:
    return _action(
        request,
        report_id,
        form_key="rate",
        form_class=RateForm,
        call=lambda r, d: services.report_rate(
            user=request.user,
            report=r,
            rating=d["rating"],
            comment=d.get("comment") or "",
            satisfied=d.get("satisfied"),
        ),
        success=_("Thank you for rating the answer."),
    )


@login_required
@require_POST
def reopen(request: HttpRequest, report_id: int) -> HttpResponse:
    return _action(
        request,
        report_id,
        form_key="reopen",
        form_class=ReopenForm,
        call=lambda r, d: services.report_reopen(user=request.user, report=r, reason=d["reason"]),
        success=_("Your report is reopened and sent to the next level."),
    )


@login_required
@require_POST
def withdraw(request: HttpRequest, report_id: int) -> HttpResponse:
    return _action(
        request,
        report_id,
        call=lambda r, d: services.report_withdraw(user=request.user, report=r),
        success=_("Your report is withdrawn."),
    )


@login_required
@require_POST
def flag(request: HttpRequest, report_id: int) -> HttpResponse:
    return _action(
        request,
        report_id,
        form_key="flag",
        form_class=FlagForm,
        call=lambda r, d: services.report_flag(
            user=request.user, report=r, reason=d["reason"], comment=d.get("comment") or ""
        ),
        success=_("Thank you. A moderator will review this report."),
    )


@login_required
@require_POST
def forget(request: HttpRequest, report_id: int) -> HttpResponse:
    return _action(
        request,
        report_id,
        form_key="forget",
        form_class=ForgetForm,
        call=lambda r, d: services.report_personal_data_remove(user=request.user, report=r),
        success=_("Your personal data is removed from this report."),
        done="feedback:mine",  # the report is no longer linked to the account
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, report_id: int) -> HttpResponse:
    """The reporter corrects the text or the place while the report waits to be accepted."""
    report = _report(request, report_id)
    if report.reporter_id != request.user.pk:
        raise Http404
    status = 200
    extra: list[str] = []
    if request.method == "POST":
        form = EditForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.report_edit(
                    user=request.user,
                    report=report,
                    description=data["description"],
                    address=data.get("address") or "",
                    latitude=data["latitude"],
                    longitude=data["longitude"],
                )
            except ThudoError as exc:
                extra = domain_errors(exc, forms_=[form])
                if not isinstance(exc, ValidationFailed):
                    extra = [str(exc.message)]
                status = _fail_status(exc)
            else:
                messages.success(request, _("Your report is corrected."))
                return redirect("feedback:detail", report_id=report.pk)
        else:
            status = 400
    else:
        if report.status != ReportStatus.SUBMITTED or services.report_taken_up(report):
            messages.error(
                request, _("The report is accepted already and can no longer be changed.")
            )
            return redirect("feedback:detail", report_id=report.pk)
        form = EditForm(
            initial={
                "description": report.description,
                "address": report.address,
                "latitude": report.latitude,
                "longitude": report.longitude,
            }
        )
    context = {
        "report": report,
        "category_name": category_name(report.category),
        "form": form,
        "errors": error_summary([form], extra),
        "map_config": map_config(mode="pick", zoom=16),
        "offline_map": not getattr(settings, "MAP_TILE_URL", ""),
    }
    return render(request, "feedback/edit.html", context, status=status)


# --- my reports ------------------------------------------------------------------------------


@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    """The resident's own reports, and the reports they follow."""
    own = selectors.reports_of(user=request.user).select_related("category", "unit")
    followed = (
        selectors.reports_followed(user=request.user)
        .exclude(reporter_id=request.user.pk)
        .select_related("category", "unit")
    )
    page = Paginator(own, PAGE_SIZE).get_page(request.GET.get("page"))
    followed_page = Paginator(followed, PAGE_SIZE).get_page(request.GET.get("followed_page"))
    context = {
        "rows": _rows(page.object_list),
        "pager": pager(request, page, label=_("Pages of my reports")),
        "followed_rows": _rows(followed_page.object_list),
        "followed_pager": pager(
            request, followed_page, "followed_page", label=_("Pages of the reports I follow")
        ),
    }
    return render(request, "feedback/mine.html", context)


# --- photos and videos -----------------------------------------------------------------------


@require_GET  # type: ignore[arg-type]  # a FileResponse is no HttpResponse to the stubs
def media(request: HttpRequest, media_id: int) -> HttpResponseBase:
    """A report's photo or video, if this viewer may see it: public photos for anyone; videos
    and hidden reports' files only for the reporter, the handling units and moderators."""
    user = request.user if _authenticated(request) else None
    try:
        item = selectors.media_get_for(user=user, media_id=media_id)
    except NotFound:
        raise Http404 from None
    report = item.report
    try:
        handle = item.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(handle, content_type=item.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    # Never kept by a shared cache: a moderator may hide or redact the file at any time.
    public = report.visibility == Visibility.PUBLIC and item.kind == ReportMedia.Kind.PHOTO
    response["Cache-Control"] = "private, max-age=300" if public else "private, no-cache"
    return response
