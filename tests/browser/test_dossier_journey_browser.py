"""A procedure from start to signed result, in Vietnamese, as the people who do it would.

A citizen finds birth registration by typing without diacritics, applies with papers and gets
the receipt; the ward's receiving officer receives the dossier and asks for a missing paper; the
citizen supplements; the processing officer and the approver settle it and sign the result; the
citizen downloads the signed result and rates the service; the service index counts it on time.
A second journey: a dossier that ran late, the apology with a new appointment, and what the
citizen sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest
from django.utils import timezone

from .checks import contrast_failures, horizontal_overflow, unlabelled_controls

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
Url = Callable[..., str]
Shot = Callable[["Page", str], Path]


@pytest.fixture
def city(hanoi: Any, monkeypatch: Any, settings: Any, tmp_path: Path) -> Any:
    """Hoàn Kiếm ward's committee with its three officials and signing keys, the catalogue of
    procedures, and a citizen living in the ward."""
    from types import SimpleNamespace

    from thudo.accounts import services as accounts
    from thudo.accounts.roles import Role
    from thudo.documents import pki
    from thudo.procedures.demo import demo_load

    settings.MEDIA_ROOT = str(tmp_path / "media")
    ward = hanoi.children.get(code="00070")
    city_agency = accounts.agency_create(
        code="HN", name="Ủy ban nhân dân thành phố Hà Nội", kind="city_committee", admin_unit=hanoi
    )
    agency = accounts.agency_create(
        code="HN-00070",
        name="Ủy ban nhân dân phường Hoàn Kiếm",
        kind="commune_committee",
        admin_unit=ward,
        parent=city_agency,
    )
    officials = {}
    for username, full_name, role in [
        ("tiepnhan", "Phạm Thu Hà", Role.RECEIVING_OFFICER),
        ("xuly", "Đỗ Văn Nam", Role.PROCESSING_OFFICER),
        ("pheduyet", "Lê Văn Hùng", Role.APPROVER),
    ]:
        user = accounts.official_create(
            username=username, full_name=full_name, password="mat-khau-demo-1"
        )
        accounts.role_grant(user=user, agency=agency, role=role)
        officials[username] = user
    monkeypatch.setattr(pki, "PKCS12_KDF_ROUNDS", 1_000)
    pki.pki_init(agencies=[agency])
    demo_load()
    citizen = accounts.citizen_create(
        personal_id="001190012345",
        full_name="Nguyễn Thị Lan",
        sex="female",
        birth_date=date(1990, 5, 17),
        home_unit=ward,
    )
    citizen.email = "lan@example.vn"
    citizen.save(update_fields=["email"])
    return SimpleNamespace(agency=agency, citizen=citizen, **officials)


@pytest.fixture
def as_user(browser: Browser, live_url: Url) -> Iterator[Callable[[Any], Page]]:
    """as_user(user) -> a phone-sized page signed in as that user (its own browser context)."""
    from django.conf import settings
    from django.test import Client

    from thudo.accounts.testing import login_verified

    contexts = []

    def open_as(user: Any) -> Page:
        context = browser.new_context(
            viewport={"width": 360, "height": 740}, locale="vi-VN", accept_downloads=True
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        client = Client()
        login_verified(client, user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_url("/")}])
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


def _act(page: Page, action: str) -> None:
    """Open an action's panel on the officials' work page and press its button."""
    panel = page.locator(f"#action-{action}")
    panel.locator("summary").click()
    panel.locator("button[type=submit]").click()
    page.wait_for_load_state("domcontentloaded")


def _pdf(page: Page, link: Any) -> bytes:
    """The PDF a link opens, fetched with the page's cookies (Chromium would show it inline)."""
    href = link.get_attribute("href")
    response = page.request.get(urljoin(page.url, href))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    return response.body()


def _check_page(page: Page) -> None:
    assert horizontal_overflow(page) == []
    assert contrast_failures(page) == []
    assert unlabelled_controls(page) == []


def test_birth_registration_from_application_to_signed_result(
    city: Any, as_user: Callable[[Any], Page], live_url: Url, screenshot: Shot, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from thudo.dossiers.index import service_index
    from thudo.dossiers.models import Dossier, Status
    from thudo.dossiers.tests.factories import pdf_bytes, png_bytes

    form_scan = tmp_path / "to-khai.png"
    form_scan.write_bytes(png_bytes((40, 40)))
    birth_paper = tmp_path / "giay-chung-sinh.pdf"
    birth_paper.write_bytes(pdf_bytes("Giấy chứng sinh"))

    # --- The citizen finds the procedure without typing diacritics and applies. ---
    citizen = as_user(city.citizen)
    citizen.goto(live_url("procedures:list"))
    expect(citizen.locator("html")).to_have_attribute("lang", "vi")
    citizen.get_by_role("searchbox").fill("dang ky khai sinh")
    citizen.get_by_role("searchbox").press("Enter")
    citizen.get_by_role("link", name=re.compile("Đăng ký khai sinh")).first.click()
    expect(citizen.get_by_role("heading", level=1)).to_contain_text("Đăng ký khai sinh")
    citizen.get_by_role("link", name="Nộp hồ sơ trực tuyến").click()
    expect(citizen.get_by_role("heading", level=1)).to_contain_text("Đăng ký khai sinh")
    _check_page(citizen)
    screenshot(citizen, "dossier-apply-vi")

    # Submitting with nothing filled in names what is missing, field by field.
    citizen.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    expect(citizen.locator(".error-summary, [role=alert]").first).to_be_visible()
    assert Dossier.objects.count() == 0

    fill = {
        "child_name": "Nguyễn Minh An",
        "birth_date": "2026-11-01",
        "birth_place": "Bệnh viện Phụ sản Hà Nội",
        "ethnicity": "Kinh",
        "nationality": "Việt Nam",
        "mother_name": "Nguyễn Thị Lan",
        "mother_personal_id": "001190012345",
        "phone": "0912345678",
    }
    for name, value in fill.items():
        citizen.locator(f"[name={name}]").fill(value)
    citizen.locator("select[name=relationship]").select_option(label="Mẹ")
    if citizen.locator("input[name=sex]").count():
        citizen.locator("input[name=sex][value=male]").check()
    else:
        citizen.locator("select[name=sex]").select_option("male")
    citizen.locator("input[name='paper-to-khai']").set_input_files(str(form_scan))
    citizen.locator("input[name='paper-giay-chung-sinh']").set_input_files(str(birth_paper))
    citizen.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    expect(citizen.get_by_role("heading", level=1)).to_contain_text(
        re.compile(r"HN-00070-\d{6}-0001")
    )
    dossier = Dossier.objects.get()
    assert dossier.status == Status.SUBMITTED and dossier.channel == "online"
    screenshot(citizen, "dossier-submitted-vi")

    # The receipt (form 01) is there at once.
    receipt = citizen.get_by_role("link", name=re.compile("Giấy tiếp nhận hồ sơ")).first
    assert _pdf(citizen, receipt).startswith(b"%PDF-")

    # --- The receiving officer receives it, then asks for a paper. ---
    officer = as_user(city.tiepnhan)
    officer.goto(live_url("dossiers:queue"))
    _check_page(officer)
    screenshot(officer, "dossier-queue-vi")
    officer.get_by_role("link", name=dossier.code).click()
    _check_page(officer)
    _act(officer, "receive")
    expect(officer.locator("body")).to_contain_text("Đã tiếp nhận")
    panel = officer.locator("#action-request_supplement")
    panel.locator("summary").click()
    panel.get_by_label(re.compile("Giấy chứng sinh")).check()
    panel.locator("textarea[name$=note]").fill("Bản chụp giấy chứng sinh bị mờ, đề nghị chụp lại.")
    panel.locator("button[type=submit]").click()
    dossier.refresh_from_db()
    assert dossier.status == Status.SUPPLEMENT_REQUESTED and dossier.due_at is None
    screenshot(officer, "dossier-supplement-requested-vi")

    # --- The citizen supplements online. ---
    citizen.goto(live_url("dossiers:detail", public_id=dossier.public_id))
    expect(citizen.locator("body")).to_contain_text("bị mờ")
    citizen.locator("input[name='paper-giay-chung-sinh']").set_input_files(str(birth_paper))
    citizen.get_by_role("button", name=re.compile("Gửi bổ sung|Gửi hồ sơ bổ sung")).click()
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED and dossier.due_at is not None

    # --- Processing, approval and the signed result. ---
    processor = as_user(city.xuly)
    processor.goto(live_url("dossiers:work", public_id=dossier.public_id))
    _act(processor, "start_processing")
    _act(processor, "forward")
    approver = as_user(city.pheduyet)
    approver.goto(live_url("dossiers:work", public_id=dossier.public_id))
    _act(approver, "approve")
    _act(approver, "sign_result")
    dossier.refresh_from_db()
    assert dossier.status == Status.SIGNED and dossier.on_time is True
    screenshot(approver, "dossier-signed-vi")

    # --- The citizen downloads the signed result and rates the service. ---
    citizen.goto(live_url("dossiers:detail", public_id=dossier.public_id))
    result = citizen.get_by_role("link", name=re.compile("Tải kết quả", re.I)).first
    assert b"/ByteRange" in _pdf(citizen, result)
    citizen.reload()
    for criterion in ["attitude", "timeliness", "contacts", "clarity"]:
        citizen.locator(f"input[name={criterion}][value='5']").check()
    citizen.get_by_role("button", name=re.compile("Gửi đánh giá")).click()
    dossier.refresh_from_db()
    assert dossier.status in {Status.RETURNED, Status.CLOSED}
    assert dossier.rating.score == 5
    _check_page(citizen)
    screenshot(citizen, "dossier-rated-vi")

    # --- The index counts it, on time. ---
    today = timezone.localdate()
    figures = service_index(start=today - timedelta(days=1), end=today + timedelta(days=1))
    assert figures.settled_on_time == 1 and figures.settled_late == 0
    citizen.goto(live_url("dossiers:index"))
    expect(citizen.locator("body")).to_contain_text("100")
    _check_page(citizen)
    screenshot(citizen, "service-index-vi")


def test_late_dossier_gets_an_apology_and_a_new_appointment(
    city: Any, as_user: Callable[[Any], Page], live_url: Url, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    from thudo.dossiers import services
    from thudo.procedures.models import Procedure

    procedure = Procedure.objects.get(code="1.004873")  # confirmation of marital status
    spec_fields = procedure.fields.all()
    data = {}
    for field in spec_fields:
        if field.required:
            data[field.name] = _sample(field)
    started = timezone.now() - timedelta(days=21)
    dossier = services.dossier_intake(
        officer=city.tiepnhan,
        procedure=procedure,
        applicant={
            "name": "Nguyễn Thị Lan",
            "personal_id": city.citizen.personal_id,
            "phone": "0912345678",
            "email": "lan@example.vn",
            "address": "Phường Hoàn Kiếm, Hà Nội",
        },
        data=data,
        files={},
        now=started,
    )
    assert dossier.due_at is not None and dossier.due_at < timezone.now()

    officer = as_user(city.tiepnhan)
    officer.goto(live_url("dossiers:queue"))
    row = officer.locator("tr", has_text=dossier.code)
    expect(row).to_contain_text(re.compile("Quá hạn|Trễ hạn", re.I))
    row.get_by_role("link", name=dossier.code).click()
    panel = officer.locator("#action-apologise")
    panel.locator("summary").click()
    new_day = timezone.localtime() + timedelta(days=3)
    panel.locator("[name$=new_appointment]").fill(new_day.strftime("%Y-%m-%dT10:00"))
    panel.locator("[name$=reason]").fill(
        "Hồ sơ cần xác minh thêm thông tin cư trú tại địa phương khác."
    )
    panel.locator("button[type=submit]").click()
    dossier.refresh_from_db()
    assert dossier.apologised_at is not None
    assert timezone.localtime(dossier.appointment_at).date() == new_day.date()
    screenshot(officer, "dossier-apology-vi")

    citizen = as_user(city.citizen)
    citizen.goto(live_url("dossiers:detail", public_id=dossier.public_id))
    expect(citizen.locator("body")).to_contain_text(re.compile("xin lỗi", re.I))
    expect(citizen.locator("body")).to_contain_text(new_day.strftime("%d/%m/%Y"))
    _check_page(citizen)
    screenshot(citizen, "dossier-apology-citizen-vi")


def _sample(field: Any) -> Any:
    """A valid answer for a required form field of a demo procedure."""
    if field.type == "date":
        return "1990-05-17"
    if field.type == "choice":
        return field.choices[0][0]
    if field.type == "integer":
        return field.min_value or 1
    if field.type == "boolean":
        return True
    if field.type == "personal_id":
        return "001190012345"
    if field.type == "phone":
        return "0912345678"
    if field.type == "email":
        return "lan@example.vn"
    return "Nguyễn Thị Lan"
