"""Background jobs of the monitoring domain: load, call a service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="thudo.monitoring.tasks.take_snapshots")
def take_snapshots() -> int:
    """Periodic (daily): every indicator's snapshot of today, then every target's status."""
    return services.snapshots_take()


@shared_task(name="thudo.monitoring.tasks.send_reminders")
def send_reminders() -> int:
    """Periodic (daily): remind agencies of tasks and reports coming due, escalate overdue ones."""
    return services.reminders_send()
