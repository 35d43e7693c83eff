"""Reads for riders: find a stop or a route, the next arrivals at a stop (live predictions merged
with the timetable), a route's stops and shape, and the buses on a route right now.

Everything here reads the ACTIVE feed version. The small, slow-changing part of it — stops,
routes, which routes serve which stop — is held per process in a `NetworkIndex`
keyed by the feed version (one query checks which version is active; a new version builds a new
index), so that a search or a stop page costs a handful of queries whatever the network's size.

Scheduled departures come from `timetable` (H1's reads: calendars, trips past midnight).
Live rows (Prediction, VehicleState) name trips, routes and stops by GTFS ids. A vehicle that is
a ghost, or whose last report is older than TRANSIT_GHOST_AFTER_S, is never shown as live.
A trip that has a live prediction at a stop is not listed again as scheduled; a trip whose bus is
tracked and has already passed the stop (or was observed arriving there) is not listed at all.
Arrivals at the last stop of a trip are left out: nobody can board there.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone

from thudo.core.errors import NotFound

from . import timetable
from .engine.types import TZ, haversine_m, service_day_start
from .models import (
    Feed,
    Prediction,
    Route,
    ServiceAlert,
    Shape,
    Stop,
    StopArrival,
    StopTime,
    Trip,
    VehicleState,
)

DAY_S = 86_400
_NON_WORD = re.compile(r"[^\w]+")


# --- text and colours ----------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lowercase, without Vietnamese diacritics (đ → d), punctuation as single spaces: "Cầu
    Giấy" and "cau giay" fold to the same words."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", bare.lower()).split())


def _luminance(hex6: str) -> float:
    channels = []
    for i in (0, 2, 4):
        c = int(hex6[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours given as six hex digits (no #)."""
    la, lb = _luminance(a), _luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def _hex6(value: str) -> str:
    value = (value or "").strip().lstrip("#")
    return value.lower() if re.fullmatch(r"[0-9a-fA-F]{6}", value) else ""


def badge_colours(color: str, text_color: str = "") -> tuple[str, str]:
    """("#rrggbb" background, "#rrggbb" text) for a route's number badge with at least 4.5:1
    contrast: the feed's colours when they reach it, else the route colour with black or white
    text (whichever contrasts more), else the site's dark ink on white."""
    bg, fg = _hex6(color), _hex6(text_color)
    if not bg:
        return "#1b1b1f", "#ffffff"
    if fg and contrast_ratio(bg, fg) >= 4.5:
        return f"#{bg}", f"#{fg}"
    best = max(("ffffff", "000000"), key=lambda c: contrast_ratio(bg, c))
    return f"#{bg}", f"#{best}"


# --- the per-process index of the active feed ---------------------------------------------------


@dataclass(slots=True)
class StopEntry:
    stop_id: str
    code: str
    name: str
    lat: float
    lon: float
    folded: str
    route_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stop_id": self.stop_id,
            "code": self.code,
            "name": self.name,
            "lat": self.lat,
            "lon": self.lon,
            "route_ids": list(self.route_ids),
        }


@dataclass(slots=True)
class RouteEntry:
    route_id: str
    short_name: str
    long_name: str
    description: str
    color: str  # "#rrggbb" badge background (contrast-checked)
    text_color: str  # "#rrggbb" badge text
    folded: str
    order: int

    @property
    def number(self) -> str:
        return self.short_name or self.route_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "route_id": self.route_id,
            "short_name": self.number,
            "long_name": self.long_name,
            "color": self.color,
            "text_color": self.text_color,
        }


@dataclass
class NetworkIndex:
    """The active feed's stops and routes, read once per feed version."""

    key: tuple[Any, ...]
    feed: Feed
    stops: dict[str, StopEntry]
    routes: dict[str, RouteEntry]  # in display order
    _route_details: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def feed_id(self) -> int:
        return int(self.feed.pk)

    def services_on(self, day: date) -> set[str]:
        """Service ids running on a service day (`timetable.services_on`, cached there)."""
        return timetable.services_on(self.feed, day)

    def stop(self, stop_id: str) -> StopEntry:
        entry = self.stops.get(stop_id)
        if entry is None:
            raise NotFound(code="stop_not_found")
        return entry

    def route(self, route_id: str) -> RouteEntry:
        entry = self.routes.get(route_id)
        if entry is None:
            raise NotFound(code="route_not_found")
        return entry


_LOCK = threading.Lock()
_INDEX: dict[str, NetworkIndex] = {}


def clear_cache() -> None:
    """Forget the per-process index (tests; a feed edited in place)."""
    with _LOCK:
        _INDEX.clear()


def _feed_key(feed: Feed) -> tuple[Any, ...]:
    # the creation time tells apart two rows that got the same primary key (a test database
    # rolled back); activation and hash a feed switched off and on again
    return (feed.pk, feed.version, feed.created_at, feed.activated_at, feed.sha256)


def _build_index(feed: Feed) -> NetworkIndex:
    feed_id = feed.pk
    stops: dict[str, StopEntry] = {}
    by_pk: dict[int, StopEntry] = {}
    rows = Stop.objects.filter(feed_id=feed_id, location_type=0).values_list(
        "pk", "stop_id", "code", "name", "lat", "lon"
    )
    for pk, stop_id, code, name, lat, lon in rows:
        entry = StopEntry(stop_id, code, name, lat, lon, fold(f"{name} {code}"))
        stops[stop_id] = entry
        by_pk[pk] = entry

    routes: dict[str, RouteEntry] = {}
    route_rows = list(
        Route.objects.filter(feed_id=feed_id).values_list(
            "pk",
            "route_id",
            "short_name",
            "long_name",
            "description",
            "color",
            "text_color",
            "sort_order",
        )
    )
    route_by_pk: dict[int, RouteEntry] = {}

    def natural(short: str) -> tuple[Any, ...]:
        # "2" before "10", "E01" after the numbers
        digits = re.match(r"(\d+)", short or "")
        return (0, int(digits.group(1)), short) if digits else (1, 0, short or "")

    route_rows.sort(key=lambda r: (r[7] if r[7] is not None else 1 << 30, natural(r[2] or r[1])))
    for i, (pk, route_id, short, long_name, desc, color, text_color, _order) in enumerate(
        route_rows
    ):
        bg, fg = badge_colours(color, text_color)
        route_entry = RouteEntry(
            route_id, short, long_name, desc, bg, fg, fold(f"{short} {long_name}"), i
        )
        routes[route_id] = route_entry
        route_by_pk[pk] = route_entry

    pairs = (
        StopTime.objects.filter(trip__feed_id=feed_id)
        .order_by()
        .values_list("stop_id", "trip__route_id")
        .distinct()
    )
    for stop_pk, route_pk in pairs:
        stop = by_pk.get(stop_pk)
        route = route_by_pk.get(route_pk)
        if stop is not None and route is not None:
            stop.route_ids.append(route.route_id)
    for stop in stops.values():
        stop.route_ids.sort(key=lambda rid: routes[rid].order)

    return NetworkIndex(_feed_key(feed), feed, stops, routes)


def network_index() -> NetworkIndex | None:
    """The active feed's index (built on first use per feed version); None without a feed."""
    feed = timetable.active_feed()
    if feed is None:
        return None
    cache_key = repr(_feed_key(feed))
    index = _INDEX.get(cache_key)
    if index is None:
        with _LOCK:
            index = _INDEX.get(cache_key)
            if index is None:
                index = _build_index(feed)
                _INDEX.clear()
                _INDEX[cache_key] = index
    return index


def _require_index() -> NetworkIndex:
    index = network_index()
    if index is None:
        raise NotFound(code="no_active_feed")
    return index


# --- search and lists ----------------------------------------------------------------------------


def search(q: str, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Stops and routes matching every word of `q`, with or without Vietnamese diacritics ("cau
    giay" finds "Cầu Giấy"); a stop also by its code, a route by its number. Best matches first:
    exact code or number, then names starting with the query, then the rest by name."""
    words = fold(q).split()
    index = network_index()
    if not words or index is None:
        return {"stops": [], "routes": []}
    phrase = " ".join(words)
    raw = (q or "").strip().lower()

    def score_name(folded: str) -> int | None:
        if not all(w in folded for w in words):
            return None
        if folded.startswith(phrase):
            return 1
        if f" {phrase}" in f" {folded}":
            return 2
        return 3

    stops: list[tuple[int, str, StopEntry]] = []
    for stop in index.stops.values():
        if stop.code and stop.code.lower() == raw:
            stops.append((0, stop.name, stop))
            continue
        score = score_name(stop.folded)
        if score is not None:
            stops.append((score, fold(stop.name), stop))
    stops.sort(key=lambda t: (t[0], t[1], t[2].stop_id))

    routes: list[tuple[int, int, RouteEntry]] = []
    for route in index.routes.values():
        number = route.number.lower()
        if number == raw or fold(number) == phrase:
            routes.append((0, route.order, route))
            continue
        score = score_name(route.folded)
        if score is not None:
            routes.append((score, route.order, route))
    routes.sort(key=lambda t: (t[0], t[1]))

    def stop_dict(entry: StopEntry) -> dict[str, Any]:
        d = entry.as_dict()
        d["routes"] = [index.routes[r].as_dict() for r in entry.route_ids]
        return d

    return {
        "stops": [stop_dict(s) for _, _, s in stops[:limit]],
        "routes": [r.as_dict() for _, _, r in routes[:limit]],
    }


def routes_list() -> list[dict[str, Any]]:
    """Every route of the active feed in display order (number, name, badge colours)."""
    index = network_index()
    if index is None:
        return []
    return [r.as_dict() | {"description": r.description} for r in index.routes.values()]


def nearby_stops(lat: float, lon: float, *, limit: int = 8, radius_m: float = 1000) -> list[dict]:
    """Stops within `radius_m` of a point, nearest first, with their distance and routes."""
    index = network_index()
    if index is None:
        return []
    # a cheap box first (1° of latitude ≈ 111 km), then the exact distance
    dlat = radius_m / 111_000
    dlon = radius_m / (111_000 * max(0.1, math.cos(math.radians(lat))))
    found: list[tuple[float, StopEntry]] = []
    for stop in index.stops.values():
        if abs(stop.lat - lat) > dlat or abs(stop.lon - lon) > dlon:
            continue
        d = haversine_m(lat, lon, stop.lat, stop.lon)
        if d <= radius_m:
            found.append((d, stop))
    found.sort(key=lambda t: t[0])
    out = []
    for d, stop in found[:limit]:
        item = stop.as_dict()
        item["distance_m"] = round(d)
        item["routes"] = [index.routes[r].as_dict() for r in stop.route_ids]
        out.append(item)
    return out


def stop_get(stop_id: str) -> dict[str, Any]:
    """A stop of the active feed with the routes serving it (NotFound when unknown)."""
    index = _require_index()
    entry = index.stop(stop_id)
    d = entry.as_dict()
    d["routes"] = [index.routes[r].as_dict() for r in entry.route_ids]
    return d


def route_get(route_id: str) -> dict[str, Any]:
    index = _require_index()
    return index.route(route_id).as_dict()


# --- arrivals ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    """One bus expected at a stop: live (a vehicle's prediction) or scheduled (timetable only)."""

    trip_id: str
    service_date: date
    stop_sequence: int
    route_id: str
    route_short_name: str
    route_color: str  # "#rrggbb", contrast-checked against route_text_color
    route_text_color: str
    headsign: str
    direction_id: int | None
    when: datetime  # live: predicted arrival; scheduled: departure in the timetable
    minutes: int  # whole minutes from now (0 = arriving)
    live: bool
    uncertainty_s: int  # one standard deviation (0 when scheduled)
    vehicle_label: str  # fleet number or plate; "" when scheduled
    scheduled: datetime | None  # the timetable's time at this stop
    delay_s: int | None  # + late (live only, when the schedule is known)

    @property
    def key(self) -> str:
        """Stable across refreshes (reminders are keyed by it)."""
        return f"{self.trip_id}|{self.service_date.isoformat()}|{self.stop_sequence}"


def _minutes(when: datetime, now: datetime) -> int:
    return max(0, int((when - now).total_seconds() // 60))


def _service_windows(
    index: NetworkIndex, start: datetime, end: datetime
) -> list[tuple[date, set[str], int, int]]:
    """(service day, its services, lo_s, hi_s): the seconds of each service day that fall in
    [start, end]. Yesterday's service covers the small hours (GTFS times past 24:00:00)."""
    t0, t1 = start.timestamp(), end.timestamp()
    local = start.astimezone(TZ).date()
    out = []
    for day in (local - timedelta(days=1), local, local + timedelta(days=1)):
        origin = service_day_start(day, TZ)
        lo, hi = math.floor(t0 - origin), math.ceil(t1 - origin)
        if hi < 0 or lo > 2 * DAY_S:
            continue
        services = index.services_on(day)
        if services:
            out.append((day, services, max(lo, 0), hi))
    return out


def _at(day: date, seconds: int) -> datetime:
    return datetime.fromtimestamp(service_day_start(day, TZ) + seconds, tz=TZ)


def _live_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=int(getattr(settings, "TRANSIT_GHOST_AFTER_S", 120)))


def _live_states() -> Any:
    """VehicleState rows of vehicles that report (not ghosts)."""
    return VehicleState.objects.exclude(status=VehicleState.Status.GHOST)


def stop_arrivals(
    stop_id: str, *, now: datetime | None = None, limit: int = 10, horizon_min: int = 90
) -> list[Arrival]:
    """The next buses at a stop within `horizon_min` minutes, soonest first: live predictions of
    reporting vehicles, then the timetable for trips without one. NotFound for an unknown stop.
    About six queries whatever the number of buses."""
    now = now or timezone.now()
    index = _require_index()
    index.stop(stop_id)
    end = now + timedelta(minutes=horizon_min)

    preds = list(
        Prediction.objects.filter(stop_id=stop_id, departure__gte=now, arrival__lte=end)
        .exclude(vehicle__state__status=VehicleState.Status.GHOST)
        .filter(vehicle__state__recorded_at__gte=_live_cutoff(now))
        .order_by("arrival")
        .values(
            "trip_id",
            "route_id",
            "direction_id",
            "service_date",
            "stop_sequence",
            "arrival",
            "uncertainty_s",
            "scheduled_arrival",
            "vehicle__code",
            "vehicle__label",
            "vehicle__license_plate",
        )
    )
    trips: dict[str, dict[str, Any]] = {}
    if preds:
        trips = {
            t["trip_id"]: t
            for t in Trip.objects.filter(
                feed_id=index.feed_id, trip_id__in={p["trip_id"] for p in preds}
            )
            .annotate(last_seq=Max("stop_times__stop_sequence"))
            .values("trip_id", "headsign", "last_seq")
        }

    arrivals: list[Arrival] = []
    live_trips: set[tuple[str, date]] = set()
    seen: set[tuple[str, date, int]] = set()
    for p in preds:
        trip = trips.get(p["trip_id"], {})
        if trip.get("last_seq") == p["stop_sequence"]:
            continue
        ident = (p["trip_id"], p["service_date"], p["stop_sequence"])
        if ident in seen:
            continue
        seen.add(ident)
        live_trips.add((p["trip_id"], p["service_date"]))
        route = index.routes.get(p["route_id"])
        when = max(p["arrival"], now)
        scheduled = p["scheduled_arrival"]
        arrivals.append(
            Arrival(
                trip_id=p["trip_id"],
                service_date=p["service_date"],
                stop_sequence=p["stop_sequence"],
                route_id=p["route_id"],
                route_short_name=route.number if route else p["route_id"],
                route_color=route.color if route else "#1b1b1f",
                route_text_color=route.text_color if route else "#ffffff",
                headsign=trip.get("headsign") or (route.long_name if route else ""),
                direction_id=p["direction_id"],
                when=when,
                minutes=_minutes(when, now),
                live=True,
                uncertainty_s=int(p["uncertainty_s"] or 0),
                vehicle_label=p["vehicle__label"]
                or p["vehicle__license_plate"]
                or p["vehicle__code"],
                scheduled=scheduled,
                delay_s=round((p["arrival"] - scheduled).total_seconds()) if scheduled else None,
            )
        )

    scheduled_rows = [
        r
        for r in timetable.scheduled_departures(stop_id, now, end, feed=index.feed)
        if (r["trip_id"], r["service_date"]) not in live_trips
    ]
    if scheduled_rows:
        trip_ids = {r["trip_id"] for r in scheduled_rows}
        # a tracked bus that is past this stop, or was seen arriving here: not coming any more
        passed: dict[tuple[str, date], int] = {}
        for trip_id, day, next_seq in (
            _live_states()
            .filter(trip_id__in=trip_ids, recorded_at__gte=_live_cutoff(now))
            .values_list("trip_id", "service_date", "next_stop_sequence")
        ):
            if day is not None and next_seq is not None:
                passed[(trip_id, day)] = next_seq
        served = set(
            StopArrival.objects.filter(stop_id=stop_id, trip_id__in=trip_ids).values_list(
                "trip_id", "service_date", "stop_sequence"
            )
        )
        for r in scheduled_rows:
            ident = (r["trip_id"], r["service_date"], r["stop_sequence"])
            if ident in served or ident in seen:
                continue
            next_seq = passed.get((r["trip_id"], r["service_date"]))
            if next_seq is not None and next_seq > r["stop_sequence"]:
                continue
            seen.add(ident)
            route = index.routes.get(r["route_id"])
            arrivals.append(
                Arrival(
                    trip_id=r["trip_id"],
                    service_date=r["service_date"],
                    stop_sequence=r["stop_sequence"],
                    route_id=r["route_id"],
                    route_short_name=route.number if route else r["route_short_name"],
                    route_color=route.color if route else "#1b1b1f",
                    route_text_color=route.text_color if route else "#ffffff",
                    headsign=r["headsign"] or (route.long_name if route else ""),
                    direction_id=r["direction_id"],
                    when=r["departure"],
                    minutes=_minutes(r["departure"], now),
                    live=False,
                    uncertainty_s=0,
                    vehicle_label="",
                    scheduled=r["departure"],
                    delay_s=None,
                )
            )
    arrivals.sort(key=lambda a: (a.when, not a.live, a.route_short_name))
    return arrivals[:limit]


# --- routes --------------------------------------------------------------------------------------


def route_detail(route_id: str) -> dict[str, Any]:
    """A route with, per direction, its main stop pattern (the trip pattern with the most stops,
    the commonest shape among those) and shape as [[lat, lon], ...]:
    {"route": {...}, "directions": [{"direction_id", "headsign", "stops": [{stop_id, code, name,
    lat, lon, sequence}], "shape": [[lat, lon], ...]}]}. Cached per feed version."""
    index = _require_index()
    route = index.route(route_id)
    cached = index._route_details.get(route_id)
    if cached is not None:
        return cached

    trips = list(
        Trip.objects.filter(feed_id=index.feed_id, route__route_id=route_id)
        .annotate(n=Count("stop_times"))
        .values("pk", "direction_id", "shape_id", "headsign", "n")
    )
    by_direction: dict[int | None, list[dict[str, Any]]] = {}
    for t in trips:
        by_direction.setdefault(t["direction_id"], []).append(t)
    chosen: dict[int | None, dict[str, Any]] = {}
    headsigns: dict[int | None, str] = {}
    for direction, items in by_direction.items():
        most = max(t["n"] for t in items)
        longest = [t for t in items if t["n"] == most]
        shapes = Counter(t["shape_id"] for t in longest)
        best_shape = shapes.most_common(1)[0][0]
        chosen[direction] = next(t for t in longest if t["shape_id"] == best_shape)
        signs = Counter(t["headsign"] for t in items if t["headsign"])
        headsigns[direction] = signs.most_common(1)[0][0] if signs else ""

    stops_by_trip: dict[int, list[dict[str, Any]]] = {}
    if chosen:
        for st in (
            StopTime.objects.filter(trip_id__in=[t["pk"] for t in chosen.values()])
            .order_by("trip_id", "stop_sequence")
            .values("trip_id", "stop__stop_id", "stop_sequence")
        ):
            stop = index.stops.get(st["stop__stop_id"])
            if stop is None:
                continue
            stops_by_trip.setdefault(st["trip_id"], []).append(
                {
                    "stop_id": stop.stop_id,
                    "code": stop.code,
                    "name": stop.name,
                    "lat": stop.lat,
                    "lon": stop.lon,
                    "sequence": st["stop_sequence"],
                }
            )
    shape_ids = {t["shape_id"] for t in chosen.values() if t["shape_id"]}
    shapes_by_pk = {
        s["pk"]: [[round(p[0], 6), round(p[1], 6)] for p in (s["points"] or [])]
        for s in Shape.objects.filter(pk__in=shape_ids).values("pk", "points")
    }
    directions = []
    for direction in sorted(chosen, key=lambda d: -1 if d is None else d):
        trip = chosen[direction]
        stops = stops_by_trip.get(trip["pk"], [])
        shape = shapes_by_pk.get(trip["shape_id"]) or [[s["lat"], s["lon"]] for s in stops]
        directions.append(
            {
                "direction_id": direction,
                "headsign": headsigns[direction] or (stops[-1]["name"] if stops else ""),
                "stops": stops,
                "shape": shape,
            }
        )
    detail = {
        "route": route.as_dict() | {"description": route.description},
        "directions": directions,
    }
    index._route_details[route_id] = detail
    return detail


def route_vehicles(route_id: str, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The buses on a route that report (no ghosts, none silent past TRANSIT_GHOST_AFTER_S):
    {vehicle_id, label, lat, lon, bearing, direction_id, trip_id, headsign, status,
    next_stop_id, next_stop_name, delay_s, recorded_at, age_s}. Two queries."""
    now = now or timezone.now()
    index = _require_index()
    index.route(route_id)
    rows = list(
        _live_states()
        .filter(route_id=route_id, recorded_at__gte=_live_cutoff(now), lat__isnull=False)
        .exclude(trip_id="")
        .order_by("vehicle__code")
        .values(
            "vehicle__code",
            "vehicle__label",
            "vehicle__license_plate",
            "lat",
            "lon",
            "bearing",
            "direction_id",
            "trip_id",
            "status",
            "next_stop_id",
            "deviation_s",
            "recorded_at",
        )
    )
    headsigns = {}
    if rows:
        headsigns = dict(
            Trip.objects.filter(
                feed_id=index.feed_id, trip_id__in={r["trip_id"] for r in rows}
            ).values_list("trip_id", "headsign")
        )
    out = []
    for r in rows:
        stop = index.stops.get(r["next_stop_id"] or "")
        out.append(
            {
                "vehicle_id": r["vehicle__code"],
                "label": r["vehicle__label"] or r["vehicle__license_plate"] or r["vehicle__code"],
                "lat": r["lat"],
                "lon": r["lon"],
                "bearing": r["bearing"],
                "direction_id": r["direction_id"],
                "trip_id": r["trip_id"],
                "headsign": headsigns.get(r["trip_id"], ""),
                "status": r["status"],
                "next_stop_id": r["next_stop_id"],
                "next_stop_name": stop.name if stop else "",
                "delay_s": r["deviation_s"],
                "recorded_at": r["recorded_at"],
                "age_s": max(0, round((now - r["recorded_at"]).total_seconds())),
            }
        )
    return out


def route_next_arrivals(
    route_id: str,
    *,
    direction_id: int | None = None,
    now: datetime | None = None,
    horizon_min: int = 60,
) -> dict[str, dict[str, Any]]:
    """The next bus of a route at each of its stops in one direction: {stop_id: {"when",
    "minutes", "live"}} — live when a reporting bus predicts it, else from the timetable for trips
    without a tracked bus. Three or four queries for the whole route."""
    now = now or timezone.now()
    index = _require_index()
    index.route(route_id)
    end = now + timedelta(minutes=horizon_min)
    best: dict[str, dict[str, Any]] = {}

    def offer(stop_id: str, when: datetime, live: bool) -> None:
        current = best.get(stop_id)
        if current is None or when < current["when"]:
            best[stop_id] = {"when": when, "minutes": _minutes(when, now), "live": live}

    preds = Prediction.objects.filter(route_id=route_id, departure__gte=now, arrival__lte=end)
    if direction_id is not None:
        preds = preds.filter(direction_id=direction_id)
    preds = preds.exclude(vehicle__state__status=VehicleState.Status.GHOST).filter(
        vehicle__state__recorded_at__gte=_live_cutoff(now)
    )
    for stop_id, arrival in preds.values_list("stop_id", "arrival"):
        offer(stop_id, max(arrival, now), True)

    windows = _service_windows(index, now, end)
    if windows:
        cond = Q()
        for _day, services, lo, hi in windows:
            cond |= Q(trip__service_id__in=services, departure_s__gte=lo, departure_s__lte=hi)
        rows = StopTime.objects.filter(
            cond, trip__feed_id=index.feed_id, trip__route__route_id=route_id
        ).exclude(pickup_type=1)
        if direction_id is not None:
            rows = rows.filter(trip__direction_id=direction_id)
        tracked = set(
            _live_states()
            .filter(route_id=route_id, recorded_at__gte=_live_cutoff(now))
            .exclude(trip_id="")
            .values_list("trip_id", "service_date")
        )
        for trip_id, service_id, stop_id, dep_s in rows.values_list(
            "trip__trip_id", "trip__service_id", "stop__stop_id", "departure_s"
        ):
            for day, services, lo, hi in windows:
                if service_id in services and lo <= dep_s <= hi and (trip_id, day) not in tracked:
                    offer(stop_id, _at(day, dep_s), False)
    return best


# --- alerts ---------------------------------------------------------------------------------------


def alerts_for(
    *,
    route_ids: list[str] | tuple[str, ...] = (),
    stop_ids: list[str] | tuple[str, ...] = (),
    now: datetime | None = None,
) -> list[ServiceAlert]:
    """Service alerts in force now that name one of these routes or stops, or no route and no
    stop at all (network-wide), most severe first (`alerts.active_alerts`)."""
    from .alerts import active_alerts

    return active_alerts(now=now, route_ids=list(route_ids), stop_ids=list(stop_ids))


# --- the offline base map -----------------------------------------------------------------------


def ward_centres() -> list[dict[str, Any]]:
    """The city's wards and communes with a centre, for the map drawn without a tile server."""
    from thudo.core.models import AdminUnit

    city = f"{int(settings.THUDO_CITY['PROVINCE_CODE']):02d}"
    units = (
        AdminUnit.objects.filter(
            level=AdminUnit.Level.COMMUNE, parent__code=city, latitude__isnull=False
        )
        .order_by("name")
        .values_list("name", "latitude", "longitude")
    )
    return [{"name": n, "lat": lat, "lng": lng} for n, lat, lng in units]
