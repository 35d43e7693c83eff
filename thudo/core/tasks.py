"""Background jobs shared by every domain, and the one way to queue a task (ADR 0003).

A task loads what it needs and calls a service; it holds no business rule of its own. Services
never call `task.delay()` directly inside their transaction: they call `enqueue_on_commit`, so a
rolled-back write queues nothing and a worker never sees a row that is not committed yet.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import transaction


def enqueue_on_commit(task: Any, *args: Any, using: str | None = None, **kwargs: Any) -> None:
    """Queue `task.delay(*args, **kwargs)` once the current transaction commits.

    Outside a transaction (autocommit) Django runs the callback at once.
    """
    transaction.on_commit(lambda: task.delay(*args, **kwargs), using=using)


@shared_task(name="thudo.core.tasks.ping")
def ping() -> str:
    """Health check: a worker that answers "pong" is consuming from the broker."""
    return "pong"
