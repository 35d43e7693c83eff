"""Background jobs of the exchange: load, call a service."""

from __future__ import annotations

from celery import shared_task

from . import log


@shared_task(name="thudo.exchange.tasks.sign_tree_head")
def sign_tree_head() -> int | None:
    """Periodic (every minute): sign the log's size and root when it grew; returns the signed
    size (None when nothing was new)."""
    head = log.sign_tree_head()
    return head.tree_size if head else None
