import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.accounts.models import ApiToken, LoginThrottle
from thudo.core.models import AuditEvent

pytestmark = pytest.mark.django_db
KEY = "3132333435363738393031323334353637383930"


def _password(client, username, password="s3cret-pass-1", **extra):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password, **extra}
    )


def test_citizen_signs_in_with_password_only(client, citizen) -> None:
    r = _password(client, citizen.username, "citizen-pass-1", next="/accounts/security/")
    assert r.status_code == 302 and r["Location"] == "/accounts/security/"
    assert client.get(reverse("accounts:security")).status_code == 200


def test_open_redirects_are_refused(client, citizen) -> None:
    r = _password(client, citizen.username, "citizen-pass-1", next="https://evil.example/")
    assert r["Location"] == reverse("web:home")


def test_official_needs_the_second_factor(client, make_official, totp_code) -> None:
    official = make_official(totp_key=KEY, username="canbo")
    r = _password(client, "canbo")
    assert r.status_code == 302 and r["Location"] == reverse("accounts:otp")
    # Not signed in yet: the password alone opens nothing.
    assert client.get(reverse("accounts:security")).status_code == 302
    r = client.post(reverse("accounts:otp"), {"otp_token": "000000"})
    assert r.status_code == 200 and "otp_token" in r.context["form"].errors
    r = client.post(reverse("accounts:otp"), {"otp_token": totp_code(KEY)})
    assert r.status_code == 302
    assert client.get(reverse("accounts:security")).status_code == 200
    assert int(client.session["_auth_user_id"]) == official.pk
    assert client.session.get("otp_device_id")


def test_official_without_authenticator_enrols_first(client, make_official, totp_code) -> None:
    make_official(username="moi")
    r = _password(client, "moi")
    assert r["Location"] == reverse("accounts:otp_setup")
    page = client.get(reverse("accounts:otp_setup"))
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user__username="moi", confirmed=False)
    r = client.post(reverse("accounts:otp_setup"), {"otp_token": totp_code(device.key)})
    assert r.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action="totp.confirm").exists()


def test_otp_page_without_password_step_sends_back(client) -> None:
    assert client.get(reverse("accounts:otp"))["Location"] == reverse("accounts:login")


def test_wrong_password_shows_field_error_and_locks(client, citizen, settings) -> None:
    settings.LOGIN_THROTTLE_FREE = 1
    settings.LOGIN_THROTTLE_LOCK = 2
    client.cookies["thudo_language"] = "en"
    r = _password(client, citizen.username, "nope")
    assert r.status_code == 200 and r.context["form"].errors["password"]
    # Slowed: even the right password must wait.
    r = _password(client, citizen.username, "citizen-pass-1")
    assert r.status_code == 429 and r.context["form"].non_field_errors()
    LoginThrottle.objects.update(blocked_until=None)
    _password(client, citizen.username, "nope")
    r = _password(client, citizen.username, "citizen-pass-1")
    assert r.status_code == 429 and b"locked" in r.content
    assert LoginThrottle.objects.get(key=f"user:{citizen.username}").failures == 2
    assert "_auth_user_id" not in client.session


def test_tokens_are_created_once_and_revoked(client, citizen) -> None:
    client.force_login(citizen)
    r = client.post(reverse("accounts:security"), {"name": "my script"})
    raw = r.context["new_token"]
    assert raw.startswith("thd_") and raw.encode() in r.content
    token = ApiToken.objects.get(user=citizen)
    assert raw not in token.digest
    assert client.get("/api/accounts/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    client.post(reverse("accounts:token_revoke", args=[token.pk]))
    assert client.get("/api/accounts/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_admin_requires_the_second_factor(client, make_official, totp_code) -> None:
    admin = make_official(username="boss", totp_key=KEY)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)  # a session without a verified device
    r = client.get("/admin/", follow=True)
    assert r.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    # With the password and the code, the admin opens.
    client.logout()
    _password(client, "boss", next="/admin/")
    r = client.post(reverse("accounts:otp"), {"otp_token": totp_code(KEY)}, follow=True)
    assert r.status_code == 200 and r.redirect_chain[-1][0] == "/admin/"


def test_logout_is_post_only(client, citizen) -> None:
    client.force_login(citizen)
    assert client.get(reverse("accounts:logout")).status_code == 405
    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session
