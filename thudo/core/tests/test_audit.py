import pytest
from django.db import transaction

from thudo.core import context
from thudo.core.audit import audit_record
from thudo.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_records_actor_object_states_and_request(citizen) -> None:
    token = context.set_current(context.RequestContext("req-1", "203.0.113.9"))
    try:
        event = audit_record(
            actor=citizen,
            action="thing.approve",
            obj=citizen,
            from_state="received",
            to_state="approved",
            data={"k": 1},
        )
    finally:
        context.reset(token)
    assert event.actor == citizen and event.actor_label == citizen.username
    assert (event.object_type, event.object_id) == ("accounts.user", str(citizen.pk))
    assert (event.from_state, event.to_state) == ("received", "approved")
    assert (event.request_id, event.ip_address) == ("req-1", "203.0.113.9")


def test_rolled_back_change_leaves_no_audit_row() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(actor="system", action="x", object_type="t", object_id="1")
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.exists()


def test_rows_cannot_be_changed_or_deleted_through_the_orm() -> None:
    event = audit_record(actor="system", action="x", object_type="t", object_id="1")
    event.action = "y"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="z")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "x"


def test_request_id_and_address_come_from_the_request(client, hanoi) -> None:
    response = client.get("/api/health", HTTP_X_REQUEST_ID="abc123", REMOTE_ADDR="198.51.100.7")
    assert response["X-Request-ID"] == "abc123"


def test_audit_page_is_for_auditors(client, citizen, make_agency, make_official) -> None:
    from thudo.accounts.roles import Role
    from thudo.accounts.testing import login_verified

    client.force_login(citizen)
    assert client.get("/audit/").status_code == 403
    auditor = make_official(Role.AUDITOR, make_agency("HN", kind="city_committee"))
    login_verified(client, auditor)
    page = client.get("/audit/", {"action": "role.grant"})
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 1
    assert "role.grant" in page.content.decode()


def test_oversized_requests_are_refused_before_they_are_read(client, settings) -> None:
    settings.MAX_REQUEST_BYTES = 1000
    r = client.post(
        "/api/documents/verify",
        data=b"x" * 2000,
        content_type="application/pdf",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.status_code == 413 and r.json()["code"] == "request_too_large"
    assert "1000" in r.json()["message"] or "KB" in r.json()["message"]
    r = client.post("/verify/", data=b"x" * 2000, content_type="application/pdf")
    assert r.status_code == 413 and "giới hạn" in r.content.decode()
