"""Shared fixtures and helpers of the EPCIS and integrity tests (no tests here)."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from thudo.core.testing import services_required
from thudo.trace.identifiers import location_uri, lot_uri
from thudo.trace.models import Batch, Place, Producer, ProducerMember, Product

# GTINs of GS1's EPCIS 2.0 examples outside company prefix 0614141 (the examples' producer's).
GS1_EXAMPLE_GTINS = [
    "04012345123456",  # urn:epc:class:lgtin:4012345.012345.998877
    "04012345987652",  # urn:epc:idpat:sgtin:4012345.098765.*
    "04012345111224",  # urn:epc:id:sgtin:4012345.011122.25
    "04000001654321",  # urn:epc:id:sgtin:4000001.065432.99886655
    "04012345111118",  # urn:epc:class:lgtin:4012345.011111.4444
    "04012345666663",  # urn:epc:idpat:sgtin:4012345.066666.*
    "04012345778892",  # urn:epc:id:sgtin:4012345.077889.25 (output)
]

GTIN_A = "08931234500016"  # valid 893 GTIN-14s
GTIN_B = "08931234500023"
GTIN_OTHER = "08939999900010"


def epcis_data_dir() -> Path:
    return Path(
        os.environ.get("THUDO_EPCIS_DATA")
        or Path(settings.BASE_DIR).parent / "shared" / "data" / "epcis"
    )


def require_epcis_data() -> Path:
    folder = epcis_data_dir()
    if not (folder / "EPCIS-JSON-Schema.json").exists():
        reason = f"GS1's EPCIS 2.0 schema and examples are not at {folder} (set THUDO_EPCIS_DATA)"
        if services_required():
            pytest.fail(f"{reason} (THUDO_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    return folder


def gs1_examples() -> list[Path]:
    folder = epcis_data_dir() / "examples"
    return sorted(folder.glob("*.jsonld")) if folder.exists() else []


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def make_producer(ward: Any, *, name: str, prefix: str = "", user: Any = None) -> Producer:
    producer = Producer.objects.create(
        kind=Producer.Kind.COOPERATIVE,
        name=name,
        address="1 Tràng Tiền",
        ward=ward,
        gs1_company_prefix=prefix,
    )
    if user is not None:
        ProducerMember.objects.create(producer=producer, user=user)
    return producer


def make_place(producer: Producer, code: str, kind: str = Place.Kind.FARM) -> Place:
    return Place.objects.create(
        producer=producer,
        name=f"Place {code}",
        kind=kind,
        code=code,
        address="x",
        ward=producer.ward,
    )


def make_product(producer: Producer, gtin: str, name: str = "Rau cải") -> Product:
    return Product.objects.create(
        producer=producer, gtin=gtin, name=name, category=Product.Category.VEGETABLES
    )


def make_batch(product: Product, lot: str, place: Place | None = None) -> Batch:
    return Batch.objects.create(
        product=product,
        lot=lot,
        produced_on=date(2024, 5, 1),
        quantity=100,
        unit="KGM",
        place=place,
    )


def stamp(minutes_ago: int = 60) -> str:
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    return moment.astimezone(timezone.get_fixed_timezone(420)).isoformat(timespec="milliseconds")


def object_event(
    gtin: str,
    lot: str,
    *,
    biz_step: str = "commissioning",
    action: str = "ADD",
    place: Place | None = None,
    minutes_ago: int = 60,
    extensions: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": stamp(minutes_ago),
        "eventTimeZoneOffset": "+07:00",
        "action": action,
        "quantityList": [{"epcClass": lot_uri(gtin, lot), "quantity": 50, "uom": "KGM"}],
        "bizStep": biz_step,
        "disposition": "active",
    }
    if place is not None:
        event["readPoint"] = {"id": location_uri(code=place.code)}
        event["bizLocation"] = {"id": location_uri(code=place.code)}
    event.update(extra)
    event.update(extensions or {})
    return event


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
            {"thudo": "https://thudo.hanoi.gov.vn/epcis/"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": stamp(0),
        "epcisBody": {"eventList": list(events)},
    }


@pytest.fixture
def farmer(citizen: Any) -> Any:
    return citizen


@pytest.fixture
def coop(ward: Any, farmer: Any) -> Producer:
    return make_producer(ward, name="HTX Rau Vân Đức", prefix="8931234", user=farmer)


@pytest.fixture
def farm(coop: Producer) -> Place:
    return make_place(coop, "HN-VD-01")


@pytest.fixture
def product_a(coop: Producer) -> Product:
    return make_product(coop, GTIN_A)


@pytest.fixture
def batch_a(product_a: Product, farm: Place) -> Batch:
    return make_batch(product_a, "L001", farm)
