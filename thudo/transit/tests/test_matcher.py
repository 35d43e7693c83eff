"""The matcher on synthetic networks and pings (no database): trips reported and inferred, GPS
noise, outliers, missing pings, a loop route serving a stop twice, a detour off the route and
back, blocks, the track surviving a JSON round trip, and its speed.

`SyntheticCity` builds a small network in memory and `drive()` runs a bus along a trip with
simple physics (accelerate, cruise, brake into each stop, dwell), producing pings and the true
arrival and departure at every stop; `test_tracker` uses them too.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from dataclasses import dataclass, field
from datetime import date

import pytest

from thudo.transit.engine.geometry import Polyline
from thudo.transit.engine.matcher import Matcher
from thudo.transit.engine.network import Network, ServiceCalendar
from thudo.transit.engine.types import (
    Ping,
    StopEvent,
    StopInfo,
    StopOnTrip,
    TripInfo,
    VehicleTrack,
    service_day_start,
)

LAT0, LON0 = 21.0, 105.8
KY = 111_195.0
KX = KY * math.cos(math.radians(LAT0))
DAY = date(2026, 3, 2)  # a Monday
DAY0 = service_day_start(DAY)


def to_ll(x: float, y: float) -> tuple[float, float]:
    return LAT0 + y / KY, LON0 + x / KX


def densify(xy: list[tuple[float, float]], step: float = 40.0) -> list[tuple[float, float]]:
    """The polyline through `xy` with a vertex every `step` metres."""
    out = [xy[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(xy):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) // step))
        for k in range(1, n + 1):
            out.append((x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n))
    return out


@dataclass
class TrueStop:
    trip_id: str
    seq: int
    stop_id: str
    arrival: float
    departure: float


@dataclass
class Drive:
    pings: list[Ping] = field(default_factory=list)
    truth: list[TrueStop] = field(default_factory=list)
    end_ts: float = 0.0


class SyntheticCity:
    """Two routes: "A" (east then north then east, 4.4 km, both directions) and "L" (out,
    round a loop and back through the loop's entry stop: stop L3 served twice)."""

    def __init__(self) -> None:
        a = densify([(0, 0), (2000, 0), (2000, 1000), (3400, 1000)])
        # out 1200 m, round a 400 m square back to its entry, then back the same street
        loop = densify(
            [
                (0, -2000),
                (1200, -2000),
                (1600, -2000),
                (1600, -1600),
                (1200, -1600),
                (1200, -2000),
                (0, -2000),
            ]
        )
        self.shapes: dict[str, list[tuple[float, float]]] = {
            "A0": a,
            "A1": list(reversed(a)),
            "L0": loop,
        }
        self.stops: dict[str, StopInfo] = {}
        self.patterns: dict[str, list[tuple[str, float]]] = {}
        pl_a = Polyline([to_ll(x, y) for x, y in a])
        pattern = []
        dists = [0.0]
        while dists[-1] + 450 < pl_a.length - 200:
            dists.append(dists[-1] + 450)
        dists.append(pl_a.length)
        for i, d in enumerate(dists):
            lat, lon, _ = pl_a.point_at(d)
            self.stops[f"A{i}"] = StopInfo(f"A{i}", f"Stop A{i}", lat, lon)
            pattern.append((f"A{i}", d))
        self.patterns["A0"] = pattern
        self.patterns["A1"] = [(sid, pl_a.length - d) for sid, d in reversed(pattern)]
        pl_l = Polyline([to_ll(x, y) for x, y in loop])
        # LX (the loop's entry) is served twice; L5 stands where L0 does (a circular trip)
        pattern = []
        for sid, d in (
            ("L0", 0.0),
            ("L1", 600.0),
            ("LX", 1200.0),
            ("L2", 1700.0),
            ("L3", 2300.0),
            ("LX", 2800.0),
            ("L4", 3400.0),
            ("L5", pl_l.length),
        ):
            lat, lon, _ = pl_l.point_at(d)
            self.stops.setdefault(sid, StopInfo(sid, f"Stop {sid}", lat, lon))
            pattern.append((sid, d))
        self.patterns["L0"] = pattern
        self.trips: dict[str, TripInfo] = {}

    def add_trip(
        self, trip_id: str, shape_id: str, start_s: int, *, block: str = "", speed: float = 7.0
    ) -> TripInfo:
        pattern = self.patterns[shape_id]
        stops = []
        t = float(start_s)
        prev_d = pattern[0][1]
        for i, (sid, d) in enumerate(pattern):
            t += (d - prev_d) / speed
            arr = round(t)
            dep = arr if i in (0, len(pattern) - 1) else arr + 20
            stops.append(StopOnTrip(i + 1, sid, d, arr, dep))
            t = dep
            prev_d = d
        trip = TripInfo(
            trip_id=trip_id,
            route_id=shape_id[0],
            service_id="WK",
            direction_id=int(shape_id[1]),
            block_id=block,
            headsign="",
            shape_id=shape_id,
            stops=stops,
        )
        self.trips[trip_id] = trip
        return trip

    def network(self) -> Network:
        return Network.build(
            stops=self.stops.values(),
            routes={
                "A": {"short_name": "A", "long_name": "", "color": ""},
                "L": {"short_name": "L", "long_name": "", "color": ""},
            },
            shapes={k: [to_ll(x, y) for x, y in v] for k, v in self.shapes.items()},
            trips=self.trips.values(),
            calendars={
                "WK": ServiceCalendar(
                    (True,) * 7, date(2026, 1, 1), date(2026, 12, 31)
                )  # every day
            },
        )


def drive(
    network: Network,
    trip_id: str,
    *,
    vehicle: str = "V1",
    start_ts: float | None = None,
    rng: random.Random | None = None,
    every_s: float = 10.0,
    noise_m: float = 0.0,
    report_trip: bool = True,
    report_speed: bool = True,
    missing: float = 0.0,
    outliers: float = 0.0,
    dwell: tuple[float, float] = (15.0, 40.0),
    cruise: float = 10.0,
    detour: tuple[float, float] | None = None,
    gap: tuple[float, float] | None = None,
    phase: float = 0.0,
    layover_s: float = 0.0,
    tail_s: float = 60.0,
) -> Drive:
    """Drive `trip_id` from its first stop (leaving at its scheduled time, or `start_ts`) to its
    last, pinging every `every_s` seconds. `detour` = (from_m, to_m): between these distances the
    bus drives 200 m beside the route; `gap` = (from_ts, to_ts): no pings then; the bus waits
    `layover_s` at the first stop before and `tail_s` at the last one after."""
    rng = rng or random.Random(1)
    trip = network.trips[trip_id]
    pl = network.trip_polyline(trip_id)
    dt = 0.25
    acc, dec = 0.8, 1.0
    t = DAY0 + trip.stops[0].sched_dep_s if start_ts is None else start_ts
    out = Drive()
    next_ping = t - layover_s + phase
    d = trip.stops[0].dist_m
    v = 0.0

    def emit(t_now: float, d_now: float, v_now: float) -> None:
        nonlocal next_ping
        while next_ping <= t_now:
            if (gap is None or not gap[0] <= next_ping <= gap[1]) and rng.random() >= missing:
                lat, lon, bearing = pl.point_at(d_now)
                if detour and detour[0] <= d_now <= detour[1]:
                    # 200 m to the side of the route
                    b = math.radians(bearing + 90)
                    lat += 200 * math.cos(b) / KY
                    lon += 200 * math.sin(b) / KX
                if noise_m:
                    lat += rng.gauss(0, noise_m) / KY
                    lon += rng.gauss(0, noise_m) / KX
                if outliers and rng.random() < outliers:
                    ang = rng.uniform(0, 2 * math.pi)
                    r = rng.uniform(300, 1500)
                    lat += r * math.cos(ang) / KY
                    lon += r * math.sin(ang) / KX
                out.pings.append(
                    Ping(
                        vehicle_id=vehicle,
                        ts=next_ping,
                        lat=lat,
                        lon=lon,
                        speed=max(0.0, v_now + (rng.gauss(0, 0.3) if noise_m else 0.0))
                        if report_speed
                        else None,
                        trip_id=trip_id if report_trip else "",
                    )
                )
            next_ping += every_s

    # waiting at the first stop before leaving
    emit(t, d, 0.0)
    for i, st in enumerate(trip.stops):
        if i > 0:
            s = st.dist_m
            while d < s - 0.01:
                rem = s - d
                if v * v / (2 * dec) >= rem - 0.01 and v > 0:
                    a = -v * v / (2 * rem)
                elif v < cruise:
                    a = acc
                else:
                    a = 0.0
                v_new = max(0.0, v + a * dt)
                step = (v + v_new) / 2 * dt
                if v_new == 0.0 and d + step < s - 0.01:
                    v_new, step = 0.5, 0.5 * dt
                d = min(s, d + step)
                v = v_new
                t += dt
                emit(t, d, v)
            d, v = s, 0.0
            arrival = t
        else:
            arrival = t - layover_s
        if i == 0:
            departure = t
        elif i == len(trip.stops) - 1:
            departure = t
            while t < departure + tail_s:  # standing at the terminus
                t += 1.0
                emit(t, d, 0.0)
        else:
            departure = t + rng.uniform(*dwell)
        while t < departure:
            t = min(departure, t + 1.0)
            emit(t, d, 0.0)
        out.truth.append(TrueStop(trip_id, st.seq, st.stop_id, arrival, departure))
    out.end_ts = t
    return out


def run(matcher: Matcher, pings: list[Ping], track: VehicleTrack | None = None):
    track = track or VehicleTrack(vehicle_id=pings[0].vehicle_id)
    events: list[StopEvent] = []
    statuses = []
    for p in pings:
        events += matcher.update(track, p)
        statuses.append(track.status)
    return track, events, statuses


def final_events(events: list[StopEvent]) -> dict[tuple[str, int], StopEvent]:
    """The last event per (trip, seq): the one with the departure when there are two."""
    out: dict[tuple[str, int], StopEvent] = {}
    for ev in events:
        out[(ev.trip_id, ev.seq)] = ev
    return out


def errors(events: list[StopEvent], truth: list[TrueStop]) -> tuple[list[float], list[float], int]:
    got = final_events(events)
    arr, dep, missing = [], [], 0
    for tr in truth:
        ev = got.get((tr.trip_id, tr.seq))
        if ev is None:
            missing += 1
            continue
        arr.append(ev.arrival_ts - tr.arrival)
        if ev.departure_ts is not None:
            dep.append(ev.departure_ts - tr.departure)
    return arr, dep, missing


def mae(xs: list[float]) -> float:
    return sum(abs(x) for x in xs) / max(1, len(xs))


@pytest.fixture
def city() -> SyntheticCity:
    c = SyntheticCity()
    for k in range(6):
        c.add_trip(f"A0-{k}", "A0", 6 * 3600 + k * 600, block=f"B{k}")
        c.add_trip(f"A1-{k}", "A1", 6 * 3600 + 1800 + k * 600, block=f"B{k}")
        c.add_trip(f"L0-{k}", "L0", 6 * 3600 + k * 900, block=f"C{k}")
    return c


def test_clean_pings_with_trip_id_give_every_stop(city: SyntheticCity) -> None:
    net = city.network()
    d = drive(net, "A0-1")
    track, events, statuses = run(Matcher(net), d.pings)
    arr, dep, missing = errors(events, d.truth)
    assert missing == 0
    assert mae(arr) < 3.0, arr
    assert mae(dep[1:]) < 3.0, dep
    assert statuses[0] == "layover"
    assert "in_service" in statuses
    # events come in stop order, an arrival first, then the same stop with its departure
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs)
    # the trip ended at its last stop: the block's next trip waits at the terminus
    assert track.trip_id == "A1-1"
    assert track.status == "layover"


def test_noise_outliers_and_missing_pings(city: SyntheticCity) -> None:
    net = city.network()
    rng = random.Random(7)
    all_arr, all_dep, all_missing = [], [], 0
    for k in range(6):
        d = drive(
            net,
            f"A0-{k}",
            vehicle=f"V{k}",
            rng=rng,
            noise_m=10.0,
            missing=0.1,
            outliers=0.03,
            phase=rng.uniform(0, 10),
            layover_s=60,
        )
        _track, events, statuses = run(Matcher(net), d.pings)
        arr, dep, missing = errors(events, d.truth)
        all_arr += arr
        all_dep += dep
        all_missing += missing
        assert "off_route" not in statuses
    assert all_missing == 0
    assert mae(all_arr) < 6.0
    assert mae(all_dep) < 8.0


def test_without_speed_reports(city: SyntheticCity) -> None:
    net = city.network()
    d = drive(net, "A0-2", noise_m=6.0, report_speed=False, rng=random.Random(3))
    _track, events, _ = run(Matcher(net), d.pings)
    arr, dep, missing = errors(events, d.truth)
    assert missing == 0
    assert mae(arr) < 8.0
    assert mae(dep) < 8.0


def test_trip_inferred_without_trip_id(city: SyntheticCity) -> None:
    net = city.network()
    # the bus runs trip A0-3 late by 3 minutes without reporting its trip id
    start = DAY0 + net.trips["A0-3"].stops[0].sched_dep_s + 180
    d = drive(net, "A0-3", start_ts=start, noise_m=8.0, report_trip=False, layover_s=60)
    _track, events, _statuses = run(Matcher(net), d.pings)
    trips = {e.trip_id for e in events}
    assert "A0-3" in trips
    arr, _dep, missing = errors([e for e in events if e.trip_id == "A0-3"], d.truth)
    assert missing <= 1  # the first stop may be decided after the bus left it
    assert mae(arr) < 6.0


def test_inferred_mid_trip_in_the_right_direction(city: SyntheticCity) -> None:
    net = city.network()
    d = drive(net, "A1-2", noise_m=8.0, report_trip=False)
    pings = [p for p in d.pings if p.ts > DAY0 + net.trips["A1-2"].stops[3].sched_arr_s]
    _track, events, _ = run(Matcher(net), pings)
    assert events
    assert {e.trip_id for e in events} == {"A1-2"}
    assert {e.direction_id for e in events} == {1}


def test_loop_route_serves_the_stop_twice(city: SyntheticCity) -> None:
    net = city.network()
    trip = net.trips["L0-1"]
    lx = [s.seq for s in trip.stops if s.stop_id == "LX"]
    assert len(lx) == 2
    d = drive(net, "L0-1", noise_m=8.0, rng=random.Random(5))
    _track, events, _ = run(Matcher(net), d.pings)
    got = final_events(events)
    assert ("L0-1", lx[0]) in got and ("L0-1", lx[1]) in got
    first, second = got[("L0-1", lx[0])], got[("L0-1", lx[1])]
    assert first.departure_ts is not None
    assert second.arrival_ts - first.departure_ts > 100  # round the loop in between
    arr, _dep, missing = errors(events, d.truth)
    assert missing == 0
    assert mae(arr) < 6.0


def test_loop_route_inferred(city: SyntheticCity) -> None:
    net = city.network()
    d = drive(net, "L0-2", noise_m=8.0, report_trip=False, layover_s=120)
    _track, events, _ = run(Matcher(net), d.pings)
    arr, _dep, missing = errors(events, d.truth)
    assert missing == 0
    assert mae(arr) < 6.0


def test_detour_off_route_and_back(city: SyntheticCity) -> None:
    net = city.network()
    trip = net.trips["A0-4"]
    d = drive(net, "A0-4", detour=(1000.0, 1800.0), noise_m=5.0)
    track, events, statuses = run(Matcher(net), d.pings)
    assert "off_route" in statuses
    i = statuses.index("off_route")
    assert "in_service" in statuses[i:]  # back on the route
    _arr, _dep, missing = errors(events, d.truth)
    assert missing == 0  # the stops passed on the detour are interpolated
    assert track.trip_id != "A0-4"  # and the trip ended normally
    skipped = [s.seq for s in trip.stops if 1000 < s.dist_m < 1800]
    assert skipped


def test_detour_without_trip_id_keeps_the_trip(city: SyntheticCity) -> None:
    net = city.network()
    d = drive(net, "A0-4", detour=(1000.0, 1600.0), noise_m=5.0, report_trip=False)
    _track, events, statuses = run(Matcher(net), d.pings)
    assert "off_route" in statuses
    _arr, _dep, missing = errors(events, d.truth)
    assert missing <= 1


def test_skipped_pings_interpolate_stops(city: SyntheticCity) -> None:
    net = city.network()
    trip = net.trips["A0-5"]
    t0 = DAY0 + trip.stops[2].sched_arr_s
    d = drive(net, "A0-5", gap=(t0, t0 + 150), noise_m=5.0)
    _track, events, _ = run(Matcher(net), d.pings)
    arr, _dep, missing = errors(events, d.truth)
    assert missing == 0
    assert max(abs(x) for x in arr) < 60


def test_deviation_and_next_stop(city: SyntheticCity) -> None:
    net = city.network()
    trip = net.trips["A0-0"]
    start = DAY0 + trip.stops[0].sched_dep_s + 240  # leaves 4 minutes late
    d = drive(net, "A0-0", start_ts=start, cruise=7.0)
    m = Matcher(net)
    track = VehicleTrack(vehicle_id="V1")
    devs = []
    for p in d.pings:
        m.update(track, p)
        if track.status == "in_service":
            devs.append(track.deviation_s)
            assert track.next_seq is not None
    assert devs
    assert 120 < sum(devs) / len(devs) < 420


def test_track_survives_json_round_trips(city: SyntheticCity) -> None:
    net = city.network()
    d = drive(net, "L0-3", noise_m=8.0, report_trip=False, rng=random.Random(11))
    m1, m2 = Matcher(net), Matcher(net)
    t1 = VehicleTrack(vehicle_id="V1")
    t2 = VehicleTrack(vehicle_id="V1")
    ev1: list[StopEvent] = []
    ev2: list[StopEvent] = []
    for p in d.pings:
        ev1 += m1.update(t1, p)
        t2 = VehicleTrack.from_dict(json.loads(json.dumps(t2.to_dict())))
        ev2 += m2.update(t2, p)
    assert ev1 == ev2
    assert t1.to_dict() == t2.to_dict()


def test_old_and_duplicate_pings_are_ignored(city: SyntheticCity) -> None:
    net = city.network()
    d = drive(net, "A0-1")
    m = Matcher(net)
    track = VehicleTrack(vehicle_id="V1")
    for p in d.pings[:20]:
        m.update(track, p)
    before = track.to_dict()
    assert m.update(track, d.pings[10]) == []
    assert m.update(track, d.pings[19]) == []
    assert track.to_dict() == before


def test_unknown_place_stays_unassigned(city: SyntheticCity) -> None:
    net = city.network()
    m = Matcher(net)
    track = VehicleTrack(vehicle_id="V9")
    lat, lon = to_ll(-5000, 5000)
    for k in range(5):
        m.update(track, Ping("V9", DAY0 + 7 * 3600 + 10 * k, lat, lon))
    assert track.status == "unassigned"
    assert not track.trip_id


def test_reported_trip_of_another_day_is_not_taken(city: SyntheticCity) -> None:
    net = city.network()
    d = drive(net, "A0-1")
    # the same pings a week before the calendar starts
    shift = DAY0 - service_day_start(date(2025, 6, 2))
    pings = [
        Ping(p.vehicle_id, p.ts - shift, p.lat, p.lon, p.speed, None, p.trip_id) for p in d.pings
    ]
    track, events, _ = run(Matcher(net), pings)
    assert events == []
    assert track.status == "unassigned"


def test_matcher_speed(city: SyntheticCity) -> None:
    net = city.network()
    rng = random.Random(2)
    pings: list[Ping] = []
    for k in range(6):
        for trip_id, report in ((f"A0-{k}", True), (f"L0-{k}", k % 2 == 0)):
            pings += drive(
                net,
                trip_id,
                vehicle=f"{trip_id}-bus",
                rng=rng,
                noise_m=8.0,
                missing=0.05,
                outliers=0.01,
                report_trip=report,
            ).pings
    pings.sort(key=lambda p: p.ts)
    m = Matcher(net)
    tracks: dict[str, VehicleTrack] = {}
    t0 = time.perf_counter()
    for p in pings:
        tr = tracks.get(p.vehicle_id)
        if tr is None:
            tr = tracks[p.vehicle_id] = VehicleTrack(vehicle_id=p.vehicle_id)
        m.update(tr, p)
    rate = len(pings) / (time.perf_counter() - t0)
    # ≥ 5,000/s on an idle core; the shared test machine gets a margin
    assert rate > 2000, rate


def test_off_duty_bus_at_a_terminus_takes_no_other_blocks_trip(city: SyntheticCity) -> None:
    """A bus whose block is over idles at the terminus where another block's trip starts."""
    net = city.network()
    m = Matcher(net, vehicle_blocks={})
    track = VehicleTrack(vehicle_id="V1")
    d = drive(net, "A0-0", noise_m=5.0, report_trip=False, layover_s=60, tail_s=0)
    lat, lon, _ = net.trip_polyline("A1-0").point_at(0)
    idle = [
        Ping("V1", d.end_ts + 10 * k, lat, lon, 0.0, None, "")
        for k in range(1, 60)  # ten minutes standing at the start of A1-0, A1-1, ...
    ]
    run(m, d.pings, track)
    assert track.extra.get("m_block") == "B0"
    # A1-0 (block B0) is this bus's next trip: it waits for it
    _, _, statuses = run(m, idle[:5], track)
    assert track.trip_id == "A1-0"
    # the same bus when its block has nothing left: it stays unassigned
    m2 = Matcher(net, vehicle_blocks={})
    other = VehicleTrack(vehicle_id="V2", extra={"m_block": "ZZ"})
    shifted = [Ping("V2", p.ts + 1800, p.lat, p.lon, p.speed, None, "") for p in idle]
    _, _, statuses = run(m2, shifted, other)
    assert set(statuses) == {"unassigned"}


def test_block_hint_and_taken_trips(city: SyntheticCity) -> None:
    net = city.network()
    # two buses without trip ids waiting at the same terminus for two trips 10 minutes apart
    m = Matcher(net, vehicle_blocks={"V2": "B2", "V3": "B3"})
    lat, lon, _ = net.trip_polyline("A0-2").point_at(0)
    t0 = DAY0 + net.trips["A0-2"].stops[0].sched_dep_s - 300
    t2, t3 = VehicleTrack(vehicle_id="V2"), VehicleTrack(vehicle_id="V3")
    for k in range(6):
        m.update(t3, Ping("V3", t0 + 10 * k, lat, lon, 0.0))
        m.update(t2, Ping("V2", t0 + 10 * k + 1, lat, lon, 0.0))
    assert (t2.trip_id, t3.trip_id) == ("A0-2", "A0-3")
    assert t2.status == t3.status == "layover"
    assert m.taken[("A0-2", t2.service_date.isoformat())][0] == "V2"  # type: ignore[union-attr]


def test_engine_feeds_the_model_and_sweeps_ghosts(city: SyntheticCity) -> None:
    from thudo.transit.engine.engine import Engine
    from thudo.transit.engine.types import StopPrediction

    class Model:
        def __init__(self) -> None:
            self.seen: list[StopEvent] = []
            self.asked: list[str] = []

        def observe(self, ev: StopEvent, track: VehicleTrack | None = None) -> None:
            assert track is not None and track.vehicle_id == ev.vehicle_id
            self.seen.append(ev)

        def predict(self, network, track: VehicleTrack, now: float) -> list[StopPrediction]:
            self.asked.append(track.status)
            return [StopPrediction(99, "X", now + 60, now + 70, 30.0, 0)]

    net = city.network()
    model = Model()
    eng = Engine(net, model)
    d = drive(net, "A0-1", vehicle="V1", detour=(1500.0, 2100.0))
    got_events = []
    for p in d.pings:
        events, preds = eng.process(p)
        got_events += events
        if eng.tracks["V1"].status in ("in_service", "layover", "off_route"):
            assert preds and preds[0].stop_id == "X"
        else:
            assert preds == []
    assert model.seen == got_events
    assert "off_route" not in model.asked  # predicted from where it left the route
    assert eng.predictions["V1"]
    # not asked when told not to
    n = len(model.asked)
    eng.process(Ping("V1", d.pings[-1].ts + 10, d.pings[-1].lat, d.pings[-1].lon), predict=False)
    assert len(model.asked) == n
    last = d.pings[-1].ts + 10
    assert eng.sweep(last + 60, 120) == []
    assert eng.sweep(last + 121, 120) == ["V1"]
    assert eng.tracks["V1"].status == "ghost"
    assert "V1" not in eng.predictions
    assert eng.sweep(last + 500, 120) == []
    # it reports again
    eng.process(Ping("V1", last + 600, d.pings[-1].lat, d.pings[-1].lon, 0.0))
    assert eng.tracks["V1"].status != "ghost"


def test_engine_with_the_travel_model(city: SyntheticCity) -> None:
    from thudo.transit.engine.engine import Engine
    from thudo.transit.engine.predictor import TravelModel

    net = city.network()
    eng = Engine(net, TravelModel())
    d = drive(net, "L0-2", vehicle="V1", noise_m=6.0, layover_s=60)
    for p in d.pings:
        _events, preds = eng.process(p)
        track = eng.tracks["V1"]
        if track.status == "in_service" and track.trip_id == "L0-2":
            assert preds
            arrivals = [x.arrival_ts for x in preds]
            assert arrivals == sorted(arrivals)
            assert arrivals[0] >= p.ts - 1
