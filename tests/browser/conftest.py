"""Fixtures for tests that drive the pages in the system's Chromium (Playwright, sync API).

Reusable by every domain's browser tests:

    pytestmark = pytest.mark.browser

    def test_something(browser_page, live_url, sign_in, screenshot):
        sign_in(official)                       # optional: a session cookie for a saved user
        browser_page.goto(live_url("web:workspace"))
        screenshot(browser_page, "workspace")   # -> var/screenshots/workspace.png

`live_url` needs the live server and a transactional database (data the test saves is visible
to the server thread). Chromium missing: the tests skip locally and fail where
THUDO_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse

from thudo.core.testing import require_program

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse ORM
# calls made from the test while it runs.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE: ViewportSize = {"width": 360, "height": 740}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser/ carries the `browser` marker (`-m "not browser"`)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    require_program(CHROMIUM, "the browser tests drive the system Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh visitor on a small phone (360 x 740) whose browser prefers English.

    Preferring English proves that pages still open in Vietnamese until the visitor chooses.
    """
    context = browser.new_context(viewport=PHONE, locale="en-US", service_workers="allow")
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def browser_page(browser_context: BrowserContext) -> Page:
    return browser_context.new_page()


@pytest.fixture
def page(browser_page: Page) -> Page:
    """The same page as `browser_page`, under the name Playwright users expect."""
    return browser_page


@pytest.fixture
def live_url(live_server: Any, transactional_db: None) -> Callable[..., str]:
    """live_url("web:home") or live_url("/some/path/") -> the absolute URL on the live server."""

    def url(name_or_path: str = "/", *args: Any, **kwargs: Any) -> str:
        if name_or_path.startswith("/"):
            path = name_or_path
        else:
            path = reverse(name_or_path, args=args or None, kwargs=kwargs or None)
        return f"{live_server.url}{path}"

    return url


@pytest.fixture
def sign_in(browser_context: BrowserContext, live_url: Callable[..., str]) -> Callable[[Any], None]:
    """sign_in(user): give the browser a session for a saved user, without the sign-in form.

    For pages behind sign-in; the sign-in form itself is tested through the form.
    """
    from django.test import Client

    def sign(user: Any) -> None:
        from thudo.accounts.testing import login_verified

        client = Client()
        login_verified(client, user)
        cookie = client.cookies[_session_cookie_name()]
        context_cookie: Any = {"name": cookie.key, "value": cookie.value, "url": live_url("/")}
        browser_context.add_cookies([context_cookie])

    return sign


def _session_cookie_name() -> str:
    from django.conf import settings

    return str(settings.SESSION_COOKIE_NAME)


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """screenshot(page, "home-vi") -> var/screenshots/home-vi.png (the full page)."""

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
