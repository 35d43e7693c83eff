"""Reads: who sees what, the officials' queue (order, filters, a fixed number of queries), the
public look-up (no personal data unless proven), the timeline and the allowed actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.utils import translation

from thudo.core.errors import NotFound
from thudo.dossiers import selectors, services
from thudo.dossiers.models import Dossier, Status

from .factories import HCM, submit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=HCM)


def test_visibility(
    procedure: Any,
    applicant: Any,
    other_citizen: Any,
    staff: Any,
    make_official: Any,
    make_agency: Any,
) -> None:
    mine = submit(procedure=procedure, applicant=applicant)
    draft = services.dossier_draft_save(procedure=procedure, applicant=applicant, data={})
    theirs = submit(procedure=procedure, applicant=other_citizen)
    assert set(selectors.dossiers_visible_to(applicant)) == {mine, draft}
    assert set(selectors.dossiers_visible_to(other_citizen)) == {theirs}
    # Officials see their agency's dossiers but never drafts.
    assert set(selectors.dossiers_visible_to(staff.receiving)) == {mine, theirs}
    with pytest.raises(NotFound):
        selectors.dossier_for(staff.receiving, public_id=draft.public_id)
    assert selectors.dossier_for(applicant, public_id=draft.public_id) == draft
    # A city-level official (the ward's parent) sees them too; anonymous users nothing.
    city_auditor = make_official("agency_admin", mine.receiving_agency.parent)
    assert set(selectors.dossiers_visible_to(city_auditor)) == {mine, theirs}
    from django.contrib.auth.models import AnonymousUser

    assert not selectors.dossiers_visible_to(AnonymousUser()).exists()
    with pytest.raises(NotFound):
        selectors.dossier_for(applicant, public_id="not-a-uuid")


def test_queue_order_filters_and_fixed_queries(
    procedure: Any,
    applicant: Any,
    staff: Any,
    django_assert_num_queries: Any,
) -> None:
    early = submit(procedure=procedure, applicant=applicant, now=at(10, 9))  # due 12th: overdue
    soon = submit(procedure=procedure, applicant=applicant, now=at(15, 9))  # due 18th 9:00
    later = submit(procedure=procedure, applicant=applicant, now=at(16, 9))  # due 19th 9:00
    paused = services.dossier_request_supplement(
        dossier=submit(procedure=procedure, applicant=applicant, now=at(15, 8)),
        actor=staff.receiving,
        missing=[{"name": "Tờ khai", "note": ""}],
        now=at(15, 10),
    )
    refused = services.dossier_refuse(
        dossier=submit(procedure=procedure, applicant=applicant, now=at(15, 9)),
        actor=staff.receiving,
        reasons=["x"],
    )
    now = at(17, 10)
    queue = list(selectors.dossier_queue(user=staff.receiving, now=now))
    assert queue == [early, soon, later, paused]  # overdue first, soonest next, paused last
    assert refused not in queue
    overdue = selectors.dossier_queue(user=staff.receiving, due="overdue", now=now)
    assert list(overdue) == [early]
    assert list(selectors.dossier_queue(user=staff.receiving, due="soon", now=now)) == [soon]
    assert list(selectors.dossier_queue(user=staff.receiving, status=Status.REFUSED, now=now)) == [
        refused
    ]
    assert list(selectors.dossier_queue(user=staff.receiving, q=soon.code[:-1], now=now))
    assert list(selectors.dossier_queue(user=staff.receiving, q=soon.code, now=now)) == [soon]
    by_id = selectors.dossier_queue(user=staff.receiving, q="001090123456", now=now)
    assert by_id.first() == early
    assert list(
        selectors.dossier_queue(user=staff.receiving, procedure=procedure.code, now=now)
    ) == [early, soon, later, paused]
    assert list(selectors.dossier_queue(user=applicant)) == []

    # The page costs the same number of queries for 4 dossiers as for 14.
    def rows() -> list[tuple[Any, ...]]:
        return [
            (
                d.code,
                d.procedure.name,
                d.agency.name,
                d.receiving_agency.code,
                d.unit.name,
                d.holder.username if d.holder else "",
            )
            for d in selectors.dossier_queue(user=staff.receiving, now=now)
        ]

    staff.receiving = type(staff.receiving).objects.get(pk=staff.receiving.pk)  # cold caches
    with django_assert_num_queries(3) as captured:
        assert len(rows()) == 4
    for n in range(10):
        submit(procedure=procedure, applicant=applicant, now=at(16, 10, n))
    staff.receiving = type(staff.receiving).objects.get(pk=staff.receiving.pk)
    with django_assert_num_queries(len(captured.captured_queries)):
        assert len(rows()) == 14


def test_public_status_hides_personal_data_unless_proven(
    procedure: Any, applicant: Any, staff: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    services.dossier_receive(dossier=dossier, actor=staff.receiving, now=at(15, 11))
    services.dossiers_remind(now=at(17, 16))
    public = selectors.dossier_public_status(code=dossier.code.lower())
    assert public["code"] == dossier.code and public["status"] == Status.RECEIVED
    assert public["status_label"] == "Received"
    assert public["procedure"] == "Birth registration"
    assert public["due_at"] == dossier.due_at and public["applicant_name"] is None
    assert [e["action"] for e in public["timeline"]] == ["submit", "receive"]  # no reminders
    assert "Nguyễn" not in str(public)
    assert (
        selectors.dossier_public_status(code=dossier.code, personal_id="999999999999")[
            "applicant_name"
        ]
        is None
    )
    proven = selectors.dossier_public_status(code=dossier.code, personal_id="001090123456")
    assert proven["applicant_name"] == "Nguyễn Văn An" and proven["proven"]
    with pytest.raises(NotFound):
        selectors.dossier_public_status(code="HN-00070-260615-9999")
    draft = services.dossier_draft_save(procedure=procedure, applicant=applicant, data={})
    assert draft.code is None
    with pytest.raises(NotFound):
        selectors.dossier_public_status(code="")


def test_public_status_is_cached_until_the_dossier_changes(
    procedure: Any,
    applicant: Any,
    staff: Any,
    other_agency: Any,
    django_assert_num_queries: Any,
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    first = selectors.dossier_public_status(code=dossier.code)
    assert first["status"] == Status.SUBMITTED
    with django_assert_num_queries(1):  # the cached answer: one indexed query by code
        assert selectors.dossier_public_status(code=dossier.code) == first
    # A proven answer adds the name to the cached public part, and leaves that part public.
    with django_assert_num_queries(1):
        proven = selectors.dossier_public_status(code=dossier.code, personal_id="001090123456")
    assert proven["applicant_name"] == "Nguyễn Văn An" and proven["proven"]
    public = selectors.dossier_public_status(code=dossier.code)
    assert public["applicant_name"] is None and not public["proven"]
    # A change of status is seen at once.
    services.dossier_receive(dossier=dossier, actor=staff.receiving, now=at(15, 11))
    received = selectors.dossier_public_status(code=dossier.code)
    assert received["status"] == Status.RECEIVED
    assert [e["action"] for e in received["timeline"]] == ["submit", "receive"]
    # So is a change that leaves the status alone (a hand-off moves the holding agency).
    services.dossier_start_processing(dossier=dossier, actor=staff.processing)
    services.dossier_hand_off(
        dossier=dossier, actor=staff.processing, to_agency=other_agency, note="x"
    )
    assert selectors.dossier_public_status(code=dossier.code)["agency"] == other_agency.name
    # Each language has its own answer.
    with translation.override("vi"):
        assert selectors.dossier_public_status(code=dossier.code)["status_label"] != "In processing"
    assert selectors.dossier_public_status(code=dossier.code)["status_label"] == "In processing"


def test_queue_page_reads_the_queue_in_pages_with_handed_off_dossiers(
    procedure: Any,
    applicant: Any,
    staff: Any,
    other_agency: Any,
    django_assert_num_queries: Any,
) -> None:
    dossiers = [
        submit(procedure=procedure, applicant=applicant, now=at(10 + n % 7, 9, n)) for n in range(9)
    ]
    services.dossier_request_supplement(
        dossier=dossiers[0], actor=staff.receiving, missing=[{"name": "Tờ khai", "note": ""}]
    )
    handed = services.dossier_start_processing(
        dossier=services.dossier_receive(dossier=dossiers[1], actor=staff.receiving),
        actor=staff.processing,
    )
    services.dossier_hand_off(
        dossier=handed, actor=staff.processing, to_agency=other_agency, note="liên thông"
    )
    services.dossier_refuse(dossier=dossiers[2], actor=staff.receiving, reasons=["x"])
    now = at(17, 10)
    everything = list(selectors.dossier_queue(user=staff.receiving, now=now))
    assert len(everything) == 8 and everything[-1] == dossiers[0]  # paused last
    assert Dossier.objects.get(pk=handed.pk) in everything  # received here, held elsewhere
    pages = [
        selectors.dossier_queue_page(user=staff.receiving, offset=o, limit=3, now=now)
        for o in (0, 3, 6, 9)
    ]
    assert [d for page in pages for d in page] == everything
    assert pages[-1] == []
    for filters in ({"due": "overdue"}, {"status": Status.REFUSED}, {"q": dossiers[4].code}):
        assert selectors.dossier_queue_page(
            user=staff.receiving, limit=25, now=now, **filters
        ) == list(selectors.dossier_queue(user=staff.receiving, now=now, **filters))
    staff.receiving = type(staff.receiving).objects.get(pk=staff.receiving.pk)  # cold caches
    with django_assert_num_queries(5):  # memberships, agencies below, two id scans, the rows
        page = selectors.dossier_queue_page(user=staff.receiving, limit=25, now=now)
        assert [(d.procedure.code, d.agency.code, d.unit.name) for d in page]
    assert selectors.dossier_queue_page(user=applicant) == []


def test_timeline_and_actions(procedure: Any, applicant: Any, staff: Any) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    dossier = services.dossier_receive(dossier=dossier, actor=staff.receiving, now=at(15, 11))
    timeline = selectors.dossier_timeline(dossier)
    assert [(e["action"], e["label"]) for e in timeline] == [
        ("submit", "Submitted"),
        ("receive", "Receive"),
    ]
    assert timeline[1]["actor"] == staff.receiving.full_name
    assert {t.action for t in selectors.dossier_actions(staff.processing, dossier)} == {
        "start_processing"
    }
    dossier = services.dossier_start_processing(dossier=dossier, actor=staff.processing)
    assert {t.action for t in selectors.dossier_actions(staff.processing, dossier)} == {
        "forward",
        "hand_off",
        "request_supplement",
        "apologise",
    }
    assert {t.action for t in selectors.dossier_actions(staff.approver, dossier)} == {"apologise"}
    dossier = services.dossier_forward(dossier=dossier, actor=staff.processing)
    assert {t.action for t in selectors.dossier_actions(staff.approver, dossier)} == {
        "approve",
        "reject",
        "request_supplement",
        "apologise",
    }
    assert Dossier.objects.get(pk=dossier.pk).step == 2
