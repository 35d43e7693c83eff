"""VNeID sign-in over real HTTP: the live server serves the demo provider (/eid/) and the portal
(/accounts/vneid/) from the same database with separate sessions. A `requests` session plays the
browser (redirects followed one by one, cookies kept); the portal's backend calls the provider's
token, userinfo and JWKS endpoints over the socket."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore

from thudo.accounts.models import User
from thudo.core.models import AuditEvent
from thudo.eid import testing

pytestmark = pytest.mark.django_db(transaction=True)
NEXT = "/accounts/security/"


@dataclass
class Browser:
    base: str
    http: requests.Session = field(default_factory=requests.Session)
    hops: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http.cookies.set("thudo_language", "en")

    def go(self, url: str, data: dict[str, str] | None = None) -> requests.Response:
        """GET (or POST `data`) and follow redirects by hand; `hops` lists every URL seen."""
        url = urljoin(self.base, url)
        response = (
            self.http.post(url, data=data, allow_redirects=False, timeout=20)
            if data is not None
            else self.http.get(url, allow_redirects=False, timeout=20)
        )
        self.hops.append(url)
        for _ in range(10):
            if response.status_code not in (301, 302, 303):
                return response
            url = urljoin(url, response.headers["Location"])
            self.hops.append(url)
            if not url.startswith(self.base):
                return response  # somewhere else: stop there
            response = self.http.get(url, allow_redirects=False, timeout=20)
        raise AssertionError(f"too many redirects: {self.hops}")

    def submit(self, page: requests.Response, values: dict[str, str], **extra: str) -> Any:
        """Post the page's main form (not the language switch) with its hidden fields."""
        forms = re.findall(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page.text, re.S)
        [(action, body)] = [(a, b) for a, b in forms if "setlang" not in a][:1]
        hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)
        data = {name: html.unescape(value) for name, value in hidden}
        return self.go(urljoin(page.url, html.unescape(action)), {**data, **values, **extra})

    def portal_session(self) -> dict[str, Any]:
        key = self.http.cookies.get("sessionid", path="/")
        return SessionStore(key).load() if key else {}

    def sign_out_of_portal(self) -> None:
        page = self.go(NEXT)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text[:2000]
        self.go("/accounts/logout/", {"csrfmiddlewaretoken": html.unescape(token[1])})
        assert "_auth_user_id" not in self.portal_session()

    def sign_in(self, personal_id: str, password: str = testing.PASSWORD) -> requests.Response:
        """Start at the portal, sign in at the provider, come back."""
        login_page = self.go(f"/accounts/vneid/start/?{urlencode({'next': NEXT})}")
        assert urlsplit(login_page.url).path == "/eid/login/", self.hops
        return self.submit(login_page, {"personal_id": personal_id, "password": password})


def _paths(browser: Browser) -> list[str]:
    return [urlsplit(u).path for u in browser.hops]


def test_level_2_resident_signs_in_with_name_from_the_registry(
    eid_live: str, portal_client: Any, resident: Any
) -> None:
    browser = Browser(eid_live)
    page = browser.sign_in(resident.personal_id)

    assert page.status_code == 200 and page.url == eid_live + NEXT
    assert _paths(browser) == [
        "/accounts/vneid/start/",
        "/eid/authorize/",
        "/eid/login/",
        "/eid/login/",
        "/eid/authorize/",
        "/accounts/vneid/callback/",
        NEXT,
    ]
    callback = parse_qs(urlsplit(browser.hops[-2]).query)
    assert set(callback) == {"code", "state"}
    session = browser.portal_session()
    user = User.objects.get(personal_id=resident.personal_id)
    assert session["eid_level"] == 2 and session["eid_sub"] == resident.personal_id
    assert int(session["_auth_user_id"]) == user.pk
    assert session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"
    assert user.full_name == "Trần Thị Bích Ngọc"  # brought up to date from the registry
    assert 'action="/accounts/logout/"' in page.text  # the portal's signed-in header
    assert AuditEvent.objects.filter(action="eid.sign_in", object_id=str(user.pk)).exists()
    # The provider's cookie is its own, and only for /eid/.
    [cookie] = [c for c in browser.http.cookies if c.name == "vneid_session"]
    assert cookie.path == "/eid/" and cookie.value != browser.http.cookies.get("sessionid")


def test_level_1_resident_gets_level_1(eid_live: str, portal_client: Any, ward: Any) -> None:
    person = testing.make_resident(
        ward=ward,
        personal_id="001090123456",
        full_name="Nguyễn Văn An",
        sex="male",
        birth_date=date(1990, 5, 17),
        eid_level=1,
    )
    browser = Browser(eid_live)
    page = browser.sign_in(person.personal_id)
    assert page.status_code == 200 and page.url == eid_live + NEXT
    assert browser.portal_session()["eid_level"] == 1


def test_with_the_backend_listed_the_session_records_it(
    eid_live: str, portal_client: Any, resident: Any, eid_settings: Any
) -> None:
    backend = "thudo.eid.backends.VNeIDBackend"
    eid_settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend", backend]
    browser = Browser(eid_live)
    assert browser.sign_in(resident.personal_id).url == eid_live + NEXT
    assert browser.portal_session()["_auth_user_backend"] == backend
    # Listed, it still never answers a password sign-in.
    from django.contrib.auth import authenticate

    assert authenticate(None, username=resident.personal_id, password="x") is None


@pytest.mark.parametrize("level", [0, None])
def test_resident_without_activated_eid_or_unknown_is_refused(
    eid_live: str, portal_client: Any, ward: Any, level: int | None
) -> None:
    """Level 0, or a citizen account with no resident in the registry: the provider refuses
    even with the right password, and nothing reaches the portal."""
    from thudo.accounts import services

    if level is None:
        services.citizen_create(
            personal_id="001090123456",
            full_name="Nguyễn Văn An",
            sex="male",
            birth_date=date(1990, 5, 17),
            password=testing.PASSWORD,
        )
    else:
        testing.make_resident(
            ward=ward,
            personal_id="001090123456",
            full_name="Nguyễn Văn An",
            sex="male",
            birth_date=date(1990, 5, 17),
            eid_level=level,
        )
    browser = Browser(eid_live)
    page = browser.sign_in("001090123456")
    assert page.status_code == 200 and urlsplit(page.url).path == "/eid/login/"
    assert "no activated e-ID account" in html.unescape(page.text)
    assert "/accounts/vneid/callback/" not in _paths(browser)
    assert "_auth_user_id" not in browser.portal_session()


def test_wrong_password_is_refused_at_the_provider(
    eid_live: str, portal_client: Any, resident: Any
) -> None:
    browser = Browser(eid_live)
    page = browser.sign_in(resident.personal_id, "not-the-password")
    assert urlsplit(page.url).path == "/eid/login/"
    assert "personal ID number or password is not correct" in page.text
    assert browser.portal_session() == {} or "_auth_user_id" not in browser.portal_session()


def test_tampered_state_is_refused(eid_live: str, portal_client: Any, resident: Any) -> None:
    browser = Browser(eid_live)
    start = browser.http.get(
        f"{eid_live}/accounts/vneid/start/", params={"next": NEXT}, allow_redirects=False
    )
    authorize = urlsplit(start.headers["Location"])
    params = parse_qs(authorize.query)
    assert params["code_challenge_method"] == ["S256"] and params["nonce"][0]
    params["state"] = ["forged-" + params["state"][0]]
    forged = urlunsplit(authorize._replace(query=urlencode(params, doseq=True)))
    login_page = browser.go(forged)
    page = browser.submit(login_page, {"personal_id": resident.personal_id, "password": "x"})
    page = browser.submit(page, {"personal_id": resident.personal_id, "password": testing.PASSWORD})
    assert "/accounts/vneid/callback/" in _paths(browser)
    assert urlsplit(page.url).path == "/accounts/login/"
    assert "does not belong to a sign-in started in this browser" in page.text
    assert "_auth_user_id" not in browser.portal_session()
    assert browser.go(NEXT).url.startswith(f"{eid_live}/accounts/login/")


def test_cancelling_at_the_provider_returns_with_a_message(
    eid_live: str, portal_client: Any, resident: Any
) -> None:
    browser = Browser(eid_live)
    login_page = browser.go(f"/accounts/vneid/start/?{urlencode({'next': NEXT})}")
    page = browser.submit(login_page, {}, cancel="1")
    callback = parse_qs(urlsplit(browser.hops[-2]).query)
    assert callback["error"] == ["access_denied"] and callback["state"]
    assert urlsplit(page.url).path == "/accounts/login/"
    assert "You cancelled the sign-in with VNeID" in page.text
    assert "_auth_user_id" not in browser.portal_session()


def test_provider_session_does_not_sign_into_the_portal(
    eid_live: str, portal_client: Any, resident: Any
) -> None:
    browser = Browser(eid_live)
    login_page = browser.go("/eid/login/")
    page = browser.submit(
        login_page, {"personal_id": resident.personal_id, "password": testing.PASSWORD}
    )
    assert urlsplit(page.url).path == "/eid/" and "You are signed in to VNeID" in page.text
    # The portal does not know her, with the provider's cookie in the jar...
    assert browser.go(NEXT).url.startswith(f"{eid_live}/accounts/login/")
    assert "_auth_user_id" not in browser.portal_session()
    # ... nor when the provider's session key is put into the portal's cookie.
    provider_key = browser.http.cookies.get("vneid_session", path="/eid/")
    copier = Browser(eid_live)
    copier.http.cookies.set("sessionid", provider_key, path="/")
    assert copier.go(NEXT).url.startswith(f"{eid_live}/accounts/login/")

    # The other way round: a portal session (password sign-in) is no provider session.
    citizen = Browser(eid_live)
    login_page = citizen.go("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
    assert token
    citizen.go(
        "/accounts/login/",
        {
            "csrfmiddlewaretoken": token[1],
            "username": resident.personal_id,
            "password": testing.PASSWORD,
        },
    )
    portal_key = citizen.http.cookies.get("sessionid", path="/")
    assert citizen.portal_session().get("_auth_user_id") and "eid_level" not in (
        citizen.portal_session()
    )
    copier = Browser(eid_live)
    copier.http.cookies.set("vneid_session", portal_key, path="/eid/")
    assert "You are not signed in to VNeID" in copier.go("/eid/").text


def test_single_sign_on_and_wrong_client_secret(
    eid_live: str, portal_client: Any, resident: Any, eid_settings: Any
) -> None:
    """Still signed in at the provider, a second portal sign-in asks no password; a portal with
    the wrong client secret is refused by the token endpoint and signs nobody in."""
    browser = Browser(eid_live)
    browser.sign_in(resident.personal_id)
    browser.sign_out_of_portal()
    browser.hops.clear()
    page = browser.go(f"/accounts/vneid/start/?{urlencode({'next': NEXT})}")
    assert "/eid/login/" not in _paths(browser) and page.url == eid_live + NEXT
    assert browser.portal_session()["eid_level"] == 2

    eid_settings.EID_CLIENT_SECRET = "wrong-secret"
    other = Browser(eid_live)
    page = other.sign_in(resident.personal_id)
    assert urlsplit(page.url).path == "/accounts/login/"
    assert "could not be verified" in page.text
    assert "_auth_user_id" not in other.portal_session()


def test_discovery_and_keys_drive_the_client(
    eid_live: str, portal_client: Any, resident: Any, eid_settings: Any
) -> None:
    document = requests.get(f"{eid_live}/eid/.well-known/openid-configuration", timeout=10).json()
    assert document["issuer"] == f"{eid_live}/eid"
    assert document["token_endpoint"] == f"{eid_live}/eid/token/"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "urn:vn:vneid:loa:2" in document["acr_values_supported"]
    keys = requests.get(document["jwks_uri"], timeout=10).json()["keys"]
    assert [k["alg"] for k in keys] == ["RS256"] and "d" not in keys[0]

    eid_settings.EID_DISCOVERY = True
    browser = Browser(eid_live)
    page = browser.sign_in(resident.personal_id)
    assert page.url == eid_live + NEXT and browser.portal_session()["eid_level"] == 2
