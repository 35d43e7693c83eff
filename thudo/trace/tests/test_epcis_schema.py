"""Every EPCIS document Thudo emits validates against GS1's EPCIS 2.0 JSON schema."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import jsonschema
import pytest

from thudo.trace.epcis.capture import capture_document, capture_events
from thudo.trace.epcis.serialize import epcis_document, query_document, single_event
from thudo.trace.identifiers import item_uri, location_uri, lot_uri
from thudo.trace.models import Event

from .test_epcis_support import *  # noqa: F403 — the shared fixtures
from .test_epcis_support import (
    GS1_EXAMPLE_GTINS,
    GTIN_A,
    GTIN_B,
    gs1_examples,
    load,
    make_batch,
    make_place,
    make_producer,
    make_product,
    object_event,
    require_epcis_data,
    stamp,
)

pytestmark = pytest.mark.django_db

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _format_checker() -> jsonschema.FormatChecker:
    """The formats GS1's schema uses, checked strictly (jsonschema leaves "uri" unchecked
    without optional packages)."""
    checker = jsonschema.FormatChecker([])

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        return not isinstance(value, str) or bool(_URI.match(value))

    @checker.checks("date-time")
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            return False
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return True

    return checker


@pytest.fixture(scope="module")
def validator() -> Any:
    folder = require_epcis_data()
    schema = load(folder / "EPCIS-JSON-Schema.json")
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft7Validator  # the schema's $schema
    cls.check_schema(schema)
    return cls(schema, format_checker=_format_checker())


def _valid(validator: Any, document: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_the_checker_refuses_what_the_schema_forbids(validator: Any) -> None:
    """The validator is not vacuous: a bad document fails it."""
    bad = {
        "@context": "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
        "type": "ObjectEvent",
        "eventTime": "yesterday",
        "eventTimeZoneOffset": "+07:00",
        "action": "OBSERVE",
        "epcList": ["not a uri"],
        "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
    }
    assert len(list(validator.iter_errors(bad))) >= 3


@pytest.fixture
def stage_events(coop: Any, farmer: Any, farm: Any, ward: Any) -> list[Event]:
    """Events like the stage forms record: planting → … → selling, a transformation, packing,
    a correction."""
    raw = make_batch(make_product(coop, GTIN_A), "L001", farm)
    make_batch(make_product(coop, GTIN_B, name="Dưa muối"), "P1", farm)
    shop_owner = make_producer(ward, name="Cửa hàng", prefix="")
    shop = make_place(shop_owner, "SHOP-1", kind="shop")
    here = location_uri(code=farm.code)
    events = [
        object_event(
            GTIN_A, "L001", place=farm, minutes_ago=600, extensions={"thudo:stage": "planting"}
        ),
        object_event(
            GTIN_A,
            "L001",
            action="OBSERVE",
            biz_step="inspecting",
            place=farm,
            minutes_ago=500,
            extensions={
                "thudo:stage": "spraying",
                "thudo:input": "Neem oil",
                "thudo:dose": "2 L/ha",
            },
        ),
        {
            "type": "TransformationEvent",
            "eventTime": stamp(400),
            "eventTimeZoneOffset": "+07:00",
            "inputQuantityList": [
                {"epcClass": lot_uri(GTIN_A, "L001"), "quantity": 10, "uom": "KGM"}
            ],
            "outputQuantityList": [
                {"epcClass": lot_uri(GTIN_B, "P1"), "quantity": 8.5, "uom": "KGM"}
            ],
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": here},
            "ilmd": {"cbvmda:bestBeforeDate": "2024-12-31"},
            "thudo:stage": "processing",
        },
        {
            "type": "AggregationEvent",
            "eventTime": stamp(300),
            "eventTimeZoneOffset": "+07:00",
            "parentID": "urn:epc:id:sscc:8931234.0000000017",
            "childEPCs": [item_uri(GTIN_B, "0001"), item_uri(GTIN_B, "0002")],
            "childQuantityList": [{"epcClass": lot_uri(GTIN_B, "P1"), "quantity": 4}],
            "action": "ADD",
            "bizStep": "packing",
            "disposition": "container_closed",
            "bizLocation": {"id": here},
        },
        object_event(
            GTIN_B,
            "P1",
            action="OBSERVE",
            biz_step="shipping",
            disposition="in_transit",
            place=farm,
            minutes_ago=200,
            sourceList=[{"type": "location", "source": here}],
            destinationList=[{"type": "location", "destination": location_uri(code=shop.code)}],
            bizTransactionList=[{"type": "desadv", "bizTransaction": "urn:thudo:desadv:1"}],
        ),
        {
            "type": "TransactionEvent",
            "eventTime": stamp(150),
            "eventTimeZoneOffset": "+07:00",
            "bizTransactionList": [{"type": "inv", "bizTransaction": "urn:thudo:inv:1"}],
            "quantityList": [{"epcClass": lot_uri(GTIN_B, "P1"), "quantity": 2, "uom": "KGM"}],
            "action": "ADD",
            "bizStep": "retail_selling",
            "disposition": "retail_sold",
        },
    ]
    stored = capture_events(events=events, producer=coop, user=farmer).events
    fix = object_event(
        GTIN_A, "L001", place=farm, minutes_ago=590, extensions={"thudo:stage": "planting"}
    )
    stored += capture_events(events=[fix], producer=coop, user=farmer, corrects=stored[0]).events
    assert raw.links.count() >= 3
    return stored


def test_stage_events_validate(validator: Any, stage_events: list[Event]) -> None:
    _valid(validator, query_document(stage_events))
    _valid(validator, epcis_document(stage_events))
    for event in stage_events:
        _valid(validator, single_event(event))
    assert "errorDeclaration" in single_event(stage_events[0])


def test_empty_query_result_validates(validator: Any) -> None:
    _valid(validator, query_document([]))


@pytest.fixture
def gs1_producer(ward: Any, farmer: Any) -> Any:
    producer = make_producer(ward, name="Example Corp", prefix="0614141", user=farmer)
    for n, gtin in enumerate(GS1_EXAMPLE_GTINS):
        make_product(producer, gtin, name=f"Example {n}")
    return producer


def test_gs1_examples_validate_and_round_trip(
    validator: Any, gs1_producer: Any, farmer: Any
) -> None:
    stored: list[Event] = []
    for path in gs1_examples():
        data = load(path)
        _valid(validator, data)  # GS1's own examples pass the checker as configured
        stored += capture_document(document=data, producer=gs1_producer, user=farmer).events
    assert stored
    _valid(validator, query_document(stored))
    document = epcis_document(stored)
    _valid(validator, document)
    for event in stored:
        _valid(validator, single_event(event))
    # what we emit can be captured again: a no-op, as every event is already stored
    again = capture_document(document=document, producer=gs1_producer, user=farmer)
    assert again.duplicates == len(stored)
