"""The shell: language, access rules, registry-driven menus, indicators, PWA files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse

from thudo.accounts.testing import login_verified
from thudo.core.registry import Indicator, Manifest, MenuEntry, Registry

from .conftest import MakeUser

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME


def html(response: Any) -> str:
    return response.content.decode()


# --- Language -------------------------------------------------------------------------------


def test_home_is_vietnamese_even_when_the_browser_asks_for_english(client: Client) -> None:
    response = client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert response.status_code == 200
    page = html(response)
    assert '<html lang="vi"' in page
    assert response["Content-Language"] == "vi"
    # The switch offers the other language, named in that language.
    assert 'name="language" value="en" lang="en"' in page
    assert ">English<" in page


def test_language_cookie_switches_to_english(client: Client) -> None:
    response = client.post(
        reverse("web:set_language"), {"language": "en", "next": reverse("web:home")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")
    assert response.cookies[COOKIE].value == "en"

    page = html(client.get(reverse("web:home")))

    assert '<html lang="en"' in page
    assert "Skip to main content" in page
    assert 'name="language" value="vi" lang="vi"' in page
    assert ">Tiếng Việt<" in page


def test_switch_back_to_vietnamese(client: Client) -> None:
    client.cookies[COOKIE] = "en"
    client.post(reverse("web:set_language"), {"language": "vi", "next": "/"})
    assert '<html lang="vi"' in html(client.get("/"))


def test_unknown_language_cookie_falls_back_to_vietnamese(client: Client) -> None:
    client.cookies[COOKIE] = "fr"
    assert '<html lang="vi"' in html(client.get("/"))


# --- Layout ---------------------------------------------------------------------------------


def test_layout_has_landmarks_skip_link_and_local_assets(client: Client) -> None:
    page = html(client.get("/"))

    for landmark in ("<header", "<nav", '<main id="main"', "<footer"):
        assert landmark in page
    assert 'class="skip-link" href="#main"' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "/static/web/thudo.css" in page
    assert "/static/django_htmx/htmx-2.min.js" in page
    assert settings.THUDO_CITY["NAME"] in page
    for attribute in ('src="', 'href="'):  # nothing from a CDN
        assert f"{attribute}http" not in page and f"{attribute}//" not in page


def test_sign_in_link_for_visitors_sign_out_form_for_users(
    client: Client, make_user: MakeUser
) -> None:
    login = resolve_url(settings.LOGIN_URL)
    assert f'href="{login}?next=/"' in html(client.get("/"))

    login_verified(client, make_user())
    page = html(client.get("/"))
    assert f'href="{login}' not in page
    assert 'method="post"' in page


# --- Access rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web:workspace", "web:dashboard", "web:indicators"])
def test_visitors_are_sent_to_sign_in(client: Client, name: str) -> None:
    url = reverse(name)
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{resolve_url(settings.LOGIN_URL)}?next={url}"


@pytest.mark.parametrize("name", ["web:workspace", "web:dashboard", "web:indicators"])
def test_citizens_are_refused(client: Client, make_user: MakeUser, name: str) -> None:
    login_verified(client, make_user(kind="citizen"))

    response = client.get(reverse(name))

    assert response.status_code == 403
    assert '<html lang="vi"' in html(response)  # the shell's own 403 page


@pytest.mark.parametrize("name", ["web:workspace", "web:dashboard", "web:indicators"])
@pytest.mark.parametrize("fields", [{"kind": "official"}, {"kind": "citizen", "is_staff": True}])
def test_officials_and_staff_get_in(
    client: Client, make_user: MakeUser, name: str, fields: dict[str, Any]
) -> None:
    login_verified(client, make_user(**fields))

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]


def test_officials_see_their_menus_citizens_do_not(client: Client, make_user: MakeUser) -> None:
    workspace = f'href="{reverse("web:workspace")}"'
    dashboard = f'href="{reverse("web:dashboard")}"'
    page = html(client.get("/"))
    assert workspace not in page and dashboard not in page

    login_verified(client, make_user(kind="official"))
    page = html(client.get(reverse("web:workspace")))
    assert workspace in page and dashboard in page
    assert 'aria-current="page"' in page


# --- Registry-driven menus ------------------------------------------------------------------


def test_menus_come_from_the_registry(client: Client, clean_registry: Registry) -> None:
    clean_registry.register(
        Manifest(
            app_label="testdomain",
            menu=[
                MenuEntry(label="Bus finder", url_name="web:offline", audience="citizen",
                          icon="bus", order=5),
                MenuEntry(label="Broken entry", url_name="testdomain:nowhere",
                          audience="citizen"),
                MenuEntry(label="Secret tool", url_name="web:offline", audience="citizen",
                          permission="audit.view"),
            ],
        )
    )  # fmt: skip

    page = html(client.get("/"))

    assert "Bus finder" in page
    assert "#i-bus" in page
    assert "Broken entry" not in page  # a URL that does not resolve is left out
    assert "Secret tool" not in page  # visitors lack the permission
    # The home page lists the citizens' services as cards too.
    assert page.count("Bus finder") == 2


def test_registry_is_restored_after_the_test() -> None:
    from thudo.core.registry import registry

    assert "testdomain" not in {m.app_label for m in registry.manifests()}
    assert "web" in {m.app_label for m in registry.manifests()}


def test_permission_gated_entries_show_for_superusers(
    client: Client, clean_registry: Registry, make_user: MakeUser
) -> None:
    clean_registry.register(
        Manifest(
            app_label="testdomain",
            menu=[MenuEntry(label="Secret tool", url_name="web:offline", audience="official",
                            permission="audit.view")],
        )
    )  # fmt: skip
    login_verified(client, make_user(kind="official"))
    assert "Secret tool" not in html(client.get(reverse("web:workspace")))

    login_verified(client, make_user(is_staff=True, is_superuser=True))
    assert "Secret tool" in html(client.get(reverse("web:workspace")))


# --- Indicators -----------------------------------------------------------------------------


def _fail() -> float:
    raise RuntimeError("source down")


def test_indicator_partial_renders_no_data_for_none(
    client: Client, clean_registry: Registry, make_user: MakeUser
) -> None:
    clean_registry.register(
        Manifest(
            app_label="testdomain",
            indicators=[
                Indicator(code="empty", label="Empty indicator", compute=lambda: None),
                Indicator(code="zero", label="Zero indicator", compute=lambda: 0),
                Indicator(code="big", label="Big indicator", compute=lambda: 1234567),
                Indicator(code="rate", label="Rate", compute=lambda: 97.456, unit="%"),
                Indicator(code="broken", label="Broken", compute=_fail),
            ],
        )
    )
    login_verified(client, make_user(kind="official"))

    response = client.get(reverse("web:indicators"), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    page = html(response)
    assert "<html" not in page  # a fragment, not a page
    assert 'id="indicator-cards"' in page
    assert 'hx-get="' + reverse("web:indicators") + '"' in page

    def card(code: str) -> str:
        start = page.index(f'data-indicator="{code}"')
        return page[start : page.index("</li>", start)]

    assert "Chưa có dữ liệu" in card("empty")
    assert ">0<" in card("zero") and "Chưa có dữ liệu" not in card("zero")
    assert "1.234.567" in card("big")  # Vietnamese grouping
    assert "97,46" in card("rate") and "%" in card("rate")
    assert "Chưa có dữ liệu" in card("broken")


def test_dashboard_includes_the_cards_and_an_htmx_refresh(
    client: Client, make_user: MakeUser
) -> None:
    login_verified(client, make_user(kind="official"))

    page = html(client.get(reverse("web:dashboard")))

    assert 'id="indicator-cards"' in page
    assert f'hx-get="{reverse("web:indicators")}"' in page
    assert 'hx-target="#indicator-cards"' in page


# --- Installable app ------------------------------------------------------------------------


def test_web_manifest(client: Client) -> None:
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/manifest+json")
    data = json.loads(response.content)
    assert data["short_name"] == settings.THUDO_CITY["NAME"]
    assert settings.THUDO_CITY["NAME"] in data["name"]
    assert data["start_url"] == "/"
    assert data["display"] == "standalone"
    assert data["theme_color"].startswith("#")
    assert data["lang"] == "vi"
    sizes = {icon["sizes"] for icon in data["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in data["icons"])


def test_web_manifest_follows_the_language_cookie(client: Client) -> None:
    client.cookies[COOKIE] = "en"
    assert json.loads(client.get("/manifest.webmanifest").content)["lang"] == "en"


def test_manifest_icons_are_served(client: Client) -> None:
    from django.contrib.staticfiles import finders

    data = json.loads(client.get("/manifest.webmanifest").content)
    for icon in data["icons"]:
        name = icon["src"].removeprefix(settings.STATIC_URL)
        path = finders.find(name)
        assert path, icon["src"]
        if icon["type"] == "image/png":
            with open(path, "rb") as fileobj:
                header = fileobj.read(24)
            assert header[:8] == b"\x89PNG\r\n\x1a\n"
            width = int.from_bytes(header[16:20], "big")
            height = int.from_bytes(header[20:24], "big")
            assert icon["sizes"] == f"{width}x{height}"


def test_service_worker(client: Client) -> None:
    response = client.get("/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    body = response.content.decode()
    assert f'const OFFLINE_URL = "{reverse("web:offline")}"' in body
    assert "/static/web/thudo.css" in body
    assert 'addEventListener("fetch"' in body


def test_service_worker_refuses_post(client: Client) -> None:
    assert client.post("/sw.js").status_code == 405


def test_offline_page(client: Client) -> None:
    response = client.get(reverse("web:offline"))

    assert response.status_code == 200
    page = html(response)
    assert '<html lang="vi"' in page
    assert 'lang="en"' in page  # the message in the other language too
    assert "csrfmiddlewaretoken" not in page  # it is cached: no stale tokens
    assert 'rel="manifest"' in page


def test_offline_page_is_the_same_for_everyone(client: Client, make_user: MakeUser) -> None:
    login_verified(client, make_user(kind="official", username="offline-official"))

    page = html(client.get(reverse("web:offline")))

    assert reverse("web:workspace") not in page  # cached by the worker: no one's own menus
    assert "offline-official" not in page


def test_no_sign_in_button_on_the_sign_in_page(client: Client) -> None:
    login = resolve_url(settings.LOGIN_URL)
    assert f'href="{login}?next=' not in html(client.get(login))


def test_not_found_uses_the_shell(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert 'class="skip-link"' in html(response)


@pytest.mark.django_db
def test_official_without_verified_second_factor_is_refused(
    client: Client, make_user: MakeUser
) -> None:
    client.force_login(make_user(kind="official"))  # password only, no TOTP step
    assert client.get(reverse("web:workspace")).status_code == 403
