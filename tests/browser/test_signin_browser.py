"""An official signs in, in Vietnamese, with a password and an authenticator code, and reaches
the workspace; a citizen signs in with the personal ID."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse

from .checks import contrast_failures, horizontal_overflow, unlabelled_controls

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
KEY = "3132333435363738393031323334353637383930"
Url = Callable[..., str]
Shot = Callable[["Page", str], Path]


def test_official_signs_in_with_password_and_code_and_reaches_workspace(
    browser_page: Page, live_url: Url, screenshot: Shot, totp_code: Any, hanoi: Any
) -> None:
    from playwright.sync_api import expect

    from thudo.accounts import services
    from thudo.accounts.roles import Role

    agency = services.agency_create(
        code="HN-00070",
        name="Ủy ban nhân dân Phường Hoàn Kiếm",
        kind="commune_committee",
        admin_unit=hanoi,
    )
    official = services.official_create(
        username="tiepnhan", full_name="Nguyễn Thu Hà", password="mat-khau-demo-1"
    )
    services.role_grant(user=official, agency=agency, role=Role.RECEIVING_OFFICER)
    services.totp_device_create(user=official, key=KEY, confirmed=True)
    page = browser_page

    page.goto(live_url("web:workspace"))
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", name="Đăng nhập", exact=True)).to_be_visible()
    page.get_by_label("Tên đăng nhập hoặc số định danh").fill("tiepnhan")
    page.get_by_label("Mật khẩu").fill("mat-khau-demo-1")
    assert horizontal_overflow(page) == [] and unlabelled_controls(page) == []
    screenshot(page, "login-vi")
    page.get_by_role("button", name="Tiếp tục").click()

    expect(page.get_by_role("heading", name="Mã xác minh")).to_be_visible()
    code_field = page.get_by_label("Mã 6 chữ số")
    wrong = f"{(int(totp_code(KEY)) + 5) % 1_000_000:06d}"
    code_field.fill(wrong)
    page.get_by_role("button", name="Xác minh và đăng nhập").click()
    expect(page.get_by_text("Mã xác minh không đúng hoặc đã hết hạn.").first).to_be_visible()
    screenshot(page, "otp-error-vi")

    page.get_by_label("Mã 6 chữ số").fill(totp_code(KEY))
    page.get_by_role("button", name="Xác minh và đăng nhập").click()

    expect(page).to_have_url(live_url("web:workspace"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Không gian làm việc")
    assert contrast_failures(page) == []
    screenshot(page, "workspace-after-signin-vi")


def test_citizen_signs_in_with_personal_id_then_is_refused_the_workspace(
    browser_page: Page, live_url: Url, hanoi: Any
) -> None:
    from playwright.sync_api import expect

    from thudo.accounts import services

    services.citizen_create(
        personal_id="001190000123",
        full_name="Trần Thị Mai",
        sex="female",
        birth_date=date(1990, 3, 8),
        password="mat-khau-dan-1",
    )
    page = browser_page
    page.goto(live_url("accounts:login"))
    page.get_by_label("Tên đăng nhập hoặc số định danh").fill("001190000123")
    page.get_by_label("Mật khẩu").fill("sai-mat-khau")
    page.get_by_role("button", name="Tiếp tục").click()
    expect(page.get_by_text("Tên đăng nhập hoặc mật khẩu không đúng.").first).to_be_visible()
    page.get_by_label("Mật khẩu").fill("mat-khau-dan-1")
    page.get_by_role("button", name="Tiếp tục").click()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
    response = page.goto(live_url("web:workspace"))
    assert response is not None and response.status == 403
    assert reverse("web:workspace") in page.url
