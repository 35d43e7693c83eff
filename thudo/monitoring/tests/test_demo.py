"""The monitoring demo: officers per responsible agency, approved values with PDF evidence, one
waiting and one returned, tasks done and overdue, the 2025 DTI, 90 days of snapshots; loaded
twice, the second run adds nothing."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from thudo.accounts.models import Membership, User
from thudo.accounts.roles import Role
from thudo.monitoring import programme as data
from thudo.monitoring.models import (
    Indicator,
    Programme,
    ReportedValue,
    Snapshot,
    Status,
    Target,
    Task,
)

from . import factories

media_root = factories.media_root


@pytest.fixture
def demo_city(hanoi: Any) -> None:
    """Units and the accounts' demo (agencies, officials with giamsat.thanhpho)."""
    from thudo.core.registry import registry

    for step in registry.demo_steps():
        if step.name in ("units", "accounts"):
            step.load()


def test_demo_is_skipped_without_the_demo_city(db: Any) -> None:
    from thudo.monitoring.demo import demo_load

    out = io.StringIO()
    demo_load(stdout=out)
    assert "skipped" in out.getvalue()
    assert not Programme.objects.exists()


@pytest.mark.django_db(transaction=False)
def test_demo_monitoring_covers_the_story_and_is_idempotent(
    demo_city: None, media_root: Path
) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from thudo.accounts.demo import demo_totp_key
    from thudo.monitoring.demo import BACKFILL_DAYS, DTI_POINTS, demo_load, officer_username
    from thudo.monitoring.selectors import dti_scores, headline, overdue_by_agency

    out = io.StringIO()
    demo_load(stdout=out)
    assert "monitoring: programme" in out.getvalue()
    programme = Programme.objects.get(code=data.RESOLUTION)
    today = timezone.localdate()

    # a monitoring officer per responsible agency, with the published demo key
    for code in data.responsible_agency_codes():
        username = officer_username(code)
        user = User.objects.get(username=username)
        assert Membership.objects.filter(
            user=user, agency__code=code, role=Role.MONITORING_OFFICER
        ).exists()
        assert TOTPDevice.objects.get(user=user, confirmed=True).key == demo_totp_key(username)
    assert User.objects.filter(username="giamsat.skhcn").exists()

    # approved values for the ended periods, each with a PDF; one waiting, one returned
    values = ReportedValue.objects.select_related("indicator", "reviewed_by")
    approved = values.filter(state=ReportedValue.State.APPROVED)
    assert approved.count() >= 50
    assert set(approved.values_list("reviewed_by__username", flat=True)) == {"giamsat.thanhpho"}
    assert all(v.period.end < today for v in approved)
    sample = approved.first()
    assert sample is not None
    with sample.evidence.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"
    waiting = values.get(state=ReportedValue.State.SUBMITTED)
    returned = values.get(state=ReportedValue.State.REJECTED)
    assert waiting.indicator.code == "xhs-cap-quang-ho-gia-dinh"
    assert returned.indicator.code == "cqs-van-ban-so-phuong-xa" and returned.review_note
    assert waiting.evidence.name and returned.evidence.name

    # tasks: owners, those flagged done are done before their deadline, some overdue
    tasks = Task.objects.filter(target__pillar__programme=programme)
    assert not tasks.filter(owner=None).exists()
    done = tasks.filter(state=Task.State.DONE)
    assert done.count() == sum(1 for t in data.TASKS if t.done)
    assert all(t.done_at is not None and t.done_at.date() <= t.due for t in done)
    overdue = overdue_by_agency(today=today)
    assert sum(len(row.tasks) for row in overdue) >= 5
    missing = {r.indicator.code for row in overdue for r in row.reports}
    assert {"cqs-thanh-tra-so", "cqs-van-ban-so-thap-nhat"} <= missing

    # DTI 2025: entered points plus the infrastructure computed from broadband
    scores = dti_scores(year=2025)
    entered = sum(Decimal(p) for p in DTI_POINTS.values())
    assert scores.total == entered + Decimal(120)
    assert scores.max_total == Decimal(1000)

    # 90 days of snapshots for every indicator, and statuses from them
    indicators = Indicator.objects.filter(target__pillar__programme=programme).count()
    start = today - timedelta(days=BACKFILL_DAYS - 1)
    assert Snapshot.objects.filter(date__gte=start).count() == indicators * BACKFILL_DAYS
    statuses = dict(Target.objects.values_list("code", "status"))
    assert statuses["cqs-dvc-toan-trinh-2025"] == Status.ACHIEVED
    assert statuses["cqs-thanh-tra-so-2025"] == Status.OFF_TRACK
    assert statuses["kts-ty-trong-grdp-2030"] == Status.ON_TRACK
    assert statuses["xhs-thanh-toan-dien-tu-2025"] == Status.NO_DATA
    assert statuses["sh-csdl-ket-noi-2025"] == Status.NO_DATA
    result = headline(programme=programme)
    assert result.total == 19 and result.achieved >= 6

    # again: nothing new
    counts = [
        ReportedValue.objects.count(),
        Task.objects.filter(state=Task.State.DONE).count(),
        User.objects.count(),
        Snapshot.objects.count(),
    ]
    again = io.StringIO()
    demo_load(stdout=again)
    assert "nothing new" in again.getvalue()
    assert counts == [
        ReportedValue.objects.count(),
        Task.objects.filter(state=Task.State.DONE).count(),
        User.objects.count(),
        Snapshot.objects.count(),
    ]
