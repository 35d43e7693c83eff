"""Background jobs of the traceability domain: load, call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="thudo.trace.tasks.anchor")
def anchor() -> int:
    """Periodic (hourly): sign the chain heads of the batches whose chains moved; returns how
    many were anchored (0 when none moved)."""
    from thudo.trace.integrity import anchor_now

    made = anchor_now()
    return made.item_count if made else 0
