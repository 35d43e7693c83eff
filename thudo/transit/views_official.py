"""The transit operator's pages, mounted at /workspace/transit/.

Officials signed in with their second factor who hold Perm.TRANSIT_OPERATE see:

- the control view: every bus on a map coloured by status, the headways per route and
  direction, late and early buses, bunching, silent devices, ghosts and rejected reports; the
  page refreshes itself from control.json (operations.control_snapshot) and works without
  JavaScript as a set of tables;
- vehicles and devices: find, register a vehicle, fit it with a device (its token shown once),
  rotate a token, switch a device off, the ingest counters per device;
- service alerts: those in force and ended, write one (Vietnamese and English), end one
  (alerts.alert_create / alert_end);
- timetables: the GTFS feed versions with their counts, errors and warnings, upload a zip (its
  type and size checked first; the importer's errors listed per file and row), switch a ready
  version on, or go back to the replaced one while it keeps its timetable
  (gtfs.import_feed / feed_activate).

Thin views: the reads are operations.py and plain model reads for lists; the writes are the
services (`ValidationFailed` → 422 with the messages on the form's fields,
`InvalidTransition` → 409).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, prefetch_related_objects
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET, require_POST

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.errors import InvalidTransition, PermissionDenied, ThudoError, ValidationFailed
from thudo.core.models import AdminUnit
from thudo.web.access import official_required

from . import devices, operations
from .forms import (
    AlertForm,
    DeviceForm,
    GtfsUploadForm,
    VehicleForm,
    VehicleSearchForm,
    apply_errors,
)
from .models import Device, Feed, IngestCounter, ServiceAlert, Trip, Vehicle, VehicleState

PAGE_SIZE = 50
REFRESH_S = 15
ERRORS_SHOWN = 500
FEEDS_SHOWN = 50
ENDED_ALERTS_SHOWN = 30
DEFAULT_BOUNDS = [[20.95, 105.75], [21.10, 105.90]]  # central Hanoi, when no feed is active
STATUS_COLOURS = {  # markers on the map; each >= 3:1 against the light base map
    "in_service": "#1e7b34",
    "layover": "#0a58ca",
    "off_route": "#8a4b00",
    "unassigned": "#4b4b55",
    "ghost": "#ffffff",
}


def _require(request: HttpRequest) -> None:
    if not can(request.user, Perm.TRANSIT_OPERATE):
        raise DjangoPermissionDenied


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 10_000))
    except ValueError:
        return 1


def _active_feed() -> Feed | None:
    return Feed.objects.filter(status=Feed.Status.ACTIVE).first()


# --- the control view -------------------------------------------------------------------------


def _ward_centres() -> list[dict[str, Any]]:
    city = f"{int(settings.THUDO_CITY['PROVINCE_CODE']):02d}"
    units = AdminUnit.objects.filter(
        level=AdminUnit.Level.COMMUNE, parent__code=city, latitude__isnull=False
    ).values("name", "latitude", "longitude")
    return [{"name": u["name"], "lat": u["latitude"], "lng": u["longitude"]} for u in units]


def _map_config(feed: Feed | None) -> dict[str, Any]:
    """What control.js needs (json_script "transit-control-config")."""
    tile_url = str(getattr(settings, "MAP_TILE_URL", "") or "")
    bounds = operations.map_bounds(feed) or DEFAULT_BOUNDS
    return {
        "jsonUrl": reverse("transit_official:control_json"),
        "vehicleUrl": reverse("transit_official:vehicle", args=[0]),
        "refreshS": REFRESH_S,
        "tileUrl": tile_url,
        "tileAttribution": str(getattr(settings, "MAP_TILE_ATTRIBUTION", "") or ""),
        "wards": [] if tile_url else _ward_centres(),
        "bounds": bounds,
        "lines": operations.route_lines(feed),
        "timeZone": str(settings.TIME_ZONE),
        "colours": STATUS_COLOURS,
        "text": {
            "offline": ""
            if tile_url
            else _("Offline base map: routes and ward centres only, no streets."),
            "updated": _("Updated at %(time)s."),
            "failed": _("The update failed; the figures shown are from %(time)s."),
            "paused": _("Updates paused."),
            "route": _("Route"),
            "delay": _("Delay"),
            "lastReport": _("Last report"),
            "nextStop": _("Next stop"),
            "open": _("Vehicle and devices"),
            "late": _("running late"),
            "bunched": _("bunched"),
            "none": _("None."),
            "shown": _("%(n)s buses on the map."),
        },
    }


@never_cache
@require_GET
@official_required
def control(request: HttpRequest) -> HttpResponse:
    _require(request)
    feed = _active_feed()
    context = {
        "snap": operations.control_snapshot(),
        "map_config": _map_config(feed),
        "refresh_s": REFRESH_S,
        "statuses": [
            (value, label, STATUS_COLOURS.get(value, "#4b4b55"))
            for value, label in VehicleState.Status.choices
        ],
    }
    return render(request, "transit/official/control.html", context)


@gzip_page  # about 1.3 MB of JSON for 2,000 buses, 130 kB compressed (no secret in it)
@never_cache
@require_GET
@official_required
def control_json(request: HttpRequest) -> HttpResponse:
    _require(request)
    return JsonResponse(operations.control_snapshot(), json_dumps_params={"ensure_ascii": False})


# --- vehicles and devices ---------------------------------------------------------------------


def _vehicles_found(form: VehicleSearchForm) -> Any:
    found = Vehicle.objects.select_related("state").prefetch_related(
        Prefetch("devices", queryset=Device.objects.order_by("-is_active", "device_id"))
    )
    if not form.is_valid():
        return found
    q = form.cleaned_data["q"].strip()
    if q:
        found = found.filter(
            Q(code__icontains=q)
            | Q(label__icontains=q)
            | Q(license_plate__icontains=q)
            | Q(devices__device_id__icontains=q)
        ).distinct()
    status = form.cleaned_data["status"]
    if status == "none":
        found = found.filter(~Exists(Device.objects.filter(vehicle=OuterRef("pk"))))
    elif status == "silent":
        cutoff = timezone.now() - timedelta(seconds=int(settings.TRANSIT_GHOST_AFTER_S))
        silent = Device.objects.filter(vehicle=OuterRef("pk"), is_active=True).filter(
            Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=cutoff)
        )
        found = found.filter(Exists(silent))
    elif status == "rejected":
        keys = IngestCounter.objects.exclude(outcome__in=operations.NOT_REJECTED).values(
            "device_key"
        )
        found = found.filter(
            Exists(Device.objects.filter(vehicle=OuterRef("pk"), device_id__in=keys))
        )
    return found


def _unknown_rejects() -> list[dict[str, Any]]:
    """Rejected reports of device ids no device is registered under (wrong or old ids)."""
    counters = IngestCounter.objects.exclude(outcome__in=operations.NOT_REJECTED)
    unknown = counters.exclude(device_key__in=Device.objects.values("device_id"))
    keys = list(unknown.values_list("device_key", flat=True).distinct()[:PAGE_SIZE])
    rows = operations.ingest_counters(keys)
    return sorted(
        ({"device_key": k, **v} for k, v in rows.items()),
        key=lambda r: (-r["rejected"], r["device_key"]),
    )


def _vehicles_context(request: HttpRequest, create_form: VehicleForm) -> dict[str, Any]:
    form = VehicleSearchForm(request.GET or None)
    page = _page_number(request.GET.get("page"))
    offset = (page - 1) * PAGE_SIZE
    rows = list(_vehicles_found(form).order_by("code")[offset : offset + PAGE_SIZE + 1])
    shown = rows[:PAGE_SIZE]
    counters = operations.ingest_counters(d.device_id for v in shown for d in v.devices.all())
    for v in shown:
        v.device_rows = [(d, counters.get(d.device_id)) for d in v.devices.all()]  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    totals = Vehicle.objects.aggregate(
        vehicles=Count("pk"), withdrawn=Count("pk", filter=Q(is_active=False))
    )
    return {
        "form": form,
        "create_form": create_form,
        "rows": shown,
        "page": page,
        "has_previous": page > 1,
        "has_next": len(rows) > PAGE_SIZE,
        "query": query.urlencode(),
        "totals": totals,
        "devices_total": Device.objects.filter(is_active=True).count(),
        "unknown": _unknown_rejects(),
        "ghost_after_s": settings.TRANSIT_GHOST_AFTER_S,
    }


@never_cache
@require_GET
@official_required
def vehicles(request: HttpRequest) -> HttpResponse:
    _require(request)
    return render(
        request, "transit/official/vehicles.html", _vehicles_context(request, VehicleForm())
    )


@require_POST
@official_required
def vehicle_create(request: HttpRequest) -> HttpResponse:
    _require(request)
    form = VehicleForm(request.POST)
    if form.is_valid():
        try:
            vehicle = devices.vehicle_create(actor=request.user, **form.cleaned_data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                _("Vehicle %(code)s is registered. Fit it with a device below.")
                % {"code": vehicle.code},
            )
            return redirect("transit_official:vehicle", vehicle_id=vehicle.pk)
    context = _vehicles_context(request, form)
    return render(request, "transit/official/vehicles.html", context, status=422)


def _vehicle(vehicle_id: int) -> Vehicle:
    return get_object_or_404(Vehicle, pk=vehicle_id)


def _vehicle_context(vehicle: Vehicle, form: DeviceForm | None = None) -> dict[str, Any]:
    device_list = list(vehicle.devices.order_by("-is_active", "device_id"))
    counters = operations.ingest_counters(d.device_id for d in device_list)
    state = VehicleState.objects.filter(vehicle=vehicle).first()
    now = timezone.now()
    ghost_after = int(settings.TRANSIT_GHOST_AFTER_S)
    return {
        "vehicle": vehicle,
        "state": state,
        "state_age": operations.format_duration((now - state.recorded_at).total_seconds())
        if state and state.recorded_at
        else None,
        "delay_text": operations.format_delay(state.deviation_s) if state else "—",
        "device_rows": [
            {
                "device": d,
                "counters": counters.get(d.device_id),
                "silent": d.is_active
                and (
                    d.last_seen_at is None or (now - d.last_seen_at).total_seconds() > ghost_after
                ),
            }
            for d in device_list
        ],
        "form": form or DeviceForm(),
        "ingest_url": _ingest_url(),
        "mqtt_topic": str(settings.TRANSIT_MQTT_TOPIC).replace("+", "<device id>"),
    }


def _ingest_url() -> str:
    try:
        return reverse("transit:ingest_positions")
    except Exception:  # the ingest's URLs are another module's
        return "/transit/ingest/v1/positions"


@never_cache
@require_GET
@official_required
def vehicle(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    _require(request)
    item = _vehicle(vehicle_id)
    return render(request, "transit/official/vehicle.html", _vehicle_context(item))


def _show_token(request: HttpRequest, item: Vehicle, device: Device, token: str) -> HttpResponse:
    context = _vehicle_context(item)
    context["new_token"] = token
    context["token_device"] = device
    response = render(request, "transit/official/vehicle.html", context)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_POST
@official_required
def device_register(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    _require(request)
    item = _vehicle(vehicle_id)
    form = DeviceForm(request.POST)
    if form.is_valid():
        try:
            device, token = devices.device_register(
                actor=request.user, vehicle=item, device_id=form.cleaned_data["device_id"]
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            return _show_token(request, item, device, token)
    context = _vehicle_context(item, form)
    return render(request, "transit/official/vehicle.html", context, status=422)


def _device(device_id: int) -> Device:
    return get_object_or_404(Device.objects.select_related("vehicle"), pk=device_id)


@never_cache
@require_POST
@official_required
def device_rotate(request: HttpRequest, device_id: int) -> HttpResponse:
    _require(request)
    device = _device(device_id)
    token = devices.device_rotate_token(actor=request.user, device=device)
    device.refresh_from_db()
    return _show_token(request, device.vehicle, device, token)


@require_POST
@official_required
def device_deactivate(request: HttpRequest, device_id: int) -> HttpResponse:
    _require(request)
    device = _device(device_id)
    try:
        devices.device_deactivate(actor=request.user, device=device)
    except InvalidTransition as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _("Device %(device)s is switched off: its reports are refused from now on.")
            % {"device": device.device_id},
        )
    return redirect("transit_official:vehicle", vehicle_id=device.vehicle_id)


# --- service alerts ---------------------------------------------------------------------------


def _alerts_context(form: AlertForm) -> dict[str, Any]:
    from . import alerts as alert_services  # H5's reads

    now = timezone.now()
    rows = alert_services.published_alerts(now=now)  # in force now, or announced for later
    prefetch_related_objects(rows, "created_by")
    current = Q(ended_at__isnull=True) & (Q(active_until__isnull=True) | Q(active_until__gt=now))
    ended = list(
        ServiceAlert.objects.exclude(current)
        .select_related("created_by")
        .order_by("-updated_at", "-pk")[:ENDED_ALERTS_SHOWN]
    )
    return {
        "form": form,
        "in_force": [a for a in rows if a.active_from <= now],
        "upcoming": [a for a in rows if a.active_from > now],
        "ended": ended,
        "now": now,
    }


@never_cache
@require_GET
@official_required
def alerts(request: HttpRequest) -> HttpResponse:
    _require(request)
    feed = _active_feed()
    form = AlertForm(feed_id=feed.pk if feed else None)
    return render(request, "transit/official/alerts.html", _alerts_context(form))


@require_POST
@official_required
def alert_create(request: HttpRequest) -> HttpResponse:
    _require(request)
    from . import alerts as alert_services  # H5's services

    feed = _active_feed()
    form = AlertForm(request.POST, feed_id=feed.pk if feed else None)
    if form.is_valid():
        data = dict(form.cleaned_data)
        try:
            alert = alert_services.alert_create(actor=request.user, **data)
        except PermissionDenied as error:
            raise DjangoPermissionDenied(str(error.message)) from None
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            messages.success(
                request, _("The alert “%(header)s” is published.") % {"header": alert.header}
            )
            return redirect("transit_official:alerts")
    return render(request, "transit/official/alerts.html", _alerts_context(form), status=422)


@require_POST
@official_required
def alert_end(request: HttpRequest, alert_id: int) -> HttpResponse:
    _require(request)
    from . import alerts as alert_services  # H5's services

    alert = get_object_or_404(ServiceAlert, pk=alert_id)
    try:
        alert_services.alert_end(actor=request.user, alert=alert)
    except PermissionDenied as error:
        raise DjangoPermissionDenied(str(error.message)) from None
    except (InvalidTransition, ValidationFailed) as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The alert “%(header)s” is ended.") % {"header": alert.header})
    return redirect("transit_official:alerts")


# --- timetables -------------------------------------------------------------------------------


def _timetables_context(form: GtfsUploadForm, **extra: Any) -> dict[str, Any]:
    feeds = list(Feed.objects.select_related("imported_by").order_by("-version")[:FEEDS_SHOWN])
    for feed in feeds:
        feed.error_count = len(feed.errors or [])  # type: ignore[attr-defined]
        feed.warning_count = len(feed.warnings or [])  # type: ignore[attr-defined]
        feed.row_total = sum(int(n) for n in (feed.counts or {}).values())  # type: ignore[attr-defined]
    return {"form": form, "feeds": feeds, "shown": ERRORS_SHOWN, **extra}


@never_cache
@require_GET
@official_required
def timetables(request: HttpRequest) -> HttpResponse:
    _require(request)
    return render(
        request, "transit/official/timetables.html", _timetables_context(GtfsUploadForm())
    )


@require_POST
@official_required
def timetable_upload(request: HttpRequest) -> HttpResponse:
    _require(request)
    form = GtfsUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(
            request, "transit/official/timetables.html", _timetables_context(form), status=422
        )
    from . import gtfs  # H1's importer

    data = form.cleaned_data
    data["file"].seek(0)
    try:
        feed = gtfs.import_feed(
            source=data["file"],  # read with its name: the version keeps the file's name
            name=data["name"],
            actor=request.user,
            activate=data["activate"],
        )
    except ThudoError as error:
        rows = list(getattr(error, "errors", None) or [])
        if not rows:
            apply_errors(form, error)
        failed = getattr(error, "feed", None) or (
            Feed.objects.filter(status=Feed.Status.FAILED).order_by("-version").first()
            if rows
            else None
        )
        context = _timetables_context(
            form,
            import_errors=rows[:ERRORS_SHOWN],
            import_error_count=len(rows),
            failed_feed=failed,
        )
        return render(request, "transit/official/timetables.html", context, status=422)
    if feed.status == Feed.Status.ACTIVE:
        messages.success(
            request,
            _("Version %(version)s is imported and switched on.") % {"version": feed.version},
        )
    else:
        messages.success(
            request,
            _("Version %(version)s is imported. Check it, then switch it on.")
            % {"version": feed.version},
        )
    return redirect("transit_official:feed", feed_id=feed.pk)


@never_cache
@require_GET
@official_required
def feed(request: HttpRequest, feed_id: int) -> HttpResponse:
    _require(request)
    item = get_object_or_404(Feed.objects.select_related("imported_by"), pk=feed_id)
    errors = list(item.errors or [])
    warnings = list(item.warnings or [])
    context = {
        "feed": item,
        "errors": errors[:ERRORS_SHOWN],
        "error_count": len(errors),
        "warnings": warnings[:ERRORS_SHOWN],
        "warning_count": len(warnings),
        "counts": sorted((item.counts or {}).items()),
        "shown": ERRORS_SHOWN,
        "can_activate": _can_activate(item),
    }
    return render(request, "transit/official/feed.html", context)


def _can_activate(feed: Feed) -> bool:
    """A READY version, or a REPLACED one that still has its timetable (to go back to it)."""
    if feed.status == Feed.Status.READY:
        return True
    return feed.status == Feed.Status.REPLACED and Trip.objects.filter(feed=feed).exists()


@require_POST
@official_required
def feed_activate(request: HttpRequest, feed_id: int) -> HttpResponse:
    _require(request)
    from . import gtfs  # H1's importer

    item = get_object_or_404(Feed, pk=feed_id)
    if not _can_activate(item):
        messages.error(
            request,
            _(
                "Only a version that is ready, or a replaced one that still has its "
                "timetable, can be switched on."
            ),
        )
        return redirect("transit_official:feed", feed_id=item.pk)
    try:
        gtfs.feed_activate(feed=item, actor=request.user)
    except ThudoError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request, _("Version %(version)s is switched on.") % {"version": item.version}
        )
    return redirect("transit_official:feed", feed_id=item.pk)
