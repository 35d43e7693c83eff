"""Sticky rice from Vân Đức, from the cooperative's phone to a recall, in Vietnamese.

A member of a cooperative registers it, its field, an OCOP product with a photo and a batch
through the producers' pages; records planting, harvesting, packing and shipping to a shop;
prints the QR labels (a PDF). A shopper without an account opens the URI the labels carry
(/01/<GTIN>/10/<lot>) and sees the journey. The food-safety officer finds the batch and recalls
it; the shopper's page turns red.
"""

from __future__ import annotations

import io
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

GTIN13 = "8930000123459"  # 893 + item reference + check digit
LOT = "VD-2026-01"


def vi(message: str) -> str:
    """The Vietnamese text of an English msgid, as the pages show it."""
    with translation.override("vi"):
        return str(translation.gettext(message))


@pytest.fixture
def city(hanoi: Any, settings: Any, tmp_path: Path, live_url: Url) -> Any:
    """The Department of Agriculture with its food-safety officer, a cooperative member (a
    citizen) and a shop in Hoàn Kiếm with a place the goods are shipped to."""
    from types import SimpleNamespace

    from thudo.accounts import services as accounts
    from thudo.accounts.roles import Role
    from thudo.trace.models import Place, Producer

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TRACE_DIGITAL_LINK_BASE = live_url("/").rstrip("/")  # the labels' QR domain
    ward = hanoi.children.get(code="00070")
    city_agency = accounts.agency_create(
        code="HN", name="Ủy ban nhân dân thành phố Hà Nội", kind="city_committee", admin_unit=hanoi
    )
    department = accounts.agency_create(
        code="HN-SNNMT",
        name="Sở Nông nghiệp và Môi trường",
        kind="department",
        admin_unit=hanoi,
        parent=city_agency,
    )
    officer = accounts.official_create(
        username="attp.snnmt", full_name="Lương Thị Minh Thu", password="mat-khau-demo-1"
    )
    accounts.role_grant(user=officer, agency=department, role=Role.FOOD_SAFETY_OFFICER)
    member = accounts.citizen_create(
        personal_id="001090123456",
        full_name="Nguyễn Văn Đức",
        sex="male",
        birth_date=date(1990, 5, 17),
        home_unit=ward,
    )
    shop = Producer.objects.create(
        kind=Producer.Kind.BUSINESS,
        name="Cửa hàng thực phẩm sạch Tràng Tiền",
        address="5 Tràng Tiền",
        ward=ward,
    )
    store = Place.objects.create(
        producer=shop,
        name="Quầy Tràng Tiền",
        kind=Place.Kind.SHOP,
        code="HN-00070-SHOP1",
        address="5 Tràng Tiền",
        ward=ward,
    )
    return SimpleNamespace(ward=ward, officer=officer, member=member, shop=shop, store=store)


@pytest.fixture
def as_user(browser: Browser, live_url: Url) -> Iterator[Callable[[Any], Page]]:
    """as_user(user) -> a phone-sized page signed in as that user; as_user(None) -> a visitor
    without an account (each its own browser context)."""
    from django.conf import settings
    from django.test import Client

    from thudo.accounts.testing import login_verified

    contexts = []
    errors: list[str] = []

    def open_as(user: Any) -> Page:
        context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
        context.set_default_timeout(15_000)
        contexts.append(context)
        if user is not None:
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


def _submit(page: Page, label: str) -> None:
    page.get_by_role("button", name=label).click()
    page.wait_for_load_state("domcontentloaded")
    if page.locator(".error-summary, [role=alert]").count():
        raise AssertionError(page.locator("main").inner_text())


def _photo(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "gao-nep.png"
    buffer = io.BytesIO()
    Image.new("RGB", (320, 320), (235, 210, 120)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def _record(page: Page, stage: str, fill: Callable[[Page], None] | None = None) -> None:
    """From the batch's page: open a stage's form, fill it, record it, come back."""
    page.get_by_role("link", name=vi(stage), exact=True).first.click()
    page.wait_for_load_state("domcontentloaded")
    _check_page(page)
    if fill is not None:
        fill(page)
    _submit(page, vi("Record"))


def test_cooperative_batch_scanned_by_a_shopper_then_recalled(
    city: Any, as_user: Callable[[Any], Page], live_url: Url, screenshot: Shot, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from thudo.trace.identifiers import normalize_gtin
    from thudo.trace.models import Batch, Event, Producer, Product, Recall, RecallFlag

    gtin = normalize_gtin(GTIN13)
    assert gtin is not None

    # --- The cooperative's member registers the cooperative. ---
    member = as_user(city.member)
    member.goto(live_url("trace:home"))
    expect(member.locator("html")).to_have_attribute("lang", "vi")
    _check_page(member)
    member.get_by_role("link", name=vi("Register a producer")).first.click()
    member.locator("input[name=kind][value=cooperative]").check()
    member.locator("input[name=name]").fill("Hợp tác xã Nông nghiệp Vân Đức")
    member.locator("input[name=business_code]").fill("0101234567")
    member.locator("input[name=address]").fill("Thôn Đông, xã Vân Đức")
    member.locator("select[name=ward]").select_option(city.ward.code)
    _check_page(member)
    screenshot(member, "trace-producer-form-vi")
    _submit(member, vi("Register"))
    producer = Producer.objects.get(name="Hợp tác xã Nông nghiệp Vân Đức")
    assert producer.members.get().user == city.member

    # --- Its field. ---
    member.get_by_role("link", name=vi("Add a place")).first.click()
    member.locator("input[name=name]").fill("Cánh đồng bãi Vân Đức")
    member.locator("select[name=kind]").select_option("farm")
    member.locator("input[name=address]").fill("Bãi sông, xã Vân Đức")
    member.locator("select[name=ward]").select_option(city.ward.code)
    _submit(member, vi("Add the place"))
    field = producer.places.get()

    # --- An OCOP product with its photo. ---
    member.goto(live_url("trace:producer", producer.pk))
    member.get_by_role("link", name=vi("Register a product")).first.click()
    member.locator("input[name=gtin]").fill(GTIN13)
    member.locator("input[name=name]").fill("Gạo nếp cái hoa vàng Vân Đức")
    member.locator("input[name=name_en]").fill("Van Duc yellow-flower sticky rice")
    member.locator("select[name=category]").select_option("rice")
    member.locator("input[name=trademark]").fill("Nếp Vân Đức")
    member.locator("input[name=standards]").fill("TCVN 8368:2010")
    member.locator("input[name=shelf_life_days]").fill("180")
    member.locator("select[name=ocop_stars]").select_option("4")
    member.locator("input[name=ocop_decision]").fill("1234/QĐ-UBND")
    member.locator("input[name=ocop_decided_on]").fill("2025-03-01")
    member.locator("input[name=ocop_issuer]").fill("UBND thành phố Hà Nội")
    member.locator("input[name=image]").set_input_files(str(_photo(tmp_path)))
    _check_page(member)
    screenshot(member, "trace-product-form-vi")
    _submit(member, vi("Register the product"))
    product = Product.objects.get(gtin=gtin)
    assert product.ocop_stars == 4 and product.image

    # --- A batch of it. ---
    member.goto(live_url("trace:product", product.pk))
    member.get_by_role("link", name=vi("New batch")).first.click()
    member.locator("input[name=lot]").fill(LOT)
    member.locator("input[name=quantity]").fill("1200")
    member.locator("select[name=unit]").select_option("KGM")
    member.locator("select[name=place]").select_option(str(field.pk))
    _submit(member, vi("Register the batch"))
    batch = Batch.objects.get(product=product, lot=LOT)

    # --- Its stages: planting, harvesting, packing, shipping to the shop. ---
    member.goto(live_url("trace:batch", batch.pk))
    _record(member, "Planting", lambda p: p.locator("input[name=variety]").fill("Nếp cái hoa vàng"))
    member.goto(live_url("trace:batch", batch.pk))
    _record(member, "Harvesting", lambda p: p.locator("input[name=quantity]").fill("1200"))
    member.goto(live_url("trace:batch", batch.pk))
    _record(member, "Packing", lambda p: p.locator("input[name=quantity]").fill("1200"))

    def ship(page: Page) -> None:
        page.locator("input[name=destination]").fill(city.store.code)
        page.locator("input[name=quantity]").fill("300")

    member.goto(live_url("trace:batch", batch.pk))
    _record(member, "Shipping", ship)
    stages = [e.document.get("thudo:stage") for e in Event.objects.order_by("event_time", "pk")]
    assert stages == ["planting", "harvesting", "packing", "shipping"]
    member.goto(live_url("trace:batch", batch.pk))
    _check_page(member)
    screenshot(member, "trace-batch-member-vi")

    # --- The labels: a PDF, and the URI the QR codes carry. ---
    member.get_by_role("link", name=vi("Print QR labels")).click()
    member.wait_for_load_state("domcontentloaded")
    _check_page(member)
    uri = member.locator("code", has_text="/01/").first.inner_text().strip()
    assert uri == live_url(f"/01/{gtin}/10/{LOT}")
    pdf = member.request.get(live_url("trace:labels_pdf", batch.pk) + "?count=24")
    assert pdf.status == 200
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert pdf.body().startswith(b"%PDF")

    # --- A shopper scans it: the consumer page, in Vietnamese, on a phone. ---
    shopper = as_user(None)
    shopper.goto(uri)
    expect(shopper.locator("html")).to_have_attribute("lang", "vi")
    expect(shopper.get_by_role("heading", level=1)).to_have_text("Gạo nếp cái hoa vàng Vân Đức")
    expect(shopper.locator(".tc-stars")).to_contain_text("★★★★")
    journey = shopper.locator("#journey")
    expect(journey.locator("[data-stage]")).to_have_count(4)
    assert journey.locator("[data-stage]").evaluate_all(
        "items => items.map(i => i.dataset.stage)"
    ) == ["planting", "harvesting", "packing", "shipping"]
    expect(journey).to_contain_text("Cánh đồng bãi Vân Đức")
    expect(journey).to_contain_text(field.code)
    expect(shopper.locator("#forward")).to_contain_text("Quầy Tràng Tiền")
    expect(shopper.locator("#producer")).to_contain_text("Thôn Đông, xã Vân Đức")
    expect(shopper.locator("#certificates")).to_be_visible()
    expect(shopper.locator("img[loading=lazy]")).to_have_count(1)
    expect(shopper.locator("article")).to_have_attribute("data-recalled", "false")
    _check_page(shopper)
    screenshot(shopper, "trace-consumer-vi")

    # --- The food-safety officer finds the batch and recalls it. ---
    officer = as_user(city.officer)
    officer.goto(live_url("trace_official:overview"))
    _check_page(officer)
    screenshot(officer, "trace-official-overview-vi")
    officer.locator("input[name=gtin]").fill(GTIN13)
    officer.locator("input[name=lot]").fill(LOT)
    officer.get_by_role("button", name=vi("Open")).click()
    officer.wait_for_load_state("domcontentloaded")
    expect(officer.get_by_role("heading", level=1)).to_contain_text(LOT)
    officer.locator("textarea[name=reason]").fill(
        "Mẫu kiểm nghiệm phát hiện dư lượng thuốc bảo vệ thực vật vượt ngưỡng."
    )
    _check_page(officer)
    screenshot(officer, "trace-official-recall-form-vi")
    officer.get_by_role("button", name=vi("Recall this batch")).click()
    officer.wait_for_load_state("domcontentloaded")
    recall = Recall.objects.get()
    assert recall.batch == batch and recall.agency.code == "HN-SNNMT"
    assert RecallFlag.objects.filter(recall=recall, batch=batch).exists()
    expect(officer).to_have_url(re.compile(rf"/workspace/trace/recalls/{recall.pk}/$"))
    _check_page(officer)

    # --- The shopper looks again: the page is red, with the reason. ---
    shopper.reload()
    expect(shopper.locator("article")).to_have_attribute("data-recalled", "true")
    banner = shopper.locator("#recall")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("dư lượng thuốc bảo vệ thực vật")
    expect(banner).to_contain_text("Sở Nông nghiệp và Môi trường")
    color = banner.evaluate("el => getComputedStyle(el).backgroundColor")
    assert color == "rgb(161, 18, 26)"  # the city's red
    _check_page(shopper)
    screenshot(shopper, "trace-consumer-recalled-vi")

    # The cooperative's member was told.
    from thudo.notifications.models import Notification

    assert Notification.objects.filter(user=city.member, url=f"/01/{gtin}/10/{LOT}").count() == 1
