"""Background work (ADR 0003) on real brokers with a real worker.

Ordinary tests run tasks eagerly (config/settings/test.py). These tests turn eager mode off for
the project's Celery app, point it at a real broker, start an in-thread worker with
`celery.contrib.testing.worker.start_worker`, and restore everything afterwards:

- the embedded set-up: Kombu's `filesystem://` transport in a temporary folder, results in files;
- Redis (`redis://127.0.0.1:6379/15`, results in Redis);
- RabbitMQ (`amqp://guest:guest@127.0.0.1:5672//`, results over `rpc://`).

The networked brokers skip on a machine without them and fail where THUDO_REQUIRE_SERVICES=1.
Each test uses its own queue name, so runs sharing a broker do not take each other's messages.
"""

from __future__ import annotations

import os
import shelve
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import kombu.pools
import pytest
from celery import Celery
from celery.beat import Scheduler
from celery.contrib.testing.worker import start_worker
from celery.worker import state as worker_state
from django.db import transaction

from config.celery import app as celery_app
from thudo.core import tasks
from thudo.core.registry import Manifest, PeriodicJob, registry
from thudo.core.testing import require_service

REDIS_URL = "redis://127.0.0.1:6379/15"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
RESULT_TIMEOUT = 10  # seconds; a task normally comes back in well under one
BEAT_READY = "beat: Ticking with max interval"

# The app settings these tests change, restored after each test.
_KEYS = (
    "broker_url",
    "broker_transport_options",
    "result_backend",
    "task_always_eager",
    "task_default_queue",
    "worker_hijack_root_logger",
)


@dataclass
class Broker:
    kind: str
    url: str
    result_backend: str
    transport_options: dict[str, Any] = field(default_factory=dict)


def _filesystem_broker(root: Path) -> Broker:
    folders = {name: root / "broker" / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    results = root / "results"
    results.mkdir()
    return Broker(
        kind="filesystem",
        url="filesystem://",
        result_backend=f"file://{results}",
        transport_options={
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
            "store_processed": False,
            "polling_interval": 0.05,  # the default (1 s) would make every test slow
        },
    )


def _reset_connections(app: Any) -> None:
    """Forget the pools, routes and result backends built from the previous configuration.

    Celery keeps them on private attributes (there is no public "reconfigure"), hence `Any`.
    """
    for backend in (app._backend_cache, getattr(app._local, "backend", None)):
        consumer = getattr(backend, "result_consumer", None)
        if consumer is not None:
            with suppress(Exception):
                consumer.stop()
    app._backend_cache = None
    app._local = threading.local()
    app._pool = None
    kombu.pools.reset()  # closes pooled connections and forgets the pools (keyed by URL)
    app.__dict__.pop("amqp", None)  # queues, router and producer pool of the old broker


@contextmanager
def configured(app: Celery, broker: Broker, queue: str = "") -> Iterator[str]:
    """Point `app` at `broker` with eager mode off; yields the queue name the test uses.

    Unless told otherwise the queue is a new one, deleted afterwards.
    """
    saved = {key: app.conf.get(key) for key in _KEYS}
    own_queue = not queue
    queue = queue or f"thudo-test-{uuid.uuid4().hex[:12]}"
    app.conf.update(
        broker_url=broker.url,
        broker_transport_options=broker.transport_options,
        result_backend=broker.result_backend,
        task_always_eager=False,
        task_default_queue=queue,
        worker_hijack_root_logger=False,  # leave pytest's log capture alone
    )
    _reset_connections(app)
    try:
        with app.connection_for_write() as conn:  # as a worker would declare it
            app.amqp.queues[queue](conn.default_channel).declare()
        yield queue
    finally:
        if own_queue:
            with suppress(Exception), app.connection_for_write() as conn:
                app.amqp.queues[queue](conn.default_channel).delete()
        app.conf.update(saved)
        _reset_connections(app)


def queue_size(app: Celery, queue: str) -> int:
    """Messages waiting in `queue` (declared as the worker declares it, which is idempotent)."""
    with app.connection_for_write() as conn:
        declared: Any = app.amqp.queues[queue](conn.default_channel).queue_declare()
        return int(declared.message_count)


@pytest.fixture(params=["filesystem", "redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Broker, str]]:
    if request.param == "filesystem":
        chosen = _filesystem_broker(tmp_path)
    elif request.param == "redis":
        require_service("Redis", "127.0.0.1", 6379)
        chosen = Broker("redis", REDIS_URL, REDIS_URL)
    else:
        require_service("RabbitMQ", "127.0.0.1", 5672)
        chosen = Broker("rabbitmq", RABBITMQ_URL, "rpc://")
    with configured(celery_app, chosen) as queue:
        yield chosen, queue


@contextmanager
def worker(app: Celery) -> Iterator[None]:
    """An in-thread worker (solo pool) consuming the app's default queue."""
    # No ping check: it needs celery's own test task; the test's first round trip is the check.
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=15) as w:
        try:
            yield
        finally:
            # start_worker stops the worker by setting this flag, which the event loop reads
            # only when it wakes (up to 10 s with RabbitMQ): set it and wake the loop now.
            worker_state.should_terminate = 0  # type: ignore[assignment]
            hub = getattr(w, "hub", None)
            if hub is not None:
                hub.call_soon(lambda: None)


def test_a_task_sent_runs_on_the_worker_and_returns_its_result(
    broker: tuple[Broker, str],
) -> None:
    with worker(celery_app):
        result = tasks.ping.delay()
        assert result.get(timeout=RESULT_TIMEOUT) == "pong"
        assert result.successful()


@pytest.mark.django_db(transaction=True)
def test_queued_on_commit_a_rollback_sends_nothing_and_a_commit_sends_once(
    broker: tuple[Broker, str],
) -> None:
    _, queue = broker
    # Given no worker is consuming, what the broker holds is exactly what was sent.
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.enqueue_on_commit(tasks.ping)
        raise RuntimeError("the write fails")
    assert queue_size(celery_app, queue) == 0

    sent: list[Any] = []
    with transaction.atomic():
        transaction.on_commit(lambda: sent.append(tasks.ping.delay()))
        assert sent == []  # nothing leaves before the commit
    assert len(sent) == 1
    assert queue_size(celery_app, queue) == 1  # a worker takes it: see the test above


def test_registry_periodic_jobs_are_in_the_beat_schedule() -> None:
    job = PeriodicJob(name="test: ping every minute", task="thudo.core.tasks.ping", every=60.0)
    registry.register(Manifest(app_label="test_periodic", periodic=[job]))
    try:
        celery_app.finalize()
        # What the app does once at start-up, after every domain has registered.
        celery_app.on_after_finalize.send(sender=celery_app)
        schedule = Scheduler(app=celery_app)  # what beat reads: app.conf.beat_schedule

        for expected in registry.periodic_jobs():
            entry = schedule.schedule[expected.name]
            assert entry.task == expected.task
        every: Any = schedule.schedule[job.name].schedule
        assert every.run_every == timedelta(seconds=60)
    finally:
        registry._manifests.pop("test_periodic", None)
        celery_app.conf.beat_schedule.pop(job.name, None)


def test_thudo_worker_with_the_embedded_broker_processes_a_task_and_schedules_jobs(
    tmp_path: Path,
) -> None:
    """`thudo worker -B` in its own process: the set-up `thudo run` starts beside gunicorn."""
    var = tmp_path / "var"
    results = tmp_path / "results"
    fs = _filesystem_broker_at(var / "broker", results)
    for folder in (
        results,
        *(Path(fs.transport_options[k]) for k in ("data_folder_in", "processed_folder")),
    ):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "THUDO_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'thudo.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_RESULT_BACKEND": f"file://{results}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    thudo = Path(sys.executable).with_name("thudo")
    schedule_file = var / "celerybeat-schedule"
    log = tmp_path / "worker.log"
    command = [str(thudo), "worker", "-B", "--pool", "solo", "--loglevel", "DEBUG"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--schedule", str(schedule_file)],
            cwd=tmp_path,  # whatever the transport writes relative to the working directory
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # `thudo` starts celery as a child: stop the whole group
        )
    try:
        with configured(celery_app, fs, queue="celery"):  # what the worker consumes
            result = tasks.ping.delay()
            assert result.get(timeout=20) == "pong", _tail(log)
        # Beat logs this once it has read the schedule and stored it (at DEBUG level).
        deadline = time.monotonic() + 15
        while BEAT_READY not in _tail(log, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert BEAT_READY in _tail(log, 0), _tail(log)
    finally:
        _stop_group(proc)
    # Beat's own clean-up entry proves beat started even before a domain declares a job.
    expected = {job.name for job in registry.periodic_jobs()} | {"celery.backend_cleanup"}
    assert expected <= _beat_entries(schedule_file), _tail(log)


def _tail(log: Path, chars: int = 4000) -> str:
    text = log.read_text(errors="replace")
    return text[-chars:] if chars else text


def _beat_entries(schedule_file: Path) -> set[str]:
    """The entries beat stored in its schedule file (read once beat has stopped: some dbm
    flavours lock the file while it is open)."""
    with shelve.open(str(schedule_file), flag="r") as store:  # noqa: S301 — beat's own file
        return set(store.get("entries", {}))


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop `thudo worker` and the celery processes it started (warm shutdown, then kill)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (proc.poll() is None or _group_alive(proc.pid)):
        time.sleep(0.1)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting for init do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


def _filesystem_broker_at(folder: Path, results: Path) -> Broker:
    """The broker the settings give a worker whose THUDO_VAR_DIR holds `folder`."""
    return Broker(
        kind="filesystem",
        url="filesystem://",
        result_backend=f"file://{results}",
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.05,
        },
    )
