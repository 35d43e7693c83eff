"""Arrival predictions against the truth: a simulated day of Hanoi buses, held out from tuning,
replayed through the tracking engine (matcher → travel-time model → predictions) at simulated
time, every prediction of a stop 0–30 minutes ahead scored against when the bus really got
there (docs/transit-prediction.md).

    .venv/bin/python benchmarks/bench_transit_accuracy.py [--from 06:00] [--to 20:00]
        [--routes 01,32] [--train-days 3] [--train-via truth|engine] [--json]

Set-up: a throwaway SQLite database (migrated for the transit app only), the demo GTFS
(`demo_network.build_demo_gtfs`) imported with `gtfs.import_feed`, the engine's `Network` read
back from it. Training: weekdays simulated with the TRAINING seeds (`simulator.Simulation`, in
memory), their stop events fed to a fresh `TravelModel` — the simulated buses' true stop times
by default (`--train-via truth`, seconds per day), or their GPS pings through the matcher
(`--train-via engine`, as the live system learns; a minute or two per day). Test: another
weekday with the HELD-OUT seed, which no tuning ever saw; every ping goes through
`engine.Engine.process` (which keeps learning, as it does live), and once a minute per bus its
predictions are scored.

Scoring, per horizon band of t = minutes from the prediction to the bus's true arrival (0–3,
3–6, 6–10, 10–15, 15–30): error = true − predicted arrival (+ the bus came later than said;
at a trip's first stop the departure is what is predicted and scored), its mean absolute value
(MAE) and mean (bias), and the share of predictions inside −60·ln(t+1.3) s < error <
60·ln(t+1.5) s (the reliable-accuracy band of Caltrans' GTFS-realtime contracts). Beside it the
same for the baseline "schedule + current delay": the scheduled time plus the vehicle's
deviation from the timetable at the moment of the prediction (never before now). Both are scored
on the same (moment, stop) pairs. Goal: ≥ 80% inside at every band and a clear margin over the
baseline (ratio of MAE model / baseline).

`run.py` runs it with the defaults: 06:00–20:00, every route, three training days.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from harness import BenchError, Options, Section  # noqa: E402

# Training: Monday 2 March 2026 onwards, one seed per day; the held-out test day is the next
# Tuesday with a seed no tuning run ever used. (The demo timetable runs 2026–2027.)
TRAIN_FIRST_DAY = date(2026, 3, 2)
TRAIN_SEEDS = (11, 12, 13, 14, 15)
TEST_DAY = date(2026, 3, 10)
TEST_SEED = 99
BANDS = ((0, 3), (3, 6), (6, 10), (10, 15), (15, 30))
SAMPLE_S = 60.0  # a bus's predictions are scored once a minute


def inside(error_s: float, t_min: float) -> bool:
    """The reliable-accuracy band: −60·ln(t+1.3) < error < 60·ln(t+1.5), t in minutes."""
    return -60.0 * math.log(t_min + 1.3) < error_s < 60.0 * math.log(t_min + 1.5)


@dataclass
class Tally:
    n: int = 0
    abs_sum: float = 0.0
    sum: float = 0.0
    inside: int = 0
    within_sigma: int = 0

    def add(self, error: float, t_min: float, sigma: float = 0.0) -> None:
        self.n += 1
        self.abs_sum += abs(error)
        self.sum += error
        self.inside += inside(error, t_min)
        self.within_sigma += abs(error) <= sigma

    def figures(self) -> dict[str, float]:
        n = max(self.n, 1)
        return {
            "mae": self.abs_sum / n,
            "bias": self.sum / n,
            "inside": self.inside / n,
            "within_sigma": self.within_sigma / n,
        }


def _hhmm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- In the benchmark process ----------------------------------------------------------------


def build_network() -> Any:
    """The demo timetable through the real import, read back as the engine's Network."""
    from django.core.management import call_command

    from thudo.transit import gtfs
    from thudo.transit.demo_network import build_demo_gtfs
    from thudo.transit.engine.network import Network

    call_command("migrate", "transit", verbosity=0)
    feed = gtfs.import_feed(source=build_demo_gtfs(), name="bench")
    return Network.from_db(feed)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from datetime import timedelta

    import django

    django.setup()

    from thudo.transit.demo_history import events_from_truth
    from thudo.transit.engine.engine import Engine
    from thudo.transit.engine.predictor import TravelModel
    from thudo.transit.engine.types import service_day_start
    from thudo.transit.simulator import Simulation

    started = time.perf_counter()
    network = build_network()
    routes = set(args.routes.split(",")) if args.routes else None
    start_s, end_s = _hhmm(args.from_), _hhmm(args.to)
    figures: dict[str, Any] = {
        "hours": f"{args.from_}–{args.to}",
        "routes": sorted(routes) if routes else "all",
        "setup_s": time.perf_counter() - started,
    }
    _say(f"network: {len(network.trips)} trips, {len(network.stops)} stops")

    # training
    model = TravelModel()
    seeds = TRAIN_SEEDS[: args.train_days]
    t0 = time.perf_counter()
    trained_events = 0
    day = TRAIN_FIRST_DAY
    train_days = []
    for seed in seeds:
        while day.weekday() >= 5 or not network.services_on(day):
            day += timedelta(days=1)
        sim = Simulation(network, day, seed=seed, start_s=start_s, end_s=end_s, routes=routes)
        if args.train_via == "truth":
            sim.build()
            for ev in events_from_truth(network, sim.truth):
                model.observe(ev)
                trained_events += 1
        else:
            engine = Engine(network, model)
            for ping in sim.iter_pings():
                events, _ = engine.process(ping, predict=False)
                trained_events += len(events)
        model.forget_vehicles()
        train_days.append(f"{day.isoformat()} (seed {seed})")
        _say(f"trained on {day} seed {seed}")
        day += timedelta(days=1)
    figures["train_days"] = train_days
    figures["train_via"] = args.train_via
    figures["train_events"] = trained_events
    figures["train_s"] = time.perf_counter() - t0
    figures["statistics"] = len(model)

    # the held-out day
    sim = Simulation(network, TEST_DAY, seed=TEST_SEED, start_s=start_s, end_s=end_s, routes=routes)
    t0 = time.perf_counter()
    sim.build()
    truth = {(r.trip_id, r.seq): r for r in sim.truth}
    engine = Engine(network, model)
    day0 = service_day_start(TEST_DAY)
    model_tally = {b: Tally() for b in BANDS}
    base_tally = {b: Tally() for b in BANDS}
    last_scored: dict[str, float] = {}
    pings = events_seen = predict_calls = predictions = scored = 0
    other_bus = far_off = 0
    predict_s = 0.0
    first_seq = {tid: t.stops[0].seq for tid, t in network.trips.items()}
    sched_dep = {(tid, t.stops[0].seq): t.stops[0].sched_dep_s for tid, t in network.trips.items()}
    for ping in sim.iter_pings():
        pings += 1
        vid = ping.vehicle_id
        due = ping.ts - last_scored.get(vid, -1e12) >= SAMPLE_S
        if not due:
            events, _ = engine.process(ping, predict=False)
            events_seen += len(events)
            continue
        a = time.perf_counter()
        events, preds = engine.process(ping, predict=True)
        predict_s += time.perf_counter() - a
        events_seen += len(events)
        if not preds:
            continue
        predict_calls += 1
        predictions += len(preds)
        last_scored[vid] = ping.ts
        track = engine.tracks[vid]
        now = ping.ts
        for p in preds:
            true = truth.get((track.trip_id, p.seq))
            if true is None:  # a stop the bus bypassed on a detour
                continue
            first = p.seq == first_seq.get(track.trip_id)
            actual = true.departure_ts if first else true.arrival_ts
            t_min = (actual - now) / 60.0
            if t_min >= 30.0:
                if p.arrival_ts - now > 2400:
                    break
                continue
            if t_min < 0:
                continue
            predicted = p.departure_ts if first else p.arrival_ts
            sched = sched_dep[(track.trip_id, p.seq)] if first else p.sched_arr_s
            baseline = max(now, day0 + sched + track.deviation_s)
            error = actual - predicted
            scored += 1
            if true.vehicle_id != vid:
                other_bus += 1
            if abs(error) > 900:
                far_off += 1
            for band in BANDS:
                if band[0] <= t_min < band[1]:
                    model_tally[band].add(error, t_min, p.uncertainty_s)
                    base_tally[band].add(actual - baseline, t_min)
                    break
    test_s = time.perf_counter() - t0
    figures.update(
        test_day=f"{TEST_DAY.isoformat()} (seed {TEST_SEED}, held out)",
        buses=len(sim.vehicles),
        pings=pings,
        events=events_seen,
        predict_calls=predict_calls,
        predictions=predictions,
        scored=scored,
        scored_other_bus=other_bus,
        scored_far_off=far_off,
        test_s=test_s,
        pings_per_s=pings / test_s if test_s else 0.0,
        predict_ms=1000.0 * predict_s / max(predict_calls, 1),
        bands=[
            {
                "band": f"{lo}–{hi} min",
                "n": model_tally[(lo, hi)].n,
                "model": model_tally[(lo, hi)].figures(),
                "baseline": base_tally[(lo, hi)].figures(),
            }
            for lo, hi in BANDS
        ],
        total_s=time.perf_counter() - started,
    )
    return figures


# --- Printing -------------------------------------------------------------------------------


def sections(figures: dict[str, Any]) -> list[Section]:
    table = Section(
        "Transit: arrival predictions on a held-out simulated day "
        "(error = true − predicted, seconds)",
        [
            "horizon",
            "predictions",
            "MAE",
            "bias",
            "inside",
            "baseline MAE",
            "baseline bias",
            "baseline inside",
            "MAE model/baseline",
            "within 1σ",
        ],
    )
    worst = 1.0
    for b in figures["bands"]:
        m, s = b["model"], b["baseline"]
        worst = min(worst, m["inside"])
        ratio = m["mae"] / s["mae"] if s["mae"] else 0.0
        table.rows.append(
            [
                b["band"],
                b["n"],
                f"{m['mae']:.1f}",
                f"{m['bias']:+.1f}",
                f"{100 * m['inside']:.1f}%",
                f"{s['mae']:.1f}",
                f"{s['bias']:+.1f}",
                f"{100 * s['inside']:.1f}%",
                f"{ratio:.2f}",
                f"{100 * m['within_sigma']:.0f}%",
            ]
        )
    routes = figures["routes"]
    table.notes += [
        f"inside: −60·ln(t+1.3) s < error < 60·ln(t+1.5) s; goal ≥ 80% at every horizon "
        f"(worst here {100 * worst:.1f}%); baseline = schedule + the vehicle's current delay; "
        f"within 1σ: |error| ≤ the predicted uncertainty (68% if calibrated)",
        f"trained on {', '.join(figures['train_days'])} via {figures['train_via']} "
        f"({figures['train_events']:,} stop events, {figures['statistics']:,} statistics); "
        f"tested on {figures['test_day']}",
        f"{figures['hours']}, routes: {'all' if routes == 'all' else ', '.join(routes)}; "
        f"{figures['buses']} buses, {figures['pings']:,} pings, {figures['events']:,} stop "
        f"events; a bus's predictions scored once a minute: {figures['predict_calls']:,} "
        f"times, {figures['scored']:,} stop predictions scored",
        f"scored on a trip another bus ran (matcher): {figures['scored_other_bus']:,}; "
        f"off by more than 15 min: {figures['scored_far_off']:,}",
        f"replay {figures['pings_per_s']:,.0f} pings/s through the engine; one prediction "
        f"of every stop ahead {figures['predict_ms']:.2f} ms (matching included); set-up "
        f"{figures['setup_s']:.0f} s, training {figures['train_s']:.0f} s, test day "
        f"{figures['test_s']:.0f} s",
    ]
    return [table]


def run(options: Options) -> list[Section]:
    """run.py's entry point: this script in a child process with its own SQLite database."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise BenchError(
            f"bench_transit_accuracy.py failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return sections(json.loads(lines[-1].removeprefix("RESULT ")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="from_", default="06:00", help="start (06:00)")
    parser.add_argument("--to", default="20:00", help="end (20:00)")
    parser.add_argument("--routes", default="", help="route ids, comma-separated (all)")
    parser.add_argument("--train-days", type=int, default=3, choices=range(1, len(TRAIN_SEEDS) + 1))
    parser.add_argument("--train-via", choices=["truth", "engine"], default="truth")
    parser.add_argument("--json", action="store_true", help="print one RESULT line (run.py)")
    args = parser.parse_args(argv)

    cleanup = tempfile.TemporaryDirectory(prefix="thudo-bench-accuracy-")
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
        print("RESULT " + json.dumps(figures, ensure_ascii=False))
    else:
        for section in sections(figures):
            print(section.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
