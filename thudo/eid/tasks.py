"""Background jobs of the e-ID domain."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="thudo.eid.tasks.clear_expired_tokens")
def clear_expired_tokens() -> None:
    """Periodic (hourly): drop the demo provider's expired codes, tokens and ID tokens."""
    from oauth2_provider.models import clear_expired

    clear_expired()
