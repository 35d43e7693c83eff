"""The bus simulator (thudo/transit/simulator.py): determinism, physics, truth, live publishing.

Most tests drive a small synthetic network (`toy_network`, shaped like engine.network.Network:
trips, stops, blocks, trip_polyline, services_on) so that they need no database; the live run
over "db" stores positions through the ingest, and the MQTT test talks to the real broker
(skips without it, fails where THUDO_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import random
import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest

from thudo.transit import simulator
from thudo.transit.engine.geometry import Polyline
from thudo.transit.engine.network import Network, ServiceCalendar
from thudo.transit.engine.types import TZ, StopInfo, StopOnTrip, TripInfo, service_day_start

DAY = date(2025, 3, 12)  # a Wednesday


def toy_network(n_routes: int = 3, seed: int = 7, loop: bool = True) -> Network:
    """A few wiggly Hanoi routes with back-and-forth blocks, as an engine Network (the last
    route is a loop whose first stop is served again at the end)."""
    rng = random.Random(seed)
    stops: dict[str, StopInfo] = {}
    trips: list[TripInfo] = []
    routes: dict[str, dict[str, str]] = {}
    shapes: dict[str, list[list[float]]] = {}
    for r in range(n_routes):
        rid = f"R{r + 1:02d}"
        is_loop = loop and r == n_routes - 1
        pts = _wiggle(rng, 20.98 + 0.1 * rng.random(), 105.78 + 0.1 * rng.random(), is_loop)
        routes[rid] = {"short_name": rid[1:], "long_name": rid, "color": "0066cc"}
        dirs = [0] if is_loop else [0, 1]
        for d in dirs:
            shapes[f"{rid}-{d}"] = pts if d == 0 else pts[::-1]
        trips += _timetable(rid, dirs, shapes, stops, rng)
    every_day = ServiceCalendar((True,) * 7, date(2025, 1, 1), date(2025, 12, 31))
    return Network.build(
        stops=stops.values(), routes=routes, shapes=shapes, trips=trips, calendars={"WD": every_day}
    )


def _wiggle(rng: random.Random, lat: float, lon: float, loop: bool) -> list[list[float]]:
    heading = rng.uniform(0, 2 * math.pi)
    pts = [[lat, lon]]
    n = 160 if not loop else 120
    for _ in range(n):
        heading += rng.gauss(0, 0.12) + (2 * math.pi / n if loop else 0.0)
        lat += 60 * math.cos(heading) / 111_195
        lon += 60 * math.sin(heading) / (111_195 * math.cos(math.radians(21)))
        pts.append([lat, lon])
    if loop:
        pts.append(list(pts[0]))
    return pts


def _timetable(
    rid: str,
    dirs: list[int],
    shapes: dict[str, list[list[float]]],
    stops: dict[str, StopInfo],
    rng: random.Random,
) -> list[TripInfo]:
    stop_pos: dict[int, list[tuple[str, float]]] = {}
    for d in dirs:
        line = Polyline(shapes[f"{rid}-{d}"])
        positions, x = [], 0.0
        while x < line.length - 200:
            positions.append(x)
            x += rng.uniform(350, 600)
        positions.append(line.length)
        on_trip = []
        for i, x in enumerate(positions):
            sid = f"{rid}-{d}-S{i:02d}"
            lat, lon, _ = line.point_at(x)
            stops[sid] = StopInfo(sid, f"Điểm dừng {sid}", lat, lon)
            on_trip.append((sid, x))
        if len(dirs) == 1:  # the loop: the last stop is the first one, served twice
            on_trip[-1] = (on_trip[0][0], line.length)
        stop_pos[d] = on_trip
    # departures 05:00–22:00 from each terminus; 8 min at peaks, 15 off-peak
    deps: list[tuple[int, int]] = []
    for d in dirs:
        t = 5 * 3600 + d * 240
        while t <= 22 * 3600:
            deps.append((t, d))
            h = t / 3600
            t += 480 if (6.5 <= h < 9 or 16.5 <= h < 19) else 900
    deps.sort()
    free: list[tuple[int, int, str]] = []  # (ready at, at terminus, block)
    n_block = 0
    out = []
    for k, (t0, d) in enumerate(deps):
        on_trip = stop_pos[d]
        line_len = on_trip[-1][1]
        peak = 6.5 <= t0 / 3600 < 9 or 16.5 <= t0 / 3600 < 19
        run = line_len / (5.0 if peak else 6.0)
        sts = []
        for i, (sid, x) in enumerate(on_trip):
            at = t0 + round(run * x / line_len)
            sts.append(StopOnTrip(i + 1, sid, x, at, at + (0 if i == 0 else 20)))
        tid = f"{rid}-T{k:03d}"
        here = d if len(dirs) == 2 else 0
        block = next((b for b in free if b[0] <= t0 and b[1] == here), None)
        if block is None:
            n_block += 1
            bid = f"{rid}-B{n_block:02d}"
        else:
            free.remove(block)
            bid = block[2]
        other = 1 - d if len(dirs) == 2 else 0
        free.append((sts[-1].sched_arr_s + 300, other, bid))
        out.append(TripInfo(tid, rid, "WD", d, bid, f"{rid} hướng {d}", f"{rid}-{d}", sts))
    return out


@pytest.fixture(autouse=True)
def _codes(monkeypatch):
    """Vehicle and device ids as the demo names them (HN-<block>, GPS-<block>)."""
    monkeypatch.setattr(simulator, "vehicle_code_for_block", lambda b: f"HN-{b}")
    monkeypatch.setattr(simulator, "device_id_for_block", lambda b: f"GPS-{b}")


@pytest.fixture(scope="module")
def net() -> Network:
    return toy_network()


def _sim(net, **kw) -> simulator.Simulation:
    kw.setdefault("start_s", 6 * 3600)
    kw.setdefault("end_s", 10 * 3600)
    return simulator.Simulation(net, DAY, **kw)


def test_deterministic_per_seed(net):
    a = list(_sim(net, seed=3).iter_pings())
    b = list(_sim(net, seed=3).iter_pings())
    c = list(_sim(net, seed=4).iter_pings())
    assert a == b
    assert a != c
    assert len(a) > 1000
    assert [p.ts for p in a] == sorted(p.ts for p in a)  # time order across buses
    s3, s3b = _sim(net, seed=3), _sim(net, seed=3)
    s3.build()
    s3b.build()
    assert s3.truth == s3b.truth


def test_pings_follow_shapes_within_noise(net):
    sim = _sim(net, outlier_share=0.0, detour_share=0.0, gps_noise_m=8.0, end_s=7 * 3600)
    by_vehicle: dict[str, str] = {}
    offsets = []
    for p in sim.iter_pings():
        tid = p.trip_id or by_vehicle.get(p.vehicle_id, "")
        if p.trip_id:
            by_vehicle[p.vehicle_id] = p.trip_id
        if not tid:
            continue
        _, off = net.trip_polyline(tid).project(p.lat, p.lon)
        offsets.append(off)
    offsets.sort()
    assert len(offsets) > 1000
    assert offsets[len(offsets) // 2] < 12  # median error of an 8 m RMS GPS
    assert offsets[int(len(offsets) * 0.99)] < 40


def _offsets(net, sim) -> dict[str, list[float]]:
    """Each bus's distances (m) from the shape of the trip it reports, in time order."""
    out: dict[str, list[float]] = defaultdict(list)
    for p in sim.iter_pings():
        if p.trip_id:
            out[p.vehicle_id].append(net.trip_polyline(p.trip_id).project(p.lat, p.lon)[1])
    return out


def test_outliers_jump_off_the_shape(net):
    sim = _sim(net, outlier_share=0.05, detour_share=0.0, gps_noise_m=0.0, end_s=7 * 3600)
    offs = [o for v in _offsets(net, sim).values() for o in v]
    assert 0.03 < sum(o > 140 for o in offs) / len(offs) < 0.08


def test_detours_leave_the_shape_and_rejoin(net):
    sim = _sim(
        net,
        outlier_share=0.0,
        detour_share=1.0,
        gps_noise_m=0.0,
        missing_share=0.0,
        start_s=7 * 3600,
        end_s=8 * 3600,
    )
    detours = 0
    for offs in _offsets(net, sim).values():
        run: list[float] = []
        for o in offs:
            if o > 1:  # no GPS noise: anything off the line is a detour
                run.append(o)
                continue
            if run:  # back on the shape
                assert len(run) >= 2 and 100 < max(run) < 300
                detours += 1
                run = []
    assert detours >= 5
    # the stops a detour bypasses are not served: no truth rows for them
    served = defaultdict(set)
    for r in sim.truth:
        served[r.trip_id].add(r.seq)
    bypassed = sum(len(net.trips[t].stops) - len(seqs) for t, seqs in served.items())
    assert bypassed > 0


def test_truth_ordered_along_each_trip(net):
    sim = _sim(net)
    sim.build()
    trips = defaultdict(list)
    for r in sim.truth:
        trips[r.trip_id].append(r)
    assert len(trips) > 20
    day0 = service_day_start(DAY)
    for trip_id, rows in trips.items():
        trip = net.trips[trip_id]
        seqs = [r.seq for r in rows]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert seqs[0] == trip.stops[0].seq and seqs[-1] == trip.stops[-1].seq
        for prev, cur in itertools.pairwise(rows):
            assert prev.departure_ts <= cur.arrival_ts
        for r in rows:
            assert r.arrival_ts <= r.departure_ts
        # departs the terminus no earlier than ~20 s before the timetable, and sanely late
        delay = rows[0].departure_ts - (day0 + trip.stops[0].sched_dep_s)
        assert -21 <= delay < 3600


def test_physics_congestion_dwell_and_skips(net):
    sim = simulator.Simulation(net, DAY, seed=5, start_s=5 * 3600, end_s=22 * 3600)
    sim.build()
    day0 = service_day_start(DAY)
    runtime: dict[str, list[float]] = {"peak": [], "off": []}
    dwell, passed = [], 0
    rows = defaultdict(list)
    for r in sim.truth:
        rows[r.trip_id].append(r)
    for trip_id, rs in rows.items():
        trip = net.trips[trip_id]
        if len(rs) < 2 or trip.direction_id is None:
            continue
        length = trip.stops[-1].dist_m - trip.stops[0].dist_m
        speed = length / (rs[-1].arrival_ts - rs[0].departure_ts)
        h = (rs[0].departure_ts - day0) / 3600
        if 7.25 <= h < 8.5 or 17 <= h < 18.5:
            runtime["peak"].append(speed)
        elif 10 <= h < 15:
            runtime["off"].append(speed)
        for r in rs[1:-1]:
            d = r.departure_ts - r.arrival_ts
            if d == 0:
                passed += 1
            else:
                dwell.append(d)
    peak = sum(runtime["peak"]) / len(runtime["peak"])
    off = sum(runtime["off"]) / len(runtime["off"])
    assert peak < 0.85 * off  # Hanoi peaks are much slower
    assert peak > 2.0 and off < 9.0  # 7–32 km/h commercial speeds
    assert dwell and 5 < sorted(dwell)[len(dwell) // 2] < 40
    assert 0.02 < passed / (passed + len(dwell)) < 0.5  # some stops are passed by


def test_missing_share_roughly_right(net):
    full = sum(1 for _ in _sim(net, missing_share=0.0).iter_pings())
    some = sum(1 for _ in _sim(net, missing_share=0.1).iter_pings())
    assert 0.07 < 1 - some / full < 0.13


def test_devices_without_trip_id(net):
    sim = _sim(net, no_trip_id_share=0.5, seed=2)
    with_id: set[str] = set()
    without: set[str] = set()
    for p in sim.iter_pings():
        (with_id if p.trip_id else without).add(p.vehicle_id)
    silent = {v for v, reports in sim.reports_trip_id.items() if not reports}
    assert silent and silent <= without
    assert not (silent & with_id)
    assert all(v.startswith("HN-") for v in sim.vehicles)


def test_routes_filter_and_window(net):
    sim = simulator.Simulation(net, DAY, routes={"R01"}, start_s=8 * 3600, end_s=9 * 3600)
    pings = list(sim.iter_pings())
    day0 = service_day_start(DAY)
    assert pings
    assert all(day0 + 8 * 3600 <= p.ts <= day0 + 9 * 3600 for p in pings)
    assert {net.trips[p.trip_id].route_id for p in pings if p.trip_id} == {"R01"}
    # the window does not change what happened: same truth for the same trip either way
    wide = simulator.Simulation(net, DAY, routes={"R01"}, start_s=5 * 3600, end_s=9 * 3600)
    wide.build()
    assert {r for r in sim.truth} == {r for r in wide.truth}


def test_write_truth_csv(net, tmp_path):
    sim = _sim(net, start_s=7 * 3600, end_s=8 * 3600)
    n = sim.write_truth(tmp_path / "truth.csv")
    with open(tmp_path / "truth.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert n == len(rows) == len(sim.truth) > 0
    first = rows[0]
    assert set(first) == set(simulator.TRUTH_COLUMNS)
    assert float(first["arrival_ts"]) == pytest.approx(sim.truth[0].arrival_ts, abs=0.05)
    assert datetime.fromisoformat(first["arrival_time"]).utcoffset() == timedelta(hours=7)


def test_ping_record_format(net):
    ping = next(iter(_sim(net).iter_pings()))
    rec = simulator.ping_record(ping)
    assert rec["vehicle_id"] == ping.vehicle_id
    assert rec["latitude"] == ping.lat and rec["longitude"] == ping.lon
    assert isinstance(rec["timestamp"], int | float)
    json.dumps(rec)


def test_a_full_day_pings_every_bus_all_day():
    # (how fast a day simulates is measured in benchmarks/, never asserted here)
    big = toy_network(n_routes=5, seed=11)
    sim = simulator.Simulation(big, DAY, start_s=5 * 3600, end_s=23 * 3600)
    n = sum(1 for _ in sim.iter_pings())
    buses = len(sim.vehicles)
    assert n > 1000 * buses


# ---- live runs ----------------------------------------------------------------------------


class _Recorder(simulator.Publisher):
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict]]] = []

    def send(self, device_id, records):
        self.calls.append((device_id, records))
        return True


def test_live_run_maps_now_and_speeds_up(net, monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(simulator, "make_publisher", lambda over, **kw: rec)
    start = datetime.combine(DAY, datetime.min.time(), TZ) + timedelta(hours=8)
    t0 = time.time()
    sent = simulator.run_live(
        network=net, over="db", speed=60.0, start_at=start, duration_s=1.5, seed=3
    )
    assert sent == sum(len(r) for _, r in rec.calls) > 0
    stamps = [r["timestamp"] for _, recs in rec.calls for r in recs]
    # timestamps are wall-clock times, not 08:00 of the simulated day
    assert all(t0 - 1 <= s <= time.time() + 1 for s in stamps)
    assert {d for d, _ in rec.calls} <= {f"GPS-{b}" for b in net.blocks}


def _demo_fleet(net) -> None:
    from thudo.transit.models import Device, Vehicle, VehicleState
    from thudo.transit.tokens import demo_device_token, hash_token

    for block_id in net.blocks:
        v = Vehicle.objects.create(code=f"HN-{block_id}", label=block_id)
        VehicleState.objects.create(vehicle=v)
        Device.objects.create(
            vehicle=v,
            device_id=f"GPS-{block_id}",
            token_hash=hash_token(demo_device_token(f"GPS-{block_id}")),
        )


@pytest.mark.django_db(transaction=True)
def test_live_run_over_db_stores_positions(net):
    from thudo.transit.models import Position

    _demo_fleet(net)
    start = datetime.combine(DAY, datetime.min.time(), TZ) + timedelta(hours=8)
    out = io.StringIO()
    sent = simulator.run_live(
        network=net, over="db", speed=30.0, start_at=start, duration_s=2.0, stdout=out
    )
    assert sent > 0
    assert Position.objects.filter(source="sim").count() > 0
    assert "buses" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_live_run_over_http_stores_positions(net, live_server, settings):
    from thudo.transit.models import Position

    settings.TRANSIT_TRACK_INLINE = False
    _demo_fleet(net)
    sent = simulator.run_live(
        network=net,
        over="http",
        url=live_server.url,
        speed=30.0,
        start_at=datetime.combine(DAY, datetime.min.time(), TZ) + timedelta(hours=8),
        duration_s=1.5,
    )
    assert sent > 0
    assert Position.objects.filter(source="http").count() == sent


def test_mqtt_publish_reaches_the_broker(net, settings):
    import paho.mqtt.client as paho

    from thudo.core.testing import require_service
    from thudo.transit import mqtt
    from thudo.transit.tokens import demo_device_token

    url = settings.TRANSIT_MQTT_URL or "mqtt://127.0.0.1:1883"
    host, port, _, _ = mqtt.parse_url(url)
    require_service("Mosquitto", host, port)
    # a topic of our own, so that an ingest worker or another test never sees these messages
    prefix = f"thudo-test/sim-{random.getrandbits(32):08x}"
    settings.TRANSIT_MQTT_TOPIC = prefix + "/+"
    got: list[tuple[str, bytes]] = []
    ready = threading.Event()
    sub = paho.Client(paho.CallbackAPIVersion.VERSION2)

    def on_connect(client, userdata, flags, rc, props=None):
        client.subscribe(prefix + "/+", qos=1)

    sub.on_connect = on_connect
    sub.on_subscribe = lambda *a, **k: ready.set()
    sub.on_message = lambda c, u, msg: got.append((msg.topic, msg.payload))
    sub.connect(host, port)
    sub.loop_start()
    try:
        assert ready.wait(5)
        start = datetime.combine(DAY, datetime.min.time(), TZ) + timedelta(hours=8)
        sent = simulator.run_live(
            network=net, over="mqtt", mqtt_url=url, speed=30.0, start_at=start, duration_s=1.5
        )
        deadline = time.time() + 5
        while len(got) < 1 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert sent > 0
    assert got and all(t.startswith(prefix + "/GPS-") for t, _ in got)
    topic, payload = got[0]
    body = json.loads(payload)
    assert body["token"] == demo_device_token(topic.rsplit("/", 1)[1])
    assert body["positions"] and "latitude" in body["positions"][0]


def test_http_publisher_survives_a_server_that_is_not_up(net, settings):
    pub = simulator.HttpPublisher("http://127.0.0.1:9", timeout=0.5)
    box = simulator._Outbox(pub, {"HN-x": "GPS-x"}, cap=3)
    ping = next(iter(_sim(net).iter_pings()))
    for _ in range(5):
        box.add(simulator.Ping("HN-x", ping.ts, ping.lat, ping.lon))
    box.flush()  # refused: kept for the next try, at most `cap`
    assert box.sent == 0 and len(box.pending["GPS-x"]) == 3
    pub.close()


def test_cli_replays_a_period_and_writes_truth_and_positions(net, tmp_path, monkeypatch):
    from django.core.management import call_command

    from thudo.transit.engine import network as network_module

    monkeypatch.setattr(network_module, "network_for", lambda feed_id=None: net)
    out = io.StringIO()
    call_command(
        "transit",
        "simulate",
        "--date",
        DAY.isoformat(),
        "--from",
        "07:00",
        "--to",
        "07:20",
        "--seed",
        "4",
        "--truth",
        str(tmp_path / "truth.csv"),
        "--positions",
        str(tmp_path / "pings.jsonl"),
        stdout=out,
    )
    text = out.getvalue()
    assert "buses" in text and "true arrivals" in text
    lines = (tmp_path / "pings.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and {"vehicle_id", "timestamp", "latitude", "longitude"} <= set(
        json.loads(lines[0])
    )
    day0 = service_day_start(DAY)
    assert all(
        day0 + 7 * 3600 <= json.loads(x)["timestamp"] <= day0 + 7 * 3600 + 1200 for x in lines
    )
    assert (tmp_path / "truth.csv").read_text(encoding="utf-8").startswith("vehicle_id,trip_id")


def test_cli_without_a_feed(monkeypatch):
    from thudo.transit import cli_simulate
    from thudo.transit.engine import network as network_module

    monkeypatch.setattr(network_module, "network_for", lambda feed_id=None: None)
    out = io.StringIO()
    assert cli_simulate.handle({"over": "none"}, out) == 1
    assert "No active GTFS feed" in out.getvalue()
