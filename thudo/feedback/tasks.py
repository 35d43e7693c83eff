"""Background jobs of the feedback domain: load, call a service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="thudo.feedback.tasks.escalate_breaches")
def escalate_breaches() -> int:
    """Periodic (every 15 minutes): tell the leaders of units past an accept or resolve
    deadline, once per part."""
    return services.reports_breaches_escalate()


@shared_task(name="thudo.feedback.tasks.auto_close")
def auto_close() -> int:
    """Periodic: close answers left unrated for FEEDBACK_AUTO_CLOSE_DAYS working days."""
    return services.reports_auto_close()


@shared_task(name="thudo.feedback.tasks.sweep_orphan_media")
def sweep_orphan_media() -> int:
    """Periodic: delete stored report files that no row refers to."""
    from .media import orphan_media_sweep

    return orphan_media_sweep()
