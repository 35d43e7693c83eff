"""The GS1 Digital Link resolver: every path form, GTIN normalisation, negotiation (HTML page,
RFC 9264 linkset, 307 to EPCIS), fallbacks and errors, and the scan counter."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db.models.query import QuerySet
from django.utils import timezone

from thudo.trace import resolver
from thudo.trace.identifiers import normalize_gtin
from thudo.trace.models import Product, ScanDay

from .test_consumer_factories import (
    make_batch,
    make_gtin,
    make_place,
    make_producer,
    make_product,
)

pytestmark = pytest.mark.django_db

LINKSET = "application/linkset+json"
GS1 = "https://gs1.org/voc/"


@pytest.fixture
def goods(ward: Any) -> dict[str, Any]:
    producer = make_producer(ward, "HTX Rau sạch Văn Đức")
    farm = make_place(producer, "HN-F-9")
    product = make_product(producer, 101, "Rau cải ngọt", name_en="Choy sum")
    batch = make_batch(product, "L-2026/01", place=farm, serial_count=3)
    return {"producer": producer, "product": product, "batch": batch}


def en(client: Any) -> Any:
    client.cookies["thudo_language"] = "en"
    return client


def scans(product: Product) -> int:
    row = ScanDay.objects.filter(product=product, day=timezone.localdate()).first()
    return row.count if row else 0


# --- paths and GTIN forms --------------------------------------------------------------------


def test_product_path_answers_the_page_itself(client: Any, goods: dict[str, Any]) -> None:
    product = goods["product"]
    response = client.get(f"/01/{product.gtin}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Rau cải ngọt" in response.content.decode()
    assert scans(product) == 1


def test_lot_path_shows_the_batch_and_advertises_the_linkset(
    client: Any, goods: dict[str, Any]
) -> None:
    product, batch = goods["product"], goods["batch"]
    response = client.get(f"/01/{product.gtin}/10/L-2026%2F01")
    assert response.status_code == 200
    body = response.content.decode()
    assert "L-2026/01" in body
    assert 'rel="linkset"' in response["Link"]
    assert f"/01/{product.gtin}/10/L-2026%2F01?linkType=all" in response["Link"]
    vary = response["Vary"]
    assert "Accept" in vary and "Cookie" in vary
    assert response.context["page"].batch == batch


@pytest.mark.parametrize("form", ["gtin13", "gtin14"])
def test_gtin_13_and_14_name_the_same_product(
    client: Any, goods: dict[str, Any], form: str
) -> None:
    gtin = goods["product"].gtin
    path = gtin[1:] if form == "gtin13" else gtin
    response = client.get(f"/01/{path}/10/L-2026%2F01")
    assert response.status_code == 200
    assert response.context["page"].batch == goods["batch"]


def test_gtin_12_and_8_are_normalised(client: Any, goods: dict[str, Any]) -> None:
    producer = goods["producer"]
    upc = Product.objects.create(
        producer=producer, gtin=str(normalize_gtin("036000291452")), name="UPC", category="other"
    )
    ean8 = Product.objects.create(
        producer=producer, gtin=str(normalize_gtin("96385074")), name="EAN8", category="other"
    )
    assert client.get("/01/036000291452").context["page"].product == upc
    assert client.get("/01/96385074").context["page"].product == ean8
    assert client.get("/01/00000096385074").context["page"].product == ean8


def test_serial_paths(client: Any, goods: dict[str, Any]) -> None:
    gtin = goods["product"].gtin
    both = client.get(f"/01/{gtin}/10/L-2026%2F01/21/L-2026%2F01.2")
    assert both.status_code == 200
    assert both.context["page"].batch == goods["batch"]
    assert "(21) L-2026/01.2" in both.content.decode()
    # An item URI without the lot: our serials are "<lot>.<n>".
    alone = client.get(f"/01/{gtin}/21/L-2026%2F01.3")
    assert alone.status_code == 200
    assert alone.context["page"].batch == goods["batch"]


def test_unknown_serial_without_lot_falls_back_to_the_product(
    client: Any, goods: dict[str, Any]
) -> None:
    response = en(client).get(f"/01/{goods['product'].gtin}/21/NOPE.1")
    assert response.status_code == 200
    assert response.context["page"].batch is None
    assert "Item NOPE.1 of this product is not registered" in response.content.decode()


def test_trailing_slash_is_accepted(client: Any, goods: dict[str, Any]) -> None:
    assert client.get(f"/01/{goods['product'].gtin}/").status_code == 200


# --- fallbacks and errors --------------------------------------------------------------------


def test_unknown_lot_shows_the_product_with_a_notice(client: Any, goods: dict[str, Any]) -> None:
    product = goods["product"]
    response = en(client).get(f"/01/{product.gtin}/10/ZZ9")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Lot ZZ9 of this product is not registered" in body
    assert "Choy sum" in body  # the English name, with the English cookie
    assert response.context["page"].batch is None
    assert scans(product) == 1


def test_unknown_gtin_is_404_naming_it(client: Any, goods: dict[str, Any]) -> None:
    missing = make_gtin(999)
    response = en(client).get(f"/01/{missing}/10/A1")
    assert response.status_code == 404
    body = response.content.decode()
    assert missing in body
    assert f"No product with GTIN {missing} is registered" in body
    assert not ScanDay.objects.exists()


def test_unknown_gtin_as_problem_json(client: Any, goods: dict[str, Any]) -> None:
    missing = make_gtin(998)
    response = en(client).get(f"/01/{missing}", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert problem["gtin"] == missing
    assert missing in problem["detail"]
    assert problem["type"].endswith("/unknown-gtin")


@pytest.mark.parametrize(
    ("path", "field", "message"),
    [
        ("/01/{bad}", "gtin", "check digit is wrong"),
        ("/01/123", "gtin", "8, 12, 13 or 14 digits"),
        ("/01/0893abc0001016", "gtin", "8, 12, 13 or 14 digits"),
        ("/01/{gtin}/10/ABCDEFGHIJKLMNOPQRSTU", "lot", "1 to 20 characters"),  # 21 characters
        ("/01/{gtin}/10/A1/21/a%20b", "serial", "1 to 20 characters"),
    ],
)
def test_malformed_keys_are_400(
    client: Any, goods: dict[str, Any], path: str, field: str, message: str
) -> None:
    gtin = goods["product"].gtin
    url = path.format(gtin=gtin, bad=gtin[:-1] + str((int(gtin[-1]) + 1) % 10))
    page = en(client).get(url)
    assert page.status_code == 400
    assert message in page.content.decode()
    problem = client.get(url, HTTP_ACCEPT=LINKSET)
    assert problem.status_code == 400
    assert problem.json()["field"] == field
    assert message in problem.json()["detail"]
    assert not ScanDay.objects.exists()


def test_only_safe_methods(client: Any, goods: dict[str, Any]) -> None:
    assert client.post(f"/01/{goods['product'].gtin}").status_code == 405
    head = client.head(f"/01/{goods['product'].gtin}")
    assert head.status_code == 200
    assert scans(goods["product"]) == 0  # a HEAD is not a scan


# --- negotiation and the linkset -------------------------------------------------------------


def _links(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) >= {"linkset"}
    assert isinstance(body["linkset"], list) and len(body["linkset"]) == 1
    return body["linkset"][0]  # type: ignore[no-any-return]


def test_link_type_all_gives_the_linkset(client: Any, goods: dict[str, Any]) -> None:
    product = goods["product"]
    response = en(client).get(f"/01/{product.gtin}/10/L-2026%2F01?linkType=all")
    assert response.status_code == 200
    assert response["Content-Type"] == LINKSET
    context = _links(response.json())
    assert context["anchor"] == f"http://testserver/01/{product.gtin}/10/L-2026%2F01"
    assert context["itemDescription"] == "Choy sum"
    for rel in ("pip", "defaultLink", "traceability", "epcis"):
        assert f"{GS1}{rel}" in context, rel
    assert f"{GS1}recallStatus" not in context  # not recalled
    assert f"{GS1}certificationInfo" not in context  # no certificate
    pip = context[f"{GS1}pip"][0]
    assert pip["href"] == context["anchor"]
    assert pip["type"] == "text/html"
    assert pip["hreflang"] == ["vi", "en"]
    assert pip["title"] == "Product information"
    assert {t["language"] for t in pip["title*"]} == {"vi", "en"}
    trace = context[f"{GS1}traceability"][0]
    assert trace["href"].endswith("#journey")
    epcis = context[f"{GS1}epcis"][0]
    assert epcis["type"] == "application/ld+json"
    query = parse_qs(urlsplit(epcis["href"]).query)
    assert urlsplit(epcis["href"]).path == "/epcis/events"
    assert query == {"gtin": [product.gtin], "lot": ["L-2026/01"]}
    assert scans(product) == 1  # a machine's look-up is a scan too


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (LINKSET, LINKSET),
        ("application/json", "application/json"),
        ("application/json, text/html;q=0.5", "application/json"),
        ("text/html, application/json;q=0.9", "text/html; charset=utf-8"),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "text/html; charset=utf-8",
        ),
        ("*/*", "text/html; charset=utf-8"),
        ("image/png", "text/html; charset=utf-8"),
    ],
)
def test_accept_negotiation(
    client: Any, goods: dict[str, Any], accept: str, content_type: str
) -> None:
    response = client.get(f"/01/{goods['product'].gtin}", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    if content_type != "text/html; charset=utf-8":
        assert "linkset" in response.json()


def test_certification_and_recall_links(
    client: Any, goods: dict[str, Any], make_agency: Any, make_official: Any
) -> None:
    from datetime import date

    from thudo.accounts.roles import Role
    from thudo.trace.models import Certification
    from thudo.trace.recalls import recall_batch

    product, batch = goods["product"], goods["batch"]
    Certification.objects.create(
        producer=goods["producer"], scheme="vietgap", number="VG-1", issuer="Sở NN",
        valid_from=date(2025, 1, 1),
    )  # fmt: skip
    officer = make_official(Role.FOOD_SAFETY_OFFICER, make_agency("HN-SNNMT", kind="department"))
    recall_batch(batch=batch, reason="Dư lượng thuốc", user=officer)
    context = _links(client.get(f"/01/{product.gtin}/10/L-2026%2F01?linkType=all").json())
    assert context[f"{GS1}certificationInfo"][0]["href"].endswith("#certificates")
    assert context[f"{GS1}recallStatus"][0]["href"].endswith("#recall")


def test_unknown_lot_linkset_says_so(client: Any, goods: dict[str, Any]) -> None:
    product = goods["product"]
    body = en(client).get(f"/01/{product.gtin}/10/ZZ9", HTTP_ACCEPT=LINKSET).json()
    context = _links(body)
    assert context["anchor"].endswith(f"/01/{product.gtin}/10/ZZ9")
    assert context[f"{GS1}pip"][0]["href"] == f"http://testserver/01/{product.gtin}"
    assert f"{GS1}traceability" not in context
    assert parse_qs(urlsplit(context[f"{GS1}epcis"][0]["href"]).query) == {"gtin": [product.gtin]}
    assert body["notice"]["code"] == "lot_unknown"
    assert "Lot ZZ9" in body["notice"]["message"]


@pytest.mark.parametrize("value", ["gs1:epcis", "https://gs1.org/voc/epcis"])
def test_epcis_link_type_redirects_307(client: Any, goods: dict[str, Any], value: str) -> None:
    product = goods["product"]
    response = client.get(f"/01/{product.gtin[1:]}/10/L-2026%2F01", {"linkType": value})
    assert response.status_code == 307
    target = urlsplit(response["Location"])
    assert target.path == "/epcis/events"
    assert parse_qs(target.query) == {"gtin": [product.gtin], "lot": ["L-2026/01"]}
    assert scans(product) == 0  # a redirect for machines is not a consumer's scan


def test_other_link_types_give_the_page(client: Any, goods: dict[str, Any]) -> None:
    for value in ("gs1:pip", "gs1:traceability", "gs1:somethingElse"):
        response = client.get(f"/01/{goods['product'].gtin}", {"linkType": value})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")


def test_link_type_name() -> None:
    assert resolver.link_type_name("gs1:epcis") == "epcis"
    assert resolver.link_type_name("https://ref.gs1.org/voc/pip") == "pip"
    assert resolver.link_type_name("all") == "all"


# --- the scan counter ------------------------------------------------------------------------


def test_scans_add_up_in_one_row_per_day(client: Any, goods: dict[str, Any]) -> None:
    product = goods["product"]
    for _ in range(3):
        client.get(f"/01/{product.gtin}/10/L-2026%2F01")
    client.get(f"/01/{product.gtin}", HTTP_ACCEPT=LINKSET)
    assert list(ScanDay.objects.values_list("product_id", "count")) == [(product.pk, 4)]


def test_first_scan_race_retries_as_an_update(
    goods: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another request inserted today's row between our UPDATE (0 rows) and our INSERT."""
    product = goods["product"]
    ScanDay.objects.create(product=product, day=timezone.localdate(), count=1)
    real_update = QuerySet.update
    calls = {"n": 0}

    def first_misses(self: QuerySet[Any], **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return 0  # as if the row did not exist yet
        return real_update(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", first_misses)
    resolver.record_scan(product.pk)
    monkeypatch.undo()
    assert calls["n"] == 2
    assert ScanDay.objects.get(product=product).count == 2
