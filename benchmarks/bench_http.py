"""HTTP: the production server (`thudo run`, gunicorn) driven by wrk, on SQLite and PostgreSQL.

Two endpoints, so the cost of the framework and of authentication plus one row read show apart:
  - `GET /api/health`: no authentication, no database;
  - `GET /api/core/units/00070` (Phường Hoàn Kiếm) with a bearer token: the token look-up
    (one indexed row, a hash compare) and one unit row.
"""

from __future__ import annotations

import json
import os

from harness import (
    BenchError,
    Options,
    Section,
    Site,
    WrkResult,
    get,
    postgres_reachable,
    production_server,
    site,
    wrk,
)

BARE = "/api/health"
AUTHENTICATED = "/api/core/units/00070"
UNIT_NAME = "Hoàn Kiếm"
USERNAME = "bench"


def _prepare(where: Site) -> str:
    """Tables, Hanoi's units, a user and a token; returns the raw token."""
    where.thudo("migrate", "--no-input", "-v", "0")
    where.thudo("load_units", "--province", "1")
    where.thudo(
        "createsuperuser",
        "--noinput",
        "--username",
        USERNAME,
        "--email",
        "b@example.org",
        input_env={"DJANGO_SUPERUSER_PASSWORD": "bench-pass-2026"},
    )
    out = where.thudo("tokens", "create", "--user", USERNAME, "--name", "bench")
    lines = [line for line in out.splitlines() if line.strip()]
    if not lines:
        raise BenchError("`thudo tokens create` printed no token")
    return lines[-1].strip()


def _check(base_url: str, path: str, headers: dict[str, str], expect: str) -> None:
    status, body = get(base_url + path, headers)
    if status != 200 or expect not in body.decode("utf-8", "replace"):
        raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")


def _measure(where: Site, options: Options) -> list[tuple[str, WrkResult]]:
    token = _prepare(where)
    auth = {"Authorization": f"Bearer {token}"}
    results: list[tuple[str, WrkResult]] = []
    with production_server(where) as server:
        _check(server.base_url, BARE, {}, '"ok"')
        _check(server.base_url, AUTHENTICATED, auth, json.dumps(UNIT_NAME)[1:-1])
        for label, path, headers in (
            (f"GET {BARE}", BARE, {}),
            (f"GET {AUTHENTICATED} (token)", AUTHENTICATED, auth),
        ):
            wrk(server.base_url + path, options, headers=headers, duration=options.warmup)
            result = wrk(server.base_url + path, options, headers=headers)
            if result.non_2xx:
                raise BenchError(f"{label}: {result.non_2xx} answers were not 2xx")
            results.append((label, result))
    return results


def run(options: Options) -> list[Section]:
    workers = os.environ.get("WEB_CONCURRENCY") or str(min(4, (os.cpu_count() or 1) * 2))
    section = Section(
        title=(
            f"HTTP — thudo run (gunicorn, {workers} workers x 2 threads), "
            f"wrk -t{options.threads} -c{options.connections} -d{options.duration} --latency"
        ),
        columns=["database", "endpoint", "req/s", "p50 ms", "p99 ms"],
    )
    ratios: list[str] = []
    for database in options.databases:
        if database == "postgresql" and not postgres_reachable():
            section.notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
            continue
        with site(database) as where:
            measured = _measure(where, options)
        for label, result in measured:
            section.rows.append(
                [database, label, result.requests_per_s, result.p50_ms, result.p99_ms]
            )
            errors = result.socket_errors
            if errors:
                section.notes.append(f"{database} {label}: socket errors {errors}")
        bare, authenticated = (r.requests_per_s for _, r in measured)
        ratios.append(f"{database} {authenticated / bare:.2f}")
    if ratios:
        section.notes.insert(0, "authenticated / bare req/s: " + ", ".join(ratios))
    return [section]
