"""GTFS-realtime feeds (docs/transit-feeds.md): the time to build and serialise the TripUpdates
feed for 2,000 active vehicles with 25 predictions each (50,000 StopTimeUpdates), beside the
VehiclePositions and ServiceAlerts feeds, in-process (what a request pays before the network).

    .venv/bin/python benchmarks/bench_transit_feed.py [--vehicles N] [--ahead N] [--runs N]

runs against DATABASE_URL (default: a SQLite file in a temporary folder; the database must hold
no transit data); `run.py` runs it on a throwaway site per database (harness.site; on
PostgreSQL its own database, BENCH_TRANSIT_FEED_DB, default `bench_transit_feed`, created and
dropped for the run; THUDO_BENCH_QUICK=1: 200 vehicles, 5 builds). The rows are
bulk-created as the tracker leaves them: per vehicle a Vehicle, a fresh VehicleState (in
service, reported in the last 30 s) and its Prediction rows for the next stops of its trip, and
for one vehicle in ten a stop passed ahead of schedule (StopArrival); 1,000 stops, 20 alerts.
Every build uses the same "now", so each measures the same snapshot; the entity and update
counts are checked, so a build that drops rows fails the run instead of printing figures.

Figures: median and p95 over --runs builds of build + SerializeToString (and the same with the
JSON mapping, json_format.MessageToDict + json.dumps), the protobuf size, and the share of a
1 s budget per build and of the 10 s refresh period a client polls at.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402
from harness import BenchError, Options, Section, postgres_reachable, site  # noqa: E402

VEHICLES = 2000
AHEAD = 25
RUNS = 15
JSON_RUNS = 5
STOPS = 1000
BUDGET_MS = 1000.0
REFRESH_MS = 10_000.0
BENCH_DB = os.environ.get("BENCH_TRANSIT_FEED_DB", "bench_transit_feed")
QUICK = os.environ.get("THUDO_BENCH_QUICK", "") not in ("", "0")
QUICK_ARGS = ["--vehicles", "200", "--runs", "5"] if QUICK else []


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def generate(vehicles: int, ahead: int) -> Any:
    """The rows the tracker would leave for `vehicles` buses; returns the "now" they are for."""
    from datetime import timedelta

    from django.utils import timezone

    from thudo.transit.engine.types import TZ
    from thudo.transit.models import (
        Agency,
        Feed,
        Prediction,
        ServiceAlert,
        Stop,
        StopArrival,
        Vehicle,
        VehicleState,
    )

    if Vehicle.objects.exists() or Feed.objects.exists():
        raise BenchError("the database already holds transit data; use an empty one")
    rng = random.Random(8)
    now = timezone.now().replace(microsecond=0)
    today = now.astimezone(TZ).date()
    feed = Feed.objects.create(name="bench", version=1, status=Feed.Status.ACTIVE)
    Agency.objects.create(feed=feed, agency_id="TRANSERCO", name="Transerco")
    Stop.objects.bulk_create(
        Stop(
            feed=feed,
            stop_id=f"ST{i:04d}",
            name=f"Điểm dừng {i}",
            lat=20.95 + rng.random() * 0.15,
            lon=105.75 + rng.random() * 0.15,
        )
        for i in range(STOPS)
    )
    buses = Vehicle.objects.bulk_create(
        Vehicle(code=f"HN-B{i:04d}", label=f"B{i:04d}", license_plate=f"29B-{i:03d}.{i % 100:02d}")
        for i in range(vehicles)
    )
    states, predictions, arrivals = [], [], []
    for i, bus in enumerate(buses):
        trip_id = f"TRIP-{i:05d}"
        route_id = f"R{i % 60:02d}"
        next_seq = 1 + rng.randrange(10)
        states.append(
            VehicleState(
                vehicle=bus,
                recorded_at=now - timedelta(seconds=rng.uniform(0, 30)),
                tracked_at=now - timedelta(seconds=rng.uniform(0, 30)),
                lat=20.95 + rng.random() * 0.15,
                lon=105.75 + rng.random() * 0.15,
                speed=rng.uniform(0, 12),
                bearing=rng.uniform(0, 360),
                status=VehicleState.Status.IN_SERVICE,
                trip_id=trip_id,
                route_id=route_id,
                direction_id=i % 2,
                service_date=today,
                next_stop_sequence=next_seq,
                next_stop_id=f"ST{rng.randrange(STOPS):04d}",
                deviation_s=rng.randint(-120, 600),
            )
        )
        t = now.timestamp() + rng.uniform(10, 90)
        for k in range(ahead):
            arrival = t
            departure = t + rng.uniform(0, 25)
            predictions.append(
                Prediction(
                    vehicle=bus,
                    trip_id=trip_id,
                    route_id=route_id,
                    direction_id=i % 2,
                    service_date=today,
                    stop_id=f"ST{rng.randrange(STOPS):04d}",
                    stop_sequence=next_seq + k,
                    arrival=_aware(arrival),
                    departure=_aware(departure),
                    uncertainty_s=int(20 + 8 * k),
                    scheduled_arrival=_aware(arrival - 60),
                    made_at=now,
                )
            )
            t = departure + rng.uniform(40, 120)
        if i % 10 == 0 and next_seq > 1:
            arrivals.append(
                StopArrival(
                    vehicle=bus,
                    trip_id=trip_id,
                    route_id=route_id,
                    direction_id=i % 2,
                    service_date=today,
                    stop_id=f"ST{rng.randrange(STOPS):04d}",
                    stop_sequence=next_seq - 1,
                    arrived_at=now - timedelta(seconds=50),
                    departed_at=now - timedelta(seconds=35),
                    scheduled_arrival=now + timedelta(seconds=40),
                )
            )
    VehicleState.objects.bulk_create(states, batch_size=2000)
    Prediction.objects.bulk_create(predictions, batch_size=5000)
    StopArrival.objects.bulk_create(arrivals, batch_size=2000)
    for k in range(20):
        ServiceAlert.objects.create(
            header=f"Thông báo {k}",
            header_en=f"Notice {k}",
            description="Mô tả",
            cause="CONSTRUCTION",
            effect="DETOUR",
            route_ids=[f"R{k:02d}"],
            stop_ids=[f"ST{k:04d}"],
            active_from=now - timedelta(hours=1),
        )
    return now, len(arrivals)


def _aware(ts: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC)


def _timed(fn: Any, runs: int) -> tuple[dict[str, list[float]], Any]:
    """Wall and CPU milliseconds of `runs` calls (CPU: this process's, which on SQLite includes
    the database's work; it is what a shared, busy machine cannot inflate)."""
    result = fn()  # warm-up (and the result to check)
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return {"wall": wall, "cpu": cpu}, result


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from thudo.transit import feeds

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    _say(f"migrated in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    now, passed = generate(args.vehicles, args.ahead)
    figures: dict[str, Any] = {
        "database": connection.vendor,
        "vehicles": args.vehicles,
        "ahead": args.ahead,
        "runs": args.runs,
        "generate_s": time.perf_counter() - t,
    }
    _say(
        f"{args.vehicles:,} vehicles, {args.vehicles * args.ahead:,} predictions in "
        f"{figures['generate_s']:.0f} s"
    )

    def check(message: Any, entities: int, what: str) -> None:
        if len(message.entity) != entities:
            raise BenchError(f"{what}: {len(message.entity)} entities, expected {entities}")

    figures["load"] = [os.getloadavg()[0]]
    # TripUpdates: build only, build + protobuf, build + JSON
    build, message = _timed(lambda: feeds.build_trip_updates(now), args.runs)
    check(message, args.vehicles, "TripUpdates")
    updates = sum(len(e.trip_update.stop_time_update) for e in message.entity)
    if updates != args.vehicles * args.ahead + passed:
        raise BenchError(f"TripUpdates: {updates} stop time updates")
    pb, body = _timed(lambda: feeds.to_protobuf(feeds.build_trip_updates(now)), args.runs)
    js, text = _timed(
        lambda: json.dumps(feeds.to_json(feeds.build_trip_updates(now)), ensure_ascii=False),
        min(args.runs, JSON_RUNS),
    )
    figures["tu"] = {
        "build": build,
        "pb": pb,
        "json": js,
        "entities": len(message.entity),
        "updates": updates,
        "pb_bytes": len(body),
        "json_bytes": len(text.encode()),
    }
    vp, body = _timed(lambda: feeds.to_protobuf(feeds.build_vehicle_positions(now)), args.runs)
    check(feeds.build_vehicle_positions(now), args.vehicles, "VehiclePositions")
    figures["vp"] = {"pb": vp, "entities": args.vehicles, "pb_bytes": len(body)}
    sa, body = _timed(lambda: feeds.to_protobuf(feeds.build_service_alerts(now)), args.runs)
    figures["sa"] = {"pb": sa, "entities": 20, "pb_bytes": len(body)}
    figures["load"].append(os.getloadavg()[0])
    return figures


def sections(results: list[dict[str, Any]], notes: list[str]) -> list[Section]:
    section = Section(
        title="Transit — GTFS-realtime feeds built in-process (one core)",
        columns=[
            "database",
            "feed",
            "entities",
            "median ms",
            "p95 ms",
            "CPU ms",
            "KiB",
            "of 1 s",
            "of 10 s refresh",
        ],
        notes=list(notes),
    )
    for r in results:
        db = r["database"]
        tu = r["tu"]
        rows = [
            ("TripUpdates: build only", tu["build"], tu["entities"], None),
            (
                f"TripUpdates: build + protobuf ({tu['updates']:,} stop time updates)",
                tu["pb"],
                tu["entities"],
                tu["pb_bytes"],
            ),
            ("TripUpdates: build + JSON", tu["json"], tu["entities"], tu["json_bytes"]),
            (
                "VehiclePositions: build + protobuf",
                r["vp"]["pb"],
                r["vp"]["entities"],
                r["vp"]["pb_bytes"],
            ),
            (
                "ServiceAlerts: build + protobuf",
                r["sa"]["pb"],
                r["sa"]["entities"],
                r["sa"]["pb_bytes"],
            ),
        ]
        for name, samples, entities, size in rows:
            median = statistics.median(samples["wall"])
            section.rows.append(
                [
                    db,
                    name,
                    entities,
                    round(median, 1),
                    round(_p(samples["wall"], 0.95), 1),
                    round(statistics.median(samples["cpu"]), 1),
                    "" if size is None else round(size / 1024, 1),
                    f"{median / BUDGET_MS:.1%}",
                    f"{median / REFRESH_MS:.2%}",
                ]
            )
        section.notes.append(
            f"{db}: {r['vehicles']:,} vehicles × {r['ahead']} predictions generated in "
            f"{r['generate_s']:.0f} s; median of {r['runs']} builds (JSON: "
            f"{len(tu['json']['wall'])}); load average {r['load'][0]:.1f} before, "
            f"{r['load'][1]:.1f} after on {os.cpu_count()} CPUs (CPU ms: this process only"
            f"{'' if db == 'sqlite' else ', not the database server'}); "
            "goal: TripUpdates well under 1 s"
        )
    return [section]


@contextlib.contextmanager
def _site(database: str) -> Iterator[Any]:
    """harness.site, with this benchmark's own PostgreSQL database (never another's)."""
    saved = harness.POSTGRES_DB
    harness.POSTGRES_DB = BENCH_DB
    try:
        with site(database) as where:
            yield where
    finally:
        harness.POSTGRES_DB = saved


def run(options: Options) -> list[Section]:
    """run.py's entry point: a throwaway site per database, this script in it."""
    results, notes = [], []
    for database in options.databases:
        if database == "postgresql" and not postgres_reachable():
            notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
            continue
        with _site(database) as where:
            done = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--json", *QUICK_ARGS],
                cwd=ROOT,
                env=where.env,
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
        if done.returncode or not lines:
            raise BenchError(
                f"bench_transit_feed.py on {database} failed ({done.returncode}):\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            )
        results.append(json.loads(lines[-1].removeprefix("RESULT ")))
    return sections(results, notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=VEHICLES, help=f"({VEHICLES})")
    parser.add_argument("--ahead", type=int, default=AHEAD, help=f"predictions each ({AHEAD})")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"builds timed ({RUNS})")
    parser.add_argument("--json", action="store_true", help="print one RESULT line (run.py)")
    args = parser.parse_args(argv)

    cleanup = tempfile.TemporaryDirectory(prefix="thudo-bench-feed-")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{cleanup.name}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        figures = measure(args)
    except BenchError as exc:
        print(f"FAILED — {exc}", file=sys.stderr)
        return 1
    finally:
        cleanup.cleanup()
    if args.json:
        print("RESULT " + json.dumps(figures))
    else:
        for section in sections([figures], []):
            print(section.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
