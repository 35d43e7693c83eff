"""`thudo transit track [--once] [--every S]`: the tracking worker. It matches the stored
positions of every vehicle to trips and stops, stores the arrivals it observes and the
predictions, and turns silent vehicles into ghosts (docs/transit-prediction.md). With
TRANSIT_TRACK_INLINE the ingest already does this per request; run workers when it is off."""

from __future__ import annotations

import threading
import time
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "track",
        help="Match vehicle positions to trips and stops and predict arrivals (a loop; "
        "--once for one round).",
    )
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.add_argument(
        "--every", type=float, default=1.0, help="seconds between rounds (default 1)"
    )
    parser.set_defaults(func=handle)


def handle(options: dict[str, Any], stdout: Any) -> int:
    from thudo.transit import tracker
    from thudo.transit.engine.network import network_for

    if network_for() is None:
        stdout.write("No active GTFS feed: vehicles are tracked as not on a trip.\n")
    if options.get("once"):
        started = time.monotonic()
        tracked = tracker.track_vehicles()
        ghosts = tracker.sweep_ghosts()
        stdout.write(
            f"Tracked {tracked} vehicles, {ghosts} turned ghost "
            f"({time.monotonic() - started:.2f} s).\n"
        )
        return 0
    every = max(0.1, float(options.get("every") or 1.0))
    stdout.write(f"Tracking every {every:g} s; Ctrl+C stops.\n")
    stop = threading.Event()
    try:
        tracker.run_loop(stop, every_s=every, stdout=stdout)
    except KeyboardInterrupt:
        stop.set()
        stdout.write("Stopped.\n")
    return 0
