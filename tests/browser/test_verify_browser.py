"""Anyone holding a signed result checks it, in Vietnamese, on a phone: the QR's page, then an
upload of a copy that was changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .checks import contrast_failures, horizontal_overflow, unlabelled_controls

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
Url = Callable[..., str]
Shot = Callable[["Page", str], Path]


def test_holder_checks_a_signed_result_then_a_changed_copy(
    browser_page: Page, live_url: Url, screenshot: Shot, hanoi: Any, tmp_path: Path, settings: Any
) -> None:
    from playwright.sync_api import expect

    from thudo.accounts import services as accounts
    from thudo.accounts.roles import Role
    from thudo.documents import pki, services
    from thudo.documents.rendering import render_document

    settings.MEDIA_ROOT = tmp_path / "media"
    ward = hanoi.children.get(code="00070")
    agency = accounts.agency_create(
        code="HN-00070",
        name="Ủy ban nhân dân Phường Hoàn Kiếm",
        kind="commune_committee",
        admin_unit=ward,
    )
    approver = accounts.official_create(
        username="pheduyet", full_name="Lê Văn Hùng", password="mat-khau-demo-1"
    )
    accounts.role_grant(user=approver, agency=agency, role=Role.APPROVER)
    pki.pki_init(agencies=[agency])
    pdf = render_document(
        "result",
        {
            "agency": agency.name,
            "place": "Hà Nội",
            "date": "2026-11-23",
            "number": "1/GXN",
            "title": "GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN",
            "issued_to": "Trần Thị Mai",
            "fields": [["Tình trạng hôn nhân", "Chưa đăng ký kết hôn"]],
            "signer": "Lê Văn Hùng",
            "signer_title": "CHỦ TỊCH",
        },
    )
    document = services.document_create(
        kind="result", title="Giấy xác nhận tình trạng hôn nhân", agency=agency, pdf=pdf
    )
    version = services.document_sign(document=document, actor=approver, level="B-T")
    page = browser_page

    page.goto(live_url("documents:verify_document", public_id=document.public_id))
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    verdict = page.locator("[data-verdict]")
    expect(verdict).to_have_attribute("data-verdict", "valid")
    expect(page.get_by_text("Ủy ban nhân dân Phường Hoàn Kiếm").first).to_be_visible()
    assert horizontal_overflow(page) == [] and contrast_failures(page) == []
    screenshot(page, "verify-valid-vi")

    changed = bytearray(version.file.read())
    changed[len(changed) // 3] ^= 0x01
    copy = tmp_path / "ban-sao.pdf"
    copy.write_bytes(bytes(changed))
    page.locator("input[type=file]").set_input_files(str(copy))
    assert unlabelled_controls(page) == []
    page.get_by_role("button", name="Xác minh").click()
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "invalid")
    screenshot(page, "verify-changed-vi")
