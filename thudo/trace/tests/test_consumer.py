"""The consumer's origin page: the fields Circular 02/2024 asks for, every stage with its place,
product code, location code and time, one step back and one step forward, corrections, the
integrity verdict, the red recall warning, languages, and a fixed number of queries."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from thudo.accounts.roles import Role
from thudo.trace.identifiers import lot_uri
from thudo.trace.models import Certification, Event
from thudo.trace.recalls import lift_recall, recall_batch
from thudo.trace.resolver import page_path

from .test_consumer_factories import (
    Chain,
    build_chain,
    capture,
    make_batch,
    make_place,
    make_producer,
    make_product,
    make_user,
    object_event,
    when,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(ward: Any) -> Chain:
    return build_chain(ward)


@pytest.fixture
def officer(make_agency: Any, make_official: Any) -> Any:
    agency = make_agency("HN-SNNMT", kind="department", name="Sở Nông nghiệp và Môi trường")
    return make_official(Role.FOOD_SAFETY_OFFICER, agency)


def en(client: Any) -> Any:
    client.cookies["thudo_language"] = "en"
    return client


def open_batch(client: Any, batch: Any) -> Any:
    response = client.get(page_path(batch.product.gtin, batch.lot))
    assert response.status_code == 200
    return response


def section(html: str, ident: str) -> str:
    """The HTML of the <section id="…"> (sections do not nest on this page)."""
    match = re.search(rf'<section[^>]*id="{ident}"[^>]*>(.*?)</section>', html, re.S)
    assert match, f"no section {ident}"
    return match.group(1)


def stage(html: str, pk: int) -> str:
    """The HTML of one stage of the journey."""
    start = html.index(f'<li class="tc-stage" id="stage-{pk}"')
    end = min(
        i
        for i in (html.find('<li class="tc-stage"', start + 1), html.find("</ol>", start))
        if i > 0
    )
    return html[start:end]


# --- the circular's fields -------------------------------------------------------------------


def test_page_shows_the_circulars_fields(client: Any, ward: Any) -> None:
    producer = make_producer(
        ward,
        "HTX Nông nghiệp Vân Đức",
        address="Thôn Đông, xã Vân Đức",
        business_code="0101234567",
        phone="0241234567",
    )
    farm = make_place(producer, "HN-F-77", name="Cánh đồng bãi sông")
    product = make_product(
        producer,
        77,
        "Bưởi Diễn",
        name_en="Dien pomelo",
        category="fruit",
        trademark="Bưởi Diễn Phú Diễn",
        standards="TCVN 9302:2013",
        shelf_life_days=30,
        ocop_stars=4,
        ocop_decision="QĐ 1234/QĐ-UBND",
        ocop_decided_on=date(2025, 3, 1),
        ocop_issuer="UBND thành phố Hà Nội",
        image="trace/products/buoi.jpg",
    )
    Certification.objects.create(
        producer=producer,
        scheme=Certification.Scheme.VIETGAP,
        number="VG-0042",
        issuer="Trung tâm chứng nhận",
        valid_from=date(2025, 1, 1),
        valid_to=date(2027, 1, 1),
    )
    batch = make_batch(
        product, "BD-01", place=farm, produced_on=date(2026, 1, 5), expires_on=date(2026, 2, 4)
    )
    user = make_user("grower")
    capture(
        producer,
        user,
        object_event(batch, stage="planting", biz_step="commissioning", place=farm, at=when(5),
                     action="ADD", quantity=None, fields={"thudo:note": "Gốc ghép 3 năm"}),
        object_event(batch, stage="harvesting", biz_step="creating_class_instance", place=farm,
                     at=when(4), action="ADD", quantity=250),
    )  # fmt: skip
    response = open_batch(en(client), batch)
    html = response.content.decode()
    # product name and image (lazy), producer name and address
    assert "Dien pomelo" in html
    assert re.search(r'<img src="[^"]+"[^>]*loading="lazy"', html)
    producer_html = section(html, "producer")
    assert "HTX Nông nghiệp Vân Đức" in producer_html
    assert "Thôn Đông, xã Vân Đức" in producer_html
    assert ward.name in producer_html
    assert "0101234567" in producer_html
    # trace code, trademark, standards, shelf life, production and expiry dates
    product_html = section(html, "product")
    assert f"(01) {product.gtin} (10) BD-01" in product_html
    assert "Bưởi Diễn Phú Diễn" in product_html
    assert "TCVN 9302:2013" in product_html
    assert "30 days" in product_html
    assert 'datetime="2026-01-05"' in product_html
    assert 'datetime="2026-02-04"' in product_html
    assert "HN-F-77" in product_html  # where it was produced, with the location code
    # OCOP stars with the decision, certificates
    ocop = section(html, "ocop")
    assert "4 / 5" in ocop and "QĐ 1234/QĐ-UBND" in ocop and "UBND thành phố Hà Nội" in ocop
    assert "OCOP 4-star product" in html
    certificates = section(html, "certificates")
    assert "VietGAP" in certificates and "VG-0042" in certificates
    # stages, each with place, location code, product code and time
    journey = section(html, "journey")
    stages = re.findall(r'data-stage="([a-z_]+)"', journey)
    assert stages == ["planting", "harvesting"]
    assert journey.count("Cánh đồng bãi sông") == 2
    assert journey.count("<code>HN-F-77</code>") == 2
    assert journey.count(f"(01) {product.gtin} (10) BD-01") == 2
    assert "250 KGM" in journey
    assert "Gốc ghép 3 năm" in journey
    assert journey.count("<time datetime=") == 2
    assert response["Cache-Control"] == "no-cache"


def test_stages_are_in_time_order_with_places_and_parties(client: Any, chain: Chain) -> None:
    html = open_batch(en(client), chain.r1).content.decode()
    journey = section(html, "journey")
    assert re.findall(r'data-stage="([a-z_]+)"', journey) == [
        "planting",
        "shipping",
        "receiving",
        "processing",
    ]
    assert "Cánh đồng Vân Đức" in journey  # planting and shipping from the farm
    assert "Xưởng Đông Anh" in journey  # received at the mill
    # shipping names where it went, with the owner
    assert "Xưởng Đông Anh (Xưởng bột Đông Anh)" in journey
    assert "Recorded by" in journey and "Xưởng bột Đông Anh" in journey


def test_one_step_back_and_one_step_forward(client: Any, chain: Chain) -> None:
    html = open_batch(en(client), chain.f1).content.decode()
    back, forward = section(html, "back"), section(html, "forward")
    for batch in (chain.r1, chain.b0):
        assert f'href="{page_path(batch.product.gtin, batch.lot)}"' in back
    for batch in (chain.n1, chain.p1):
        assert f'href="{page_path(batch.product.gtin, batch.lot)}"' in forward
    assert "used to make this batch" in back
    assert "made from this batch" in forward and "packed into" in forward
    assert page_path(chain.r2.product.gtin, "R2") not in html

    # The rice: forward to the mill and the flour; back, nothing but its own farm.
    rice = open_batch(en(client), chain.r1).content.decode()
    assert f'href="{page_path(chain.f1.product.gtin, "F1")}"' in section(rice, "forward")
    assert "Xưởng Đông Anh" in section(rice, "forward")  # shipped to
    rice_back = section(rice, "back")
    assert "<li>" not in rice_back  # shipping from its own field is not a step back
    assert "HTX Nông nghiệp Vân Đức at Cánh đồng Vân Đức" in rice_back
    assert page_path(chain.n1.product.gtin, "N1") not in rice  # two steps forward: not shown

    # The gift box: contains the flour (back), went to the shop (forward).
    box = open_batch(client, chain.p1).content.decode()
    assert f'href="{page_path(chain.f1.product.gtin, "F1")}"' in section(box, "back")
    assert "Quầy Tràng Tiền" in section(box, "forward")


def test_corrections_are_shown_as_such(client: Any, chain: Chain) -> None:
    wrong = chain.events["receive_p1"]
    document = {k: v for k, v in wrong.document.items() if k != "eventID"}
    document["quantityList"] = [{"epcClass": lot_uri(chain.p1.product.gtin, "P1"),
                                 "quantity": 90, "uom": "KGM"}]  # fmt: skip
    document["thudo:correctionReason"] = "incorrect_data"
    (fixed,) = capture(chain.shop, chain.shop_user, document, corrects=wrong)
    assert fixed.corrects_id == wrong.pk
    html = open_batch(en(client), chain.p1).content.decode()
    original, correction = stage(html, wrong.pk), stage(html, fixed.pk)
    assert "corrected" in original and "tc-corrected" in original
    assert f'href="#stage-{fixed.pk}"' in original
    assert "correction" in correction and "tc-corrected" not in correction
    assert f'href="#stage-{wrong.pk}"' in correction
    assert "the data recorded was wrong" in correction
    assert "90 KGM" in correction


# --- integrity -------------------------------------------------------------------------------


@pytest.fixture
def anchor_key(settings: Any, tmp_path: Path) -> Any:
    from thudo.trace import integrity

    settings.TRACE_ANCHOR_KEY_FILE = str(tmp_path / "anchor-key.json")
    integrity.reset_key_cache()
    yield integrity
    integrity.reset_key_cache()


def test_integrity_verdicts(client: Any, chain: Chain, anchor_key: Any) -> None:
    page = open_batch(en(client), chain.p1)
    assert page.context["page"].integrity.state == "pending"
    assert "Not yet anchored." in section(page.content.decode(), "integrity")

    anchor = anchor_key.anchor_now()
    assert anchor is not None
    page = open_batch(client, chain.p1)
    verdict = page.context["page"].integrity
    assert verdict.state == "ok" and verdict.anchored_at == anchor.created_at
    assert "Nothing altered since" in section(page.content.decode(), "integrity")

    # A record changed behind the system's back turns the verdict red.
    event = chain.events["ship_p1"]
    tampered = dict(event.document, disposition="active")
    Event.objects.filter(pk=event.pk).update(document=tampered)
    page = open_batch(client, chain.p1)
    assert page.context["page"].integrity.state == "altered"
    html = section(page.content.decode(), "integrity")
    assert "Altered" in html and event.event_id in html
    assert 'data-integrity="altered"' in page.content.decode()


def test_batch_without_events(client: Any, ward: Any) -> None:
    producer = make_producer(ward, "Hộ Nguyễn Văn Bình", kind="household")
    batch = make_batch(make_product(producer, 5, "Trứng gà"), "E1")
    html = open_batch(en(client), batch).content.decode()
    assert "No stage of this batch has been recorded yet." in html
    assert "There are no records to check yet." in html


# --- recalls ---------------------------------------------------------------------------------


def test_recalled_page_turns_red(client: Any, chain: Chain, officer: Any) -> None:
    before = open_batch(en(client), chain.f1).content.decode()
    assert 'data-recalled="false"' in before and 'class="tc-page"' in before
    recall = recall_batch(
        batch=chain.r1,
        reason="Phát hiện dư lượng thuốc bảo vệ thực vật vượt ngưỡng",
        reason_en="Pesticide residues above the limit",
        user=officer,
    )
    flour = open_batch(en(client), chain.f1).content.decode()
    assert 'class="tc-page tc-recalled"' in flour and 'data-recalled="true"' in flour
    banner = section(flour, "recall")
    assert 'role="alert"' in re.search(r'<section class="tc-recall"[^>]*>', flour).group(0)  # type: ignore[union-attr]
    assert "Pesticide residues above the limit" in banner
    assert "Sở Nông nghiệp và Môi trường" in banner
    assert timezone.localtime(recall.decided_at).strftime("%m/%d/%Y") in banner
    assert f'href="{page_path(chain.r1.product.gtin, "R1")}"' in banner  # the recalled origin
    # In Vietnamese the reason is the Vietnamese one.
    vi = open_batch(client.__class__(), chain.r1).content.decode()
    assert "Phát hiện dư lượng thuốc bảo vệ thực vật vượt ngưỡng" in section(vi, "recall")
    # Unrelated and upstream batches stay as they were.
    for batch in (chain.r2, chain.b0):
        assert 'data-recalled="false"' in open_batch(client, batch).content.decode()
    # The product's own page lists the recalled lot.
    product_page = en(client).get(page_path(chain.r1.product.gtin)).content.decode()
    assert "Some lots of this product are recalled" in product_page and "R1" in product_page

    lift_recall(recall=recall, reason="Kết quả kiểm nghiệm lại đạt", user=officer)
    after = open_batch(en(client), chain.f1).content.decode()
    assert 'data-recalled="false"' in after
    assert "Earlier recalls" in after and "Kết quả kiểm nghiệm lại đạt" in after


# --- languages -------------------------------------------------------------------------------


def test_vietnamese_by_default_english_with_the_cookie(client: Any, chain: Chain) -> None:
    vi = open_batch(client, chain.f1)
    assert '<html lang="vi"' in vi.content.decode()
    assert vi["Content-Language"] == "vi"
    english = open_batch(en(client), chain.f1)
    assert '<html lang="en"' in english.content.decode()
    assert english["Content-Language"] == "en"
    assert "Journey of this batch" in english.content.decode()
    assert "Cookie" in english["Vary"]


# --- speed -----------------------------------------------------------------------------------


def _queries(client: Any, batch: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        open_batch(client, batch)
    return len(captured)


def test_a_fixed_number_of_queries(
    client: Any, ward: Any, django_assert_max_num_queries: Any
) -> None:
    producer = make_producer(ward, "HTX Chè Ba Vì")
    farm = make_place(producer, "HN-F-20")
    other_farm = make_place(producer, "HN-F-21")
    product = make_product(producer, 20, "Chè búp")
    user = make_user("tea")
    small, big = make_batch(product, "T2", place=farm), make_batch(product, "T20", place=farm)
    for batch, count in ((small, 2), (big, 20)):
        capture(
            producer,
            user,
            *[
                object_event(batch, stage="fertilising", biz_step="other",
                             place=farm if n % 2 else other_farm, at=when(30 - n),
                             fields={"thudo:input": "Phân hữu cơ", "thudo:dose": "2 kg"})
                for n in range(count)
            ],
        )  # fmt: skip
    open_batch(client, small)  # warm up: the day's scan row exists from here on
    with django_assert_max_num_queries(14):
        open_batch(client, big)
    assert _queries(client, big) == _queries(client, small)  # no query per event
    assert _queries(client, small) == _queries(client, big)


def test_product_page_is_cheap(
    client: Any, chain: Chain, django_assert_max_num_queries: Any
) -> None:
    open_batch(client, chain.f1)
    with django_assert_max_num_queries(8):
        client.get(page_path(chain.f1.product.gtin))


def test_expired_batch_is_marked(client: Any, ward: Any) -> None:
    producer = make_producer(ward, "HTX Rau")
    product = make_product(producer, 31, "Rau muống", shelf_life_days=3)
    old = make_batch(product, "OLD", produced_on=timezone.localdate() - timedelta(days=10),
                     expires_on=timezone.localdate() - timedelta(days=7))  # fmt: skip
    html = open_batch(en(client), old).content.decode()
    assert "expired" in section(html, "product")
