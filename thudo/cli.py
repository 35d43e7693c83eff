"""`thudo`: the one command for operators. Wraps Django's management commands and adds
`thudo run` (the production web server plus, in the embedded set-up, the background worker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HELP = """Usage: thudo <command> [options]

  run [--bind HOST:PORT] [--workers N] [--no-worker]
                     serve with gunicorn; in the embedded set-up (no CELERY_BROKER_URL) a
                     Celery worker with its scheduler runs beside it, in the same command
  worker             a Celery worker (at scale: run as many as needed)
  scheduler          the Celery beat scheduler (at scale: exactly one)
  demo               load the demo city (idempotent)
  migrate, createsuperuser, shell, compilemessages, load_units, ...
                     any Django management command
"""


def _settings() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", *args]


def _embedded() -> bool:
    return os.environ.get("CELERY_BROKER_URL", "filesystem://").startswith("filesystem://")


def run(argv: list[str]) -> int:
    bind = os.environ.get("THUDO_BIND", "127.0.0.1:8000")
    workers = os.environ.get("WEB_CONCURRENCY", "") or str(min(4, (os.cpu_count() or 1) * 2))
    with_worker = _embedded()
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag == "--bind" and args:
            bind = args.pop(0)
        elif flag == "--workers" and args:
            workers = args.pop(0)
        elif flag == "--no-worker":
            with_worker = False
        else:
            print(f"unknown option for run: {flag}", file=sys.stderr)
            return 2
    web = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        bind,
        "--workers",
        workers,
        "--threads",
        "2",
        "--access-logfile",
        "-",
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
    ]
    procs = [subprocess.Popen(web)]
    if with_worker:
        # The embedded worker also runs the scheduler (-B): deadline reminders need no broker.
        var = Path(os.environ.get("THUDO_VAR_DIR", "var"))
        var.mkdir(parents=True, exist_ok=True)
        procs.append(
            subprocess.Popen(
                _celery(
                    "worker",
                    "-B",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    "1",
                    "--schedule",
                    str(var / "celerybeat-schedule"),
                )
            )
        )
    simulator = None
    if with_worker and os.environ.get("TRANSIT_DEMO_SIMULATOR", "true").lower() in {
        "1",
        "true",
        "yes",
        "on",
    }:
        # The demo's buses: the simulator posts their positions to this server as devices would
        # (docs/transit.md). It may stop on its own (no timetable): the server keeps running.
        port = bind.rsplit(":", 1)[-1] if ":" in bind else "80"
        simulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "thudo.cli",
                "transit",
                "simulate",
                "--live",
                "--over",
                "http",
                "--url",
                f"http://127.0.0.1:{port}",
            ]
        )
    host = bind.rsplit(":", 1)
    print(f"\nThudo is serving at http://{host[0]}:{host[1] if len(host) > 1 else 80}/", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for p in [*procs, *([simulator] if simulator else [])]:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        stop()
        for p in [*procs, *([simulator] if simulator else [])]:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    return max((p.returncode or 0) for p in procs) if not stopping else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _settings()
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(HELP)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "run":
        return run(rest)
    if command == "worker":
        return subprocess.call(_celery("worker", "--loglevel", "INFO", *rest))
    if command == "scheduler":
        return subprocess.call(_celery("beat", "--loglevel", "INFO", *rest))
    from django.core.management import execute_from_command_line

    execute_from_command_line(["thudo", command, *rest])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
