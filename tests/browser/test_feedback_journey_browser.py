"""A broken street light, from the resident's phone to an escalation, in Vietnamese.

A resident reports a street light that is off, with a photo taken on the spot (its position comes
from the photo); the ward's officer accepts the report and answers it as fixed with an evidence
photo; the resident is not satisfied, rates the answer low and reopens the report; it goes to the
city's Department of Construction, whose leader is told.
"""

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
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
Url = Callable[..., str]
Shot = Callable[["Page", str], Path]

LAMP_POSITION = (21.02871, 105.85242)  # by Hoàn Kiếm lake


def vi(message: str) -> str:
    """The Vietnamese text of an English msgid, as the pages show it."""
    with translation.override("vi"):
        return str(translation.gettext(message))


@pytest.fixture
def city(hanoi: Any, settings: Any, tmp_path: Path) -> Any:
    """Hoàn Kiếm ward's committee (an officer and its leader), the Department of Construction
    with its leader, the categories of the demo city, and a resident of the ward."""
    from types import SimpleNamespace

    from thudo.accounts import services as accounts
    from thudo.accounts.roles import Role
    from thudo.feedback.demo import categories_load, centres_load, templates_load

    settings.MEDIA_ROOT = str(tmp_path / "media")
    ward = hanoi.children.get(code="00070")
    city_agency = accounts.agency_create(
        code="HN", name="Ủy ban nhân dân thành phố Hà Nội", kind="city_committee", admin_unit=hanoi
    )
    ward_agency = accounts.agency_create(
        code="HN-00070",
        name="Ủy ban nhân dân phường Hoàn Kiếm",
        kind="commune_committee",
        admin_unit=ward,
        parent=city_agency,
    )
    department = accounts.agency_create(
        code="HN-SXD",
        name="Sở Xây dựng",
        kind="department",
        admin_unit=hanoi,
        parent=city_agency,
    )
    people = {}
    for username, full_name, role, agency in [
        ("canbo.hoankiem", "Phạm Thu Hà", Role.RECEIVING_OFFICER, ward_agency),
        ("chutich.hoankiem", "Lê Văn Hùng", Role.APPROVER, ward_agency),
        ("lanhdao.sxd", "Trần Quốc Bảo", Role.APPROVER, department),
    ]:
        user = accounts.official_create(
            username=username, full_name=full_name, password="mat-khau-demo-1"
        )
        user.email = f"{username}@example.vn"
        user.save(update_fields=["email"])
        accounts.role_grant(user=user, agency=agency, role=role)
        people[username.replace(".", "_")] = user
    centres_load()
    categories_load()
    templates_load()
    resident = accounts.citizen_create(
        personal_id="001190012345",
        full_name="Nguyễn Thị Lan",
        sex="female",
        birth_date=date(1990, 5, 17),
        home_unit=ward,
    )
    resident.email = "lan@example.vn"
    resident.save(update_fields=["email"])
    return SimpleNamespace(
        ward_agency=ward_agency, department=department, resident=resident, **people
    )


@pytest.fixture
def as_user(browser: Browser, live_url: Url) -> Iterator[Callable[[Any], Page]]:
    """as_user(user) -> a phone-sized page signed in as that user (its own browser context)."""
    from django.conf import settings
    from django.test import Client

    from thudo.accounts.testing import login_verified

    contexts = []

    def open_as(user: Any) -> Page:
        context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
        context.set_default_timeout(15_000)
        contexts.append(context)
        client = Client()
        login_verified(client, user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_url("/")}])
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    errors: list[str] = []
    yield open_as
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _check_page(page: Page) -> None:
    assert horizontal_overflow(page) == []
    assert contrast_failures(page) == []
    assert unlabelled_controls(page) == []


def _act(page: Page, key: str, fill: Callable[[Any], None] | None = None) -> None:
    """Open an action's panel on the officials' report page, fill it, press its button."""
    panel = page.locator(f"#action-{key}")
    if not panel.evaluate("details => details.open"):  # a refused form comes back open
        panel.locator("summary").click()
    if fill is not None:
        fill(panel)
    panel.locator("button[type=submit]").last.click()
    page.wait_for_load_state("domcontentloaded")


def test_street_light_report_answered_rated_reopened_and_escalated(
    city: Any, as_user: Callable[[Any], Page], live_url: Url, screenshot: Shot, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from thudo.feedback.models import Assignment, Report, ReportStatus
    from thudo.feedback.tests.factories import image_bytes
    from thudo.notifications.models import Notification

    lamp_photo = tmp_path / "den-hong.jpg"
    lamp_photo.write_bytes(image_bytes(size=(640, 480), gps=LAMP_POSITION))
    fixed_photo = tmp_path / "den-da-sua.jpg"
    fixed_photo.write_bytes(image_bytes(size=(640, 480), color=(250, 220, 90)))

    # --- The resident picks the kind of problem. ---
    resident = as_user(city.resident)
    resident.goto(live_url("feedback:report"))
    expect(resident.locator("html")).to_have_attribute("lang", "vi")
    expect(resident.get_by_role("heading", level=1)).to_have_text(vi("Report a problem"))
    _check_page(resident)
    screenshot(resident, "feedback-pick-vi")
    # An emergency is not taken here: the page gives the number to call instead.
    expect(resident.locator("a[href='tel:114']")).to_be_visible()
    card = resident.locator(".fb-category", has_text="Đèn chiếu sáng công cộng")
    card.get_by_role("link").click()
    expect(resident.locator(".lead")).to_contain_text("Đèn chiếu sáng công cộng")

    # Sending an empty form names what is missing and stores nothing.
    resident.get_by_role("button", name=vi("Send the report")).click()
    expect(resident.locator(".error-summary, [role=alert]").first).to_be_visible()
    assert Report.objects.count() == 0

    # --- The report: a photo whose position is offered, the question, the description. ---
    resident.locator("input[name=media]").set_input_files(str(lamp_photo))
    use_photo = resident.get_by_role("button", name=vi("Use the place where the photo was taken"))
    expect(use_photo).to_be_visible()
    use_photo.click()
    expect(resident.locator("input[name=latitude]")).to_have_value(re.compile(r"^21\.028"))
    expect(resident.locator("input[name=longitude]")).to_have_value(re.compile(r"^105\.852"))
    resident.locator("input[name=q_light_state][value=off]").check()
    resident.locator("textarea[name=description]").fill(
        "Cột đèn trước số 12 phố Đinh Tiên Hoàng không sáng ba đêm nay, đoạn đường rất tối."
    )
    # The demo has ward centres, not boundaries: the page asks to confirm the nearest ward.
    ward = resident.locator("select[name=unit_code]")
    expect(ward).to_be_visible()
    expect(ward.locator("option:checked")).to_have_text(re.compile("Hoàn Kiếm"))
    _check_page(resident)
    screenshot(resident, "feedback-form-vi")
    resident.get_by_role("button", name=vi("Send the report")).click()
    resident.wait_for_load_state("domcontentloaded")
    if resident.locator("[role=alert], .error-summary").count():
        screenshot(resident, "feedback-form-error-vi")
        raise AssertionError(resident.locator("main").inner_text())
    expect(resident.get_by_role("heading", level=1)).to_contain_text("Đèn chiếu sáng công cộng")
    report = Report.objects.get()
    assert report.status == ReportStatus.SUBMITTED
    assert report.agency == city.ward_agency and report.unit.code == "00070"
    assert abs(report.latitude - LAMP_POSITION[0]) < 1e-4
    assert report.attributes == {"light_state": "off"}
    # The stored photo carries no EXIF (no position) any more.
    stored = report.media.get()
    from thudo.feedback.media import photo_position

    with stored.file.open("rb") as f:
        assert photo_position(f.read()) is None
    _check_page(resident)
    screenshot(resident, "feedback-submitted-vi")

    # --- The ward's officer accepts it and answers with a photo of the repaired light. ---
    officer = as_user(city.canbo_hoankiem)
    officer.goto(live_url("feedback_official:queue"))
    _check_page(officer)
    screenshot(officer, "feedback-queue-vi")
    officer.locator(f"a[href$='/workspace/feedback/{report.pk}/']").first.click()
    expect(officer.get_by_role("heading", level=1)).to_contain_text(f"#{report.pk}")
    _check_page(officer)
    _act(officer, "accept")
    report.refresh_from_db()
    assert report.status == ReportStatus.ACCEPTED and report.accepted_on_time is True

    # "Fixed" without a photo is refused, field by field.
    def answer_without_photo(panel: Any) -> None:
        panel.locator("select[name=answer-resolution]").select_option("fixed")
        panel.locator("textarea[name=answer-text]").fill("Đã thay bóng đèn cột số 12.")

    _act(officer, "answer", answer_without_photo)
    expect(officer.locator(".error-summary, [role=alert]").first).to_be_visible()
    report.refresh_from_db()
    assert report.status == ReportStatus.ACCEPTED

    def answer_with_photo(panel: Any) -> None:
        answer_without_photo(panel)
        panel.locator("input[name=answer-evidence]").set_input_files(str(fixed_photo))

    _act(officer, "answer", answer_with_photo)
    report.refresh_from_db()
    assert report.status == ReportStatus.ANSWERED and report.resolution == "fixed"
    assert report.media.filter(purpose="evidence").count() == 1
    _check_page(officer)
    screenshot(officer, "feedback-answered-official-vi")

    # --- The resident sees the answer with its photo, is not satisfied and reopens. ---
    assert Notification.objects.filter(user=city.resident, url__contains=str(report.pk)).exists()
    resident.goto(live_url("feedback:detail", report.pk))
    expect(resident.locator("#answer-title")).to_be_visible()
    expect(resident.get_by_text("Đã thay bóng đèn cột số 12.").first).to_be_visible()
    expect(resident.locator("img[src*='/feedback/media/']")).to_have_count(3)  # 1 + 1 timeline
    _check_page(resident)
    screenshot(resident, "feedback-answer-vi")
    rate = resident.locator("#rate")
    rate.locator("input[name=rating][value='1']").check()
    rate.locator("input[name=satisfied][value=no]").check()
    rate.locator("textarea[name=comment]").fill("Đèn vẫn tắt, ảnh không phải cột đèn này.")
    rate.get_by_role("button", name=vi("Send my rating")).click()
    resident.wait_for_load_state("domcontentloaded")
    expect(resident.locator("#reopen")).to_be_visible()
    report.refresh_from_db()
    assert report.rating == 1 and report.satisfied is False

    reopen = resident.locator("#reopen")
    expect(reopen).to_be_visible()
    reopen.locator("textarea[name=reason]").fill("Tối qua cột đèn số 12 vẫn không sáng.")
    reopen.get_by_role("button", name=vi("Reopen the report")).click()
    page_text = resident.locator("main")
    expect(page_text).to_contain_text("Sở Xây dựng")
    _check_page(resident)
    screenshot(resident, "feedback-reopened-vi")

    # --- It escalated: the department leads now, with new clocks, and its leader is told. ---
    report.refresh_from_db()
    assert report.status == ReportStatus.SUBMITTED and report.level == 1
    assert report.agency == city.department
    states = dict(report.assignments.values_list("agency__code", "state"))
    assert states == {"HN-00070": Assignment.State.ESCALATED, "HN-SXD": Assignment.State.PENDING}
    assert Notification.objects.filter(user=city.lanhdao_sxd).exists()
    # A second reopening is not offered.
    assert resident.locator("#reopen").count() == 0

    leader = as_user(city.lanhdao_sxd)
    leader.goto(live_url("feedback_official:queue"))
    expect(leader.locator(f"a[href$='/workspace/feedback/{report.pk}/']").first).to_be_visible()
    _check_page(leader)
    screenshot(leader, "feedback-escalated-queue-vi")


def test_public_map_and_list_work_on_a_phone(
    city: Any, browser_page: Page, live_url: Url, screenshot: Shot
) -> None:
    from playwright.sync_api import expect

    from thudo.feedback import services
    from thudo.feedback.models import Category
    from thudo.feedback.tests.factories import photo

    report = services.report_submit(
        reporter=city.resident,
        category=Category.objects.get(code="street-light"),
        description="Đèn đường trước số 5 phố Lê Thái Tổ không sáng.",
        latitude=LAMP_POSITION[0],
        longitude=LAMP_POSITION[1],
        attributes={"light_state": "off"},
        media=[photo()],
    )
    browser_page.set_viewport_size({"width": 360, "height": 740})
    browser_page.goto(live_url("feedback:map"))
    expect(browser_page.locator("html")).to_have_attribute("lang", "vi")
    expect(browser_page.locator(f"a[href$='/feedback/{report.pk}/']").first).to_be_visible()
    # The map draws the report from the GeoJSON feed (Leaflet served locally).
    expect(browser_page.locator(".leaflet-container")).to_be_visible()
    expect(browser_page.locator(".leaflet-interactive").first).to_be_attached()
    _check_page(browser_page)
    screenshot(browser_page, "feedback-map-vi")
    # The reporter's name is not shown unless they chose to show it.
    browser_page.goto(live_url("feedback:detail", report.pk))
    expect(browser_page.locator("main")).not_to_contain_text("Nguyễn Thị Lan")


def test_the_offline_map_shows_names_and_report_text_as_text(
    city: Any, browser_page: Page, live_url: Url, settings: Any
) -> None:
    """A ward's name (from the boundary data or the admin) and a report's text reach the map as
    text: markup in them is shown, never run or turned into elements."""
    from playwright.sync_api import expect

    from thudo.core.models import AdminUnit
    from thudo.feedback import services
    from thudo.feedback.models import Category
    from thudo.feedback.tests.factories import photo

    settings.MAP_TILE_URL = ""  # the offline base map: ward centres with their names
    ward = AdminUnit.objects.get(code="00070")
    ward.name = 'Phường <img src="/x" id="injected-ward" onerror="window.hacked=1">'
    ward.save(update_fields=["name"])
    services.report_submit(
        reporter=city.resident,
        category=Category.objects.get(code="street-light"),
        description='Đèn tắt <img src="/x" id="injected-report" onerror="window.hacked=1">',
        latitude=LAMP_POSITION[0],
        longitude=LAMP_POSITION[1],
        attributes={"light_state": "off"},
        media=[photo()],
    )
    browser_page.set_viewport_size({"width": 1024, "height": 800})
    browser_page.goto(live_url("feedback:map"))
    label = browser_page.locator(".fb-ward-label", has_text="Phường <img").first
    expect(label).to_be_attached()
    browser_page.locator(".leaflet-interactive").first.dispatch_event("click")
    expect(browser_page.locator(".fb-popup")).to_contain_text("Đèn tắt <img")
    assert browser_page.locator("#injected-ward, #injected-report").count() == 0
    assert browser_page.evaluate("window.hacked") is None
