"""The shell in a real browser: Vietnamese first, the language switch, small screens, WCAG basics,
static files, the htmx refresh and the offline page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from thudo.core.registry import Indicator, Manifest, registry

from .checks import contrast_failures, horizontal_overflow, small_targets, unlabelled_controls

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.browser

Url = Callable[..., str]
Shot = Callable[["Page", str], Path]


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _assert_accessible(page: Page) -> None:
    assert horizontal_overflow(page) == []
    assert contrast_failures(page) == []
    assert small_targets(page) == []
    assert unlabelled_controls(page) == []
    for landmark in ("banner", "navigation", "main", "contentinfo"):
        assert page.get_by_role(landmark).count() >= 1, landmark


def test_new_visitor_gets_vietnamese_and_can_switch_to_english(
    browser_page: Page, live_url: Url, screenshot: Shot
) -> None:
    page, expect = browser_page, _expect()

    response = page.goto(live_url("web:home"))

    assert response is not None and response.ok
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    switch = page.get_by_role("button", name="English")
    expect(switch).to_be_visible()
    assert page.viewport_size == {"width": 360, "height": 740}
    _assert_accessible(page)
    screenshot(page, "home-vi")

    switch.click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Tiếng Việt")).to_be_visible()
    expect(page.get_by_role("link", name="Skip to main content")).to_be_attached()
    _assert_accessible(page)
    screenshot(page, "home-en")

    page.reload()  # the choice is kept (the cookie)
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_skip_link_appears_on_focus_and_moves_to_main(browser_page: Page, live_url: Url) -> None:
    page, expect = browser_page, _expect()
    page.goto(live_url("web:home"))

    page.keyboard.press("Tab")

    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # on screen now
    ring = skip.evaluate("el => getComputedStyle(el).boxShadow")
    assert ring not in ("", "none")  # the visible focus ring
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_static_css_is_served_and_applied(browser_page: Page, live_url: Url) -> None:
    page = browser_page
    page.goto(live_url("web:home"))

    css = page.locator('link[rel="stylesheet"]').get_attribute("href")
    assert css is not None
    response = page.request.get(live_url(css))
    assert response.ok
    assert response.headers["content-type"].startswith("text/css")
    header = page.locator(".site-header").evaluate("el => getComputedStyle(el).backgroundColor")
    assert header == "rgb(161, 18, 26)"
    assert page.evaluate("typeof window.htmx") == "object"  # the bundled htmx loaded too


@pytest.fixture
def counting_indicator(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An indicator with no data at first, then 1234 (the registry is restored afterwards)."""
    values = iter([None, 1234, 1234, 1234])
    monkeypatch.setattr(registry, "_manifests", dict(registry._manifests))
    registry.register(
        Manifest(
            app_label="browsertest",
            indicators=[Indicator(code="count", label="Counted", compute=lambda: next(values))],
        )
    )
    yield


@pytest.mark.usefixtures("counting_indicator")
def test_dashboard_refreshes_indicators_in_place(
    browser_page: Page, live_url: Url, sign_in: Callable[[Any], None], screenshot: Shot
) -> None:
    page, expect = browser_page, _expect()
    official = get_user_model().objects.create_user(username="leader", kind="official")
    sign_in(official)
    page.goto(live_url("web:dashboard"))
    card = page.locator('[data-indicator="count"]')
    expect(card).to_contain_text(re.compile("Chưa có dữ liệu|No data"))
    page.evaluate("window.notReloaded = true")

    page.locator("#indicators-heading ~ a, .section-head a.button").first.click()

    expect(card).to_contain_text("1.234")
    assert page.evaluate("window.notReloaded") is True  # swapped by htmx, not a page load
    _assert_accessible(page)
    screenshot(page, "dashboard-vi")


def test_offline_navigation_shows_the_offline_page(
    browser_page: Page, browser_context: BrowserContext, live_url: Url, screenshot: Shot
) -> None:
    page, expect = browser_page, _expect()
    page.goto(live_url("web:home"))
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the worker
    assert page.evaluate("!!navigator.serviceWorker.controller")

    browser_context.set_offline(True)
    try:
        page.goto(live_url("web:dashboard"))
        expect(page.locator("#offline-heading")).to_be_visible()
        assert page.url == live_url("web:dashboard")  # served by the worker in its place
        header = page.locator(".site-header").evaluate("el => getComputedStyle(el).backgroundColor")
        assert header == "rgb(161, 18, 26)"  # the precached CSS
        _assert_accessible(page)
        screenshot(page, "offline-vi")
    finally:
        browser_context.set_offline(False)


def test_official_workspace_on_a_phone(
    browser_page: Page, live_url: Url, sign_in: Callable[[Any], None], screenshot: Shot
) -> None:
    page, expect = browser_page, _expect()
    official = get_user_model().objects.create_user(
        username="official", kind="official", full_name="Nguyễn Văn An"
    )
    sign_in(official)

    page.goto(live_url("web:workspace"))

    expect(page.locator("html")).to_have_attribute("lang", "vi")
    current = page.locator(f'nav a[href="{reverse("web:workspace")}"]')
    expect(current).to_have_attribute("aria-current", "page")
    expect(page.locator("main")).to_contain_text("Nguyễn Văn An")
    _assert_accessible(page)
    screenshot(page, "workspace-vi")
