"""The matcher: from a vehicle's GPS pings to its trip, its progress along the trip and the stops
it reached and left.

Per ping (`Matcher.update(track, ping)`), with the vehicle's state in its `VehicleTrack`:

1. **Sanity.** A ping not newer than the last one is ignored; one that jumps implausibly far
   from the previous ping (≥ 150 m at more than 40 m/s) is an outlier and ignored (twice at
   most in a row, so that a wrong reference cannot freeze the vehicle). After a silence of more
   than half an hour the vehicle's trip is forgotten.
2. **Which trip.** A trip id reported by the device is taken when it runs on this or the
   previous service day within three hours of now (and this vehicle did not just finish it);
   the vehicle is placed where the ping projects on it, the timetable breaking ties (loops).
   When the device switches to its next trip while the pings that showed the end of the last
   one went missing, that trip's last stop gets its arrival from the remaining distance.
   Without a trip id the trip is inferred: the shapes passing within 60 m of the ping (a grid
   index) become candidates that must stay consistent over the next pings — on the shape and
   moving forward along it (60 m along it and 30 m on the ground), or standing at the first
   stop of a trip of the vehicle's own block — and the trip on a confirmed shape is the one
   whose timetable fits best (a late bus is likelier than an early one; the vehicle's block
   — known from its previous trip, or from `vehicle_blocks` — is preferred; a trip another
   vehicle runs, or that was run to its end, or more than 40 minutes off, is never taken).
   Shapes sharing streets wait for the vehicle to part ways (at most 12 pings, then the best
   is taken and the others followed: when the vehicle leaves the chosen shape and stays on
   another, the trip is switched). The pings seen while deciding are replayed on the chosen
   trip, so its first stops are not lost. When a trip ends at its last stop, the next trip of
   its block follows, starting at its first stop; an inferred or block trip whose vehicle
   stands at its first stop twenty minutes past the departure, or leaves the route for four
   minutes, is dropped and inferred again.
3. **Where on the trip.** The ping is projected onto the trip's shape within a window: from
   40 m behind the last distance (GPS noise) to as far as the bus can have driven since,
   preferring the point nearest the expected distance, so that loops and stops served twice
   are matched on the right pass. The distance only grows. A forward jump beyond what the bus
   can plausibly have done (from the speeds it reports: a bus standing still does not jump
   150 m) is held until the next ping confirms it. More than 60 m from the shape is off the
   route: after three such pings the status is `off_route` (a detour); the first ping back on
   the shape resumes the trip, and the stops passed meanwhile are interpolated.
4. **Stops.** A vehicle still (reported speed < 1 m/s, or less than 2 m/s between pings)
   from 20 m before to 30 m past the next stop has arrived: an arrival event (departure None)
   whose time is taken back to when it got there (braking at ~1 m/s² from the last moving
   ping's speed); if it moves on before reaching the stop (a red light, a queue) and stands
   again, the arrival moves there. When it leaves (beyond 30 m past the stop, or moving 10 m
   past it) the event comes again with its departure (accelerating at ~0.8 m/s² to the speed
   of the ping that shows it gone). A stop passed between two pings — served briefly, skipped,
   several at once after missing pings — gets one event with arrival and departure from the
   two pings' positions and speeds: braking and pulling away when the time between them shows
   a stop, constant speed otherwise; after a standstill, the idle time is split between both
   ends. The last stop's event has an arrival only; it ends the trip.
5. **Status and schedule deviation.** `layover` until the vehicle leaves its trip's first
   stop, `in_service` after, `off_route` on a detour, `unassigned` without a trip.
   `deviation_s` is + late: the time now against the timetable at the vehicle's distance
   (dwelling at a stop: late only once past its scheduled departure, early only before its
   scheduled arrival; waiting at the first stop is never early).

The matcher's own state lives in `track.extra` under "m_*" keys (JSON values only), so a track
stored as JSON continues exactly. `next_seq` is the stop_sequence of the next stop the vehicle
has not left: the stop it is dwelling at, or the one ahead. Pure Python, no database: more than
10⁴ pings per second and core on the demo network. On a simulated day of the demo network (193
buses, ~10⁶ pings, 10% of devices without trip ids, GPS noise, missing pings, outliers,
detours) every true stop arrival gets an event, 1.8 s mean absolute error, 99% within 20 s.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta

from .geometry import Polyline
from .network import Network
from .types import (
    Ping,
    StopEvent,
    StopOnTrip,
    TripInfo,
    VehicleTrack,
    haversine_m,
    service_day_start,
)

ON_ROUTE_M = 60.0  # a ping this close to the shape is on the route
OUTLIER_M = 150.0  # a jump at least this long ...
OUTLIER_SPEED = 40.0  # ... at more than this speed (m/s) is an outlier
BACK_M = 40.0  # the window reaches this far behind the last distance (GPS noise)
V_MAX = 25.0  # the window reaches as far as this speed (m/s) allows since the last ping
JUMP_SLACK_M = 80.0  # a forward jump beyond slack + 1.5 × speed × time waits for confirmation
AT_IN_M = 20.0  # a still vehicle this far before a stop is at it
AT_OUT_M = 30.0  # ... and this far past it; beyond, it has left
LEAVE_M = 10.0  # a moving vehicle this far past the stop has left it
CREEP_M = 8.0  # a vehicle "at" a stop moving on this far before it had not reached it yet
STILL_REPORTED = 1.0  # m/s, a reported speed below this is standing still
STILL_DERIVED = 2.0  # m/s, between two pings
DECEL = 1.0  # m/s² braking into a stop
ACCEL = 0.8  # m/s² pulling away
CRUISE = 8.0  # m/s assumed when no speed is known
OFF_ROUTE_PINGS = 3  # pings off the shape before the status is off_route
RESET_GAP_S = 1800.0  # silence after which the trip is forgotten
REINFER_AFTER_S = 240.0  # an inferred trip off its shape this long is dropped
LAYOVER_GIVE_UP_S = 1200.0  # a trip not started this long after its departure is not run
LAMBDA = 0.01  # weight of (along - expected)² against offset² in the windowed projection
LAMBDA_WIDE = 1e-4  # ... when locating the vehicle on a whole trip
CONFIRM_PINGS = 3  # pings a candidate shape needs before its trip is chosen
CONFIRM_MOVE_M = 60.0  # ... and the distance it must have moved forward along it
MAX_COST_S = 2400.0  # a trip the timetable puts this far from the vehicle is not its trip
DECIDE_MARGIN_S = 300.0  # schedule cost margin that settles between confirmed shapes
DECIDE_MAX_PINGS = 12  # ... or the pings after which the best one is taken anyway
BUFFER_PINGS = 60  # pings kept while inferring (replayed on the chosen trip)
HIST = 4  # on-route samples kept for the kinematics


class Matcher:
    """Matches pings to trips and stops (see the module docstring). One per network; keeps
    which trip each vehicle runs (`taken`) so that two vehicles are not given the same one.

    `vehicle_blocks` (vehicle id → block id) is the operator's knowledge of which bus runs
    which block, a hint for vehicles that do not report their trip; by default the demo's
    convention (`demo_network.vehicle_code_for_block`) for the network's blocks."""

    def __init__(self, network: Network, vehicle_blocks: Mapping[str, str] | None = None) -> None:
        self.network = network
        self.vehicle_blocks = (
            dict(vehicle_blocks) if vehicle_blocks is not None else demo_vehicle_blocks(network)
        )
        # (trip_id, service date iso) -> (vehicle_id, ts of the assignment)
        self.taken: dict[tuple[str, str], tuple[str, float]] = {}
        # trips some vehicle ran to their last stop: nobody runs them again
        self.finished: dict[tuple[str, str], float] = {}
        self._day0: dict[date, float] = {}
        self._day_span: tuple[float, float, date] = (0.0, -1.0, date.min)
        self._by_shape: dict[tuple[date, int], dict[str, list[TripInfo]]] = {}

    # --- time ----------------------------------------------------------------------------

    def day0(self, d: date) -> float:
        v = self._day0.get(d)
        if v is None:
            v = self._day0[d] = service_day_start(d, self.network.tz)
        return v

    def local_date(self, ts: float) -> date:
        lo, hi, d = self._day_span
        if lo <= ts < hi:
            return d
        d = datetime.fromtimestamp(ts, self.network.tz).date()
        start = datetime.combine(d, datetime.min.time(), tzinfo=self.network.tz).timestamp()
        end = datetime.combine(
            d + timedelta(days=1), datetime.min.time(), tzinfo=self.network.tz
        ).timestamp()
        self._day_span = (start, end, d)
        return d

    # --- the entry point -----------------------------------------------------------------

    def update(self, track: VehicleTrack, ping: Ping) -> list[StopEvent]:
        """Take one ping of the track's vehicle; returns the stop events it completes."""
        if track.last_ts and ping.ts <= track.last_ts:
            return []
        ex = track.extra
        events: list[StopEvent] = []
        gap = ping.ts - track.last_ts if track.last_ts else None
        if gap is not None and gap > RESET_GAP_S:
            if track.trip_id:
                self._drop(track)
            ex.pop("m_buf", None)
            ex.pop("m_cands", None)
        if gap is not None and (track.last_lat or track.last_lon):
            jump = haversine_m(track.last_lat, track.last_lon, ping.lat, ping.lon)
            if (
                jump >= OUTLIER_M
                and jump / max(gap, 1.0) > OUTLIER_SPEED
                and ex.get("m_rej", 0) < 2
            ):
                ex["m_rej"] = ex.get("m_rej", 0) + 1
                return []
        ex["m_rej"] = 0
        if track.status == "ghost":
            track.status = "in_service" if track.trip_id else "unassigned"

        done: set[str] = set()
        reported = ping.trip_id
        if reported and reported != track.trip_id:
            found = self._reported(reported, ping.ts)
            if found is not None and f"{reported}@{found[1].isoformat()}" not in ex.get(
                "m_done", []
            ):
                at_first = None
                if track.trip_id:  # finish what the ping shows of the current trip first
                    done.add(_key(track))
                    before = track.trip_id
                    events += self._advance(track, ping)
                    if track.trip_id == before:
                        closed = self._close(track, found[0], ping)
                        if closed is not None:
                            events.append(closed)
                            at_first = closed.arrival_ts
                if track.trip_id != reported:
                    self._assign(track, found[0], found[1], "reported", ping.ts, at_first)
                    done.clear()
        while track.trip_id and _key(track) not in done and len(done) < 3:
            done.add(_key(track))
            events += self._advance(track, ping)
        if not track.trip_id:
            events += self._infer(track, ping)
        track.last_ts = ping.ts
        track.last_lat = ping.lat
        track.last_lon = ping.lon
        self._settle(track, ping.ts)
        return events

    # --- trips ---------------------------------------------------------------------------

    def _reported(self, trip_id: str, ts: float) -> tuple[TripInfo, date] | None:
        """The reported trip and its service day, when it runs about now."""
        trip = self.network.trips.get(trip_id)
        if trip is None or not trip.stops:
            return None
        today = self.local_date(ts)
        best: tuple[float, date] | None = None
        for d in (today, today - timedelta(days=1)):
            if trip.service_id not in self.network.services_on(d):
                continue
            sod = ts - self.day0(d)
            if sod < trip.start_s:
                miss = trip.start_s - sod
            elif sod > trip.end_s:
                miss = sod - trip.end_s
            else:
                miss = 0.0
            if miss <= 3 * 3600 and (best is None or miss < best[0]):
                best = (miss, d)
        return (trip, best[1]) if best is not None else None

    def _assign(
        self,
        track: VehicleTrack,
        trip: TripInfo,
        service_date: date,
        source: str,
        ts: float,
        at_first: float | None = None,
        along: float | None = None,
    ) -> None:
        """Put the vehicle on `trip`. Where on it is decided by the next ping (`m_loc`): at its
        first stop when it comes from the previous trip of its block ("first"), near `along`
        when the inference saw it there ("near"), else anywhere on the trip, preferring where
        the timetable has it now ("sched": a device reporting its trip id)."""
        self._release(track)
        ex = track.extra
        track.trip_id = trip.trip_id
        track.route_id = trip.route_id
        track.direction_id = trip.direction_id
        track.service_date = service_date
        if along is not None:
            track.dist_m = max(0.0, along)
            ex["m_loc"] = "near"
        else:
            track.dist_m = trip.stops[0].dist_m if at_first is not None else 0.0
            ex["m_loc"] = "first" if source == "block" else "sched"
        track.off_route_pings = 0
        track.next_seq = trip.stops[0].seq
        ex["m_src"] = source
        if trip.block_id:
            ex["m_block"] = trip.block_id
        ex["m_idx"] = 0
        ex["m_at"] = at_first
        ex["m_hist"] = []
        ex["m_on"] = None
        ex["m_off"] = None
        ex["m_pend"] = None
        ex.pop("m_cands", None)
        ex.pop("m_buf", None)
        ex.pop("m_alts", None)
        ex.pop("m_creep", None)
        self.taken[(trip.trip_id, service_date.isoformat())] = (track.vehicle_id, ts)

    def _release(self, track: VehicleTrack) -> None:
        if track.trip_id and track.service_date is not None:
            key = (track.trip_id, track.service_date.isoformat())
            owner = self.taken.get(key)
            if owner is not None and owner[0] == track.vehicle_id:
                del self.taken[key]

    def _drop(self, track: VehicleTrack) -> None:
        """Forget the trip (the block is kept as a hint)."""
        self._release(track)
        ex = track.extra
        track.trip_id = ""
        track.route_id = ""
        track.direction_id = None
        track.service_date = None
        track.dist_m = 0.0
        track.next_seq = None
        track.off_route_pings = 0
        track.deviation_s = 0.0
        for key in (
            "m_idx",
            "m_at",
            "m_hist",
            "m_on",
            "m_off",
            "m_pend",
            "m_src",
            "m_creep",
            "m_loc",
        ):
            ex.pop(key, None)

    def _close(self, track: VehicleTrack, nxt: TripInfo, ping: Ping) -> StopEvent | None:
        """The device reports its next trip while this one has not reached its last stop in
        our eyes (pings went missing at the terminus): when the vehicle was on its way to the
        last stop and the next trip starts there, it got there — at about the time the rest
        of the way takes. Returns that arrival (the trip is then done), else None."""
        trip = self.network.trips.get(track.trip_id)
        ex = track.extra
        hist = ex.get("m_hist") or []
        if trip is None or not hist or int(ex.get("m_idx", 0)) != len(trip.stops) - 1:
            return None
        last = trip.stops[-1]
        a = self.network.stops.get(last.stop_id)
        b = self.network.stops.get(nxt.stops[0].stop_id)
        if a is None or b is None or haversine_m(a.lat, a.lon, b.lat, b.lon) > 100.0:
            return None
        t1, a1 = float(hist[-1][0] or 0.0), float(hist[-1][1] or 0.0)
        vc = float(ex.get("m_vc") or CRUISE)
        arrived = min(ping.ts - 1.0, t1 + _travel_time(max(0.0, last.dist_m - a1), vc))
        ev = self._event(track, trip, last, max(t1, arrived), None)
        sd = track.service_date
        assert sd is not None
        self.finished[(trip.trip_id, sd.isoformat())] = ping.ts
        ex["m_done"] = [*ex.get("m_done", []), f"{trip.trip_id}@{sd.isoformat()}"][-4:]
        return ev

    def _end_trip(self, track: VehicleTrack, trip: TripInfo, arrived: float, ts: float) -> None:
        """The last stop is reached: the next trip of the block follows (waiting at its first
        stop when that is where this one ended), else the vehicle is unassigned."""
        ex = track.extra
        sd = track.service_date
        assert sd is not None
        if len(self.finished) > 50_000:
            self.finished = {k: v for k, v in self.finished.items() if ts - v < 86_400}
        self.finished[(trip.trip_id, sd.isoformat())] = ts
        done = list(ex.get("m_done", []))
        done.append(f"{trip.trip_id}@{sd.isoformat()}")
        ex["m_done"] = done[-4:]
        nxt = self.network.next_trip_in_block(trip.trip_id, sd)
        if nxt is None or not nxt.stops:
            self._drop(track)
            return
        last = self.network.stops.get(trip.stops[-1].stop_id)
        first = self.network.stops.get(nxt.stops[0].stop_id)
        near = (
            last is not None
            and first is not None
            and haversine_m(last.lat, last.lon, first.lat, first.lon) <= 100.0
        )
        self._assign(track, nxt, sd, "block", ts, at_first=arrived if near else None)

    # --- along the trip ------------------------------------------------------------------

    def _advance(self, track: VehicleTrack, ping: Ping, replaying: bool = False) -> list[StopEvent]:
        net = self.network
        trip = net.trips.get(track.trip_id)
        if trip is None or track.service_date is None:
            self._drop(track)
            return []
        pl = net.polyline(trip.shape_id)
        ex = track.extra
        stops = trip.stops
        d0 = track.dist_m
        m_on = ex.get("m_on")
        hist: list[list[float | None]] = ex.get("m_hist") or []
        px, py = pl.to_xy(ping.lat, ping.lon)
        loc = ex.get("m_loc")
        if m_on is None and loc == "first":
            # the next trip of its block: it starts at the first stop (or is on its way there)
            reach = stops[0].dist_m + AT_OUT_M + BACK_M
            along, off = _project(pl, px, py, d0 - BACK_M, reach, d0, LAMBDA)
        elif m_on is None and loc == "near":
            along, off = _project(pl, px, py, d0 - 100.0, d0 + 1500.0, d0, LAMBDA)
        elif m_on is None:
            sod = ping.ts - self.day0(track.service_date)
            expected = _sched_pos(trip, sod)
            along, off = _project(pl, px, py, d0 - BACK_M, pl.length, expected, LAMBDA_WIDE)
        else:
            dt = ping.ts - m_on
            v = _recent_speed(hist)
            along, off = _project(
                pl, px, py, d0 - BACK_M, d0 + max(200.0, V_MAX * dt), d0 + v * dt, LAMBDA
            )
        if off > ON_ROUTE_M:
            events = self._off_route(track, trip, pl, ping, px, py)
            if not replaying and "m_alts" in ex and track.trip_id == trip.trip_id:
                events += self._alternatives(track, ping, True)
            return events
        if not replaying and "m_alts" in ex:
            self._alternatives(track, ping, False)

        # on the route
        track.off_route_pings = 0
        ex["m_off"] = None
        if m_on is not None and along - d0 > _plausible_advance(hist, ping, m_on):
            pend = ex.get("m_pend")
            if pend is None or along < pend[1] - BACK_M:
                ex["m_pend"] = [ping.ts, along]
                return []
        ex["m_pend"] = None
        idx = int(ex.get("m_idx", 0))
        if m_on is None:
            # the first time on this trip's shape: stops well behind are not ours to report
            while idx < len(stops) - 1 and stops[idx].dist_m < along - AT_OUT_M:
                if ex.get("m_at") is not None:
                    break
                idx += 1
            ex["m_idx"] = idx
        still = _is_still(ping.speed, hist, ping.ts, along)
        if ping.speed is not None and ping.speed > 3.0:
            ex["m_vc"] = round(0.8 * float(ex.get("m_vc") or CRUISE) + 0.2 * ping.speed, 2)
        sample: list[float | None] = [ping.ts, along, ping.speed, 1.0 if still else 0.0]
        # (a sample whose stillness is unknown counts as moving for the kinematics)
        new_dist = max(d0, along)
        events = self._stops(track, trip, hist, sample, new_dist, still)
        if track.trip_id != trip.trip_id:  # the trip ended
            return events
        hist.append(sample)
        ex["m_hist"] = hist[-HIST:]
        ex["m_on"] = ping.ts
        track.dist_m = new_dist
        return events

    def _off_route(
        self,
        track: VehicleTrack,
        trip: TripInfo,
        pl: Polyline,
        ping: Ping,
        px: float,
        py: float,
    ) -> list[StopEvent]:
        ex = track.extra
        d0 = track.dist_m
        stops = trip.stops
        idx = int(ex.get("m_idx", 0))
        if ex.get("m_on") is not None:
            # behind the distance we hold (an earlier ping drew it too far): still on route
            _a, back_off = _project(pl, px, py, d0 - 400.0, d0, d0, 0.0)
            if back_off <= ON_ROUTE_M:
                track.off_route_pings = 0
                ex["m_off"] = None
                return []
        track.off_route_pings += 1
        if ex.get("m_off") is None:
            ex["m_off"] = ping.ts
        # left the end of the trip without stopping within the last stop's reach
        if idx == len(stops) - 1 and ex.get("m_on") is not None:
            last = stops[-1]
            hist = ex.get("m_hist") or []
            if hist and d0 >= last.dist_m - AT_IN_M - 80.0:
                t_last, a_last = float(hist[-1][0] or 0.0), float(hist[-1][1] or 0.0)
                v = _recent_speed(hist) or CRUISE
                arrived = min(ping.ts, t_last + max(0.0, last.dist_m - a_last) / max(v, 1.0))
                ev = self._event(track, trip, last, arrived, None)
                self._end_trip(track, trip, arrived, ping.ts)
                return [ev]
        source = ex.get("m_src")
        if source != "reported":
            if idx == 0 and track.off_route_pings >= OFF_ROUTE_PINGS:
                self._drop(track)  # not at its first stop, or leaving it another way
            elif ping.ts - float(ex["m_off"]) > REINFER_AFTER_S:
                self._drop(track)
        return []

    def _stops(
        self,
        track: VehicleTrack,
        trip: TripInfo,
        hist: list[list[float | None]],
        sample: list[float | None],
        new_dist: float,
        still: bool | None,
    ) -> list[StopEvent]:
        """Arrivals and departures the new sample shows."""
        ex = track.extra
        stops = trip.stops
        n = len(stops)
        idx = int(ex.get("m_idx", 0))
        at = ex.get("m_at")
        ts = float(sample[0] or 0.0)
        along = float(sample[1] or 0.0)
        events: list[StopEvent] = []
        prev = hist[-1] if hist else None
        vc = float(ex.get("m_vc") or CRUISE)
        # (time, position) the vehicle left standing still, when it did between the samples
        left: tuple[float, float] | None = None
        if prev is not None and prev[3] and at is None and along > float(prev[1] or 0.0) + 20:
            left = _left_at(prev, sample, still, vc)
        while idx < n:
            st = stops[idx]
            s = st.dist_m
            last = idx == n - 1
            if at is not None:
                if along > s + AT_OUT_M or (still is False and along > s + LEAVE_M):
                    t_still = at
                    for h in reversed(hist):
                        if h[3]:
                            t_still = max(at, float(h[0] or 0.0))
                            break
                    still_at = [t_still, s, 0.0, 1.0]
                    left = _left_at(still_at, sample, still, vc)
                    events.append(self._event(track, trip, st, at, left[0]))
                    at = None
                    ex.pop("m_creep", None)
                    idx += 1
                    continue
                if still is False and along < s - CREEP_M:
                    ex["m_creep"] = along  # it was not at the stop yet (a red light, a queue)
                elif still and ex.get("m_creep") is not None:
                    at = _arrive_time(hist, ts, along, s)  # now it is: arrived again
                    ex.pop("m_creep", None)
                break
            in_zone = s - AT_IN_M <= along <= s + AT_OUT_M
            if in_zone and still:
                if left is not None:
                    stop_at = min(max(along, s - 15.0), s + 15.0)
                    arr = min(ts, left[0] + _travel_time(max(0.0, stop_at - left[1]), vc))
                else:
                    arr = _arrive_time(hist, ts, along, s)
                events.append(self._event(track, trip, st, arr, None))
                if last:
                    ex["m_idx"], ex["m_at"] = idx, None
                    self._end_trip(track, trip, arr, ts)
                    return events
                at = arr
                break
            if (
                new_dist > s + AT_OUT_M
                or (still is False and along > s + LEAVE_M)
                or (last and along >= s - 1.0)
            ):
                if left is not None:
                    arr = min(ts, left[0] + _reach_time(max(0.0, s - left[1]), vc))
                    dep = arr
                elif prev is not None:
                    # the pair of samples around the stop; several stops at once: linear
                    p1 = prev
                    if float(p1[1] or 0.0) >= s:
                        for h in reversed(hist[:-1]):
                            if float(h[1] or 0.0) < s:
                                p1 = h
                                break
                    a1 = float(p1[1] or 0.0)
                    many = (idx + 1 < n and stops[idx + 1].dist_m < along) or (
                        idx > 0 and stops[idx - 1].dist_m > a1
                    )
                    arr, dep = _pass_times(p1, sample, s, linear=many or last)
                if left is not None or prev is not None:
                    events.append(self._event(track, trip, st, arr, None if last else dep))
                    if last:
                        ex["m_idx"], ex["m_at"] = idx, None
                        self._end_trip(track, trip, arr, ts)
                        return events
                elif last:
                    ex["m_idx"], ex["m_at"] = idx, None
                    self._end_trip(track, trip, ts, ts)
                    return events
                idx += 1
                continue
            break
        ex["m_idx"] = idx
        ex["m_at"] = at
        return events

    def _event(
        self,
        track: VehicleTrack,
        trip: TripInfo,
        st: StopOnTrip,
        arrival: float,
        departure: float | None,
    ) -> StopEvent:
        assert track.service_date is not None
        return StopEvent(
            vehicle_id=track.vehicle_id,
            trip_id=trip.trip_id,
            route_id=trip.route_id,
            direction_id=trip.direction_id,
            service_date=track.service_date,
            stop_id=st.stop_id,
            seq=st.seq,
            arrival_ts=arrival,
            departure_ts=departure,
            sched_arr_s=st.sched_arr_s,
        )

    # --- status --------------------------------------------------------------------------

    def _settle(self, track: VehicleTrack, ts: float) -> None:
        """Status, next stop and deviation from the timetable after a ping."""
        if not track.trip_id or track.service_date is None:
            track.status = "unassigned"
            track.next_seq = None
            track.deviation_s = 0.0
            return
        trip = self.network.trips[track.trip_id]
        stops = trip.stops
        ex = track.extra
        # the trip is this vehicle's as long as it reports (the inference avoids it)
        self.taken[(track.trip_id, track.service_date.isoformat())] = (track.vehicle_id, ts)
        idx = min(int(ex.get("m_idx", 0)), len(stops) - 1)
        sod = ts - self.day0(track.service_date)
        track.next_seq = stops[idx].seq
        at = ex.get("m_at")
        if (
            idx == 0
            and ex.get("m_src") != "reported"
            and sod > stops[0].sched_dep_s + LAYOVER_GIVE_UP_S
            and (at is None or ts - float(at) > LAYOVER_GIVE_UP_S)
        ):
            self._drop(track)  # long past its departure, not leaving: not running this trip
            track.status = "unassigned"
            return
        if idx == 0:
            track.status = "layover"
            track.deviation_s = float(round(max(0.0, sod - stops[0].sched_dep_s)))
            return
        if ex.get("m_at") is not None:
            st = stops[idx]
            dev = max(0.0, sod - st.sched_dep_s) + min(0.0, sod - st.sched_arr_s)
        else:
            dev = sod - self.network.sched_at(trip, track.dist_m)
        track.deviation_s = float(round(dev))
        track.status = "off_route" if track.off_route_pings >= OFF_ROUTE_PINGS else "in_service"

    # --- inference -----------------------------------------------------------------------

    def _trips_by_shape(self, day: date, sod: float) -> dict[str, list[TripInfo]]:
        key = (day, int(sod // 60))
        found = self._by_shape.get(key)
        if found is None:
            found = {}
            for trip in self.network.active_trips(day, sod, before_s=1800, after_s=2400):
                found.setdefault(trip.shape_id, []).append(trip)
            if len(self._by_shape) > 256:
                self._by_shape.clear()
            self._by_shape[key] = found
        return found

    def _best_trip(
        self, track: VehicleTrack, shape_id: str, along: float, ts: float, moving: bool = True
    ) -> tuple[TripInfo, date, float] | None:
        """The trip of this shape the vehicle most likely runs, by timetable fit. Trips that
        another vehicle runs, that were run to their end, or that the timetable puts more than
        MAX_COST_S away are not candidates; a vehicle standing at a first stop (`moving`
        False) is only given a trip of its own block when its block is known (an off-duty bus
        idling at a terminus must not take the next bus's trip)."""
        ex = track.extra
        block = ex.get("m_block") or self.vehicle_blocks.get(track.vehicle_id, "")
        done = set(ex.get("m_done", []))
        today = self.local_date(ts)
        best: tuple[TripInfo, date, float] | None = None
        for d in (today, today - timedelta(days=1)):
            sod = ts - self.day0(d)
            iso = d.isoformat()
            for trip in self._trips_by_shape(d, sod).get(shape_id, ()):
                if f"{trip.trip_id}@{iso}" in done or (trip.trip_id, iso) in self.finished:
                    continue
                first, last = trip.stops[0], trip.stops[-1]
                if along >= last.dist_m - AT_IN_M:
                    continue
                if along <= first.dist_m + AT_OUT_M and sod < first.sched_dep_s:
                    cost = 0.5 * (first.sched_dep_s - sod)
                else:
                    dev = sod - self.network.sched_at(trip, along)
                    cost = dev if dev >= 0 else -2.5 * dev
                if cost > MAX_COST_S:
                    continue
                if block and trip.block_id == block:
                    cost -= 900.0
                elif block and not moving:
                    continue
                owner = self.taken.get((trip.trip_id, iso))
                if owner is not None and owner[0] != track.vehicle_id and ts - owner[1] < 600:
                    continue
                if best is None or cost < best[2]:
                    best = (trip, d, cost)
        return best

    def _follow(self, cands: list[list[float | str]], ping: Ping) -> list[list[float | str]]:
        """Candidate passes [shape, first along, top along, last along, pings, ts, misses]
        still consistent with the ping: on their shape, not going backwards."""
        net = self.network
        kept: list[list[float | str]] = []
        for c in cands:
            shape_id, first, top, last, n, ts_c, miss = c
            try:
                pl = net.polyline(str(shape_id))
            except KeyError:
                continue
            px, py = pl.to_xy(ping.lat, ping.lon)
            dt = ping.ts - float(ts_c)
            top_f = float(top)
            a, off = _project(
                pl, px, py, top_f - BACK_M, top_f + max(200.0, V_MAX * dt), top_f, LAMBDA
            )
            if off <= ON_ROUTE_M:
                kept.append([shape_id, first, max(top_f, a), a, int(n) + 1, ping.ts, 0])
            elif int(miss) < 1:
                kept.append([shape_id, first, top, last, n, ts_c, int(miss) + 1])
        return kept

    def _buffer(self, track: VehicleTrack, ping: Ping) -> list[list[float | None]]:
        ex = track.extra
        buf: list[list[float | None]] = [
            b for b in ex.get("m_buf", []) if ping.ts - float(b[0] or 0.0) <= 900.0
        ]
        buf.append([ping.ts, ping.lat, ping.lon, ping.speed])
        buf = buf[-BUFFER_PINGS:]
        ex["m_buf"] = buf
        return buf

    def _infer(self, track: VehicleTrack, ping: Ping) -> list[StopEvent]:
        """Find the vehicle's trip from its movement (see the module docstring)."""
        ex = track.extra
        buf = self._buffer(track, ping)
        kept = self._follow(ex.get("m_cands", []), ping)
        if not kept:
            kept = [
                [p.shape_id, p.along_m, p.along_m, p.along_m, 1, ping.ts, 0]
                for p in self.network.shapes_near(ping.lat, ping.lon, ON_ROUTE_M)
            ]
        ex["m_cands"] = kept[:16]
        # decide
        ok: list[tuple[float, int, TripInfo, date, list[float | str], bool]] = []
        for c in kept:
            n = int(c[4])
            if n < CONFIRM_PINGS:
                continue
            moved = float(c[3]) - float(c[1])
            first = buf[-n] if n <= len(buf) else buf[0]
            went = haversine_m(float(first[1] or 0.0), float(first[2] or 0.0), ping.lat, ping.lon)
            moving = moved >= CONFIRM_MOVE_M and went >= CONFIRM_MOVE_M / 2
            found = self._best_trip(track, str(c[0]), float(c[2]), ping.ts, moving)
            if found is None:
                continue
            trip, d, cost = found
            sod = ping.ts - self.day0(d)
            at_start = (
                float(c[2]) <= trip.stops[0].dist_m + AT_OUT_M
                and sod < trip.stops[0].sched_dep_s + 300
            )
            if moving or at_start:
                ok.append((cost, n, trip, d, c, moving))
        if not ok:
            return []
        ok.sort(key=lambda o: o[0])
        best = ok[0]
        others = [o for o in ok[1:] if o[4][0] != best[4][0]]
        close = bool(others) and others[0][0] - best[0] < DECIDE_MARGIN_S
        if close and (not best[5] or best[1] < DECIDE_MAX_PINGS):
            return []  # wait: still at the terminus, or not long enough on the way
        _cost, n, trip, d, chosen, _moving = best
        alts = [c for c in kept if c[0] != chosen[0] and int(c[4]) >= 2]
        return self._take(track, trip, d, n, float(chosen[1]), buf, alts)

    def _take(
        self,
        track: VehicleTrack,
        trip: TripInfo,
        d: date,
        n: int,
        along: float,
        buf: list[list[float | None]],
        alts: list[list[float | str]],
    ) -> list[StopEvent]:
        """Run `trip` from the last `n` buffered pings; other shapes still possible are kept
        (with the buffer) so that the trip can be switched when they part ways."""
        ex = track.extra
        replay = buf[-n:] if n <= len(buf) else buf
        self._assign(track, trip, d, "inferred", float(replay[0][0] or 0.0), along=along)
        if alts:
            ex["m_alts"] = alts
            ex["m_buf"] = buf
        events: list[StopEvent] = []
        for b in replay:
            if not track.trip_id:
                break
            p = Ping(
                vehicle_id=track.vehicle_id,
                ts=float(b[0] or 0.0),
                lat=float(b[1] or 0.0),
                lon=float(b[2] or 0.0),
                speed=None if b[3] is None else float(b[3]),
            )
            events += self._advance(track, p, replaying=True)
            self._settle(track, p.ts)
        return events

    def _alternatives(self, track: VehicleTrack, ping: Ping, off_route: bool) -> list[StopEvent]:
        """An inferred trip whose shape shares streets with others: follow those too, and
        switch to one when the vehicle leaves the trip's shape and stays on it."""
        ex = track.extra
        buf = self._buffer(track, ping)
        alts = self._follow(ex.get("m_alts", []), ping)
        if not alts or len(buf) >= BUFFER_PINGS:
            ex.pop("m_alts", None)
            ex.pop("m_buf", None)
            return []
        ex["m_alts"] = alts
        if not off_route or track.off_route_pings < 2:
            return []
        best: tuple[float, TripInfo, date, int, float] | None = None
        for c in alts:
            if int(c[6]) or int(c[4]) < CONFIRM_PINGS:
                continue
            found = self._best_trip(track, str(c[0]), float(c[2]), ping.ts)
            if found is not None and (best is None or found[2] < best[0]):
                best = (found[2], found[0], found[1], int(c[4]), float(c[1]))
        if best is None:
            return []
        _cost, trip, d, n, along = best
        others = [c for c in alts if c[0] != trip.shape_id]
        return self._take(track, trip, d, n, along, buf, others)


def demo_vehicle_blocks(network: Network) -> dict[str, str]:
    """Vehicle code → block id under the demo's naming (one bus per block, "HN-<block>")."""
    from thudo.transit.demo_network import vehicle_code_for_block

    return {vehicle_code_for_block(b): b for b in network.blocks}


# --- geometry and kinematics -------------------------------------------------------------


def _key(track: VehicleTrack) -> str:
    sd = track.service_date.isoformat() if track.service_date else ""
    return f"{track.trip_id}@{sd}"


def _project(
    pl: Polyline, px: float, py: float, lo: float, hi: float, expected: float, lam: float
) -> tuple[float, float]:
    """(along, offset) of the point of the line between lo and hi minimising
    offset² + lam × (along − expected)²."""
    length = pl.length
    lo = 0.0 if lo < 0.0 else lo
    hi = length if hi > length else hi
    if lo > hi:
        lo = hi
    cum, xs, ys = pl.cum, pl.xs, pl.ys
    last_seg = len(cum) - 2
    i0 = bisect.bisect_right(cum, lo) - 1
    i0 = 0 if i0 < 0 else (last_seg if i0 > last_seg else i0)
    i1 = bisect.bisect_left(cum, hi)
    if i1 > last_seg + 1:
        i1 = last_seg + 1
    best_c = math.inf
    best_a = lo
    best_d2 = math.inf
    for i in range(i0, max(i0 + 1, i1)):
        ax, ay = xs[i], ys[i]
        dx, dy = xs[i + 1] - ax, ys[i + 1] - ay
        c0, c1 = cum[i], cum[i + 1]
        seg2 = dx * dx + dy * dy
        t = 0.0 if seg2 == 0.0 else ((px - ax) * dx + (py - ay) * dy) / seg2
        along = c0 + t * (c1 - c0)
        a_lo = c0 if c0 > lo else lo
        a_hi = c1 if c1 < hi else hi
        if along < a_lo:
            along = a_lo
        elif along > a_hi:
            along = a_hi
        t = (along - c0) / (c1 - c0) if c1 > c0 else 0.0
        qx = ax + t * dx - px
        qy = ay + t * dy - py
        d2 = qx * qx + qy * qy
        e = along - expected
        c = d2 + lam * e * e
        if c < best_c:
            best_c, best_a, best_d2 = c, along, d2
    return best_a, math.sqrt(best_d2)


def _plausible_advance(hist: list[list[float | None]], ping: Ping, m_on: float) -> float:
    """How far along the vehicle can have gone since its last sample: from the speeds the
    device reports (a bus standing still does not jump 150 m), else from a cruising bus."""
    dt = ping.ts - m_on
    last = hist[-1][2] if hist else None
    if ping.speed is not None and last is not None:
        v = max(float(last), ping.speed, 3.0)
        return 50.0 + 1.5 * v * dt
    return JUMP_SLACK_M + 1.5 * max(_recent_speed(hist), CRUISE) * dt


def _sched_pos(trip: TripInfo, sod: float) -> float:
    """Where the timetable has the trip's bus at `sod` seconds of its service day."""
    stops = trip.stops
    if sod <= stops[0].sched_dep_s:
        return stops[0].dist_m
    for i in range(1, len(stops)):
        b = stops[i]
        if sod <= b.sched_arr_s:
            a = stops[i - 1]
            span = b.sched_arr_s - a.sched_dep_s
            f = 1.0 if span <= 0 else min(1.0, max(0.0, (sod - a.sched_dep_s) / span))
            return a.dist_m + f * (b.dist_m - a.dist_m)
    return stops[-1].dist_m


def _recent_speed(hist: list[list[float | None]]) -> float:
    """The vehicle's speed along the trip lately (m/s; the last reported speed if any)."""
    if not hist:
        return 0.0
    last = hist[-1]
    if last[2] is not None:
        return float(last[2])
    if len(hist) >= 2:
        a, b = hist[-2], hist[-1]
        dt = float(b[0] or 0.0) - float(a[0] or 0.0)
        if dt > 0:
            return max(0.0, (float(b[1] or 0.0) - float(a[1] or 0.0)) / dt)
    return 0.0


def _is_still(
    speed: float | None, hist: list[list[float | None]], ts: float, along: float
) -> bool | None:
    """Standing still? None when it cannot be told (no speed and no recent sample)."""
    if speed is not None:
        return speed < STILL_REPORTED
    if not hist:
        return None
    prev = hist[-1]
    dt = ts - float(prev[0] or 0.0)
    if dt <= 0 or dt > 60:
        return None
    return abs(along - float(prev[1] or 0.0)) / dt < STILL_DERIVED


def _brake_time(dist: float, v: float) -> float:
    """Seconds to cover `dist` from speed `v` and stop at its end."""
    if dist <= 0:
        return 0.0
    v = max(v, 0.5)
    d_brake = v * v / (2 * DECEL)
    if dist >= d_brake:
        return (dist - d_brake) / v + v / DECEL
    return 2 * dist / v


def _accel_time(dist: float, v: float | None) -> float:
    """Seconds to cover `dist` from standing still, reaching speed `v` (unknown: cruising)."""
    if dist <= 0:
        return 0.0
    if v is None:
        d_acc = CRUISE * CRUISE / (2 * ACCEL)
        if dist < d_acc:
            return math.sqrt(2 * dist / ACCEL)
        return (dist - d_acc) / CRUISE + CRUISE / ACCEL
    v = max(v, 0.5)
    d_acc = v * v / (2 * ACCEL)
    if dist >= d_acc:
        return (dist - d_acc) / v + v / ACCEL
    return 2 * dist / v


def _arrive_time(hist: list[list[float | None]], ts: float, along: float, s: float) -> float:
    """When a vehicle found still at a stop (at `ts`) reached it."""
    moving = None
    for h in reversed(hist):
        if not h[3]:
            moving = h
            break
        if ts - float(h[0] or 0.0) > 600:
            break
    if moving is None:
        return float(hist[0][0] or ts) if hist else ts
    t1, a1 = float(moving[0] or 0.0), float(moving[1] or 0.0)
    stop_at = min(max(along, s - 15.0), s + 15.0)
    dist = max(0.0, stop_at - a1)
    v = moving[2]
    if v is None:
        i = hist.index(moving)
        v_est = None
        if i > 0:
            p0 = hist[i - 1]
            dt = t1 - float(p0[0] or 0.0)
            if dt > 0:
                v_est = (a1 - float(p0[1] or 0.0)) / dt
        if v_est is None or v_est <= 0.5:
            span = ts - t1
            v_est = min(CRUISE, 2 * dist / span) if span > 0 else CRUISE
        v = v_est
    t = t1 + _brake_time(dist, float(v))
    return min(max(t, t1), ts)


def _travel_time(dist: float, v: float) -> float:
    """Seconds from standing still to standing still `dist` metres on, cruising at `v`."""
    if dist <= 0:
        return 0.0
    v = max(v, 1.0)
    d_ramps = v * v / (2 * ACCEL) + v * v / (2 * DECEL)
    if dist >= d_ramps:
        return dist / v + v / (2 * ACCEL) + v / (2 * DECEL)
    peak = math.sqrt(2 * dist * ACCEL * DECEL / (ACCEL + DECEL))
    return peak / ACCEL + peak / DECEL


def _reach_time(dist: float, v: float) -> float:
    """Seconds from standing still to going by a point `dist` metres on, cruising at `v`."""
    if dist <= 0:
        return 0.0
    v = max(v, 1.0)
    d_acc = v * v / (2 * ACCEL)
    if dist >= d_acc:
        return dist / v + v / (2 * ACCEL)
    return math.sqrt(2 * dist / ACCEL)


def _left_at(
    p1: list[float | None], p2: list[float | None], still: bool | None, vc: float
) -> tuple[float, float]:
    """(time, position) a vehicle standing at p1 pulled away, seen at p2: accelerating up to
    p2's speed when it moves; when it stands again, the idle time is split between both ends
    (it waited at p1 and at p2 for as long as the trip between leaves)."""
    t1, a1 = float(p1[0] or 0.0), float(p1[1] or 0.0)
    t2, a2 = float(p2[0] or 0.0), float(p2[1] or 0.0)
    dist = max(0.0, a2 - a1)
    if still:
        idle = max(0.0, (t2 - t1) - _travel_time(dist, vc))
        return t1 + idle / 2, a1
    return _depart_time(t1, t2, dist, p2[2]), a1


def _depart_time(t_still: float, ts: float, dist: float, speed: float | None) -> float:
    """When a vehicle last seen still at `t_still`, `dist` past the stop at `ts`, left."""
    t = ts - _accel_time(dist, speed)
    return min(max(t, t_still), ts)


def _pass_times(
    p1: list[float | None], p2: list[float | None], s: float, linear: bool = False
) -> tuple[float, float]:
    """(arrival, departure) at a stop `s` metres along, passed between samples p1 and p2."""
    t1, a1 = float(p1[0] or 0.0), float(p1[1] or 0.0)
    t2, a2 = float(p2[0] or 0.0), float(p2[1] or 0.0)
    if t2 <= t1:
        return t2, t2
    if a2 <= a1:
        t = (t1 + t2) / 2
        return t, t
    frac = min(1.0, max(0.0, (s - a1) / (a2 - a1)))
    t_lin = t1 + frac * (t2 - t1)
    v1, v2 = p1[2], p2[2]
    if linear or v1 is None or v2 is None:
        return t_lin, t_lin
    t_arr = t1 + _brake_time(max(0.0, s - a1), float(v1))
    t_dep = t2 - _accel_time(max(0.0, a2 - s), float(v2))
    if t_dep - t_arr >= 2.0:
        return max(t1, t_arr), min(t2, t_dep)
    return t_lin, t_lin


__all__ = ["OFF_ROUTE_PINGS", "ON_ROUTE_M", "Matcher"]
