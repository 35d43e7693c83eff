"""Access rights: the provider agency's data steward grants and revokes (audited), the node
enforces it at once; the public catalogue lists services, providers, OpenAPI and who may use
them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from thudo.accounts.roles import Role
from thudo.accounts.testing import login_verified
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.exchange import services
from thudo.exchange.client import ExchangeError, call
from thudo.exchange.models import Grant, Member

from .test_protocol import ECHO, PORTAL, PURPOSE, Exchange, exchange, node_key

__all__ = ["exchange", "node_key"]

pytestmark = pytest.mark.django_db


@pytest.fixture
def steward(exchange: Exchange, make_agency: Any, make_official: Any) -> Any:
    """The data steward of the ministry that owns the population database."""
    agency = make_agency(code="BCA", kind="other", name="Bộ Công an")
    Member.objects.filter(code="BCA").update(agency=agency)
    return make_official(role=Role.DATA_STEWARD, agency=agency, username="steward.bca")


@pytest.fixture
def outsider(make_agency: Any, make_official: Any) -> Any:
    agency = make_agency(code="HN-STP", kind="department")
    return make_official(role=Role.DATA_STEWARD, agency=agency, username="steward.stp")


def test_grant_and_revoke_are_audited_and_enforced_at_once(
    exchange: Exchange, steward: Any
) -> None:
    Grant.objects.filter(client=exchange.portal, service=exchange.echo).delete()
    with pytest.raises(ExchangeError) as caught:
        call(system=PORTAL, service=ECHO, purpose=PURPOSE)
    assert caught.value.code == "access_denied"

    grant = services.grant_create(
        actor=steward,
        service=exchange.echo,
        client=exchange.portal,
        legal_basis="Nghị định 47/2020/NĐ-CP",
        expires_at=timezone.now() + timedelta(days=30),
    )
    assert grant.granted_by == steward
    assert call(system=PORTAL, service=ECHO, purpose=PURPOSE).status == 200
    event = AuditEvent.objects.get(action="exchange.grant.create", object_id=str(grant.pk))
    assert event.actor == steward and event.to_state == "valid"
    assert event.data["client"] == PORTAL

    services.grant_revoke(actor=steward, grant=grant, reason="Hết căn cứ pháp lý")
    grant.refresh_from_db()
    assert grant.revoked_by == steward and grant.revoke_reason == "Hết căn cứ pháp lý"
    revoked = AuditEvent.objects.get(action="exchange.grant.revoke", object_id=str(grant.pk))
    assert (revoked.from_state, revoked.to_state) == ("valid", "revoked")
    with pytest.raises(ExchangeError) as caught:
        call(system=PORTAL, service=ECHO, purpose=PURPOSE)
    assert caught.value.code == "grant_revoked"

    with pytest.raises(InvalidTransition):
        services.grant_revoke(actor=steward, grant=grant, reason="again")


def test_grant_rules(exchange: Exchange, steward: Any, outsider: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.grant_create(
            actor=outsider, service=exchange.echo, client=exchange.portal, legal_basis="x"
        )
    with pytest.raises(ValidationFailed) as caught:
        services.grant_create(
            actor=steward,
            service=exchange.echo,
            client=exchange.portal,
            legal_basis=" ",
            expires_at=timezone.now() - timedelta(days=1),
        )
    assert set(caught.value.fields) == {"legal_basis", "expires_at"}
    with pytest.raises(ValidationFailed) as caught:  # it already has a valid grant
        services.grant_create(
            actor=steward, service=exchange.echo, client=exchange.portal, legal_basis="NĐ 47"
        )
    assert "client" in caught.value.fields
    with pytest.raises(ValidationFailed):
        services.grant_revoke(actor=steward, grant=Grant.objects.all()[0], reason="")
    assert not AuditEvent.objects.filter(action__startswith="exchange.grant").exists()


def test_the_grant_page_for_the_data_steward(
    client: Client, exchange: Exchange, steward: Any
) -> None:
    client.cookies["thudo_language"] = "en"
    login_verified(client, steward)
    Grant.objects.filter(client=exchange.portal, service=exchange.echo).delete()
    page = client.get(reverse("exchange:grants"))
    assert page.status_code == 200
    assert ECHO.encode() in page.content
    assert b'<label for="id_legal_basis">' in page.content

    bad = client.post(
        reverse("exchange:grants"),
        {"service": exchange.echo.pk, "client": exchange.portal.pk, "legal_basis": ""},
    )
    assert bad.status_code == 422
    assert b"error-summary" in bad.content

    done = client.post(
        reverse("exchange:grants"),
        {
            "service": exchange.echo.pk,
            "client": exchange.portal.pk,
            "legal_basis": "Nghị định 47/2020/NĐ-CP",
            "expires_on": (timezone.localdate() + timedelta(days=10)).isoformat(),
        },
    )
    assert done.status_code == 302
    grant = Grant.objects.get(client=exchange.portal, service=exchange.echo)
    assert timezone.localtime(grant.expires_at).date() == timezone.localdate() + timedelta(days=11)

    missing_reason = client.post(reverse("exchange:grant_revoke", args=[grant.pk]), {"reason": ""})
    assert missing_reason.status_code == 422
    revoked = client.post(
        reverse("exchange:grant_revoke", args=[grant.pk]), {"reason": "Không còn cần"}
    )
    assert revoked.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None


def test_grant_pages_are_for_stewards_of_the_providers_agency(
    client: Client, exchange: Exchange, steward: Any, outsider: Any, citizen: Any
) -> None:
    grant = Grant.objects.filter(service=exchange.echo).first()
    assert grant is not None
    login_verified(client, outsider)
    page = client.get(reverse("exchange:grants"))
    assert page.status_code == 200
    assert ECHO.encode() not in page.content  # not their agency's service
    assert (
        client.post(reverse("exchange:grant_revoke", args=[grant.pk]), {"reason": "x"}).status_code
        == 404
    )
    refused = client.post(
        reverse("exchange:grants"),
        {"service": exchange.echo.pk, "client": exchange.portal.pk, "legal_basis": "x"},
    )
    assert refused.status_code == 422  # the service is not among their choices
    client.force_login(citizen)
    assert client.get(reverse("exchange:grants")).status_code == 403
    client.logout()
    assert client.get(reverse("exchange:grants")).status_code == 302


def test_the_catalogue_lists_services_providers_openapi_and_who_may_use_them(
    client: Client, exchange: Exchange, django_assert_max_num_queries: Any
) -> None:
    Grant.objects.filter(client=exchange.client, service=exchange.person).update(
        revoked_at=timezone.now()
    )
    client.cookies["thudo_language"] = "en"
    with django_assert_max_num_queries(12):
        page = client.get(reverse("exchange:catalogue"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "VN/GOV/BCA/CSDLQGDC/person" in text and "Bộ Công an" in text
    services_listed = page.context["services"]
    person = next(s for s in services_listed if s.code == "person")
    assert {g.client.code for g in person.valid_grants} == {"PORTAL", "KIOSK"}  # APP revoked
    assert reverse("exchange:openapi", args=[exchange.person.pk]) in text

    detail = client.get(reverse("exchange:service", args=[exchange.person.pk]))
    assert detail.status_code == 200
    assert b"/person/{personal_id}" in detail.content
    spec = client.get(reverse("exchange:openapi", args=[exchange.person.pk]))
    assert spec.json()["openapi"] == "3.1.0"
    assert client.get(reverse("exchange:service", args=[99999])).status_code == 404
