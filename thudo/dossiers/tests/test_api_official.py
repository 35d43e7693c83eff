"""The officials' dossiers API: the queue, one dossier, the actions (409 for a wrong one, 403
for another agency's dossier), papers, and the counter intake."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from thudo.accounts import services as account_services
from thudo.accounts.models import User
from thudo.accounts.testing import login_verified
from thudo.dossiers.models import Channel, Dossier, DossierEvent, Status

from .factories import BIRTH_DATA, pdf_bytes, png_bytes, submit, upload


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


@pytest.fixture
def dossier(applicant: Any, procedure: Any) -> Dossier:
    return submit(procedure=procedure, applicant=applicant, now=timezone.now())


@pytest.fixture
def stranger(other_agency: Any, make_official: Any) -> Any:
    return make_official("receiving_officer", other_agency, username="nguoila")


def _as(client: Any, user: Any) -> Any:
    login_verified(client, user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _action(client: Any, dossier: Dossier, action: str, body: dict[str, Any] | None = None) -> Any:
    url = reverse(
        "api:official_dossier_action", kwargs={"public_id": dossier.public_id, "action": action}
    )
    return client.post(url, json.dumps(body or {}), content_type="application/json")


# --- authentication and the queue ----------------------------------------------------------


def test_queue_needs_an_official_with_the_second_factor(
    client: Any, staff: Any, applicant: Any, dossier: Dossier
) -> None:
    url = reverse("api:official_queue")
    assert client.get(url).status_code == 401
    client.force_login(staff.receiving)  # no TOTP
    assert client.get(url).status_code == 401
    client.force_login(applicant)
    response = client.get(url)
    assert response.status_code == 403
    assert response.json()["code"] == "not_an_official"
    response = _as(client, staff.receiving).get(url)
    assert response.status_code == 200
    assert [i["code"] for i in response.json()["items"]] == [dossier.code]


def test_queue_with_a_token_filters_and_pages(
    client: Any, staff: Any, applicant: Any, procedure: Any, stranger: Any
) -> None:
    now = timezone.now()
    dossiers = [submit(procedure=procedure, applicant=applicant, now=now) for _ in range(3)]
    Dossier.objects.filter(pk=dossiers[2].pk).update(due_at=now - timedelta(hours=1))
    _token, raw = account_services.api_token_create(user=staff.receiving, name="queue")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    url = reverse("api:official_queue")

    body = client.get(url, **auth).json()
    assert body["items"][0]["code"] == dossiers[2].code  # overdue first
    assert body["items"][0]["due"] == "overdue"
    assert body["has_more"] is False
    page = client.get(url, {"limit": 2}, **auth).json()
    assert len(page["items"]) == 2 and page["has_more"] is True
    rest = client.get(url, {"limit": 2, "offset": 2}, **auth).json()
    assert len(rest["items"]) == 1 and rest["has_more"] is False
    assert [i["code"] for i in client.get(url, {"due": "overdue"}, **auth).json()["items"]] == [
        dossiers[2].code
    ]
    assert client.get(url, {"q": dossiers[1].code}, **auth).json()["items"][0]["code"] == (
        dossiers[1].code
    )
    assert client.get(url, {"status": "received"}, **auth).json()["items"] == []
    assert len(client.get(url, {"procedure": procedure.code}, **auth).json()["items"]) == 3
    bad = client.get(url, {"procedure": "nope", "status": "x"}, **auth)
    assert bad.status_code == 422

    # Another ward's officer sees none of them.
    _token, other = account_services.api_token_create(user=stranger, name="other")
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {other}").json()["items"] == []


# --- one dossier ---------------------------------------------------------------------------


def test_one_dossier_as_the_official_sees_it(client: Any, staff: Any, dossier: Dossier) -> None:
    c = _as(client, staff.receiving)
    url = reverse("api:official_dossier", kwargs={"public_id": dossier.public_id})
    body = c.get(url).json()
    assert body["code"] == dossier.code
    assert body["applicant"]["personal_id"] == dossier.applicant_personal_id
    assert body["data"]["child_name"] == BIRTH_DATA["child_name"]
    assert set(body["actions"]) >= {"receive", "refuse", "request_supplement"}
    assert body["timeline"][0]["action"] == "submit"
    paper = next(f for f in body["files"] if f["paper"] == "giay-chung-sinh")
    response = c.get(paper["url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_another_agency_gets_404_to_read_and_403_to_act(
    client: Any, stranger: Any, dossier: Dossier
) -> None:
    c = _as(client, stranger)
    url = reverse("api:official_dossier", kwargs={"public_id": dossier.public_id})
    assert c.get(url).status_code == 404
    response = _action(c, dossier, "receive")
    assert response.status_code == 403
    assert response.json()["code"] == "other_agency"
    dossier.refresh_from_db()
    assert dossier.status == Status.SUBMITTED


# --- actions -------------------------------------------------------------------------------


def test_receive_then_the_same_action_is_409_and_changes_nothing(
    client: Any, staff: Any, dossier: Dossier
) -> None:
    c = _as(client, staff.receiving)
    response = _action(c, dossier, "receive")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.RECEIVED
    events = DossierEvent.objects.filter(dossier=dossier).count()

    response = _action(c, dossier, "receive")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED
    assert DossierEvent.objects.filter(dossier=dossier).count() == events

    assert _action(c, dossier, "no_such_action").status_code == 422


def test_action_without_the_role_is_403(client: Any, staff: Any, dossier: Dossier) -> None:
    response = _action(_as(client, staff.approver), dossier, "receive")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_field_errors(client: Any, staff: Any, dossier: Dossier) -> None:
    c = _as(client, staff.receiving)
    response = _action(c, dossier, "refuse", {"reasons": [" "]})
    assert response.status_code == 422
    assert "reasons" in response.json()["fields"]
    response = _action(c, dossier, "request_supplement", {"missing": [{"paper": "nope"}]})
    assert response.status_code == 422
    assert "missing.0.paper" in response.json()["fields"]
    response = _action(c, dossier, "apologise", {"reason": ""})
    assert set(response.json()["fields"]) == {"new_appointment", "reason"}
    dossier.refresh_from_db()
    assert dossier.status == Status.SUBMITTED


def test_every_action_through_the_api(
    client: Any, staff: Any, dossier: Dossier, signing: Any, other_agency: Any
) -> None:
    def step(user: Any, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        client.logout()
        response = _action(_as(client, user), dossier, action, body)
        assert response.status_code == 200, (action, response.content)
        return response.json()

    step(staff.receiving, "request_supplement", {"missing": [{"paper": "to-khai"}], "note": "mờ"})
    dossier.refresh_from_db()
    assert dossier.status == Status.SUPPLEMENT_REQUESTED
    from thudo.dossiers import services

    services.dossier_supplement(
        dossier=dossier,
        actor=dossier.applicant,
        files={"to-khai": [upload("to-khai.png", png_bytes(), "image/png")]},
    )
    step(staff.receiving, "receive")
    step(staff.processing, "start_processing")
    body = step(
        staff.processing, "hand_off", {"to_agency": other_agency.code, "note": "liên thông"}
    )
    assert body["agency"] == other_agency.code
    Dossier.objects.filter(pk=dossier.pk).update(agency=dossier.receiving_agency)
    appointment = (timezone.now() + timedelta(days=5)).isoformat()
    step(staff.approver, "apologise", {"new_appointment": appointment, "reason": "Chờ xác minh"})
    step(staff.processing, "forward", {"note": "ok"})
    step(staff.approver, "approve", {"note": "đồng ý"})
    step(staff.approver, "sign_result")
    body = step(staff.receiving, "return_result", {"delivery": "post"})
    assert body["status"] == Status.RETURNED and body["delivery"] == "post"
    body = step(staff.receiving, "close")
    assert body["status"] == Status.CLOSED
    assert {d["kind"] for d in body["documents"]} >= {"supplement_request", "apology", "result"}
    result = next(d for d in body["documents"] if d["kind"] == "result")
    assert client.get(result["url"]).status_code == 200


def test_refuse_and_reject(
    client: Any, staff: Any, applicant: Any, procedure: Any, dossier: Dossier
) -> None:
    body = _action(_as(client, staff.receiving), dossier, "refuse", {"reasons": ["Thiếu giấy"]})
    assert body.json()["status"] == Status.REFUSED

    other = submit(procedure=procedure, applicant=applicant, now=timezone.now())
    for user, action in [
        (staff.receiving, "receive"),
        (staff.processing, "start_processing"),
        (staff.processing, "forward"),
    ]:
        client.logout()
        assert _action(_as(client, user), other, action).status_code == 200
    client.logout()
    response = _action(_as(client, staff.approver), other, "reject", {"reasons": ["Sai"]})
    assert response.json()["status"] == Status.REJECTED


# --- counter intake ------------------------------------------------------------------------


def _intake(client: Any, procedure: Any, payload: dict[str, Any], **files: Any) -> Any:
    url = reverse("api:official_intake", kwargs={"code": procedure.code})
    return client.post(url, {"payload": json.dumps(payload), **files})


def _payload(**applicant: Any) -> dict[str, Any]:
    return {
        "applicant": {
            "name": "Lê Văn Cường",
            "personal_id": "001095012345",
            "phone": "0912345678",
            **applicant,
        },
        "data": BIRTH_DATA,
        "delivery": "counter",
    }


def test_counter_intake(client: Any, staff: Any, procedure: Any) -> None:
    c = _as(client, staff.receiving)
    response = _intake(
        c,
        procedure,
        _payload(),
        **{
            "to-khai": upload("to-khai.png", png_bytes(), "image/png"),
            "giay-chung-sinh": upload("cs.pdf", pdf_bytes(), "application/pdf"),
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["channel"] == Channel.COUNTER and body["status"] == Status.RECEIVED
    assert body["code"].startswith("HN-00070-")
    assert len(body["files"]) == 2


def test_bad_counter_intake_leaves_no_rows(client: Any, staff: Any, procedure: Any) -> None:
    c = _as(client, staff.receiving)
    users = User.objects.count()
    response = _intake(c, procedure, {"applicant": {"name": "X", "personal_id": "12"}})
    assert response.status_code == 422
    assert "applicant.personal_id" in response.json()["fields"]
    response = _intake(
        c,
        procedure,
        {**_payload(), "data": {"child_name": ""}},
        **{"giay-chung-sinh": upload("cs.pdf", b"%PDF-1.4 broken", "application/pdf")},
    )
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert "child_name" in fields and "paper:giay-chung-sinh" in fields
    response = _intake(c, procedure, _payload(), unknown=upload("x.pdf", pdf_bytes()))
    assert response.status_code == 422
    assert Dossier.objects.count() == 0
    assert User.objects.count() == users
    client.logout()
    response = _intake(_as(client, staff.processing), procedure, _payload())
    assert response.status_code == 403


def test_openapi_lists_the_officials_endpoints(client: Any) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "/api/dossiers/queue" in paths
    assert "/api/dossiers/{public_id}/actions/{action}" in paths
    assert "/api/dossiers/intake/{code}" in paths
