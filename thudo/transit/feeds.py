"""GTFS-realtime feeds (docs/transit-feeds.md): VehiclePositions, TripUpdates and ServiceAlerts
built from the live tables as `gtfs_realtime_pb2.FeedMessage`s, serialised to protobuf bytes or
to JSON; and the active static timetable re-exported as a GTFS zip.

Every feed is a FULL_DATASET snapshot "as of now", version "2.0", following the GTFS-realtime
best practices:

* the header timestamp never goes backwards, whichever process builds the next message
  (`header_timestamp`: one atomic upsert of `RealtimeStamp` taking the larger value), and no
  entity timestamp is later than it;
* vehicles and trip updates older than 90 s (the position they rest on) are left out, and
  ghosts (vehicles that stopped reporting) never appear;
* entity ids are persistent across iterations: the vehicle id, "<trip_id>:<YYYYMMDD>" and
  "alert-<pk>"; one TripUpdate per trip instance, one VehiclePosition per vehicle; the trip and
  vehicle pairing is the same in both feeds;
* TripDescriptor: trip_id, route_id, direction_id, start_date (YYYYMMDD) and
  schedule_relationship; VehicleDescriptor: id, label, licence plate;
* StopTimeUpdates carry stop_sequence and stop_id, in increasing stop_sequence order, with
  arrival and departure times strictly increasing from stop to stop (arrival ≤ departure at
  a stop) and the prediction's uncertainty; no update for a stop already passed, except a stop
  passed ahead of its scheduled time (kept until that time, as the observed time with
  uncertainty 0, as the specification asks); predictions are never earlier than "now";
* congestion and occupancy are not sent: Thudo does not know them.

The TripUpdates build reads Prediction and VehicleState with `.values_list()` (epoch seconds
computed by the database) and fills the protobuf messages directly: 2,000 vehicles and 50,000
predictions in a few hundred milliseconds (benchmarks/bench_transit_feed.py).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from math import ceil
from typing import Any

from django.db import connection, transaction
from django.db.models import CharField, F, FloatField, Func
from django.utils import timezone
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as rt

from .models import (
    Agency,
    Calendar,
    CalendarDate,
    Feed,
    Prediction,
    RealtimeStamp,
    Route,
    ServiceAlert,
    Shape,
    Stop,
    StopArrival,
    StopTime,
    Trip,
    VehicleState,
)

GTFS_RT_VERSION = "2.0"
MAX_AGE_S = 90  # best practice: TripUpdates and VehiclePositions no older than 90 s
INCOMING_M = 50.0  # closer than this to the next stop: INCOMING_AT
STOPPED_SPEED = 0.5  # m/s: at the stop and slower than this: STOPPED_AT

VEHICLE_POSITIONS = "vehicle_positions"
TRIP_UPDATES = "trip_updates"
SERVICE_ALERTS = "service_alerts"
FEED_NAMES = (VEHICLE_POSITIONS, TRIP_UPDATES, SERVICE_ALERTS)

_LIVE = VehicleState.Status
# one StopTimeUpdate to be: (stop_sequence, stop_id, arrival, departure, uncertainty, observed)
_Update = tuple[int, str, float, float | None, int, bool]
_SCHEDULED = rt.TripDescriptor.SCHEDULED
_STU_SCHEDULED = rt.TripUpdate.StopTimeUpdate.SCHEDULED


# --- helpers ---------------------------------------------------------------------------------


class Epoch(Func):
    """POSIX seconds (float) of a datetime column, computed by the database, so that tens of
    thousands of rows are read without building a datetime object per value."""

    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
            **extra,
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM %(expressions)s)::double precision",
            **extra,
        )


class AsStored(Func):
    """A column as the database keeps it: on SQLite a date stays its ISO text (the driver
    would parse every value into a date object); elsewhere the column itself."""

    template = "%(expressions)s"
    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s || '')", **extra)


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else round(value.timestamp())


def _ymd(day: date | None) -> str:
    return day.strftime("%Y%m%d") if day else ""


def _active_feed() -> Feed | None:
    return Feed.objects.filter(status=Feed.Status.ACTIVE).first()


def header_timestamp(feed_name: str, now: datetime | None = None) -> int:
    """The header timestamp for `feed_name` at `now`: POSIX seconds, never smaller than any
    value returned before for that feed, by any process (one atomic upsert keeping the larger
    value in `RealtimeStamp`)."""
    ts = int((now or timezone.now()).timestamp())
    q = connection.ops.quote_name
    table = q(RealtimeStamp._meta.db_table)
    feed_col, ts_col = q("feed"), q("timestamp")
    if connection.vendor in ("sqlite", "postgresql"):
        larger = "GREATEST" if connection.vendor == "postgresql" else "MAX"
        sql = (
            f"INSERT INTO {table} ({feed_col}, {ts_col}) VALUES (%s, %s) "  # noqa: S608 — names are quoted constants
            f"ON CONFLICT ({feed_col}) DO UPDATE SET "
            f"{ts_col} = {larger}({table}.{ts_col}, excluded.{ts_col}) RETURNING {ts_col}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [feed_name, ts])
            row = cursor.fetchone()
        return int(row[0])
    with transaction.atomic():  # other databases: lock the row
        stamp, _created = RealtimeStamp.objects.select_for_update().get_or_create(
            feed=feed_name, defaults={"timestamp": ts}
        )
        if stamp.timestamp < ts:
            stamp.timestamp = ts
            stamp.save(update_fields=["timestamp"])
        return int(stamp.timestamp)


def _message(feed_name: str, now: datetime, feed: Feed | None) -> rt.FeedMessage:
    message = rt.FeedMessage()
    header = message.header
    header.gtfs_realtime_version = GTFS_RT_VERSION
    header.incrementality = rt.FeedHeader.FULL_DATASET
    header.timestamp = header_timestamp(feed_name, now)
    if feed is not None:
        header.feed_version = str(feed.version)  # feed_info.feed_version of /transit/gtfs/feed.zip
    return message


def _vehicle(descriptor: Any, code: str, label: str, plate: str) -> None:
    descriptor.id = code
    if label:
        descriptor.label = label
    if plate:
        descriptor.license_plate = plate


def _trip(
    descriptor: Any, trip_id: str, route_id: str, direction_id: int | None, day: date | None
) -> None:
    descriptor.trip_id = trip_id
    if route_id:
        descriptor.route_id = route_id
    if direction_id is not None:
        descriptor.direction_id = direction_id
    if day is not None:
        descriptor.start_date = _ymd(day)
    descriptor.schedule_relationship = _SCHEDULED


def _haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    from .engine.types import haversine_m

    return haversine_m(lat1, lon1, lat2, lon2)


# --- VehiclePositions ------------------------------------------------------------------------


def build_vehicle_positions(now: datetime | None = None) -> rt.FeedMessage:
    """Every vehicle that reported in the last 90 s and is not a ghost, with its trip (when the
    tracker assigned one), position, next stop and status. Three queries."""
    now = now or timezone.now()
    feed = _active_feed()
    message = _message(VEHICLE_POSITIONS, now, feed)
    header_ts = message.header.timestamp
    rows = list(
        VehicleState.objects.filter(
            recorded_at__gte=now - timedelta(seconds=MAX_AGE_S),
            lat__isnull=False,
            lon__isnull=False,
            vehicle__is_active=True,
        )
        .exclude(status=_LIVE.GHOST)
        .order_by("vehicle__code")
        .values_list(
            "vehicle__code",
            "vehicle__label",
            "vehicle__license_plate",
            "recorded_at",
            "lat",
            "lon",
            "speed",
            "bearing",
            "status",
            "trip_id",
            "route_id",
            "direction_id",
            "service_date",
            "next_stop_sequence",
            "next_stop_id",
        )
    )
    stops: dict[str, tuple[float, float]] = {}
    wanted = {r[14] for r in rows if r[14]}
    if feed is not None and wanted:
        stops = {
            sid: (lat, lon)
            for sid, lat, lon in Stop.objects.filter(feed=feed, stop_id__in=wanted).values_list(
                "stop_id", "lat", "lon"
            )
        }
    for (
        code,
        label,
        plate,
        recorded_at,
        lat,
        lon,
        speed,
        bearing,
        status,
        trip_id,
        route_id,
        direction_id,
        service_date,
        next_seq,
        next_stop,
    ) in rows:
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            continue
        entity = message.entity.add()
        entity.id = code
        vp = entity.vehicle
        on_trip = bool(trip_id) and status in (_LIVE.IN_SERVICE, _LIVE.LAYOVER, _LIVE.OFF_ROUTE)
        if on_trip:
            _trip(vp.trip, trip_id, route_id, direction_id, service_date)
        _vehicle(vp.vehicle, code, label, plate)
        vp.position.latitude = lat
        vp.position.longitude = lon
        if bearing is not None and bearing == bearing:  # not NaN
            vp.position.bearing = bearing % 360.0
        if speed is not None and speed >= 0:
            vp.position.speed = speed
        vp.timestamp = min(_epoch(recorded_at) or header_ts, header_ts)
        if on_trip and next_stop:
            vp.stop_id = next_stop
            if next_seq is not None:
                vp.current_stop_sequence = next_seq
            vp.current_status = _stop_status(status, lat, lon, speed, stops.get(next_stop))
    return message


def _stop_status(
    status: str, lat: float, lon: float, speed: float | None, stop: tuple[float, float] | None
) -> int:
    if status == _LIVE.LAYOVER:
        return rt.VehiclePosition.STOPPED_AT  # waiting at the terminus for its departure
    if stop is not None:
        away = _haversine_m(lat, lon, stop[0], stop[1])
        if away <= INCOMING_M:
            if speed is not None and speed < STOPPED_SPEED and away <= INCOMING_M / 2:
                return rt.VehiclePosition.STOPPED_AT
            return rt.VehiclePosition.INCOMING_AT
    return rt.VehiclePosition.IN_TRANSIT_TO


# --- TripUpdates -----------------------------------------------------------------------------


def build_trip_updates(now: datetime | None = None) -> rt.FeedMessage:
    """One TripUpdate per trip instance that a fresh (≤ 90 s), non-ghost vehicle has
    predictions for: the trip it runs and, where the tracker predicted them, the next trips of
    its block. Four queries (the feed, the states, the predictions, stops passed early); the
    predictions are read straight from the cursor (epoch seconds, no model conversions)."""
    now = now or timezone.now()
    now_ts = now.timestamp()
    feed = _active_feed()
    message = _message(TRIP_UPDATES, now, feed)
    header_ts = message.header.timestamp
    states: dict[int, tuple[Any, ...]] = {
        row[0]: row
        for row in VehicleState.objects.filter(
            recorded_at__gte=now - timedelta(seconds=MAX_AGE_S), vehicle__is_active=True
        )
        .exclude(status=_LIVE.GHOST)
        .values_list(
            "vehicle_id",
            "vehicle__code",
            "vehicle__label",
            "vehicle__license_plate",
            "recorded_at",
            "tracked_at",
            "trip_id",
            "service_date",
            "next_stop_sequence",
            "deviation_s",
        )
    }
    if not states:
        return message

    # (trip_id, service_date as stored, vehicle pk) -> updates; route and direction per trip
    found: dict[tuple[str, Any, int], list[_Update]] = {}
    routes: dict[tuple[str, Any], tuple[str, int | None]] = {}
    query = Prediction.objects.annotate(
        day=AsStored(F("service_date")), a=Epoch(F("arrival")), d=Epoch(F("departure"))
    ).values_list(
        "vehicle_id",
        "trip_id",
        "day",
        "route_id",
        "direction_id",
        "stop_sequence",
        "stop_id",
        "a",
        "d",
        "uncertainty_s",
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(10_000):
            for vpk, trip_id, day, route_id, direction_id, seq, stop_id, arr, dep, unc in chunk:
                state = states.get(vpk)
                if state is None:
                    continue  # stale or ghost vehicle
                if trip_id == state[6] and state[8] is not None and seq < state[8]:
                    continue  # a stop already passed (left over from an earlier run)
                key = (trip_id, day, vpk)
                rows = found.get(key)
                if rows is None:
                    rows = found[key] = []
                    routes.setdefault((trip_id, day), (route_id, direction_id))
                rows.append((seq, stop_id, arr, dep, unc, False))

    by_trip: dict[tuple[str, Any], list[int]] = {}
    for trip_id, day, vpk in found:
        by_trip.setdefault((trip_id, day), []).append(vpk)
    passed = _passed_early(states, now)
    for trip_id, stored_day in sorted(by_trip):
        vpk = _pick_vehicle(by_trip[(trip_id, stored_day)], states, trip_id)
        state = states[vpk]
        day = _as_date(stored_day)
        updates = found[(trip_id, stored_day, vpk)]
        if trip_id == state[6]:
            updates += passed.get((vpk, trip_id, day), [])
        route = routes[(trip_id, stored_day)]
        _trip_update(message, trip_id, day, route, state, updates, now_ts, header_ts)
    return message


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _pick_vehicle(vehicles: list[int], states: dict[int, tuple[Any, ...]], trip_id: str) -> int:
    """One TripUpdate per trip: when two vehicles claim it, the one running it now, freshest."""
    if len(vehicles) == 1:
        return vehicles[0]
    return max(vehicles, key=lambda v: (states[v][6] == trip_id, states[v][4], -v))


def _passed_early(
    states: dict[int, tuple[Any, ...]], now: datetime
) -> dict[tuple[int, str, date], list[_Update]]:
    """Stops the vehicles passed ahead of their scheduled arrival, still to come by the
    timetable: the specification asks to keep them (observed, uncertainty 0) until then."""
    current = {s[6] for s in states.values() if s[6]}
    if not current:
        return {}
    found: dict[tuple[int, str, date], list[_Update]] = {}
    rows = (
        StopArrival.objects.filter(
            trip_id__in=current,
            scheduled_arrival__gt=now,
            arrived_at__gte=now - timedelta(hours=3),
        )
        .annotate(a=Epoch(F("arrived_at")), d=Epoch(F("departed_at")))
        .values_list("vehicle_id", "trip_id", "service_date", "stop_sequence", "stop_id", "a", "d")
    )
    for vpk, trip_id, day, seq, stop_id, arr, dep in rows:
        state = states.get(vpk)
        if state is None or state[6] != trip_id or state[7] != day:
            continue
        if state[8] is not None and seq >= state[8]:
            continue  # not passed (the predictions speak for it)
        found.setdefault((vpk, trip_id, day), []).append((seq, stop_id, arr, dep, 0, True))
    return found


def _trip_update(
    message: rt.FeedMessage,
    trip_id: str,
    day: date,
    route: tuple[str, int | None],
    state: tuple[Any, ...],
    updates: list[_Update],
    now_ts: float,
    header_ts: int,
) -> None:
    updates.sort(key=_first)
    entity = message.entity.add()
    entity.id = f"{trip_id}:{_ymd(day)}"
    tu = entity.trip_update
    _trip(tu.trip, trip_id, route[0], route[1], day)
    _vehicle(tu.vehicle, state[1], state[2], state[3])
    measured = state[5] or state[4]
    tu.timestamp = min(_epoch(measured) or header_ts, header_ts)
    if trip_id == state[6] and state[9] is not None:
        tu.delay = int(state[9])
    add = tu.stop_time_update.add
    now_s = ceil(now_ts)
    previous = -1
    last_seq = None
    for seq, stop_id, arr, dep, unc, observed in updates:
        if seq == last_seq:
            continue  # one update per stop_sequence
        last_seq = seq
        # whole seconds (the database's date arithmetic leaves ~1e-5 s of noise); a
        # prediction never before now; strictly after the previous stop's departure
        a = ceil(arr - 0.001)
        if not observed and a < now_s:
            a = now_s
        if a <= previous:
            a = previous + 1
        stu = add(stop_sequence=seq, stop_id=stop_id, schedule_relationship=_STU_SCHEDULED)
        event = stu.arrival
        event.time = a
        event.uncertainty = unc
        if dep is None:
            previous = a
        else:
            d = round(dep)
            if d < a:
                d = a
            event = stu.departure
            event.time = d
            event.uncertainty = unc
            previous = d
    if not tu.stop_time_update:
        del message.entity[-1]


def _first(update: _Update) -> int:
    return update[0]


# --- ServiceAlerts ---------------------------------------------------------------------------


def build_service_alerts(now: datetime | None = None) -> rt.FeedMessage:
    """Alerts in force now or announced for later (not ended, not expired), in Vietnamese and
    English. An alert naming no route and no stop informs every agency of the active feed."""
    from .alerts import published_alerts

    now = now or timezone.now()
    feed = _active_feed()
    message = _message(SERVICE_ALERTS, now, feed)
    alerts = published_alerts(now=now)
    agencies: list[str] = []
    if feed is not None and any(not a.route_ids and not a.stop_ids for a in alerts):
        agencies = [
            a for a in Agency.objects.filter(feed=feed).values_list("agency_id", flat=True) if a
        ]
    for alert in alerts:
        entity = message.entity.add()
        entity.id = f"alert-{alert.pk}"
        _alert(entity.alert, alert, agencies)
    return message


def _translated(target: Any, vi: str, en: str) -> None:
    if vi:
        t = target.translation.add()
        t.text, t.language = vi, "vi"
    if en:
        t = target.translation.add()
        t.text, t.language = en, "en"


def _alert(out: Any, alert: ServiceAlert, agencies: list[str]) -> None:
    period = out.active_period.add()
    period.start = _epoch(alert.active_from) or 0
    if alert.active_until is not None:
        period.end = _epoch(alert.active_until) or 0
    for route_id in alert.route_ids:
        out.informed_entity.add().route_id = route_id
    for stop_id in alert.stop_ids:
        out.informed_entity.add().stop_id = stop_id
    if not alert.route_ids and not alert.stop_ids:
        if agencies:
            for agency_id in agencies:
                out.informed_entity.add().agency_id = agency_id
        else:
            out.informed_entity.add().route_type = 3  # every bus route
    out.cause = rt.Alert.Cause.Value(alert.cause)
    out.effect = rt.Alert.Effect.Value(alert.effect)
    out.severity_level = rt.Alert.SeverityLevel.Value(alert.severity)
    _translated(out.header_text, alert.header, alert.header_en)
    if alert.description or alert.description_en:
        _translated(out.description_text, alert.description, alert.description_en)
    if alert.url:
        out.url.translation.add().text = alert.url


# --- Serialising -----------------------------------------------------------------------------

BUILDERS: dict[str, Callable[[datetime | None], rt.FeedMessage]] = {
    VEHICLE_POSITIONS: build_vehicle_positions,
    TRIP_UPDATES: build_trip_updates,
    SERVICE_ALERTS: build_service_alerts,
}


def to_protobuf(message: rt.FeedMessage) -> bytes:
    return message.SerializeToString()


def to_json(message: rt.FeedMessage) -> dict[str, Any]:
    """The message as the protobuf JSON mapping with GTFS field names (64-bit integers such
    as timestamps come as strings, as that mapping says)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


# --- The static feed, re-exported ------------------------------------------------------------


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _num(value: float | None, digits: int = 6) -> str:
    return "" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def static_feed_zip(feed: Feed, *, publisher_url: str = "") -> bytes:
    """The feed version as a GTFS zip (agency, routes, stops, calendar, calendar_dates, shapes,
    trips, stop_times, feed_info with feed_version = the version number the realtime headers
    name). Deterministic for a given version."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def write(name: str, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.getvalue().encode("utf-8"))

        agencies = list(Agency.objects.filter(feed=feed).order_by("agency_id"))
        write(
            "agency.txt",
            [
                "agency_id",
                "agency_name",
                "agency_url",
                "agency_timezone",
                "agency_lang",
                "agency_phone",
            ],
            [[a.agency_id, a.name, a.url, a.timezone, a.lang, a.phone] for a in agencies],
        )
        write(
            "routes.txt",
            [
                "route_id",
                "agency_id",
                "route_short_name",
                "route_long_name",
                "route_desc",
                "route_type",
                "route_color",
                "route_text_color",
                "route_sort_order",
            ],
            Route.objects.filter(feed=feed)
            .order_by("route_id")
            .values_list(
                "route_id",
                "agency__agency_id",
                "short_name",
                "long_name",
                "description",
                "route_type",
                "color",
                "text_color",
                "sort_order",
            ),
        )
        write(
            "stops.txt",
            [
                "stop_id",
                "stop_code",
                "stop_name",
                "stop_desc",
                "stop_lat",
                "stop_lon",
                "location_type",
                "parent_station",
                "wheelchair_boarding",
            ],
            (
                [sid, code, name, desc, _num(lat), _num(lon), lt, parent, wb]
                for sid, code, name, desc, lat, lon, lt, parent, wb in Stop.objects.filter(
                    feed=feed
                )
                .order_by("stop_id")
                .values_list(
                    "stop_id",
                    "code",
                    "name",
                    "description",
                    "lat",
                    "lon",
                    "location_type",
                    "parent_station",
                    "wheelchair_boarding",
                )
            ),
        )
        days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        write(
            "calendar.txt",
            ["service_id", *days, "start_date", "end_date"],
            (
                [
                    c.service_id,
                    *(int(getattr(c, d)) for d in days),
                    _ymd(c.start_date),
                    _ymd(c.end_date),
                ]
                for c in Calendar.objects.filter(feed=feed).order_by("service_id")
            ),
        )
        write(
            "calendar_dates.txt",
            ["service_id", "date", "exception_type"],
            (
                [sid, _ymd(day), kind]
                for sid, day, kind in CalendarDate.objects.filter(feed=feed)
                .order_by("service_id", "date")
                .values_list("service_id", "date", "exception_type")
            ),
        )
        write(
            "shapes.txt",
            [
                "shape_id",
                "shape_pt_lat",
                "shape_pt_lon",
                "shape_pt_sequence",
                "shape_dist_traveled",
            ],
            (
                [sid, _num(p[0]), _num(p[1]), i + 1, _num(p[2] if len(p) > 2 else None, 1)]
                for sid, points in Shape.objects.filter(feed=feed)
                .order_by("shape_id")
                .values_list("shape_id", "points")
                for i, p in enumerate(points)
            ),
        )
        write(
            "trips.txt",
            [
                "route_id",
                "service_id",
                "trip_id",
                "trip_headsign",
                "trip_short_name",
                "direction_id",
                "block_id",
                "shape_id",
            ],
            Trip.objects.filter(feed=feed)
            .order_by("trip_id")
            .values_list(
                "route__route_id",
                "service_id",
                "trip_id",
                "headsign",
                "short_name",
                "direction_id",
                "block_id",
                "shape__shape_id",
            ),
        )
        write(
            "stop_times.txt",
            [
                "trip_id",
                "arrival_time",
                "departure_time",
                "stop_id",
                "stop_sequence",
                "pickup_type",
                "drop_off_type",
                "shape_dist_traveled",
                "timepoint",
            ],
            (
                [tid, _hms(arr), _hms(dep), sid, seq, pick, drop, _num(dist, 1), int(tp)]
                for tid, arr, dep, sid, seq, pick, drop, dist, tp in StopTime.objects.filter(
                    trip__feed=feed
                )
                .order_by("trip__trip_id", "stop_sequence")
                .values_list(
                    "trip__trip_id",
                    "arrival_s",
                    "departure_s",
                    "stop__stop_id",
                    "stop_sequence",
                    "pickup_type",
                    "drop_off_type",
                    "dist_m",
                    "timepoint",
                )
                .iterator(chunk_size=10_000)
            ),
        )
        langs = {a.lang for a in agencies if a.lang}
        write(
            "feed_info.txt",
            [
                "feed_publisher_name",
                "feed_publisher_url",
                "feed_lang",
                "feed_start_date",
                "feed_end_date",
                "feed_version",
            ],
            [
                [
                    agencies[0].name if agencies else feed.name,
                    publisher_url or (agencies[0].url if agencies else ""),
                    langs.pop() if len(langs) == 1 else "vi",
                    _ymd(feed.feed_start),
                    _ymd(feed.feed_end),
                    str(feed.version),
                ]
            ],
        )
    return out.getvalue()
