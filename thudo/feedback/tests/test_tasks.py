"""The periodic jobs: each task calls its service (tasks run eagerly in tests)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from thudo.feedback import tasks
from thudo.feedback.models import Assignment, ReportMedia, ReportStatus

from . import factories
from .factories import photo, submit

# The domain's fixtures (assigned, not imported, so that test arguments may share the names).
fb = factories.fb
media_root = factories.media_root

pytestmark = pytest.mark.django_db


def test_escalate_breaches_runs_the_service(fb: Any) -> None:
    now = timezone.now()
    submit(fb, now=now - timedelta(days=10))
    assert tasks.escalate_breaches.delay().get() == 1
    assert Assignment.objects.get().escalated_at is not None
    assert tasks.escalate_breaches.delay().get() == 0


def test_auto_close_runs_the_service(fb: Any) -> None:
    from thudo.feedback import services

    start = timezone.now() - timedelta(days=30)
    report = submit(fb, now=start)
    services.report_accept(user=fb.ward_officer, report=report, now=start + timedelta(hours=1))
    services.report_answer(
        user=fb.ward_officer,
        report=report,
        text="Đã trả lời",
        resolution="answered",
        now=start + timedelta(hours=2),
    )
    assert tasks.auto_close.delay().get() == 1
    report.refresh_from_db()
    assert report.status == ReportStatus.CLOSED


def test_sweep_removes_only_old_orphans(fb: Any, media_root: Any) -> None:
    import os

    report = submit(fb, media=[photo()])
    kept = ReportMedia.objects.get(report=report).file.path
    folder = os.path.dirname(kept)
    orphan = os.path.join(folder, "orphan.jpg")
    fresh = os.path.join(folder, "fresh.jpg")
    for path in (orphan, fresh):
        with open(path, "wb") as handle:
            handle.write(b"x")
    old = timezone.now().timestamp() - 7200
    os.utime(orphan, (old, old))
    os.utime(kept, (old, old))
    assert tasks.sweep_orphan_media.delay().get() == 1
    assert os.path.exists(kept) and os.path.exists(fresh) and not os.path.exists(orphan)
