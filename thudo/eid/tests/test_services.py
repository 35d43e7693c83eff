"""The portal's account from the provider's claims, the level rules, and the session's e-ID level
for pages that require one."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from thudo.accounts.models import User
from thudo.core.errors import PermissionDenied, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.eid import services, session
from thudo.eid.backends import token_level

pytestmark = pytest.mark.django_db
CLAIMS = {
    "sub": "001090123456",
    "name": "Nguyễn Văn An",
    "gender": "male",
    "birthdate": "1990-05-17",
}


def test_a_new_citizen_gets_an_account_without_a_password(hanoi: Any) -> None:
    user = services.citizen_from_claims(claims=CLAIMS)
    assert user.personal_id == "001090123456" and user.username == "001090123456"
    assert user.full_name == "Nguyễn Văn An" and user.birth_date == date(1990, 5, 17)
    assert user.kind == User.Kind.CITIZEN and not user.has_usable_password()


def test_claims_that_do_not_make_a_valid_citizen_leave_nothing(hanoi: Any) -> None:
    with pytest.raises(ValidationFailed):  # the ID says male, born 1990; the claims disagree
        services.citizen_from_claims(claims={**CLAIMS, "gender": "female"})
    with pytest.raises(ValidationFailed):
        services.citizen_from_claims(claims={**CLAIMS, "birthdate": "not a date"})
    assert not User.objects.filter(personal_id="001090123456").exists()


def test_an_existing_account_is_brought_up_to_date_with_an_audit_row(citizen: Any) -> None:
    user = services.citizen_from_claims(claims={**CLAIMS, "name": "Nguyễn Văn Ân"})
    assert user.pk == citizen.pk and user.full_name == "Nguyễn Văn Ân"
    assert user.check_password("citizen-pass-1")  # the password sign-in still works
    event = AuditEvent.objects.get(action="citizen.update_from_eid")
    assert event.data == {"full_name": ["Nguyễn Văn An", "Nguyễn Văn Ân"]}
    services.citizen_from_claims(claims={**CLAIMS, "name": "Nguyễn Văn Ân"})
    assert AuditEvent.objects.filter(action="citizen.update_from_eid").count() == 1


def test_officials_and_disabled_accounts_are_refused(citizen: Any, make_official: Any) -> None:
    official = make_official(username="canbo")
    official.personal_id = "001185000111"
    official.save()
    with pytest.raises(PermissionDenied) as refused:
        services.citizen_from_claims(claims={**CLAIMS, "sub": "001185000111"})
    assert refused.value.code == "not_a_citizen"
    citizen.is_active = False
    citizen.save()
    with pytest.raises(PermissionDenied):
        services.citizen_from_claims(claims=CLAIMS)


@pytest.mark.parametrize(
    ("claims", "level"),
    [
        ({"acr": "urn:vn:vneid:loa:2", "vneid_level": 2}, 2),
        ({"acr": "urn:vn:vneid:loa:1"}, 1),
        ({"vneid_level": 2}, 2),
        ({"acr": "urn:vn:vneid:loa:2", "vneid_level": 1}, 0),  # disagree: refused
        ({"vneid_level": 0}, 0),
        ({"acr": "urn:other:loa:high"}, 0),
        ({}, 0),
    ],
)
def test_the_level_comes_from_the_signed_token(claims: dict[str, Any], level: int) -> None:
    assert token_level(claims) == level


def _request(user: Any, **data: Any) -> Any:
    request = RequestFactory().get("/dossiers/new/?procedure=1")
    request.user = user
    request.session = SessionStore()
    request.session.update(data)
    return request


def test_session_level(citizen: Any) -> None:
    assert session.eid_level(_request(AnonymousUser(), eid_level=2)) == 0
    assert session.eid_level(_request(citizen)) == 0  # password sign-in
    assert session.eid_level(_request(citizen, eid_level=2, eid_sub=citizen.personal_id)) == 2
    assert session.eid_level(_request(citizen, eid_level=1, eid_sub=citizen.personal_id)) == 1
    # A level left from someone else's sign-in counts for nothing.
    assert session.eid_level(_request(citizen, eid_level=2, eid_sub="001185000111")) == 0
    assert session.eid_level(_request(citizen, eid_level="x", eid_sub=citizen.personal_id)) == 0


def test_require_level(citizen: Any) -> None:
    assert session.require_level(_request(AnonymousUser()), 0) is None
    redirect = session.require_level(_request(citizen), 1)
    assert redirect is not None and redirect.status_code == 302
    assert redirect["Location"] == (
        "/accounts/vneid/start/?next=%2Fdossiers%2Fnew%2F%3Fprocedure%3D1"
    )
    anonymous = session.require_level(_request(AnonymousUser()), 2)
    assert anonymous is not None and anonymous["Location"] == redirect["Location"]
    level_1 = _request(citizen, eid_level=1, eid_sub=citizen.personal_id)
    assert session.require_level(level_1, 1) is None
    page = session.require_level(level_1, 2)
    assert page is not None and page.status_code == 403
    assert b"prompt=login" in page.content
    level_2 = _request(citizen, eid_level=2, eid_sub=citizen.personal_id)
    assert session.require_level(level_2, 2) is None
