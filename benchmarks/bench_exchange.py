"""Data exchange (docs/exchange.md): two real nodes on loopback — the round-trip overhead of a
signed exchange call against a direct call to the same provider (p50, p99), and exchange calls
per second on this machine.

The set-up is the two-node deployment of the docs (and of thudo/exchange/tests/test_two_nodes.py),
run with the production server:

  - node "hanoi" (the client's node) and node "ndxp" (the provider's node): each `thudo run
    --no-worker` (gunicorn, production settings) with its own database — PostgreSQL databases
    `bench_ex_hanoi` and `bench_ex_ndxp` at 127.0.0.1:5432 (created for the run, dropped after),
    or SQLite files — its own key file, and the same shared configuration (`thudo exchange config
    import`); only HTTP joins them;
  - the provider system: a tiny WSGI app (`provider_app` below, under gunicorn) that answers
    `GET /person/{personal_id}` with a person document. The service
    VN/GOV/BCA/CSDLQGDC/person on ndxp has it as its target (`http://127.0.0.1:<port>`), so
    "direct" and "through the exchange" end at the same provider process with the same answer
    (the run checks the bodies are byte-identical): direct = client → provider;
    exchange = client → hanoi (client assertion, grant, signature) → ndxp (signature, grant)
    → provider, and back (both answers signed and verified, a message row and a log entry on each
    node);
  - for comparison, VN/GOV/BCA/CSDLQGDC/person-registry on ndxp answers from the registries'
    real handler (handler:registries.population.person, a row of ndxp's database), with no
    back-end hop.

The client is an outside system (VN/GOV/HN-UBND/APP, Ed25519 key) that signs a client assertion
per call, each with its own jti and message id (pre-generated, so signing is not timed). First
every gunicorn worker serves a few calls (a worker imports most of Thudo on its first request).
Latency: sequential calls, one keep-alive connection per server, direct / exchange / registry in
turn. Throughput: wrk against the provider (direct) and against hanoi with a Lua script that
sends each pre-signed (assertion, message id) pair once; the servers' CPU time (Linux /proc) is
divided by the calls. Afterwards every exchange row on both nodes is checked: as many as wrk
read or more, each 200 with no error (the run fails otherwise). Both nodes migrate only the apps
the exchange touches (exchange, registries and what they depend on); ndxp starts as a copy of
hanoi's database.

Log appends per second are measured by bench_exchange_log.py (every exchange appends one entry
on each node).

    .venv/bin/python benchmarks/bench_exchange.py --quick --sqlite
    .venv/bin/python benchmarks/bench_exchange.py --database postgresql --duration 20s
    .venv/bin/python benchmarks/bench_exchange.py --sqlite --profile /tmp/prof   # cProfile
    THUDO_BENCH_EXCHANGE_QUICK=1 .venv/bin/python benchmarks/run.py exchange

`--profile DIR` runs each node as one single-threaded process under cProfile and writes
DIR/hanoi.prof and DIR/ndxp.prof (`python -m pstats`); its figures are not comparable.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import (  # noqa: E402
    POSTGRES_ADMIN,
    POSTGRES_HOST,
    POSTGRES_PORT,
    ROOT,
    THUDO,
    BenchError,
    Options,
    Section,
    WrkResult,
    free_port,
    parse_wrk,
    postgres_reachable,
    tail,
    wrk,
    wrk_path,
)

CLIENT = "VN/GOV/HN-UBND/APP"
PERSON = "VN/GOV/BCA/CSDLQGDC/person"
REGISTRY = "VN/GOV/BCA/CSDLQGDC/person-registry"
PID = "001090123456"
PURPOSE = "1.001193 Đăng ký khai sinh; Nghị định 47/2020/NĐ-CP"
PURPOSE_HEADER = (
    "1.001193%20%C4%90%C4%83ng%20k%C3%BD%20khai%20sinh%3B%20Ngh%E1%BB%8B%20%C4%91%E1%BB%8Bnh"
    "%2047%2F2020%2FN%C4%90-CP"
)
DATABASES = {"hanoi": "bench_ex_hanoi", "ndxp": "bench_ex_ndxp"}
XROAD_EXCHANGE_PER_S = 110.0  # the published X-Road test: ~110/s through, ~1,000/s direct
XROAD_DIRECT_PER_S = 1000.0
CALLS = int(os.environ.get("THUDO_BENCH_EXCHANGE_CALLS", "200"))
QUICK = os.environ.get("THUDO_BENCH_EXCHANGE_QUICK", "") not in ("", "0")
QUICK_CALLS = 100
POOL_PER_S = 5000  # assertions signed per second of a warm-up run (cheap: ~30 µs each)

# --- The provider system: a tiny WSGI app (gunicorn bench_exchange:provider_app) -------------

PERSON_DOCUMENT = {
    "personal_id": PID,
    "full_name": "Nguyễn Văn An",
    "birth_date": "1990-05-17",
    "sex": "male",
    "nationality": "Việt Nam",
    "ethnicity": "Kinh",
    "hometown": "Xã Phú Xuyên, Thành phố Hà Nội",
    "birth_place": "Phường Hoàn Kiếm, Thành phố Hà Nội",
    "permanent_address": {
        "address": "Số 12 phố Hàng Bài",
        "ward_code": "00070",
        "ward_name": "Phường Hoàn Kiếm",
        "province_code": "01",
        "province_name": "Thành phố Hà Nội",
    },
    "household_code": "HK0100700001",
    "relation_to_head": "head",
}
_PERSON_BODY = json.dumps(PERSON_DOCUMENT, ensure_ascii=False, separators=(",", ":")).encode()
_NOT_FOUND = b'{"error":{"code":"person_not_found"}}'


def provider_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The provider system's REST service: GET /person/{personal_id}, GET /health."""
    path = environ.get("PATH_INFO", "")
    if path == "/health":
        status, body = "200 OK", b'{"status":"ok"}'
    elif path == f"/person/{PID}":
        status, body = "200 OK", _PERSON_BODY
    else:
        status, body = "404 Not Found", _NOT_FOUND
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


_profiled: dict[str, Any] = {}


def profiled_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """A node's WSGI application under cProfile (`--profile DIR`; CPU time instead of wall-clock
    time with THUDO_BENCH_PROFILE_CPU=1): the statistics of every
    request so far go to $THUDO_BENCH_PROFILE (pstats format), rewritten at most once a
    second."""
    import cProfile

    if not _profiled:
        from config.wsgi import application

        clock = (
            time.process_time if os.environ.get("THUDO_BENCH_PROFILE_CPU") else time.perf_counter
        )
        _profiled.update(app=application, profile=cProfile.Profile(clock), dumped=0.0)
    profile = _profiled["profile"]
    profile.enable()
    try:
        return _profiled["app"](environ, start_response)
    finally:
        profile.disable()
        if time.monotonic() - _profiled["dumped"] > 1:
            _profiled["dumped"] = time.monotonic()
            profile.dump_stats(os.environ["THUDO_BENCH_PROFILE"])


# --- Keys and client assertions (signed here with `cryptography`, no Django) -----------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class Ed25519:
    """An Ed25519 key pair as JWKs."""

    private: Any  # cryptography Ed25519PrivateKey

    @classmethod
    def generate(cls) -> Ed25519:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate())

    def _raw(self) -> tuple[bytes, bytes]:
        from cryptography.hazmat.primitives import serialization as s

        d = self.private.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
        x = self.private.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
        return d, x

    def public_jwk(self) -> dict[str, str]:
        _d, x = self._raw()
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(x)}
        thumbprint = _b64(
            hashlib.sha256(json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()).digest()
        )
        return {**jwk, "kid": thumbprint, "alg": "EdDSA", "use": "sig"}

    def private_jwk(self) -> dict[str, str]:
        d, _x = self._raw()
        public = self.public_jwk()
        return {k: public[k] for k in ("kty", "crv", "x", "kid")} | {"d": _b64(d)}


_HEADER = _b64(b'{"alg":"EdDSA","typ":"JWT"}')


def assertion(key: Ed25519, aud: str, jti: str, now: int | None = None) -> str:
    """A client assertion (compact JWS, EdDSA) as docs/exchange.md describes it."""
    now = now or int(time.time())
    claims = {"iss": CLIENT, "sub": CLIENT, "aud": aud, "iat": now, "exp": now + 300, "jti": jti}
    signing_input = f"{_HEADER}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    return f"{signing_input}.{_b64(key.private.sign(signing_input.encode()))}"


# --- Databases and the two nodes ---------------------------------------------------------------


@dataclass
class NodeSite:
    code: str
    env: dict[str, str]
    var: Path
    database: str  # "sqlite" | "postgresql"
    db: str  # file path or database name
    url: str = ""
    key: Ed25519 = field(default_factory=Ed25519.generate)

    def thudo(self, *args: str) -> str:
        done = subprocess.run(
            [str(THUDO), *args],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(
                f"{self.code}: thudo {' '.join(args)[:80]} failed ({done.returncode}):\n"
                f"{done.stdout[-2000:]}{done.stderr[-3000:]}"
            )
        return done.stdout

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Read this node's database directly (beside the running server)."""
        if self.database == "sqlite":
            with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as c:
                c.execute("PRAGMA busy_timeout = 20000")
                return list(c.execute(sql))
        import psycopg

        with psycopg.connect(_pg_dsn(self.db), connect_timeout=5) as conn:
            return list(conn.execute(sql))


def _pg_dsn(name: str) -> str:
    return f"host={POSTGRES_HOST} port={POSTGRES_PORT} user=postgres dbname={name}"


def _pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def _drop_pg() -> None:
    for name in DATABASES.values():
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SETUP = """
import datetime
from django.core.management import call_command
call_command("migrate", "exchange", interactive=False, verbosity=0)
call_command("migrate", "registries", interactive=False, verbosity=0)
call_command("exchange", "config", "import", {config!r})
from thudo.registries.models import Person
Person.objects.get_or_create(personal_id={pid!r}, defaults=dict(
    full_name="Nguyễn Văn An", birth_date=datetime.date(1990, 5, 17), sex="male", eid_level=2))
"""


def _config(hanoi: NodeSite, ndxp: NodeSite, client: Ed25519, provider_url: str) -> dict:
    return {
        "version": 1,
        "nodes": [
            {"code": n.code, "name": n.code.upper(), "base_url": n.url, "public_jwk": jwk}
            for n, jwk in ((hanoi, hanoi.key.public_jwk()), (ndxp, ndxp.key.public_jwk()))
        ],
        "members": [
            {"identifier": "VN/GOV/HN-UBND", "name": "UBND thành phố Hà Nội"},
            {"identifier": "VN/GOV/BCA", "name": "Bộ Công an"},
        ],
        "systems": [
            {
                "identifier": CLIENT,
                "name": "Ứng dụng iHanoi",
                "node": "hanoi",
                "public_jwk": client.public_jwk(),
            },
            {"identifier": "VN/GOV/BCA/CSDLQGDC", "name": "CSDLQG về dân cư", "node": "ndxp"},
        ],
        "services": [
            {
                "identifier": PERSON,
                "name": "Thông tin công dân (hệ thống của bộ)",
                "target": provider_url,
                "personal_data": True,
                "timeout_s": 10,
            },
            {
                "identifier": REGISTRY,
                "name": "Thông tin công dân (handler)",
                "target": "handler:registries.population.person",
                "personal_data": True,
                "timeout_s": 10,
            },
        ],
        "grants": [
            {"service": s, "client": CLIENT, "legal_basis": "Nghị định 47/2020/NĐ-CP"}
            for s in (PERSON, REGISTRY)
        ],
    }


def _base_env(var: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CACHE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        THUDO_KEY_PASSPHRASE=secrets.token_urlsafe(32),
        EID_CLIENT_SECRET=secrets.token_urlsafe(32),  # production settings require one
        THUDO_VAR_DIR=str(var),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class Servers:
    hanoi: NodeSite
    ndxp: NodeSite
    provider_url: str
    client: Ed25519
    workers: int
    sessions: dict[str, int] = field(default_factory=dict)  # server name -> session id

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each server's processes (Linux /proc;
        empty elsewhere)."""
        return cpu_seconds(self.sessions)


def cpu_seconds(sessions: dict[str, int]) -> dict[str, float]:
    by_session = {sid: name for name, sid in sessions.items()}
    totals = dict.fromkeys(sessions, 0.0)
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = by_session.get(int(fields[3]))  # session id
        if name is not None:
            totals[name] += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return totals


@contextlib.contextmanager
def two_nodes(database: str, workers: int, profile: Path | None = None) -> Iterator[Servers]:
    """Both nodes' databases, configuration, and the three servers, until the block ends."""
    root = Path(tempfile.mkdtemp(prefix=f"thudo-bench-exchange-{database}-"))
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    nodes: list[NodeSite] = []
    try:
        for code in ("hanoi", "ndxp"):
            var = root / code
            var.mkdir()
            env = _base_env(var)
            if database == "sqlite":
                db = str(var / "node.sqlite3")
                env["DATABASE_URL"] = f"sqlite:///{db}"
            else:
                db = DATABASES[code]
                env["DATABASE_URL"] = f"postgres://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{db}"
            node = NodeSite(code, env, var, database, db, url=f"http://127.0.0.1:{free_port()}")
            key_file = var / "node-key.json"
            key_file.write_text(json.dumps(node.key.private_jwk()))
            key_file.chmod(0o600)
            env.update(
                EXCHANGE_NODE_CODE=code,
                EXCHANGE_NODE_KEY_FILE=str(key_file),
                EXCHANGE_NODE_URL=node.url,
                WEB_CONCURRENCY=str(workers),
            )
            nodes.append(node)
        hanoi, ndxp = nodes
        client = Ed25519.generate()
        provider_url = f"http://127.0.0.1:{free_port()}"
        config = root / "exchange-config.json"
        config.write_text(
            json.dumps(_config(hanoi, ndxp, client, provider_url), ensure_ascii=False)
        )

        # One node is migrated and configured (the configuration is shared); the other starts
        # as a copy of its database.
        if database == "postgresql":
            _drop_pg()
            _pg_admin(f'CREATE DATABASE "{hanoi.db}"')
        hanoi.thudo("shell", "-c", SETUP.format(config=str(config), pid=PID))
        if database == "postgresql":
            _pg_admin(f'CREATE DATABASE "{ndxp.db}" TEMPLATE "{hanoi.db}"')
        else:
            with (
                contextlib.closing(sqlite3.connect(hanoi.db)) as src,
                contextlib.closing(sqlite3.connect(ndxp.db)) as dst,
            ):
                src.backup(dst)

        provider_log = root / "provider.log"
        with provider_log.open("wb") as out:
            procs.append(
                (
                    "provider",
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "gunicorn",
                            "--chdir",
                            str(HERE),
                            "bench_exchange:provider_app",
                            "--bind",
                            provider_url.removeprefix("http://"),
                            "--workers",
                            str(workers),
                            "--threads",
                            "2",
                            "--log-level",
                            "warning",
                        ],
                        cwd=HERE,
                        env=_base_env(root),
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    ),
                    provider_log,
                )
            )
        for node in nodes:
            log = node.var / "server.log"
            with log.open("wb") as out:
                bind = node.url.removeprefix("http://")
                command = [str(THUDO), "run", "--no-worker", "--bind", bind]
                if profile is not None:  # one process, one thread, under cProfile
                    node.env["THUDO_BENCH_PROFILE"] = str(profile / f"{node.code}.prof")
                    command = [
                        *("python", "-m", "gunicorn", "bench_exchange:profiled_app"),
                        *("--pythonpath", str(HERE), "--bind", bind, "--threads", "1"),
                    ]
                    command[0] = sys.executable
                proc = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=node.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            procs.append((node.code, proc, log))
        _wait_up(procs[0], f"{provider_url}/health")
        for node, entry in zip(nodes, procs[1:], strict=True):
            _wait_up(entry, f"{node.url}/exchange/r1/.well-known/jwks.json")
        try:
            sessions = {name: proc.pid for name, proc, _log in procs}
            yield Servers(hanoi, ndxp, provider_url, client, workers, sessions)
        except BenchError as exc:
            logs = "\n".join(f"--- {name}:\n{_errors_logged(log)}" for name, _p, log in procs)
            raise BenchError(f"{exc}\n{logs}") from exc
    finally:
        for _name, proc, _log in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _name, proc, _log in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if database == "postgresql":
            with contextlib.suppress(Exception):
                _drop_pg()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def _errors_logged(log: Path, lines: int = 15) -> str:
    """The end of a server's log without its access log lines."""
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join([ln for ln in text if not ln.startswith("127.0.0.1 - ")][-lines:])


def _wait_up(entry: tuple[str, subprocess.Popen[bytes], Path], url: str) -> None:
    name, proc, log = entry
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited ({proc.returncode}):\n{tail(log)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _h, _b = _get_once(url, {})
            if status == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"{name} did not answer {url} within 90 s:\n{tail(log)}")


def _get_once(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    host, _sep, path = url.removeprefix("http://").partition("/")
    conn = http.client.HTTPConnection(host, timeout=30)
    try:
        conn.request("GET", "/" + path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# --- Calls ---------------------------------------------------------------------------------------


class Caller:
    """One keep-alive connection to a server; `get(path, headers)` -> (status, headers, body,
    seconds)."""

    def __init__(self, base_url: str) -> None:
        self.host = base_url.removeprefix("http://")
        self.conn = http.client.HTTPConnection(self.host, timeout=60)

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, float]:
        t0 = time.perf_counter()
        try:
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # the server closed an idle keep-alive connection: once more
            self.conn = http.client.HTTPConnection(self.host, timeout=60)
            t0 = time.perf_counter()
            self.conn.request("GET", path, headers=headers)
            response = self.conn.getresponse()
            body = response.read()
        elapsed = time.perf_counter() - t0
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, elapsed


def _exchange_path(service: str) -> str:
    return f"/exchange/r1/{service}/person/{PID}"


def _common_headers() -> dict[str, str]:
    return {"Thudo-Purpose": PURPOSE_HEADER, "Thudo-Subject": PID}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    n: int


def warm_up(s: Servers, run_id: str) -> int:
    """Every worker of both nodes serves its first exchange before anything is timed (a gunicorn
    worker imports most of the application on its first request): bursts of concurrent calls,
    more connections than the nodes have threads, until a whole burst answers quickly. Returns
    the number of calls made."""
    from concurrent.futures import ThreadPoolExecutor

    width = 4 * s.workers
    made = 0

    def one(n: int) -> float:
        caller = Caller(s.hanoi.url)
        slowest = 0.0
        for service in (PERSON, REGISTRY):
            mid = f"{run_id}{n:08d}{service[-1]}"
            headers = {
                **_common_headers(),
                "Authorization": f"Bearer {assertion(s.client, s.hanoi.url, mid)}",
                "Thudo-Message-Id": mid,
            }
            status, _h, body, elapsed = caller.get(_exchange_path(service), headers)
            if status != 200:
                raise BenchError(f"warm-up call answered {status}: {body[:300]!r}")
            slowest = max(slowest, elapsed)
        caller.conn.close()
        return slowest

    with ThreadPoolExecutor(max_workers=width) as pool:
        for burst in range(8):
            slowest = max(pool.map(one, range(made, made + width)))
            made += width
            if burst and slowest < 0.5:
                break
    return made * 2


def measure_latency(s: Servers, calls: int, run_id: str) -> dict[str, Latency]:
    """Sequential calls: direct, through the exchange (provider app), through the exchange
    (registry handler), one after another so drift touches all three alike."""
    direct, hanoi = Caller(s.provider_url), Caller(s.hanoi.url)
    kinds: dict[str, list[float]] = {"direct": [], "exchange": [], "registry": []}
    warmup = max(20, calls // 10)
    for i in range(warmup + calls):
        headers = {**_common_headers(), "Thudo-Message-Id": f"{run_id}d{i:08d}"}
        status, _h, body, t_direct = direct.get(f"/person/{PID}", headers)
        if status != 200 or body != _PERSON_BODY:
            raise BenchError(f"direct call answered {status}: {body[:200]!r}")
        times = {"direct": t_direct}
        for kind, service in (("exchange", PERSON), ("registry", REGISTRY)):
            mid = f"{run_id}{kind[0]}{i:08d}"
            headers = {
                **_common_headers(),
                "Authorization": f"Bearer {assertion(s.client, s.hanoi.url, mid)}",
                "Thudo-Message-Id": mid,
            }
            status, rheaders, body, elapsed = hanoi.get(_exchange_path(service), headers)
            if status != 200 or "thudo-signature" not in rheaders:
                raise BenchError(f"exchange call ({kind}) answered {status}: {body[:300]!r}")
            if kind == "exchange" and body != _PERSON_BODY:
                raise BenchError("the exchange's answer differs from the provider's own")
            times[kind] = elapsed
        if i >= warmup:
            for kind, t in times.items():
                kinds[kind].append(t * 1000)
    return {
        kind: Latency(_percentile(v, 50), _percentile(v, 99), len(v)) for kind, v in kinds.items()
    }


# --- Throughput: wrk, with one pre-signed (assertion, message id) pair per request ---------------

LUA = r"""
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  pool = {}
  for line in io.lines(PREFIX .. tid .. ".txt") do pool[#pool + 1] = line end
  size = #pool
  i = 0
end
function request()
  i = i + 1
  local line = pool[i]
  if line == nil then
    return wrk.format("GET", "/exchange/r1/.well-known/jwks.json")
  end
  local tab = string.find(line, "\t", 1, true)
  local headers = {}
  headers["Authorization"] = "Bearer " .. string.sub(line, 1, tab - 1)
  headers["Thudo-Message-Id"] = string.sub(line, tab + 1)
  headers["Thudo-Purpose"] = PURPOSE
  headers["Thudo-Subject"] = SUBJECT
  return wrk.format("GET", PATH, headers)
end
function done(summary, latency, requests)
  local used, total = 0, 0
  for _, t in ipairs(threads) do
    used = used + t:get("i")
    total = total + t:get("size")
  end
  io.write(string.format("POOL %d %d\n", used, total))
end
"""


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", duration.strip())
    if not match:
        raise BenchError(f"cannot read the duration {duration!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]
    return float(match.group(1)) * scale


@dataclass
class Throughput:
    result: WrkResult
    pool_used: int = 0
    pool_size: int = 0
    cpu_s: dict[str, float] = field(default_factory=dict)  # per server, during the run

    def cpu_ms_per_call(self) -> dict[str, float]:
        n = max(1, self.result.requests)
        return {name: round(seconds * 1000 / n, 3) for name, seconds in self.cpu_s.items()}


def _cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def _pool(s: Servers, folder: Path, run_id: str, size: int, threads: int) -> str:
    """`size` (assertion, message id) pairs split into one file per wrk thread; returns the
    files' prefix."""
    prefix = str(folder / f"{run_id}-")
    now = int(time.time())
    files = [open(f"{prefix}{t}.txt", "w") for t in range(threads)]  # noqa: SIM115
    try:
        for n in range(size):
            mid = f"{run_id}{n:09d}"
            files[n % threads].write(f"{assertion(s.client, s.hanoi.url, mid, now)}\t{mid}\n")
    finally:
        for f in files:
            f.close()
    return prefix


def _wrk_exchange(
    s: Servers, options: Options, folder: Path, run_id: str, duration: str, size: int, path: str
) -> Throughput:
    prefix = _pool(s, folder, run_id, size, options.threads)
    script = folder / f"{run_id}.lua"
    constants = {
        "PREFIX": prefix,
        "PATH": path,
        "PURPOSE": PURPOSE_HEADER,
        "SUBJECT": PID,
    }
    script.write_text(
        "".join(f"{k} = {json.dumps(v)}\n" for k, v in constants.items()) + LUA, encoding="utf-8"
    )
    command = [
        wrk_path(),
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{duration}",
        "--timeout",
        "20s",  # a slow answer is latency, not an error
        "--latency",
        "-s",
        str(script),
        s.hanoi.url + path,
    ]
    cpu_before = s.cpu_s()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    cpu = _cpu_delta(cpu_before, s.cpu_s())
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    pool = re.search(r"^POOL (\d+) (\d+)$", done.stdout, re.M)
    if not pool:
        raise BenchError(f"wrk printed no pool figures:\n{done.stdout}")
    for f in folder.glob(f"{run_id}-*.txt"):
        f.unlink()
    return Throughput(parse_wrk(done.stdout), int(pool.group(1)), int(pool.group(2)), cpu)


def measure_throughput(
    s: Servers, options: Options, run_id: str, service: str
) -> tuple[Throughput, int]:
    """Calls per second through the exchange: a warm-up run, then the measured run with a pool
    sized from the warm-up's rate (once more with a bigger pool if it ran out). Returns the run
    and the number of requests wrk sent in all (for the check of the rows)."""
    path = _exchange_path(service)
    with tempfile.TemporaryDirectory(prefix="thudo-bench-exchange-pool-") as tmp:
        folder = Path(tmp)
        warm_s = _seconds(options.warmup)
        sent = 0
        if warm_s > 0:
            warm = _wrk_exchange(
                s,
                options,
                folder,
                f"{run_id}w",
                options.warmup,
                int(warm_s * POOL_PER_S) + 100 * options.connections,
                path,
            )
            sent += min(warm.pool_used, warm.pool_size)
            rate = max(warm.result.requests_per_s, 200.0)
        else:
            rate = float(POOL_PER_S)
        size = int(rate * 1.6 * _seconds(options.duration)) + 50 * options.connections
        for attempt in range(3):
            measured = _wrk_exchange(
                s, options, folder, f"{run_id}m{attempt}", options.duration, size, path
            )
            sent += min(measured.pool_used, measured.pool_size)
            if measured.pool_used <= measured.pool_size:
                return measured, sent
            size *= 3
    raise BenchError("the pre-signed assertions ran out three times")


def _rows_check(s: Servers) -> dict[str, Any]:
    """Every exchange on both nodes: its status and error, by side."""
    sql = (
        "SELECT side, status, error_code, COUNT(*) FROM exchange_message "
        "WHERE side IN ('client', 'provider') GROUP BY side, status, error_code"
    )
    out: dict[str, Any] = {}
    for node in (s.hanoi, s.ndxp):
        rows = node.rows(sql)
        ok = sum(n for _side, status, error, n in rows if status == 200 and not error)
        bad = [
            (side, status, error, n) for side, status, error, n in rows if status != 200 or error
        ]
        out[node.code] = {"ok": ok, "bad": bad}
    return out


# --- One database ----------------------------------------------------------------------------


def measure(
    database: str,
    options: Options,
    calls: int,
    workers: int,
    handler: bool,
    profile: Path | None = None,
) -> dict[str, Any]:
    started = time.monotonic()
    figures: dict[str, Any] = {"database": database, "workers": workers}
    if profile is not None:
        profile = profile / database
        profile.mkdir(parents=True, exist_ok=True)
    with two_nodes(database, workers, profile) as s:
        figures["setup_s"] = round(time.monotonic() - started, 1)
        run_id = uuid.uuid4().hex[:8]
        warmed = warm_up(s, f"bw{run_id}")
        latency = measure_latency(s, calls, f"bl{run_id}")
        figures["latency"] = {k: vars(v) for k, v in latency.items()}
        sequential = calls * 2 + max(20, calls // 10) * 2 + warmed

        # Direct: the provider with the same headers (it ignores them).
        direct_headers = {
            **_common_headers(),
            "Thudo-Message-Id": f"bd{run_id}direct",
        }
        url = f"{s.provider_url}/person/{PID}"
        if _seconds(options.warmup) > 0:
            wrk(url, options, headers=direct_headers, duration=options.warmup)
        cpu_before = s.cpu_s()
        direct = Throughput(wrk(url, options, headers=direct_headers))
        direct.cpu_s = _cpu_delta(cpu_before, s.cpu_s())
        figures["direct"] = vars(direct.result) | {"cpu_ms": direct.cpu_ms_per_call()}

        exchange, sent = measure_throughput(s, options, f"bt{run_id}", PERSON)
        figures["exchange"] = vars(exchange.result) | {"cpu_ms": exchange.cpu_ms_per_call()}
        if handler:
            registry, sent_r = measure_throughput(s, options, f"br{run_id}", REGISTRY)
            figures["registry"] = vars(registry.result) | {"cpu_ms": registry.cpu_ms_per_call()}
            sent += sent_r
        deadline = time.monotonic() + 60
        while True:  # the calls still in flight when wrk stopped finish (status NULL until then)
            check = _rows_check(s)
            in_flight = [
                b for code in check for b in check[code]["bad"] if b[1] is None and not b[2]
            ]
            if not in_flight or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        figures["rows"] = check
        # wrk counts the answers it read; the nodes finish the ones in flight when it stops.
        for code in ("hanoi", "ndxp"):
            if check[code]["bad"]:
                raise BenchError(
                    f"{database}, {code}: exchanges that failed or never finished "
                    f"(side, status, error, count): {check[code]['bad'][:5]}"
                )
            if not exchange.result.requests + sequential <= check[code]["ok"] <= sent + sequential:
                raise BenchError(
                    f"{code}: {check[code]['ok']} exchanges stored, wrk read "
                    f"{exchange.result.requests} answers of {sent} sent (+{sequential} sequential)"
                )
        for name in ("direct", "exchange", "registry"):
            if name in figures and figures[name]["non_2xx"]:
                raise BenchError(f"{name}: {figures[name]['non_2xx']} answers were not 2xx")
        figures["sent"] = sent + sequential
    figures["total_s"] = round(time.monotonic() - started, 1)
    return figures


def _errors(f: dict[str, Any]) -> int:
    """Answers that were not 2xx, and connections wrk saw fail or time out."""
    return int(f["non_2xx"]) + sum(int(n) for n in re.findall(r"\d+", f["socket_errors"]))


def _cpu_text(cpu: dict[str, float]) -> str:
    if not cpu:
        return ""
    return f"{sum(cpu.values()):.2f}"


def sections(results: list[dict[str, Any]], notes: list[str], options: Options) -> list[Section]:
    workers = results[0]["workers"] if results else 0
    latency = Section(
        title=(
            "Data exchange — round trip, sequential calls (one client, keep-alive): direct to "
            "the provider vs through two nodes (hanoi -> ndxp -> provider)"
        ),
        columns=["database", "call", "calls", "p50 ms", "p99 ms", "overhead p50", "overhead p99"],
    )
    rate = Section(
        title=(
            f"Data exchange — calls per second, wrk -t{options.threads} -c{options.connections} "
            f"-d{options.duration} (each node and the provider: gunicorn, {workers} workers x 2 "
            f"threads; all on this machine, {os.cpu_count()} CPUs)"
        ),
        columns=[
            "database",
            "call",
            "calls/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "server CPU ms/call",
            "ratio",
        ],
    )
    for r in results:
        db, lat = r["database"], r["latency"]
        d = lat["direct"]
        latency.rows.append(
            [db, "direct (client -> provider app)", d["n"], d["p50_ms"], d["p99_ms"], "", ""]
        )
        for kind, label in (
            ("exchange", "through the exchange (same provider app)"),
            ("registry", "through the exchange (registry handler on ndxp)"),
        ):
            x = lat[kind]
            latency.rows.append(
                [
                    db,
                    label,
                    x["n"],
                    x["p50_ms"],
                    x["p99_ms"],
                    f"+{x['p50_ms'] - d['p50_ms']:.2f} ms ({x['p50_ms'] / d['p50_ms']:.1f}x)",
                    f"+{x['p99_ms'] - d['p99_ms']:.2f} ms ({x['p99_ms'] / d['p99_ms']:.1f}x)",
                ]
            )
        direct, through = r["direct"], r["exchange"]
        rows = [
            ("direct (client -> provider app)", direct, XROAD_DIRECT_PER_S, "X-Road's direct"),
            (
                "through the exchange (same provider app)",
                through,
                XROAD_EXCHANGE_PER_S,
                "X-Road's 110/s",
            ),
        ]
        if "registry" in r:
            rows.append(
                (
                    "through the exchange (registry handler)",
                    r["registry"],
                    XROAD_EXCHANGE_PER_S,
                    "X-Road's 110/s",
                )
            )
        for label, f, reference, name in rows:
            rate.rows.append(
                [
                    db,
                    label,
                    f["requests_per_s"],
                    f["p50_ms"],
                    f["p99_ms"],
                    _errors(f),
                    _cpu_text(f["cpu_ms"]),
                    f"{f['requests_per_s'] / reference:.2f}x {name}",
                ]
            )
        stored = r["rows"]
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in through["cpu_ms"].items())
        rate.notes.append(
            f"{db}: exchange / direct calls/s "
            f"{through['requests_per_s'] / direct['requests_per_s']:.3f} (X-Road's published "
            f"test: {XROAD_EXCHANGE_PER_S / XROAD_DIRECT_PER_S:.2f}); CPU ms per exchange call: "
            f"{cpu}; {stored['hanoi']['ok']:,} exchanges stored on hanoi and "
            f"{stored['ndxp']['ok']:,} on ndxp, every one 200 with no error; set-up "
            f"{r['setup_s']:.0f} s"
        )
    latency.notes.append(
        "an exchange call: client assertion verified (EdDSA) and its jti stored, grant checked, "
        "request signed on hanoi and verified on ndxp, grant checked again, the provider "
        "called, the answer signed on ndxp and verified on hanoi, a message row and a log "
        "entry on each node; a direct call reaches the same provider process"
    )
    rate.notes += notes
    rate.notes.append(
        "server CPU: user + system time of the servers' processes during the run / calls "
        "(all servers share this machine's CPUs with wrk); every exchange appends one log entry "
        "on each node — log appends per second alone: bench_exchange_log.py"
    )
    return [latency, rate]


def _measure_all(
    options: Options, calls: int, handler: bool, profile: Path | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    workers = int(os.environ.get("WEB_CONCURRENCY") or min(4, (os.cpu_count() or 1) * 2))
    if profile is not None:
        workers = 1
    results, notes = [], []
    for database in options.databases:
        if database == "postgresql" and not postgres_reachable():
            notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
            continue
        results.append(measure(database, options, calls, workers, handler, profile))
    return results, notes


def run(options: Options, calls: int | None = None, handler: bool = False) -> list[Section]:
    """run.py's entry point (THUDO_BENCH_EXCHANGE_QUICK=1: the --quick sizes;
    THUDO_BENCH_EXCHANGE_CALLS: sequential calls of each kind)."""
    if QUICK and calls is None:
        options, calls = _quick(options), QUICK_CALLS
    results, notes = _measure_all(options, calls or CALLS, handler)
    return sections(results, notes, options)


def _quick(options: Options) -> Options:
    return replace(options, duration="3s", warmup="1s")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_CALLS} calls, wrk 3 s (+1 s warm-up)"
    )
    parser.add_argument("--calls", type=int, help=f"sequential calls of each kind ({CALLS})")
    parser.add_argument("--duration", help="wrk duration (10s)")
    parser.add_argument("--warmup", help="unmeasured wrk run before each (2s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument(
        "--database",
        action="append",
        choices=["sqlite", "postgresql"],
        help="only this database (repeatable; default: both)",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    parser.add_argument(
        "--handler", action="store_true", help="also calls/s through the registry handler"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="run the nodes under cProfile, stats in DIR"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    options = Options(
        threads=args.threads,
        connections=args.connections,
        databases=("sqlite",) if args.sqlite else tuple(args.database or ("sqlite", "postgresql")),
    )
    calls = args.calls
    if args.quick:
        options = _quick(options)
        calls = calls or QUICK_CALLS
    options = replace(
        options,
        duration=args.duration or options.duration,
        warmup=args.warmup or options.warmup,
    )
    started = time.monotonic()
    try:
        results, notes = _measure_all(options, calls or CALLS, args.handler, args.profile)
    except BenchError as exc:
        print(f"exchange: FAILED — {exc}", flush=True)
        return 1
    for section in sections(results, notes, options):
        print(section.render() + "\n", flush=True)
    if args.json:
        print("RESULT " + json.dumps(results))
    print(f"(exchange: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
