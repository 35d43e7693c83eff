"""The tracker: the engine (matcher → model → predictions) over the database.

`track_vehicles(vehicle_pks)` picks the vehicles whose latest stored position is newer than
what was tracked (`VehicleState.recorded_at > tracked_at`), reads their new positions in order
(at most the last `MAX_POSITIONS` of the last `MAX_BACKLOG_S`), runs them through the process's
`Engine` with each vehicle's `VehicleTrack` as stored in `VehicleState.track`, and then, in one
transaction: updates each vehicle's state (trip, status, distance, next stop, deviation, the
track), stores the stop arrivals observed (`StopArrival`; an arrival first, its departure when
the bus leaves), replaces the vehicle's `Prediction` rows and saves what the model learned
(`model_store.save_model`). It is called inline after each ingest (TRANSIT_TRACK_INLINE) and by
the `thudo transit track` worker (`run_loop`), possibly from several processes at once: a
vehicle's state is only written when nobody tracked it meanwhile (its `tracked_at` unchanged),
so a position is never matched twice.

`sweep_ghosts()` marks the vehicles silent for more than TRANSIT_GHOST_AFTER_S as ghosts and
withdraws their predictions.

Per process, the network is cached per feed version (`engine.network.network_for`) and the
model is reloaded from `SegmentStat` every `MODEL_RELOAD_S` seconds (keeping what it has not
saved yet).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections, models, router, transaction
from django.db.models import F
from django.utils import timezone

from .engine.engine import Engine
from .engine.network import Network, network_for
from .engine.types import Ping, StopEvent, StopPrediction, VehicleTrack, service_day_start
from .models import Position, Prediction, StopArrival, Vehicle, VehicleState

log = logging.getLogger(__name__)

MAX_POSITIONS = 20  # the newest positions of a vehicle tracked in one go
MAX_BACKLOG_S = 600  # ... and none older than this before its latest one
MODEL_RELOAD_S = 60.0
TAKEN_REFRESH_S = 10.0
CHUNK = 500  # ids per IN (...) query
INSERT_BATCH = 2000


class _Process:
    """The process's engine, rebuilt when the active feed version changes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.engine: Engine | None = None
        self.model: Any = None
        self.model_loaded = 0.0
        self.taken_loaded = 0.0


_proc = _Process()


def _load_model(model: Any = None) -> Any:
    try:
        from . import model_store
    except ImportError:  # the predictor is not installed: matching only
        return None
    try:
        return model_store.load_model(model) if model is not None else model_store.load_model()
    except Exception:
        log.exception("transit tracker: the travel-time model could not be loaded")
        return model


def _save_model(model: Any) -> None:
    if model is None:
        return
    from . import model_store

    model_store.save_model(model)


def current_engine() -> Engine | None:
    """The process's engine for the active feed (None without an active feed)."""
    net = network_for()
    if net is None:
        return None
    with _proc.lock:
        eng = _proc.engine
        now = time.monotonic()
        if eng is None or eng.network is not net:
            model = _load_model(_proc.model)
            _proc.model = model
            _proc.model_loaded = now
            eng = _proc.engine = Engine(net, model)
        elif now - _proc.model_loaded > MODEL_RELOAD_S and _proc.model is not None:
            _load_model(_proc.model)
            _proc.model_loaded = now
        return eng


def reset() -> None:
    """Forget the process's engine and model (tests; after clearing the model)."""
    with _proc.lock:
        _proc.engine = None
        _proc.model = None
        _proc.model_loaded = 0.0
        _proc.taken_loaded = 0.0


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _ts_adapter(conn: Any) -> Any:
    """POSIX seconds → the value the database takes for a DateTimeField (what
    `ops.adapt_datetimefield_value` gives, without its per-call work on SQLite: UTC text)."""
    if conn.vendor == "sqlite" and conn.timezone == UTC:

        def sqlite_text(ts: float) -> str:
            return datetime.fromtimestamp(ts, tz=UTC).replace(tzinfo=None).isoformat(" ")

        return sqlite_text
    adapt = conn.ops.adapt_datetimefield_value

    def adapted(ts: float) -> Any:
        return adapt(datetime.fromtimestamp(ts, tz=UTC))

    return adapted


def _aware(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _refresh_taken(engine: Engine) -> None:
    """Which vehicle runs which trip, from every state (the trip inference avoids them)."""
    now = time.monotonic()
    if now - _proc.taken_loaded < TAKEN_REFRESH_S:
        return
    _proc.taken_loaded = now
    rows = VehicleState.objects.filter(
        status__in=[
            VehicleState.Status.IN_SERVICE,
            VehicleState.Status.LAYOVER,
            VehicleState.Status.OFF_ROUTE,
        ]
    ).values_list("trip_id", "service_date", "vehicle__code", "recorded_at")
    taken = engine.matcher.taken
    for trip_id, service_date, code, recorded_at in rows:
        if trip_id and service_date and recorded_at:
            key = (trip_id, service_date.isoformat())
            ts = recorded_at.timestamp()
            known = taken.get(key)
            if known is None or known[1] < ts:
                taken[key] = (code, ts)


def track_vehicles(vehicle_pks: Iterable[int] | None = None, *, now: datetime | None = None) -> int:
    """Track the vehicles (all by default) that have positions not tracked yet; returns how
    many vehicles were tracked. One call at a time per process (the engine and its model are
    shared by the threads of a server process)."""
    with _proc.lock:
        return _track_vehicles(vehicle_pks, now or timezone.now())


def _track_vehicles(vehicle_pks: Iterable[int] | None, now: datetime) -> int:
    states = _read_states(None if vehicle_pks is None else sorted(set(vehicle_pks)))
    if not states:
        return 0
    engine = current_engine()
    if engine is None:
        return _untracked(states, now)
    positions = _new_positions(states)
    if any(not (s[4] or {}).get("trip_id") for s in states):
        _refresh_taken(engine)
    results = []
    for pk, code, tracked_at, recorded_at, stored in states:
        rows = positions.get(pk, [])
        track = _track_from(stored, code)
        engine.tracks[code] = track
        events: list[StopEvent] = []
        preds: list[StopPrediction] = []
        last = len(rows) - 1
        for i, (at, lat, lon, speed, bearing, trip_id) in enumerate(rows):
            ping = Ping(code, at.timestamp(), lat, lon, speed, bearing, trip_id or "")
            evs, p = engine.process(ping, predict=i == last)
            events += evs
            if i == last:
                preds = p
        done_until = max(recorded_at, rows[-1][0]) if rows else recorded_at
        results.append((pk, tracked_at, done_until, track, events, preds))
    _store(engine, results, now)
    return len(results)


def _track_from(stored: Any, code: str) -> VehicleTrack:
    if isinstance(stored, dict) and stored.get("vehicle_id") == code:
        try:
            return VehicleTrack.from_dict(stored)
        except (TypeError, ValueError):
            log.warning("transit tracker: unreadable track of %s, starting afresh", code)
    return VehicleTrack(vehicle_id=code)


def _read_states(pks: list[int] | None) -> list[tuple[Any, ...]]:
    """(vehicle pk, code, tracked_at, recorded_at, track dict) of the vehicles with positions
    not tracked yet. Plain SQL: this runs after every ingest request, where the ORM's query
    building would cost more than the query."""
    conn = connections[router.db_for_read(VehicleState)]
    qn = conn.ops.quote_name
    st, veh = VehicleState._meta, Vehicle._meta
    col = {
        f: qn(_column(VehicleState, f)) for f in ("vehicle", "tracked_at", "recorded_at", "track")
    }
    code = qn(_column(Vehicle, "code"))
    sql = (
        f"SELECT s.{col['vehicle']}, v.{code}, s.{col['tracked_at']},"  # noqa: S608
        f" s.{col['recorded_at']}, s.{col['track']}"
        f" FROM {qn(st.db_table)} s JOIN {qn(veh.db_table)} v"
        f" ON v.{qn(veh.pk.column)} = s.{col['vehicle']}"
        f" WHERE s.{col['recorded_at']} IS NOT NULL AND (s.{col['tracked_at']} IS NULL"
        f" OR s.{col['recorded_at']} > s.{col['tracked_at']})"
    )
    batches: list[list[int] | None] = [None] if pks is None else list(_chunks(pks))
    out: list[tuple[Any, ...]] = []
    with conn.cursor() as cur:
        for chunk in batches:
            if chunk is None:
                cur.execute(sql)
            elif not chunk:
                continue
            else:
                marks = ", ".join(["%s"] * len(chunk))
                cur.execute(f"{sql} AND s.{col['vehicle']} IN ({marks})", chunk)
            for pk, code, tracked_at, recorded_at, track in cur.fetchall():
                out.append(
                    (pk, code, _from_db_dt(tracked_at), _from_db_dt(recorded_at), _json(track))
                )
    return out


def _from_db_dt(value: Any) -> Any:
    """An aware datetime from what a plain cursor returns (SQLite: naive UTC or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _json(value: Any) -> Any:
    if isinstance(value, (str, bytes, bytearray)):
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return value


def _new_positions(states: list[tuple[Any, ...]]) -> dict[int, list[tuple[Any, ...]]]:
    """Each vehicle's positions after its tracked_at (at most the newest MAX_POSITIONS, none
    more than MAX_BACKLOG_S before its latest), oldest first."""
    lower: dict[int, datetime] = {}
    for pk, _code, tracked_at, recorded_at, _track in states:
        floor = recorded_at - timedelta(seconds=MAX_BACKLOG_S)
        lower[pk] = max(tracked_at, floor) if tracked_at is not None else floor
    conn = connections[router.db_for_read(Position)]
    qn = conn.ops.quote_name
    meta = Position._meta
    names = ("vehicle", "recorded_at", "lat", "lon", "speed", "bearing", "trip_id")
    cols = [qn(_column(Position, f)) for f in names]
    base = (
        f"SELECT {', '.join(cols)} FROM {qn(meta.db_table)}"  # noqa: S608 — quoted names only
        f" WHERE {cols[1]} > %s AND {cols[0]} IN "
    )
    out: dict[int, list[tuple[Any, ...]]] = {}
    with conn.cursor() as cur:
        for chunk in _chunks(sorted(lower)):
            since = min(lower[pk] for pk in chunk)
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(
                f"{base}({marks}) ORDER BY {cols[0]}, {cols[1]}",
                [conn.ops.adapt_datetimefield_value(since), *chunk],
            )
            for vid, recorded_at, lat, lon, speed, bearing, trip_id in cur.fetchall():
                at = _from_db_dt(recorded_at)
                if at > lower[vid]:
                    out.setdefault(vid, []).append((at, lat, lon, speed, bearing, trip_id))
    for vid, rows in out.items():
        if len(rows) > MAX_POSITIONS:
            out[vid] = rows[-MAX_POSITIONS:]
    return out


def _untracked(states: list[tuple[Any, ...]], now: datetime) -> int:
    """No active timetable: the vehicles are on no trip."""
    pks = [s[0] for s in states]
    with transaction.atomic():
        for chunk in _chunks(pks):
            VehicleState.objects.filter(vehicle_id__in=chunk).update(
                tracked_at=F("recorded_at"),
                status=VehicleState.Status.UNASSIGNED,
                trip_id="",
                route_id="",
                direction_id=None,
                service_date=None,
                dist_m=None,
                next_stop_sequence=None,
                next_stop_id="",
                deviation_s=None,
                updated_at=now,
            )
            Prediction.objects.filter(vehicle_id__in=chunk).delete()
    return len(pks)


def _store(engine: Engine, results: list[tuple[Any, ...]], now: datetime) -> None:
    """Write one round in one transaction (see the module docstring). The hot rows — one
    state per vehicle, its predictions — go through prepared statements: the ORM's per-object
    work would be most of the round's time at 2,000 vehicles."""
    net = engine.network
    conn = connections[router.db_for_write(VehicleState)]
    ops = conn.ops
    adapt_dt = ops.adapt_datetimefield_value
    ts_db = _ts_adapter(conn)
    adapt_date = ops.adapt_datefield_value
    track_field = VehicleState._meta.get_field("track")
    day0: dict[date, float] = {}

    def sched_ts(service_date: date, seconds: int) -> float:
        base = day0.get(service_date)
        if base is None:
            base = day0[service_date] = service_day_start(service_date, net.tz)
        return base + seconds

    set_sql, where_sql, where_null_sql = _state_sql(conn)
    now_db = adapt_dt(now)
    with transaction.atomic(using=conn.alias), conn.cursor() as cur:
        written: list[int] = []
        arrivals: dict[tuple[str, date, int], StopArrival] = {}
        departures: dict[tuple[str, date, int], StopArrival] = {}
        pred_rows: list[tuple[Any, ...]] = []
        for pk, old_tracked_at, tracked_at, track, events, preds in results:
            values = _state_values(net, track)
            params = [
                adapt_dt(tracked_at),
                now_db,
                values["status"],
                values["trip_id"],
                values["route_id"],
                values["direction_id"],
                adapt_date(values["service_date"]),
                values["dist_m"],
                values["next_stop_sequence"],
                values["next_stop_id"],
                values["deviation_s"],
                track_field.get_db_prep_value(values["track"], conn),
                pk,
            ]
            if old_tracked_at is None:
                cur.execute(set_sql + where_null_sql, params)
            else:
                cur.execute(set_sql + where_sql, [*params, adapt_dt(old_tracked_at)])
            if cur.rowcount != 1:
                continue  # tracked meanwhile by another process: its result stands
            written.append(pk)
            for ev in events:
                row = StopArrival(
                    vehicle_id=pk,
                    trip_id=ev.trip_id,
                    route_id=ev.route_id,
                    direction_id=ev.direction_id,
                    service_date=ev.service_date,
                    stop_id=ev.stop_id,
                    stop_sequence=ev.seq,
                    arrived_at=_aware(ev.arrival_ts),
                    departed_at=_aware(ev.departure_ts) if ev.departure_ts is not None else None,
                    scheduled_arrival=_aware(sched_ts(ev.service_date, ev.sched_arr_s)),
                )
                key = (ev.trip_id, ev.service_date, ev.seq)
                if ev.departure_ts is None:
                    arrivals[key] = row
                else:
                    departures[key] = row
            if preds and track.service_date is not None:
                sd = track.service_date
                sd_db = adapt_date(sd)
                for p in preds:
                    arr = round(p.arrival_ts)
                    pred_rows.append(
                        (
                            pk,
                            track.trip_id,
                            track.route_id,
                            track.direction_id,
                            sd_db,
                            p.stop_id,
                            p.seq,
                            ts_db(arr),
                            ts_db(max(round(p.departure_ts), arr)),
                            max(0, round(p.uncertainty_s)),
                            ts_db(sched_ts(sd, p.sched_arr_s)),
                            now_db,
                        )
                    )
        for key in departures:
            arrivals.pop(key, None)
        if arrivals:
            StopArrival.objects.bulk_create(
                list(arrivals.values()), batch_size=INSERT_BATCH, ignore_conflicts=True
            )
        if departures:
            StopArrival.objects.bulk_create(
                list(departures.values()),
                batch_size=INSERT_BATCH,
                update_conflicts=True,
                unique_fields=["trip_id", "service_date", "stop_sequence"],
                update_fields=["arrived_at", "departed_at"],
            )
        pred_table = conn.ops.quote_name(Prediction._meta.db_table)
        pred_vehicle = conn.ops.quote_name(_column(Prediction, "vehicle"))
        for chunk in _chunks(written):
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(
                f"DELETE FROM {pred_table} WHERE {pred_vehicle} IN ({marks})",  # noqa: S608
                chunk,
            )
        if pred_rows:
            sql = _insert_sql(conn, Prediction, PREDICTION_COLUMNS)
            for i in range(0, len(pred_rows), INSERT_BATCH):
                cur.executemany(sql, pred_rows[i : i + INSERT_BATCH])
        if engine.model is not None:
            _save_model(engine.model)


PREDICTION_COLUMNS = (
    "vehicle",
    "trip_id",
    "route_id",
    "direction_id",
    "service_date",
    "stop_id",
    "stop_sequence",
    "arrival",
    "departure",
    "uncertainty_s",
    "scheduled_arrival",
    "made_at",
)
STATE_COLUMNS = (
    "tracked_at",
    "updated_at",
    "status",
    "trip_id",
    "route_id",
    "direction_id",
    "service_date",
    "dist_m",
    "next_stop_sequence",
    "next_stop_id",
    "deviation_s",
    "track",
)


def _column(model: Any, name: str) -> str:
    """The database column of a model's concrete field."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a concrete field")
    return str(field.column)


def _insert_sql(conn: Any, model: Any, fields: tuple[str, ...]) -> str:
    qn = conn.ops.quote_name
    columns = ", ".join(qn(_column(model, f)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608


def _state_sql(conn: Any) -> tuple[str, str, str]:
    """UPDATE of a vehicle's state, guarded by the tracked_at it was read with."""
    qn = conn.ops.quote_name
    meta = VehicleState._meta
    sets = ", ".join(f"{qn(_column(VehicleState, f))} = %s" for f in STATE_COLUMNS)
    pk = qn(_column(VehicleState, "vehicle"))
    tracked = qn(_column(VehicleState, "tracked_at"))
    update = f"UPDATE {qn(meta.db_table)} SET {sets}"  # noqa: S608 — quoted names only
    return update, f" WHERE {pk} = %s AND {tracked} = %s", f" WHERE {pk} = %s AND {tracked} IS NULL"


def _state_values(net: Network, track: VehicleTrack) -> dict[str, Any]:
    next_stop_id = ""
    if track.trip_id and track.next_seq is not None:
        trip = net.trips.get(track.trip_id)
        if trip is not None:
            for st in trip.stops:
                if st.seq == track.next_seq:
                    next_stop_id = st.stop_id
                    break
    on_trip = bool(track.trip_id)
    return {
        "status": track.status,
        "trip_id": track.trip_id,
        "route_id": track.route_id,
        "direction_id": track.direction_id,
        "service_date": track.service_date,
        "dist_m": round(track.dist_m, 1) if on_trip else None,
        "next_stop_sequence": track.next_seq if on_trip else None,
        "next_stop_id": next_stop_id,
        "deviation_s": round(track.deviation_s) if on_trip else None,
        "track": _track_dict(track),
    }


def _track_dict(track: VehicleTrack) -> dict[str, Any]:
    """VehicleTrack.to_dict() without its deep copy (the dict is serialised at once)."""
    return {
        "vehicle_id": track.vehicle_id,
        "status": track.status,
        "trip_id": track.trip_id,
        "route_id": track.route_id,
        "direction_id": track.direction_id,
        "service_date": track.service_date.isoformat() if track.service_date else None,
        "dist_m": track.dist_m,
        "last_ts": track.last_ts,
        "last_lat": track.last_lat,
        "last_lon": track.last_lon,
        "next_seq": track.next_seq,
        "deviation_s": track.deviation_s,
        "off_route_pings": track.off_route_pings,
        "extra": track.extra,
    }


def sweep_ghosts(now: datetime | None = None) -> int:
    """Vehicles silent for more than TRANSIT_GHOST_AFTER_S become ghosts; their predictions
    are withdrawn. Returns how many turned ghost now."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TRANSIT_GHOST_AFTER_S)
    with transaction.atomic():
        pks = list(
            VehicleState.objects.filter(recorded_at__lt=cutoff)
            .exclude(status=VehicleState.Status.GHOST)
            .values_list("vehicle_id", flat=True)
        )
        for chunk in _chunks(pks):
            VehicleState.objects.filter(vehicle_id__in=chunk).update(
                status=VehicleState.Status.GHOST, updated_at=now
            )
            Prediction.objects.filter(vehicle_id__in=chunk).delete()
    if pks and _proc.engine is not None:
        _proc.engine.sweep(now.timestamp(), float(settings.TRANSIT_GHOST_AFTER_S))
    return len(pks)


def run_loop(
    stop: threading.Event | None = None,
    every_s: float = 1.0,
    *,
    sweep_every_s: float = 10.0,
    stdout: Any = None,
) -> None:
    """Track every second (and sweep ghosts every `sweep_every_s`) until `stop` is set. Errors
    are logged and the loop goes on (the database may be restarting)."""
    stop = stop or threading.Event()
    last_sweep = 0.0
    tracked = 0
    last_report = time.monotonic()
    while not stop.is_set():
        started = time.monotonic()
        try:
            tracked += track_vehicles()
            if started - last_sweep >= sweep_every_s:
                sweep_ghosts()
                last_sweep = started
        except Exception:
            log.exception("transit tracker: a round failed")
            _refresh_connections()
        if stdout is not None and started - last_report >= 60.0:
            stdout.write(f"tracked {tracked} vehicle updates in the last minute\n")
            tracked = 0
            last_report = started
        stop.wait(max(0.0, every_s - (time.monotonic() - started)))


def _refresh_connections() -> None:
    """Drop broken or too old database connections between batches, as a long-lived worker
    must — but never inside a transaction (a test's, or a caller's): closing would end it."""
    from django.db import connection

    if not connection.in_atomic_block:
        close_old_connections()
