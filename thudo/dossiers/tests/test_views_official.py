"""The officials' pages: the queue, the work page and its actions, papers and documents behind
permission checks, and the counter intake."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from thudo.accounts.models import User
from thudo.accounts.testing import login_verified
from thudo.dossiers.menus_official import OFFICIAL_MENU
from thudo.dossiers.models import Channel, Dossier, DossierEvent, Status

from .factories import BIRTH_DATA, pdf_bytes, png_bytes, submit, upload


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def _as(client: Any, user: Any) -> Any:
    login_verified(client, user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _act(client: Any, dossier: Dossier, action: str, data: dict[str, Any] | None = None) -> Any:
    url = reverse("dossiers:act", args=[dossier.public_id, action])
    return client.post(url, {f"{action}-{k}": v for k, v in (data or {}).items()})


@pytest.fixture
def dossier(applicant: Any, procedure: Any) -> Dossier:
    return submit(procedure=procedure, applicant=applicant, now=timezone.now())


@pytest.fixture
def stranger(other_agency: Any, make_official: Any) -> Any:
    """A receiving officer of another ward."""
    return make_official("receiving_officer", other_agency, username="nguoila")


# --- access --------------------------------------------------------------------------------


def test_queue_needs_a_signed_in_official_with_the_second_factor(
    client: Any, staff: Any, applicant: Any
) -> None:
    url = reverse("dossiers:queue")
    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(staff.receiving)  # password only, no TOTP
    assert client.get(url).status_code == 403
    client.force_login(applicant)
    assert client.get(url).status_code == 403
    assert _as(client, staff.receiving).get(url).status_code == 200


def test_menu_entries_resolve_for_officials() -> None:
    for entry in OFFICIAL_MENU:
        assert entry.audience == "official"
        assert reverse(entry.url_name).startswith("/workspace/")
    assert {e.permission for e in OFFICIAL_MENU} == {"dossier.view", "dossier.receive"}


# --- the queue -----------------------------------------------------------------------------


def test_queue_lists_the_agencys_dossiers_overdue_first_with_badges(
    client: Any, staff: Any, applicant: Any, procedure: Any, stranger: Any
) -> None:
    now = timezone.now()
    later = submit(procedure=procedure, applicant=applicant, now=now)
    overdue = submit(procedure=procedure, applicant=applicant, now=now)
    soon = submit(procedure=procedure, applicant=applicant, now=now)
    Dossier.objects.filter(pk=later.pk).update(due_at=now + timedelta(days=20))
    Dossier.objects.filter(pk=overdue.pk).update(due_at=now - timedelta(hours=2))
    Dossier.objects.filter(pk=soon.pk).update(due_at=now + timedelta(minutes=30))

    html = _as(client, staff.receiving).get(reverse("dossiers:queue")).content.decode()
    positions = [html.index(d.code) for d in (overdue, soon, later)]
    assert positions == sorted(positions)
    assert "badge-overdue" in html and "badge-soon" in html
    assert applicant.full_name in html

    # Another ward's officer sees none of them.
    client.logout()
    html = _as(client, stranger).get(reverse("dossiers:queue")).content.decode()
    assert later.code not in html and "No dossiers in your queue" in html


def test_queue_filters(client: Any, staff: Any, applicant: Any, procedure: Any) -> None:
    now = timezone.now()
    first = submit(procedure=procedure, applicant=applicant, now=now)
    second = submit(procedure=procedure, applicant=applicant, now=now)
    Dossier.objects.filter(pk=first.pk).update(
        status=Status.RECEIVED, due_at=now - timedelta(hours=1)
    )
    c = _as(client, staff.receiving)
    url = reverse("dossiers:queue")

    html = c.get(url, {"status": "received"}).content.decode()
    assert first.code in html and second.code not in html
    html = c.get(url, {"due": "overdue"}).content.decode()
    assert first.code in html and second.code not in html
    html = c.get(url, {"q": second.code}).content.decode()
    assert second.code in html and first.code not in html
    html = c.get(url, {"procedure": procedure.code}).content.decode()
    assert first.code in html and second.code in html
    html = c.get(url, {"procedure": "no-such"}).content.decode()  # invalid filter: ignored
    assert first.code in html and "were ignored" in html


def _clone(template: Dossier, n: int) -> None:
    """Copies of a dossier (the queue reads columns; how they were filed does not matter)."""
    rows = []
    for i in range(n):
        copy = Dossier.objects.get(pk=template.pk)
        copy.pk = None
        copy.public_id = uuid.uuid4()
        copy.code = f"{template.code}-{copy.public_id.hex[:8]}"
        copy.due_at = timezone.now() + timedelta(hours=i - n // 2)
        rows.append(copy)
    Dossier.objects.bulk_create(rows)


def test_queue_page_costs_the_same_queries_for_5_or_30_dossiers(
    client: Any, staff: Any, dossier: Dossier
) -> None:
    c = _as(client, staff.receiving)
    url = reverse("dossiers:queue")

    def queries() -> list[str]:
        c.get(url)  # warm caches that are per process, not per page (calendar, content types)
        with CaptureQueriesContext(connection) as ctx:
            response = c.get(url)
        assert response.status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    _clone(dossier, 4)
    small = queries()
    _clone(dossier, 25)
    large = queries()
    assert len(small) == len(large)
    assert not [q for q in large if "COUNT(" in q.upper() and "dossiers_dossier" in q]


def test_queue_pages_without_counting(client: Any, staff: Any, dossier: Dossier) -> None:
    _clone(dossier, 30)  # 31 in all: two pages
    c = _as(client, staff.receiving)
    url = reverse("dossiers:queue")
    rows = re.compile(r'href="/workspace/dossiers/[0-9a-f-]{36}/"')
    first = c.get(url).content.decode()
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert len(rows.findall(first)) == 25
    second = c.get(url, {"page": 2}).content.decode()
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert len(rows.findall(second)) == 6
    assert c.get(url, {"page": "x"}).status_code == 200


# --- the work page -------------------------------------------------------------------------


def test_work_page_shows_applicant_form_papers_timeline_and_actions(
    client: Any, staff: Any, dossier: Dossier
) -> None:
    response = _as(client, staff.receiving).get(reverse("dossiers:work", args=[dossier.public_id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert dossier.code in html
    assert dossier.applicant_personal_id in html
    assert "Child&#x27;s full name" in html and BIRTH_DATA["child_name"] in html
    assert "Female" in html  # the choice's label, not its value
    assert "Registration form" in html and "to-khai.png" in html
    for action in ("receive", "refuse", "request_supplement", "apologise"):
        assert reverse("dossiers:act", args=[dossier.public_id, action]) in html
    assert reverse("dossiers:act", args=[dossier.public_id, "approve"]) not in html
    assert "Submitted" in html  # the timeline
    assert reverse("dossiers:control_slip", args=[dossier.public_id]) in html


def test_another_agency_gets_404_on_the_page_file_and_action(
    client: Any, stranger: Any, dossier: Dossier
) -> None:
    c = _as(client, stranger)
    paper = dossier.files.get(paper_code="to-khai")
    assert c.get(reverse("dossiers:work", args=[dossier.public_id])).status_code == 404
    url = reverse("dossiers:work_file", args=[dossier.public_id, paper.pk])
    assert c.get(url).status_code == 404
    assert _act(c, dossier, "receive").status_code == 404
    dossier.refresh_from_db()
    assert dossier.status == Status.SUBMITTED


def test_paper_file_is_served_to_the_agency_only_sandboxed(
    client: Any, staff: Any, dossier: Dossier
) -> None:
    paper = dossier.files.get(paper_code="giay-chung-sinh")
    url = reverse("dossiers:work_file", args=[dossier.public_id, paper.pk])
    response = _as(client, staff.receiving).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    other = reverse("dossiers:work_file", args=[dossier.public_id, 10**9])
    assert client.get(other).status_code == 404


# --- actions through the page --------------------------------------------------------------


def test_receive_then_a_wrong_action_is_409_and_changes_nothing(
    client: Any, staff: Any, dossier: Dossier
) -> None:
    c = _as(client, staff.receiving)
    response = _act(c, dossier, "receive")
    assert response.status_code == 302
    assert response["Location"] == reverse("dossiers:work", args=[dossier.public_id])
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED
    events = DossierEvent.objects.filter(dossier=dossier).count()

    response = _act(c, dossier, "receive")
    assert response.status_code == 409
    assert "not allowed" in response.content.decode()
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED
    assert DossierEvent.objects.filter(dossier=dossier).count() == events

    assert _act(c, dossier, "no_such_action").status_code == 404
    assert c.get(reverse("dossiers:act", args=[dossier.public_id, "receive"])).status_code == 405


def test_an_action_without_the_role_is_403(client: Any, staff: Any, dossier: Dossier) -> None:
    response = _act(_as(client, staff.approver), dossier, "receive")
    assert response.status_code == 403
    dossier.refresh_from_db()
    assert dossier.status == Status.SUBMITTED


def test_refuse_needs_reasons(client: Any, staff: Any, dossier: Dossier) -> None:
    c = _as(client, staff.receiving)
    response = _act(c, dossier, "refuse", {"reasons": "  \n "})
    assert response.status_code == 422
    assert "Give at least one reason" in response.content.decode()
    dossier.refresh_from_db()
    assert dossier.status == Status.SUBMITTED

    response = _act(c, dossier, "refuse", {"reasons": "Thiếu giấy chứng sinh\nẢnh mờ"})
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.status == Status.REFUSED
    assert dossier.documents.filter(kind="refusal").exists()


def test_request_supplement_with_papers_and_free_text(
    client: Any, staff: Any, dossier: Dossier
) -> None:
    c = _as(client, staff.receiving)
    assert _act(c, dossier, "request_supplement", {"note": "x"}).status_code == 422
    url = reverse("dossiers:act", args=[dossier.public_id, "request_supplement"])
    response = c.post(
        url,
        {
            "request_supplement-missing": ["giay-chung-sinh"],
            "request_supplement-other": "Bản sao sổ hộ khẩu",
            "request_supplement-note": "Bản chụp bị mờ",
        },
    )
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.status == Status.SUPPLEMENT_REQUESTED
    event = DossierEvent.objects.filter(dossier=dossier, action="request_supplement").get()
    assert "Birth certificate" in str(event.data) or "Giấy chứng sinh" in str(event.data)
    assert "Bản sao sổ hộ khẩu" in str(event.data)
    html = c.get(reverse("dossiers:work", args=[dossier.public_id])).content.decode()
    assert "badge-paused" in html


def test_full_processing_through_the_pages(
    client: Any, staff: Any, dossier: Dossier, signing: Any, other_agency: Any
) -> None:
    def step(user: Any, action: str, data: dict[str, Any] | None = None) -> None:
        client.logout()
        response = _act(_as(client, user), dossier, action, data)
        assert response.status_code == 302, (action, response.content.decode()[:3000])

    step(staff.receiving, "receive")
    step(staff.processing, "start_processing")
    step(staff.processing, "hand_off", {"to_agency": other_agency.code, "note": "xin ý kiến"})
    dossier.refresh_from_db()
    assert dossier.agency == other_agency
    # The ward still sees it as the receiving unit; hand it back to finish the test.
    Dossier.objects.filter(pk=dossier.pk).update(agency=dossier.receiving_agency)
    future = timezone.localtime() + timedelta(days=7)
    step(
        staff.approver,
        "apologise",
        {"new_appointment": future.strftime("%Y-%m-%dT%H:%M"), "reason": "Chờ xác minh"},
    )
    step(staff.processing, "forward", {"note": "Đủ điều kiện"})
    step(staff.approver, "approve")
    step(staff.approver, "sign_result")
    step(staff.receiving, "return_result", {"delivery": "counter"})
    step(staff.receiving, "close")
    dossier.refresh_from_db()
    assert dossier.status == Status.CLOSED
    actions = list(DossierEvent.objects.filter(dossier=dossier).values_list("action", flat=True))
    for action in ("receive", "start_processing", "hand_off", "apologise", "forward"):
        assert action in actions
    html = client.get(reverse("dossiers:work", args=[dossier.public_id])).content.decode()
    assert "Nothing for you to do" in html
    assert "Result certificate" in html


def test_reject_with_reasons(client: Any, staff: Any, dossier: Dossier) -> None:
    steps = [
        (staff.receiving, "receive"),
        (staff.processing, "start_processing"),
        (staff.processing, "forward"),
    ]
    for user, action in steps:
        client.logout()
        assert _act(_as(client, user), dossier, action).status_code == 302
    client.logout()
    c = _as(client, staff.approver)
    response = _act(c, dossier, "reject", {"reasons": "Không đủ điều kiện"})
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.status == Status.REJECTED


def test_control_slip_and_documents(client: Any, staff: Any, dossier: Dossier) -> None:
    c = _as(client, staff.receiving)
    response = c.post(reverse("dossiers:control_slip", args=[dossier.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    link = dossier.documents.select_related("document").get(kind="control_slip")
    url = reverse("dossiers:work_document", args=[dossier.public_id, link.document.public_id])
    assert c.get(url).status_code == 200
    assert (
        c.get(reverse("dossiers:work_document", args=[dossier.public_id, uuid.uuid4()])).status_code
        == 404
    )


# --- the counter ---------------------------------------------------------------------------


def _counter_post(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "applicant-name": "Lê Văn Cường",
        "applicant-personal_id": "001095012345",
        "applicant-phone": "0912345678",
        "applicant-email": "cuong@example.vn",
        "applicant-address": "12 Hàng Bạc, Hoàn Kiếm",
        "applicant-delivery": "counter",
        **BIRTH_DATA,
        "papers-paper-to-khai": upload("to-khai.png", png_bytes(), "image/png"),
        "papers-paper-giay-chung-sinh": upload("cs.pdf", pdf_bytes(), "application/pdf"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_counter_pick_and_form(client: Any, staff: Any, procedure: Any) -> None:
    c = _as(client, staff.receiving)
    html = c.get(reverse("dossiers:counter")).content.decode()
    assert reverse("dossiers:counter", args=[procedure.code]) in html
    html = c.get(reverse("dossiers:counter", args=[procedure.code])).content.decode()
    assert 'name="applicant-personal_id"' in html
    assert 'name="child_name"' in html
    assert 'name="papers-paper-to-khai"' in html
    assert c.get(reverse("dossiers:counter", args=["no-such"])).status_code == 404
    client.logout()
    # A processing officer does not receive at the counter.
    assert _as(client, staff.processing).get(reverse("dossiers:counter")).status_code == 403


def test_counter_intake_creates_a_received_counter_dossier_with_a_receipt(
    client: Any, staff: Any, procedure: Any, signing: Any
) -> None:
    c = _as(client, staff.receiving)
    response = c.post(reverse("dossiers:counter", args=[procedure.code]), _counter_post())
    assert response.status_code == 302, response.content.decode()[:3000]
    dossier = Dossier.objects.get(applicant_personal_id="001095012345")
    assert dossier.channel == Channel.COUNTER
    assert dossier.status == Status.RECEIVED
    assert dossier.code and dossier.code.startswith("HN-00070-")
    assert dossier.files.count() == 2
    assert User.objects.filter(personal_id="001095012345").exists()
    assert response["Location"].startswith(reverse("dossiers:work", args=[dossier.public_id]))

    html = c.get(response["Location"]).content.decode()
    receipt_url = reverse("dossiers:work_receipt", args=[dossier.public_id])
    assert receipt_url in html and dossier.code in html
    receipt = c.get(receipt_url)
    assert receipt.status_code == 200
    assert b"".join(receipt.streaming_content).startswith(b"%PDF")


def test_bad_counter_input_gives_field_errors_and_no_rows(
    client: Any, staff: Any, procedure: Any
) -> None:
    c = _as(client, staff.receiving)
    users = User.objects.count()
    url = reverse("dossiers:counter", args=[procedure.code])

    response = c.post(url, _counter_post(**{"applicant-name": "", "child_name": ""}))
    assert response.status_code == 422
    html = response.content.decode()
    assert "There are 2 problems" in html
    assert 'href="#id_applicant-name"' in html and 'href="#id_child_name"' in html

    bad_pdf = upload("cs.pdf", b"%PDF-1.4 broken", "application/pdf")
    response = c.post(
        url,
        _counter_post(
            **{
                "applicant-personal_id": "999095012345",
                "birth_date": "not a date",
                "papers-paper-giay-chung-sinh": bad_pdf,
            }
        ),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'href="#id_applicant-personal_id"' in html
    assert 'href="#id_birth_date"' in html
    assert 'href="#id_papers-paper-giay-chung-sinh"' in html
    assert Dossier.objects.count() == 0
    assert User.objects.count() == users
