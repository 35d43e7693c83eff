"""The programme's dashboard, as a leader and the agencies that feed it would use it, in Vietnamese.

A leader opens the overview and sees the targets' statuses with charts; drills into the online
rate of dossiers; a dossier is submitted online and the daily snapshot runs, and the target moves;
the leader downloads the monthly PDF report. A department's monitoring officer reports the fibre
broadband coverage with its evidence, and the city's monitoring office approves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
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

ONLINE_RATE = "cqs-ho-so-truc-tuyen-2026"
BROADBAND = "xhs-cap-quang-ho-gia-dinh"


def vi(message: str) -> str:
    with translation.override("vi"):
        return str(translation.gettext(message))


@pytest.fixture
def city(hanoi: Any, settings: Any, tmp_path: Path) -> Any:
    """The agencies the programme names, Hoàn Kiếm ward with a receiving officer, the
    programme, a leader, the monitoring office and a department's monitoring officer, and one
    dossier received at the counter (so the online rate starts at 0%)."""
    from types import SimpleNamespace

    from thudo.accounts import services as accounts
    from thudo.accounts.roles import Role
    from thudo.dossiers.tests.factories import good_files, make_procedure
    from thudo.monitoring.programme import agency_codes, programme_load
    from thudo.monitoring.services import snapshots_take
    from thudo.monitoring.tests.programme_fixtures import NAMES

    settings.MEDIA_ROOT = str(tmp_path / "media")
    name, kind = NAMES["HN"]
    agencies = {"HN": accounts.agency_create(code="HN", name=name, kind=kind, admin_unit=hanoi)}
    for code in agency_codes():
        if code != "HN":
            name, kind = NAMES.get(code, (f"Cơ quan {code}", "department"))
            agencies[code] = accounts.agency_create(
                code=code, name=name, kind=kind, admin_unit=hanoi, parent=agencies["HN"]
            )
    ward = hanoi.children.get(code="00070")
    ward_agency = accounts.agency_create(
        code="HN-00070",
        name="Ủy ban nhân dân phường Hoàn Kiếm",
        kind="commune_committee",
        admin_unit=ward,
        parent=agencies["HN"],
    )
    people = {}
    for username, full_name, role, agency in [
        ("lanhdao", "Đỗ Công Thắng", Role.APPROVER, agencies["HN"]),
        ("giamsat", "Hoàng Phương Mai", Role.MONITORING_OFFICER, agencies["HN"]),
        ("giamsat.skhcn", "Lê Minh Tâm", Role.MONITORING_OFFICER, agencies["HN-SKHCN"]),
        ("tiepnhan", "Phạm Thu Hà", Role.RECEIVING_OFFICER, ward_agency),
    ]:
        user = accounts.official_create(
            username=username, full_name=full_name, password="mat-khau-demo-1"
        )
        accounts.role_grant(user=user, agency=agency, role=role)
        people[username.replace(".", "_")] = user
    programme_load()
    procedure = make_procedure()
    citizen = accounts.citizen_create(
        personal_id="001190012345",
        full_name="Nguyễn Thị Lan",
        sex="female",
        birth_date=date(1990, 5, 17),
        home_unit=ward,
    )
    from thudo.dossiers.services import dossier_intake
    from thudo.dossiers.tests.factories import BIRTH_DATA

    dossier_intake(
        officer=people["tiepnhan"],
        procedure=procedure,
        applicant={"name": "Trần Văn Bình", "personal_id": "001085012345"},
        data=dict(BIRTH_DATA),
        files=good_files(),
    )
    snapshots_take()
    return SimpleNamespace(procedure=procedure, citizen=citizen, ward_agency=ward_agency, **people)


@pytest.fixture
def as_user(browser: Browser, live_url: Url) -> Iterator[Callable[[Any], Page]]:
    from django.conf import settings
    from django.test import Client

    from thudo.accounts.testing import login_verified

    contexts = []
    errors: list[str] = []

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
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _check_page(page: Page) -> None:
    assert horizontal_overflow(page) == []
    assert contrast_failures(page) == []
    assert unlabelled_controls(page) == []


def test_a_leader_follows_the_programme_and_agencies_report_to_it(
    city: Any, as_user: Callable[[Any], Page], live_url: Url, screenshot: Shot, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from thudo.dossiers.tests.factories import BIRTH_DATA, good_files
    from thudo.monitoring.models import ReportedValue, Target
    from thudo.monitoring.services import snapshots_take

    target = Target.objects.get(code=ONLINE_RATE)
    assert target.current_value == Decimal("0.00")

    # --- The leader opens the overview: the headline, statuses, charts with their tables. ---
    leader = as_user(city.lanhdao)
    leader.goto(live_url("monitoring:overview"))
    expect(leader.locator("html")).to_have_attribute("lang", "vi")
    expect(leader.locator("main")).to_contain_text(re.compile(r"\d+ trên \d+ chỉ tiêu đã đạt"))
    expect(leader.locator("main svg[role=img]").first).to_be_visible()
    assert leader.locator("main table").count() >= 2
    expect(leader.locator("main")).to_contain_text(vi("No data"))
    _check_page(leader)
    screenshot(leader, "monitoring-overview-vi")

    # --- The online-rate target: 0% so far (one dossier, received at the counter). ---
    leader.locator(f"a[href$='/monitoring/targets/{ONLINE_RATE}/']").first.click()
    expect(leader.get_by_role("heading", level=1)).to_contain_text("nộp trực tuyến")
    expect(leader.locator("main svg[role=img]").first).to_be_visible()
    _check_page(leader)
    screenshot(leader, "monitoring-target-before-vi")

    # A citizen submits a dossier online; the daily snapshot runs; the target moves to 50%.
    from thudo.dossiers.services import dossier_submit

    dossier_submit(
        procedure=city.procedure,
        applicant=city.citizen,
        data=dict(BIRTH_DATA),
        files=good_files(),
        receiving_agency=city.ward_agency,
    )
    snapshots_take()
    target.refresh_from_db()
    assert target.current_value == Decimal("50.00")
    leader.reload()
    expect(leader.locator("main")).to_contain_text(re.compile(r"50(,0+)?\s?%"))
    screenshot(leader, "monitoring-target-after-vi")

    # The monthly report for the People's Committee.
    leader.goto(live_url("monitoring:overview"))
    with leader.expect_download() as download_info:
        leader.get_by_role("link", name=vi("Monthly report (PDF)")).click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")

    # --- The Department of Science and Technology reports broadband coverage with evidence. ---
    evidence = tmp_path / "bao-cao-cap-quang.pdf"
    from thudo.dossiers.tests.factories import pdf_bytes

    evidence.write_bytes(pdf_bytes("Báo cáo phủ sóng cáp quang quý"))
    department = as_user(city.giamsat_skhcn)
    department.goto(live_url("monitoring:report"))
    _check_page(department)
    department.locator(f"a[href$='/monitoring/report/{BROADBAND}/']").click()
    # A value out of range is refused, field by field; nothing is stored.
    department.locator("input[name=value]").fill("120")
    department.locator("input[name=unit]").fill("%")
    department.locator("input[name=evidence]").set_input_files(str(evidence))
    department.get_by_role("button", name=vi("Send for approval")).click()
    expect(department.locator(".error-summary, [role=alert]").first).to_be_visible()
    assert ReportedValue.objects.filter(indicator__code=BROADBAND, state="submitted").count() == 0
    department.locator("input[name=value]").fill("86,5")
    department.locator("input[name=unit]").fill("%")
    department.locator("input[name=evidence]").set_input_files(str(evidence))
    _check_page(department)
    screenshot(department, "monitoring-report-form-vi")
    department.get_by_role("button", name=vi("Send for approval")).click()
    department.wait_for_load_state("domcontentloaded")
    reported = ReportedValue.objects.get(indicator__code=BROADBAND, state="submitted")
    assert reported.value == Decimal("86.50") and reported.evidence

    # --- The city's monitoring office approves it. ---
    office = as_user(city.giamsat)
    office.goto(live_url("monitoring:review"))
    _check_page(office)
    screenshot(office, "monitoring-review-vi")
    office.get_by_role("button", name=re.compile("^" + re.escape(vi("Approve")))).first.click()
    office.wait_for_load_state("domcontentloaded")
    reported.refresh_from_db()
    assert reported.state == ReportedValue.State.APPROVED
    assert reported.reviewed_by == city.giamsat
