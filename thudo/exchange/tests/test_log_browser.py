"""The proof page on a 360 px phone in the system's Chromium: no sideways scrolling (even with
every hash, the signature and the code opened), contrast and labels (tests/browser/checks.js)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from thudo.core.testing import require_program
from thudo.exchange import keys, log

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[3]
CHECKS = ROOT / "tests" / "browser" / "checks.js"
SCREENSHOTS = ROOT / "var" / "screenshots"


@pytest.fixture
def node_key(tmp_path: Path, settings: Any) -> Iterator[None]:
    settings.EXCHANGE_NODE_KEY_FILE = str(tmp_path / "node-key.json")
    keys.reset_cache()
    yield
    keys.reset_cache()


def _check(page: Any, name: str) -> list[str]:
    return list(page.evaluate(f"(arg) => ({CHECKS.read_text(encoding='utf-8')}).{name}(arg)"))


def test_the_proof_page_on_a_phone(
    live_server: Any, transactional_db: None, citizen: Any, node_key: None, settings: Any
) -> None:
    require_program(CHROMIUM, "the browser tests drive the system Chromium")
    from playwright.sync_api import sync_playwright

    for i in range(5):
        log.append(
            message_id=f"msg-{i}",
            kind="exchange",
            subject=citizen.personal_id,
            entry={
                "v": 1,
                "mid": f"msg-{i}",
                "side": "client",
                "client": "VN/GOV/HN-UBND/PORTAL",
                "service": "VN/GOV/BCA/CSDLQGDC/person",
                "purpose": "1.001193 Đăng ký khai sinh; Nghị định 47/2020/NĐ-CP",
                "subject": citizen.personal_id,
                "time": "2026-11-23T03:00:00Z",
                "status": 200,
                "request_signature": "eyJhbGciOiJFZERTQSJ9." + "x" * 300,
            },
        )
    log.sign_tree_head()
    client = Client()
    client.force_login(citizen)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    url = live_server.url + reverse("exchange_log:proof", kwargs={"index": 3})

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(viewport={"width": 360, "height": 740})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
            )
            page = context.new_page()
            page.goto(url)
            assert page.locator("[data-verdict=ok]").count() == 1
            assert "Đăng ký khai sinh" in page.content()  # the subject sees the entry
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert _check(page, "horizontalOverflow") == []
            assert _check(page, "contrastFailures") == []
            assert _check(page, "unlabelledControls") == []
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "exchange-log-proof.png"), full_page=True)
        finally:
            browser.close()
