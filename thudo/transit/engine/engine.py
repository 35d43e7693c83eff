"""The tracking engine in memory: pings in, stop events and arrival predictions out.

`Engine(network, model)` keeps one `VehicleTrack` per vehicle. `process(ping)` runs the matcher
(which trip, how far along it, which stops were reached and left), lets the travel-time model
learn from each stop event, and asks it for the vehicle's predictions at the stops still ahead.
`sweep(now, ghost_after_s)` turns vehicles silent for too long into ghosts and withdraws their
predictions.

Predictions are made for a vehicle in service or waiting at the first stop of its trip; on a
detour (off route) they are made from where it left the route, as if it were still there (a
detour is a few hundred metres; riders keep an estimate instead of a blank). The accuracy
benchmark drives this class directly; `thudo.transit.tracker` wraps it with the database.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any, Protocol

from .matcher import Matcher
from .network import Network
from .types import Ping, StopEvent, StopPrediction, VehicleTrack

PREDICTING = frozenset({"in_service", "layover", "off_route"})


class TravelModelLike(Protocol):
    """What the engine needs of `engine.predictor.TravelModel`."""

    def observe(self, ev: StopEvent) -> None: ...

    def predict(self, network: Any, track: VehicleTrack, now: float) -> list[StopPrediction]: ...


class Engine:
    """Pings → stop events → model → predictions, for every vehicle (see the module
    docstring). `model` may be None (matching only)."""

    def __init__(
        self,
        network: Network,
        model: Any = None,
        *,
        vehicle_blocks: Mapping[str, str] | None = None,
    ) -> None:
        self.network = network
        self.model = model
        self.matcher = Matcher(network, vehicle_blocks)
        self.tracks: dict[str, VehicleTrack] = {}
        self.predictions: dict[str, list[StopPrediction]] = {}
        self._observe_takes_track = _accepts_track(model)

    def track_for(self, vehicle_id: str) -> VehicleTrack:
        track = self.tracks.get(vehicle_id)
        if track is None:
            track = self.tracks[vehicle_id] = VehicleTrack(vehicle_id=vehicle_id)
        return track

    def process(
        self, ping: Ping, *, predict: bool = True
    ) -> tuple[list[StopEvent], list[StopPrediction]]:
        """Take one ping: the stop events it completes and the vehicle's predictions now
        (empty when it is not on a trip; not computed when `predict` is False, e.g. for all
        but the last of a batch of pings)."""
        track = self.track_for(ping.vehicle_id)
        events = self.matcher.update(track, ping)
        model = self.model
        if model is not None:
            for ev in events:
                if self._observe_takes_track:
                    model.observe(ev, track)
                else:
                    model.observe(ev)
        if not predict:
            return events, []
        preds: list[StopPrediction] = []
        if model is not None and track.trip_id and track.status in PREDICTING:
            view = track
            if track.status == "off_route":
                view = dataclasses.replace(track, status="in_service")
            preds = model.predict(self.network, view, now=ping.ts)
        self.predictions[ping.vehicle_id] = preds
        return events, preds

    def sweep(self, now: float, ghost_after_s: float) -> list[str]:
        """Vehicles silent for more than `ghost_after_s`: status "ghost", predictions
        withdrawn. Returns the ids that turned ghost now."""
        turned = []
        for vehicle_id, track in self.tracks.items():
            if track.status != "ghost" and track.last_ts and now - track.last_ts > ghost_after_s:
                track.status = "ghost"
                self.predictions.pop(vehicle_id, None)
                turned.append(vehicle_id)
        return turned


def _accepts_track(model: Any) -> bool:
    """Whether the model's observe() takes the vehicle's track too (to keep its per-vehicle
    state in `track.extra`, shared between processes)."""
    if model is None:
        return False
    try:
        params = inspect.signature(model.observe).parameters
    except (TypeError, ValueError):
        return False
    return len(params) >= 2 or any(
        p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params.values()
    )
