"""Background jobs of the accounts domain: load what is needed, call a service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="thudo.accounts.tasks.purge_login_throttles")
def purge_login_throttles() -> int:
    """Periodic (registered in accounts/manifest.py): forget old sign-in throttles."""
    return services.login_throttles_purge()
