from datetime import date, timedelta

import pytest
from django.utils import timezone

from thudo.accounts import services
from thudo.accounts.models import ApiToken, LoginThrottle, Membership, User
from thudo.accounts.permissions import agencies_where, can, clear_cache, permissions
from thudo.accounts.roles import Perm, Role
from thudo.core.errors import AuthenticationFailed, Throttled, ValidationFailed
from thudo.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_citizen_create_writes_user_and_audit_row(hanoi) -> None:
    user = services.citizen_create(
        personal_id="001190000001",
        full_name="Trần Thị Bình",
        sex="female",
        birth_date=date(1990, 2, 3),
        password="x-pass-123",
    )
    assert user.username == "001190000001" and user.kind == User.Kind.CITIZEN
    assert user.check_password("x-pass-123")
    event = AuditEvent.objects.get(action="citizen.create")
    assert event.object_id == str(user.pk) and event.to_state == "active"


def test_invalid_personal_id_writes_nothing(hanoi) -> None:
    before = (User.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationFailed) as exc:
        services.citizen_create(
            personal_id="001090123456", full_name="A", sex="female", birth_date=date(1990, 1, 1)
        )
    assert "personal_id" in exc.value.fields
    assert (User.objects.count(), AuditEvent.objects.count()) == before


def test_duplicate_personal_id_is_rejected(citizen) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.citizen_create(
            personal_id=citizen.personal_id, full_name="B", sex="male", birth_date=date(1990, 1, 1)
        )
    assert exc.value.code == "duplicate_personal_id"


def test_missing_name_and_bad_sex_name_both_fields(hanoi) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.citizen_create(
            personal_id="001090123456", full_name=" ", sex="x", birth_date=date(1990, 1, 1)
        )
    assert set(exc.value.fields) == {"full_name", "sex"}


def test_roles_give_permissions_down_the_agency_tree(
    make_agency, make_official, hanoi, ward
) -> None:
    city = make_agency("HN", kind="city_committee")
    wardc = make_agency("HN-00070", unit=ward, parent=city)
    other = make_agency("HN-00073", parent=city)
    auditor = make_official(Role.AUDITOR, city)
    clerk = make_official(Role.RECEIVING_OFFICER, wardc)
    assert can(auditor, Perm.AUDIT_VIEW, wardc)  # inherited from the city
    assert can(clerk, Perm.DOSSIER_RECEIVE, wardc)
    assert not can(clerk, Perm.DOSSIER_RECEIVE, other)
    assert not can(clerk, Perm.DOSSIER_RECEIVE, city)  # never upwards
    assert not can(clerk, Perm.AUDIT_VIEW)
    assert set(agencies_where(auditor, Perm.AUDIT_VIEW)) == {city.pk, wardc.pk, other.pk}
    assert Perm.DOSSIER_RECEIVE in permissions(clerk)
    assert Membership.objects.filter(user=clerk).count() == 1


def test_role_revoke_is_audited_and_takes_effect(make_agency, make_official) -> None:
    agency = make_agency()
    official = make_official(Role.APPROVER, agency)
    membership = Membership.objects.get(user=official)
    services.role_revoke(membership=membership, actor=official)
    clear_cache(official)
    assert not can(official, Perm.DOSSIER_APPROVE, agency)
    assert AuditEvent.objects.filter(action="role.revoke").count() == 1


def test_citizens_cannot_hold_roles(citizen, make_agency) -> None:
    with pytest.raises(ValidationFailed):
        services.role_grant(user=citizen, agency=make_agency(), role=Role.APPROVER)


def test_unknown_role_and_agency_kind_are_rejected(make_agency, make_official, hanoi) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.role_grant(user=make_official(), agency=make_agency(), role="king")
    assert "role" in exc.value.fields
    with pytest.raises(ValidationFailed):
        services.agency_create(code="X", name="X", kind="palace", admin_unit=hanoi)


def test_api_token_lifecycle(citizen) -> None:
    token, raw = services.api_token_create(user=citizen, name="script")
    assert raw.startswith(f"thd_{token.prefix}_")
    assert token.digest not in raw and len(token.digest) == 64
    assert services.api_token_authenticate(raw=raw) == citizen
    services.api_token_revoke(token=token, actor=citizen)
    with pytest.raises(AuthenticationFailed) as exc:
        services.api_token_authenticate(raw=raw)
    assert exc.value.code == "token_revoked"


@pytest.mark.parametrize("raw", ["", "abc", "thd_short_x", "xyz_12345678_secret", "thd_12345678_"])
def test_malformed_tokens_are_named(raw: str) -> None:
    with pytest.raises(AuthenticationFailed) as exc:
        services.api_token_authenticate(raw=raw)
    assert exc.value.code == "malformed_token"


def test_wrong_secret_and_expired_token(citizen) -> None:
    _token, raw = services.api_token_create(
        user=citizen, name="old", expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(AuthenticationFailed) as exc:
        services.api_token_authenticate(raw=raw)
    assert exc.value.code == "token_revoked"
    with pytest.raises(AuthenticationFailed) as exc:
        services.api_token_authenticate(raw=raw[:-2] + "zz")
    assert exc.value.code == "invalid_token"
    assert ApiToken.objects.count() == 1


def test_failed_logins_are_slowed_then_locked(rf, citizen, settings) -> None:
    settings.LOGIN_THROTTLE_FREE = 2
    settings.LOGIN_THROTTLE_LOCK = 4
    request = rf.post("/")
    name = citizen.username

    def attempt(password: str) -> None:
        services.password_login(request=request, username=name, password=password, ip="10.0.0.1")

    for _ in range(2):  # free attempts
        with pytest.raises(AuthenticationFailed):
            attempt("wrong")
    # The next attempt must wait, even with the right password.
    with pytest.raises(Throttled) as exc:
        attempt("citizen-pass-1")
    assert exc.value.code == "throttled" and exc.value.retry_after > 0
    # Once the wait is over, failures continue until the lock.
    for _ in range(2):
        LoginThrottle.objects.update(blocked_until=None)
        with pytest.raises(AuthenticationFailed):
            attempt("wrong")
    with pytest.raises(Throttled) as exc:
        attempt("citizen-pass-1")
    assert exc.value.code == "account_locked"
    assert exc.value.retry_after > 60
    assert AuditEvent.objects.filter(action="login.failed").count() == 4


def test_success_clears_the_account_counter(rf, citizen) -> None:
    request = rf.post("/")
    with pytest.raises(AuthenticationFailed):
        services.password_login(
            request=request, username=citizen.username, password="no", ip="10.0.0.2"
        )
    user = services.password_login(
        request=request, username=citizen.username, password="citizen-pass-1", ip="10.0.0.2"
    )
    assert user == citizen
    assert not LoginThrottle.objects.filter(key=f"user:{citizen.username}").exists()


def test_totp_verify_rejects_wrong_and_malformed_codes(make_official, totp_code) -> None:
    key = "3132333435363738393031323334353637383930"
    official = make_official(totp_key=key)
    with pytest.raises(ValidationFailed) as exc:
        services.totp_verify(user=official, code="12ab", ip=None)
    assert exc.value.code == "malformed_otp" and "otp_token" in exc.value.fields
    wrong = f"{(int(totp_code(key)) + 1) % 1_000_000:06d}"
    with pytest.raises(AuthenticationFailed) as failed:
        services.totp_verify(user=official, code=wrong, ip=None)
    assert failed.value.code == "invalid_otp"
    assert LoginThrottle.objects.get(key=f"user:{official.username}").failures == 1
