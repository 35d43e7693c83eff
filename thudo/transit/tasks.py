"""Background jobs of the transit domain: each loads nothing of its own and calls one function."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="thudo.transit.tasks.sweep_ghosts")
def sweep_ghosts() -> int:
    """Mark buses silent for TRANSIT_GHOST_AFTER_S as ghosts and withdraw their predictions."""
    from .tracker import sweep_ghosts as sweep

    return sweep()


@shared_task(name="thudo.transit.tasks.prune_positions")
def prune_positions() -> int:
    """Drop positions older than 30 days (arrivals, states and predictions stay)."""
    from .ingest import prune_positions as prune

    return prune(older_than_days=30)
