"""The demo's travel-time history: what the predictor would have learned from earlier days.

A fresh installation has no `SegmentStat` rows, so its first predictions lean on the timetable
alone. For the demo, `demo_load()` simulates a previous weekday and a Saturday of the active
timetable in memory (`simulator.Simulation`, no database writes while it runs), feeds the stop
arrivals and departures of every bus to a `TravelModel` as the matcher would have reported them,
and saves the statistics (`model_store.save_model`). It is idempotent: nothing happens once
SegmentStat has rows (learned or primed) or when no timetable is active. A few seconds.

The simulated buses' true stop times stand in for the matcher's events here (the same times a
perfect matcher would report): replaying a day of GPS pings through the matcher would take
minutes. The accuracy benchmark (benchmarks/bench_transit_accuracy.py) can train either way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from . import model_store
from .engine.predictor import TravelModel
from .engine.types import StopEvent, TripInfo, day_type
from .models import Feed, SegmentStat

# A day in the past of the demo: the simulator's seeds for it (a weekday, a Saturday).
SEEDS = {0: 7, 1: 8}


def _say(stdout: Any, text: str) -> None:
    if stdout is not None:
        stdout.write(text + "\n")


def events_from_truth(network: Any, truth: Iterable[Any]) -> list[StopEvent]:
    """The simulator's true arrivals (`simulator.TrueArrival`) as the matcher reports them:
    one event per stop with its arrival and departure (the trip's last stop: arrival only),
    in time order."""
    sched: dict[str, dict[int, int]] = {}
    last_seq: dict[str, int] = {}
    trips: dict[str, TripInfo] = network.trips
    events = []
    for row in truth:
        trip = trips.get(row.trip_id)
        if trip is None:
            continue
        by_seq = sched.get(trip.trip_id)
        if by_seq is None:
            by_seq = sched[trip.trip_id] = {s.seq: s.sched_arr_s for s in trip.stops}
            last_seq[trip.trip_id] = trip.stops[-1].seq
        events.append(
            StopEvent(
                vehicle_id=row.vehicle_id,
                trip_id=row.trip_id,
                route_id=trip.route_id,
                direction_id=trip.direction_id,
                service_date=row.service_date,
                stop_id=row.stop_id,
                seq=row.seq,
                arrival_ts=row.arrival_ts,
                departure_ts=None if row.seq == last_seq[trip.trip_id] else row.departure_ts,
                sched_arr_s=by_seq.get(row.seq, 0),
            )
        )
    events.sort(key=lambda e: e.arrival_ts)
    return events


def learn_day(
    model: TravelModel,
    network: Any,
    day: date,
    *,
    seed: int,
    start_s: int = 5 * 3600,
    end_s: int = 23 * 3600,
    routes: set[str] | None = None,
) -> int:
    """Simulate `day` and let the model learn from its buses' stop times; returns the number
    of events learned from."""
    from .simulator import Simulation

    sim = Simulation(network, day, seed=seed, start_s=start_s, end_s=end_s, routes=routes)
    sim.build()
    events = events_from_truth(network, sim.truth)
    for ev in events:
        model.observe(ev)
    model.forget_vehicles()
    return len(events)


def _pick_day(network: Any, kind: int, today: date) -> date | None:
    """The latest day before `today` of this day type with service in the timetable (within
    the last five weeks), else the first such day of the timetable's calendar."""
    for back in range(1, 36):
        day = today - timedelta(days=back)
        if day_type(day) == kind and network.services_on(day):
            return day
    starts = sorted(c.start for c in getattr(network, "calendars", {}).values())
    if starts:
        day = starts[0]
        for _ in range(60):
            if day_type(day) == kind and network.services_on(day):
                return day
            day += timedelta(days=1)
    return None


def demo_load(stdout: Any = None) -> None:
    started = time.monotonic()
    if SegmentStat.objects.exists():
        _say(stdout, "transit: travel-time history already there")
        return
    feed = Feed.objects.filter(status=Feed.Status.ACTIVE).first()
    if feed is None:
        _say(stdout, "transit: no active timetable, no travel-time history to prime")
        return
    from .engine.network import Network

    network = Network.from_db(feed)
    model = TravelModel()
    today = timezone.localdate()
    learned = 0
    for kind, seed in SEEDS.items():
        day = _pick_day(network, kind, today)
        if day is not None:
            learned += learn_day(model, network, day, seed=seed)
    saved = model_store.save_model(model)
    _say(
        stdout,
        f"transit: travel-time history primed from {learned} simulated stop events "
        f"({saved} statistics) in {time.monotonic() - started:.1f} s",
    )
