"""Run the benchmarks: every `benchmarks/bench_*.py` module's `run(options)`, one after another.

    .venv/bin/python benchmarks/run.py                 # all (make bench)
    .venv/bin/python benchmarks/run.py http            # only bench_http.py
    .venv/bin/python benchmarks/run.py --duration 30s  # longer wrk runs

Prints one table per benchmark and keeps the figures in benchmarks/results/<time>.json.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import BenchError, Options, Section  # noqa: E402


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    available = discover()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "only",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(available)})",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--duration", default="10s", help="wrk duration per endpoint (10s)")
    parser.add_argument("--warmup", default="2s", help="unmeasured wrk run before each (2s)")
    parser.add_argument(
        "--database",
        action="append",
        choices=["sqlite", "postgresql"],
        help="only this database (repeatable; default: both)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only) - set(available))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)} (have: {', '.join(available)})")
    options = Options(
        threads=args.threads,
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        databases=tuple(args.database or ("sqlite", "postgresql")),
    )

    started = time.monotonic()
    print(
        f"Thudo benchmarks — {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n",
        flush=True,
    )
    sections: dict[str, list[dict[str, object]]] = {}
    failed = False
    for name in args.only or available:
        module = importlib.import_module(f"bench_{name}")
        t0 = time.monotonic()
        try:
            results: list[Section] = module.run(options)
        except BenchError as exc:
            print(f"{name}: FAILED — {exc}\n", flush=True)
            failed = True
            continue
        for section in results:
            print(section.render() + "\n", flush=True)
        print(f"({name}: {time.monotonic() - t0:.0f} s)\n", flush=True)
        sections[name] = [s.as_dict() for s in results]

    out = HERE / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "host": platform.node(),
                "cpus": os.cpu_count(),
                "options": vars(args),
                "benchmarks": sections,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    kept = out.relative_to(HERE.parent)
    print(f"total {time.monotonic() - started:.0f} s; figures kept in {kept}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
