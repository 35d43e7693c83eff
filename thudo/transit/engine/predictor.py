"""Arrival prediction: when each bus will reach (and leave) every stop still ahead on its trip.

The model starts from the timetable and learns how reality differs from it. From the matcher's
`StopEvent`s it learns, for each segment (stop i → stop i+1: the running time from leaving i to
reaching i+1) and each stop (the dwell, arrival → departure), a running mean and variance with
exponential forgetting, separately per day type (weekday, Saturday, Sunday) and half-hour band
of the service day, plus the latest observation (the "last vehicle" through it); network-wide,
how running times compare with the timetable's and the mean dwell, per band; per terminus, how
late buses leave and how long they rest. A segment's expected time is the timetable's (corrected
by the network-wide ratio), pulled towards the segment's learned mean as observations accumulate
(a shrinkage estimate: few observations move it little).

A prediction walks the trip from the vehicle's position: the rest of the current segment, then
dwell + segment after segment, each looked up in the band the bus will be in when it gets there,
and corrected by

* the last vehicle through that segment (as TheTransitClock's Kalman filter does: its deviation
  from the expected time carries over to the next bus, with a gain that fades with the time
  between the two);
* today's traffic: the deviations of the segments observed in the last minutes, per square
  kilometre of the city and over the whole network, fading with the horizon;
* optionally the bus's own pace (its running times against the expected ones; off by default:
  it did not help on the training days);
* the timetable's pull: a bus ahead of schedule waits at stops (part of its lead, as drivers
  do), and is never predicted far ahead of its timetable;
* the terminus: a bus waiting at the start of its trip leaves at the latest of now, the
  scheduled departure plus the late start learned for that terminus, and its arrival there plus
  the learned rest; a bus dwelling at a stop stays until its expected dwell is over.

The uncertainty (one standard deviation) adds the variances of the segments and dwells ahead
and a term growing with the horizon. Every constant is in `Params`; the defaults were tuned on
simulated training days only (benchmarks/bench_transit_accuracy.py, docs/transit-prediction.md).

The engine keeps one model per process; `model_store` loads it from and saves it to
`SegmentStat` (pseudo stop ids: "*" network-wide, to-stop "^" a terminus's late start, "~" its
rest). What the model keeps per vehicle between pings (its last stop event, its pace) lives in
memory and is mirrored in `VehicleTrack.extra` under "p_*" keys, so that a process that never saw
the vehicle carries on from its stored track; today's traffic is kept in memory only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from .types import (
    BAND_S,
    BANDS_PER_DAY,
    StopEvent,
    StopPrediction,
    TripInfo,
    VehicleTrack,
    day_type,
    service_day_start,
)

SegKey = tuple[str, str, int, int]  # (from_stop_id, to_stop_id or "" for a dwell, day_type, band)
Pair = tuple[str, str]

ALL = "*"  # from_stop_id of the network-wide statistics:
SEG_ALL = (ALL, ALL)  # log(running time / timetable's running time), every segment
DWELL_ALL = (ALL, "")  # dwell seconds, every stop
LATE_START = "^"  # to_stop_id of a terminus's late start (departure − scheduled departure)
REST = "~"  # ... and of its minimum rest (departure − arrival, for buses that came in late)


class _Network(Protocol):
    @property
    def trips(self) -> Mapping[str, TripInfo]: ...


@dataclass
class Params:
    """Every constant of the model (defaults tuned on training days; see the module doc)."""

    alpha: float = 0.1  # forgetting: weight of a new observation once n > 1/alpha
    alpha_all: float = 0.002  # ... in the network-wide statistics
    prior_n: float = 6.0  # the timetable counts as this many observations of a segment
    dwell_prior_s: float = 15.0  # a stop's dwell before any is observed
    dwell_prior_n: float = 3.0
    min_n: int = 2  # observations a band needs before it is used without its neighbours
    clip_sigma: float = 10.0  # observations further than this from the mean are clipped
    last_gain: float = 0.3  # weight of the last vehicle's deviation when it just passed
    last_tau_s: float = 1200.0  # ... fading with the time between the two buses
    last_max_s: float = 3600.0  # ... and ignored beyond this
    pace_beta: float = 0.05  # how fast a vehicle's pace follows its latest segments
    pace_gain: float = 0.0  # weight of the vehicle's pace on the segment it is on
    pace_tau_s: float = 3600.0  # ... fading with the horizon
    pace_max_age_s: float = 1800.0  # a pace not updated for this long is forgotten
    pace_k0_s: float = 300.0  # (counted as this many seconds of running as expected)
    cell_m: float = 1000.0  # today's traffic is followed per square of this side ...
    field_tau_s: float = 1200.0  # ... from the segments of the last ~this many seconds
    field_k0: float = 2.0  # (as many observations of "no deviation" as this)
    field_gain: float = 0.7  # weight of the square's deviation on its segments ahead
    field_h_tau_s: float = 1200.0  # ... fading with the horizon
    glob_tau_s: float = 2400.0  # and over the whole network (weather, the day itself)
    glob_k0: float = 5.0
    glob_gain: float = 0.8
    glob_h_tau_s: float = 3600.0  # (the network's deviation fades more slowly)
    hold_after_s: float = 60.0  # a bus this far ahead of its timetable at a stop waits
    hold_share: float = 0.9  # ... for this share of its lead
    hold_keep_s: float = 30.0  # ... beyond this
    hold_max_s: float = 120.0  # ... at most this long per stop
    max_early_s: float = 600.0  # never predicted further ahead of the timetable than this
    late_start_s: float = 15.0  # a terminus's late start and rest before any is observed
    rest_s: float = 120.0
    terminus_prior_n: float = 3.0
    sched_cv: float = 0.3  # relative deviation of a segment known from the timetable only
    sigma0_s: float = 20.0  # uncertainty floor
    sigma_horizon: float = 0.05  # σ grows by this share of the horizon (correlated part)
    sigma_var_share: float = 0.7  # share of the segments' own variances that adds up
    min_segment_s: float = 5.0
    max_segment_s: float = 3600.0  # observations beyond these are matcher glitches
    max_dwell_s: float = 900.0


class _Stat:
    __slots__ = ("last", "last_ts", "mean", "n", "var")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.var = 0.0
        self.last: float | None = None
        self.last_ts: float | None = None


class _Plan:
    """A trip's stops as flat lists, with the keys and timetable priors of its segments."""

    __slots__ = (
        "dists",
        "dwell_pairs",
        "index",
        "run_prior",
        "sched_arr",
        "sched_dep",
        "sched_dwell",
        "seg_pairs",
        "seqs",
        "stop_ids",
        "trip",
    )

    def __init__(self, trip: TripInfo, p: Params) -> None:
        stops = trip.stops
        self.trip = trip
        self.seqs = [s.seq for s in stops]
        self.stop_ids = [s.stop_id for s in stops]
        self.dists = [s.dist_m for s in stops]
        self.sched_arr = [s.sched_arr_s for s in stops]
        self.sched_dep = [s.sched_dep_s for s in stops]
        self.index = {s.seq: i for i, s in enumerate(stops)}
        self.dwell_pairs: list[Pair] = [(s.stop_id, "") for s in stops]
        self.seg_pairs: list[Pair] = [
            (stops[i].stop_id, stops[i + 1].stop_id) for i in range(len(stops) - 1)
        ]
        self.sched_dwell = [float(s.sched_dep_s - s.sched_arr_s) for s in stops]
        self.run_prior = [
            _run_prior(
                stops[i + 1].sched_arr_s - stops[i].sched_arr_s,
                0.0 if i == 0 else max(self.sched_dwell[i], p.dwell_prior_s),
                p,
            )
            for i in range(len(stops) - 1)
        ]


def _run_prior(link_s: float, dwell_s: float, p: Params) -> float:
    """The timetable's running time of a segment: its stop-to-stop time less the dwell."""
    return max(p.min_segment_s, link_s - dwell_s, 0.4 * link_s)


def _slot(dt: int, band: int) -> int:
    return dt * BANDS_PER_DAY + band


def _band(seconds_of_day: float) -> int:
    b = int(seconds_of_day // BAND_S)
    return 0 if b < 0 else (BANDS_PER_DAY - 1 if b >= BANDS_PER_DAY else b)


class TravelModel:
    """Segment running times and dwells learned from stop events; arrival predictions."""

    def __init__(self, params: Params | None = None) -> None:
        self.params = params or Params()
        self._stats: dict[Pair, dict[int, _Stat]] = {}
        self._last: dict[Pair, tuple[float, float]] = {}  # pair -> (ts, log deviation)
        self._prev: dict[str, StopEvent] = {}  # vehicle -> its latest stop event
        self._first: dict[str, tuple[str, int]] = {}  # vehicle -> (trip, seq of 1st event)
        # vehicle -> [fading sum of its running times, ... of the expected ones, ts]
        self._pace: dict[str, list[float]] = {}
        # today's traffic: per square of the city and over the network, [weight, weighted
        # log deviation, ts] with the weights fading as time passes
        self._field: dict[tuple[int, int], list[float]] = {}
        self._glob: list[float] = [0.0, 0.0, 0.0]
        self._cell_of: dict[str, tuple[int, int]] = {}
        self._geo_of: Any = None
        self._plans: dict[str, _Plan] = {}
        self._days: dict[date, tuple[float, int]] = {}
        self.dirty: set[SegKey] = set()

    def _day(self, d: date) -> tuple[float, int]:
        found = self._days.get(d)
        if found is None:
            found = self._days[d] = (service_day_start(d), day_type(d))
        return found

    # --- learning -----------------------------------------------------------------------

    def observe(self, ev: StopEvent, track: VehicleTrack | None = None) -> None:
        """Learn from one stop event. The matcher reports an arrival (departure_ts None while
        the bus is at the stop) and the same stop again once it left; consecutive events of a
        vehicle's trip make a segment. With `track`, the previous event is also read from and
        kept in its `extra` (for processes that share the vehicles)."""
        vid = ev.vehicle_id
        prev = self._prev.get(vid)
        first = self._first.get(vid)
        if track is not None:
            if prev is None:
                prev = _event_from_extra(track.extra.get("p_prev"), vid)
            if first is None:
                stored = track.extra.get("p_first")
                if isinstance(stored, list) and len(stored) == 2:
                    first = (str(stored[0]), int(stored[1]))
        new_trip = (
            prev is None or prev.trip_id != ev.trip_id or prev.service_date != ev.service_date
        )
        if prev is not None and not new_trip and ev.seq < prev.seq:
            return  # an event out of order: nothing to learn
        self._prev[vid] = ev
        if track is not None:
            track.extra["p_prev"] = _event_to_extra(ev)
        if prev is None or new_trip:
            # the first event seen on this trip: nothing to pair it with, but when it is the
            # trip's first stop its departure tells how buses leave that terminus
            self._first[vid] = (ev.trip_id, ev.seq)
            if track is not None:
                track.extra["p_first"] = [ev.trip_id, ev.seq]
            if ev.departure_ts is not None:
                self._learn_start(ev)
            return
        at_first = first == (ev.trip_id, prev.seq)
        day0, dt = self._day(ev.service_date)
        p = self.params
        if prev.seq == ev.seq:  # the same stop again, now with its departure
            if ev.departure_ts is not None and prev.departure_ts is None:
                if at_first:
                    self._learn_start(ev)
                else:
                    self._learn_dwell(ev, day0, dt)
            return
        if prev.departure_ts is not None:
            left: float | None = prev.departure_ts
        else:  # passed without a departure: left when it arrived (unknown at a terminus)
            left = None if at_first else prev.arrival_ts
        if left is not None and 0 < ev.arrival_ts - left <= p.max_segment_s:
            seconds = ev.arrival_ts - left
            pair = (prev.stop_id, ev.stop_id)
            band = _band(left - day0)
            prior = _run_prior(
                ev.sched_arr_s - prev.sched_arr_s, 0.0 if at_first else p.dwell_prior_s, p
            )
            slot = _slot(dt, band)
            expected = self._blend(pair, slot, prior * self._prior_scale(slot), p.prior_n)[0]
            self._add(pair, dt, band, seconds, ev.arrival_ts, expected)
            r_all = math.log(max(seconds, 1.0) / prior)
            self._add(SEG_ALL, dt, band, r_all, ev.arrival_ts, alpha=p.alpha_all)
            r = max(-1.0, min(1.0, math.log(max(seconds, 1.0) / expected)))
            cell = self._cell_of.get(prev.stop_id)
            local = 0.0
            if cell is not None:
                acc = self._field.get(cell)
                if acc is None:
                    acc = self._field[cell] = [0.0, 0.0, left]
                local = _level(acc, left, p.field_tau_s, p.field_k0)
                _accumulate(acc, r, left, p.field_tau_s)
            _accumulate(self._glob, r, left, p.glob_tau_s)
            self._update_pace(vid, seconds, expected * math.exp(local), left)
        if ev.departure_ts is not None:
            self._learn_dwell(ev, day0, dt)

    def _learn_dwell(self, ev: StopEvent, day0: float, dt: int) -> None:
        assert ev.departure_ts is not None
        dwell = ev.departure_ts - ev.arrival_ts
        if 0 <= dwell <= self.params.max_dwell_s:
            band = _band(ev.arrival_ts - day0)
            self._add((ev.stop_id, ""), dt, band, dwell, ev.departure_ts)
            self._add(DWELL_ALL, dt, band, dwell, ev.departure_ts, alpha=self.params.alpha_all)

    def _learn_start(self, ev: StopEvent) -> None:
        """How buses leave this trip's first stop: how late against the timetable when they
        were waiting for it, how long they rest when they came in late."""
        assert ev.departure_ts is not None
        p = self.params
        day0, dt = self._day(ev.service_date)
        sched = day0 + ev.sched_arr_s
        band = _band(sched - day0)
        if ev.arrival_ts + p.rest_s <= sched:
            late = ev.departure_ts - sched
            if -300 <= late <= 900:
                self._add((ev.stop_id, LATE_START), dt, band, late, ev.departure_ts)
        elif ev.arrival_ts >= sched:
            rest = ev.departure_ts - ev.arrival_ts
            if 0 <= rest <= 1800:
                self._add((ev.stop_id, REST), dt, band, rest, ev.departure_ts)

    def _update_pace(self, vehicle_id: str, seconds: float, expected: float, ts: float) -> None:
        """The vehicle's pace: its running times against those expected (the square's traffic
        included), summed with fading weights: a ratio over its last ~1/pace_beta segments."""
        p = self.params
        acc = self._pace.get(vehicle_id)
        if acc is None or ts - acc[2] > p.pace_max_age_s:
            acc = self._pace[vehicle_id] = [0.0, 0.0, ts]
        k = 1.0 - p.pace_beta
        acc[0] = k * acc[0] + min(seconds, 3.0 * expected)
        acc[1] = k * acc[1] + expected
        acc[2] = ts

    def _add(
        self,
        pair: Pair,
        dt: int,
        band: int,
        x: float,
        ts: float,
        expected: float | None = None,
        alpha: float | None = None,
    ) -> None:
        p = self.params
        by_slot = self._stats.get(pair)
        if by_slot is None:
            by_slot = self._stats[pair] = {}
        slot = _slot(dt, band)
        st = by_slot.get(slot)
        if st is None:
            st = by_slot[slot] = _Stat()
        if st.n >= 4 and st.var > 0:
            sd = math.sqrt(st.var)
            x = min(max(x, st.mean - p.clip_sigma * sd), st.mean + p.clip_sigma * sd)
        if expected is not None and expected > 0:
            self._last[pair] = (ts, math.log(max(x, 1.0) / expected))
        st.n += 1
        a = max(1.0 / st.n, p.alpha if alpha is None else alpha)
        d = x - st.mean
        st.mean += a * d
        st.var = (1.0 - a) * (st.var + a * d * d)
        st.last, st.last_ts = x, ts
        self.dirty.add((pair[0], pair[1], dt, band))

    def _stat(self, pair: Pair, slot: int) -> _Stat | None:
        """The band's statistic, else the nearest band of the same day type with enough data,
        else the same band of another day type."""
        by_slot = self._stats.get(pair)
        if not by_slot:
            return None
        min_n = self.params.min_n
        st = by_slot.get(slot)
        if st is not None and st.n >= min_n:
            return st
        base = slot - slot % BANDS_PER_DAY
        for delta in (1, -1, 2, -2):
            o = by_slot.get(slot + delta)
            if o is not None and o.n >= min_n and base <= slot + delta < base + BANDS_PER_DAY:
                return o
        if st is not None:
            return st
        band = slot % BANDS_PER_DAY
        for dt in range(3):
            o = by_slot.get(_slot(dt, band))
            if o is not None:
                return o
        return None

    def _prior_scale(self, slot: int) -> float:
        """How the network's running times compare with the timetable's in this band."""
        st = self._stat(SEG_ALL, slot)
        return math.exp(st.mean) if st is not None and st.n >= 5 else 1.0

    def _dwell_prior(self, slot: int) -> float:
        """A stop's dwell before any is observed: the network's mean in this band."""
        st = self._stat(DWELL_ALL, slot)
        return st.mean if st is not None and st.n >= 5 else self.params.dwell_prior_s

    def _blend(self, pair: Pair, slot: int, prior: float, prior_n: float) -> tuple[float, float]:
        """(expected seconds, variance): the learned mean shrunk towards the prior."""
        st = self._stat(pair, slot)
        cv = self.params.sched_cv
        if st is None:
            return prior, (cv * prior) ** 2
        n = min(float(st.n), 1.0 / self.params.alpha)
        w = n / (n + prior_n)
        return w * st.mean + (1.0 - w) * prior, w * st.var + (1.0 - w) * (cv * prior) ** 2

    # --- predicting ----------------------------------------------------------------------

    def _plan(self, trip: TripInfo) -> _Plan:
        plan = self._plans.get(trip.trip_id)
        if plan is None or plan.trip is not trip:
            plan = self._plans[trip.trip_id] = _Plan(trip, self.params)
        return plan

    def predict(self, network: _Network, track: VehicleTrack, now: float) -> list[StopPrediction]:
        """Arrival and departure at every stop still ahead on the track's trip (none when the
        vehicle is not in service or waiting at its trip's start): never before `now`,
        arrivals increasing, departure ≥ arrival, uncertainty one standard deviation (s)."""
        if track.status not in ("in_service", "layover") or not track.trip_id:
            return []
        trip = network.trips.get(track.trip_id)
        if trip is None or not trip.stops or track.service_date is None:
            return []
        if track.next_seq is None:
            return []
        if self._geo_of is not network:
            self._locate_stops(network)
        plan = self._plan(trip)
        idx = plan.index.get(track.next_seq)
        if idx is None:
            return []
        p = self.params
        day0, dt = self._day(track.service_date)
        vid = track.vehicle_id
        last_ev = self._prev.get(vid)
        if last_ev is None:
            last_ev = _event_from_extra(track.extra.get("p_prev"), vid)
        else:
            track.extra["p_prev"] = _event_to_extra(last_ev)
        acc = self._pace.get(vid)
        if acc is None:
            stored = track.extra.get("p_pace")
            if isinstance(stored, list) and len(stored) == 3:
                acc = self._pace[vid] = [float(x) for x in stored]
        else:
            track.extra["p_pace"] = [round(acc[0], 2), round(acc[1], 2), acc[2]]
        pace = 0.0
        if acc is not None and now - acc[2] <= p.pace_max_age_s and acc[1] > 0:
            # shrunk towards 1 while the sums are short
            a, e = acc[0], acc[1]
            k0 = p.pace_k0_s
            pace = p.pace_gain * math.log((a + k0) / (e + k0))
        glob = _level(self._glob, now, p.glob_tau_s, p.glob_k0)
        ctx = _Now(now, pace, glob)
        on_trip = (
            last_ev is not None
            and last_ev.trip_id == track.trip_id
            and last_ev.service_date == track.service_date
        )
        n_stops = len(plan.seqs)
        out: list[StopPrediction] = []
        share = p.sigma_var_share
        var_acc = 0.0
        if idx == 0:
            # waiting at (or coming to) the first stop
            came = None
            if last_ev is not None and now - last_ev.arrival_ts < 7200:
                came = last_ev.arrival_ts
            dep = self._first_departure(plan, dt, day0, now, came)
            out.append(
                StopPrediction(
                    plan.seqs[0], plan.stop_ids[0], now, dep, p.sigma0_s, plan.sched_arr[0]
                )
            )
            if n_stops < 2:
                return out
            run, v = self._segment(plan, 0, dt, dep, day0, ctx)
            t = dep + run
            var_acc += v * share
            start = 1
        elif (
            on_trip
            and last_ev is not None
            and last_ev.departure_ts is None
            and (plan.index.get(last_ev.seq) == idx)
        ):
            # dwelling at the next stop
            dw, v_dw = self._dwell(plan, idx, dt, last_ev.arrival_ts, day0)
            dep = max(now, last_ev.arrival_ts + dw)
            if idx < n_stops - 1:
                dep = self._hold(plan, idx, day0, dep)
                out.append(
                    StopPrediction(
                        plan.seqs[idx],
                        plan.stop_ids[idx],
                        now,
                        dep,
                        p.sigma0_s,
                        plan.sched_arr[idx],
                    )
                )
            else:
                return []
            var_acc += v_dw * share
            run, v = self._segment(plan, idx, dt, dep, day0, ctx)
            t = dep + run
            var_acc += v * share
            start = idx + 1
        else:
            # between stop idx-1 and stop idx: the rest of that segment
            d0, d1 = plan.dists[idx - 1], plan.dists[idx]
            span = d1 - d0
            frac = 1.0 if span <= 0 else min(1.0, max(0.0, (d1 - track.dist_m) / span))
            run, v = self._segment(plan, idx - 1, dt, now, day0, ctx)
            t = now + frac * run
            var_acc += v * frac * frac * share
            start = idx

        sigma0_2 = p.sigma0_s * p.sigma0_s
        sh = p.sigma_horizon
        max_early = p.max_early_s
        last_i = n_stops - 1
        for j in range(start, n_stops):
            floor = day0 + plan.sched_arr[j] - max_early
            if t < floor:
                t = floor
            h = t - now
            sigma = math.sqrt(sigma0_2 + var_acc + (sh * h) ** 2)
            if j < last_i:
                dw, v_dw = self._dwell(plan, j, dt, t, day0)
                dep = self._hold(plan, j, day0, t + dw)
                var_acc += v_dw * share
            else:
                dep = t
            out.append(
                StopPrediction(plan.seqs[j], plan.stop_ids[j], t, dep, sigma, plan.sched_arr[j])
            )
            if j < last_i:
                run, v = self._segment(plan, j, dt, dep, day0, ctx)
                t = dep + run
                var_acc += v * share
        return out

    def _hold(self, plan: _Plan, j: int, day0: float, dep: float) -> float:
        """A bus ahead of its timetable waits at the stop for part of its lead."""
        p = self.params
        early = day0 + plan.sched_dep[j] - dep
        if early > p.hold_after_s:
            dep += p.hold_share * min(early - p.hold_keep_s, p.hold_max_s)
        return dep

    def _first_departure(
        self, plan: _Plan, dt: int, day0: float, now: float, came: float | None
    ) -> float:
        p = self.params
        sched = day0 + plan.sched_dep[0]
        slot = _slot(dt, _band(plan.sched_dep[0]))
        stop_id = plan.stop_ids[0]
        late = self._blend((stop_id, LATE_START), slot, p.late_start_s, p.terminus_prior_n)[0]
        dep = max(now, sched + late)
        if came is not None:
            rest = self._blend((stop_id, REST), slot, p.rest_s, p.terminus_prior_n)[0]
            dep = max(dep, came + rest)
        return dep

    def _dwell(self, plan: _Plan, i: int, dt: int, at: float, day0: float) -> tuple[float, float]:
        slot = _slot(dt, _band(at - day0))
        prior = max(plan.sched_dwell[i], self._dwell_prior(slot))
        return self._blend(plan.dwell_pairs[i], slot, prior, self.params.dwell_prior_n)

    def _segment(
        self, plan: _Plan, i: int, dt: int, at: float, day0: float, ctx: _Now
    ) -> tuple[float, float]:
        """Expected running time of segment i → i+1 entered at `at`, and its variance."""
        p = self.params
        pair = plan.seg_pairs[i]
        slot = _slot(dt, _band(at - day0))
        scale = ctx.scales.get(slot)
        if scale is None:
            scale = ctx.scales[slot] = self._prior_scale(slot)
        base, var = self._blend(pair, slot, plan.run_prior[i] * scale, p.prior_n)
        h = at - ctx.now
        adj = 0.0
        last = self._last.get(pair)
        if last is not None:
            gap = at - last[0]
            if -p.last_max_s < gap < p.last_max_s:
                adj += p.last_gain * math.exp(-abs(gap) / p.last_tau_s) * last[1]
        if ctx.pace:
            adj += ctx.pace * math.exp(-h / p.pace_tau_s)
        glob = ctx.glob
        if glob:
            adj += p.glob_gain * glob * math.exp(-h / p.glob_h_tau_s)
        cell = self._cell_of.get(pair[0])
        if cell is not None:
            local = ctx.cells.get(cell)
            if local is None:
                acc = self._field.get(cell)
                local = 0.0 if acc is None else _level(acc, ctx.now, p.field_tau_s, p.field_k0)
                ctx.cells[cell] = local
            if local:
                adj += p.field_gain * (local - glob) * math.exp(-h / p.field_h_tau_s)
        if adj:
            base *= math.exp(adj)
        return base, var

    def _locate_stops(self, network: Any) -> None:
        """The square of the city each stop is in (today's traffic is followed per square)."""
        stops = getattr(network, "stops", None) or {}
        size = self.params.cell_m
        ky = 111_195.0  # metres per degree of latitude
        kx = ky * 0.9336  # ... of longitude at 21° N
        self._cell_of = {
            sid: (math.floor(s.lon * kx / size), math.floor(s.lat * ky / size))
            for sid, s in stops.items()
        }
        self._geo_of = network

    # --- storage -------------------------------------------------------------------------

    def to_rows(self, keys: Iterable[SegKey] | None = None) -> list[dict[str, Any]]:
        """SegmentStat field values for `keys` (every statistic by default)."""
        if keys is None:
            keys = [
                (pair[0], pair[1], slot // BANDS_PER_DAY, slot % BANDS_PER_DAY)
                for pair, by_slot in self._stats.items()
                for slot in by_slot
            ]
        rows = []
        for from_id, to_id, dt, band in keys:
            st = self._stats.get((from_id, to_id), {}).get(_slot(dt, band))
            if st is None:
                continue
            rows.append(
                {
                    "from_stop_id": from_id,
                    "to_stop_id": to_id,
                    "day_type": dt,
                    "band": band,
                    "n": st.n,
                    "mean_s": st.mean,
                    "var_s": st.var,
                    "last_s": st.last,
                    "last_at": (
                        None if st.last_ts is None else datetime.fromtimestamp(st.last_ts, tz=UTC)
                    ),
                }
            )
        return rows

    def load_rows(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Take statistics from SegmentStat rows (dicts of its fields), replacing those with
        the same key; what the model knows about vehicles is kept. Returns the rows read."""
        count = 0
        for row in rows:
            pair = (str(row["from_stop_id"]), str(row["to_stop_id"] or ""))
            st = _Stat()
            st.n = int(row["n"])
            st.mean = float(row["mean_s"])
            st.var = float(row["var_s"])
            st.last = None if row.get("last_s") is None else float(row["last_s"])
            last_at = row.get("last_at")
            if isinstance(last_at, datetime):
                st.last_ts = last_at.timestamp()
            elif last_at is not None:
                st.last_ts = float(last_at)
            self._stats.setdefault(pair, {})[_slot(int(row["day_type"]), int(row["band"]))] = st
            if st.last is not None and st.last_ts is not None and st.mean > 0 and pair[1]:
                known = self._last.get(pair)
                if known is None or known[0] < st.last_ts:
                    self._last[pair] = (st.last_ts, math.log(max(st.last, 1.0) / st.mean))
            count += 1
        return count

    def __len__(self) -> int:
        return sum(len(by_slot) for by_slot in self._stats.values())

    def forget_vehicles(self) -> None:
        """Drop what is kept per vehicle and about today's traffic (between simulated
        days)."""
        self._prev.clear()
        self._first.clear()
        self._pace.clear()
        self._field.clear()
        self._glob = [0.0, 0.0, 0.0]


class _Now:
    """What one prediction computes once: its time, the vehicle's pace, the network's level
    and the squares' levels met so far."""

    __slots__ = ("cells", "glob", "now", "pace", "scales")

    def __init__(self, now: float, pace: float, glob: float) -> None:
        self.now = now
        self.pace = pace
        self.glob = glob
        self.cells: dict[tuple[int, int], float] = {}
        self.scales: dict[int, float] = {}


def _accumulate(acc: list[float], r: float, ts: float, tau: float) -> None:
    """Add one log deviation to a fading [weight, weighted sum, ts] accumulator."""
    if ts > acc[2]:
        k = math.exp((acc[2] - ts) / tau)
        acc[0] *= k
        acc[1] *= k
        acc[2] = ts
    acc[0] += 1.0
    acc[1] += r


def _level(acc: list[float], ts: float, tau: float, k0: float) -> float:
    """The accumulator's mean deviation at `ts`, shrunk towards 0 as its evidence fades."""
    w, wr = acc[0], acc[1]
    if w <= 0.0:
        return 0.0
    if ts > acc[2]:
        k = math.exp((acc[2] - ts) / tau)
        w *= k
        wr *= k
    return wr / (w + k0)


def _event_to_extra(ev: StopEvent) -> list[Any]:
    return [
        ev.trip_id,
        ev.service_date.isoformat(),
        ev.seq,
        ev.stop_id,
        ev.arrival_ts,
        ev.departure_ts,
        ev.sched_arr_s,
    ]


def _event_from_extra(value: Any, vehicle_id: str) -> StopEvent | None:
    if not isinstance(value, list) or len(value) != 7:
        return None
    try:
        trip_id, day, seq, stop_id, arr, dep, sched = value
        return StopEvent(
            vehicle_id=vehicle_id,
            trip_id=str(trip_id),
            route_id="",
            direction_id=None,
            service_date=date.fromisoformat(day),
            stop_id=str(stop_id),
            seq=int(seq),
            arrival_ts=float(arr),
            departure_ts=None if dep is None else float(dep),
            sched_arr_s=int(sched),
        )
    except (TypeError, ValueError):
        return None
