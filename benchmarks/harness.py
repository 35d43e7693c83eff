"""Shared pieces for the benchmarks: the `thudo` command, throwaway databases, the production
server, wrk, and the result tables that `run.py` prints.

A benchmark module `bench_<name>.py` defines `run(options: Options) -> list[Section]`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THUDO = Path(sys.executable).with_name("thudo")
POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
# The server administration connection (creates and drops the benchmark database).
POSTGRES_ADMIN = os.environ.get(
    "BENCH_POSTGRES_ADMIN",
    f"host={POSTGRES_HOST} port={POSTGRES_PORT} user=postgres dbname=postgres",
)
POSTGRES_DB = os.environ.get("BENCH_POSTGRES_DB", "thudo_bench")


class BenchError(RuntimeError):
    """A benchmark could not run (not a slow result: a broken set-up)."""


@dataclass
class Options:
    threads: int = 2
    connections: int = 16
    duration: str = "10s"
    warmup: str = "2s"
    databases: tuple[str, ...] = ("sqlite", "postgresql")


@dataclass
class Section:
    """One table of results."""

    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        cells = [[_cell(v) for v in row] for row in self.rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(self.columns)]

        def line(values: list[str]) -> str:
            return "  ".join(
                v.ljust(w) if i == 0 or not _numeric(v) else v.rjust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            ).rstrip()

        out = [self.title, line(self.columns), line(["-" * w for w in widths])]
        out += [line(r) for r in cells]
        out += self.notes
        return "\n".join(out)

    def as_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            "notes": self.notes,
        }


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"
    return str(value)


def _numeric(value: str) -> bool:
    return bool(re.fullmatch(r"[\d,.]+", value))


# --- The thudo command on a throwaway installation ------------------------------------------


@dataclass
class Site:
    """A throwaway installation: its own var/ folder and database."""

    name: str  # "sqlite" | "postgresql"
    env: dict[str, str]
    var: Path

    def thudo(self, *args: str, input_env: dict[str, str] | None = None) -> str:
        """Run `thudo ARGS` against this site; returns stdout, raises BenchError on failure."""
        done = subprocess.run(
            [str(THUDO), *args],
            cwd=ROOT,
            env={**self.env, **(input_env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(
                f"thudo {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done.stdout


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((POSTGRES_HOST, POSTGRES_PORT), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def site(name: str) -> Iterator[Site]:
    """A fresh site on SQLite (a file in a temporary folder) or on PostgreSQL (a database
    created for the run and dropped afterwards)."""
    var = Path(tempfile.mkdtemp(prefix=f"thudo-bench-{name}-"))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        THUDO_KEY_PASSPHRASE=secrets.token_urlsafe(32),
        EID_CLIENT_SECRET=secrets.token_urlsafe(32),  # production settings refuse the demo one
        THUDO_VAR_DIR=str(var),
        LOG_LEVEL="WARNING",
    )
    try:
        if name == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{var / 'bench.sqlite3'}"
            yield Site(name, env, var)
        elif name == "postgresql":
            with _postgres_database() as url:
                env["DATABASE_URL"] = url
                yield Site(name, env, var)
        else:
            raise BenchError(f"unknown database {name!r}")
    finally:
        shutil.rmtree(var, ignore_errors=True)


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    import psycopg
    from psycopg import sql

    def admin(statement: sql.Composable) -> None:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(statement)

    name = sql.Identifier(POSTGRES_DB)
    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    admin(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield f"postgres://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"
    finally:
        admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


# --- The production server ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base_url: str
    log: Path


@contextlib.contextmanager
def production_server(where: Site, *args: str) -> Iterator[Server]:
    """`thudo run --no-worker` (gunicorn) on a free port, until the block ends."""
    port = free_port()
    log = where.var / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(THUDO), "run", "--no-worker", "--bind", f"127.0.0.1:{port}", *args],
            cwd=ROOT,
            env=where.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base_url}/api/health", proc, log)
        try:
            yield Server(base_url, log)
        except BenchError as exc:
            state = "running" if proc.poll() is None else f"exited ({proc.returncode})"
            raise BenchError(f"{exc}\nserver {state}, its log ends:\n{tail(log)}") from exc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # thudo run stops gunicorn and waits for it
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the server exited ({proc.returncode}):\n{tail(log)}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 — localhost
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"the server did not answer {url} within 60 s:\n{tail(log)}")


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 — localhost
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: str


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Requests/s and the 50th and 99th latency percentiles from `wrk --latency` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    total = re.search(r"^\s+(\d+) requests in ", output, re.M)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"cannot read wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:\s+(.+)", output)
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else "",
    )


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    return found


def wrk(
    url: str,
    options: Options,
    *,
    headers: dict[str, str] | None = None,
    duration: str | None = None,
) -> WrkResult:
    command = [
        wrk_path(),
        f"-t{options.threads}",
        f"-c{options.connections}",
        f"-d{duration or options.duration}",
        "--latency",
    ]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    done = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)
