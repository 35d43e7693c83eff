"""A citizen signs in with VNeID on a 360 px phone, in Vietnamese: the portal's sign-in page,
the demo provider's own page (a wrong password first), and back to the portal, signed in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import translation

from .checks import contrast_failures, horizontal_overflow, unlabelled_controls

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
Url = Callable[..., str]
Shot = Callable[["Page", str], Path]


def vi(message: str) -> str:
    """The Vietnamese text of an English msgid, as the pages show it."""
    with translation.override("vi"):
        return str(translation.gettext(message))


@pytest.fixture
def eid(live_server: Any, settings: Any, tmp_path: Path, ward: Any) -> Iterator[Any]:
    """The live server as the demo provider and the portal, the portal registered as its
    client, and a resident with an activated level-2 e-ID."""
    from thudo.eid import testing
    from thudo.eid.keys import generate_pem

    middleware = list(settings.MIDDLEWARE)
    key_file = tmp_path / "eid-oidc-key.pem"
    key_file.write_text(generate_pem())
    testing.apply_settings(settings, key_file=key_file, base_url=live_server.url)
    testing.reload_server_middleware(live_server)
    testing.register_portal()
    person = testing.make_resident(
        ward=ward,
        personal_id="001185000111",
        full_name="Trần Thị Bích Ngọc",
        sex="female",
        birth_date=date(1985, 4, 2),
        eid_level=2,
    )
    try:
        yield person
    finally:
        settings.MIDDLEWARE = middleware
        testing.reload_server_middleware(live_server)


def _checks(page: Page) -> None:
    assert horizontal_overflow(page) == []
    assert unlabelled_controls(page) == []
    assert contrast_failures(page) == []


def test_citizen_signs_in_with_vneid_on_a_phone(
    browser_page: Page, live_url: Url, screenshot: Shot, eid: Any
) -> None:
    from playwright.sync_api import expect

    from thudo.eid import testing

    page = browser_page
    page.goto(live_url("accounts:login"))
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    button = page.locator("#vneid-sign-in")
    expect(button).to_contain_text("VNeID")
    _checks(page)
    screenshot(page, "eid-portal-login-vi")
    button.click()

    # The provider's own page: its header, the demo banner, the portal named as the asker.
    expect(page).to_have_url(re.compile(r"/eid/login/\?next=/eid/authorize/"))
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator(".vneid-demo")).to_be_visible()
    expect(page.locator(".vneid-client")).to_contain_text("Cổng dịch vụ công Hà Nội")
    page.locator("input[name=personal_id]").fill(eid.personal_id)
    page.locator("input[name=password]").fill("sai-mat-khau")
    page.get_by_role("button", name=vi("Sign in"), exact=True).click()
    expect(
        page.get_by_text(vi("The personal ID number or password is not correct.")).first
    ).to_be_visible()
    _checks(page)
    screenshot(page, "eid-provider-error-vi")

    page.locator("input[name=personal_id]").fill(eid.personal_id)
    page.locator("input[name=password]").fill(testing.PASSWORD)
    _checks(page)
    screenshot(page, "eid-provider-login-vi")
    page.get_by_role("button", name=vi("Sign in"), exact=True).click()

    # Back on the portal, signed in as her.
    expect(page).to_have_url(live_url("web:home"))
    expect(page.get_by_role("button", name=vi("Sign out"))).to_be_visible()
    _checks(page)
    screenshot(page, "eid-signed-in-vi")
