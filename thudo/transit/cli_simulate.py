"""`thudo transit simulate`: run the bus simulator (thudo/transit/simulator.py) on the active
feed.

Without --live it replays a period of a service day as fast as it can (for benchmarks and
scoring), writes the true arrivals (--truth) and the pings (--positions, JSON lines in the
device record format) when asked, and with --over still publishes every ping (timestamps as
simulated: the server drops those older than TRANSIT_MAX_AGE_S). With --live it publishes in
real time, mapping now onto the service day, until interrupted.

    thudo transit simulate --date 2025-03-12 --from 06:00 --to 10:00 --truth truth.csv
    thudo transit simulate --live --over http --url http://127.0.0.1:8000
    thudo transit simulate --live --over mqtt            # TRANSIT_MQTT_URL
    thudo transit simulate --live --over db --speed 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import time
from datetime import date, datetime, timedelta
from typing import Any, TextIO

from django.conf import settings
from django.utils import timezone

from .engine.types import TZ


def _hhmm(value: str) -> int:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not m or int(m.group(2)) > 59 or int(m.group(1)) > 30:
        raise argparse.ArgumentTypeError(f"{value!r}: expected HH:MM (00:00 to 30:59)")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected YYYY-MM-DD") from None


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="Simulate the buses of the active GTFS feed: replay a day fast (true arrivals, "
        "pings) or publish live over HTTP, MQTT or straight into the database.",
    )
    p.add_argument("--date", type=_day, default=None, help="service day (default: today)")
    p.add_argument("--from", dest="start", type=_hhmm, default=5 * 3600, help="HH:MM (05:00)")
    p.add_argument("--to", dest="end", type=_hhmm, default=23 * 3600, help="HH:MM (23:00)")
    p.add_argument("--over", choices=["http", "mqtt", "db", "none"], default="none")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="Thudo's base URL (HTTP)")
    p.add_argument("--mqtt-url", default="", help="broker URL (default TRANSIT_MQTT_URL)")
    p.add_argument("--live", action="store_true", help="publish in real time until interrupted")
    p.add_argument("--speed", type=float, default=1.0, help="live: simulated seconds per second")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ping-every", type=float, default=10.0, help="seconds between pings (10)")
    p.add_argument("--routes", default="", help="only these route ids, comma-separated")
    p.add_argument("--truth", default="", help="write the true arrivals to this CSV file")
    p.add_argument("--positions", default="", help="write the pings to this JSON-lines file")
    p.set_defaults(func=handle)


def handle(options: dict[str, Any], stdout: TextIO) -> int:
    from . import simulator
    from .engine.network import network_for

    network = network_for()
    if network is None:
        stdout.write("No active GTFS feed: import one (thudo transit import) or load the demo.\n")
        return 1
    routes = {r.strip() for r in (options.get("routes") or "").split(",") if r.strip()} or None
    if routes:
        unknown = sorted(routes - set(network.routes))
        if unknown:
            stdout.write(f"Unknown route ids: {', '.join(unknown)}\n")
            return 2
    over = options.get("over") or "none"
    mqtt_url = options.get("mqtt_url") or settings.TRANSIT_MQTT_URL
    if over == "mqtt" and not mqtt_url:
        stdout.write("No broker: give --mqtt-url or set TRANSIT_MQTT_URL.\n")
        return 2
    speed = float(options.get("speed") or 1.0)
    if speed <= 0:
        stdout.write("--speed must be positive.\n")
        return 2
    day = options.get("date")
    if options.get("live"):
        start_at = None
        if day is not None:
            start_at = datetime.combine(day, datetime.min.time(), TZ) + timedelta(
                seconds=options["start"]
            )
        try:
            simulator.run_live(
                network=network,
                over=over,
                url=options.get("url") or "",
                mqtt_url=mqtt_url,
                speed=speed,
                seed=options.get("seed", 1),
                stdout=stdout,
                start_at=start_at,
                ping_every_s=options.get("ping_every") or 10.0,
                routes=routes,
            )
        except KeyboardInterrupt:
            stdout.write("stopped\n")
        return 0

    day = day or timezone.localdate()
    t0 = time.perf_counter()
    sim = simulator.Simulation(
        network,
        day,
        seed=options.get("seed", 1),
        start_s=options["start"],
        end_s=options["end"],
        ping_every_s=options.get("ping_every") or 10.0,
        routes=routes,
    )
    sim.build()
    publisher = simulator.make_publisher(over, url=options.get("url") or "", mqtt_url=mqtt_url)
    count = sent = 0
    with contextlib.ExitStack() as stack:
        positions = (
            stack.enter_context(open(options["positions"], "w", encoding="utf-8"))
            if options.get("positions")
            else None
        )
        if publisher is not None:
            stack.callback(publisher.close)

        def on_ping(ping: simulator.Ping) -> None:
            nonlocal count
            count += 1
            if positions is not None:
                positions.write(json.dumps(simulator.ping_record(ping)) + "\n")

        if publisher is not None:
            sent = simulator.publish_replay(sim, publisher, on_ping=on_ping)
        else:
            for ping in sim.iter_pings():
                on_ping(ping)
    elapsed = time.perf_counter() - t0
    stdout.write(
        f"{day.isoformat()} {options['start'] // 3600:02d}:{options['start'] % 3600 // 60:02d}–"
        f"{options['end'] // 3600:02d}:{options['end'] % 3600 // 60:02d} seed {sim.seed}: "
        f"{len(sim.vehicles)} buses, {count} pings, {len(sim.truth)} true arrivals "
        f"in {elapsed:.1f} s\n"
    )
    if publisher is not None:
        stdout.write(f"sent {sent} positions over {over}\n")
    if options.get("truth"):
        n = sim.write_truth(options["truth"])
        stdout.write(f"wrote {n} true arrivals to {options['truth']}\n")
    return 0
