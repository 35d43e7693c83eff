"""Storing what GPS devices report: validation, de-duplication, the batch write, counters.

One record format for HTTP and MQTT (docs/transit-devices.md):

    {"vehicle_id": "HN-B01", "timestamp": 1700000000.0, "latitude": 21.02,
     "longitude": 105.85, "speed": 8.3, "bearing": 90, "trip_id": "R01-0-0530"}

`ingest_positions` checks every record (a bad one is refused with its field, code and reason
and never stops the batch), drops repeats (one position per vehicle and instant: within the
batch, and against the stored rows through the unique key), then in ONE transaction stores the
new Position rows, moves each vehicle's latest position on `VehicleState` forward (never back),
stamps `Device.last_seen_at` and adds up `IngestCounter` per (device, outcome). After commit it
hands the vehicles that moved to the tracker (`TRANSIT_TRACK_INLINE`).

This is the hot path of the transit app (2,000 buses every 10 s at city scale, far more when
devices flush their buffers after a tunnel), so the writes are a few multi-row SQL statements
per batch rather than one ORM save per position: INSERT ... ON CONFLICT DO NOTHING RETURNING
for positions (it counts the repeats the database already had), INSERT ... ON CONFLICT DO
UPDATE ... WHERE older for vehicle states and counters. SQLite (>= 3.35) and PostgreSQL both
speak that dialect; rows are written in key order so that concurrent batches lock in the same
order.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Device, IngestCounter, Position, Vehicle, VehicleState
from .tokens import hash_token

log = logging.getLogger(__name__)

# Outcomes counted per device (IngestCounter.outcome).
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
MALFORMED = "malformed"
BAD_COORDINATES = "bad_coordinates"
TOO_OLD = "too_old"
IN_FUTURE = "in_future"
UNKNOWN_VEHICLE = "unknown_vehicle"
WRONG_VEHICLE = "wrong_vehicle"
BAD_TOKEN = "bad_token"  # noqa: S105 — an outcome's name, not a secret
TOO_MANY = "too_many"  # a request or message with more than TRANSIT_MAX_BATCH records
BAD_TOPIC = "bad_topic"  # an MQTT message on a topic without a device id
ERROR = "error"  # a batch the server failed to store (MQTT worker, after its retries)
REJECTIONS = (
    MALFORMED,
    BAD_COORDINATES,
    TOO_OLD,
    IN_FUTURE,
    UNKNOWN_VEHICLE,
    WRONG_VEHICLE,
)

# The service area: a position outside this box (south, west, north, east) is refused as
# bad_coordinates. Hanoi with a margin; settings.TRANSIT_AREA overrides it.
DEFAULT_AREA = (20.5, 105.2, 21.5, 106.1)
MAX_SPEED_MS = 100.0  # 360 km/h: anything faster is a broken speed field
MAX_TEXT = 64  # vehicle_id, trip_id, device keys (the columns' length)
MS_TIMESTAMP = 1e11  # POSIX seconds pass 10^11 in the year 5138: beyond that, milliseconds
ROWS_PER_STATEMENT = 500  # positions per INSERT (9 parameters each)
AUTH_CACHE_S = 30.0  # how long a token's device is remembered in-process
AUTH_MISS_CACHE_S = 5.0  # ... and a token that names no active device
AUTH_CACHE_MAX = 20_000


@dataclass
class IngestResult:
    """What became of one batch: stored, repeated, refused (with index, field, code, message)
    and the primary keys of the vehicles whose positions were stored."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    vehicle_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        """The HTTP answer's body."""
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass
class DeviceBatch:
    """The records one device sent (`device` None: a trusted source such as the simulator, each
    record naming its vehicle). `device_key` names the counters (the device id)."""

    records: Sequence[Any]
    device: Device | None
    device_key: str


class _Reject(Exception):
    """A record refused (control flow inside the validator; never escapes this module)."""

    __slots__ = ("code", "field", "message")

    def __init__(self, field: str, code: str, message: str) -> None:
        self.field, self.code, self.message = field, code, message


# --- authentication ---------------------------------------------------------------------------

_auth_cache: dict[str, tuple[float, Device | None]] = {}
_auth_lock = threading.Lock()


def authenticate(token: str) -> Device | None:
    """The active device whose token this is (its vehicle loaded), or None.

    Remembered per process for AUTH_CACHE_S seconds (a device reporting every 10 s costs a
    query now and then; a deactivated device or a rotated token stops working within that time
    everywhere, at once in the process that called `clear_auth_cache`); an unknown token for
    AUTH_MISS_CACHE_S (a new device works within seconds, a flood of bad tokens costs little)."""
    if not isinstance(token, str) or not token or len(token) > 256:
        return None
    digest = hash_token(token)
    now = time.monotonic()
    hit = _auth_cache.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    device = (
        Device.objects.select_related("vehicle")
        .filter(token_hash=digest, is_active=True)
        .only(
            "id",
            "device_id",
            "vehicle_id",
            "is_active",
            "vehicle__id",
            "vehicle__code",
            "vehicle__is_active",
        )
        .first()
    )
    with _auth_lock:
        if len(_auth_cache) >= AUTH_CACHE_MAX:
            _auth_cache.clear()
        _auth_cache[digest] = (now + (AUTH_CACHE_S if device else AUTH_MISS_CACHE_S), device)
    return device


def clear_auth_cache() -> None:
    """Forget the remembered tokens (after a token is rotated or a device deactivated)."""
    with _auth_lock:
        _auth_cache.clear()


# --- validation -------------------------------------------------------------------------------


def _area() -> tuple[float, float, float, float]:
    area = getattr(settings, "TRANSIT_AREA", None) or DEFAULT_AREA
    south, west, north, east = (float(v) for v in area)
    return south, west, north, east


def _number(record: dict[str, Any], name: str, code: str) -> float:
    """A required finite number (bool is not one)."""
    if name not in record or record[name] is None:
        raise _Reject(name, MALFORMED, _("This field is required."))
    value = record[name]
    kind = type(value)
    if kind is not float and kind is not int:
        raise _Reject(name, MALFORMED, _("Must be a number."))
    value = float(value)
    if not math.isfinite(value):
        raise _Reject(name, code, _("Must be a finite number."))
    return value


def _optional_number(record: dict[str, Any], name: str) -> float | None:
    value = record.get(name)
    if value is None:
        return None
    kind = type(value)
    if kind is not float and kind is not int:
        raise _Reject(name, MALFORMED, _("Must be a number, or null when unknown."))
    value = float(value)
    if not math.isfinite(value):
        raise _Reject(name, MALFORMED, _("Must be a finite number."))
    return value


def _timestamp(raw: Any) -> float:
    """POSIX seconds from a number or an ISO 8601 text with a UTC offset."""
    kind = type(raw)
    if kind is float or kind is int:
        ts = float(raw)
        if not math.isfinite(ts):
            raise _Reject("timestamp", MALFORMED, _("Must be a finite number."))
        if ts > MS_TIMESTAMP:
            raise _Reject(
                "timestamp",
                MALFORMED,
                _("This looks like milliseconds: send seconds since 1970-01-01 00:00 UTC."),
            )
        return ts
    if kind is str and 10 <= len(raw) <= 40:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                raise _Reject(
                    "timestamp",
                    MALFORMED,
                    _("The date and time needs its UTC offset, e.g. 2025-01-31T07:30:00+07:00."),
                )
            return parsed.timestamp()
    if raw is None:
        raise _Reject("timestamp", MALFORMED, _("This field is required."))
    raise _Reject(
        "timestamp",
        MALFORMED,
        _(
            "Must be POSIX seconds (a number) or an ISO 8601 date and time with its UTC "
            "offset, e.g. 2025-01-31T07:30:00+07:00."
        ),
    )


def _text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if type(value) is not str:
        raise _Reject(name, MALFORMED, _("Must be a text."))
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise _Reject(name, MALFORMED, _("At most %(max)d characters.") % {"max": MAX_TEXT})
    return value


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class _Validator:
    """Checks records against one batch's clock, area and the vehicles it may name."""

    def __init__(self, now_ts: float) -> None:
        self.now_ts = now_ts
        self.max_age = float(settings.TRANSIT_MAX_AGE_S)
        self.max_future = float(settings.TRANSIT_MAX_FUTURE_S)
        self.south, self.west, self.north, self.east = _area()
        self.oldest = now_ts - self.max_age
        self.newest = now_ts + self.max_future

    def check(
        self, record: Any
    ) -> tuple[str, float, float, float, float | None, float | None, str]:
        """(vehicle_id, ts, lat, lon, speed, bearing, trip_id) or _Reject."""
        if type(record) is not dict:
            raise _Reject("", MALFORMED, _("A position must be a JSON object."))
        vehicle_id = _text(record, "vehicle_id")
        if "timestamp" not in record:
            raise _Reject("timestamp", MALFORMED, _("This field is required."))
        ts = _timestamp(record["timestamp"])
        lat = _number(record, "latitude", BAD_COORDINATES)
        lon = _number(record, "longitude", BAD_COORDINATES)
        speed = _optional_number(record, "speed")
        bearing = _optional_number(record, "bearing")
        trip_id = _text(record, "trip_id")
        if not -90.0 <= lat <= 90.0:
            raise _Reject("latitude", BAD_COORDINATES, _("Must be between -90 and 90 degrees."))
        if not -180.0 <= lon <= 180.0:
            raise _Reject("longitude", BAD_COORDINATES, _("Must be between -180 and 180 degrees."))
        if lat == 0.0 and lon == 0.0:
            raise _Reject(
                "latitude",
                BAD_COORDINATES,
                _("0, 0 is not a position: the device has no GPS fix; do not send it."),
            )
        if not (self.south <= lat <= self.north and self.west <= lon <= self.east):
            raise _Reject(
                "latitude" if not self.south <= lat <= self.north else "longitude",
                BAD_COORDINATES,
                _(
                    "%(lat)s, %(lon)s is outside the service area "
                    "(latitude %(south)s to %(north)s, longitude %(west)s to %(east)s)."
                )
                % {
                    "lat": _fmt(lat),
                    "lon": _fmt(lon),
                    "south": _fmt(self.south),
                    "north": _fmt(self.north),
                    "west": _fmt(self.west),
                    "east": _fmt(self.east),
                },
            )
        if speed is not None and not 0.0 <= speed <= MAX_SPEED_MS:
            raise _Reject(
                "speed",
                MALFORMED,
                _("Must be between 0 and %(max)d metres per second, or null when unknown.")
                % {"max": int(MAX_SPEED_MS)},
            )
        if bearing is not None:
            if not 0.0 <= bearing <= 360.0:
                raise _Reject(
                    "bearing",
                    MALFORMED,
                    _("Must be between 0 and 360 degrees, or null when unknown."),
                )
            if bearing == 360.0:
                bearing = 0.0
        if ts < self.oldest:
            raise _Reject(
                "timestamp",
                TOO_OLD,
                _(
                    "Recorded %(age)d s ago; positions older than %(max)d s are refused "
                    "(check the device's clock, or drop its stale buffer)."
                )
                % {"age": int(self.now_ts - ts), "max": int(self.max_age)},
            )
        if ts > self.newest:
            raise _Reject(
                "timestamp",
                IN_FUTURE,
                _(
                    "Recorded %(ahead)d s ahead of the server's clock (at most %(max)d s "
                    "allowed): set the device's clock from GPS or NTP."
                )
                % {"ahead": int(ts - self.now_ts), "max": int(self.max_future)},
            )
        return vehicle_id, ts, lat, lon, speed, bearing, trip_id


# --- the batch ---------------------------------------------------------------------------------


def ingest_positions(
    *,
    records: list[Any],
    source: str,
    device: Device | None,
    device_key: str,
    now: datetime | None = None,
) -> IngestResult:
    """Validate, de-duplicate and store one device's records (see the module's docstring).

    `device` is the authenticated device (records may omit vehicle_id; when given it must be
    the device's vehicle); None for a trusted source (the simulator over "db"), whose records
    each name their vehicle. Never raises on bad records; a database failure raises and leaves
    nothing written."""
    return ingest_batches(
        batches=[DeviceBatch(records, device, device_key)], source=source, now=now
    )[0]


def ingest_batches(
    *,
    batches: Sequence[DeviceBatch],
    source: str,
    now: datetime | None = None,
    extra_counts: dict[tuple[str, str], tuple[int, str]] | None = None,
) -> list[IngestResult]:
    """`ingest_positions` for several devices in one transaction (the MQTT worker's batch).

    `extra_counts` adds counter rows in the same transaction: {(device_key, outcome): (count,
    detail)} — the worker's bad tokens and malformed messages."""
    if source not in Position.Source.values:
        raise ValueError(f"unknown source {source!r}")
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be timezone-aware")
    now_ts = now.timestamp()
    validator = _Validator(now_ts)
    results = [IngestResult() for _batch in batches]
    # {(device_key, outcome): [count, detail]}
    counts: dict[tuple[str, str], list[Any]] = {}
    for (key, outcome), (n, detail) in (extra_counts or {}).items():
        _add(counts, key, outcome, n, detail)

    # Vehicles named by trusted sources' records: one query for the whole batch.
    codes: set[str] = set()
    for batch in batches:
        if batch.device is None:
            codes.update(
                r["vehicle_id"].strip()
                for r in batch.records
                if type(r) is dict and type(r.get("vehicle_id")) is str
            )
    vehicles_by_code = (
        dict(Vehicle.objects.filter(code__in=codes, is_active=True).values_list("code", "pk"))
        if codes
        else {}
    )

    # (vehicle_pk, recorded_at) -> row; rows in the order first seen
    rows: dict[tuple[int, datetime], tuple[Any, ...]] = {}
    owner: dict[tuple[int, datetime], int] = {}  # row key -> batch index
    latest: dict[int, tuple[float, tuple[Any, ...]]] = {}  # vehicle_pk -> (ts, row)
    seen_devices: list[int] = []
    attempted = [0] * len(batches)  # distinct rows per batch sent to the database
    fromtimestamp = datetime.fromtimestamp
    for b, batch in enumerate(batches):
        result = results[b]
        key = _key(batch.device_key)
        device = batch.device
        own_pk = None
        if device is not None:
            seen_devices.append(device.pk)
            if device.vehicle.is_active:
                own_pk = device.vehicle_id
        rejected = result.rejected
        for index, record in enumerate(batch.records):
            try:
                vehicle_id, ts, lat, lon, speed, bearing, trip_id = validator.check(record)
                if device is not None:
                    if vehicle_id and vehicle_id != device.vehicle.code:
                        raise _Reject(
                            "vehicle_id",
                            WRONG_VEHICLE,
                            _("This device is fitted to vehicle %(own)s, not %(given)s.")
                            % {"own": device.vehicle.code, "given": vehicle_id},
                        )
                    if own_pk is None:
                        raise _Reject(
                            "vehicle_id",
                            UNKNOWN_VEHICLE,
                            _("Vehicle %(code)s is not in service.")
                            % {"code": device.vehicle.code},
                        )
                    vehicle_pk = own_pk
                else:
                    if not vehicle_id:
                        raise _Reject("vehicle_id", UNKNOWN_VEHICLE, _("This field is required."))
                    found = vehicles_by_code.get(vehicle_id)
                    if found is None:
                        raise _Reject(
                            "vehicle_id",
                            UNKNOWN_VEHICLE,
                            _("No vehicle in service has the id %(code)s.") % {"code": vehicle_id},
                        )
                    vehicle_pk = found
            except _Reject as refusal:
                rejected.append(
                    {
                        "index": index,
                        "field": refusal.field,
                        "code": refusal.code,
                        "message": refusal.message,
                    }
                )
                detail = f"{refusal.field}: {refusal.message}" if refusal.field else refusal.message
                _add(counts, key, refusal.code, 1, detail)
                continue
            except Exception as exc:  # a validator bug must not lose the batch
                log.exception("transit ingest: record %s of %s could not be checked", index, key)
                rejected.append(
                    {
                        "index": index,
                        "field": "",
                        "code": MALFORMED,
                        "message": _("This position could not be read."),
                    }
                )
                _add(counts, key, MALFORMED, 1, str(exc)[:200])
                continue
            recorded_at = fromtimestamp(ts, UTC)
            row_key = (vehicle_pk, recorded_at)
            if row_key in rows:
                result.duplicates += 1
                continue
            row = (vehicle_pk, recorded_at, lat, lon, speed, bearing, trip_id)
            rows[row_key] = row
            owner[row_key] = b
            attempted[b] += 1
            previous = latest.get(vehicle_pk)
            if previous is None or ts > previous[0]:
                latest[vehicle_pk] = (ts, row)

    # One transaction. Every batch writes states, devices, positions, counters in that order,
    # each in key order, so that concurrent batches take their row locks in the same order.
    with transaction.atomic():
        inserted = _write(rows, latest, sorted(set(seen_devices)), source, now)
        for row_key in inserted:
            b = owner.get(row_key, -1)
            if b < 0:  # cannot happen: the database returns the keys it was given
                log.warning("transit ingest: stored row %s not in the batch", row_key)
                continue
            results[b].accepted += 1
            results[b].vehicle_ids.add(row_key[0])
        for b, batch in enumerate(batches):
            result = results[b]
            result.duplicates += attempted[b] - result.accepted  # already stored
            key = _key(batch.device_key)
            _add(counts, key, ACCEPTED, result.accepted, "")
            _add(counts, key, DUPLICATE, result.duplicates, "")
        _upsert_counters(counts, now)

    moved: set[int] = set()
    for result in results:
        moved |= result.vehicle_ids
    if moved:
        _track_after_commit(moved)
    return results


def _key(device_key: str) -> str:
    return (device_key or "unknown")[:MAX_TEXT]


def _add(
    counts: dict[tuple[str, str], list[Any]], key: str, outcome: str, n: int, detail: str
) -> None:
    if n <= 0:
        return
    slot = counts.get((key, outcome))
    if slot is None:
        counts[(key, outcome)] = [n, detail]
    else:
        slot[0] += n
        if detail:
            slot[1] = detail


# --- the statements -----------------------------------------------------------------------------

Rows = dict[tuple[int, datetime], tuple[Any, ...]]  # (vehicle_pk, recorded_at) -> row
Latest = dict[int, tuple[float, tuple[Any, ...]]]  # vehicle_pk -> (ts, row)

_STATE_UPSERT = (
    "ON CONFLICT (vehicle_id) DO UPDATE SET recorded_at = excluded.recorded_at, "
    "lat = excluded.lat, lon = excluded.lon, speed = excluded.speed, "
    "bearing = excluded.bearing, reported_trip_id = excluded.reported_trip_id, "
    "updated_at = excluded.updated_at "
    "WHERE s.recorded_at IS NULL OR s.recorded_at < excluded.recorded_at"
)
_STATE_COLUMNS = (
    "(vehicle_id, recorded_at, lat, lon, speed, bearing, reported_trip_id, status, trip_id, "
    "route_id, next_stop_id, track, updated_at)"
)
_POSITION_COLUMNS = (
    "(vehicle_id, recorded_at, received_at, lat, lon, speed, bearing, trip_id, source)"
)
_POSITION_CONFLICT = (
    "ON CONFLICT (vehicle_id, recorded_at) DO NOTHING RETURNING vehicle_id, recorded_at"
)


def _write(
    rows: Rows, latest: Latest, device_pks: list[int], source: str, now: datetime
) -> list[tuple[int, datetime]]:
    """Vehicle states, devices' last report, positions; returns the keys of the positions
    actually stored (a repeat of a stored one is not)."""
    if connection.vendor == "postgresql":
        return _write_postgresql(rows, latest, device_pks, source, now)
    if latest:
        _upsert_states_sqlite(latest, now)
    if device_pks:
        Device.objects.filter(pk__in=device_pks).update(last_seen_at=now)
    return _insert_positions_sqlite(rows, source, now)


def _write_postgresql(
    rows: Rows, latest: Latest, device_pks: list[int], source: str, now: datetime
) -> list[tuple[int, datetime]]:
    """PostgreSQL: one round trip for all of it — several statements in one execute (Django's
    client-side binding cursor sends them as one simple query), each column of the positions
    and states as one array (unnest), so the statement stays short whatever the batch size.

    The transaction does not wait for its WAL flush at commit (synchronous_commit off, only in
    a transaction of our own): positions are telemetry, a server crash may lose the last
    fraction of a second of them and never leaves them half-written.
    settings.TRANSIT_SYNCHRONOUS_COMMIT = True makes it wait as everything else does."""
    statements: list[str] = []
    params: list[Any] = []
    if not connection.savepoint_ids and not getattr(settings, "TRANSIT_SYNCHRONOUS_COMMIT", False):
        statements.append("SET LOCAL synchronous_commit = off")
    if latest:
        ordered = [latest[pk][1] for pk in sorted(latest)]
        statements.append(
            f"INSERT INTO {VehicleState._meta.db_table} AS s {_STATE_COLUMNS} "  # noqa: S608
            "SELECT v, r, la, lo, sp, be, tr, %s, '', '', '', %s, %s FROM unnest("
            "%s::bigint[], %s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], "
            f"%s::float8[], %s::text[]) AS t(v, r, la, lo, sp, be, tr) {_STATE_UPSERT}"
        )
        params += [
            VehicleState.Status.UNASSIGNED.value,
            VehicleState._meta.get_field("track").get_db_prep_value({}, connection),
            now,
            *(list(column) for column in zip(*ordered, strict=True)),
        ]
    if device_pks:
        statements.append(
            f"UPDATE {Device._meta.db_table} SET last_seen_at = %s WHERE id = ANY(%s)"  # noqa: S608
        )
        params += [now, device_pks]
    ordered_keys = sorted(rows)
    if ordered_keys:
        statements.append(
            f"INSERT INTO {Position._meta.db_table} {_POSITION_COLUMNS} "  # noqa: S608
            "SELECT v, r, %s, la, lo, sp, be, tr, %s FROM unnest(%s::bigint[], "
            "%s::timestamptz[], %s::float8[], %s::float8[], %s::float8[], %s::float8[], "
            f"%s::text[]) AS t(v, r, la, lo, sp, be, tr) {_POSITION_CONFLICT}"
        )
        params += [
            now,
            source,
            *(list(column) for column in zip(*(rows[k] for k in ordered_keys), strict=True)),
        ]
    if not statements:
        return []
    with connection.cursor() as cursor:
        cursor.execute(";\n".join(statements), params)
        if not ordered_keys:
            return []
        for _statement in statements[1:]:
            cursor.nextset()  # the INSERT ... RETURNING is the last one
        stored = cursor.fetchall()
    return _stored_keys(ordered_keys, stored)


def _stored_keys(
    sent: list[tuple[int, datetime]], stored: list[tuple[int, datetime]]
) -> list[tuple[int, datetime]]:
    if len(stored) == len(sent):  # the usual case: nothing was there yet
        return sent
    # SQLite gives the naive UTC value back, PostgreSQL an aware one
    return [(pk, at if at.tzinfo else at.replace(tzinfo=UTC)) for pk, at in stored]


def _sqlite_utc(dt: datetime) -> str:
    """Django's SQLite form of a UTC datetime made by `datetime.fromtimestamp(ts, UTC)`: the
    text of the naive value ("2026-03-02 01:00:00.500000"), as
    connection.ops.adapt_datetimefield_value writes it, without its time zone dance."""
    return str(dt)[:-6]  # minus "+00:00"


def _values(n: int, width: int) -> str:
    one = "(" + ",".join(["%s"] * width) + ")"
    return ",".join([one] * n)


def _insert_positions_sqlite(rows: Rows, source: str, now: datetime) -> list[tuple[int, datetime]]:
    """SQLite: multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING, ROWS_PER_STATEMENT rows a
    statement (its limit on bound values)."""
    if not rows:
        return []
    table = Position._meta.db_table
    ordered = sorted(rows)
    received = connection.ops.adapt_datetimefield_value(now)
    inserted: list[tuple[int, datetime]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), ROWS_PER_STATEMENT):
            chunk = ordered[start : start + ROWS_PER_STATEMENT]
            params: list[Any] = []
            extend = params.extend
            for row_key in chunk:
                vehicle_pk, recorded_at, lat, lon, speed, bearing, trip_id = rows[row_key]
                extend(
                    (
                        vehicle_pk,
                        _sqlite_utc(recorded_at),
                        received,
                        lat,
                        lon,
                        speed,
                        bearing,
                        trip_id,
                        source,
                    )
                )
            cursor.execute(
                f"INSERT INTO {table} {_POSITION_COLUMNS} "  # noqa: S608
                f"VALUES {_values(len(chunk), 9)} "
                f"{_POSITION_CONFLICT}",
                params,
            )
            inserted += _stored_keys(chunk, cursor.fetchall())
    return inserted


def _upsert_states_sqlite(latest: Latest, now: datetime) -> None:
    """Each vehicle's latest position on its VehicleState, only when newer than the one there
    (a new row for a vehicle that has none: status unassigned, empty track)."""
    table = VehicleState._meta.db_table
    empty_track = VehicleState._meta.get_field("track").get_db_prep_value({}, connection)
    updated = connection.ops.adapt_datetimefield_value(now)
    unassigned = VehicleState.Status.UNASSIGNED.value
    ordered = [latest[pk][1] for pk in sorted(latest)]
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), ROWS_PER_STATEMENT):
            chunk = ordered[start : start + ROWS_PER_STATEMENT]
            params: list[Any] = []
            for pk, recorded_at, lat, lon, speed, bearing, trip_id in chunk:
                params.extend(
                    (
                        pk,
                        _sqlite_utc(recorded_at),
                        lat,
                        lon,
                        speed,
                        bearing,
                        trip_id,
                        unassigned,
                        "",
                        "",
                        "",
                        empty_track,
                        updated,
                    )
                )
            cursor.execute(
                f"INSERT INTO {table} AS s {_STATE_COLUMNS} "  # noqa: S608
                f"VALUES {_values(len(chunk), 13)} "
                f"{_STATE_UPSERT}",
                params,
            )


def _upsert_counters(counts: dict[tuple[str, str], list[Any]], now: datetime) -> None:
    if not counts:
        return
    table = IngestCounter._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)
    keys = sorted(counts)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), ROWS_PER_STATEMENT):
            chunk = keys[start : start + ROWS_PER_STATEMENT]
            params: list[Any] = []
            for key, outcome in chunk:
                n, detail = counts[(key, outcome)]
                params.extend((key[:MAX_TEXT], outcome[:32], n, at, (detail or "")[:255]))
            cursor.execute(
                f"INSERT INTO {table} AS c "  # noqa: S608 — table from the model, values bound
                "(device_key, outcome, count, last_at, last_detail) "
                f"VALUES {_values(len(chunk), 5)} "
                "ON CONFLICT (device_key, outcome) DO UPDATE SET count = c.count + excluded.count, "
                "last_at = CASE WHEN excluded.last_at > c.last_at THEN excluded.last_at "
                "ELSE c.last_at END, "
                "last_detail = CASE WHEN excluded.last_detail = '' THEN c.last_detail "
                "ELSE excluded.last_detail END",
                params,
            )


def count_rejection(
    device_key: str, outcome: str, detail: str = "", *, count: int = 1, now: datetime | None = None
) -> None:
    """Count `count` refusals of `outcome` for `device_key` (one upsert; e.g. a bad token)."""
    if count <= 0:
        return
    with transaction.atomic():
        _upsert_counters({(_key(device_key), outcome): [count, detail]}, now or timezone.now())


def count_many(
    counts: dict[tuple[str, str], tuple[int, str]], *, now: datetime | None = None
) -> None:
    """Several counters at once: {(device_key, outcome): (count, detail)}."""
    merged: dict[tuple[str, str], list[Any]] = {}
    for (key, outcome), (n, detail) in counts.items():
        _add(merged, _key(key), outcome, n, detail)
    if merged:
        with transaction.atomic():
            _upsert_counters(merged, now or timezone.now())


# --- after the commit: tracking ------------------------------------------------------------------

_tracker_missing_logged = False


def _track_after_commit(vehicle_ids: Iterable[int]) -> None:
    if not settings.TRANSIT_TRACK_INLINE:
        return
    ids = set(vehicle_ids)
    transaction.on_commit(lambda: track_now(ids))


def track_now(vehicle_ids: set[int]) -> None:
    """Run the tracker on these vehicles; a failure is logged, the positions stay stored."""
    global _tracker_missing_logged
    try:
        from thudo.transit.tracker import track_vehicles
    except ImportError:
        if not _tracker_missing_logged:
            log.warning("transit ingest: thudo.transit.tracker is not available; not tracking")
            _tracker_missing_logged = True
        return
    try:
        track_vehicles(vehicle_ids)
    except Exception:
        log.exception("transit ingest: tracking %d vehicles failed", len(vehicle_ids))


# --- housekeeping ---------------------------------------------------------------------------------


def prune_positions(*, older_than_days: int = 30, chunk: int = 20_000) -> int:
    """Delete positions recorded more than `older_than_days` ago (in chunks, so that no
    transaction grows huge); returns how many."""
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = timezone.now() - timedelta(days=older_than_days)
    total = 0
    while True:
        ids = list(
            Position.objects.filter(recorded_at__lt=cutoff)
            .order_by()
            .values_list("id", flat=True)[:chunk]
        )
        if not ids:
            return total
        deleted, _rows = Position.objects.filter(id__in=ids).delete()
        total += deleted
