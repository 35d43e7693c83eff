"""Transit ingest: GPS positions stored per second, and per CPU core, over MQTT and HTTP.

On a throwaway site per database (harness.site: SQLite; PostgreSQL when reachable, in its own
database BENCH_TRANSIT_INGEST_DB, default `bench_transit_ingest`, created and dropped), after
`thudo migrate`: DEVICES vehicles, each with a GPS device, a token and a vehicle state. Tracking
is OFF (TRANSIT_TRACK_INLINE=false) everywhere except the last HTTP row: what is measured is the
ingest — validation, de-duplication, the Position rows, the vehicle states, the counters.

  (a) in-process: `ingest.ingest_batches` with batches of 2,000 positions from 200 devices (what
      the MQTT worker stores per transaction), and `ingest.ingest_positions` with one device's 50
      positions (what one HTTP request stores) — the cost of the ingest itself;
  (b) MQTT: the real broker (Mosquitto at 127.0.0.1:1883), publisher processes sending every
      device's positions (QoS 1, 10 positions per message, like a device buffering 10 s at 1 Hz)
      as fast as they can, `thudo transit mqtt` storing them: from the first publish to the last
      position in the database;
  (c) HTTP: the production server (`thudo run --no-worker`: gunicorn, WEB_CONCURRENCY workers ×
      2 threads) driven by wrk, POST /transit/ingest/v1/positions with a device token: batches
      of 50 positions per request (a device buffering 10 s × 5 Hz, or a fleet gateway) and one
      position per request; then batches of 50 with tracking ON (needs thudo.transit.tracker
      and the demo network: the demo's buses reporting along their trips' shapes).

Each row prints positions stored per second (counted in the database afterwards: repeats and
refusals are not counted), CPU seconds used by the parts that did the storing (the worker or the
server's processes, plus this database's PostgreSQL backends; SQLite works inside them) read
from /proc, positions per CPU-second ("per core"), and the ratios to Hanoi's need (2,000 buses
every 10 s = 200/s) and to the aim of 20,000/s per core. All parts share this machine's CPUs
(publishers, broker, wrk and the other work on it), so wall-clock rates understate what a
dedicated core does; the per-core figure is the one to compare.

    .venv/bin/python benchmarks/bench_transit_ingest.py                     # 2,000 devices
    .venv/bin/python benchmarks/bench_transit_ingest.py --quick             # ~1-2 min
    .venv/bin/python benchmarks/bench_transit_ingest.py --database sqlite
    THUDO_BENCH_QUICK=1 .venv/bin/python benchmarks/run.py transit_ingest
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import harness  # noqa: E402
from harness import (  # noqa: E402
    ROOT,
    THUDO,
    BenchError,
    Options,
    Section,
    Site,
    parse_wrk,
    postgres_reachable,
    production_server,
    site,
    wrk_path,
)

QUICK = any(
    os.environ.get(name, "") not in ("", "0")
    for name in ("THUDO_BENCH_QUICK", "THUDO_BENCH_TRANSIT_QUICK")
)
BENCH_DB = os.environ.get("BENCH_TRANSIT_INGEST_DB", "bench_transit_ingest")
MQTT_URL = os.environ.get("BENCH_MQTT_URL", "mqtt://127.0.0.1:1883")
HANOI_NEED = 200.0  # 2,000 buses every 10 s
AIM_PER_CORE = 20_000.0
TOKEN_PREFIX = "bench-token-"  # throwaway tokens of a throwaway database
# Each phase's positions start this many seconds before its own start (all inside
# TRANSIT_MAX_AGE_S = 3600, phases later in the run further from the past), so that no phase
# repeats another's (vehicle, instant) and every position it sends is new.
OFFSET_S = {
    "multi": 3300,
    "single": 3000,
    "mqtt": 2700,
    "probe": 2400,
    "batch-warm": 2100,
    "batch": 1900,
    "single-warm": 1700,
    "single-http": 1500,
}


@dataclass(frozen=True)
class Sizes:
    devices: int = 2000
    direct_positions: int = 200_000
    mqtt_positions: int = 200_000
    publishers: int = 2
    per_message: int = 10
    per_request: int = 50


QUICK_SIZES = Sizes(devices=200, direct_positions=20_000, mqtt_positions=20_000, publishers=1)


# --- /proc: CPU seconds ------------------------------------------------------------------------

CLK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += (int(fields[11]) + int(fields[12])) / CLK
    return total


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def session_pids(sid: int) -> list[int]:
    out = []
    for pid in _all_pids():
        fields = _stat(pid)
        if fields and int(fields[3]) == sid:
            out.append(pid)
    return out


def pg_backends(database: str) -> list[int]:
    """This database's PostgreSQL backends on this machine (their process titles name it)."""
    marker = f" {database} ".encode()
    return [
        p for p in _all_pids() if _cmdline(p).startswith(b"postgres: ") and marker in _cmdline(p)
    ]


def named(comm: str) -> list[int]:
    out = []
    for pid in _all_pids():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                out.append(pid)
    return out


class CpuMeter:
    """CPU seconds of a changing set of processes between start() and stop()."""

    def __init__(self, finder: Any) -> None:
        self.finder = finder
        self.before: dict[int, float] = {}

    def start(self) -> None:
        self.before = {pid: cpu_seconds([pid]) for pid in self.finder()}

    def stop(self) -> float:
        total = 0.0
        for pid in set(self.finder()) | set(self.before):
            now = cpu_seconds([pid])
            if now:  # a process that ended took its last figures with it
                total += now - self.before.get(pid, 0.0)
        return total


# --- the database from this process (counting rows; no Django here) ---------------------------


def count_positions(where: Site) -> int:
    url = where.env["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite://"), timeout=30)) as db:
            return int(db.execute("SELECT count(*) FROM transit_position").fetchone()[0])
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        row = conn.execute("SELECT count(*) FROM transit_position").fetchone()
        return int(row[0]) if row else 0


# --- the parent ----------------------------------------------------------------------------------


def _inner(where: Site, *args: str, timeout: int = 1800) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "inner", *args],
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
            f"bench_transit_ingest.py inner {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


@contextlib.contextmanager
def _site(name: str) -> Iterator[Site]:
    """harness.site with this benchmark's own PostgreSQL database, tracking off."""
    saved = harness.POSTGRES_DB
    harness.POSTGRES_DB = BENCH_DB
    try:
        with site(name) as where:
            where.env.setdefault("EID_CLIENT_SECRET", secrets.token_urlsafe(24))
            where.env["TRANSIT_TRACK_INLINE"] = "false"
            where.env["TRANSIT_DEMO_SIMULATOR"] = "false"
            yield where
    finally:
        harness.POSTGRES_DB = saved


def _rate_row(label: str, stored: int, seconds: float, cpu: float, note: str = "") -> list[object]:
    rate = stored / seconds if seconds > 0 else 0.0
    per_core = stored / cpu if cpu > 0 else float("nan")
    return [
        label,
        stored,
        round(rate),
        round(cpu, 2),
        round(per_core) if math.isfinite(per_core) else "—",
        f"{rate / HANOI_NEED:.0f}×",
        f"{per_core / AIM_PER_CORE:.2f}" if math.isfinite(per_core) else "—",
        note,
    ]


def measure_direct(where: Site, sizes: Sizes, section: Section) -> None:
    for label, args in (
        ("in-process, 2,000/transaction (200 devices × 10)", ["multi", "10"]),
        ("in-process, 50/transaction (one device)", ["single", "50"]),
    ):
        r = _inner(where, "direct", *args, str(sizes.direct_positions))
        section.rows.append(
            _rate_row(f"{where.name}: {label}", r["stored"], r["seconds"], r["cpu"])
        )
        _progress(section)


def measure_mqtt(where: Site, sizes: Sizes, section: Section) -> None:
    if not harness_port_open("127.0.0.1", 1883):
        section.notes.append(f"{where.name}: MQTT skipped, no broker at 127.0.0.1:1883")
        return
    run_id = secrets.token_hex(4)
    topic_base = f"bench/{run_id}/positions"
    log = where.var / "mqtt-worker.log"
    before = count_positions(where)
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [
                str(THUDO),
                "transit",
                "mqtt",
                "--url",
                MQTT_URL,
                "--topic",
                topic_base + "/+",
                "--client-id",
                f"bench-{run_id}",
            ],
            cwd=ROOT,
            env={**where.env, "LOG_LEVEL": "INFO"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # probes until one is stored: then the worker is subscribed (a message published
        # before its subscription reaches nobody)
        deadline = time.monotonic() + 90
        while count_positions(where) <= before:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the MQTT worker stored nothing:\n{harness.tail(log)}")
            _inner(where, "publish", MQTT_URL, topic_base, "0", "1", "1", "1", "probe")
            for _ in range(15):
                if count_positions(where) > before:
                    break
                time.sleep(0.2)
        start_count = count_positions(where)
        cpu = CpuMeter(lambda: [worker.pid, *pg_backends_for(where)])
        broker = CpuMeter(lambda: named("mosquitto"))
        n_messages = sizes.mqtt_positions // sizes.per_message // sizes.publishers
        per_pub = max(1, sizes.devices // sizes.publishers)
        cpu.start()
        broker.start()
        publishers = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "inner",
                    "publish",
                    MQTT_URL,
                    topic_base,
                    str(i * per_pub),
                    str(per_pub),
                    str(sizes.per_message),
                    str(n_messages),
                    "mqtt",
                ],
                cwd=ROOT,
                env=where.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(sizes.publishers)
        ]
        expected = start_count + n_messages * sizes.per_message * sizes.publishers
        last, last_change = start_count, time.monotonic()
        while True:
            now_count = count_positions(where)
            if now_count != last:
                last, last_change = now_count, time.monotonic()
            if now_count >= expected or time.monotonic() - last_change > 20:
                break
            time.sleep(0.1)
        ended = time.time()
        used = cpu.stop()
        broker_cpu = broker.stop()
        firsts = []
        for p in publishers:
            stdout, stderr = p.communicate(timeout=120)
            lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
            if p.returncode or not lines:
                raise BenchError(f"a publisher failed ({p.returncode}):\n{stderr[-3000:]}")
            firsts.append(json.loads(lines[-1].removeprefix("RESULT "))["first"])
        stored = last - start_count
        seconds = ended - min(firsts)
        if last < expected:
            section.notes.append(
                f"{where.name}: MQTT stored {stored:,} of {expected - start_count:,} "
                "(no progress for 20 s)"
            )
        section.rows.append(
            _rate_row(
                f"{where.name}: MQTT → worker, {sizes.per_message}/message, "
                f"{sizes.publishers} publisher(s)",
                stored,
                seconds,
                used,
                f"broker {broker_cpu:.2f} CPU-s",
            )
        )
        _progress(section)
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        _inner(where, "forget-session", MQTT_URL, f"bench-{run_id}")


def _progress(section: Section) -> None:
    """The row just measured, on stderr (the table comes at the end)."""
    print("  " + "  ".join(str(v) for v in section.rows[-1]), file=sys.stderr, flush=True)


def harness_port_open(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pg_backends_for(where: Site) -> list[int]:
    return pg_backends(BENCH_DB) if where.name == "postgresql" else []


POST_LUA = r"""
-- Each thread posts its own share of the prepared bodies (one per line: token TAB json),
-- each body once while they last.
local bodies, tokens, i, step = {}, {}, 0, 1
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
  thread:set("nthreads", threads)
end
function init(args)
  local n = 0
  for line in io.lines(args[1]) do
    n = n + 1
    local tab = line:find("\t", 1, true)
    bodies[n] = line:sub(tab + 1)
    tokens[n] = line:sub(1, tab - 1)
  end
  step = tonumber(args[2])
  i = (tid or 1) - step
end
function request()
  i = i + step
  if i > #bodies then i = ((i - 1) % #bodies) + 1 end
  return wrk.format("POST", "/transit/ingest/v1/positions",
    {["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json"},
    bodies[i])
end
"""


def _server_sid(port: int) -> int:
    marker = f"127.0.0.1:{port}".encode()
    for pid in _all_pids():
        line = _cmdline(pid)
        if b"run" in line and marker in line and b"--no-worker" in line:
            return pid
    raise BenchError(f"cannot find the server process bound to port {port}")


def wrk_post(
    where: Site, base_url: str, bodies: Path, options: Options, duration: str
) -> tuple[Any, float, int]:
    """wrk over the bodies; returns (wrk result, server CPU seconds, positions stored)."""
    folder = Path(tempfile.mkdtemp(prefix="thudo-bench-ingest-"))
    script = folder / "post.lua"
    script.write_text(POST_LUA)
    port = int(base_url.rsplit(":", 1)[1])
    sid = _server_sid(port)
    meter = CpuMeter(lambda: [*session_pids(sid), *pg_backends_for(where)])
    try:
        before = count_positions(where)
        meter.start()
        done = subprocess.run(
            [
                wrk_path(),
                f"-t{options.threads}",
                f"-c{options.connections}",
                f"-d{duration}",
                "--timeout",
                "30s",
                "--latency",
                "-s",
                str(script),
                base_url,
                "--",
                str(bodies),
                str(options.threads),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        used = meter.stop()
        stored = count_positions(where) - before
    finally:
        script.unlink(missing_ok=True)
        folder.rmdir()
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = parse_wrk(done.stdout)
    if result.non_2xx:
        raise BenchError(f"wrk: {result.non_2xx} requests were not answered 2xx")
    return result, used, stored


def _seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(duration[:-1]) * units[duration[-1]] if duration[-1] in units else float(duration)


def measure_http(where: Site, sizes: Sizes, options: Options, section: Section) -> None:
    seconds = _seconds(options.duration)
    where.thudo("collectstatic", "--no-input", "-v", "0")
    plans = [
        # (label, positions per request, positions/s to provision bodies for)
        ("batch", sizes.per_request, 15_000),
        ("single-http", 1, 3_000),
    ]
    with production_server(where) as server:
        for kind, per_request, rate in plans:
            warm = where.var / f"bodies-{kind}.warm"
            bodies = where.var / f"bodies-{kind}.txt"
            n_warm = max(100, math.ceil(rate * _seconds(options.warmup) / per_request))
            n_bodies = max(200, math.ceil(rate * seconds / per_request))
            warm_kind = "batch-warm" if per_request > 1 else "single-warm"
            _inner(where, "bodies", warm_kind, str(per_request), str(n_warm), str(warm))
            _inner(where, "bodies", kind, str(per_request), str(n_bodies), str(bodies))
            wrk_post(where, server.base_url, warm, options, options.warmup)
            result, used, stored = wrk_post(
                where, server.base_url, bodies, options, options.duration
            )
            reused = " (bodies ran out: repeats sent)" if result.requests > n_bodies else ""
            section.rows.append(
                _rate_row(
                    f"{where.name}: HTTP, {per_request}/request, tracking off",
                    stored,
                    seconds,
                    used,
                    f"{result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                    f"p99 {result.p99_ms:.1f} ms{reused}",
                )
            )
            _progress(section)
    # tracking on: the demo network and its buses
    check = _inner(where, "tracking-ready")
    if not check["ready"]:
        section.notes.append(f"{where.name}: HTTP with tracking on not measured: {check['why']}")
        return
    bodies = where.var / "bodies-demo.txt"
    made = _inner(where, "bodies", "demo", str(sizes.per_request), "0", str(bodies))
    if not made["bodies"]:
        section.notes.append(f"{where.name}: tracking on not measured: no demo bus has a shape")
        return
    tracked = Site(where.name, {**where.env, "TRANSIT_TRACK_INLINE": "true"}, where.var)
    with production_server(tracked) as server:
        # each server process builds the network and loads the model on its first requests
        warmup = f"{max(10.0, _seconds(options.warmup)):.0f}s"
        wrk_post(where, server.base_url, Path(f"{bodies}.warm"), options, warmup)
        result, used, stored = wrk_post(where, server.base_url, bodies, options, options.duration)
        reused = " (bodies ran out: repeats sent)" if result.requests > made["bodies"] else ""
        section.rows.append(
            _rate_row(
                f"{where.name}: HTTP, {sizes.per_request}/request, TRACKING ON",
                stored,
                seconds,
                used,
                f"{made['vehicles']} demo buses; {result.requests_per_s:,.0f} req/s, "
                f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms{reused}",
            )
        )


def run(
    options: Options, quick: bool | None = None, devices: int | None = None, *, own: bool = False
) -> list[Section]:
    """run.py's entry point (THUDO_BENCH_QUICK=1: --quick)."""
    quick = QUICK if quick is None else quick
    sizes = QUICK_SIZES if quick else Sizes()
    if devices:
        sizes = replace(sizes, devices=devices)
    if quick and not own:
        options = replace(options, duration="3s", warmup="1s")
    section = Section(
        title=(
            f"Transit ingest — {sizes.devices:,} devices; tracking off unless said; "
            f"wrk -t{options.threads} -c{options.connections} -d{options.duration}"
        ),
        columns=[
            "path",
            "stored",
            "positions/s",
            "CPU s",
            "per core/s",
            "× Hanoi 200/s",
            "÷ 20k aim",
            "note",
        ],
    )
    for name in options.databases:
        if name == "postgresql" and not postgres_reachable():
            section.notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
            continue
        with _site(name) as where:
            where.thudo("migrate", "--no-input", "-v", "0")
            _inner(where, "setup", str(sizes.devices))
            measure_direct(where, sizes, section)
            measure_mqtt(where, sizes, section)
            measure_http(where, sizes, options, section)
    section.notes.append(
        "per core = positions ÷ CPU seconds of the worker or server processes (+ this "
        "database's PostgreSQL backends); publishers, broker and wrk are not counted."
    )
    section.notes.append(f"load average at the end: {_load()}")
    return [section]


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --- inside the site (django set up) --------------------------------------------------------------


def result(data: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(data), flush=True)


def _django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    django.setup()


def inner_setup(devices: int) -> None:
    _django()
    from django.utils import timezone

    from thudo.transit.models import Device, Vehicle, VehicleState
    from thudo.transit.tokens import hash_token

    vehicles = Vehicle.objects.bulk_create(
        [Vehicle(code=f"HN-BENCH-{i:05d}", label=f"B{i}") for i in range(devices)],
        batch_size=2000,
    )
    Device.objects.bulk_create(
        [
            Device(
                vehicle=v, device_id=f"BENCH-{i:05d}", token_hash=hash_token(f"{TOKEN_PREFIX}{i}")
            )
            for i, v in enumerate(vehicles)
        ],
        batch_size=2000,
    )
    VehicleState.objects.bulk_create(
        [VehicleState(vehicle=v, updated_at=timezone.now()) for v in vehicles], batch_size=2000
    )
    result({"devices": devices})


def _positions(n: int, start: int, base: float, lat0: float) -> list[dict[str, Any]]:
    """n positions of one device, 0.01 s apart from slot `start` (unique per device)."""
    return [
        {
            "timestamp": round(base + (start + k) * 0.01, 3),
            "latitude": round(lat0 + (start + k) * 1e-6, 6),
            "longitude": 105.8412,
            "speed": 7.5,
            "bearing": 92.0,
            "trip_id": "",
        }
        for k in range(n)
    ]


def inner_direct(mode: str, per: int, total: int) -> None:
    _django()
    from django.db import connection

    from thudo.transit import ingest

    found = [ingest.authenticate(f"{TOKEN_PREFIX}{i}") for i in range(200)]
    devices = [d for d in found if d is not None]
    if len(devices) != len(found):
        raise SystemExit("the bench devices are missing")
    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    base = time.time() - OFFSET_S[mode]
    # the records are built first: the device's side is not the ingest's cost
    plan: list[list[Any]] = []
    made, slot = 0, 0
    while made < total:
        if mode == "multi":  # every device's `per` positions in one transaction
            group = range(len(devices))
            start = slot * per
        else:  # one device's `per` positions per transaction, devices in turn
            group = range(slot % len(devices), slot % len(devices) + 1)
            start = (slot // len(devices)) * per
        plan.append(
            [
                ingest.DeviceBatch(
                    _positions(per, start, base, 21.0 + i * 1e-4), devices[i], devices[i].device_id
                )
                for i in group
            ]
        )
        made += per * len(group)
        slot += 1
    cpu0 = time.process_time()
    db0 = cpu_seconds([backend]) if backend else 0.0
    t0 = time.perf_counter()
    stored = 0
    for batches in plan:
        for r in ingest.ingest_batches(batches=batches, source="mqtt"):
            stored += r.accepted
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0 + ((cpu_seconds([backend]) - db0) if backend else 0.0)
    result({"stored": stored, "seconds": seconds, "cpu": cpu})


def inner_publish(
    url: str, topic_base: str, first: int, count: int, per: int, messages: int, kind: str
) -> None:
    """Publish `messages` messages of `per` positions for devices first..first+count-1 (round
    robin), QoS 1, as fast as the broker takes them; prints when the first went out."""
    _django()
    from thudo.transit import mqtt

    base = time.time() - OFFSET_S[kind]
    client = mqtt.make_client(url, client_id=f"bench-pub-{secrets.token_hex(4)}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    host, port, _u, _p = mqtt.parse_url(url)
    client.connect(host, port, keepalive=60)
    client.loop_start()
    payloads: list[tuple[str, bytes]] = []
    for m in range(messages):
        d = first + (m % count)
        slot = (m // count) * per
        device_id = f"BENCH-{d:05d}"
        body = {"token": f"{TOKEN_PREFIX}{d}", "positions": _positions(per, slot, base, 21.0)}
        payloads.append(
            (f"{topic_base}/{device_id}", json.dumps(body, separators=(",", ":")).encode())
        )
    first_at = time.time()
    infos = [client.publish(topic, payload, qos=1) for topic, payload in payloads]
    for info in infos:
        info.wait_for_publish(120)
    acked = time.time()
    client.loop_stop()
    client.disconnect()
    result({"first": first_at, "acked": acked, "messages": len(infos)})


def inner_forget_session(url: str, client_id: str) -> None:
    """Connect once with a clean start so that the broker drops the worker's session."""
    _django()
    import paho.mqtt.client as paho

    from thudo.transit import mqtt

    client = mqtt.make_client(url, client_id=client_id, protocol=paho.MQTTv5)
    host, port, _u, _p = mqtt.parse_url(url)
    with contextlib.suppress(OSError):
        client.connect(host, port, clean_start=True)
        client.loop_start()
        time.sleep(0.5)
        client.disconnect()
        client.loop_stop()
    result({"ok": True})


def inner_bodies(kind: str, per: int, n: int, path: str) -> None:
    """Request bodies, one per line as `token TAB json`. Synthetic (`kind` a key of OFFSET_S):
    the bench devices in turn, positions never repeated. "demo": each demo bus walking its
    first trip's shape, 2 s a ping, the buses in turn; written as PATH (the first tenth, for
    the warm-up, as PATH.warm)."""
    _django()
    lines: list[str] = []
    if kind != "demo":
        base = time.time() - OFFSET_S[kind]
        devices = _devices_count()
        for b in range(n):
            d = b % devices
            body = {"positions": _positions(per, (b // devices) * per, base, 21.0 + d * 1e-5)}
            lines.append(f"{TOKEN_PREFIX}{d}\t{json.dumps(body, separators=(',', ':'))}")
        Path(path).write_text("\n".join(lines) + "\n")
        result({"bodies": len(lines)})
        return
    from thudo.transit.models import Device, Shape, Trip
    from thudo.transit.tokens import demo_device_token

    walks: list[list[str]] = []
    now = time.time() - 30
    for device in Device.objects.filter(device_id__startswith="GPS-", is_active=True):
        block = device.device_id.removeprefix("GPS-")
        trip = (
            Trip.objects.filter(feed__status="active", block_id=block).order_by("start_s").first()
        )
        shape = Shape.objects.filter(pk=trip.shape_id).first() if trip and trip.shape_id else None
        if trip is None or shape is None or not shape.points:
            continue
        token = demo_device_token(device.device_id)
        points = shape.points
        steps = len(points)
        walk = []
        for r in range(max(1, steps // per)):
            positions = []
            for k in range(per):
                j = min(steps - 1, r * per + k)
                positions.append(
                    {
                        "timestamp": round(now - (steps - (r * per + k)) * 2.0, 3),
                        "latitude": points[j][0],
                        "longitude": points[j][1],
                        "trip_id": trip.trip_id,
                    }
                )
            text = json.dumps({"positions": positions}, separators=(",", ":"))
            walk.append(f"{token}\t{text}")
        walks.append(walk)
    for r in range(max((len(w) for w in walks), default=0)):  # the buses in turn
        lines.extend(w[r] for w in walks if r < len(w))
    warm = max(1, len(lines) // 10)
    Path(path + ".warm").write_text("\n".join(lines[:warm]) + "\n")
    Path(path).write_text("\n".join(lines[warm:]) + "\n")
    result({"bodies": len(lines) - warm, "vehicles": len(walks)})


def _devices_count() -> int:
    from thudo.transit.models import Device

    return Device.objects.filter(device_id__startswith="BENCH-").count()


def inner_tracking_ready() -> None:
    """Whether tracking can be measured: the tracker module and the demo network."""
    _django()
    import importlib.util

    for module in ("thudo.transit.tracker", "thudo.transit.demo"):
        if importlib.util.find_spec(module) is None:
            result({"ready": False, "why": f"{module} is not there yet"})
            return
    from thudo.transit import demo

    try:
        demo.demo_load()
    except Exception as exc:  # the demo is another part's; report, do not fail the bench
        result({"ready": False, "why": f"the transit demo failed to load: {exc!r}"[:300]})
        return
    result({"ready": True, "why": ""})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "inner":
        command, *rest = args[1:]
        if command == "setup":
            inner_setup(int(rest[0]))
        elif command == "direct":
            inner_direct(rest[0], int(rest[1]), int(rest[2]))
        elif command == "publish":
            inner_publish(
                rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]), int(rest[5]), rest[6]
            )
        elif command == "forget-session":
            inner_forget_session(rest[0], rest[1])
        elif command == "bodies":
            inner_bodies(rest[0], int(rest[1]), int(rest[2]), rest[3])
        elif command == "tracking-ready":
            inner_tracking_ready()
        else:
            raise SystemExit(f"unknown command {command!r}")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="200 devices, 20,000 positions, wrk 3 s"
    )
    parser.add_argument("--devices", type=int, help="vehicles with a device (2,000)")
    parser.add_argument("--database", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--duration", help="wrk duration (10s)")
    parser.add_argument("--warmup", help="unmeasured wrk run before each (2s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parsed = parser.parse_args(args)
    quick = parsed.quick or QUICK
    options = Options(
        threads=parsed.threads,
        connections=parsed.connections,
        duration=parsed.duration or ("3s" if quick else "10s"),
        warmup=parsed.warmup or ("1s" if quick else "2s"),
        databases=tuple(parsed.database or ("sqlite", "postgresql")),
    )
    started = time.monotonic()
    try:
        sections = run(options, quick=quick, devices=parsed.devices, own=True)
    except BenchError as exc:
        print(f"transit_ingest: FAILED — {exc}", flush=True)
        return 1
    for s in sections:
        print(s.render() + "\n", flush=True)
    print(f"(transit_ingest: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
