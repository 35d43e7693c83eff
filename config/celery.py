"""The one Celery application every domain's tasks run on (ADR 0003)."""

import os
from datetime import timedelta

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("thudo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _periodic(sender: Celery, **_: object) -> None:
    """Periodic jobs come from the domain registry, so a domain adds its own."""
    from thudo.core.registry import registry

    for job in registry.periodic_jobs():
        every = job.every.total_seconds() if isinstance(job.every, timedelta) else job.every
        sender.add_periodic_task(every, sender.signature(job.task), name=job.name)
