"""The tracker over the database (SQLite in the test run): a small feed written as rows, a bus
driving its trips as stored positions, batch after batch: states, stop arrivals, predictions,
ghosts, concurrency, the network cache, the CLI, and the number of queries per round."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from thudo.transit import tracker
from thudo.transit.engine import network as network_mod
from thudo.transit.engine.geometry import Polyline
from thudo.transit.engine.types import Ping
from thudo.transit.models import (
    Agency,
    Calendar,
    Feed,
    Position,
    Prediction,
    Route,
    Shape,
    Stop,
    StopArrival,
    StopTime,
    Trip,
    Vehicle,
    VehicleState,
)
from thudo.transit.tests.test_matcher import DAY0, SyntheticCity, drive, to_ll

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_process():
    network_mod.clear_cache()
    tracker.reset()
    yield
    network_mod.clear_cache()
    tracker.reset()


@pytest.fixture
def city() -> SyntheticCity:
    c = SyntheticCity()
    for k in range(6):
        c.add_trip(f"A0-{k}", "A0", 6 * 3600 + k * 600, block=f"B{k}")
        c.add_trip(f"A1-{k}", "A1", 6 * 3600 + 1800 + k * 600, block=f"B{k}")
        c.add_trip(f"L0-{k}", "L0", 6 * 3600 + k * 900, block=f"C{k}")
    return c


def load_city(city: SyntheticCity, *, version: int = 1) -> Feed:
    """The synthetic city as timetable rows of an active feed."""
    feed = Feed.objects.create(name="Test", version=version, status=Feed.Status.ACTIVE)
    agency = Agency.objects.create(feed=feed, agency_id="T", name="Test transit")
    routes = {
        rid: Route.objects.create(feed=feed, route_id=rid, agency=agency, short_name=rid)
        for rid in ("A", "L")
    }
    stops = {
        s.stop_id: Stop.objects.create(
            feed=feed, stop_id=s.stop_id, name=s.name, lat=s.lat, lon=s.lon
        )
        for s in city.stops.values()
    }
    Calendar.objects.create(
        feed=feed,
        service_id="WK",
        **{d: True for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
        saturday=True,
        sunday=True,
        start_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
    )
    shapes = {}
    for shape_id, xy in city.shapes.items():
        latlons = [to_ll(x, y) for x, y in xy]
        pl = Polyline(latlons)
        shapes[shape_id] = Shape.objects.create(
            feed=feed,
            shape_id=shape_id,
            points=[[lat, lon, d] for (lat, lon), d in zip(latlons, pl.cum, strict=True)],
            length_m=pl.length,
        )
    rows = []
    for t in city.trips.values():
        trip = Trip.objects.create(
            feed=feed,
            trip_id=t.trip_id,
            route=routes[t.route_id],
            service_id=t.service_id,
            direction_id=t.direction_id,
            block_id=t.block_id,
            shape=shapes[t.shape_id],
            start_s=t.start_s,
            end_s=t.end_s,
        )
        for st in t.stops:
            rows.append(
                StopTime(
                    trip=trip,
                    stop=stops[st.stop_id],
                    stop_sequence=st.seq,
                    arrival_s=st.sched_arr_s,
                    departure_s=st.sched_dep_s,
                    dist_m=st.dist_m,
                )
            )
    StopTime.objects.bulk_create(rows)
    return feed


def new_vehicle(code: str) -> Vehicle:
    v = Vehicle.objects.create(code=code)
    VehicleState.objects.create(vehicle=v)
    return v


def store(vehicle: Vehicle, pings: list[Ping]) -> None:
    """What the ingest does: positions stored, the state's latest fields moved on."""
    Position.objects.bulk_create(
        [
            Position(
                vehicle=vehicle,
                recorded_at=datetime.fromtimestamp(p.ts, tz=UTC),
                lat=p.lat,
                lon=p.lon,
                speed=p.speed,
                bearing=p.bearing,
                trip_id=p.trip_id,
                source=Position.Source.SIMULATOR,
            )
            for p in pings
        ]
    )
    last = pings[-1]
    VehicleState.objects.filter(vehicle=vehicle).update(
        recorded_at=datetime.fromtimestamp(last.ts, tz=UTC), lat=last.lat, lon=last.lon
    )


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def test_a_bus_tracked_batch_after_batch(city: SyntheticCity) -> None:
    load_city(city)
    bus = new_vehicle("V1")
    net = network_mod.network_for()
    assert net is not None
    d = drive(net, "A0-1", vehicle="V1", noise_m=6.0, layover_s=60, rng=random.Random(4))
    saw = set()
    preds_seen = 0
    for i in range(0, len(d.pings), 3):
        store(bus, d.pings[i : i + 3])
        assert tracker.track_vehicles([bus.pk], now=at(d.pings[i].ts)) == 1
        state = VehicleState.objects.get(vehicle=bus)
        saw.add(state.status)
        assert state.tracked_at == state.recorded_at
        if state.status == "in_service":
            assert state.trip_id == "A0-1"
            assert state.next_stop_id
            rows = list(Prediction.objects.filter(vehicle=bus).values_list("stop_sequence"))
            assert len(rows) == len(set(rows))  # replaced, never piled up
            preds_seen += len(rows)
    assert {"layover", "in_service"} <= saw
    assert preds_seen > 0
    arrivals = {a.stop_sequence: a for a in StopArrival.objects.filter(trip_id="A0-1", vehicle=bus)}
    assert set(arrivals) == {t.seq for t in d.truth}
    for t in d.truth:
        a = arrivals[t.seq]
        assert abs(a.arrived_at.timestamp() - t.arrival) < 10
        assert a.scheduled_arrival is not None
        if t.seq not in (1, len(d.truth)):
            assert a.departed_at is not None
            assert abs(a.departed_at.timestamp() - t.departure) < 10
    # the last stop ended the trip: the block's next trip waits at the terminus
    state = VehicleState.objects.get(vehicle=bus)
    assert state.trip_id == "A1-1"
    assert state.status == "layover"
    assert state.track["trip_id"] == "A1-1"
    # nothing new: nothing to do
    assert tracker.track_vehicles([bus.pk]) == 0
    assert tracker.track_vehicles() == 0


def test_only_new_positions_are_matched(city: SyntheticCity) -> None:
    load_city(city)
    bus = new_vehicle("V1")
    net = network_mod.network_for()
    assert net is not None
    d = drive(net, "A0-2", vehicle="V1")
    for i in range(0, 40, 10):
        store(bus, d.pings[i : i + 10])
        tracker.track_vehicles()
    first = StopArrival.objects.count()
    assert first > 0
    # the same state again (e.g. a second worker): no duplicate rows, nothing re-matched
    VehicleState.objects.filter(vehicle=bus).update(recorded_at=at(d.pings[39].ts + 1))
    tracker.track_vehicles()
    assert StopArrival.objects.count() == first
    for i in range(40, len(d.pings), 15):
        store(bus, d.pings[i : i + 15])
        tracker.track_vehicles()
    assert StopArrival.objects.filter(trip_id="A0-2").count() == len(d.truth)
    # a backlog longer than MAX_POSITIONS: only the newest are matched (the bus is where the
    # last ones say; the stops in between are not made up)
    d2 = drive(net, "A1-2", vehicle="V1")
    store(bus, d2.pings[: tracker.MAX_POSITIONS * 3])
    tracker.track_vehicles()
    state = VehicleState.objects.get(vehicle=bus)
    assert state.tracked_at == at(d2.pings[tracker.MAX_POSITIONS * 3 - 1].ts)


def test_a_state_tracked_meanwhile_is_not_overwritten(
    city: SyntheticCity, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_city(city)
    bus = new_vehicle("V1")
    net = network_mod.network_for()
    assert net is not None
    d = drive(net, "A0-3", vehicle="V1")
    store(bus, d.pings[:30])
    real_store = tracker._store

    def racing_store(engine, results, now):  # another process tracked the bus first
        VehicleState.objects.filter(vehicle=bus).update(
            tracked_at=at(d.pings[29].ts), status="in_service", trip_id="OTHER"
        )
        return real_store(engine, results, now)

    monkeypatch.setattr(tracker, "_store", racing_store)
    tracker.track_vehicles()
    state = VehicleState.objects.get(vehicle=bus)
    assert state.trip_id == "OTHER"
    assert not StopArrival.objects.exists()
    assert not Prediction.objects.exists()


def test_ghosts(city: SyntheticCity) -> None:
    load_city(city)
    bus = new_vehicle("V1")
    quiet = new_vehicle("V2")
    net = network_mod.network_for()
    assert net is not None
    d = drive(net, "A0-4", vehicle="V1")
    store(bus, d.pings[:60])
    tracker.track_vehicles()
    assert Prediction.objects.filter(vehicle=bus).exists()
    last = d.pings[59].ts
    assert tracker.sweep_ghosts(now=at(last + 60)) == 0
    assert tracker.sweep_ghosts(now=at(last + 600)) == 1
    state = VehicleState.objects.get(vehicle=bus)
    assert state.status == "ghost"
    assert not Prediction.objects.filter(vehicle=bus).exists()
    assert VehicleState.objects.get(vehicle=quiet).status == "unassigned"  # never reported
    assert tracker.sweep_ghosts(now=at(last + 900)) == 0  # already a ghost
    # it reports again: tracked as before
    store(bus, d.pings[60:70])
    tracker.track_vehicles()
    assert VehicleState.objects.get(vehicle=bus).status == "in_service"


def test_without_active_feed_vehicles_are_not_on_a_trip(city: SyntheticCity) -> None:
    bus = new_vehicle("V1")
    lat, lon = to_ll(100, 0)
    store(bus, [Ping("V1", DAY0 + 7 * 3600, lat, lon, 0.0, None, "A0-1")])
    assert tracker.track_vehicles() == 1
    state = VehicleState.objects.get(vehicle=bus)
    assert state.status == "unassigned"
    assert state.tracked_at == state.recorded_at


def test_new_feed_version_is_picked_up(city: SyntheticCity) -> None:
    old = load_city(city)
    net1 = network_mod.network_for()
    assert net1 is not None and net1.feed_id == old.pk
    assert network_mod.network_for() is net1  # cached
    old.status = Feed.Status.REPLACED
    old.save()
    new_city = SyntheticCity()
    new_city.add_trip("N-1", "A0", 7 * 3600)
    new = load_city(new_city, version=2)
    network_mod.clear_cache()  # (the active feed is looked up again every few seconds)
    net2 = network_mod.network_for()
    assert net2 is not None and net2.feed_id == new.pk
    assert set(net2.trips) == {"N-1"}


def test_network_from_db_matches_the_city(city: SyntheticCity) -> None:
    feed = load_city(city)
    net = network_mod.Network.from_db(feed)
    mem = city.network()
    assert set(net.trips) == set(mem.trips)
    for trip_id, trip in mem.trips.items():
        got = net.trips[trip_id]
        assert [s.stop_id for s in got.stops] == [s.stop_id for s in trip.stops]
        for a, b in zip(got.stops, trip.stops, strict=True):
            assert abs(a.dist_m - b.dist_m) < 1.0
    assert net.blocks == mem.blocks
    assert net.services_on(date(2026, 3, 2)) == {"WK"}
    assert net.routes["A"]["short_name"] == "A"


def test_queries_per_round_are_bounded(city: SyntheticCity) -> None:
    load_city(city)
    net = network_mod.network_for()
    assert net is not None
    buses = []
    for k in range(6):
        bus = new_vehicle(f"V{k}")
        d = drive(net, f"A0-{k}", vehicle=f"V{k}")
        store(bus, d.pings[:25])
        buses.append(bus)
    tracker.track_vehicles()  # warm: network and model loaded
    for k, bus in enumerate(buses):
        d = drive(net, f"A0-{k}", vehicle=f"V{k}")
        store(bus, d.pings[25:28])
    with CaptureQueriesContext(connection) as ctx:
        assert tracker.track_vehicles() == 6
    # states, positions, active feed; one guarded UPDATE per vehicle; arrivals, predictions,
    # model statistics; savepoints
    assert len(ctx.captured_queries) <= 6 + 16, [q["sql"][:80] for q in ctx.captured_queries]


def test_cli_track_once(city: SyntheticCity) -> None:
    load_city(city)
    bus = new_vehicle("V1")
    net = network_mod.network_for()
    assert net is not None
    d = drive(net, "L0-1", vehicle="V1")
    store(bus, d.pings[:20])
    out = io.StringIO()
    call_command("transit", "track", "--once", stdout=out)
    assert "Tracked 1 vehicles" in out.getvalue()
    assert VehicleState.objects.get(vehicle=bus).trip_id == "L0-1"


def test_run_loop_stops(city: SyntheticCity) -> None:
    import threading

    load_city(city)
    bus = new_vehicle("V1")
    net = network_mod.network_for()
    assert net is not None
    d = drive(net, "L0-2", vehicle="V1")
    store(bus, d.pings[:20])
    stop = threading.Event()
    calls = []
    real = tracker.track_vehicles

    def once(*args, **kwargs):
        n = real(*args, **kwargs)
        calls.append(n)
        stop.set()
        return n

    tracker_track = tracker.track_vehicles
    try:
        tracker.track_vehicles = once  # type: ignore[assignment]
        tracker.run_loop(stop, every_s=0.01)
    finally:
        tracker.track_vehicles = tracker_track  # type: ignore[assignment]
    assert calls == [1]
    assert VehicleState.objects.get(vehicle=bus).tracked_at is not None


def test_a_ghost_vehicles_old_positions_are_not_replayed(city: SyntheticCity) -> None:
    """A vehicle back after an hour: only its recent positions are read."""
    load_city(city)
    bus = new_vehicle("V1")
    net = network_mod.network_for()
    assert net is not None
    d = drive(net, "A0-5", vehicle="V1")
    store(bus, d.pings[:5])
    tracker.track_vehicles()
    shifted = [
        Ping(p.vehicle_id, p.ts + 3600, p.lat, p.lon, p.speed, p.bearing, "") for p in d.pings[5:]
    ]
    store(bus, shifted)
    tracker.track_vehicles()
    state = VehicleState.objects.get(vehicle=bus)
    assert state.tracked_at == at(shifted[-1].ts)
    assert state.recorded_at is not None
    assert state.recorded_at - timedelta(seconds=tracker.MAX_BACKLOG_S) > at(shifted[0].ts)


def test_stored_track_is_the_tracks_dict(city: SyntheticCity) -> None:
    from thudo.transit.engine.types import VehicleTrack
    from thudo.transit.tracker import _track_dict

    t = VehicleTrack(vehicle_id="V1", trip_id="A0-1", service_date=date(2026, 3, 2))
    t.extra["m_hist"] = [[1.0, 2.0, None, 0.0]]
    assert _track_dict(t) == t.to_dict()
