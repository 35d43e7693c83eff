"""Consumer pages kept in the cache: a second scan is served from it with two queries, and
whatever the page shows that changes — a recall or its lifting, a new event, a correction, a
new anchor, a record altered behind the system's back, an edited product — shows at the very
next scan. A kept page says nothing about who is signed in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from thudo.accounts.roles import Role
from thudo.trace import consumer
from thudo.trace.models import Event, Product, ScanDay
from thudo.trace.recalls import lift_recall, recall_batch
from thudo.trace.resolver import page_path

from .test_consumer_factories import (
    Chain,
    build_chain,
    capture,
    make_batch,
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


def scan(client: Any, batch: Any = None, path: str = "") -> Any:
    response = client.get(path or page_path(batch.product.gtin, batch.lot))
    assert response.status_code == 200
    return response


def kept(response: Any) -> bool:
    """Whether the page came from the cache (the view then has no stages to show for it)."""
    return isinstance(response.context["page"], consumer.ServedPage)


def article(response: Any) -> str:
    match = re.search(r"<article.*</article>", response.content.decode(), re.S)
    assert match
    return match.group(0)


def test_a_second_scan_is_served_from_the_cache(client: Any, chain: Chain) -> None:
    first = scan(client, chain.f1)
    assert not kept(first)
    with CaptureQueriesContext(connection) as queries:
        second = scan(client, chain.f1)
    assert kept(second)
    assert len(queries) == 2  # the page's stamp, the scan counter
    assert article(second) == article(first)
    assert "<title>" in second.content.decode() and "F1" in second.content.decode()
    assert second.context["page"].batch == chain.f1  # read only when asked for
    assert ScanDay.objects.get(product=chain.f1.product).count == 2
    assert 'rel="linkset"' in second["Link"] and second["Cache-Control"] == "no-cache"


def test_a_recall_and_its_lifting_show_at_once(client: Any, chain: Chain, officer: Any) -> None:
    scan(en(client), chain.f1)
    assert kept(before := scan(client, chain.f1))
    assert 'data-recalled="false"' in article(before)
    recall = recall_batch(batch=chain.r1, reason="Dư lượng", reason_en="Residues", user=officer)
    red = scan(client, chain.f1)  # F1 is made from R1: flagged, and its kept page is stale
    assert not kept(red)
    assert 'data-recalled="true"' in article(red) and "Residues" in article(red)
    assert "Recalled: " in red.content.decode().split("</title>")[0]
    again = scan(client, chain.f1)
    assert kept(again) and again.context["page"].recalled
    # The product's own page lists the recalled lot at once too.
    scan(client, path=page_path(chain.r2.product.gtin))
    lift_recall(recall=recall, reason="Kiểm nghiệm lại đạt", user=officer)
    lifted = scan(client, chain.f1)
    assert not kept(lifted)
    assert 'data-recalled="false"' in article(lifted) and "Earlier recalls" in article(lifted)


def test_the_product_page_shows_a_recalled_lot_at_once(
    client: Any, chain: Chain, officer: Any
) -> None:
    path = page_path(chain.r1.product.gtin)
    scan(en(client), path=path)
    assert kept(scan(client, path=path))
    recall_batch(batch=chain.r1, reason="Dư lượng", user=officer)
    page = scan(client, path=path)
    assert not kept(page)
    assert "Some lots of this product are recalled" in article(page) and "R1" in article(page)


def test_a_new_event_shows_at_once(client: Any, chain: Chain) -> None:
    scan(en(client), chain.r2)
    assert kept(scan(client, chain.r2))
    capture(
        chain.farm,
        chain.farm_user,
        object_event(
            chain.r2,
            stage="harvesting",
            biz_step="commissioning",
            place=chain.field_place,
            at=when(0.1),
            fields={"thudo:note": "Thu hoạch sớm"},
        ),
    )
    page = scan(client, chain.r2)
    assert not kept(page)
    assert 'data-stage="harvesting"' in article(page) and "Thu hoạch sớm" in article(page)


def test_a_correction_recorded_elsewhere_shows_at_once(client: Any, chain: Chain) -> None:
    """The farm says its planting record of R1 was about R2: the correction names R2 only,
    yet R1's page marks its planting as corrected."""
    wrong = chain.events["plant_r1"]
    scan(en(client), chain.r1)
    assert kept(scan(client, chain.r1))
    fixed = object_event(
        chain.r2,
        stage="planting",
        biz_step="commissioning",
        place=chain.field_place,
        at=when(9),
        action="ADD",
        quantity=None,
        fields={"thudo:correctionReason": "incorrect_data", "thudo:note": "lô R2"},
    )
    capture(chain.farm, chain.farm_user, fixed, corrects=wrong)
    page = scan(client, chain.r1)
    assert not kept(page)
    planting = article(page).split(f'id="stage-{wrong.pk}"', 1)[1].split("</li>", 1)[0]
    assert "tc-corrected" in planting


def test_a_new_anchor_and_an_altered_record_change_the_verdict(
    client: Any, chain: Chain, settings: Any, tmp_path: Path
) -> None:
    from thudo.trace import integrity

    settings.TRACE_ANCHOR_KEY_FILE = str(tmp_path / "anchor-key.json")
    integrity.reset_key_cache()
    try:
        scan(en(client), chain.p1)
        pending = scan(client, chain.p1)
        assert kept(pending) and pending.context["page"].integrity.state == "pending"
        assert integrity.anchor_now() is not None
        signed = scan(client, chain.p1)
        assert not kept(signed) and 'data-integrity="ok"' in article(signed)
        assert kept(scan(client, chain.p1))
        event = chain.events["receive_p1"]
        Event.objects.filter(pk=event.pk).update(document=dict(event.document, quantity=1))
        altered = scan(client, chain.p1)
        assert not kept(altered) and 'data-integrity="altered"' in article(altered)
    finally:
        integrity.reset_key_cache()


def test_an_edited_product_shows_at_once(client: Any, chain: Chain) -> None:
    scan(en(client), chain.n1)
    assert kept(scan(client, chain.n1))
    Product.objects.filter(pk=chain.n1.product_id).update(name_en="Rice vermicelli")
    page = scan(client, chain.n1)
    assert not kept(page) and "Rice vermicelli" in article(page)


def test_languages_are_kept_apart(client: Any, chain: Chain) -> None:
    scan(client, chain.f1)
    vietnamese = scan(client, chain.f1)
    assert kept(vietnamese) and "Hành trình của lô hàng" in article(vietnamese)
    english = scan(en(client), chain.f1)
    assert not kept(english) and "Journey of this batch" in article(english)
    assert '<html lang="en"' in english.content.decode()


def test_a_kept_page_says_nothing_about_who_is_signed_in(client: Any, chain: Chain) -> None:
    client.force_login(chain.mill_user)
    own = scan(en(client), chain.f1)
    assert "Sign out" in own.content.decode()
    anonymous = en(client.__class__())
    page = scan(anonymous, chain.f1)
    assert kept(page)
    html = page.content.decode()
    assert "Sign out" not in html and "Sign in" in html
    assert chain.mill_user.username not in html
    again = scan(client, chain.f1)
    assert kept(again) and "Sign out" in again.content.decode()


def test_fallback_pages_are_not_kept(client: Any, chain: Chain) -> None:
    path = f"/01/{chain.f1.product.gtin}/10/NOPE"
    scan(en(client), path=path)
    page = scan(client, path=path)
    assert not kept(page) and "Lot NOPE of this product is not registered" in article(page)


def test_keeping_can_be_turned_off(client: Any, chain: Chain, settings: Any) -> None:
    settings.TRACE_PAGE_CACHE_SECONDS = 0
    scan(client, chain.f1)
    assert not kept(scan(client, chain.f1))


def test_building_a_page_costs_the_same_queries_whatever_its_events(
    client: Any, chain: Chain, settings: Any
) -> None:
    settings.TRACE_PAGE_CACHE_SECONDS = 0
    big = make_batch(chain.r2.product, "R9", place=chain.field_place)
    capture(
        chain.farm,
        chain.farm_user,
        *[
            object_event(big, stage="spraying", biz_step="inspecting", place=chain.field_place,
                         at=when(8 - n / 10), fields={"thudo:input": "Chế phẩm sinh học"})
            for n in range(15)
        ],
    )  # fmt: skip
    scan(client, chain.r2)

    def count(batch: Any) -> int:
        with CaptureQueriesContext(connection) as queries:
            scan(client, batch)
        return len(queries)

    assert count(big) == count(chain.r2)
