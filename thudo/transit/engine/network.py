"""The timetable in memory, shaped for the matcher and the predictor.

A `Network` holds one feed version's stops, routes, trips (each with its stops in order, their
distances along the trip's shape in metres of the shape's `Polyline`, and their scheduled times),
the polylines of the shapes, the service calendar and the trips of each block in time order. It
answers what the engine asks on every ping without the database: which services run on a day,
which trips are under way at a time of the day, which shapes pass near a point (a grid index of
the shapes' segments), the next trip of a block.

`Network.build(...)` makes one from plain rows (tests, the simulator's callers);
`Network.from_db(feed)` reads a feed version in a handful of queries; `network_for(feed_id)`
keeps the active version's network per process, keyed by the feed's id and version, so a new
import is picked up within a few seconds and an unchanged feed is never read twice.

Stop distances: a feed may give `shape_dist_traveled` in its own unit (kilometres, feet) and the
import may measure along the shape with another formula than `Polyline`; the stops' distances are
mapped onto the polyline's metres through the shape points' own distances, so that the engine
compares like with like. Trips without a shape get a polyline through their stops.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from .geometry import Polyline
from .types import EARTH_R, TZ, StopInfo, StopOnTrip, TripInfo, haversine_m

GRID_M = 250.0  # cell size of the shapes' spatial index


@dataclass(frozen=True, slots=True)
class ServiceCalendar:
    """calendar.txt for one service: the days of the week it runs (Monday first) and its dates."""

    weekdays: tuple[bool, bool, bool, bool, bool, bool, bool]
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class ShapePass:
    """One pass of a shape near a point: the distance along it and the distance from it."""

    shape_id: str
    along_m: float
    offset_m: float


class Network:
    """One feed version's timetable in memory (see the module docstring)."""

    def __init__(
        self,
        *,
        stops: Mapping[str, StopInfo],
        routes: Mapping[str, dict[str, Any]],
        trips: Mapping[str, TripInfo],
        polylines: Mapping[str, Polyline],
        calendars: Mapping[str, ServiceCalendar] | None = None,
        calendar_dates: Mapping[date, Mapping[str, int]] | None = None,
        tz: ZoneInfo = TZ,
        feed_id: int | None = None,
        version: int | None = None,
    ) -> None:
        self.stops: dict[str, StopInfo] = dict(stops)
        self.routes: dict[str, dict[str, Any]] = dict(routes)
        self.trips: dict[str, TripInfo] = dict(trips)
        self._polylines: dict[str, Polyline] = dict(polylines)
        self.calendars: dict[str, ServiceCalendar] = dict(calendars or {})
        self.calendar_dates: dict[date, dict[str, int]] = {
            d: dict(v) for d, v in (calendar_dates or {}).items()
        }
        self.tz = tz
        self.feed_id = feed_id
        self.version = version
        self._services: dict[date, frozenset[str]] = {}
        self._lock = threading.Lock()
        # blocks: trip ids in time order
        blocks: dict[str, list[str]] = {}
        for t in sorted(self.trips.values(), key=lambda t: (t.start_s, t.trip_id)):
            if t.block_id:
                blocks.setdefault(t.block_id, []).append(t.trip_id)
        self.blocks = blocks
        # trips by start time (active_trips)
        ordered = sorted(self.trips.values(), key=lambda t: t.start_s)
        self._by_start = ordered
        self._starts = [t.start_s for t in ordered]
        self._max_duration = max((t.end_s - t.start_s for t in ordered), default=0)
        self._grid: dict[tuple[int, int], list[tuple[str, int]]] | None = None
        self._grid_frame: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)

    # --- building ------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        *,
        stops: Iterable[StopInfo],
        routes: Mapping[str, dict[str, Any]],
        shapes: Mapping[str, Sequence[Sequence[float]]],
        trips: Iterable[TripInfo],
        calendars: Mapping[str, ServiceCalendar] | None = None,
        calendar_dates: Mapping[date, Mapping[str, int]] | None = None,
        tz: ZoneInfo = TZ,
        feed_id: int | None = None,
        version: int | None = None,
    ) -> Network:
        """A network from plain rows. `shapes` maps a shape id to its points [lat, lon] or
        [lat, lon, dist] (dist in the unit of the stops' `dist_m`, as shapes.txt's
        shape_dist_traveled); a stop's `dist_m` may be NaN (unknown: projected here). Trips with
        an unknown or empty `shape_id` get a polyline through their stops."""
        stop_map = {s.stop_id: s for s in stops}
        polylines: dict[str, Polyline] = {}
        shape_dists: dict[str, list[float] | None] = {}
        for shape_id, points in shapes.items():
            if len(points) < 2:
                continue
            pl = Polyline(points)
            polylines[shape_id] = pl
            shape_dists[shape_id] = _point_dists(points)
        calibrated: dict[tuple[Any, ...], list[float]] = {}
        out: dict[str, TripInfo] = {}
        for trip in trips:
            if not trip.stops:
                continue
            shape_id = trip.shape_id
            if shape_id not in polylines:
                shape_id = "~stops:" + trip.trip_id
                pts = [
                    (stop_map[s.stop_id].lat, stop_map[s.stop_id].lon)
                    for s in trip.stops
                    if s.stop_id in stop_map
                ]
                if len(pts) < 2 or all(p == pts[0] for p in pts):
                    pts = pts[:1] * 2 if pts else [(0.0, 0.0), (0.0, 0.0)]
                    pts[1] = (pts[1][0] + 1e-5, pts[1][1])
                polylines[shape_id] = Polyline(pts)
                shape_dists[shape_id] = None
                raw = [math.nan] * len(trip.stops)
            else:
                raw = [s.dist_m for s in trip.stops]
            key = (shape_id, tuple(s.stop_id for s in trip.stops), tuple(raw))
            dists = calibrated.get(key)
            if dists is None:
                dists = _calibrate(
                    polylines[shape_id], shape_dists.get(shape_id), trip.stops, raw, stop_map
                )
                calibrated[key] = dists
            new_stops = [
                StopOnTrip(s.seq, s.stop_id, d, s.sched_arr_s, s.sched_dep_s)
                for s, d in zip(trip.stops, dists, strict=True)
            ]
            out[trip.trip_id] = TripInfo(
                trip_id=trip.trip_id,
                route_id=trip.route_id,
                service_id=trip.service_id,
                direction_id=trip.direction_id,
                block_id=trip.block_id,
                headsign=trip.headsign,
                shape_id=shape_id,
                stops=new_stops,
            )
        return cls(
            stops=stop_map,
            routes=routes,
            trips=out,
            polylines=polylines,
            calendars=calendars,
            calendar_dates=calendar_dates,
            tz=tz,
            feed_id=feed_id,
            version=version,
        )

    @classmethod
    def from_db(cls, feed: Any = None) -> Network:
        """The network of `feed` (a transit.Feed; the active one by default) in a few queries.
        Raises LookupError when there is no active feed."""
        from thudo.transit.models import (
            Agency,
            Calendar,
            CalendarDate,
            Feed,
            Route,
            Shape,
            Stop,
            StopTime,
            Trip,
        )

        if feed is None:
            feed = Feed.objects.filter(status=Feed.Status.ACTIVE).first()
            if feed is None:
                raise LookupError("no active GTFS feed")
        tz_name = (
            Agency.objects.filter(feed=feed).order_by("pk").values_list("timezone", flat=True)
        ).first()
        try:
            tz = ZoneInfo(tz_name) if tz_name else TZ
        except (KeyError, ValueError):
            tz = TZ
        stop_pk: dict[int, str] = {}
        stops: list[StopInfo] = []
        for pk, stop_id, name, lat, lon in Stop.objects.filter(feed=feed).values_list(
            "pk", "stop_id", "name", "lat", "lon"
        ):
            stop_pk[pk] = stop_id
            stops.append(StopInfo(stop_id=stop_id, name=name, lat=lat, lon=lon))
        route_pk: dict[int, str] = {}
        routes: dict[str, dict[str, Any]] = {}
        for pk, route_id, short, long, color in Route.objects.filter(feed=feed).values_list(
            "pk", "route_id", "short_name", "long_name", "color"
        ):
            route_pk[pk] = route_id
            routes[route_id] = {"short_name": short, "long_name": long, "color": color}
        shape_pk: dict[int, str] = {}
        shapes: dict[str, list[list[float]]] = {}
        for pk, shape_id, points in Shape.objects.filter(feed=feed).values_list(
            "pk", "shape_id", "points"
        ):
            shape_pk[pk] = shape_id
            shapes[shape_id] = points or []
        trip_rows: dict[int, tuple[Any, ...]] = {}
        for row in Trip.objects.filter(feed=feed).values_list(
            "pk",
            "trip_id",
            "route_id",
            "service_id",
            "direction_id",
            "block_id",
            "headsign",
            "shape_id",
        ):
            trip_rows[row[0]] = row
        stop_lists: dict[int, list[StopOnTrip]] = {pk: [] for pk in trip_rows}
        st_rows = (
            StopTime.objects.filter(trip__feed=feed)
            .order_by("trip_id", "stop_sequence")
            .values_list(
                "trip_id", "stop_id", "stop_sequence", "arrival_s", "departure_s", "dist_m"
            )
        )
        for trip_pk, s_pk, seq, arr, dep, dist in st_rows.iterator(chunk_size=20000):
            lst = stop_lists.get(trip_pk)
            if lst is None:
                continue
            lst.append(StopOnTrip(seq, stop_pk[s_pk], math.nan if dist is None else dist, arr, dep))
        trips = []
        for (
            pk,
            trip_id,
            r_pk,
            service_id,
            direction_id,
            block_id,
            headsign,
            sh_pk,
        ) in trip_rows.values():
            trips.append(
                TripInfo(
                    trip_id=trip_id,
                    route_id=route_pk.get(r_pk, ""),
                    service_id=service_id,
                    direction_id=direction_id,
                    block_id=block_id or "",
                    headsign=headsign or "",
                    shape_id=shape_pk.get(sh_pk, "") if sh_pk else "",
                    stops=stop_lists[pk],
                )
            )
        calendars: dict[str, ServiceCalendar] = {}
        for cal in Calendar.objects.filter(feed=feed).values_list(
            "service_id",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "start_date",
            "end_date",
        ):
            calendars[cal[0]] = ServiceCalendar(
                weekdays=(cal[1], cal[2], cal[3], cal[4], cal[5], cal[6], cal[7]),
                start=cal[8],
                end=cal[9],
            )
        calendar_dates: dict[date, dict[str, int]] = {}
        for service_id, day, kind in CalendarDate.objects.filter(feed=feed).values_list(
            "service_id", "date", "exception_type"
        ):
            calendar_dates.setdefault(day, {})[service_id] = kind
        return cls.build(
            stops=stops,
            routes=routes,
            shapes=shapes,
            trips=trips,
            calendars=calendars,
            calendar_dates=calendar_dates,
            tz=tz,
            feed_id=feed.pk,
            version=feed.version,
        )

    # --- reads ---------------------------------------------------------------------------

    def polyline(self, shape_id: str) -> Polyline:
        return self._polylines[shape_id]

    def trip_polyline(self, trip_id: str) -> Polyline:
        return self._polylines[self.trips[trip_id].shape_id]

    @property
    def shape_ids(self) -> list[str]:
        return list(self._polylines)

    def services_on(self, day: date) -> frozenset[str]:
        """Service ids running on `day` (calendar.txt, then calendar_dates.txt exceptions)."""
        found = self._services.get(day)
        if found is not None:
            return found
        wd = day.weekday()
        running = {
            sid for sid, c in self.calendars.items() if c.weekdays[wd] and c.start <= day <= c.end
        }
        for sid, kind in self.calendar_dates.get(day, {}).items():
            if kind == 1:
                running.add(sid)
            elif kind == 2:
                running.discard(sid)
        found = frozenset(running)
        with self._lock:
            if len(self._services) > 64:
                self._services.clear()
            self._services[day] = found
        return found

    def active_trips(
        self, day: date, sod_s: float, before_s: float = 900, after_s: float = 1800
    ) -> list[TripInfo]:
        """Trips of service day `day` under way at `sod_s` seconds of that day, counting a bus
        up to `before_s` ahead of its first departure (waiting at the terminus) and up to
        `after_s` behind its last scheduled arrival (running late)."""
        services = self.services_on(day)
        if not services:
            return []
        hi = bisect.bisect_right(self._starts, sod_s + before_s)
        lo = bisect.bisect_left(self._starts, sod_s - after_s - self._max_duration)
        out = []
        for t in self._by_start[lo:hi]:
            if t.service_id in services and t.end_s + after_s >= sod_s:
                out.append(t)
        return out

    def next_trip_in_block(self, trip_id: str, service_date: date) -> TripInfo | None:
        """The trip its bus runs after `trip_id` on the same service day (None: last one)."""
        trip = self.trips.get(trip_id)
        if trip is None or not trip.block_id:
            return None
        services = self.services_on(service_date)
        ids = self.blocks.get(trip.block_id, [])
        try:
            i = ids.index(trip_id)
        except ValueError:
            return None
        for other_id in ids[i + 1 :]:
            other = self.trips[other_id]
            if other.service_id in services and other.start_s >= trip.start_s:
                return other
        return None

    def sched_at(self, trip: TripInfo, dist_m: float) -> float:
        """Scheduled time (seconds of the service day) of being `dist_m` along the trip:
        interpolated from leaving the stop behind to reaching the stop ahead."""
        stops = trip.stops
        if dist_m <= stops[0].dist_m:
            return float(stops[0].sched_dep_s)
        for i in range(1, len(stops)):
            b = stops[i]
            if dist_m <= b.dist_m:
                a = stops[i - 1]
                span = b.dist_m - a.dist_m
                f = 0.0 if span <= 0 else (dist_m - a.dist_m) / span
                return a.sched_dep_s + f * (b.sched_arr_s - a.sched_dep_s)
        return float(stops[-1].sched_arr_s)

    def shapes_near(self, lat: float, lon: float, radius_m: float = 60.0) -> list[ShapePass]:
        """Every pass of every shape within `radius_m` of the point (a loop passing twice gives
        two), closest point of each pass."""
        if self._grid is None:
            self._build_grid()
        grid = self._grid
        assert grid is not None
        lat0, lon0, kx, ky = self._grid_frame
        gx, gy = (lon - lon0) * kx, (lat - lat0) * ky
        cx0, cx1 = math.floor((gx - radius_m) / GRID_M), math.floor((gx + radius_m) / GRID_M)
        cy0, cy1 = math.floor((gy - radius_m) / GRID_M), math.floor((gy + radius_m) / GRID_M)
        segs: dict[str, set[int]] = {}
        for cx in range(cx0, cx1 + 1):
            for cy in range(cy0, cy1 + 1):
                for shape_id, i in grid.get((cx, cy), ()):
                    segs.setdefault(shape_id, set()).add(i)
        out: list[ShapePass] = []
        r2 = radius_m * radius_m
        for shape_id, idxs in segs.items():
            pl = self._polylines[shape_id]
            px, py = pl.to_xy(lat, lon)
            xs, ys, cum = pl.xs, pl.ys, pl.cum
            hits: list[tuple[float, float]] = []
            for i in sorted(idxs):
                ax, ay = xs[i], ys[i]
                dx, dy = xs[i + 1] - ax, ys[i + 1] - ay
                seg2 = dx * dx + dy * dy
                t = 0.0 if seg2 == 0 else ((px - ax) * dx + (py - ay) * dy) / seg2
                t = 0.0 if t < 0 else (1.0 if t > 1 else t)
                qx, qy = ax + t * dx - px, ay + t * dy - py
                d2 = qx * qx + qy * qy
                if d2 <= r2:
                    hits.append((cum[i] + t * (cum[i + 1] - cum[i]), d2))
            if not hits:
                continue
            hits.sort()
            best = hits[0]
            prev_along = best[0]
            for along, d2 in hits[1:]:
                if along - prev_along > 2 * radius_m + 1:
                    out.append(ShapePass(shape_id, best[0], math.sqrt(best[1])))
                    best = (along, d2)
                elif d2 < best[1]:
                    best = (along, d2)
                prev_along = along
            out.append(ShapePass(shape_id, best[0], math.sqrt(best[1])))
        return out

    def _build_grid(self) -> None:
        with self._lock:
            if self._grid is not None:
                return
            lat0, lon0 = 0.0, 0.0
            for pl in self._polylines.values():
                lat0, lon0 = pl.lat0, pl.lon0
                break
            ky = math.pi * EARTH_R / 180.0
            kx = ky * math.cos(math.radians(lat0))
            grid: dict[tuple[int, int], list[tuple[str, int]]] = {}
            for shape_id, pl in self._polylines.items():
                lats = [pl.lat0 + y / pl.ky for y in pl.ys]
                lons = [pl.lon0 + x / pl.kx for x in pl.xs]
                gxs = [(lo - lon0) * kx for lo in lons]
                gys = [(la - lat0) * ky for la in lats]
                for i in range(len(gxs) - 1):
                    x0, x1 = sorted((gxs[i], gxs[i + 1]))
                    y0, y1 = sorted((gys[i], gys[i + 1]))
                    for cx in range(math.floor(x0 / GRID_M), math.floor(x1 / GRID_M) + 1):
                        for cy in range(math.floor(y0 / GRID_M), math.floor(y1 / GRID_M) + 1):
                            grid.setdefault((cx, cy), []).append((shape_id, i))
            self._grid_frame = (lat0, lon0, kx, ky)
            self._grid = grid


def _point_dists(points: Sequence[Sequence[float]]) -> list[float] | None:
    """The shape points' own distances (third column) when every point has one, in order."""
    if not all(len(p) >= 3 and p[2] is not None for p in points):
        return None
    out = [float(p[2]) for p in points]
    for a, b in itertools.pairwise(out):
        if b < a or math.isnan(b):
            return None
    if out[-1] <= out[0]:
        return None
    return out


def _calibrate(
    pl: Polyline,
    point_dists: list[float] | None,
    stops: Sequence[StopOnTrip],
    raw: Sequence[float],
    stop_map: Mapping[str, StopInfo],
) -> list[float]:
    """The stops' distances in the polyline's metres, non-decreasing. Known distances are
    mapped through the shape points' distances; unknown ones (NaN), and known ones that put a
    stop far from where it stands, are projected in order (each from the previous stop)."""
    cum = pl.cum
    out: list[float] = []
    prev = 0.0
    prev_ll: tuple[float, float] | None = None
    for s, d in zip(stops, raw, strict=True):
        info = stop_map.get(s.stop_id)
        val = math.nan
        if not math.isnan(d):
            if point_dists is not None:
                val = _interp(point_dists, cum, d)
            else:
                val = min(max(d, 0.0), pl.length)
            if info is not None:
                lat, lon, _ = pl.point_at(val)
                if haversine_m(lat, lon, info.lat, info.lon) > 150:
                    val = math.nan
        if math.isnan(val):
            if info is None:
                val = prev
            else:
                reach = 300.0
                if prev_ll is not None:
                    reach += 3 * haversine_m(prev_ll[0], prev_ll[1], info.lat, info.lon)
                val, _off = pl.project(info.lat, info.lon, prev, prev + reach)
        val = max(val, prev)
        out.append(val)
        prev = val
        if info is not None:
            prev_ll = (info.lat, info.lon)
    return out


def _interp(xs: list[float], ys: list[float], x: float) -> float:
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x) - 1
    span = xs[i + 1] - xs[i]
    f = 0.0 if span <= 0 else (x - xs[i]) / span
    return ys[i] + f * (ys[i + 1] - ys[i])


# --- the process's network ----------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[tuple[int, int], Network] = {}
_active: tuple[float, int | None, int | None] = (0.0, None, None)  # (checked at, id, version)
ACTIVE_TTL_S = 5.0


def network_for(feed_id: int | None = None) -> Network | None:
    """The network of feed `feed_id` (the active feed by default; None when there is none),
    built once per process and feed version. The active feed is looked up again at most every
    ACTIVE_TTL_S seconds."""
    global _active
    from thudo.transit.models import Feed

    if feed_id is None:
        checked, fid, version = _active
        if time.monotonic() - checked > ACTIVE_TTL_S or fid is None:
            row = (
                Feed.objects.filter(status=Feed.Status.ACTIVE).values_list("pk", "version").first()
            )
            fid, version = (row[0], row[1]) if row else (None, None)
            _active = (time.monotonic(), fid, version)
        if fid is None or version is None:
            return None
    else:
        version = Feed.objects.filter(pk=feed_id).values_list("version", flat=True).first()
        if version is None:
            return None
        fid = feed_id
    key = (fid, version)
    net = _cache.get(key)
    if net is not None:
        return net
    with _cache_lock:
        net = _cache.get(key)
        if net is None:
            feed = Feed.objects.get(pk=fid)
            net = Network.from_db(feed)
            if len(_cache) >= 2:
                _cache.clear()
            _cache[key] = net
    return net


def clear_cache() -> None:
    """Forget the process's networks (tests; after an import in the same process)."""
    global _active
    with _cache_lock:
        _cache.clear()
        _active = (0.0, None, None)
