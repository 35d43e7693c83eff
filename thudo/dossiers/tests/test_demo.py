"""The demo dossiers: made through the services, in many states, and loaded only once."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest

from thudo.dossiers.models import Dossier, DossierEvent, Rating, Status


@pytest.fixture
def demo_city(hanoi: Any) -> None:
    from thudo.core.registry import registry

    for step in registry.demo_steps():
        if step.order < 60 and step.name != "dossiers":
            step.load()


@pytest.mark.django_db(transaction=False)
def test_demo_dossiers_are_real_and_idempotent(demo_city: None) -> None:
    from thudo.core.models import AuditEvent
    from thudo.dossiers.demo import demo_load
    from thudo.dossiers.index import service_index

    out = io.StringIO()
    demo_load(stdout=out)
    count = Dossier.objects.count()
    assert 50 <= count <= 70, out.getvalue()
    statuses = set(Dossier.objects.values_list("status", flat=True))
    assert {
        Status.SUBMITTED,
        Status.RECEIVED,
        Status.PROCESSING,
        Status.SUPPLEMENT_REQUESTED,
        Status.APPROVED,
        Status.SIGNED,
        Status.RETURNED,
        Status.REFUSED,
    } <= statuses
    assert Dossier.objects.filter(channel="counter").exists()
    assert Dossier.objects.exclude(apologised_at=None).exists()
    assert Dossier.objects.filter(on_time=False).exists()
    assert Rating.objects.exists()
    assert DossierEvent.objects.count() > count
    assert AuditEvent.objects.filter(action__startswith="dossier").exists()
    assert all(d.code for d in Dossier.objects.all())

    demo_load(stdout=out)
    assert Dossier.objects.count() == count

    today = date.today()  # noqa: DTZ011 — the index's period is local dates
    figures = service_index(start=date(today.year - 1, 1, 1), end=date(today.year, 12, 31))
    assert figures.received == count
    assert figures.settled > 0 and figures.in_progress > 0
