"""The demo VNeID provider with Django's test client: its sign-in page, its own session, what
the authorization endpoint refuses, the claims, the signing key and the demo client."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse
from jwcrypto import jwk, jwt

from thudo.accounts.models import LoginThrottle, User
from thudo.eid import demo, keys, selectors, testing
from thudo.eid.middleware import PROVIDER_MARK

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/accounts/vneid/callback/"
VERIFIER = "v" * 64


def _challenge(verifier: str = VERIFIER) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _authorize(**params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": "thudo-portal",
        "redirect_uri": CALLBACK,
        "scope": "openid profile address",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": _challenge(),
        "code_challenge_method": "S256",
        **params,
    }
    return f"{reverse('eid:authorize')}?{urlencode(query)}"


def _provider_sign_in(client: Client, person: Any, password: str = testing.PASSWORD) -> Any:
    return client.post(
        reverse("eid:login"),
        {"personal_id": person.personal_id, "password": password, "next": "/eid/"},
    )


def test_sign_in_page_is_the_demo_provider_in_vietnamese(client: Client, resident: Any) -> None:
    page = client.get(reverse("eid:login"))
    assert page.status_code == 200
    text = page.content.decode()
    assert '<html lang="vi"' in text and "vneid-demo" in text
    assert 'name="personal_id"' in text and 'name="password"' in text
    assert "sessionid" not in page.cookies and "vneid_session" not in page.cookies


def test_provider_sign_in_keeps_its_own_session(client: Client, resident: Any) -> None:
    response = _provider_sign_in(client, resident)
    assert response.status_code == 302 and response["Location"] == "/eid/"
    cookie = response.cookies["vneid_session"]
    assert cookie["path"] == "/eid/" and cookie["max-age"] == 1800
    assert "sessionid" not in response.cookies
    # The portal does not see her.
    assert client.get(reverse("accounts:security")).status_code == 302
    assert client.get(reverse("eid:index")).context["user"].personal_id == resident.personal_id


def test_wrong_passwords_count_in_the_sign_in_throttle(client: Client, resident: Any) -> None:
    for _ in range(3):
        page = _provider_sign_in(client, resident, "wrong")
        assert page.status_code == 200 and page.context["form"].errors
    assert LoginThrottle.objects.get(key=f"user:{resident.personal_id}").failures == 3
    assert _provider_sign_in(client, resident, "wrong").status_code == 429


def test_empty_fields_are_named(client: Client) -> None:
    page = client.post(reverse("eid:login"), {"personal_id": "", "password": ""})
    assert set(page.context["form"].errors) == {"personal_id", "password"}


def test_deceased_resident_cannot_sign_in(client: Client, resident: Any) -> None:
    resident.died_on = date(2026, 1, 1)
    resident.save()
    page = _provider_sign_in(client, resident)
    assert page.status_code == 200 and "vneid_session" not in page.cookies


def test_authorization_needs_pkce_s256_and_the_code_flow(client: Client, resident: Any) -> None:
    testing.register_portal()
    _provider_sign_in(client, resident)

    def error_of(url: str) -> list[str]:
        response = client.get(url)
        assert response.status_code == 302, response.content[:500]
        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
        return parse_qs(location.query).get("error", [])

    assert error_of(_authorize(code_challenge="", code_challenge_method="")) == ["invalid_request"]
    assert error_of(_authorize(code_challenge=VERIFIER, code_challenge_method="plain")) == [
        "invalid_request"
    ]
    assert error_of(_authorize(response_type="token")) in (
        ["unauthorized_client"],
        ["unsupported_response_type"],
    )
    assert error_of(_authorize()) == []  # the good one: a code


def test_unknown_client_or_redirect_is_shown_not_followed(client: Client, resident: Any) -> None:
    testing.register_portal()
    client.cookies["thudo_language"] = "en"
    _provider_sign_in(client, resident)
    for url in (_authorize(client_id="nobody"), _authorize(redirect_uri="https://evil.example/")):
        page = client.get(url)
        assert page.status_code == 400 and "The sign-in request is not valid" in (
            page.content.decode()
        )


def test_other_clients_get_a_consent_screen(client: Client, resident: Any) -> None:
    app = testing.register_portal()
    app.skip_authorization = False
    app.save()
    _provider_sign_in(client, resident)
    page = client.get(_authorize())
    assert page.status_code == 200 and b'name="allow"' in page.content
    refused = client.post(
        reverse("eid:authorize"),
        {
            **{k: v[0] for k, v in parse_qs(urlsplit(_authorize()).query).items()},
            "csrfmiddlewaretoken": page.context["csrf_token"],
        },
    )
    assert parse_qs(urlsplit(refused["Location"]).query)["error"] == ["access_denied"]


def test_code_exchange_gives_registry_claims_signed_rs256(client: Client, resident: Any) -> None:
    testing.register_portal()
    _provider_sign_in(client, resident)
    code = parse_qs(urlsplit(client.get(_authorize())["Location"]).query)["code"][0]
    server = Client()  # the portal's back channel: no cookies
    basic = base64.b64encode(b"thudo-portal:thudo-portal-demo-secret-2026").decode()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
    }
    response = server.post(reverse("eid:token"), form, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 200, response.content
    tokens = response.json()
    assert "refresh_token" not in tokens and tokens["expires_in"] == 300
    keyset = jwk.JWKSet.from_json(server.get(reverse("eid:jwks")).content)
    claims = json.loads(jwt.JWT(jwt=tokens["id_token"], key=keyset, algs=["RS256"]).claims)
    assert claims["iss"] == "http://testserver/eid" and claims["aud"] == "thudo-portal"
    assert claims["sub"] == resident.personal_id and claims["nonce"] == "n-1"
    assert claims["acr"] == "urn:vn:vneid:loa:2" and claims["vneid_level"] == 2
    assert claims["name"] == "Trần Thị Bích Ngọc" and claims["birthdate"] == "1985-04-02"
    assert claims["gender"] == "female"
    assert claims["address"]["formatted"] == "12 Hàng Bài, Phường Hoàn Kiếm, Thành phố Hà Nội"
    userinfo = server.get(
        reverse("eid:userinfo"), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    ).json()
    assert userinfo["sub"] == resident.personal_id and userinfo["address"] == claims["address"]
    # Only the code grant exists at the token endpoint.
    password_grant = {"grant_type": "password", "username": resident.personal_id, "password": "x"}
    assert server.post(
        reverse("eid:token"), password_grant, HTTP_AUTHORIZATION=f"Basic {basic}"
    ).json()["error"] == ("unsupported_grant_type")
    # A code is used once; a second exchange fails.
    again = server.post(reverse("eid:token"), form, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert again.status_code == 400
    # A wrong verifier (PKCE) fails too.
    code = parse_qs(urlsplit(client.get(_authorize())["Location"]).query)["code"][0]
    wrong = {**form, "code": code, "code_verifier": "w" * 64}
    assert server.post(reverse("eid:token"), wrong, HTTP_AUTHORIZATION=f"Basic {basic}").json()[
        "error"
    ] == ("invalid_grant")


def test_claims_scope_by_scope(resident: Any) -> None:
    claims = selectors.person_claims(resident)
    assert claims["address"] == {
        "country": "Việt Nam",
        "formatted": "12 Hàng Bài, Phường Hoàn Kiếm, Thành phố Hà Nội",
        "street_address": "12 Hàng Bài",
        "locality": "Phường Hoàn Kiếm",
        "region": "Thành phố Hà Nội",
    }
    assert selectors.level_from_acr("urn:vn:vneid:loa:2") == 2
    assert selectors.level_from_acr("urn:vn:vneid:loa:3") == 0
    assert selectors.level_from_acr(None) == 0


def test_key_is_created_once_on_first_use(tmp_path: Any, settings: Any) -> None:
    settings.EID_OIDC_KEY_FILE = str(tmp_path / "sub" / "key.pem")
    first = keys.private_pem()
    assert "PRIVATE KEY" in first and keys.private_pem() == first
    assert (tmp_path / "sub" / "key.pem").stat().st_mode & 0o777 == 0o600
    assert list((tmp_path / "sub").iterdir()) == [tmp_path / "sub" / "key.pem"]


def test_demo_client_is_idempotent_with_a_hashed_secret(hanoi: Any, settings: Any) -> None:
    settings.EID_PORTAL_BASE = "http://127.0.0.1:8000"
    demo.demo_load()
    demo.demo_load()
    app = testing.register_portal()
    assert app.redirect_uris.split() == [
        "http://127.0.0.1:8000/accounts/vneid/callback/",
        "http://localhost:8000/accounts/vneid/callback/",
    ]
    assert app.skip_authorization and app.algorithm == "RS256"
    assert app.client_type == "confidential" and app.authorization_grant_type == (
        "authorization-code"
    )
    assert app.client_secret != "thudo-portal-demo-secret-2026"
    assert check_password("thudo-portal-demo-secret-2026", app.client_secret)
    settings.EID_CLIENT_SECRET = "a-new-secret"
    demo.demo_load()
    app.refresh_from_db()
    assert check_password("a-new-secret", app.client_secret)


def test_sessions_of_one_side_do_not_open_on_the_other(client: Client, resident: Any) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    _provider_sign_in(client, resident)
    provider_key = client.cookies["vneid_session"].value
    assert SessionStore(provider_key).load()[PROVIDER_MARK] is True
    other = Client()
    other.cookies["sessionid"] = provider_key
    assert other.get(reverse("accounts:security")).status_code == 302
    # Untouched: the provider's session still holds her.
    assert SessionStore(provider_key).load().get("_auth_user_id")

    user = User.objects.get(personal_id=resident.personal_id)
    portal = Client()
    portal.force_login(user)
    portal_key = portal.cookies["sessionid"].value
    third = Client()
    third.cookies["vneid_session"] = portal_key
    assert not third.get(reverse("eid:index")).context["user"].is_authenticated
