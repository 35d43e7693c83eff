"""Background jobs of the dossiers domain: load, call a service."""

from __future__ import annotations

from celery import shared_task

from . import services
from .models import Dossier


@shared_task(
    name="thudo.dossiers.tasks.issue_receipt",
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def issue_receipt(dossier_id: int) -> str:
    """Make and sign the receipt (form 01). Submissions no longer queue it: the receipt is made
    on the first request for it (ADR 0010); the task stays for messages queued before that and
    for operators who want to issue receipts ahead of time."""
    dossier = Dossier.objects.filter(pk=dossier_id).first()
    if dossier is None or not dossier.code:
        return ""
    return str(services.dossier_receipt_issue(dossier=dossier).public_id)


@shared_task(name="thudo.dossiers.tasks.remind")
def remind() -> dict[str, int]:
    """Periodic (dossiers/manifest.py): reminders before the deadline, escalation after it."""
    return services.dossiers_remind()


@shared_task(name="thudo.dossiers.tasks.sweep_orphan_files")
def sweep_orphan_files() -> int:
    """Periodic (dossiers/manifest.py): delete stored papers no file row refers to."""
    from .uploads import orphan_files_sweep

    return orphan_files_sweep()
