"""The bus simulator: a day of Hanoi buses running their GTFS blocks, reported as GPS pings.

It is the ground truth of the accuracy benchmark (benchmarks/bench_transit_accuracy.py) and the
live feed of the demo (`thudo transit simulate --live`). Pure Python, no database: it reads an
`engine.network.Network` (or anything with the same attributes, see `NetworkLike`) and is
deterministic per seed.

How a day is made
-----------------
Every block of the service day gets one bus (vehicle id `demo_network.vehicle_code_for_block`).
The bus appears at its first terminus a few minutes before its first trip, runs its trips one
after the other and switches its device off a few minutes after the last one. Each bus's
motion is a list of *phases* (start time, position along the path, speed, acceleration), so
the position at any instant is exact and cheap to sample; the pings are then drawn from it.

Physics, per trip:

* cruise speed = free-flow speed of the place (slower in the old centre around Hoàn Kiếm,
  faster outside the ring roads) × the time-of-day congestion of Hanoi (`hanoi_congestion`:
  morning peak ~07:00–09:00 and evening peak ~16:30–19:00 much slower, weekends lighter) × a
  traffic field shared by all buses in the same ~1.2 km cell and 20-minute window (so buses
  following each other see the same slow-downs; rare incidents slow a cell for up to an hour)
  × a day factor per seed (sometimes a rain shower for an hour or three) × a per-bus driver
  factor × a per-piece random factor × a per-route calibration so that, on a calm day with
  the default profile of its day type, the median trip takes its scheduled running time; a
  driver behind the timetable pushes on, one ahead of it takes it easy;
* acceleration (0.9 m/s², ±20 % by driver) from every stop and braking (1.1 m/s², −20 to
  +25 %) into it; the bus stops up to 15 m before the pole (behind another bus) or 8 m past
  it; red lights and jams make extra full stops between bus stops (more of them, and longer,
  in congestion);
* dwell: boarding and alighting passengers are Poisson with the stop's popularity (a stable
  property of the stop, higher where routes meet), the time of day and the scheduled headway;
  a stop with nobody waiting and nobody getting off is passed without stopping; a driver ahead
  of the timetable lingers at stops;
* terminus: the bus departs at max(scheduled departure + a small jitter, arrival + a minimum
  rest; a short one when late), so a late trip makes the next one late; a trip starting
  elsewhere than the previous one ended is reached by a dead run (no trip id);
* detours (`detour_share` of trips): the bus leaves the shape for a few hundred metres on a
  parallel street 120–280 m away and rejoins; the stops it bypasses are not served (they have
  no truth row).

Reports, per bus: a ping every `ping_every_s` at the device's own phase; GPS error is an AR(1)
process (errors of consecutive pings are correlated, RMS horizontal error `gps_noise_m`);
pings go missing in short bursts (`missing_share` of all); `outlier_share` of them jump 150 m
to 1.2 km; `no_trip_id_share` of the devices never report a trip id; the others report the trip
they are on, and at a terminus the trip they are about to start. Speed (m/s) and bearing come
with every ping.

`Simulation.truth` holds the true arrival and departure of every stop served (first stop:
arrival = when the bus reached the terminus; last stop: departure = after the alighting);
a passed stop has arrival = departure = the moment the bus went by.

`run_live` publishes the simulation in real time over HTTP, MQTT or straight into the
database, as the devices would.
"""

from __future__ import annotations

import abc
import bisect
import csv
import hashlib
import heapq
import logging
import math
import random
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from statistics import NormalDist, median
from typing import Any, Protocol, TextIO

from .engine.geometry import Polyline
from .engine.types import TZ, Ping, StopInfo, TripInfo, day_type, haversine_m, service_day_start

log = logging.getLogger(__name__)

ACCEL = 0.9  # m/s², a loaded city bus pulling away
DECEL = 1.1  # m/s², braking into a stop
CENTRE = (21.0285, 105.8542)  # Hồ Gươm: the slowest streets are around it
CELL_LAT = 0.0108  # ~1.2 km
CELL_LON = 0.0115  # ~1.2 km at 21° N
FIELD_BIN_S = 1200  # the shared traffic field changes every 20 minutes
MAX_DWELL_S = 150.0
_NORMAL = NormalDist()

# Hanoi weekday traffic: (hour of the service day, share of free-flow speed)
_WEEKDAY_KNOTS: tuple[tuple[float, float], ...] = (
    (0.0, 1.0),
    (4.5, 1.0),
    (5.5, 0.95),
    (6.25, 0.82),
    (7.0, 0.6),
    (7.75, 0.52),
    (8.5, 0.56),
    (9.25, 0.7),
    (10.0, 0.77),
    (11.5, 0.74),
    (12.5, 0.82),
    (14.0, 0.77),
    (15.5, 0.7),
    (16.5, 0.58),
    (17.5, 0.48),
    (18.25, 0.5),
    (19.0, 0.6),
    (20.0, 0.76),
    (21.0, 0.87),
    (22.5, 0.95),
    (24.0, 1.0),
    (30.0, 1.0),
)
# boarding demand by hour (1 = midday)
_DEMAND_KNOTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.3),
    (5.0, 0.4),
    (6.0, 0.9),
    (7.0, 1.8),
    (8.5, 1.6),
    (9.5, 1.0),
    (12.0, 1.0),
    (15.0, 1.1),
    (16.5, 1.6),
    (17.5, 1.9),
    (19.0, 1.2),
    (21.0, 0.6),
    (23.0, 0.35),
    (30.0, 0.3),
)


def _interp(knots: tuple[tuple[float, float], ...], hour: float) -> float:
    hours = [k[0] for k in knots]
    i = bisect.bisect_right(hours, hour)
    if i <= 0:
        return knots[0][1]
    if i >= len(knots):
        return knots[-1][1]
    (h0, v0), (h1, v1) = knots[i - 1], knots[i]
    return v0 + (v1 - v0) * (hour - h0) / (h1 - h0)


def hanoi_congestion(day: date | None = None) -> Callable[[float], float]:
    """Hanoi's time-of-day traffic: seconds of the service day → share of free-flow speed
    (1 = empty streets, 0.48 at the worst of the evening peak). Saturdays and Sundays keep
    the shape with weaker peaks."""
    intensity = 1.0 if day is None else (1.0, 0.65, 0.5)[day_type(day)]

    def congestion(sod: float) -> float:
        return 1.0 - (1.0 - _interp(_WEEKDAY_KNOTS, sod / 3600.0)) * intensity

    return congestion


def _demand(sod: float) -> float:
    return _interp(_DEMAND_KNOTS, sod / 3600.0)


def _free_speed(lat: float, lon: float) -> float:
    """Free-flow cruise speed (m/s) of a bus here: ~22 km/h in the old centre, ~36 km/h out."""
    r = haversine_m(lat, lon, CENTRE[0], CENTRE[1])
    return 6.0 + 4.0 * min(1.0, r / 8000.0)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _rng(*parts: object) -> random.Random:
    """A random stream fixed by its arguments (string seeds are hashed with SHA-512: the same
    on every run, machine and PYTHONHASHSEED)."""
    return random.Random(":".join(str(p) for p in parts))  # noqa: S311 — simulation, not secrets


def _stable_uniform(*parts: object) -> float:
    """A uniform number in (0, 1) fixed by its arguments (same on every run and machine)."""
    h = hashlib.blake2b(":".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return (int.from_bytes(h, "big") + 0.5) / 2.0**64


class NetworkLike(Protocol):
    """What the simulator reads of `engine.network.Network`."""

    stops: dict[str, StopInfo]
    trips: dict[str, TripInfo]
    blocks: dict[str, list[str]]

    def trip_polyline(self, trip_id: str) -> Polyline: ...

    def services_on(self, day: date) -> AbstractSet[str]: ...


@dataclass(frozen=True, slots=True)
class TrueArrival:
    """When a simulated bus really reached and left a stop (POSIX seconds)."""

    vehicle_id: str
    trip_id: str
    service_date: date
    seq: int
    stop_id: str
    arrival_ts: float
    departure_ts: float


TRUTH_COLUMNS = (
    "vehicle_id",
    "trip_id",
    "service_date",
    "seq",
    "stop_id",
    "arrival_ts",
    "departure_ts",
    "arrival_time",
    "departure_time",
)


def vehicle_code_for_block(block_id: str) -> str:
    from . import demo_network

    return demo_network.vehicle_code_for_block(block_id)


def device_id_for_block(block_id: str) -> str:
    from . import demo_network

    return demo_network.device_id_for_block(block_id)


class _Run:
    """A path a bus drives along: a polyline, possibly with one detour off it.

    Positions `p` are metres driven along the path; outside a detour they equal the distance
    along the shape, inside it the bus covers `k` metres of path per metre of shape while
    being displaced sideways by up to `h` metres."""

    __slots__ = ("d0", "d1", "extra", "h", "k", "line", "ramp")

    def __init__(self, line: Polyline, detour: tuple[float, float, float] | None = None) -> None:
        self.line = line
        if detour is None:
            self.d0 = self.d1 = math.inf
            self.k, self.h, self.ramp, self.extra = 1.0, 0.0, 1.0, 0.0
        else:
            d0, d1, h = detour
            self.d0, self.d1, self.h = d0, d1, h
            self.ramp = min(80.0, (d1 - d0) / 3.0)
            self.k = (d1 - d0 + 1.6 * abs(h)) / (d1 - d0)
            self.extra = (d1 - d0) * (self.k - 1.0)

    def in_detour(self, s: float) -> bool:
        return self.d0 <= s <= self.d1

    def p_of_s(self, s: float) -> float:
        if s <= self.d0:
            return s
        if s >= self.d1:
            return s + self.extra
        return self.d0 + (s - self.d0) * self.k

    def locate(self, p: float) -> tuple[float, float, float]:
        """(lat, lon, bearing) of the bus `p` metres along the path."""
        if p <= self.d0:
            return self.line.point_at(p)
        if p >= self.d1 + self.extra:
            return self.line.point_at(p - self.extra)
        s = self.d0 + (p - self.d0) / self.k
        lat, lon, bearing = self.line.point_at(s)
        off = self.h * min(1.0, (s - self.d0) / self.ramp, (self.d1 - s) / self.ramp)
        b = math.radians(bearing)
        lat += -off * math.sin(b) / self.line.ky
        lon += off * math.cos(b) / self.line.kx
        return lat, lon, bearing


@dataclass(slots=True)
class _Bus:
    vehicle_id: str
    block_id: str
    reports_trip_id: bool
    acc: float = ACCEL  # this driver's acceleration and braking (m/s²)
    dec: float = DECEL
    runs: list[_Run] = field(default_factory=list)
    # phases, parallel lists: start time, run index, position, speed, acceleration, trip id
    t: list[float] = field(default_factory=list)
    run: list[int] = field(default_factory=list)
    p: list[float] = field(default_factory=list)
    v: list[float] = field(default_factory=list)
    a: list[float] = field(default_factory=list)
    trip: list[str] = field(default_factory=list)

    def phase(self, t: float, run: int, p: float, v: float, a: float, trip_id: str) -> None:
        self.t.append(t)
        self.run.append(run)
        self.p.append(p)
        self.v.append(v)
        self.a.append(a)
        self.trip.append(trip_id)


class _Traffic:
    """Everything that slows a bus down apart from its own stops, deterministic per seed."""

    def __init__(
        self, seed: int, day0: float, congestion: Callable[[float], float], calm: bool = False
    ) -> None:
        self.seed = seed
        self.day0 = day0
        self.congestion = congestion
        self.calm = calm  # calibration runs: no field, no day factor, no rain
        rng = _rng(seed, "day")
        self.day_factor = math.exp(rng.gauss(0.0, 0.05))
        if rng.random() < 0.3:
            start = rng.uniform(6.0, 20.0) * 3600
            self.rain = (start, start + rng.uniform(1.0, 3.0) * 3600, rng.uniform(0.8, 0.9))
        else:
            self.rain = (0.0, 0.0, 1.0)
        self._cells: dict[tuple[int, int, int], float] = {}
        self._incidents: dict[tuple[int, int, int], tuple[float, float, float]] = {}

    def _cell_value(self, cx: int, cy: int, b: int) -> float:
        key = (cx, cy, b)
        v = self._cells.get(key)
        if v is None:
            u = _stable_uniform(self.seed, "field", cx, cy, b)
            v = self._cells[key] = 0.12 * _NORMAL.inv_cdf(u)
        return v

    def _incident(self, cx: int, cy: int, hour: int) -> tuple[float, float, float]:
        key = (cx, cy, hour)
        inc = self._incidents.get(key)
        if inc is None:
            rng = _rng(self.seed, "incident", cx, cy, hour)
            if rng.random() < 0.012:
                start = hour * 3600 + rng.uniform(0, 3600)
                inc = (start, start + rng.uniform(900, 3600), rng.uniform(0.45, 0.7))
            else:
                inc = (0.0, 0.0, 1.0)
            self._incidents[key] = inc
        return inc

    def factor(self, lat: float, lon: float, ts: float) -> float:
        """Share of free-flow speed here and now (time of day × area × day)."""
        sod = ts - self.day0
        f = self.congestion(sod)
        if self.calm:
            return f
        cx, cy = int((lon - 105.0) / CELL_LON), int((lat - 20.0) / CELL_LAT)
        x = sod / FIELD_BIN_S
        b = int(x)
        w = x - b
        f *= math.exp((1 - w) * self._cell_value(cx, cy, b) + w * self._cell_value(cx, cy, b + 1))
        start, end, k = self._incident(cx, cy, int(sod // 3600))
        if start <= sod < end:
            f *= k
        start, end, k = self.rain
        if start <= sod < end:
            f *= k
        return f * self.day_factor


class Simulation:
    """One service day of buses. `iter_pings()` yields their pings in time order; `truth`
    holds the true arrivals (filled when the day is built, i.e. on the first `iter_pings()`,
    `build()` or `write_truth()`; grouped by bus, trips in order, stops in order).

    Pings are limited to [start_s, end_s] (seconds of the service day); the buses still run
    their blocks from the first trip (so a window never changes what happened in it) up to
    the last trip starting by end_s, and `truth` covers all of those trips. `congestion`
    replaces the time-of-day profile (seconds of the service day → share of free-flow speed;
    default `hanoi_congestion(service_date)`). `routes` keeps only these route ids' trips.
    Same network, date, seed and arguments ⇒ the same pings and truth, on any machine.
    `vehicles` maps each bus's vehicle id to its block, `reports_trip_id` says whether its
    device sends trip ids."""

    def __init__(
        self,
        network: NetworkLike,
        service_date: date,
        *,
        seed: int = 1,
        start_s: int = 5 * 3600,
        end_s: int = 23 * 3600,
        ping_every_s: float = 10.0,
        gps_noise_m: float = 8.0,
        missing_share: float = 0.05,
        outlier_share: float = 0.01,
        no_trip_id_share: float = 0.1,
        detour_share: float = 0.02,
        congestion: Callable[[float], float] | None = None,
        routes: set[str] | None = None,
    ) -> None:
        if ping_every_s <= 0:
            raise ValueError("ping_every_s must be positive")
        self.network = network
        self.service_date = service_date
        self.seed = seed
        self.start_s = start_s
        self.end_s = end_s
        self.ping_every_s = float(ping_every_s)
        self.gps_noise_m = gps_noise_m
        self.missing_share = min(max(missing_share, 0.0), 0.95)
        self.outlier_share = outlier_share
        self.no_trip_id_share = no_trip_id_share
        self.detour_share = detour_share
        self.congestion = congestion or hanoi_congestion(service_date)
        self.routes = routes
        self.day0 = service_day_start(service_date)
        self.truth: list[TrueArrival] = []
        self.vehicles: dict[str, str] = {}  # vehicle id → block id
        self.reports_trip_id: dict[str, bool] = {}  # vehicle id → does its device send trip ids
        self._buses: list[_Bus] | None = None
        self._traffic = _Traffic(seed, self.day0, self.congestion)
        self._popularity: dict[str, float] = {}
        self._headway: dict[str, float] = {}
        self._calibration: dict[tuple[str, int | None], float] = {}

    # ---- building the day -------------------------------------------------------------------

    def build(self) -> None:
        """Drive every bus through its day (idempotent); fills `truth`."""
        if self._buses is not None:
            return
        net = self.network
        services = net.services_on(self.service_date)
        todays = {
            tid: t
            for tid, t in net.trips.items()
            if t.service_id in services
            and len(t.stops) >= 2
            and (self.routes is None or t.route_id in self.routes)
        }
        self._prepare(todays)
        blocks: dict[str, list[TripInfo]] = {}
        in_block: set[str] = set()
        for block_id, trip_ids in net.blocks.items():
            trips = [todays[t] for t in trip_ids if t in todays]
            if trips:
                blocks[block_id] = trips
                in_block.update(t.trip_id for t in trips)
        for tid, trip in todays.items():  # trips without a block: a bus each
            if tid not in in_block:
                blocks[trip.block_id or tid] = [*blocks.get(trip.block_id or tid, []), trip]
        buses = []
        for block_id in sorted(blocks):
            trips = sorted(blocks[block_id], key=lambda t: (t.start_s, t.trip_id))
            trips = [t for t in trips if t.start_s <= self.end_s]
            if not trips or max(t.end_s for t in trips) + 1800 < self.start_s:
                continue
            vid = vehicle_code_for_block(block_id)
            dev_rng = _rng(self.seed, block_id, "device")
            bus = _Bus(vid, block_id, dev_rng.random() >= self.no_trip_id_share)
            self._drive_block(bus, trips)
            if len(bus.t) >= 2:
                buses.append(bus)
                self.vehicles[vid] = block_id
                self.reports_trip_id[vid] = bus.reports_trip_id
        self._buses = buses

    def _prepare(self, todays: dict[str, TripInfo]) -> None:
        """Stop popularity, scheduled headways and the per-route speed calibration."""
        routes_at: dict[str, set[str]] = defaultdict(set)
        for t in self.network.trips.values():
            for st in t.stops:
                routes_at[st.stop_id].add(t.route_id)
        for stop_id, routes in routes_at.items():
            z = _NORMAL.inv_cdf(_stable_uniform("popularity", stop_id))
            self._popularity[stop_id] = math.exp(0.7 * z - 0.245) * (1 + 0.35 * (len(routes) - 1))
        by_dir: dict[tuple[str, int | None], list[TripInfo]] = defaultdict(list)
        for t in todays.values():
            by_dir[(t.route_id, t.direction_id)].append(t)
        for key, trips in by_dir.items():
            trips.sort(key=lambda t: t.start_s)
            for i, t in enumerate(trips):
                if i > 0:
                    gap = t.start_s - trips[i - 1].start_s
                elif len(trips) > 1:
                    gap = trips[1].start_s - t.start_s
                else:
                    gap = 1200
                self._headway[t.trip_id] = min(1800.0, max(240.0, float(gap)))
            self._calibration[key] = _calibration_for(self.network, trips, self)

    def _drive_block(self, bus: _Bus, trips: list[TripInfo]) -> None:
        rng = _rng(self.seed, bus.block_id, "drive")
        driver = math.exp(rng.gauss(0.0, 0.05))
        bus.acc = ACCEL * rng.uniform(0.8, 1.2)
        bus.dec = DECEL * rng.uniform(0.8, 1.25)
        day0 = self.day0
        first = trips[0]
        t = day0 + first.start_s - rng.uniform(240.0, 600.0)  # pulls in at the first terminus
        reached = t  # when the bus got to the terminus it leaves from
        here: tuple[float, float] | None = None
        for n, trip in enumerate(trips):
            run = self._make_run(trip, rng)
            ri = len(bus.runs)
            bus.runs.append(run)
            p0 = run.p_of_s(trip.stops[0].dist_m)
            lat0, lon0, _ = run.locate(p0)
            if here is not None and haversine_m(here[0], here[1], lat0, lon0) > 150.0:
                t = reached = self._dead_run(bus, here, (lat0, lon0), t)
            bus.phase(t, ri, p0, 0.0, 0.0, trip.trip_id)  # at the terminus, signed on
            rest = rng.uniform(60.0, 180.0) if n else 0.0
            jitter = min(90.0, max(-20.0, rng.gauss(15.0, 25.0)))
            sched = day0 + trip.stops[0].sched_dep_s
            if t + rest > sched + 60:
                rest = rng.uniform(20.0, 60.0)  # running late: a quick turnaround
            depart = max(sched + jitter, t + rest)
            t, _, _ = self._drive_trip(
                bus, trip, ri, run, reached, depart, rng, driver=driver, record=True
            )
            reached = bus.t[-1]  # the last stop's phase starts when the bus got there
            lat1, lon1, _ = run.locate(run.p_of_s(trip.stops[-1].dist_m))
            here = (lat1, lon1)
        bus.phase(t, len(bus.runs) - 1, bus.p[-1], 0.0, 0.0, "")  # off duty, engine idling
        bus.phase(t + rng.uniform(60.0, 300.0), -1, 0.0, 0.0, 0.0, "")  # device off

    def _make_run(self, trip: TripInfo, rng: random.Random) -> _Run:
        line = self.network.trip_polyline(trip.trip_id)
        a, b = trip.stops[0].dist_m, trip.stops[-1].dist_m
        length = b - a
        if self.detour_share > 0 and rng.random() < self.detour_share and length > 2500:
            dlen = rng.uniform(300.0, 800.0)
            d0 = rng.uniform(a + 0.15 * length, b - 0.15 * length - dlen)
            side = 1.0 if rng.random() < 0.5 else -1.0
            return _Run(line, (d0, d0 + dlen, side * rng.uniform(120.0, 280.0)))
        return _Run(line)

    def _dead_run(
        self, bus: _Bus, frm: tuple[float, float], to: tuple[float, float], t: float
    ) -> float:
        ri = len(bus.runs)
        line = Polyline([frm, to])
        bus.runs.append(_Run(line))
        v = max(2.0, 7.0 * self._traffic.factor(frm[0], frm[1], t))
        bus.phase(t, ri, 0.0, v, 0.0, "")
        return t + line.length / v

    def _drive_trip(
        self,
        bus: _Bus,
        trip: TripInfo,
        ri: int,
        run: _Run,
        arrived: float,
        depart: float,
        rng: random.Random,
        *,
        driver: float,
        record: bool,
        calm: bool = False,
    ) -> tuple[float, float, float]:
        """Drive one trip from its first stop (bus there since `arrived`, leaving at `depart`).
        Returns (time the bus is done at the last stop, seconds moving, seconds stopped)."""
        day0, stops, tid = self.day0, trip.stops, trip.trip_id
        if calm:
            traffic = _Traffic(0, day0, hanoi_congestion(self.service_date), calm=True)
        else:
            traffic = self._traffic
        if calm:  # calibration: a property of the network, not of the day
            calib, headway = 1.0, 900.0
        else:
            calib = self._calibration.get((trip.route_id, trip.direction_id), 1.0)
            headway = self._headway.get(tid, 900.0)
        vid, sdate = bus.vehicle_id, self.service_date
        truth = self.truth
        moving = stopped = 0.0
        if record:
            truth.append(
                TrueArrival(vid, tid, sdate, stops[0].seq, stops[0].stop_id, arrived, depart)
            )
        t = depart
        cur = run.p_of_s(stops[0].dist_m)
        passed: list[tuple[int, float]] = []  # (index, p) of stops the bus goes by
        last = len(stops) - 1
        at = 0  # the stop the bus is leaving
        for k in range(1, len(stops)):
            st = stops[k]
            if k < last and run.in_detour(st.dist_m):
                continue  # bypassed by the detour: not served
            ps = max(cur, run.p_of_s(st.dist_m))
            sod = t - day0
            lam = self._popularity.get(st.stop_id, 1.0) * _demand(sod) * headway / 600.0 * 1.3
            boarding = _poisson(rng, lam) if k < last else 0
            alighting = _poisson(rng, lam * 0.9)
            if k < last and boarding == 0 and alighting == 0:
                passed.append((k, ps))
                continue
            # where the bus actually stops: behind a bus already there, or a little past the pole
            ps = max(cur, ps + rng.uniform(-15.0, 8.0), passed[-1][1] if passed else cur)
            # drive from `cur` to this stop, rest to rest, with red lights on the way
            lat, lon, _ = run.locate(cur)
            f = traffic.factor(lat, lon, t)
            v = _free_speed(lat, lon) * f * driver * calib * math.exp(rng.gauss(0.0, 0.1))
            late = 0.0 if calm else t - (day0 + stops[at].sched_dep_s)
            if late < -60:
                v *= 0.9  # ahead of the timetable: no hurry
            elif late > 120:
                v *= 1.05 if late < 300 else 1.1  # behind: the driver pushes on
            v = min(16.0, max(1.2, v))
            length = ps - cur
            n_lights = _poisson(rng, length / 650.0 * (0.5 + 0.6 * (1.0 - f)))
            marks = sorted(rng.uniform(cur + 30.0, ps - 30.0) for _ in range(n_lights))
            marks = [m for m in marks if ps - cur > 60.0] + [ps]
            times: list[float] = []
            pts = [p for _, p in passed]
            a, j = cur, 0
            for m in marks:
                j0 = j
                while j < len(pts) and (pts[j] <= m or m == ps):
                    j += 1
                inside = pts[j0:j]
                t0 = t
                t = self._move(bus, ri, tid, a, m, t, v, inside, times)
                moving += t - t0
                if m < ps:
                    wait = rng.uniform(8.0, 35.0) * (1.0 + 1.2 * (1.0 - f))
                    bus.phase(t, ri, m, 0.0, 0.0, tid)
                    t += wait
                    stopped += wait
                a = m
            if record:
                for (pk, _), pt in zip(passed, times, strict=True):
                    s = stops[pk]
                    truth.append(TrueArrival(vid, tid, sdate, s.seq, s.stop_id, pt, pt))
            passed = []
            arrival = t
            if k < last:
                dwell = (4.0 + 2.2 * boarding + 1.0 * alighting) * math.exp(rng.gauss(0.0, 0.15))
                dwell = min(MAX_DWELL_S, dwell)
                early = day0 + st.sched_dep_s - (arrival + dwell)
                if not calm and early > 90:
                    dwell += min(early - 30.0, 120.0) * rng.uniform(0.3, 0.9)
            else:
                dwell = rng.uniform(10.0, 40.0)  # everybody gets off
            bus.phase(arrival, ri, ps, 0.0, 0.0, tid)
            t = arrival + dwell
            stopped += dwell
            cur, at = ps, k
            if record:
                truth.append(TrueArrival(vid, tid, sdate, st.seq, st.stop_id, arrival, t))
        return t, moving, stopped

    @staticmethod
    def _move(
        bus: _Bus,
        ri: int,
        tid: str,
        pa: float,
        pb: float,
        t: float,
        v: float,
        passes: list[float],
        times: list[float],
    ) -> float:
        """Rest to rest from pa to pb at cruise speed v, starting at t; appends the phases and
        the times the bus passes the positions in `passes`. Returns the arrival time."""
        acc, dec = bus.acc, bus.dec
        length = pb - pa
        if length <= 0.5:
            times.extend(t for _ in passes)
            return t
        da, dd = v * v / (2 * acc), v * v / (2 * dec)
        if da + dd > length:
            v = math.sqrt(2 * length * acc * dec / (acc + dec))
            da = v * v / (2 * acc)
            dd = length - da
            cruise = 0.0
        else:
            cruise = (length - da - dd) / v
        ta, td = v / acc, v / dec
        bus.phase(t, ri, pa, 0.0, acc, tid)
        if cruise > 0:
            bus.phase(t + ta, ri, pa + da, v, 0.0, tid)
        bus.phase(t + ta + cruise, ri, pb - dd, v, -dec, tid)
        for p in passes:
            x = p - pa
            if x <= da:
                tau = math.sqrt(2 * x / acc)
            elif x <= length - dd:
                tau = ta + (x - da) / v
            else:
                y = x - (length - dd)
                tau = ta + cruise + 2 * y / (v + math.sqrt(max(0.0, v * v - 2 * dec * y)))
            times.append(t + tau)
        return t + ta + cruise + td

    # ---- the pings --------------------------------------------------------------------------

    def iter_pings(self) -> Iterator[Ping]:
        """Every bus's pings in time order (ties: by vehicle id)."""
        self.build()
        assert self._buses is not None
        gens = [self._bus_pings(b) for b in sorted(self._buses, key=lambda b: b.vehicle_id)]
        return heapq.merge(*gens, key=attrgetter("ts"))

    def _bus_pings(self, bus: _Bus) -> Iterator[Ping]:
        rng = _rng(self.seed, bus.block_id, "gps")
        dt = self.ping_every_s
        offset = rng.uniform(0.0, dt)
        if dt >= 1 and float(dt).is_integer():
            offset = float(int(offset))
        day0 = self.day0
        lo = max(bus.t[0], day0 + self.start_s)
        hi = min(bus.t[-1], day0 + self.end_s)
        k = max(0, math.ceil((lo - day0 - offset) / dt))
        sigma = self.gps_noise_m / math.sqrt(2.0)
        rho = math.exp(-dt / 20.0)
        q = sigma * math.sqrt(1.0 - rho * rho)
        ex, ey = rng.gauss(0.0, sigma), rng.gauss(0.0, sigma)
        miss = False
        p_in = min(1.0, 0.4 * self.missing_share / (1.0 - self.missing_share))
        outlier = self.outlier_share
        report_trip = bus.reports_trip_id
        ky = math.pi * 6_371_008.8 / 180.0
        kx = ky * math.cos(math.radians(21.0))
        T, R, P, V, A, TR = bus.t, bus.run, bus.p, bus.v, bus.a, bus.trip
        runs = bus.runs
        last_bearing: float | None = None
        vid = bus.vehicle_id
        gauss, rand = rng.gauss, rng.random
        i = 0
        n = len(T)
        while True:
            ts = day0 + offset + k * dt
            if ts > hi:
                return
            k += 1
            while i + 1 < n and T[i + 1] <= ts:
                i += 1
            ri = R[i]
            if ri < 0:
                return
            ex = rho * ex + q * gauss(0.0, 1.0)
            ey = rho * ey + q * gauss(0.0, 1.0)
            miss = rand() < (0.6 if miss else p_in)
            if miss:
                continue
            tau = ts - T[i]
            a = A[i]
            speed = V[i] + a * tau
            lat, lon, bearing = runs[ri].locate(P[i] + (V[i] + 0.5 * a * tau) * tau)
            if speed < 0.0:
                speed = 0.0
            if rand() < outlier:
                dist, ang = rng.uniform(150.0, 1200.0), rng.uniform(0.0, 2 * math.pi)
                lat += dist * math.cos(ang) / ky
                lon += dist * math.sin(ang) / kx
            else:
                lat += ey / ky
                lon += ex / kx
            if speed > 1.0 or last_bearing is None:
                last_bearing = round((bearing + 8.0 * (rand() - rand())) % 360.0, 1)
            yield Ping(
                vid,
                ts,
                round(lat, 6),
                round(lon, 6),
                round(max(0.0, speed + 0.6 * (rand() - rand())), 1),
                last_bearing,
                TR[i] if report_trip else "",
            )

    # ---- output -----------------------------------------------------------------------------

    def truth_by_stop(self) -> dict[tuple[str, int], TrueArrival]:
        """Truth rows by (trip id, stop_sequence)."""
        self.build()
        return {(r.trip_id, r.seq): r for r in self.truth}

    def write_truth(self, path: str | Path) -> int:
        """Write the true arrivals as CSV (TRUTH_COLUMNS); returns the number of rows."""
        self.build()
        with open(path, "w", newline="", encoding="utf-8") as fh:
            return write_truth_csv(self.truth, fh)


def write_truth_csv(rows: list[TrueArrival], fh: TextIO) -> int:
    w = csv.writer(fh)
    w.writerow(TRUTH_COLUMNS)
    for r in rows:
        w.writerow(
            [
                r.vehicle_id,
                r.trip_id,
                r.service_date.isoformat(),
                r.seq,
                r.stop_id,
                f"{r.arrival_ts:.1f}",
                f"{r.departure_ts:.1f}",
                datetime.fromtimestamp(r.arrival_ts, TZ).isoformat(timespec="seconds"),
                datetime.fromtimestamp(r.departure_ts, TZ).isoformat(timespec="seconds"),
            ]
        )
    return len(rows)


_CALIBRATION_CACHE: dict[tuple[Any, ...], tuple[object, float]] = {}


def _calibration_for(network: NetworkLike, trips: list[TripInfo], sim: Simulation) -> float:
    """Speed factor for a route and direction such that, on a calm day with the default Hanoi
    profile of its day type, the median trip takes its scheduled running time. A property of
    the network and the day type (same for every seed)."""
    step = max(1, len(trips) // 10)
    sample = trips[::step][:12]
    ck = (id(network), day_type(sim.service_date), *(t.trip_id for t in sample))
    cached = _CALIBRATION_CACHE.get(ck)
    if cached is not None and cached[0] is network:
        return cached[1]
    ratios = []
    for trip in sample:
        scheduled = trip.stops[-1].sched_arr_s - trip.stops[0].sched_dep_s
        if scheduled <= 0:
            continue
        probe = _Bus("calibration", "calibration", False)
        rng = _rng("calibration", trip.trip_id)
        run = _Run(network.trip_polyline(trip.trip_id))
        depart = sim.day0 + trip.stops[0].sched_dep_s
        _, moving, stopped = sim._drive_trip(
            probe, trip, 0, run, depart, depart, rng, driver=1.0, record=False, calm=True
        )
        if moving > 0:
            ratios.append(moving / max(scheduled - stopped, 0.3 * scheduled))
    k = min(2.0, max(0.5, median(ratios))) if ratios else 1.0
    if len(_CALIBRATION_CACHE) > 2000:
        _CALIBRATION_CACHE.clear()
    _CALIBRATION_CACHE[ck] = (network, k)
    return k


# ---- publishing -----------------------------------------------------------------------------


def ping_record(ping: Ping) -> dict[str, Any]:
    """The device protocol's record for a ping (docs/transit-devices.md)."""
    ts: float | int = int(ping.ts) if float(ping.ts).is_integer() else round(ping.ts, 3)
    rec: dict[str, Any] = {
        "vehicle_id": ping.vehicle_id,
        "timestamp": ts,
        "latitude": ping.lat,
        "longitude": ping.lon,
    }
    if ping.speed is not None:
        rec["speed"] = ping.speed
    if ping.bearing is not None:
        rec["bearing"] = ping.bearing
    if ping.trip_id:
        rec["trip_id"] = ping.trip_id
    return rec


class Publisher(abc.ABC):
    """Sends a device's records somewhere; `send` returns False when they should be retried."""

    @abc.abstractmethod
    def send(self, device_id: str, records: list[dict[str, Any]]) -> bool:
        """Deliver one device's records (HTTP, MQTT or the database)."""

    def close(self) -> None:
        return None


class HttpPublisher(Publisher):
    """POST {url}/transit/ingest/v1/positions as the device (bearer token)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        import httpx

        from .tokens import demo_device_token

        self._token = demo_device_token
        self._httpx = httpx
        self.endpoint = url.rstrip("/") + "/transit/ingest/v1/positions"
        self.client = httpx.Client(timeout=timeout)
        self.rejected = 0
        self.down_since: float | None = None
        self._warned: set[tuple[str, int]] = set()

    def send(self, device_id: str, records: list[dict[str, Any]]) -> bool:
        try:
            r = self.client.post(
                self.endpoint,
                json={"positions": records},
                headers={"Authorization": "Bearer " + self._token(device_id)},
            )
        except self._httpx.TransportError:
            if self.down_since is None:
                self.down_since = time.monotonic()
                log.info("transit simulator: %s not reachable yet; retrying", self.endpoint)
            return False
        self.down_since = None
        if r.status_code >= 500 or r.status_code == 429:
            return False
        if r.status_code != 200:
            self.rejected += len(records)
            if (device_id, r.status_code) not in self._warned:  # once per device and status
                self._warned.add((device_id, r.status_code))
                log.warning(
                    "transit simulator: %s answered %s for %s: %s",
                    self.endpoint,
                    r.status_code,
                    device_id,
                    r.text[:200],
                )
        else:
            self.rejected += len(r.json().get("rejected", []))
        return True

    def close(self) -> None:
        self.client.close()


class MqttPublisher(Publisher):
    """Publishes on thudo/transit/v1/positions/<device_id> through H2's `mqtt.publish_positions`
    (paho keeps reconnecting and queues QoS 1 messages meanwhile)."""

    def __init__(self, url: str) -> None:
        from . import mqtt
        from .tokens import demo_device_token

        self._token = demo_device_token
        self._publish = mqtt.publish_positions
        host, port, _, _ = mqtt.parse_url(url)
        self.client = mqtt.make_client(url, client_id=f"thudo-sim-{secrets.token_hex(4)}")
        self.client.max_queued_messages_set(20000)
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def send(self, device_id: str, records: list[dict[str, Any]]) -> bool:
        self._publish(
            self.client, device_id=device_id, token=self._token(device_id), positions=records
        )
        return True

    def close(self) -> None:
        deadline = time.monotonic() + 5.0
        while self.client.want_write() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        self.client.disconnect()
        self.client.loop_stop()


class DbPublisher(Publisher):
    """Stores through `ingest.ingest_positions` in this process (source "sim")."""

    def __init__(self) -> None:
        from .models import Device

        self._devices = {
            d.device_id: d for d in Device.objects.select_related("vehicle").filter(is_active=True)
        }
        self.unknown: set[str] = set()
        self.accepted = 0
        self.rejected = 0

    def send(self, device_id: str, records: list[dict[str, Any]]) -> bool:
        from . import ingest

        device = self._devices.get(device_id)
        if device is None:
            if device_id not in self.unknown:
                self.unknown.add(device_id)
                log.warning("transit simulator: no active device %s (load the demo)", device_id)
            return True
        result = ingest.ingest_positions(
            records=records, source="sim", device=device, device_key=device_id
        )
        self.accepted += result.accepted
        self.rejected += len(result.rejected)
        return True

    def close(self) -> None:
        from django.db import connection

        connection.close()


def make_publisher(over: str, *, url: str = "", mqtt_url: str = "") -> Publisher | None:
    if over == "none":
        return None
    if over == "http":
        if not url:
            raise ValueError("--url is required to publish over HTTP")
        return HttpPublisher(url)
    if over == "mqtt":
        if not mqtt_url:
            raise ValueError("an MQTT URL is required to publish over MQTT")
        return MqttPublisher(mqtt_url)
    if over == "db":
        return DbPublisher()
    raise ValueError(f"unknown transport {over!r} (http, mqtt, db or none)")


class _Outbox:
    """Per-device buffers: what could not be sent is retried with the next send (a device
    keeps its last `cap` positions while the server is away)."""

    def __init__(self, publisher: Publisher, device_of: dict[str, str], cap: int = 360) -> None:
        self.publisher = publisher
        self.device_of = device_of
        self.cap = cap
        self.pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.sent = 0

    def add(self, ping: Ping, ts: float | None = None) -> None:
        rec = ping_record(ping)
        if ts is not None:
            rec["timestamp"] = round(ts, 3)
        self.pending[self.device_of[ping.vehicle_id]].append(rec)

    def flush(self) -> None:
        """Send what is pending; at the first failure (server down) keep the rest for later."""
        for device_id in list(self.pending):
            recs = self.pending[device_id]
            i = 0
            while i < len(recs):
                chunk = recs[i : i + 1000]
                if not self.publisher.send(device_id, chunk):
                    break
                self.sent += len(chunk)
                i += len(chunk)
            self.pending[device_id] = recs[i:][-self.cap :]
            if i < len(recs):
                for other, left in self.pending.items():  # nobody else gets through either
                    self.pending[other] = left[-self.cap :]
                return


def publish_replay(
    sim: Simulation,
    publisher: Publisher,
    *,
    window_s: float = 60.0,
    on_ping: Callable[[Ping], None] | None = None,
) -> int:
    """Send a simulated period as fast as possible (timestamps as simulated), `window_s` of
    simulated time per request per device; `on_ping` sees every ping. Returns the positions
    sent."""
    sim.build()
    device_of = {vid: device_id_for_block(b) for vid, b in sim.vehicles.items()}
    box = _Outbox(publisher, device_of, cap=10**9)
    edge: float | None = None
    for ping in sim.iter_pings():
        if on_ping is not None:
            on_ping(ping)
        if edge is None:
            edge = ping.ts + window_s
        elif ping.ts >= edge:
            box.flush()
            edge = ping.ts + window_s
        box.add(ping)
    box.flush()
    return box.sent


def _service_position(now: datetime) -> tuple[date, float]:
    """(service date, seconds of its service day) of an instant: before 04:00 it still
    belongs to yesterday's service (trips past 24:00:00)."""
    local = now.astimezone(TZ)
    day = local.date()
    if local.hour < 4:
        day -= timedelta(days=1)
    return day, now.timestamp() - service_day_start(day)


def run_live(
    *,
    network: NetworkLike,
    over: str,
    url: str = "",
    mqtt_url: str = "",
    speed: float = 1.0,
    seed: int = 1,
    stop: threading.Event | None = None,
    stdout: TextIO | None = None,
    start_at: datetime | None = None,
    duration_s: float | None = None,
    ping_every_s: float = 10.0,
    routes: set[str] | None = None,
) -> int:
    """Publish the simulated buses in real time until `stop` is set (or `duration_s` of wall
    time passed). "Now" (or `start_at`) is mapped onto the service day: buses start where the
    simulation has them at that moment, mid-trip. At `speed` X the simulated clock runs X times
    faster; the timestamps sent are always wall-clock times (reported ts = start + simulated
    elapsed / X), so the server accepts them. A server that is not up yet is retried quietly.
    Returns the number of positions sent."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    stop = stop or threading.Event()
    publisher = make_publisher(over, url=url, mqtt_url=mqtt_url)
    real0 = time.time()
    sim0 = (start_at or datetime.fromtimestamp(real0, UTC)).timestamp()
    deadline = real0 + duration_s if duration_s is not None else math.inf

    def sim_now() -> float:
        return sim0 + (time.time() - real0) * speed

    def say(msg: str) -> None:
        if stdout is not None:
            stdout.write(msg + "\n")
            stdout.flush()

    sent = 0
    report_every_s = 300.0
    next_report = time.time() + report_every_s
    try:
        day, sod = _service_position(datetime.fromtimestamp(sim0, UTC))
        while not stop.is_set() and time.time() < deadline:
            sim = Simulation(
                network,
                day,
                seed=seed + day.toordinal(),
                start_s=max(0, int(sod)),
                end_s=30 * 3600,
                ping_every_s=ping_every_s,
                routes=routes,
            )
            sim.build()
            say(
                f"{day.isoformat()}: {len(sim.vehicles)} buses from "
                f"{datetime.fromtimestamp(sim.day0 + sod, TZ):%H:%M:%S} "
                f"(over {over}, speed ×{speed:g})"
            )
            device_of = {vid: device_id_for_block(b) for vid, b in sim.vehicles.items()}
            box = _Outbox(publisher, device_of) if publisher is not None else None
            last_flush = time.time()
            for ping in sim.iter_pings():
                if stop.is_set() or time.time() >= deadline:
                    break
                while True:  # wait until the ping is due
                    lag = ping.ts - sim_now()
                    if lag <= 0 or stop.is_set():
                        break
                    if box is not None and time.time() - last_flush >= 0.5:
                        box.flush()
                        last_flush = time.time()
                    if time.time() >= deadline:
                        break
                    stop.wait(min(lag / speed, 0.5, max(0.0, deadline - time.time())))
                if stop.is_set() or time.time() >= deadline:
                    break
                if box is not None:
                    box.add(ping, real0 + (ping.ts - sim0) / speed)
                else:
                    sent += 1
                if box is not None and time.time() - last_flush >= 1.0:
                    box.flush()
                    last_flush = time.time()
                if time.time() >= next_report:
                    next_report = time.time() + report_every_s
                    say(
                        f"{datetime.fromtimestamp(ping.ts, TZ):%Y-%m-%d %H:%M:%S}: "
                        f"{sent + (box.sent if box is not None else 0)} positions sent"
                    )
            if box is not None:
                box.flush()
                sent += box.sent
            if stop.is_set() or time.time() >= deadline:
                break
            day += timedelta(days=1)  # the service day is over: on to the next one
            sod = max(0.0, sim_now() - service_day_start(day))
    finally:
        if publisher is not None:
            publisher.close()
    say(f"sent {sent} positions")
    return sent
