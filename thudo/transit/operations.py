"""The operator's control snapshot: what the fleet is doing now, in one read of a dozen queries.

`control_snapshot()` answers the control view at /workspace/transit/ and its JSON endpoint. It
reads the vehicles' hot rows (VehicleState), the devices and their ingest counters, and the
active timetable, and works out:

- every vehicle on the road (reported in the last VISIBLE_FOR_S): status, route, delay, the age
  of its last report, position; a vehicle whose last report is older than
  TRANSIT_GHOST_AFTER_S counts as a ghost even before the tracker's sweep marks it so;
- per route and direction: the scheduled headway now (the median gap between the timetable's
  trip departures around this time of the service day), the current headways between
  consecutive buses (the follower's scheduled running time from where it is to where the bus
  ahead is, from their distances along the same shape) and the headway observed at stops in the
  last hour (gaps between arrivals of different buses at the same stop, StopArrival);
- late buses (deviation > LATE_S), early buses (< EARLY_S), bunching (a headway under
  max(BUNCHING_MIN_S, scheduled / 4));
- silent devices (active devices last seen longer ago than TRANSIT_GHOST_AFTER_S, or never;
  counted apart: those that went silent in the last VISIBLE_FOR_S, as the others are mostly
  buses off duty),
  rejected reports per device (IngestCounter outcomes other than accepted / duplicate), ghosts.

The result is plain JSON-ready data (ISO times, seconds, translated labels in the active
language), so the page and the JSON endpoint use the same dict.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .engine.types import TZ, service_day_start
from .models import (
    Calendar,
    CalendarDate,
    Device,
    Feed,
    IngestCounter,
    Route,
    Shape,
    Stop,
    StopArrival,
    StopTime,
    Trip,
    Vehicle,
    VehicleState,
)

LATE_S = 300  # more than 5 minutes behind the timetable
EARLY_S = -120  # more than 2 minutes ahead of it
BUNCHING_MIN_S = 120  # two buses closer than 2 minutes are bunched, whatever the headway
VISIBLE_FOR_S = 12 * 3600  # a vehicle silent for longer is off the road (not on the map)
SCHEDULE_BEFORE_S = 3600  # trips starting in this window around now give the scheduled headway
SCHEDULE_AFTER_S = 1800
OBSERVED_WINDOW_S = 3600  # arrivals at stops in the last hour give the observed headway
OBSERVED_MAX_ROWS = 60_000
LIST_LIMIT = 50  # rows per list (late, early, bunching, ghosts, silent devices, rejects); the
# counts say how many in all
MOVING = (VehicleState.Status.IN_SERVICE, VehicleState.Status.OFF_ROUTE)
ON_ROAD = (*MOVING, VehicleState.Status.LAYOVER)
NOT_REJECTED = ("accepted", "duplicate")

STATUS_GHOST = str(VehicleState.Status.GHOST)
OUTCOME_LABELS = {  # IngestCounter outcomes (ingest.py), as the operator reads them
    "bad_token": gettext_lazy("wrong or revoked token"),
    "bad_coordinates": gettext_lazy("impossible position"),
    "too_old": gettext_lazy("too old"),
    "in_future": gettext_lazy("time in the future"),
    "unknown_vehicle": gettext_lazy("unknown vehicle"),
    "wrong_vehicle": gettext_lazy("another vehicle's id"),
    "malformed": gettext_lazy("malformed"),
    "too_many": gettext_lazy("batch too large"),
    "bad_topic": gettext_lazy("wrong MQTT topic"),
    "error": gettext_lazy("not stored (server error)"),
}


def outcomes_text(outcomes: dict[str, int]) -> str:
    """ "wrong or revoked token: 12, too old: 3" (the most frequent first)."""
    parts = sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{OUTCOME_LABELS.get(k, k)}: {n}" for k, n in parts)


# --- small formatting helpers (texts in the active language) ----------------------------------


def format_duration(seconds: float | None) -> str:
    """ "45 s", "4 min", "1 h 05 min"; "—" when unknown."""
    if seconds is None:
        return "—"
    s = round(abs(seconds))
    if s < 60:
        return _("%(s)d s") % {"s": s}
    minutes = round(s / 60)
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    return _("%(h)d h %(m)02d min") % {"h": minutes // 60, "m": minutes % 60}


def format_delay(seconds: float | None) -> str:
    """ "+6 min" late, "−2 min" early, "on schedule" within a minute; "—" when unknown."""
    if seconds is None:
        return "—"
    if abs(seconds) < 60:
        return _("on schedule")
    sign = "+" if seconds > 0 else "−"
    return sign + format_duration(seconds)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- the timetable side -----------------------------------------------------------------------


def _services_on(feed: Feed, day: date) -> set[str]:
    """Service ids running on `day` (calendar.txt plus calendar_dates.txt exceptions)."""
    weekday = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[
        day.weekday()
    ]
    running = set(
        Calendar.objects.filter(
            feed=feed, start_date__lte=day, end_date__gte=day, **{weekday: True}
        ).values_list("service_id", flat=True)
    )
    for service_id, kind in CalendarDate.objects.filter(feed=feed, date=day).values_list(
        "service_id", "exception_type"
    ):
        if kind == CalendarDate.ADDED:
            running.add(service_id)
        elif kind == CalendarDate.REMOVED:
            running.discard(service_id)
    return running


def _service_days(now: datetime) -> list[tuple[date, float]]:
    """(service date, seconds of that service day now) for today and, before 04:00, yesterday
    (GTFS trips of yesterday's service may run past midnight)."""
    today = now.astimezone(TZ).date()
    days = [(today, now.timestamp() - service_day_start(today))]
    if days[0][1] < 4 * 3600:
        yesterday = today - timedelta(days=1)
        days.append((yesterday, now.timestamp() - service_day_start(yesterday)))
    return days


def scheduled_headways(feed: Feed | None, now: datetime) -> dict[tuple[str, int | None], int]:
    """{(route_id, direction_id): median seconds between trip departures around now}."""
    if feed is None:
        return {}
    starts: dict[tuple[str, int | None], list[int]] = defaultdict(list)
    for day, sod in _service_days(now):
        services = _services_on(feed, day)
        if not services:
            continue
        rows = Trip.objects.filter(
            feed=feed,
            service_id__in=services,
            start_s__gte=sod - SCHEDULE_BEFORE_S,
            start_s__lte=sod + SCHEDULE_AFTER_S,
        ).values_list("route__route_id", "direction_id", "start_s")
        for route_id, direction_id, start_s in rows:
            # one clock for both days: seconds relative to now
            starts[(route_id, direction_id)].append(int(start_s - sod))
    result = {}
    for key, values in starts.items():
        values.sort()
        gaps = [b - a for a, b in pairwise(values) if b > a]
        if gaps:
            result[key] = int(statistics.median(gaps))
    return result


class _Schedule:
    """A trip's scheduled time (s of the service day) as a function of its distance along the
    shape, interpolated between its stops."""

    __slots__ = ("dists", "times")

    def __init__(self, points: Iterable[tuple[float, int]]) -> None:
        pts = sorted(points)
        self.dists = [p[0] for p in pts]
        self.times = [p[1] for p in pts]

    def at(self, dist: float) -> float | None:
        d, t = self.dists, self.times
        if len(d) < 2:
            return None
        i = bisect.bisect_left(d, dist)
        if i <= 0:
            i = 1
        elif i >= len(d):
            i = len(d) - 1
        span = d[i] - d[i - 1]
        if span <= 0:
            return float(t[i])
        return t[i - 1] + (t[i] - t[i - 1]) * (dist - d[i - 1]) / span


def _schedules(
    feed: Feed | None, trip_ids: set[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, _Schedule]]:
    """({trip_id: {headsign, shape_id}}, {trip_id: _Schedule}) for the trips now in service."""
    if feed is None or not trip_ids:
        return {}, {}
    trips: dict[str, dict[str, Any]] = {
        row["trip_id"]: dict(row)
        for row in Trip.objects.filter(feed=feed, trip_id__in=trip_ids).values(
            "pk", "trip_id", "headsign", "shape__shape_id"
        )
    }
    by_pk = {row["pk"]: trip_id for trip_id, row in trips.items()}
    points: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for trip_pk, dist_m, arrival_s in StopTime.objects.filter(
        trip_id__in=list(by_pk), dist_m__isnull=False
    ).values_list("trip_id", "dist_m", "arrival_s"):
        if dist_m is not None:
            points[by_pk[trip_pk]].append((dist_m, arrival_s))
    return trips, {trip_id: _Schedule(pts) for trip_id, pts in points.items()}


def _observed_headways(now: datetime) -> dict[tuple[str, int | None], int]:
    """{(route_id, direction_id): median gap between different buses' arrivals at the same stop
    in the last hour}."""
    rows = (
        StopArrival.objects.filter(arrived_at__gte=now - timedelta(seconds=OBSERVED_WINDOW_S))
        .order_by("-arrived_at")
        .values_list("route_id", "direction_id", "stop_id", "vehicle_id", "arrived_at")[
            :OBSERVED_MAX_ROWS
        ]
    )
    at_stop: dict[tuple[str, int | None, str], list[tuple[datetime, int]]] = defaultdict(list)
    for route_id, direction_id, stop_id, vehicle_id, arrived_at in rows:
        at_stop[(route_id, direction_id, stop_id)].append((arrived_at, vehicle_id))
    gaps: dict[tuple[str, int | None], list[float]] = defaultdict(list)
    for (route_id, direction_id, _stop), arrivals in at_stop.items():
        arrivals.sort()
        for (t1, v1), (t2, v2) in pairwise(arrivals):
            if v1 != v2:
                gaps[(route_id, direction_id)].append((t2 - t1).total_seconds())
    return {key: int(statistics.median(values)) for key, values in gaps.items() if values}


# --- the snapshot -----------------------------------------------------------------------------


def _vehicle_rows() -> list[dict[str, Any]]:
    rows: Any = (
        Vehicle.objects.filter(is_active=True)
        .order_by("code")
        .values(
            "pk",
            "code",
            "label",
            "license_plate",
            "state__status",
            "state__recorded_at",
            "state__lat",
            "state__lon",
            "state__bearing",
            "state__speed",
            "state__trip_id",
            "state__route_id",
            "state__direction_id",
            "state__dist_m",
            "state__next_stop_id",
            "state__deviation_s",
        )
    )
    return list(rows)


def _route_info(feed: Feed | None) -> dict[str, dict[str, Any]]:
    if feed is None:
        return {}
    return {
        r["route_id"]: dict(r)
        for r in Route.objects.filter(feed=feed).values(
            "route_id", "short_name", "long_name", "color", "text_color", "sort_order"
        )
    }


def map_bounds(feed: Feed | None) -> list[list[float]] | None:
    """[[min lat, min lon], [max lat, max lon]] of the active feed's stops (None: no stops)."""
    if feed is None:
        return None
    box = Stop.objects.filter(feed=feed).aggregate(
        a=Min("lat"), b=Min("lon"), c=Max("lat"), d=Max("lon")
    )
    if box["a"] is None:
        return None
    return [[box["a"], box["b"]], [box["c"], box["d"]]]


def route_lines(feed: Feed | None, *, step_m: float = 80.0) -> list[dict[str, Any]]:
    """The map's background: per route and direction the shape most of its trips follow, as
    [[lat, lon], ...] thinned to a point every `step_m` metres, with the route's colour."""
    if feed is None:
        return []
    usage = (
        Trip.objects.filter(feed=feed, shape__isnull=False)
        .values("route__route_id", "route__short_name", "route__color", "direction_id", "shape")
        .annotate(n=Count("pk"))
    )
    best: dict[tuple[str, int | None], dict[str, Any]] = {}
    for row in usage:
        key = (row["route__route_id"], row["direction_id"])
        if key not in best or row["n"] > best[key]["n"]:
            best[key] = dict(row)
    points = dict(
        Shape.objects.filter(pk__in={row["shape"] for row in best.values()}).values_list(
            "pk", "points"
        )
    )
    lines = []
    for (route_id, direction_id), row in sorted(
        best.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)
    ):
        thin: list[list[float]] = []
        last = -step_m
        shape_points = points.get(row["shape"]) or []
        for i, point in enumerate(shape_points):
            dist = point[2] if len(point) > 2 else last + step_m
            if dist - last >= step_m or i == len(shape_points) - 1:
                thin.append([round(point[0], 5), round(point[1], 5)])
                last = dist
        if len(thin) >= 2:
            lines.append(
                {
                    "route_id": route_id,
                    "direction_id": direction_id,
                    "short_name": row["route__short_name"] or route_id,
                    "color": row["route__color"] or "",
                    "points": thin,
                }
            )
    return lines


def control_snapshot(*, now: datetime | None = None) -> dict[str, Any]:
    """The fleet now (see the module's docstring). About a dozen queries, whatever its size."""
    now = now or timezone.now()
    ghost_after = int(getattr(settings, "TRANSIT_GHOST_AFTER_S", 120))
    feed = Feed.objects.filter(status=Feed.Status.ACTIVE).first()
    routes = _route_info(feed)
    status_labels = {value: str(label) for value, label in VehicleState.Status.choices}

    # vehicles on the road
    vehicles: list[dict[str, Any]] = []
    never_reported = 0
    off_road = 0
    for row in _vehicle_rows():
        recorded_at = row["state__recorded_at"]
        if recorded_at is None or row["state__lat"] is None:
            never_reported += 1
            continue
        age = (now - recorded_at).total_seconds()
        if age > VISIBLE_FOR_S:
            off_road += 1
            continue
        status = row["state__status"] or str(VehicleState.Status.UNASSIGNED)
        if age > ghost_after and status != STATUS_GHOST:
            status = STATUS_GHOST  # the tracker's sweep has not caught up yet
        route_id = row["state__route_id"] or ""
        route = routes.get(route_id, {})
        deviation = row["state__deviation_s"]
        moving = status in MOVING
        vehicles.append(
            {
                "id": row["pk"],
                "code": row["code"],
                "label": row["label"] or row["code"],
                "license_plate": row["license_plate"],
                "status": status,
                "status_label": status_labels.get(status, status),
                "route_id": route_id,
                "route_short_name": route.get("short_name") or route_id,
                "route_color": route.get("color") or "",
                "trip_id": row["state__trip_id"] or "",
                "direction_id": row["state__direction_id"],
                "headsign": "",
                "dist_m": row["state__dist_m"],
                "next_stop_id": row["state__next_stop_id"] or "",
                "next_stop_name": "",
                "deviation_s": deviation,
                "delay_text": format_delay(deviation) if moving else "—",
                "recorded_at": _iso(recorded_at),
                "age_s": int(age),
                "age_text": format_duration(age),
                "lat": row["state__lat"],
                "lon": row["state__lon"],
                "bearing": row["state__bearing"],
                "speed": row["state__speed"],
                "late": bool(moving and deviation is not None and deviation > LATE_S),
                "early": bool(moving and deviation is not None and deviation < EARLY_S),
                "bunched": False,
                "headway_s": None,  # to the bus ahead on the same route and direction
            }
        )

    # names of next stops and headsigns, schedules of the trips in service
    if feed is not None:
        next_ids = {v["next_stop_id"] for v in vehicles if v["next_stop_id"]}
        names = dict(
            Stop.objects.filter(feed=feed, stop_id__in=next_ids).values_list("stop_id", "name")
        )
        for v in vehicles:
            v["next_stop_name"] = names.get(v["next_stop_id"], "")
    moving_vehicles = [
        v for v in vehicles if v["status"] in MOVING and v["trip_id"] and v["dist_m"] is not None
    ]
    trips, schedules = _schedules(feed, {v["trip_id"] for v in vehicles if v["trip_id"]})
    for v in vehicles:
        trip = trips.get(v["trip_id"])
        if trip:
            v["headsign"] = trip["headsign"]

    # headways between consecutive buses (same route, direction and shape)
    groups: dict[tuple[str, int | None, str], list[dict[str, Any]]] = defaultdict(list)
    for v in moving_vehicles:
        shape_id = (trips.get(v["trip_id"]) or {}).get("shape__shape_id") or ""
        groups[(v["route_id"], v["direction_id"], shape_id)].append(v)
    sched = scheduled_headways(feed, now)
    pairs: list[dict[str, Any]] = []
    for (route_id, direction_id, _shape), members in groups.items():
        members.sort(key=lambda v: v["dist_m"], reverse=True)  # the bus furthest along first
        planned = sched.get((route_id, direction_id))
        threshold = max(BUNCHING_MIN_S, (planned or 0) / 4)
        for ahead, behind in pairwise(members):
            schedule = schedules.get(behind["trip_id"])
            if schedule is None:
                continue
            t_ahead, t_behind = schedule.at(ahead["dist_m"]), schedule.at(behind["dist_m"])
            if t_ahead is None or t_behind is None:
                continue
            headway = max(0, round(t_ahead - t_behind))
            behind["headway_s"] = headway
            bunched = headway < threshold
            if bunched:
                ahead["bunched"] = behind["bunched"] = True
            pairs.append(
                {
                    "route_id": route_id,
                    "direction_id": direction_id,
                    "ahead": ahead,
                    "behind": behind,
                    "headway_s": headway,
                    "bunched": bunched,
                }
            )

    # per route and direction
    observed = _observed_headways(now)
    table: dict[tuple[str, int | None], dict[str, Any]] = {}

    def entry(route_id: str, direction_id: int | None) -> dict[str, Any]:
        key = (route_id, direction_id)
        if key not in table:
            route = routes.get(route_id, {})
            table[key] = {
                "route_id": route_id,
                "short_name": route.get("short_name") or route_id,
                "long_name": route.get("long_name") or "",
                "color": route.get("color") or "",
                "sort": (route.get("sort_order") is None, route.get("sort_order") or 0),
                "direction_id": direction_id,
                "headsign": "",
                "vehicles": 0,
                "late": 0,
                "early": 0,
                "bunching": 0,
                "gaps": [],
                "scheduled_headway_s": sched.get(key),
                "stop_headway_s": observed.get(key),
            }
        return table[key]

    for v in vehicles:
        if v["status"] in ON_ROAD and v["route_id"]:
            e = entry(v["route_id"], v["direction_id"])
            e["vehicles"] += 1
            e["headsign"] = e["headsign"] or v["headsign"]
            e["late"] += v["late"]
            e["early"] += v["early"]
    for p in pairs:
        e = entry(p["route_id"], p["direction_id"])
        e["gaps"].append(p["headway_s"])
        e["bunching"] += p["bunched"]
    for key in set(sched) | set(observed):  # scheduled now, even with no bus on the road
        if key[0] in routes:
            entry(*key)
    route_rows = []
    for e in sorted(
        table.values(), key=lambda e: (e["sort"], e["short_name"], e["direction_id"] or 0)
    ):
        gaps = e.pop("gaps")
        e.pop("sort")
        e["headway_s"] = int(statistics.median(gaps)) if gaps else None
        e["min_headway_s"] = min(gaps) if gaps else None
        for name in ("scheduled_headway_s", "headway_s", "min_headway_s", "stop_headway_s"):
            e[name[:-2] + "_text"] = format_duration(e[name])
        route_rows.append(e)

    def brief(v: dict[str, Any]) -> dict[str, Any]:
        return {k: v[k] for k in ("id", "code", "label", "route_short_name", "dist_m")}

    bunching = [
        {
            "route_id": p["route_id"],
            "route_short_name": p["ahead"]["route_short_name"],
            "direction_id": p["direction_id"],
            "headsign": p["behind"]["headsign"],
            "ahead": brief(p["ahead"]),
            "behind": brief(p["behind"]),
            "headway_s": p["headway_s"],
            "headway_text": format_duration(p["headway_s"]),
            "scheduled_headway_s": sched.get((p["route_id"], p["direction_id"])),
            "scheduled_headway_text": format_duration(
                sched.get((p["route_id"], p["direction_id"]))
            ),
        }
        for p in sorted(pairs, key=lambda p: p["headway_s"])
        if p["bunched"]
    ]

    devices, silent_total, silent_recent = _silent_devices(now, ghost_after)
    rejects, rejected_total = _rejects()
    late = sorted((v for v in vehicles if v["late"]), key=lambda v: -(v["deviation_s"] or 0))
    early = sorted((v for v in vehicles if v["early"]), key=lambda v: v["deviation_s"] or 0)
    ghosts = sorted((v for v in vehicles if v["status"] == STATUS_GHOST), key=lambda v: v["age_s"])
    by_status: dict[str, int] = defaultdict(int)
    for v in vehicles:
        by_status[v["status"]] += 1
    return {
        "generated_at": now.isoformat(),
        "ghost_after_s": ghost_after,
        "late_s": LATE_S,
        "early_s": EARLY_S,
        "feed": {"name": feed.name, "version": feed.version} if feed else None,
        "counts": {
            "vehicles": len(vehicles),
            "never_reported": never_reported,
            "off_road": off_road,
            "in_service": by_status[str(VehicleState.Status.IN_SERVICE)],
            "layover": by_status[str(VehicleState.Status.LAYOVER)],
            "off_route": by_status[str(VehicleState.Status.OFF_ROUTE)],
            "unassigned": by_status[str(VehicleState.Status.UNASSIGNED)],
            "ghost": by_status[STATUS_GHOST],
            "late": len(late),
            "early": len(early),
            "bunching": len(bunching),
            "silent_devices": silent_total,
            "silent_recent": silent_recent,  # went silent in the last VISIBLE_FOR_S
            "rejected": rejected_total,
        },
        "vehicles": vehicles,
        "routes": route_rows,
        "late": late[:LIST_LIMIT],
        "early": early[:LIST_LIMIT],
        "bunching": bunching[:LIST_LIMIT],
        "ghosts": ghosts[:LIST_LIMIT],
        "silent_devices": devices,
        "rejects": rejects,
    }


def _silent_devices(now: datetime, ghost_after: int) -> tuple[list[dict[str, Any]], int, int]:
    """Active devices of vehicles in service that stopped reporting (or never did): the most
    recently silent first (the ones worth a call), never-seen last; with the number of them
    and of those that went silent within VISIBLE_FOR_S (the others are mostly buses off duty)."""
    cutoff = now - timedelta(seconds=ghost_after)
    rows = list(
        Device.objects.filter(is_active=True, vehicle__is_active=True)
        .exclude(last_seen_at__gte=cutoff)
        .values("pk", "device_id", "vehicle_id", "vehicle__code", "vehicle__label", "last_seen_at")
    )
    rows.sort(key=lambda r: (r["last_seen_at"] is None, -(r["last_seen_at"] or now).timestamp()))
    result = []
    for r in rows[:LIST_LIMIT]:
        age = (now - r["last_seen_at"]).total_seconds() if r["last_seen_at"] else None
        result.append(
            {
                "id": r["pk"],
                "device_id": r["device_id"],
                "vehicle_id": r["vehicle_id"],
                "vehicle_code": r["vehicle__code"],
                "vehicle_label": r["vehicle__label"] or r["vehicle__code"],
                "last_seen_at": _iso(r["last_seen_at"]),
                "age_s": int(age) if age is not None else None,
                "age_text": format_duration(age) if age is not None else _("never"),
            }
        )
    recent_cutoff = now - timedelta(seconds=VISIBLE_FOR_S)
    recent = sum(1 for r in rows if r["last_seen_at"] and r["last_seen_at"] >= recent_cutoff)
    return result, len(rows), recent


def ingest_counters(device_keys: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """{device_key: {"accepted": n, "duplicate": n, "rejected": n, "outcomes": {outcome: n},
    "outcomes_text": str, "last_at": datetime, "last_detail": str (of the latest rejection)}};
    every device key when `device_keys` is None."""
    rows = IngestCounter.objects.all()
    if device_keys is not None:
        rows = rows.filter(device_key__in=list(device_keys))
    result: dict[str, dict[str, Any]] = {}
    for key, outcome, count, last_at, detail in rows.values_list(
        "device_key", "outcome", "count", "last_at", "last_detail"
    ):
        item = result.setdefault(
            key,
            {
                "accepted": 0,
                "duplicate": 0,
                "rejected": 0,
                "outcomes": {},
                "last_at": None,
                "last_detail": "",
            },
        )
        if outcome in NOT_REJECTED:
            item[outcome] += count
            continue
        item["rejected"] += count
        item["outcomes"][outcome] = count
        if item["last_at"] is None or last_at > item["last_at"]:
            item["last_at"], item["last_detail"] = last_at, detail
    for item in result.values():
        item["outcomes_text"] = outcomes_text(item["outcomes"])
    return result


def _rejects() -> tuple[list[dict[str, Any]], int]:
    """Devices (also unknown ones: the id they claimed) with rejected reports, most first."""
    counters = ingest_counters()
    rows = [
        {
            "device_key": key,
            "rejected": c["rejected"],
            "accepted": c["accepted"],
            "outcomes": c["outcomes"],
            "outcomes_text": c["outcomes_text"],
            "last_at": _iso(c["last_at"]),
            "last_detail": c["last_detail"],
        }
        for key, c in counters.items()
        if c["rejected"]
    ]
    rows.sort(key=lambda r: (-r["rejected"], r["device_key"]))
    return rows[:LIST_LIMIT], sum(r["rejected"] for r in rows)
