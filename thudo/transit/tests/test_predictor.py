"""The travel-time model (engine/predictor.py) with synthetic stop events on a hand-built trip,
its storage in SegmentStat (model_store.py) and the demo's primed history (demo_history.py)."""

from __future__ import annotations

import io
import itertools
import time
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import pytest

from thudo.transit import model_store
from thudo.transit.engine.predictor import Params, TravelModel
from thudo.transit.engine.types import (
    StopEvent,
    StopInfo,
    StopOnTrip,
    TripInfo,
    VehicleTrack,
    service_day_start,
)
from thudo.transit.models import SegmentStat

DAY = date(2025, 3, 4)  # a Tuesday
# history alone (no pull towards the timetable), to check what is learned
LEARNED_ONLY = Params(
    prior_n=0.0,
    dwell_prior_n=0.0,
    terminus_prior_n=0.0,
    hold_share=0.0,
    glob_gain=0.0,
    field_gain=0.0,
)
DAY0 = service_day_start(DAY)
SPACING = 500.0  # metres between stops
SCHED_SEG = 90  # timetable: 90 s between stops


def make_trip(trip_id: str = "T1", n: int = 6, start_s: int = 8 * 3600) -> TripInfo:
    stops = [
        StopOnTrip(
            seq=i + 1,
            stop_id=f"S{i + 1}",
            dist_m=i * SPACING,
            sched_arr_s=start_s + i * SCHED_SEG,
            sched_dep_s=start_s + i * SCHED_SEG,
        )
        for i in range(n)
    ]
    return TripInfo(
        trip_id=trip_id,
        route_id="R1",
        service_id="WD",
        direction_id=0,
        block_id="B1",
        headsign="Bến xe Giáp Bát",
        shape_id="SH1",
        stops=stops,
    )


@dataclass
class Net:
    trips: dict[str, TripInfo] = field(default_factory=dict)
    stops: dict[str, StopInfo] = field(default_factory=dict)


def run_trip(
    model: TravelModel,
    trip: TripInfo,
    vehicle: str,
    depart_ts: float,
    seg_s: float,
    dwell_s: float = 20.0,
    upto: int | None = None,
) -> float:
    """Feed the events of one trip run with constant segment and dwell times; returns the
    time of the last departure fed."""
    t = depart_ts
    stops = trip.stops[: upto if upto is not None else len(trip.stops)]
    for i, s in enumerate(stops):
        arr = t
        dep = arr + (dwell_s if i else 0.0)
        if i == len(trip.stops) - 1:
            dep = arr
        model.observe(
            StopEvent(
                vehicle_id=vehicle,
                trip_id=trip.trip_id,
                route_id=trip.route_id,
                direction_id=trip.direction_id,
                service_date=DAY,
                stop_id=s.stop_id,
                seq=s.seq,
                arrival_ts=arr,
                departure_ts=dep,
                sched_arr_s=s.sched_arr_s,
            )
        )
        t = dep + seg_s
    return t - seg_s


def track_between(trip: TripInfo, next_index: int, frac_done: float, now: float) -> VehicleTrack:
    d0 = trip.stops[next_index - 1].dist_m
    d1 = trip.stops[next_index].dist_m
    return VehicleTrack(
        vehicle_id="V9",
        status="in_service",
        trip_id=trip.trip_id,
        route_id=trip.route_id,
        direction_id=0,
        service_date=DAY,
        dist_m=d0 + frac_done * (d1 - d0),
        last_ts=now,
        next_seq=trip.stops[next_index].seq,
    )


def check_shape(preds, now: float) -> None:
    prev_dep = now
    prev_sigma = 0.0
    for p in preds:
        assert p.arrival_ts >= now
        assert p.departure_ts >= p.arrival_ts
        assert p.arrival_ts >= prev_dep - 1e-9
        assert p.uncertainty_s >= prev_sigma - 1e-9
        prev_dep, prev_sigma = p.departure_ts, p.uncertainty_s


def test_learns_segment_and_dwell_means():
    trip = make_trip()
    model = TravelModel()
    for k in range(5):
        run_trip(model, trip, f"V{k}", DAY0 + 8 * 3600 + k * 300, seg_s=120.0, dwell_s=20.0)
    rows = {(r["from_stop_id"], r["to_stop_id"]): r for r in model.to_rows()}
    assert rows[("S1", "S2")]["mean_s"] == pytest.approx(120.0)
    assert rows[("S2", "")]["mean_s"] == pytest.approx(20.0)
    assert rows[("S2", "S3")]["day_type"] == 0
    assert rows[("S2", "S3")]["band"] == 16  # 08:00–08:30
    assert rows[("S2", "S3")]["n"] == 5
    assert rows[("S2", "S3")]["last_at"].tzinfo is not None
    # the first stop's departure is not a dwell
    assert ("S1", "") not in rows
    assert len(model.dirty) == len(model.to_rows())


def test_predicts_downstream_stops_from_history():
    trip = make_trip()
    model = TravelModel(LEARNED_ONLY)
    for k in range(6):
        run_trip(model, trip, f"V{k}", DAY0 + 8 * 3600 + k * 240, seg_s=120.0, dwell_s=20.0)
    now = DAY0 + 8 * 3600 + 3000  # well after the last vehicle: its deviation has faded
    track = track_between(trip, 2, 0.5, now)  # half way between S2 and S3
    preds = model.predict(Net({"T1": trip}), track, now)
    assert [p.stop_id for p in preds] == ["S3", "S4", "S5", "S6"]
    check_shape(preds, now)
    assert preds[0].arrival_ts - now == pytest.approx(60.0, abs=3)
    assert preds[1].arrival_ts - preds[0].arrival_ts == pytest.approx(140.0, abs=5)
    assert preds[0].departure_ts - preds[0].arrival_ts == pytest.approx(20.0, abs=1)
    assert preds[-1].departure_ts == preds[-1].arrival_ts  # the terminus: no dwell
    assert preds[-1].uncertainty_s > preds[0].uncertainty_s
    assert preds[0].sched_arr_s == trip.stops[2].sched_arr_s


def test_without_history_follows_the_timetable():
    trip = make_trip()
    model = TravelModel()
    now = DAY0 + 8 * 3600 + 100  # 10 s late
    preds = model.predict(Net({"T1": trip}), track_between(trip, 1, 0.0, now), now)
    check_shape(preds, now)
    assert preds[0].arrival_ts - now == pytest.approx(SCHED_SEG, abs=1)
    gaps = [b.arrival_ts - a.arrival_ts for a, b in itertools.pairwise(preds)]
    assert all(g == pytest.approx(SCHED_SEG, abs=1) for g in gaps)


def test_last_vehicle_pulls_the_prediction():
    trip = make_trip()
    base = TravelModel()
    for k in range(6):
        run_trip(base, trip, f"V{k}", DAY0 + 7 * 3600 + k * 200, seg_s=100.0)
    now = DAY0 + 8 * 3600 + 600
    net = Net({"T1": trip})
    calm = base.predict(net, track_between(trip, 1, 0.0, now), now)
    # a bus five minutes ahead found the road jammed: 200 s per segment
    run_trip(base, trip, "V20", now - 500, seg_s=200.0)
    jammed = base.predict(net, track_between(trip, 1, 0.0, now), now)
    assert jammed[-1].arrival_ts > calm[-1].arrival_ts + 60


def test_own_pace_carries_forward():
    trip = make_trip(n=10)
    model = TravelModel(
        Params(last_gain=0.0, glob_gain=0.0, pace_gain=1.0, hold_share=0.0, max_early_s=1e6)
    )
    for k in range(6):
        run_trip(model, trip, f"V{k}", DAY0 + 6 * 3600 + k * 300, seg_s=100.0, dwell_s=0.0)
    net = Net({"T1": trip})
    now0 = DAY0 + 7 * 3600
    fresh = model.predict(net, track_between(trip, 4, 0.0, now0), now0)
    # this bus runs slow: 150 s per segment up to S4
    last = run_trip(model, trip, "V9", now0 - 4 * 150, seg_s=150.0, dwell_s=0.0, upto=4)
    slow = model.predict(net, track_between(trip, 4, 0.0, last), last)
    fresh_span = fresh[-1].arrival_ts - now0
    slow_span = slow[-1].arrival_ts - last
    assert slow_span > fresh_span * 1.1


def test_terminus_departs_at_max_of_now_and_schedule():
    trip = make_trip()
    model = TravelModel()
    net = Net({"T1": trip})
    sched = DAY0 + trip.stops[0].sched_dep_s
    track = VehicleTrack(
        vehicle_id="V1",
        status="layover",
        trip_id="T1",
        service_date=DAY,
        dist_m=0.0,
        next_seq=1,
    )
    late_start = model.params.late_start_s  # before anything is learned
    early = model.predict(net, track, sched - 300)
    assert early[0].stop_id == "S1"
    assert early[0].arrival_ts == sched - 300
    assert early[0].departure_ts == pytest.approx(sched + late_start)
    assert early[1].arrival_ts == pytest.approx(sched + late_start + SCHED_SEG, abs=1)
    late = model.predict(net, track, sched + 200)
    assert late[0].departure_ts == pytest.approx(sched + 200)
    check_shape(late, sched + 200)


def test_holds_at_the_stop_it_is_dwelling_at():
    trip = make_trip()
    model = TravelModel(LEARNED_ONLY)
    for k in range(4):
        run_trip(model, trip, f"V{k}", DAY0 + 8 * 3600 + k * 300, seg_s=100.0, dwell_s=40.0)
    net = Net({"T1": trip})
    arrived = DAY0 + 9 * 3600
    model.observe(
        StopEvent("V9", "T1", "R1", 0, DAY, "S1", 1, arrived - 100, arrived - 100, 8 * 3600)
    )
    model.observe(StopEvent("V9", "T1", "R1", 0, DAY, "S2", 2, arrived, None, 8 * 3600 + 90))
    now = arrived + 10
    track = track_between(trip, 1, 1.0, now)  # standing at S2: the stop it has not left
    preds = model.predict(net, track, now)
    assert preds[0].stop_id == "S2"
    assert preds[0].arrival_ts == now
    assert preds[0].departure_ts == pytest.approx(arrived + 40, abs=1)
    assert preds[1].arrival_ts == pytest.approx(arrived + 40 + 100, abs=5)
    check_shape(preds, now)
    # long past its usual dwell: leaves now, never in the past
    later = model.predict(net, track, arrived + 120)
    assert later[0].departure_ts == arrived + 120
    check_shape(later, arrived + 120)


def test_not_in_service_predicts_nothing():
    trip = make_trip()
    model = TravelModel()
    net = Net({"T1": trip})
    now = DAY0 + 8 * 3600
    track = track_between(trip, 2, 0.5, now)
    for status in ("unassigned", "ghost", "off_route"):
        track.status = status
        assert model.predict(net, track, now) == []
    track.status = "in_service"
    track.trip_id = "unknown"
    assert model.predict(net, track, now) == []


def test_previous_event_survives_in_the_track():
    """A second process (a fresh model) pairs the new event with the one the track kept."""
    trip = make_trip()
    track = track_between(trip, 1, 0.0, DAY0 + 8 * 3600)
    one = TravelModel()
    one.observe(
        StopEvent("V9", "T1", "R1", 0, DAY, "S1", 1, DAY0 + 28800, DAY0 + 28800, 28800), track
    )
    one.observe(
        StopEvent("V9", "T1", "R1", 0, DAY, "S2", 2, DAY0 + 28900, DAY0 + 28910, 28890), track
    )
    two = TravelModel()
    two.observe(
        StopEvent("V9", "T1", "R1", 0, DAY, "S3", 3, DAY0 + 29030, DAY0 + 29040, 28980), track
    )
    rows = {(r["from_stop_id"], r["to_stop_id"]): r for r in two.to_rows()}
    assert rows[("S2", "S3")]["mean_s"] == pytest.approx(120.0)


def test_rows_round_trip():
    trip = make_trip()
    model = TravelModel(Params(last_gain=0.0))
    for k in range(3):
        run_trip(model, trip, f"V{k}", DAY0 + 8 * 3600 + k * 300, seg_s=110.0 + k)
    rows = model.to_rows()
    copy = TravelModel(Params(last_gain=0.0))
    assert copy.load_rows(rows) == len(rows)
    assert copy.to_rows() == rows
    now = DAY0 + 9 * 3600
    net = Net({"T1": trip})
    track = track_between(trip, 1, 0.3, now)
    assert [p.arrival_ts for p in copy.predict(net, track, now)] == pytest.approx(
        [p.arrival_ts for p in model.predict(net, track, now)]
    )


def test_outliers_are_clipped():
    trip = make_trip(n=2)
    model = TravelModel()
    for k in range(10):
        run_trip(model, trip, f"V{k}", DAY0 + 8 * 3600 + k * 60, seg_s=100.0 + (k % 3))
    run_trip(model, trip, "Vx", DAY0 + 8 * 3600 + 700, seg_s=3000.0)
    (row,) = [r for r in model.to_rows() if r["to_stop_id"] == "S2"]
    assert row["mean_s"] < 115


def test_prediction_is_fast():
    trip = make_trip(n=32)
    model = TravelModel()
    for k in range(4):
        run_trip(model, trip, f"V{k}", DAY0 + 8 * 3600 + k * 300, seg_s=100.0)
    net = Net({"T1": trip})
    now = DAY0 + 9 * 3600
    track = track_between(trip, 1, 0.5, now)
    runs = 2000
    started = time.perf_counter()
    for _ in range(runs):
        preds = model.predict(net, track, now)
    per_call_ms = (time.perf_counter() - started) / runs * 1000
    assert len(preds) == 31
    assert per_call_ms < 1.0  # ~0.1 ms on an idle core; generous for a shared machine


@pytest.mark.django_db
def test_store_saves_dirty_rows_and_loads_them():
    trip = make_trip()
    model = TravelModel()
    for k in range(3):
        run_trip(model, trip, f"V{k}", DAY0 + 8 * 3600 + k * 300, seg_s=120.0)
    count = len(model.dirty)
    assert model_store.save_model(model) == count
    assert SegmentStat.objects.count() == count
    assert not model.dirty
    assert model_store.save_model(model) == 0
    run_trip(model, trip, "V7", DAY0 + 8 * 3600 + 100, seg_s=180.0)
    changed = len(model.dirty)
    assert model_store.save_model(model) == changed
    assert SegmentStat.objects.count() == count  # updated, not duplicated
    stat = SegmentStat.objects.get(from_stop_id="S1", to_stop_id="S2", day_type=0, band=16)
    assert stat.n == 4
    assert stat.last_s == pytest.approx(180.0)
    loaded = model_store.load_model()
    assert sorted(loaded.to_rows(), key=str) == sorted(model.to_rows(), key=str)
    # refreshing a live model keeps its unsaved changes
    run_trip(model, trip, "V8", DAY0 + 8 * 3600 + 200, seg_s=60.0)
    mean_before = next(r["mean_s"] for r in model.to_rows() if r["to_stop_id"] == "S2")
    model_store.load_model(model)
    assert next(r["mean_s"] for r in model.to_rows() if r["to_stop_id"] == "S2") == mean_before
    assert model_store.clear() == count
    assert len(model_store.load_model()) == 0


def first_stop_event(vehicle: str, trip: TripInfo, arrived: float, left: float) -> StopEvent:
    s = trip.stops[0]
    return StopEvent(
        vehicle, trip.trip_id, "R1", 0, DAY, s.stop_id, s.seq, arrived, left, s.sched_arr_s
    )


def test_terminus_learns_late_start_and_rest():
    trip = make_trip()
    sched = DAY0 + trip.stops[0].sched_dep_s
    model = TravelModel(LEARNED_ONLY)
    # buses that waited for their departure leave 40 s late
    for k in range(4):
        model.observe(first_stop_event(f"W{k}", trip, sched - 600, sched + 40))
    # buses that came in late rest 150 s
    for k in range(4):
        model.observe(first_stop_event(f"L{k}", trip, sched + 300, sched + 450))
    rows = {(r["from_stop_id"], r["to_stop_id"]): r for r in model.to_rows()}
    assert rows[("S1", "^")]["mean_s"] == pytest.approx(40.0)
    assert rows[("S1", "~")]["mean_s"] == pytest.approx(150.0)
    net = Net({"T1": trip})
    track = VehicleTrack("V1", "layover", "T1", service_date=DAY, next_seq=1)
    assert model.predict(net, track, sched - 200)[0].departure_ts == pytest.approx(sched + 40)
    # a bus that has just come in (its previous trip's last stop) rests first
    other = make_trip("T0", start_s=7 * 3600)
    last = other.stops[-1]
    model.observe(StopEvent("V1", "T0", "R1", 0, DAY, last.stop_id, last.seq, sched + 60, None, 0))
    dep = model.predict(net, track, sched + 70)[0].departure_ts
    assert dep == pytest.approx(sched + 60 + 150)


def test_a_bus_ahead_of_its_timetable_waits():
    trip = make_trip(n=10)
    net = Net({"T1": trip})
    now = DAY0 + trip.stops[0].sched_dep_s
    track = track_between(trip, 1, 0.0, now)
    # history says the road is empty: 30 s per segment against 90 in the timetable
    learned = Params(prior_n=0.0, dwell_prior_n=0.0, glob_gain=0.0)
    free = TravelModel(replace(learned, hold_share=0.0, max_early_s=1e6))
    held = TravelModel(replace(learned, max_early_s=1e6))
    floored = TravelModel(replace(learned, hold_share=0.0, max_early_s=120))
    for m in (free, held, floored):
        for k in range(5):
            run_trip(m, trip, f"V{k}", now - 3600 + k * 60, seg_s=30.0, dwell_s=0.0)
    a, b, c = (m.predict(net, track, now) for m in (free, held, floored))
    assert a[-1].arrival_ts - now == pytest.approx(9 * 30, abs=5)
    assert b[-1].arrival_ts > a[-1].arrival_ts + 120  # waits at stops once well ahead
    for p in c:  # never more than 2 minutes ahead of the timetable
        assert p.arrival_ts >= DAY0 + p.sched_arr_s - 120 - 1e-6
    check_shape(b, now)
    check_shape(c, now)


# --- demo history --------------------------------------------------------------------------------

TINY = Path(__file__).parent / "data" / "gtfs_tiny"


def tiny_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for p in sorted(TINY.glob("*.txt")):
            zf.writestr(p.name, p.read_bytes())
    return out.getvalue()


@pytest.mark.django_db
def test_demo_history_primes_once():
    from thudo.transit import demo_history, gtfs

    out = io.StringIO()
    demo_history.demo_load(stdout=out)
    assert "no active timetable" in out.getvalue()
    assert not SegmentStat.objects.exists()
    gtfs.import_feed(source=tiny_zip(), name="tiny")
    demo_history.demo_load(stdout=out)
    rows = SegmentStat.objects.count()
    assert rows > 0
    assert set(SegmentStat.objects.values_list("day_type", flat=True)) <= {0, 1}
    assert SegmentStat.objects.filter(to_stop_id="").exists()  # dwells
    assert SegmentStat.objects.exclude(to_stop_id="").filter(mean_s__gt=0).exists()
    demo_history.demo_load(stdout=out)
    assert SegmentStat.objects.count() == rows
    assert "already there" in out.getvalue()


def test_events_from_truth_end_each_trip_with_an_arrival():
    from thudo.transit.demo_history import events_from_truth
    from thudo.transit.simulator import TrueArrival

    trip = make_trip(n=3)
    truth = [
        TrueArrival(
            "V1", "T1", DAY, s.seq, s.stop_id, DAY0 + s.sched_arr_s, DAY0 + s.sched_arr_s + 5
        )
        for s in reversed(trip.stops)
    ]
    events = events_from_truth(Net({"T1": trip}), truth)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].departure_ts == events[0].arrival_ts + 5
    assert events[-1].departure_ts is None
    assert events[1].sched_arr_s == trip.stops[1].sched_arr_s


def test_todays_traffic_slows_the_segments_ahead():
    """Buses on other segments of the same square running slow today: this one will too."""
    trip = make_trip(n=8)
    other = make_trip("T2", n=8)
    other = TripInfo(
        "T2",
        "R2",
        "WD",
        0,
        "B2",
        "",
        "SH2",
        [
            StopOnTrip(s.seq, "X" + s.stop_id, s.dist_m, s.sched_arr_s, s.sched_dep_s)
            for s in other.stops
        ],
    )
    stops = {
        sid: StopInfo(sid, sid, 21.02 + 0.0005 * i, 105.85)
        for i, sid in enumerate([s.stop_id for s in trip.stops] + [s.stop_id for s in other.stops])
    }
    net = Net({"T1": trip, "T2": other}, stops)
    now = DAY0 + 9 * 3600
    track = track_between(trip, 1, 0.0, now)
    quiet = TravelModel(Params(last_gain=0.0))
    busy = TravelModel(Params(last_gain=0.0))
    for m in (quiet, busy):
        for k in range(6):
            run_trip(m, trip, f"V{k}", now - 6 * 3600 + k * 600, seg_s=75.0)
            run_trip(m, other, f"W{k}", now - 6 * 3600 + k * 600, seg_s=75.0)
        m.predict(net, track, now - 1800)  # learns where the stops are
    for k in range(4):  # today, on the other route: twice as slow
        run_trip(busy, other, f"J{k}", now - 1500 + k * 120, seg_s=150.0)
    a = quiet.predict(net, track, now)
    b = busy.predict(net, track, now)
    assert b[-1].arrival_ts - now > 1.15 * (a[-1].arrival_ts - now)
    check_shape(b, now)
