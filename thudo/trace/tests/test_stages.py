"""The stage forms: each stage builds an EPCIS 2.0 event that the EPCIS core captures and the
batch page shows; processing links its inputs and output; shipping, receiving and selling
across two producers; permissions; corrections; the events validate against GS1's schema."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from thudo.trace import identifiers, selectors, services, stages
from thudo.trace.models import Batch, Event, EventLink
from thudo.trace.stages import Stage

from . import test_producers_factories as factories

tr = factories.tr
media_root = factories.media_root

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def _en(client: Any, user: Any) -> Any:
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _now_field(delta: timedelta = timedelta(0)) -> str:
    return timezone.localtime(timezone.now() - timedelta(minutes=1) + delta, stages.TZ).strftime(
        "%Y-%m-%dT%H:%M"
    )


def _links(batch: Batch) -> list[EventLink]:
    return list(EventLink.objects.filter(batch=batch).select_related("event").order_by("seq"))


def _ship(tr: Any, *, quantity: str = "100") -> Event:
    recorded = stages.stage_record(
        stage=Stage.SHIPPING,
        batch=tr.batch,
        producer=tr.coop,
        user=tr.owner,
        values={"place": tr.warehouse, "destination": tr.shop, "quantity": quantity, "uom": "KGM"},
    )
    return recorded.events[0]


# --- the events ------------------------------------------------------------------------------


def test_mapping_covers_every_stage_with_cbv_terms() -> None:
    from thudo.trace.epcis.vocab import BIZ_STEPS, DISPOSITIONS

    assert set(stages.MAPPING) == set(Stage.values)
    for _type, _action, biz_step, disposition in stages.MAPPING.values():
        assert biz_step in BIZ_STEPS
        assert disposition in DISPOSITIONS


def test_planting_event_is_epcis_json_ld(tr: Any) -> None:
    event = stages.planting_event(tr.batch, place=tr.farm, variety="Cải ngọt F1", area="2 sào")
    assert event["@context"][0] == stages.EPCIS_CONTEXT
    assert event["@context"][1] == {"thudo": "https://thudo.hanoi.gov.vn/epcis/"}
    assert event["type"] == "ObjectEvent" and event["action"] == "ADD"
    assert event["bizStep"] == "commissioning" and event["disposition"] == "active"
    assert event["eventTimeZoneOffset"] == "+07:00"
    assert event["eventTime"].endswith("+07:00")
    assert event["quantityList"] == [{"epcClass": identifiers.lot_uri(tr.product.gtin, "VD2401")}]
    assert event["readPoint"] == {"id": f"urn:thudo:loc:{tr.farm.code}"}
    assert event["thudo:stage"] == "planting"
    assert event["ilmd"]["cbvmda:lotNumber"] == "VD2401"
    assert event["ilmd"]["thudo:variety"] == "Cải ngọt F1"


def test_every_stage_event_validates_against_gs1_schema(tr: Any) -> None:
    from .test_epcis_support import epcis_data_dir

    schema_file = epcis_data_dir() / "EPCIS-JSON-Schema.json"
    if not schema_file.exists():
        from thudo.core.testing import _missing

        _missing(f"GS1's EPCIS schema is not at {schema_file}")
    import jsonschema

    schema = json.loads(schema_file.read_text())
    other = services.batch_register(
        product=tr.product, actor=tr.owner, lot="VD2402", produced_on=timezone.localdate()
    )
    events = [
        stages.planting_event(tr.batch, place=tr.farm, variety="F1"),
        stages.input_event(
            Stage.SPRAYING, tr.batch, place=tr.farm, input_name="X", dose="1 ml", pre_harvest_days=7
        ),
        stages.harvesting_event(tr.batch, place=tr.farm, quantity="120.5", uom="KGM"),
        stages.processing_event(
            inputs=[(tr.batch, 100, "KGM")], output=other, output_quantity=80, place=tr.plant
        ),
        stages.packing_event(tr.batch, place=tr.plant, quantity=10, sscc="389300000000000010"),
        stages.packing_event(tr.batch, place=tr.plant, quantity=10),
        stages.shipping_event(
            tr.batch, producer=tr.coop, place=tr.warehouse, destination=tr.shop, quantity=5
        ),
        stages.selling_event(tr.batch, place=tr.shop, quantity=1),
    ]
    document = {
        "@context": stages.CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": stages.event_time(None),
        "epcisBody": {"eventList": events},
    }
    jsonschema.validate(document, schema)


def test_each_stage_form_records_an_event_the_batch_page_shows(client: Any, tr: Any) -> None:
    _en(client, tr.owner)
    posts = {
        Stage.PLANTING: {"place": tr.farm.pk, "variety": "Cải ngọt F1", "area": "2 sào"},
        Stage.FERTILISING: {
            "place": tr.farm.pk,
            "input_name": "Phân hữu cơ vi sinh",
            "dose": "20 kg/sào",
        },
        Stage.SPRAYING: {
            "place": tr.farm.pk,
            "input_name": "Chế phẩm sinh học",
            "dose": "10 ml/bình",
            "pre_harvest_days": "7",
        },
        Stage.HARVESTING: {"place": tr.farm.pk, "quantity": "480", "uom": "KGM"},
        Stage.PACKING: {
            "place": tr.plant.pk,
            "quantity": "400",
            "uom": "KGM",
            "packaging": "túi 500 g",
        },
        Stage.SHIPPING: {
            "place": tr.warehouse.pk,
            "destination": tr.shop.code,
            "quantity": "100",
            "uom": "KGM",
            "delivery_note": "PX-01",
        },
    }
    for stage, values in posts.items():
        url = reverse("trace:stage", args=[tr.batch.pk, stage])
        assert client.get(url).status_code == 200
        response = client.post(url, {"when": _now_field(), "note": f"ghi chú {stage}", **values})
        assert response.status_code == 302, (stage, response.content.decode()[:3000])
    links = _links(tr.batch)
    assert [selectors.event_stage(link.event) for link in links] == list(posts)
    by_stage = {selectors.event_stage(link.event): link.event for link in links}
    assert by_stage["planting"].biz_step == "commissioning"
    assert by_stage["harvesting"].biz_step == "creating_class_instance"
    assert by_stage["spraying"].document["thudo:input"] == "Chế phẩm sinh học"
    assert by_stage["spraying"].document["thudo:preHarvestDays"] == 7
    shipping = by_stage["shipping"]
    assert shipping.disposition == "in_transit"
    assert shipping.document["destinationList"] == [
        {"type": "owning_party", "destination": f"urn:thudo:party:{tr.shop_producer.pk}"},
        {"type": "location", "destination": f"urn:thudo:loc:{tr.shop.code}"},
    ]
    page = client.get(reverse("trace:batch", args=[tr.batch.pk])).content.decode()
    for label in ("Planting", "Fertilising", "Spraying", "Harvesting", "Packing", "Shipping"):
        assert label in page
    assert "Phân hữu cơ vi sinh" in page and "20 kg/sào" in page
    assert identifiers.digital_link(tr.product.gtin, "VD2401") in page
    assert "Quầy rau Hàng Bè" in page  # the destination


def test_receiving_and_selling_by_the_shop_the_batch_was_shipped_to(client: Any, tr: Any) -> None:
    _ship(tr)
    _en(client, tr.seller)
    # The shop sees the incoming shipment and may open the batch.
    home = client.get(reverse("trace:home")).content.decode()
    assert "Goods shipped to you" in home and "VD2401" in home
    assert client.get(reverse("trace:batch", args=[tr.batch.pk])).status_code == 200
    url = reverse("trace:stage", args=[tr.batch.pk, Stage.RECEIVING])
    form = client.get(url)
    assert form.status_code == 200
    assert (
        client.post(
            url,
            {
                "when": _now_field(),
                "place": tr.shop.pk,
                "quantity": "100",
                "uom": "KGM",
                "shipment": _links(tr.batch)[-1].event.pk,
            },
        ).status_code
        == 302
    )
    url = reverse("trace:stage", args=[tr.batch.pk, Stage.SELLING])
    assert (
        client.post(
            url, {"when": _now_field(), "place": tr.shop.pk, "quantity": "2.5", "uom": "KGM"}
        ).status_code
        == 302
    )
    events = [link.event for link in _links(tr.batch)]
    assert [e.biz_step for e in events] == ["shipping", "receiving", "retail_selling"]
    receiving, selling = events[1], events[2]
    assert receiving.producer == tr.shop_producer
    assert receiving.disposition == "in_progress"
    assert receiving.document["sourceList"][0]["source"] == f"urn:thudo:party:{tr.coop.pk}"
    assert selling.disposition == "retail_sold"
    assert selling.document["quantityList"][0]["quantity"] == 2.5
    # The shop may not record the producer's own steps (planting, shipping…).
    denied = client.get(reverse("trace:stage", args=[tr.batch.pk, Stage.PLANTING]))
    assert denied.status_code == 403


def test_a_batch_not_shipped_to_you_is_hidden_and_refused(client: Any, tr: Any) -> None:
    _en(client, tr.seller)
    assert client.get(reverse("trace:batch", args=[tr.batch.pk])).status_code == 404
    url = reverse("trace:stage", args=[tr.batch.pk, Stage.RECEIVING])
    assert client.get(url).status_code == 404
    with pytest.raises(services.PermissionDenied):
        stages.stage_record(
            stage=Stage.RECEIVING,
            batch=tr.batch,
            producer=tr.shop_producer,
            user=tr.seller,
            values={"place": tr.shop, "quantity": 1, "uom": "KGM"},
        )
    assert not Event.objects.exists()


def test_member_of_a_cannot_record_for_b(tr: Any) -> None:
    """A producer's member cannot record for another producer, nor name its batch."""
    with pytest.raises(services.PermissionDenied):
        stages.stage_record(
            stage=Stage.HARVESTING,
            batch=tr.batch,
            producer=tr.shop_producer,
            user=tr.owner,  # not a member of the shop
            values={"place": tr.shop, "quantity": 1},
        )
    with pytest.raises(services.PermissionDenied):
        stages.stage_record(
            stage=Stage.HARVESTING,
            batch=tr.batch,
            producer=tr.shop_producer,
            user=tr.seller,  # the shop's member, but the batch is the cooperative's
            values={"place": tr.shop, "quantity": 1},
        )
    # Even past the form, the EPCIS core refuses another producer's goods.
    from thudo.trace.epcis.capture import EpcisValidationError, capture_events

    event = stages.harvesting_event(tr.batch, place=tr.shop, quantity=1)
    with pytest.raises(EpcisValidationError):
        capture_events(events=[event], producer=tr.shop_producer, user=tr.seller)
    assert not Event.objects.exists()


def test_processing_links_inputs_to_a_new_output_batch(client: Any, tr: Any) -> None:
    second = services.batch_register(
        product=tr.product, actor=tr.owner, lot="VD2402", produced_on=timezone.localdate()
    )
    juice = factories.register_product(
        tr.coop, tr.owner, 3, name="Rau sấy khô", shelf_life_days=180
    )
    _en(client, tr.owner)
    url = reverse("trace:stage", args=[tr.batch.pk, Stage.PROCESSING])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "when": _now_field(),
            "place": tr.plant.pk,
            "input_quantity": "100",
            "input_uom": "KGM",
            "input2_batch": second.pk,
            "input2_quantity": "50",
            "input2_uom": "KGM",
            "process": "sấy lạnh",
            "output_product": juice.pk,
            "output_lot": "SK2401",
            "output_quantity": "15",
            "output_uom": "KGM",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    output = Batch.objects.get(product=juice, lot="SK2401")
    assert output.expires_on == output.produced_on + timedelta(days=180)
    event = Event.objects.get(event_type="TransformationEvent")
    assert [q["epcClass"] for q in event.document["inputQuantityList"]] == [
        identifiers.lot_uri(tr.product.gtin, "VD2401"),
        identifiers.lot_uri(tr.product.gtin, "VD2402"),
    ]
    assert event.document["outputQuantityList"] == [
        {"epcClass": identifiers.lot_uri(juice.gtin, "SK2401"), "quantity": 15, "uom": "KGM"}
    ]
    roles = {(link.batch_id, link.role) for link in event.links.all()}
    assert roles == {(tr.batch.pk, "input"), (second.pk, "input"), (output.pk, "output")}
    page = client.get(reverse("trace:batch", args=[output.pk])).content.decode()
    assert "Made from" in page and "VD2401" in page and "VD2402" in page
    page = client.get(reverse("trace:batch", args=[tr.batch.pk])).content.decode()
    assert "Made into" in page and "SK2401" in page


def test_processing_failure_leaves_no_output_batch(tr: Any) -> None:
    juice = factories.register_product(tr.coop, tr.owner, 3, name="Rau sấy khô")
    with pytest.raises(services.ValidationFailed) as caught:
        stages.stage_record(
            stage=Stage.PROCESSING,
            batch=tr.batch,
            producer=tr.coop,
            user=tr.owner,
            values={
                "place": tr.plant,
                "when": timezone.now() + timedelta(hours=2),  # in the future
                "inputs": [(tr.batch, 10, "KGM")],
                "output_product": juice,
                "output_lot": "SK1",
                "output_quantity": 5,
            },
        )
    assert "when" in caught.value.fields
    assert not Batch.objects.filter(lot="SK1").exists()
    assert not Event.objects.exists()


def test_stage_form_shows_field_errors(client: Any, tr: Any) -> None:
    _en(client, tr.owner)
    url = reverse("trace:stage", args=[tr.batch.pk, Stage.SHIPPING])
    response = client.post(
        url,
        {
            "when": _now_field(timedelta(days=2)),
            "place": tr.warehouse.pk,
            "destination": "HN-NOWHERE-1",
            "quantity": "0",
            "uom": "KGM",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "No place has this location code or GLN." in page
    assert not Event.objects.exists()
    response = client.post(
        url,
        {
            "when": _now_field(timedelta(days=2)),
            "place": tr.warehouse.pk,
            "destination": tr.shop.code,
            "quantity": "3",
            "uom": "KGM",
        },
    )
    assert response.status_code == 400
    assert "The time cannot be in the future." in response.content.decode()
    assert not Event.objects.exists()


def test_epcis_core_errors_are_shown_on_the_form(client: Any, tr: Any, monkeypatch: Any) -> None:
    """The EPCIS core's precise errors (which field, why) come back on the form."""
    from thudo.trace.epcis.capture import EpcisValidationError

    def refuse(**_kwargs: Any) -> Any:
        raise EpcisValidationError(
            [{"event": 0, "field": "eventTime", "message": "is more than 5 minutes in the future."}]
        )

    monkeypatch.setattr(stages, "_capture", refuse)
    _en(client, tr.owner)
    url = reverse("trace:stage", args=[tr.batch.pk, Stage.HARVESTING])
    response = client.post(
        url, {"when": _now_field(), "place": tr.farm.pk, "quantity": "3", "uom": "KGM"}
    )
    assert response.status_code == 400
    assert "is more than 5 minutes in the future." in response.content.decode()


def test_packing_into_an_sscc_is_an_aggregation(tr: Any) -> None:
    recorded = stages.stage_record(
        stage=Stage.PACKING,
        batch=tr.batch,
        producer=tr.coop,
        user=tr.owner,
        values={"place": tr.plant, "quantity": 20, "uom": "KGM", "sscc": "389300000000000010"},
    )
    event = recorded.events[0]
    assert event.event_type == "AggregationEvent" and event.action == "ADD"
    assert event.document["parentID"] == "https://id.gs1.org/00/389300000000000010"
    assert event.document["childQuantityList"][0]["quantity"] == 20
    with pytest.raises(services.ValidationFailed) as caught:
        stages.stage_record(
            stage=Stage.PACKING,
            batch=tr.batch,
            producer=tr.coop,
            user=tr.owner,
            values={"quantity": 20, "sscc": "389300000000000016"},  # wrong check digit
        )
    assert "sscc" in caught.value.fields


def test_packing_into_a_parent_batch_links_child_and_parent(tr: Any) -> None:
    cartons = factories.register_product(tr.coop, tr.owner, 4, name="Thùng rau 10 kg")
    parent = services.batch_register(
        product=cartons, actor=tr.owner, lot="TH01", produced_on=timezone.localdate()
    )
    recorded = stages.stage_record(
        stage=Stage.PACKING,
        batch=tr.batch,
        producer=tr.coop,
        user=tr.owner,
        values={"place": tr.plant, "quantity": 50, "parent": parent},
    )
    roles = {(link.batch_id, link.role) for link in recorded.events[0].links.all()}
    assert roles == {(tr.batch.pk, "child"), (parent.pk, "parent")}


def test_serialised_batch_lists_its_items_when_packed(tr: Any) -> None:
    batch = services.batch_register(
        product=tr.product,
        actor=tr.owner,
        lot="S1",
        produced_on=timezone.localdate(),
        serial_count=3,
    )
    recorded = stages.stage_record(
        stage=Stage.PACKING,
        batch=batch,
        producer=tr.coop,
        user=tr.owner,
        values={"quantity": 3, "uom": "H87"},
    )
    document = recorded.events[0].document
    assert document["epcList"] == [
        identifiers.item_uri(tr.product.gtin, f"S1.{n}") for n in (1, 2, 3)
    ]
    assert _links(batch)[0].event == recorded.events[0]


def test_correction_records_a_new_event_pointing_to_the_old(client: Any, tr: Any) -> None:
    harvest = stages.stage_record(
        stage=Stage.HARVESTING,
        batch=tr.batch,
        producer=tr.coop,
        user=tr.owner,
        values={"place": tr.farm, "quantity": 480, "uom": "KGM"},
    ).events[0]
    original_document = json.dumps(harvest.document, sort_keys=True)
    _en(client, tr.owner)
    page = client.get(reverse("trace:batch", args=[tr.batch.pk])).content.decode()
    url = reverse("trace:correct", args=[tr.batch.pk, harvest.pk])
    assert url in page
    assert client.get(url).status_code == 200
    form = client.post(url, {"quantity": "450", "reason": ""})
    assert form.status_code == 400  # the reason is required
    response = client.post(url, {"quantity": "450", "place": tr.farm.pk, "reason": "Cân nhầm"})
    assert response.status_code == 302, response.content.decode()[:3000]
    harvest.refresh_from_db()
    assert json.dumps(harvest.document, sort_keys=True) == original_document  # unchanged
    correction = Event.objects.get(corrects=harvest)
    assert correction.document["quantityList"][0]["quantity"] == 450
    assert correction.document["thudo:correctionNote"] == "Cân nhầm"
    assert correction.document["thudo:corrects"] == harvest.event_id
    page = client.get(reverse("trace:batch", args=[tr.batch.pk])).content.decode()
    assert "Corrected later" in page and "Correction" in page and "Cân nhầm" in page
    # The corrected event cannot be corrected twice; another producer cannot correct it.
    assert client.post(url, {"quantity": "440", "reason": "again"}).status_code == 400
    with pytest.raises(services.PermissionDenied):
        stages.correction_record(
            event=correction, batch=tr.batch, producer=tr.shop_producer, user=tr.seller, reason="x"
        )
