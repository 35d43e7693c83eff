"""Public services: the production server (`thudo run`, gunicorn) on SQLite and PostgreSQL.

  (a) submissions per second end to end: wrk POSTs the multipart API request
      (`POST /api/dossiers/`: the payload JSON and a ~1 KB PDF per required paper, a bearer
      token) with a Lua script that gives every request its own `Idempotency-Key`; the
      dossiers created are counted in the database afterwards;
  (b) the public look-up `GET /api/dossiers/lookup?code=…` beside the bare `GET /api/health`;
  (c) the officials' queue page `/workspace/dossiers/` with THUDO_BENCH_DOSSIERS dossiers in the
      table (default 1,000,000, made with COPY on PostgreSQL and executemany on SQLite): wrk with
      a signed-in official's session for the rates and percentiles, and in-process (Django test
      client, CaptureQueriesContext) for the queries per page;
  (d) 50 concurrent submitters (50 citizens, a Python thread each, 4 submissions each) to one
      ward on one day: duplicates and gaps in the day's sequence numbers.

Scale down with THUDO_BENCH_DOSSIERS=200000. A submission does not make its receipt: the
receipt is rendered and signed on the first request for it (ADR 0010), which this benchmark does
not make. The server runs `--no-worker`; the notification e-mails stay queued.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from harness import (
    ROOT,
    BenchError,
    Options,
    Section,
    Site,
    WrkResult,
    get,
    parse_wrk,
    postgres_reachable,
    production_server,
    site,
    wrk,
    wrk_path,
)

N_DOSSIERS = int(os.environ.get("THUDO_BENCH_DOSSIERS", "1000000"))
HERE = Path(__file__).resolve().parent
DATA = HERE / "dossier_data.py"
WARD = "HN-00070"
PER_SUBMITTER = 4
QUEUE_CONNECTIONS = int(os.environ.get("THUDO_BENCH_QUEUE_CONNECTIONS", "2"))

SUBMIT_LUA = r"""
local counter = 0
local threads = 0
local path, body, headers, run
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  path = args[1]
  local f = assert(io.open(args[2], "rb"))
  body = f:read("*a")
  f:close()
  headers = {
    ["Content-Type"] = "multipart/form-data; boundary=" .. args[3],
    ["Authorization"] = "Bearer " .. args[4],
  }
  run = args[5]
end
function request()
  counter = counter + 1
  headers["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", path, headers, body)
end
function done(summary, latency, requests)
  io.write(string.format("P95_US %d\n", latency:percentile(95)))
end
"""

P95_LUA = r"""
function done(summary, latency, requests)
  io.write(string.format("P95_US %d\n", latency:percentile(95)))
end
"""


LOOKUP_MANY_LUA = r"""
-- Look up every code made today at the ward in turn: each code's first look-up in a server
-- process builds the answer (one query); later ones until it changes are served kept.
local prefix, count, i
function init(args)
  prefix, count = args[1], tonumber(args[2])
  i = math.random(count)
end
request = function()
  i = i % count + 1
  return wrk.format("GET", "/api/dossiers/lookup?code=" .. prefix .. string.format("%04d", i))
end
function done(summary, latency, requests)
  io.write(string.format("P95_US %d\n", latency:percentile(95)))
end
"""


def _drain(where: Site, limit: float = 120.0) -> float:
    """Wait until the embedded broker's queue (files under var/broker/queue) is empty."""
    queue = where.var / "broker" / "queue"
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if not queue.exists() or not any(queue.iterdir()):
            break
        time.sleep(0.5)
    return time.perf_counter() - started


def _data(where: Site, *args: str, timeout: int = 1800) -> dict:
    """Run dossier_data.py in the site's environment; its RESULT line as a dict."""
    done = subprocess.run(
        [sys.executable, str(DATA), *args],
        cwd=ROOT,
        env=where.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise BenchError(
            f"dossier_data.py {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return json.loads(lines[-1].removeprefix("RESULT "))


def _wrk_script(
    url: str,
    options: Options,
    script: str,
    args: list[str],
    headers: dict[str, str] | None = None,
    duration: str | None = None,
) -> tuple[WrkResult, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    command = [
        wrk_path(),
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{duration or options.duration}",
        "--latency",
        "-s",
        f.name,
    ]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    command += [url]
    if args:
        command += ["--", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    p95 = next(
        (int(ln.split()[1]) / 1000 for ln in done.stdout.splitlines() if ln.startswith("P95_US")),
        float("nan"),
    )
    return parse_wrk(done.stdout), p95


def _post(base_url: str, body: bytes, boundary: str, token: str, key: str) -> tuple[int, str]:
    parsed = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=60)
    try:
        conn.request(
            "POST",
            "/api/dossiers/",
            body=body,
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": key,
            },
        )
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    code = ""
    if response.status == 201:
        code = json.loads(data).get("code") or ""
    elif response.status >= 400:
        code = data[:300].decode("utf-8", "replace")
    return response.status, code


def _concurrent(base_url: str, setup: dict) -> dict:
    """50 citizens, one thread each, PER_SUBMITTER submissions each, released together."""
    bodies = [Path(p).read_bytes() for p in setup["bodies"][1:]]
    tokens = setup["tokens"][1:]
    run = secrets.token_hex(3)
    import threading

    gate = threading.Barrier(len(tokens))

    def submitter(i: int) -> list[tuple[int, str]]:
        gate.wait()
        return [
            _post(base_url, bodies[i], setup["boundary"], tokens[i], f"c{run}-{i}-{k}")
            for k in range(PER_SUBMITTER)
        ]

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        answers = [a for batch in pool.map(submitter, range(len(tokens))) for a in batch]
    seconds = time.perf_counter() - started
    failed = [code for status, code in answers if status != 201]
    return {
        "submitted": len(answers),
        "created": len(answers) - len(failed),
        "failed": failed[:3],
        "seconds": seconds,
    }


def _measure(where: Site, options: Options, out_dir: str) -> dict:
    figures: dict = {}
    where.thudo("migrate", "--no-input", "-v", "0")
    where.thudo("collectstatic", "--no-input", "-v", "0")  # pages need the static manifest
    setup = _data(where, "setup", out_dir)
    figures["demo_s"] = setup["demo_s"]
    with production_server(where) as server:
        base = server.base_url
        # (d) first: the day's sequence at the ward starts empty.
        figures["concurrent"] = _concurrent(base, setup)
        if figures["concurrent"]["created"] == 0:
            raise BenchError(f"no submission succeeded: {figures['concurrent']['failed']}")
        figures["codes"] = _data(where, "codes", WARD)
        # (a) submissions through wrk.
        status, code = _post(
            base,
            Path(setup["bodies"][0]).read_bytes(),
            setup["boundary"],
            setup["tokens"][0],
            "check-1",
        )
        if status != 201:
            raise BenchError(f"POST /api/dossiers/ answered {status}: {code}")
        lua_args = [
            "/api/dossiers/",
            setup["bodies"][0],
            setup["boundary"],
            setup["tokens"][0],
        ]
        _wrk_script(
            base + "/api/dossiers/",
            options,
            SUBMIT_LUA,
            [*lua_args, "warm"],
            duration=options.warmup,
        )
        run = "w" + secrets.token_hex(3)
        t = time.perf_counter()
        submit, submit_p95 = _wrk_script(
            base + "/api/dossiers/", options, SUBMIT_LUA, [*lua_args, run]
        )
        elapsed = time.perf_counter() - t
        created = _data(where, "count", run)["count"]
        figures["submit"] = (submit, submit_p95, created / elapsed)
        figures["codes_after"] = _data(where, "codes", WARD)
        # (b) look-ups beside the bare endpoint, once the embedded worker has sent the
        # submissions' e-mails (it shares the two cores with the web server).
        figures["drain_s"] = _drain(where)
        lookup = f"/api/dossiers/lookup?code={urllib.parse.quote(code)}"
        status, body = get(base + lookup)
        if status != 200:
            raise BenchError(f"GET {lookup} answered {status}: {body[:300]!r}")
        for label, path in (("bare", "/api/health"), ("lookup", lookup)):
            wrk(base + path, options, duration=options.warmup)
            figures[label] = wrk(base + path, options)
        today = figures["codes_after"]
        figures["lookup_many"] = _wrk_script(
            base + "/api/dossiers/lookup",
            options,
            LOOKUP_MANY_LUA,
            [today["prefix"], str(today["count"])],
        )
    # (c) the queue with the big table.
    figures["generate"] = _data(where, "generate", str(N_DOSSIERS), timeout=3600)
    figures["index"] = _data(where, "index")
    with production_server(where) as server:
        queue_url = server.base_url + "/workspace/dossiers/"
        cookie = {"Cookie": f"sessionid={setup['session']}"}
        status, body = get(queue_url, cookie)
        if status != 200:
            raise BenchError(f"GET /workspace/dossiers/ answered {status}: {body[:300]!r}")
        # Latency as officials see it: a few at a time (QUEUE_CONNECTIONS), not 16 at once on
        # two cores, where the wait for a worker would dominate.
        light = dataclasses.replace(options, connections=QUEUE_CONNECTIONS)
        _wrk_script(queue_url, light, P95_LUA, [], cookie, duration=options.warmup)
        figures["queue"] = _wrk_script(queue_url, light, P95_LUA, [], cookie)
        overdue = queue_url + "?due=overdue"
        figures["queue_overdue"] = _wrk_script(overdue, light, P95_LUA, [], cookie)
        figures["queue_loaded"] = _wrk_script(queue_url, options, P95_LUA, [], cookie)
    figures["queue_inprocess"] = _data(where, "queue", setup["session"])
    return figures


def run(options: Options) -> list[Section]:
    workers = os.environ.get("WEB_CONCURRENCY") or str(min(4, (os.cpu_count() or 1) * 2))
    title = (
        f"Public services — thudo run (gunicorn, {workers} workers x 2 threads), "
        f"wrk -t{options.threads} -c{options.connections} -d{options.duration}"
    )
    http_section = Section(
        title=title,
        columns=["database", "measure", "req/s", "p50 ms", "p95 ms", "p99 ms", "note"],
    )
    seq_section = Section(
        title=f"Dossier codes — {len(range(50))} concurrent submitters x {PER_SUBMITTER}, "
        f"one ward ({WARD}), one day",
        columns=["database", "submitted", "created", "seconds", "duplicates", "missing"],
    )
    ratios: list[str] = []
    for database in options.databases:
        if database == "postgresql" and not postgres_reachable():
            http_section.notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
            continue
        with site(database) as where, tempfile.TemporaryDirectory() as out_dir:
            f = _measure(where, options, out_dir)
        submit, submit_p95, created_per_s = f["submit"]
        http_section.rows.append(
            [
                database,
                "POST /api/dossiers/ (multipart, PDF)",
                submit.requests_per_s,
                submit.p50_ms,
                submit_p95,
                submit.p99_ms,
                f"{created_per_s:.1f} created/s; non-2xx {submit.non_2xx}; "
                f"{created_per_s / 150:.2f}x of 150/s",
            ]
        )
        bare, lookup = f["bare"], f["lookup"]
        for label, r in (("GET /api/health (bare)", bare), ("GET /api/dossiers/lookup", lookup)):
            http_section.rows.append(
                [database, label, r.requests_per_s, r.p50_ms, "", r.p99_ms, ""]
            )
        many, many_p95 = f["lookup_many"]
        codes_today = f["codes_after"]["count"]
        http_section.rows.append(
            [
                database,
                f"GET /api/dossiers/lookup, {codes_today:,} codes in turn (cold)",
                many.requests_per_s,
                many.p50_ms,
                many_p95,
                many.p99_ms,
                f"{many.requests_per_s / bare.requests_per_s:.2f}x of bare; non-2xx {many.non_2xx}",
            ]
        )
        ratio = lookup.requests_per_s / bare.requests_per_s
        ratios.append(
            f"{database} {ratio:.2f} (one code), "
            f"{many.requests_per_s / bare.requests_per_s:.2f} (every code of the day in turn)"
        )
        gen, idx, inproc = f["generate"], f["index"], f["queue_inprocess"]
        for label, (r, p95) in (
            (f"queue page 1, -c{QUEUE_CONNECTIONS}", f["queue"]),
            (f"queue ?due=overdue, -c{QUEUE_CONNECTIONS}", f["queue_overdue"]),
            (f"queue page 1, -c{options.connections}", f["queue_loaded"]),
        ):
            http_section.rows.append(
                [
                    database,
                    f"{label} ({gen['total']:,} dossiers)",
                    r.requests_per_s,
                    r.p50_ms,
                    p95,
                    r.p99_ms,
                    f"{p95 / 150:.2f}x of the 150 ms p95 budget; non-2xx {r.non_2xx}",
                ]
            )
        queries = sorted(set(inproc["queries"].values()))
        http_section.notes.append(
            f"{database}: {gen['generated']:,} dossiers generated in {gen['seconds']:.0f} s; "
            f"queue in-process p50 {inproc['p50_ms']:.1f} ms, p95 {inproc['p95_ms']:.1f} ms, "
            f"queries per page {inproc['queries']} (distinct counts: {queries}); service index "
            f"over the table: city totals {idx['totals_ms']:.0f} ms, {idx['rows']} agency rows "
            f"{idx['rows_ms']:.0f} ms; demo set-up {f['demo_s']:.0f} s; look-ups measured after "
            f"the worker sent the submissions' e-mails ({f['drain_s']:.0f} s)"
        )
        c, codes, after = f["concurrent"], f["codes"], f["codes_after"]
        seq_section.rows.append(
            [
                database,
                c["submitted"],
                c["created"],
                round(c["seconds"], 2),
                codes["duplicates"],
                codes["missing"],
            ]
        )
        seq_section.notes.append(
            f"{database}: after the wrk run too, {after['count']:,} codes {after['prefix']}*: "
            f"{after['duplicates']} duplicates, {after['missing']} missing"
            + (f"; failures: {c['failed']}" if c["failed"] else "")
        )
    if ratios:
        http_section.notes.insert(
            0, "look-up / bare req/s: " + ", ".join(ratios) + " (goal ≥ 0.70)"
        )
    return [http_section, seq_section]
