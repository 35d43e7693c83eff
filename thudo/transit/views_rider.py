"""Riders' pages at /transit/ (no sign-in): the bus locator (search, nearby stops, the routes),
a stop's next arrivals with reminders, a route's map with its buses, and the LED stop panel with
its spoken announcement. Reads only, all through `selectors`; the JSON endpoints feed the pages'
own refreshes (arrivals every 20 s, buses every 10 s, panels every 15 s).

Every text a page or a JSON answer shows is translated here (English msgids, Vietnamese is the
default language), so that the scripts only place text they were given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from thudo.core.errors import NotFound, ValidationFailed

from . import selectors
from .engine.types import TZ
from .models import ServiceAlert
from .selectors import Arrival

ARRIVALS_REFRESH_S = 20
VEHICLES_REFRESH_S = 10
PANEL_REFRESH_S = 15
REMIND_CHOICES = (2, 5, 10)
PANEL_ROWS = 8
ANNOUNCE_ROWS = 3
STOP_ROWS = 10


# --- presentation helpers ------------------------------------------------------------------


def _hhmm(when: datetime) -> str:
    return timezone.localtime(when, TZ).strftime("%H:%M")


def minutes_text(minutes: int) -> str:
    if minutes <= 0:
        return _("Arriving")
    return ngettext("%(n)s min", "%(n)s min", minutes) % {"n": minutes}


def delay_text(delay_s: int | None) -> str:
    if delay_s is None:
        return ""
    minutes = round(abs(delay_s) / 60)
    if minutes == 0:
        return _("on time")
    if delay_s > 0:
        return ngettext("%(n)s min late", "%(n)s min late", minutes) % {"n": minutes}
    return ngettext("%(n)s min early", "%(n)s min early", minutes) % {"n": minutes}


def arrival_json(a: Arrival) -> dict[str, Any]:
    """One arrival as the pages and scripts show it: the data and its texts."""
    margin = round(a.uncertainty_s / 60) if a.live else 0
    return {
        "key": a.key,
        "trip_id": a.trip_id,
        "route_id": a.route_id,
        "route_short_name": a.route_short_name,
        "route_color": a.route_color,
        "route_text_color": a.route_text_color,
        "route_url": reverse("transit:route", args=[a.route_id]),
        "headsign": a.headsign,
        "direction_id": a.direction_id,
        "when": a.when.isoformat(),
        "when_ts": int(a.when.timestamp() * 1000),
        "when_text": _hhmm(a.when),
        "minutes": a.minutes,
        "minutes_text": minutes_text(a.minutes),
        "live": a.live,
        "status_text": _("Live") if a.live else _("Scheduled"),
        "uncertainty_s": a.uncertainty_s,
        "margin_text": (_("± %(n)s min") % {"n": margin}) if margin >= 1 else "",
        "vehicle_label": a.vehicle_label,
        "scheduled": a.scheduled.isoformat() if a.scheduled else None,
        "scheduled_text": _hhmm(a.scheduled) if a.scheduled else "",
        "delay_s": a.delay_s,
        "delay_text": delay_text(a.delay_s) if a.live else "",
    }


def _localised(alert: ServiceAlert, name: str) -> str:
    value = str(getattr(alert, name) or "")
    if (get_language() or "vi").startswith("en"):
        return str(getattr(alert, f"{name}_en") or "") or value
    return value


def alert_json(alert: ServiceAlert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "severity": alert.severity,
        "severity_text": str(alert.get_severity_display()),
        "effect_text": str(alert.get_effect_display()),
        "header": _localised(alert, "header"),
        "description": _localised(alert, "description"),
        "url": alert.url,
        "until": alert.active_until.isoformat() if alert.active_until else None,
        "until_text": (
            _("until %(time)s")
            % {"time": timezone.localtime(alert.active_until, TZ).strftime("%H:%M %d/%m")}
            if alert.active_until
            else ""
        ),
    }


def _stop_or_404(stop_id: str) -> dict[str, Any]:
    try:
        return selectors.stop_get(stop_id)
    except NotFound:
        raise Http404 from None


def _route_or_404(route_id: str) -> dict[str, Any]:
    try:
        return selectors.route_detail(route_id)
    except NotFound:
        raise Http404 from None


def _json_error(exc: NotFound | ValidationFailed) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status)


def _live_json(body: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def _int_param(request: HttpRequest, name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(request.GET.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(lo, min(hi, value))


def _stop_payload(stop: dict[str, Any], *, limit: int, now: datetime) -> dict[str, Any]:
    arrivals = selectors.stop_arrivals(stop["stop_id"], now=now, limit=limit)
    alerts = selectors.alerts_for(
        route_ids=[r["route_id"] for r in stop["routes"]], stop_ids=[stop["stop_id"]], now=now
    )
    rows = [arrival_json(a) for a in arrivals]
    if rows:
        first = rows[0]
        summary = _("Next: bus %(number)s towards %(headsign)s, %(when)s (%(status)s).") % {
            "number": first["route_short_name"],
            "headsign": first["headsign"],
            "when": first["minutes_text"] if first["live"] else first["when_text"],
            "status": first["status_text"],
        }
    else:
        summary = _("No bus is expected in the next 90 minutes.")
    return {
        "stop": {"stop_id": stop["stop_id"], "name": stop["name"], "code": stop["code"]},
        "now": now.isoformat(),
        "now_ts": int(now.timestamp() * 1000),
        "updated_time": _hhmm(now),
        "updated_text": _("Updated at %(time)s") % {"time": _hhmm(now)},
        "summary": summary,
        "arrivals": rows,
        "alerts": [alert_json(a) for a in alerts],
    }


def _map_config(**extra: Any) -> dict[str, Any]:
    tile_url = str(getattr(settings, "MAP_TILE_URL", "") or "")
    bounds = tuple(getattr(settings, "FEEDBACK_BOUNDS", (20.5, 105.2, 21.4, 106.1)))
    config: dict[str, Any] = {
        "tileUrl": tile_url,
        "tileAttribution": str(getattr(settings, "MAP_TILE_ATTRIBUTION", "") or ""),
        "wards": [] if tile_url else selectors.ward_centres(),
        "bounds": [[bounds[0], bounds[1]], [bounds[2], bounds[3]]],
    }
    config.update(extra)
    return config


# --- the locator home -------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Search a stop or route, nearby stops (the browser's position), every route."""
    q = request.GET.get("q", "").strip()[:100]
    results = selectors.search(q, limit=20) if q else None
    context = {
        "q": q,
        "results": results,
        "routes": selectors.routes_list(),
        "has_feed": selectors.network_index() is not None,
        "locator_config": {
            "nearbyUrl": reverse("transit:nearby_json"),
            "text": {
                "locating": _("Looking for your position…"),
                "failed": _("Your position could not be found. Search for a stop by its name."),
                "denied": _(
                    "The browser did not share your position. Search for a stop by its name."
                ),
                "none": _("No stop within 1 km of your position."),
                "found": _("%(n)s stops near you, nearest first."),
                "metres": _("%(n)s m"),
                "loadFailed": _("The stops near you could not be loaded."),
            },
        },
    }
    return render(request, "transit/home.html", context)


@require_GET
def search_json(request: HttpRequest) -> JsonResponse:
    q = request.GET.get("q", "").strip()[:100]
    limit = _int_param(request, "limit", 10, 1, 50)
    return JsonResponse(selectors.search(q, limit=limit), json_dumps_params={"ensure_ascii": False})


@require_GET
def nearby_json(request: HttpRequest) -> JsonResponse:
    """Stops near ?lat=&lon= (WGS 84 degrees) within ?radius= metres (default 1000, max 3000)."""
    fields: dict[str, str] = {}
    values: dict[str, float] = {}
    for name, lo, hi in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0)):
        raw = request.GET.get(name, "").strip().replace(",", ".")
        try:
            value = float(raw)
        except ValueError:
            fields[name] = _("Enter a number in degrees.") if raw else _("This field is required.")
            continue
        if not (lo <= value <= hi) or value != value:
            fields[name] = _("Must be between %(lo)s and %(hi)s degrees.") % {"lo": lo, "hi": hi}
            continue
        values[name] = value
    if fields:
        return _json_error(ValidationFailed(fields=fields))
    radius = _int_param(request, "radius", 1000, 50, 3000)
    stops = selectors.nearby_stops(values["lat"], values["lon"], radius_m=radius, limit=8)
    for stop in stops:
        stop["url"] = reverse("transit:stop", args=[stop["stop_id"]])
    return JsonResponse({"stops": stops}, json_dumps_params={"ensure_ascii": False})


# --- a stop ------------------------------------------------------------------------------------


@require_GET
def stop_detail(request: HttpRequest, stop_id: str) -> HttpResponse:
    """The next arrivals at a stop (live and scheduled), its alerts and reminders."""
    stop = _stop_or_404(stop_id)
    now = timezone.now()
    payload = _stop_payload(stop, limit=STOP_ROWS, now=now)
    config = {
        "arrivalsUrl": reverse("transit:stop_arrivals_json", args=[stop_id]),
        "refreshS": ARRIVALS_REFRESH_S,
        "nowTs": payload["now_ts"],
        "initial": payload,
        "stopId": stop_id,
        "stopName": stop["name"],
        "choices": list(REMIND_CHOICES),
        "text": {
            "arriving": _("Arriving"),
            "minutes": _("%(n)s min"),
            "remind": _("Remind me"),
            "remindLabel": _("Remind me before bus %(number)s towards %(headsign)s arrives"),
            "remindChoice": _("%(n)s min before"),
            "remindSet": _("Reminder: %(n)s min before"),
            "remindCancel": _("Cancel the reminder"),
            "remindSaved": _(
                "You will be reminded when bus %(number)s is %(n)s minutes away. Keep this page "
                "open."
            ),
            "remindCancelled": _("The reminder is cancelled."),
            "remindNow": _("Bus %(number)s towards %(headsign)s arrives in %(n)s min at %(stop)s."),
            "remindArriving": _("Bus %(number)s towards %(headsign)s is arriving at %(stop)s."),
            "notifyTitle": _("Your bus is coming"),
            "offline": _(
                "No connection. The times shown were updated at %(time)s and may be out of date."
            ),
            "none": _("No bus is expected in the next 90 minutes."),
            "live": _("Live"),
            "scheduled": _("Scheduled"),
            "vehicle": _("Bus %(label)s"),
            "route": _("Route"),
            "towards": _("towards"),
        },
    }
    context = {
        "stop": stop,
        "payload": payload,
        "config": config,
        "remind_choices": REMIND_CHOICES,
        "panel_url": reverse("transit:panel", args=[stop_id]),
    }
    return render(request, "transit/stop.html", context)


@never_cache
@require_GET
def stop_arrivals_json(request: HttpRequest, stop_id: str) -> JsonResponse:
    """The stop page's and the panel's refresh: arrivals (?limit=, 1–20), alerts, texts."""
    try:
        stop = selectors.stop_get(stop_id)
    except NotFound as exc:
        return _json_error(exc)
    limit = _int_param(request, "limit", STOP_ROWS, 1, 20)
    return _live_json(_stop_payload(stop, limit=limit, now=timezone.now()))


# --- a route -----------------------------------------------------------------------------------


def _direction(detail: dict[str, Any], raw: str | None) -> dict[str, Any] | None:
    directions = detail["directions"]
    if not directions:
        return None
    for d in directions:
        if raw is not None and str(d["direction_id"]) == raw:
            return d
    return directions[0]


def _route_live(route_id: str, direction: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    vehicles = selectors.route_vehicles(route_id, now=now)
    direction_id = direction["direction_id"] if direction else None
    nexts = selectors.route_next_arrivals(route_id, direction_id=direction_id, now=now)
    stops = {}
    for stop_id, item in nexts.items():
        stops[stop_id] = {
            "minutes": item["minutes"],
            "live": item["live"],
            "text": minutes_text(item["minutes"]) if item["live"] else _hhmm(item["when"]),
            "status_text": _("Live") if item["live"] else _("Scheduled"),
        }
    out_vehicles = []
    for v in vehicles:
        out_vehicles.append(
            {
                "vehicle_id": v["vehicle_id"],
                "label": v["label"],
                "lat": v["lat"],
                "lon": v["lon"],
                "bearing": v["bearing"],
                "direction_id": v["direction_id"],
                "headsign": v["headsign"],
                "next_stop_id": v["next_stop_id"],
                "next_stop_name": v["next_stop_name"],
                "delay_s": v["delay_s"],
                "delay_text": delay_text(v["delay_s"]),
                "status": v["status"],
                "age_s": v["age_s"],
                "age_text": ngettext(
                    "position %(n)s second ago", "position %(n)s seconds ago", v["age_s"]
                )
                % {"n": v["age_s"]},
            }
        )
    return {
        "now": now.isoformat(),
        "updated_text": _("Updated at %(time)s") % {"time": _hhmm(now)},
        "vehicles": out_vehicles,
        "stops": stops,
        "count_text": ngettext(
            "%(n)s bus on this route now.", "%(n)s buses on this route now.", len(out_vehicles)
        )
        % {"n": len(out_vehicles)},
    }


@require_GET
def route_detail(request: HttpRequest, route_id: str) -> HttpResponse:
    """A route's map (shape, stops, live buses), direction switch, stops with next arrivals."""
    detail = _route_or_404(route_id)
    direction = _direction(detail, request.GET.get("direction"))
    now = timezone.now()
    live = _route_live(route_id, direction, now)
    route = detail["route"]
    alerts = selectors.alerts_for(route_ids=[route_id], now=now)
    direction_id = direction["direction_id"] if direction else None
    stops = []
    for s in direction["stops"] if direction else []:
        stops.append(s | {"next": live["stops"].get(s["stop_id"])})
    map_config = _map_config(
        route=route,
        direction=direction_id,
        shape=direction["shape"] if direction else [],
        stops=[
            {
                "stop_id": s["stop_id"],
                "name": s["name"],
                "lat": s["lat"],
                "lon": s["lon"],
                "url": reverse("transit:stop", args=[s["stop_id"]]),
            }
            for s in (direction["stops"] if direction else [])
        ],
        vehicles=live["vehicles"],
        vehiclesUrl=reverse("transit:route_vehicles_json", args=[route_id])
        + (f"?direction={direction_id}" if direction_id is not None else ""),
        refreshS=VEHICLES_REFRESH_S,
        text={
            "offline": ""
            if getattr(settings, "MAP_TILE_URL", "")
            else _("Offline base map: ward centres only, no streets."),
            "bus": _("Bus %(label)s"),
            "next": _("next stop: %(name)s"),
            "openStop": _("See the next buses"),
            "failed": _(
                "The buses could not be refreshed. The map shows the last known positions."
            ),
        },
    )
    context = {
        "route": route,
        "detail": detail,
        "direction": direction,
        "stops": stops,
        "live": live,
        "alerts": [alert_json(a) for a in alerts],
        "map_config": map_config,
        "offline_map": not getattr(settings, "MAP_TILE_URL", ""),
    }
    return render(request, "transit/route.html", context)


@never_cache
@require_GET
def route_vehicles_json(request: HttpRequest, route_id: str) -> JsonResponse:
    """The route page's refresh: buses (all directions) and the next bus at each stop of
    ?direction=."""
    try:
        detail = selectors.route_detail(route_id)
    except NotFound as exc:
        return _json_error(exc)
    direction = _direction(detail, request.GET.get("direction"))
    return _live_json(_route_live(route_id, direction, timezone.now()))


# --- the stop panel ------------------------------------------------------------------------------


@require_GET
def panel(request: HttpRequest, stop_id: str) -> HttpResponse:
    """The LED stop panel: full screen, large, high contrast; refreshes itself, keeps the last
    data when the network drops, and speaks the announcement (speechSynthesis, when offered)."""
    stop = _stop_or_404(stop_id)
    now = timezone.now()
    payload = _stop_payload(stop, limit=PANEL_ROWS, now=now)
    language = get_language() or "vi"
    config = {
        "nowTs": payload["now_ts"],
        "initial": payload,
        "arrivalsUrl": reverse("transit:stop_arrivals_json", args=[stop_id])
        + f"?limit={PANEL_ROWS}",
        "announcementUrl": reverse("transit:panel_announcement", args=[stop_id]),
        "refreshS": PANEL_REFRESH_S,
        "announceEveryS": 180,
        "speechLang": "vi-VN" if language.startswith("vi") else "en-GB",
        "auto": request.GET.get("announce") == "auto",
        "text": {
            "arriving": _("Arriving"),
            "minutes": _("%(n)s min"),
            "offline": _("No connection — data from %(time)s"),
            "none": _("No bus is expected in the next 90 minutes."),
            "speak": _("Read out the next buses"),
            "autoOn": _("Automatic announcements: on"),
            "autoOff": _("Automatic announcements: off"),
            "noSpeech": _("This browser cannot read text aloud."),
        },
    }
    context = {"stop": stop, "payload": payload, "config": config}
    return render(request, "transit/panel.html", context)


def announcement_text(stop: dict[str, Any], *, now: datetime | None = None) -> str:
    """What a stop's loudspeaker says: the stop, the next buses, alerts (plain sentences in the
    active language)."""
    now = now or timezone.now()
    arrivals = selectors.stop_arrivals(stop["stop_id"], now=now, limit=ANNOUNCE_ROWS)
    lines = [_("Stop %(name)s.") % {"name": stop["name"]}]
    for a in arrivals:
        values = {"number": a.route_short_name, "headsign": a.headsign}
        if a.live and a.minutes <= 0:
            lines.append(_("Bus number %(number)s towards %(headsign)s is arriving now.") % values)
        elif a.live:
            lines.append(
                ngettext(
                    "Bus number %(number)s towards %(headsign)s will arrive in %(minutes)s minute.",
                    "Bus number %(number)s towards %(headsign)s will arrive in %(minutes)s "
                    "minutes.",
                    a.minutes,
                )
                % (values | {"minutes": a.minutes})
            )
        else:
            lines.append(
                _("Bus number %(number)s towards %(headsign)s is scheduled to leave at %(time)s.")
                % (values | {"time": _hhmm(a.when)})
            )
    if not arrivals:
        lines.append(_("No bus is expected in the next 90 minutes."))
    alerts = selectors.alerts_for(
        route_ids=[r["route_id"] for r in stop["routes"]], stop_ids=[stop["stop_id"]], now=now
    )
    for alert in alerts:
        header = _localised(alert, "header").strip().rstrip(".")
        lines.append(_("Notice: %(header)s.") % {"header": header})
    return "\n".join(lines) + "\n"


@never_cache
@require_GET
def panel_announcement(request: HttpRequest, stop_id: str) -> HttpResponse:
    """The announcement as plain text (UTF-8), one sentence a line."""
    stop = _stop_or_404(stop_id)
    response = HttpResponse(announcement_text(stop), content_type="text/plain; charset=utf-8")
    response["Content-Language"] = get_language() or "vi"
    return response
