"""Background jobs of the documents domain."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="thudo.documents.tasks.run_signing_job", acks_late=True)
def run_signing_job(job_id: int) -> dict[str, int]:
    job = services.signing_job_run(job_id=job_id)
    return {"done": job.done, "failed": job.failed}


@shared_task(name="thudo.documents.tasks.sweep_orphan_files")
def sweep_orphan_files() -> int:
    """Periodic (documents/manifest.py): remove stored files no version refers to."""
    return services.orphan_files_sweep()
