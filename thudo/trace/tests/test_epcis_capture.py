"""Capture: GS1's examples, ids and duplicates, permission, corrections, chains, and bad input
refused precisely with nothing stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone, translation

from thudo.trace.epcis import hashing
from thudo.trace.epcis.capture import (
    EpcisValidationError,
    capture_document,
    capture_events,
)
from thudo.trace.epcis.serialize import query_document
from thudo.trace.identifiers import item_uri, location_uri, lot_uri
from thudo.trace.models import Event, EventEpc, EventLink

from .test_epcis_support import *  # noqa: F403 — the shared fixtures
from .test_epcis_support import (
    GS1_EXAMPLE_GTINS,
    GTIN_A,
    GTIN_B,
    GTIN_OTHER,
    document,
    gs1_examples,
    load,
    make_batch,
    make_producer,
    make_product,
    object_event,
    require_epcis_data,
    stamp,
)

pytestmark = pytest.mark.django_db


def _errors(excinfo: Any) -> list[tuple[Any, str]]:
    return [(e["event"], e["field"]) for e in excinfo.value.errors]


def _message(excinfo: Any, field: str) -> str:
    with translation.override("en"):
        return next(str(e["message"]) for e in excinfo.value.errors if e["field"] == field)


@pytest.fixture
def gs1_producer(ward: Any, farmer: Any) -> Any:
    """The producer GS1's examples speak for: company prefix 0614141, plus products for the
    examples' other GTINs (4012345…, 4000001…)."""
    producer = make_producer(ward, name="Example Corp", prefix="0614141", user=farmer)
    for n, gtin in enumerate(GS1_EXAMPLE_GTINS):
        make_product(producer, gtin, name=f"Example {n}")
    return producer


def _examples() -> list[Any]:
    return [pytest.param(p, id=p.name) for p in gs1_examples()] or [pytest.param(None, id="none")]


@pytest.mark.parametrize("path", _examples())
def test_gs1_examples_capture(path: Any, gs1_producer: Any, farmer: Any) -> None:
    require_epcis_data()
    data = load(path)
    result = capture_document(document=data, producer=gs1_producer, user=farmer)
    given = data["epcisBody"]["eventList"]
    assert len(result.events) == len(given) == Event.objects.count()
    for event, original in zip(result.events, given, strict=True):
        assert event.event_id == original["eventID"]  # their id is kept
        assert event.document["type"] == original["type"]
        assert EventEpc.objects.filter(event=event).exists()
    # capturing the same document again is a no-op
    again = capture_document(document=data, producer=gs1_producer, user=farmer)
    assert again.duplicates == len(given)
    assert Event.objects.count() == len(given)


def test_capture_links_batch_chain(coop: Any, farmer: Any, batch_a: Any, farm: Any) -> None:
    doc = document(
        object_event(GTIN_A, "L001", place=farm, minutes_ago=120),
        object_event(GTIN_A, "L001", biz_step="inspecting", action="OBSERVE", place=farm),
    )
    result = capture_document(document=doc, producer=coop, user=farmer)
    first, second = result.events
    assert first.event_id == hashing.event_hash(first.document)
    assert first.document["eventID"] == first.event_id
    assert first.biz_step == "commissioning" and first.read_point == location_uri(code=farm.code)
    assert first.captured_by == farmer and first.capture_id == result.capture_id
    links = list(EventLink.objects.filter(batch=batch_a).order_by("seq"))
    assert [(link.seq, link.event_id) for link in links] == [(1, first.pk), (2, second.pk)]
    assert EventEpc.objects.filter(event=first, role="quantity", gtin=GTIN_A, lot="L001").exists()
    batch_a.refresh_from_db()
    assert batch_a.last_event_at == second.event_time


def test_vocabulary_spellings_are_normalised(coop: Any, farmer: Any, batch_a: Any) -> None:
    events = [
        object_event(GTIN_A, "L001", biz_step="urn:epcglobal:cbv:bizstep:commissioning"),
        object_event(
            GTIN_A,
            "L001",
            action="OBSERVE",
            biz_step="https://ref.gs1.org/cbv/BizStep-inspecting",
            disposition="urn:epcglobal:cbv:disp:in_progress",
        ),
        object_event(
            GTIN_A, "L001", action="OBSERVE", biz_step="https://example.org/steps/washing"
        ),
    ]
    result = capture_events(events=events, producer=coop, user=farmer)
    assert [e.biz_step for e in result.events] == [
        "commissioning",
        "inspecting",
        "https://example.org/steps/washing",
    ]
    assert result.events[1].disposition == "in_progress"
    assert result.events[1].document["bizStep"] == "inspecting"


def test_items_take_their_lot_from_commissioning(coop: Any, farmer: Any, batch_a: Any) -> None:
    commission = object_event(GTIN_A, "L001", ilmd={"cbvmda:lotNumber": "L001"})
    del commission["quantityList"]
    commission["epcList"] = [item_uri(GTIN_A, "0001")]
    ship = object_event(GTIN_A, "L001", action="OBSERVE", biz_step="shipping")
    del ship["quantityList"]
    ship["epcList"] = [item_uri(GTIN_A, "0001")]
    capture_events(events=[commission], producer=coop, user=farmer)
    capture_events(events=[ship], producer=coop, user=farmer)
    assert EventLink.objects.filter(batch=batch_a).count() == 2


def test_thudo_serials_carry_their_lot(coop: Any, farmer: Any, batch_a: Any) -> None:
    pack = object_event(GTIN_A, "L001", action="OBSERVE", biz_step="packing")
    del pack["quantityList"]
    pack["epcList"] = [item_uri(GTIN_A, "L001.1"), item_uri(GTIN_A, "L001.2")]
    event = capture_events(events=[pack], producer=coop, user=farmer).events[0]
    assert EventLink.objects.get(event=event).batch == batch_a
    assert set(EventEpc.objects.filter(event=event).values_list("lot", flat=True)) == {"L001"}


# --- bad input: a precise error and nothing stored ---------------------------------------


def _refused(coop: Any, farmer: Any, *events: dict[str, Any]) -> Any:
    with pytest.raises(EpcisValidationError) as excinfo:
        capture_document(document=document(*events), producer=coop, user=farmer)
    assert Event.objects.count() == 0
    assert EventEpc.objects.count() == 0 and EventLink.objects.count() == 0
    return excinfo


def test_unknown_biz_step(coop: Any, farmer: Any, batch_a: Any) -> None:
    excinfo = _refused(coop, farmer, object_event(GTIN_A, "L001", biz_step="shippping"))
    assert _errors(excinfo) == [(0, "bizStep")]
    assert "business step" in _message(excinfo, "bizStep")


def test_unknown_term_under_a_cbv_uri(coop: Any, farmer: Any, batch_a: Any) -> None:
    bad = object_event(GTIN_A, "L001", disposition="https://ref.gs1.org/cbv/Disp-fresh")
    assert _errors(_refused(coop, farmer, bad)) == [(0, "disposition")]


def test_wrong_gtin_check_digit(coop: Any, farmer: Any, batch_a: Any) -> None:
    bad = object_event(GTIN_A, "L001")
    bad["quantityList"][0]["epcClass"] = lot_uri(GTIN_A[:-1] + "9", "L001")
    excinfo = _refused(coop, farmer, bad)
    assert _errors(excinfo) == [(0, "quantityList[0].epcClass")]
    assert "check digit" in _message(excinfo, "quantityList[0].epcClass")


def test_future_event_time(coop: Any, farmer: Any, batch_a: Any) -> None:
    bad = object_event(GTIN_A, "L001", minutes_ago=-30)
    excinfo = _refused(coop, farmer, bad)
    assert _errors(excinfo) == [(0, "eventTime")]
    assert "future" in _message(excinfo, "eventTime")
    # within 5 minutes of our clock is fine (clocks drift)
    capture_events(
        events=[object_event(GTIN_A, "L001", minutes_ago=-3)], producer=coop, user=farmer
    )


def test_missing_time_zone_and_action(coop: Any, farmer: Any, batch_a: Any) -> None:
    bad = object_event(GTIN_A, "L001")
    del bad["eventTimeZoneOffset"], bad["action"]
    bad["eventTime"] = "2024-05-01T08:30:00"  # no offset either
    assert sorted(_errors(_refused(coop, farmer, bad))) == [
        (0, "action"),
        (0, "eventTime"),
        (0, "eventTimeZoneOffset"),
    ]


def test_quantity_and_uom(coop: Any, farmer: Any, batch_a: Any) -> None:
    bad = object_event(GTIN_A, "L001")
    bad["quantityList"][0].update(quantity="fifty", uom="kg")
    assert _errors(_refused(coop, farmer, bad)) == [
        (0, "quantityList[0].quantity"),
        (0, "quantityList[0].uom"),
    ]


def test_another_producers_batch(coop: Any, farmer: Any, batch_a: Any, ward: Any) -> None:
    other = make_producer(ward, name="Other", prefix="8939999")
    make_batch(make_product(other, GTIN_OTHER), "X1")
    excinfo = _refused(coop, farmer, object_event(GTIN_OTHER, "X1", action="OBSERVE"))
    assert _errors(excinfo) == [(0, "quantityList[0].epcClass")]
    assert GTIN_OTHER in _message(excinfo, "quantityList[0].epcClass")


def test_second_event_bad_stores_nothing(coop: Any, farmer: Any, batch_a: Any) -> None:
    good = object_event(GTIN_A, "L001")
    bad = object_event(GTIN_A, "L001", action="OBSERVE", biz_step="selling")
    assert _errors(_refused(coop, farmer, good, bad)) == [(1, "bizStep")]


def test_repeated_event_in_one_document(coop: Any, farmer: Any, batch_a: Any) -> None:
    event = object_event(GTIN_A, "L001")
    assert _errors(_refused(coop, farmer, event, dict(event))) == [(1, "")]


def test_structure_errors(coop: Any, farmer: Any) -> None:
    for doc, path in (
        ([], "document"),
        ({**document(), "type": "EPCISQueryDocument"}, "type"),
        ({**document(), "epcisBody": {"eventList": {}}}, "epcisBody.eventList"),
        (document(), "epcisBody.eventList"),
        ({k: v for k, v in document().items() if k != "@context"}, "@context"),
    ):
        with pytest.raises(EpcisValidationError) as excinfo:
            capture_document(document=doc, producer=coop, user=farmer)
        assert (None, path) in _errors(excinfo)


def test_event_structure_errors(coop: Any, farmer: Any, batch_a: Any) -> None:
    unknown_field = object_event(GTIN_A, "L001", colour="green")
    unknown_prefix = object_event(GTIN_A, "L001", extensions={"acme:colour": "green"})
    no_type = {**object_event(GTIN_A, "L001"), "type": "PackingEvent"}
    epc_class_in_epc_list = object_event(GTIN_A, "L001", epcList=[lot_uri(GTIN_A, "L001")])
    excinfo = _refused(coop, farmer, unknown_field, unknown_prefix, no_type, epc_class_in_epc_list)
    assert _errors(excinfo) == [
        (0, "colour"),
        (1, "acme:colour"),
        (2, "type"),
        (3, "epcList[0]"),
    ]


def test_supplied_hash_must_be_this_events(coop: Any, farmer: Any, batch_a: Any) -> None:
    bad = object_event(GTIN_A, "L001", eventID="ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0")
    assert _errors(_refused(coop, farmer, bad)) == [(0, "eventID")]


def test_id_taken_by_a_different_event(coop: Any, farmer: Any, batch_a: Any) -> None:
    capture_events(
        events=[object_event(GTIN_A, "L001", eventID="urn:uuid:abc")], producer=coop, user=farmer
    )
    with pytest.raises(EpcisValidationError) as excinfo:
        capture_events(
            events=[object_event(GTIN_A, "L001", minutes_ago=5, eventID="urn:uuid:abc")],
            producer=coop,
            user=farmer,
        )
    assert _errors(excinfo) == [(0, "eventID")]
    assert Event.objects.count() == 1


# --- permission: goods shipped to one of the producer's places ----------------------------


def test_receiving_goods_shipped_to_us(coop: Any, farmer: Any, farm: Any, ward: Any) -> None:
    other = make_producer(ward, name="Seller", prefix="8939999")
    make_batch(make_product(other, GTIN_OTHER), "X1")
    receive = object_event(GTIN_OTHER, "X1", action="OBSERVE", biz_step="receiving", place=farm)
    with pytest.raises(EpcisValidationError):
        capture_events(events=[receive], producer=coop, user=farmer)
    ship = object_event(
        GTIN_OTHER,
        "X1",
        action="OBSERVE",
        biz_step="shipping",
        minutes_ago=90,
        destinationList=[{"type": "location", "destination": location_uri(code=farm.code)}],
    )
    capture_events(events=[ship], producer=other, user=None)
    result = capture_events(events=[receive], producer=coop, user=farmer)
    assert result.events[0].producer == coop
    # received goods still cannot be created (commissioned) by the receiver
    with pytest.raises(EpcisValidationError) as excinfo:
        capture_events(events=[object_event(GTIN_OTHER, "X1")], producer=coop, user=farmer)
    assert _errors(excinfo) == [(0, "quantityList[0].epcClass")]


def test_transformation_of_received_input(coop: Any, farmer: Any, farm: Any, ward: Any) -> None:
    other = make_producer(ward, name="Seller", prefix="8939999")
    input_batch = make_batch(make_product(other, GTIN_OTHER), "X1")
    output_batch = make_batch(make_product(coop, GTIN_B, name="Dưa muối"), "P1")
    ship = object_event(
        GTIN_OTHER,
        "X1",
        action="OBSERVE",
        biz_step="shipping",
        minutes_ago=90,
        destinationList=[{"type": "location", "destination": location_uri(code=farm.code)}],
    )
    capture_events(events=[ship], producer=other, user=None)
    transform = {
        "type": "TransformationEvent",
        "eventTime": stamp(30),
        "eventTimeZoneOffset": "+07:00",
        "inputQuantityList": [
            {"epcClass": lot_uri(GTIN_OTHER, "X1"), "quantity": 10, "uom": "KGM"}
        ],
        "outputQuantityList": [{"epcClass": lot_uri(GTIN_B, "P1"), "quantity": 8, "uom": "KGM"}],
        "bizStep": "commissioning",
        "disposition": "active",
        "thudo:stage": "processing",
    }
    event = capture_events(events=[transform], producer=coop, user=farmer).events[0]
    roles = dict(EventLink.objects.filter(event=event).values_list("batch_id", "role"))
    assert roles == {input_batch.pk: "input", output_batch.pk: "output"}


# --- corrections ----------------------------------------------------------------------------


def test_correction_points_to_the_corrected_event(coop: Any, farmer: Any, batch_a: Any) -> None:
    wrong = capture_events(
        events=[object_event(GTIN_A, "L001", minutes_ago=120)], producer=coop, user=farmer
    ).events[0]
    fixed = capture_events(
        events=[
            object_event(
                GTIN_A,
                "L001",
                minutes_ago=110,
                extensions={"thudo:correctionReason": "incorrect_data"},
            )
        ],
        producer=coop,
        user=farmer,
        corrects=wrong,
    ).events[0]
    assert fixed.corrects == wrong
    assert fixed.document["thudo:corrects"] == wrong.event_id
    wrong.refresh_from_db()
    assert wrong.document == Event.objects.get(pk=wrong.pk).document  # unchanged
    served = query_document([wrong, fixed])["epcisBody"]["queryResults"]["resultsBody"]
    declaration = served["eventList"][0]["errorDeclaration"]
    assert declaration["correctiveEventIDs"] == [fixed.event_id]
    assert declaration["reason"] == "incorrect_data"
    assert "errorDeclaration" not in served["eventList"][1]


def test_correction_of_another_producers_event(coop: Any, farmer: Any, ward: Any) -> None:
    other = make_producer(ward, name="Other", prefix="8939999")
    make_batch(make_product(other, GTIN_OTHER), "X1")
    theirs = capture_events(
        events=[object_event(GTIN_OTHER, "X1")], producer=other, user=None
    ).events[0]
    make_batch(make_product(coop, GTIN_A), "L001")
    with pytest.raises(EpcisValidationError) as excinfo:
        capture_events(
            events=[object_event(GTIN_A, "L001")], producer=coop, user=farmer, corrects=theirs
        )
    assert _errors(excinfo) == [(0, "thudo:corrects")]
    assert timezone.now() - theirs.record_time < timedelta(minutes=1)
