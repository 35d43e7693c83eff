"""The stages a small producer records, as GS1 EPCIS 2.0 JSON-LD events.

Each stage form gives a few values; `stage_record` checks them, builds the event with
`build_event` and hands it to the EPCIS core (`epcis.capture.capture_events`), which validates
it, gives it its canonical hash as id, stores it and links it into every named batch's chain.
Nothing here writes an event itself.

How the stages map to EPCIS 2.0 and CBV 2.0 (every event also carries ``"thudo:stage"``):

=========== ==================== ======= ======================= ============
stage       event type           action  bizStep                 disposition
=========== ==================== ======= ======================= ============
planting    ObjectEvent          ADD     commissioning           active
fertilising ObjectEvent          OBSERVE other                   active
spraying    ObjectEvent          OBSERVE other                   active
harvesting  ObjectEvent          ADD     creating_class_instance active
processing  TransformationEvent  —       commissioning           active
packing     AggregationEvent     ADD     packing                 in_progress
            (into a parent), else ObjectEvent OBSERVE
shipping    ObjectEvent          OBSERVE shipping                in_transit
receiving   ObjectEvent          OBSERVE receiving               in_progress
selling     ObjectEvent          OBSERVE retail_selling          retail_sold
=========== ==================== ======= ======================= ============

What each carries besides the batch (its lot as epcClass in the quantity list):

- planting: the lot without a quantity yet; readPoint/bizLocation the farm; ilmd
  ``cbvmda:lotNumber``, ``cbvmda:countryOfOrigin`` "VN", ``thudo:variety``, ``thudo:area``,
  ``thudo:seedSource``. CBV has no planting step: commissioning is the lot coming into being.
- fertilising / spraying: ``thudo:input`` (the product used), ``thudo:dose`` and, for a plant
  protection product, ``thudo:preHarvestDays``. CBV has no treatment step, hence "other".
- harvesting: the quantity harvested ("an increased quantity of a class-level identifier is
  produced", CBV's creating_class_instance); ilmd ``cbvmda:itemExpirationDate``,
  ``thudo:harvestedOn``.
- processing: inputQuantityList (input lots, the producer's own or shipped to it) →
  outputQuantityList (the output lot, existing or registered in the same transaction); ilmd of
  the output; ``thudo:process``.
- packing: into a parent — an SSCC-labelled carton or pallet (parentID
  ``https://id.gs1.org/00/<sscc>``) or a parent batch (its lot URI) — childQuantityList (+
  childEPCs for serialised items); without a parent quantityList (+ epcList); ``thudo:packaging``.
- shipping: readPoint the ship-from place and no bizLocation (the goods are in transit);
  sourceList and destinationList with the owning_party and the location of both sides;
  ``thudo:deliveryNote``.
- receiving: the receiver's place; sourceList copied from the shipping event, destinationList
  the receiver.
- selling: the shop, the quantity sold.

Identifiers: a batch is the class ``https://id.gs1.org/01/<gtin>/10/<lot>`` (identifiers.lot_uri)
in quantity lists; items of serialised batches are ``…/01/<gtin>/21/<lot>.<n>``
(services.batch_serials, identifiers.item_uri), listed (up to MAX_ITEMS_LISTED) where the items
themselves are handled (packing). Places are identifiers.location_uri (their GLN as
``…/414/<gln>``, else ``urn:thudo:loc:<code>``); producers as parties are ``…/417/<gln>`` or
``urn:thudo:party:<id>`` (selectors.party_uri). Times carry eventTimeZoneOffset "+07:00".

A correction (`correction_record`) copies the corrected event, changes the time, quantity,
place or note, adds ``"thudo:correctionReason": "incorrect_data"`` (the CBV error reason) and
``thudo:correctionNote`` (what was wrong, in the producer's words) and is captured with
``corrects=`` the original: the EPCIS core adds ``thudo:corrects`` and records it as a new event
pointing to the one it corrects (events are never changed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from biip import ParseError
from biip.sscc import Sscc
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import PermissionDenied, ValidationFailed

from . import identifiers, selectors, services
from .models import Batch, Event, Place, Producer, Product

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
THUDO_NS = "https://thudo.hanoi.gov.vn/epcis/"
CONTEXT: list[Any] = [EPCIS_CONTEXT, {"thudo": THUDO_NS}]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TZ_OFFSET = "+07:00"
MAX_ITEMS_LISTED = 1000
FUTURE_SLACK = timedelta(minutes=5)


class Stage(models.TextChoices):
    PLANTING = "planting", _("Planting")
    FERTILISING = "fertilising", _("Fertilising")
    SPRAYING = "spraying", _("Spraying")
    HARVESTING = "harvesting", _("Harvesting")
    PROCESSING = "processing", _("Processing")
    PACKING = "packing", _("Packing")
    SHIPPING = "shipping", _("Shipping")
    RECEIVING = "receiving", _("Receiving")
    SELLING = "selling", _("Selling")


# (event type, action, bizStep, disposition) of each stage; packing with a parent is an
# AggregationEvent ADD (see `packing_event`).
MAPPING: dict[str, tuple[str, str, str, str]] = {
    Stage.PLANTING: ("ObjectEvent", "ADD", "commissioning", "active"),
    Stage.FERTILISING: ("ObjectEvent", "OBSERVE", "other", "active"),
    Stage.SPRAYING: ("ObjectEvent", "OBSERVE", "other", "active"),
    Stage.HARVESTING: ("ObjectEvent", "ADD", "creating_class_instance", "active"),
    Stage.PROCESSING: ("TransformationEvent", "", "commissioning", "active"),
    Stage.PACKING: ("ObjectEvent", "OBSERVE", "packing", "in_progress"),
    Stage.SHIPPING: ("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
    Stage.RECEIVING: ("ObjectEvent", "OBSERVE", "receiving", "in_progress"),
    Stage.SELLING: ("ObjectEvent", "OBSERVE", "retail_selling", "retail_sold"),
}

# Stages a producer records for goods another producer shipped to it.
RECEIVER_STAGES = {Stage.RECEIVING, Stage.SELLING, Stage.PROCESSING}
# Stages that need an own place as where it happened.
PLACE_KINDS: dict[str, tuple[str, ...]] = {
    Stage.PLANTING: (Place.Kind.FARM,),
    Stage.FERTILISING: (Place.Kind.FARM,),
    Stage.SPRAYING: (Place.Kind.FARM,),
    Stage.HARVESTING: (Place.Kind.FARM,),
    Stage.SELLING: (Place.Kind.SHOP,),
}

MSG_REQUIRED = _("This field is required.")
MSG_FUTURE = _("The time cannot be in the future.")
MSG_TOO_OLD = _("The time cannot be before the batch's production date minus a year.")
MSG_PLACE = _("Choose one of your places.")
MSG_QUANTITY = _("Enter a quantity greater than zero.")
MSG_UNIT = _("Choose a unit.")
MSG_NOT_YOURS = _("Only the producer of this batch may record this step.")
MSG_NOT_SHIPPED = _(
    "This batch was not shipped to one of your places: only its producer may record it."
)
MSG_DESTINATION = _("No place has this location code or GLN.")
MSG_DESTINATION_SAME = _("Choose a place other than where the goods leave from.")
MSG_SSCC = _("An SSCC has 18 digits and a correct check digit.")
MSG_PARENT_BOTH = _("Give either an SSCC or a parent batch, not both.")
MSG_PARENT_BATCH = _("Choose one of your batches as the parent, other than this one.")
MSG_INPUTS = _("Choose at least one input batch.")
MSG_INPUT_BATCH = _("Choose one of your batches or a batch shipped to you.")
MSG_INPUT_SAME = _("The output batch cannot also be an input.")
MSG_OUTPUT = _("Choose an output batch, or give the product and lot of a new one.")
MSG_OUTPUT_BATCH = _("Choose one of your batches.")
MSG_SHIPMENT = _("Choose a shipment sent to one of your places.")
MSG_STAGE = _("Unknown stage.")
MSG_REASON = _("Say what was wrong.")
MSG_CORRECT_OWN = _("Only the producer that recorded an event may correct it.")
MSG_CORRECTED = _("This event has already been corrected: correct the latest correction.")


@dataclass(frozen=True)
class Recorded:
    """What a stage form recorded: the captured events (and a batch it created)."""

    events: list[Event]
    capture_id: str = ""
    batch: Batch | None = None


# --- small builders ----------------------------------------------------------------------------


def event_time(moment: datetime | None) -> str:
    """An EPCIS eventTime in Vietnam's time with its offset: 2026-05-01T08:30:00.000+07:00."""
    moment = moment or timezone.now()
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, TZ)
    return moment.astimezone(TZ).isoformat(timespec="milliseconds")


def number(value: Any) -> int | float:
    """A quantity as a JSON number (an integer when it is whole)."""
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return int(amount)
    return float(round(amount, 3))


def place_uri(place: Place) -> str:
    return identifiers.location_uri(gln=place.gln, code=place.code)


def batch_class(batch: Batch) -> str:
    return identifiers.lot_uri(batch.product.gtin, batch.lot)


def quantity_element(batch: Batch, quantity: Any = None, uom: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": batch_class(batch)}
    if quantity not in (None, ""):
        element["quantity"] = number(quantity)
        uom = uom or batch.unit
        if uom:
            element["uom"] = uom
    return element


def item_uris(batch: Batch) -> list[str]:
    if not batch.serial_count or batch.serial_count > MAX_ITEMS_LISTED:
        return []
    return [identifiers.item_uri(batch.product.gtin, s) for s in services.batch_serials(batch)]


def _base(
    stage: str, *, moment: datetime | None, event_type: str = "", action: str = ""
) -> dict[str, Any]:
    mapped_type, mapped_action, biz_step, disposition = MAPPING[stage]
    event: dict[str, Any] = {
        "@context": copy.deepcopy(CONTEXT),
        "type": event_type or mapped_type,
        "eventTime": event_time(moment),
        "eventTimeZoneOffset": TZ_OFFSET,
    }
    if (action or mapped_action) and (event_type or mapped_type) != "TransformationEvent":
        event["action"] = action or mapped_action
    event["bizStep"] = biz_step
    event["disposition"] = disposition
    return event


def _where(event: dict[str, Any], place: Place | None, *, location: bool = True) -> None:
    if place is None:
        return
    event["readPoint"] = {"id": place_uri(place)}
    if location:
        event["bizLocation"] = {"id": place_uri(place)}


def _extras(event: dict[str, Any], stage: str, **values: Any) -> dict[str, Any]:
    event["thudo:stage"] = str(stage)
    for key, value in values.items():
        if value not in (None, "", [], {}):
            event[f"thudo:{key}"] = value
    return event


def _lot_ilmd(batch: Batch, **extra: Any) -> dict[str, Any]:
    ilmd: dict[str, Any] = {"cbvmda:lotNumber": batch.lot, "cbvmda:countryOfOrigin": "VN"}
    if batch.expires_on:
        ilmd["cbvmda:itemExpirationDate"] = batch.expires_on.isoformat()
    for key, value in extra.items():
        if value not in (None, ""):
            ilmd[f"thudo:{key}"] = value
    return ilmd


# --- the events of each stage ------------------------------------------------------------------


def planting_event(
    batch: Batch,
    *,
    place: Place | None,
    when: datetime | None = None,
    variety: str = "",
    area: str = "",
    seed_source: str = "",
    note: str = "",
) -> dict[str, Any]:
    event = _base(Stage.PLANTING, moment=when)
    event["quantityList"] = [quantity_element(batch)]
    _where(event, place)
    event["ilmd"] = _lot_ilmd(batch, variety=variety, area=area, seedSource=seed_source)
    return _extras(event, Stage.PLANTING, note=note)


def input_event(
    stage: str,
    batch: Batch,
    *,
    place: Place | None,
    when: datetime | None = None,
    input_name: str,
    dose: str,
    pre_harvest_days: int | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Fertilising or spraying: which input, at which dose (and the days to wait before
    harvest for a plant protection product)."""
    event = _base(stage, moment=when)
    event["quantityList"] = [quantity_element(batch)]
    _where(event, place)
    return _extras(
        event, stage, input=input_name, dose=dose, preHarvestDays=pre_harvest_days, note=note
    )


def harvesting_event(
    batch: Batch,
    *,
    place: Place | None,
    quantity: Any,
    uom: str = "",
    when: datetime | None = None,
    note: str = "",
) -> dict[str, Any]:
    event = _base(Stage.HARVESTING, moment=when)
    event["quantityList"] = [quantity_element(batch, quantity, uom)]
    _where(event, place)
    harvested = timezone.localtime(timezone.now() if when is None else when, TZ).date()
    event["ilmd"] = _lot_ilmd(batch, harvestedOn=harvested.isoformat())
    return _extras(event, Stage.HARVESTING, note=note)


def processing_event(
    *,
    inputs: list[tuple[Batch, Any, str]],
    output: Batch,
    output_quantity: Any,
    output_uom: str = "",
    place: Place | None,
    when: datetime | None = None,
    process: str = "",
    note: str = "",
) -> dict[str, Any]:
    event = _base(Stage.PROCESSING, moment=when)
    event["inputQuantityList"] = [quantity_element(b, q, u) for b, q, u in inputs]
    event["outputQuantityList"] = [quantity_element(output, output_quantity, output_uom)]
    _where(event, place)
    event["ilmd"] = _lot_ilmd(output, process=process)
    return _extras(event, Stage.PROCESSING, note=note)


def sscc_uri(sscc: str) -> str:
    return f"{identifiers.GS1_RESOLVER}/00/{sscc}"


def packing_event(
    batch: Batch,
    *,
    place: Place | None,
    quantity: Any,
    uom: str = "",
    when: datetime | None = None,
    sscc: str = "",
    parent: Batch | None = None,
    packaging: str = "",
    note: str = "",
) -> dict[str, Any]:
    """Packed into a parent (an SSCC-labelled pallet or case, or a parent batch): an
    AggregationEvent ADD; else an ObjectEvent OBSERVE. Serialised items are listed."""
    items = item_uris(batch)
    if sscc or parent is not None:
        event = _base(Stage.PACKING, moment=when, event_type="AggregationEvent", action="ADD")
        event["parentID"] = sscc_uri(sscc) if sscc else batch_class(parent)  # type: ignore[arg-type]
        if items:
            event["childEPCs"] = items
        event["childQuantityList"] = [quantity_element(batch, quantity, uom)]
    else:
        event = _base(Stage.PACKING, moment=when)
        if items:
            event["epcList"] = items
        event["quantityList"] = [quantity_element(batch, quantity, uom)]
    _where(event, place)
    return _extras(event, Stage.PACKING, packaging=packaging, note=note)


def shipping_event(
    batch: Batch,
    *,
    producer: Producer,
    place: Place,
    destination: Place,
    quantity: Any,
    uom: str = "",
    when: datetime | None = None,
    delivery_note: str = "",
    note: str = "",
) -> dict[str, Any]:
    event = _base(Stage.SHIPPING, moment=when)
    event["quantityList"] = [quantity_element(batch, quantity, uom)]
    _where(event, place, location=False)  # in transit: no business location
    event["sourceList"] = [
        {"type": "owning_party", "source": selectors.party_uri(producer)},
        {"type": "location", "source": place_uri(place)},
    ]
    event["destinationList"] = [
        {"type": "owning_party", "destination": selectors.party_uri(destination.producer)},
        {"type": "location", "destination": place_uri(destination)},
    ]
    return _extras(event, Stage.SHIPPING, deliveryNote=delivery_note, note=note)


def receiving_event(
    batch: Batch,
    *,
    producer: Producer,
    place: Place,
    quantity: Any,
    uom: str = "",
    shipment: Event | None = None,
    when: datetime | None = None,
    note: str = "",
) -> dict[str, Any]:
    event = _base(Stage.RECEIVING, moment=when)
    event["quantityList"] = [quantity_element(batch, quantity, uom)]
    _where(event, place)
    if shipment is not None and shipment.document.get("sourceList"):
        event["sourceList"] = copy.deepcopy(shipment.document["sourceList"])
    event["destinationList"] = [
        {"type": "owning_party", "destination": selectors.party_uri(producer)},
        {"type": "location", "destination": place_uri(place)},
    ]
    return _extras(event, Stage.RECEIVING, note=note)


def selling_event(
    batch: Batch,
    *,
    place: Place,
    quantity: Any,
    uom: str = "",
    when: datetime | None = None,
    note: str = "",
) -> dict[str, Any]:
    event = _base(Stage.SELLING, moment=when)
    event["quantityList"] = [quantity_element(batch, quantity, uom)]
    _where(event, place)
    return _extras(event, Stage.SELLING, note=note)


# --- checks ------------------------------------------------------------------------------------


def _clean(value: Any) -> str:
    return str(value or "").strip()


def _check_time(errors: dict[str, Any], when: datetime | None, batch: Batch) -> datetime:
    moment = when or timezone.now()
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, TZ)
    if moment > timezone.now() + FUTURE_SLACK:
        errors["when"] = MSG_FUTURE
    elif moment.date() < batch.produced_on - timedelta(days=366):
        errors["when"] = MSG_TOO_OLD
    return moment


def _check_place(
    errors: dict[str, Any], place: Place | None, producer: Producer, *, required: bool
) -> None:
    if place is None:
        if required:
            errors["place"] = MSG_REQUIRED
    elif place.producer_id != producer.pk:
        errors["place"] = MSG_PLACE


def _check_quantity(
    errors: dict[str, Any], quantity: Any, uom: str, *, required: bool, field: str = "quantity"
) -> None:
    if quantity in (None, ""):
        if required:
            errors[field] = MSG_REQUIRED
        return
    try:
        amount = Decimal(str(quantity))
    except ArithmeticError:
        errors[field] = MSG_QUANTITY
        return
    if not amount.is_finite() or amount <= 0:
        errors[field] = MSG_QUANTITY
    if uom and uom not in services.UNITS:
        errors[field.replace("quantity", "uom")] = MSG_UNIT


def may_record(user: Any, producer: Producer, batch: Batch, stage: str) -> bool:
    """Whether the user may record `stage` of `batch` for `producer`: a member of the batch's
    producer, or — receiving, selling, processing — of a producer it was shipped to."""
    if not services.is_member(user, producer) or not producer.is_active:
        return False
    if batch.product.producer_id == producer.pk:
        return True
    return stage in RECEIVER_STAGES and bool(selectors.shipped_to(batch, [producer.pk]))


def _require(user: Any, producer: Producer, batch: Batch, stage: str) -> None:
    if not may_record(user, producer, batch, stage):
        own = batch.product.producer_id == producer.pk
        raise PermissionDenied(
            MSG_NOT_SHIPPED if stage in RECEIVER_STAGES and not own else MSG_NOT_YOURS
        )


def _capture(
    *, events: list[dict[str, Any]], producer: Producer, user: Any, corrects: Event | None = None
) -> Any:
    from .epcis.capture import capture_events

    return capture_events(events=events, producer=producer, user=user, corrects=corrects)


def _as_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- recording ---------------------------------------------------------------------------------


def stage_record(
    *,
    stage: str,
    batch: Batch,
    producer: Producer,
    user: Any,
    values: dict[str, Any],
) -> Recorded:
    """Check a stage form's values, build its EPCIS event and capture it (all or nothing).

    `values` (what the form gives, by stage): ``when`` (datetime, default now), ``place``
    (Place), ``quantity``/``uom``, ``note``; planting: ``variety``, ``area``,
    ``seed_source``; fertilising/spraying: ``input_name``, ``dose``, ``pre_harvest_days``;
    packing: ``sscc`` or ``parent`` (Batch), ``packaging``; shipping: ``destination`` (Place),
    ``delivery_note``; receiving: ``shipment`` (Event); processing: ``inputs``
    [(Batch, quantity, uom)], ``output`` (Batch) or ``output_product`` (Product) +
    ``output_lot`` + ``output_produced_on`` [+ ``output_expires_on``], ``output_quantity``,
    ``output_uom``, ``process``.

    ValidationFailed names the form's fields; the EPCIS core's errors (EpcisValidationError)
    pass through unchanged."""
    if stage not in Stage.values:
        raise ValidationFailed(fields={"stage": MSG_STAGE})
    _require(user, producer, batch, stage)
    errors: dict[str, Any] = {}
    when = _check_time(errors, values.get("when"), batch)
    place: Place | None = values.get("place")
    quantity, uom = values.get("quantity"), _clean(values.get("uom")).upper()
    note = _clean(values.get("note"))[:500]
    needs_place = stage not in (Stage.PACKING,)
    _check_place(errors, place, producer, required=needs_place)
    if stage == Stage.PROCESSING:
        return _processing(
            batch=batch, producer=producer, user=user, values=values, when=when, errors=errors
        )
    quantity_required = stage not in (Stage.PLANTING, Stage.FERTILISING, Stage.SPRAYING)
    if stage in (Stage.PLANTING, Stage.FERTILISING, Stage.SPRAYING):
        quantity = None
    _check_quantity(errors, quantity, uom, required=quantity_required)
    event: dict[str, Any] | None = None
    if stage == Stage.PLANTING:
        _raise(errors)
        event = planting_event(
            batch,
            place=place,
            when=when,
            variety=_clean(values.get("variety"))[:120],
            area=_clean(values.get("area"))[:60],
            seed_source=_clean(values.get("seed_source"))[:200],
            note=note,
        )
    elif stage in (Stage.FERTILISING, Stage.SPRAYING):
        input_name, dose = _clean(values.get("input_name")), _clean(values.get("dose"))
        if not input_name:
            errors["input_name"] = MSG_REQUIRED
        if not dose:
            errors["dose"] = MSG_REQUIRED
        days = _as_int(values.get("pre_harvest_days"))
        if values.get("pre_harvest_days") not in (None, "") and (days is None or days < 0):
            errors["pre_harvest_days"] = _("Enter a number of days, 0 or more.")
        _raise(errors)
        event = input_event(
            stage,
            batch,
            place=place,
            when=when,
            input_name=input_name[:200],
            dose=dose[:100],
            pre_harvest_days=days,
            note=note,
        )
    elif stage == Stage.HARVESTING:
        _raise(errors)
        event = harvesting_event(
            batch, place=place, quantity=quantity, uom=uom, when=when, note=note
        )
    elif stage == Stage.PACKING:
        sscc = _clean(values.get("sscc"))
        parent: Batch | None = values.get("parent")
        if sscc and parent is not None:
            errors["sscc"] = MSG_PARENT_BOTH
        elif sscc:
            try:
                Sscc.parse(sscc)
                if len(sscc) != 18:
                    raise ValueError
            except (ParseError, ValueError):
                errors["sscc"] = MSG_SSCC
        elif parent is not None and (
            parent.product.producer_id != producer.pk or parent.pk == batch.pk
        ):
            errors["parent"] = MSG_PARENT_BATCH
        _raise(errors)
        event = packing_event(
            batch,
            place=place,
            quantity=quantity,
            uom=uom,
            when=when,
            sscc=sscc,
            parent=parent,
            packaging=_clean(values.get("packaging"))[:120],
            note=note,
        )
    elif stage == Stage.SHIPPING:
        destination: Place | None = values.get("destination")
        if destination is None:
            errors["destination"] = MSG_DESTINATION
        elif place is not None and destination.pk == place.pk:
            errors["destination"] = MSG_DESTINATION_SAME
        _raise(errors)
        assert place is not None and destination is not None
        event = shipping_event(
            batch,
            producer=producer,
            place=place,
            destination=destination,
            quantity=quantity,
            uom=uom,
            when=when,
            delivery_note=_clean(values.get("delivery_note"))[:60],
            note=note,
        )
    elif stage == Stage.RECEIVING:
        shipment: Event | None = values.get("shipment")
        own = batch.product.producer_id == producer.pk
        shipments = {e.pk for e, _p in selectors.shipped_to(batch, [producer.pk])}
        if (shipment is not None and shipment.pk not in shipments) or (
            shipment is None and not own
        ):
            errors["shipment"] = MSG_SHIPMENT
        _raise(errors)
        assert place is not None
        event = receiving_event(
            batch,
            producer=producer,
            place=place,
            quantity=quantity,
            uom=uom,
            shipment=shipment,
            when=when,
            note=note,
        )
    elif stage == Stage.SELLING:
        _raise(errors)
        assert place is not None
        event = selling_event(batch, place=place, quantity=quantity, uom=uom, when=when, note=note)
    assert event is not None
    result = _capture(events=[event], producer=producer, user=user)
    return Recorded(events=list(result.events), capture_id=str(result.capture_id))


def _raise(errors: dict[str, Any]) -> None:
    if errors:
        raise ValidationFailed(fields=errors)


def _usable(batch: Batch, producer: Producer) -> bool:
    return batch.product.producer_id == producer.pk or bool(
        selectors.shipped_to(batch, [producer.pk])
    )


def _processing(
    *,
    batch: Batch,
    producer: Producer,
    user: Any,
    values: dict[str, Any],
    when: datetime,
    errors: dict[str, Any],
) -> Recorded:
    """Input batches (own or received; `batch` is normally the first) → one output batch of
    the producer's, an existing one or a new one registered in the same transaction."""
    inputs: list[tuple[Batch, Any, str]] = []
    for index, (item, quantity, uom) in enumerate(values.get("inputs") or []):
        field = "input_quantity" if index == 0 else f"input{index + 1}_quantity"
        if item is None:
            continue
        if not _usable(item, producer):
            errors[field.replace("_quantity", "_batch") if index else "inputs"] = MSG_INPUT_BATCH
        _check_quantity(errors, quantity, _clean(uom).upper(), required=True, field=field)
        inputs.append((item, quantity, _clean(uom).upper()))
    if not inputs:
        errors["inputs"] = MSG_INPUTS
    if len({b.pk for b, _q, _u in inputs}) != len(inputs):
        errors["inputs"] = _("Each input batch may be chosen once.")
    output: Batch | None = values.get("output")
    new_product: Product | None = values.get("output_product")
    new_lot = _clean(values.get("output_lot"))
    if output is not None:
        if output.product.producer_id != producer.pk:
            errors["output"] = MSG_OUTPUT_BATCH
        elif output.pk in {b.pk for b, _q, _u in inputs}:
            errors["output"] = MSG_INPUT_SAME
    elif new_product is None or not new_lot:
        errors["output"] = MSG_OUTPUT
    elif new_product.producer_id != producer.pk:
        errors["output_product"] = _("Choose one of your products.")
    output_quantity = values.get("output_quantity")
    output_uom = _clean(values.get("output_uom")).upper()
    _check_quantity(errors, output_quantity, output_uom, required=True, field="output_quantity")
    place: Place | None = values.get("place")
    _raise(errors)
    with transaction.atomic():
        created: Batch | None = None
        if output is None:
            assert new_product is not None
            produced_on: date = (
                values.get("output_produced_on") or timezone.localtime(when, TZ).date()
            )
            try:
                created = services.batch_register(
                    product=new_product,
                    actor=user,
                    lot=new_lot,
                    produced_on=produced_on,
                    expires_on=values.get("output_expires_on"),
                    quantity=output_quantity,
                    unit=output_uom,
                    place=place,
                )
            except ValidationFailed as exc:
                renamed = {
                    f"output_{k}" if k in ("lot", "produced_on", "expires_on") else k: v
                    for k, v in exc.fields.items()
                }
                raise ValidationFailed(fields=renamed) from None
            output = created
        event = processing_event(
            inputs=inputs,
            output=output,
            output_quantity=output_quantity,
            output_uom=output_uom,
            place=place,
            when=when,
            process=_clean(values.get("process"))[:200],
            note=_clean(values.get("note"))[:500],
        )
        result = _capture(events=[event], producer=producer, user=user)
    return Recorded(events=list(result.events), capture_id=str(result.capture_id), batch=created)


# --- corrections -------------------------------------------------------------------------------


def _quantity_lists(document: dict[str, Any]) -> list[str]:
    return [
        key
        for key in ("quantityList", "childQuantityList", "outputQuantityList")
        if document.get(key)
    ]


def event_quantity(document: dict[str, Any], batch: Batch) -> tuple[Any, str]:
    """The quantity and unit the event gives for this batch, or (None, "")."""
    uri = batch_class(batch)
    for key in ("quantityList", "childQuantityList", "outputQuantityList", "inputQuantityList"):
        for element in document.get(key) or []:
            if element.get("epcClass") == uri:
                return element.get("quantity"), element.get("uom", "")
    return None, ""


def event_moment(event: Event) -> datetime:
    return timezone.localtime(event.event_time, TZ)


def correction_record(
    *,
    event: Event,
    batch: Batch,
    producer: Producer,
    user: Any,
    reason: str,
    when: datetime | None = None,
    quantity: Any = None,
    place: Place | None = None,
    note: str | None = None,
) -> Recorded:
    """Record a corrected copy of `event` (time, this batch's quantity, place, note) that
    points to it; the original stays as it was."""
    if not services.is_member(user, producer) or event.producer_id != producer.pk:
        raise PermissionDenied(MSG_CORRECT_OWN)
    if event.corrections.exists():
        raise ValidationFailed(fields={"event": MSG_CORRECTED})
    errors: dict[str, Any] = {}
    reason = _clean(reason)
    if not reason:
        errors["reason"] = MSG_REASON
    moment = _check_time(errors, when, batch) if when is not None else None
    if place is not None and place.producer_id != producer.pk:
        errors["place"] = MSG_PLACE
    _check_quantity(errors, quantity, "", required=False)
    _raise(errors)
    document = copy.deepcopy(event.document)
    for key in (
        "eventID",
        "recordTime",
        "errorDeclaration",
        "thudo:corrects",
        "thudo:correctionReason",
        "thudo:correctionNote",
    ):
        document.pop(key, None)
    document.setdefault("@context", copy.deepcopy(CONTEXT))
    if moment is not None:
        document["eventTime"] = event_time(moment)
        document["eventTimeZoneOffset"] = TZ_OFFSET
    if quantity not in (None, ""):
        uri = batch_class(batch)
        for key in (*_quantity_lists(document), "inputQuantityList"):
            for element in document.get(key) or []:
                if element.get("epcClass") == uri:
                    element["quantity"] = number(quantity)
    if place is not None:
        if "readPoint" in document:
            document["readPoint"] = {"id": place_uri(place)}
        if "bizLocation" in document or "readPoint" not in document:
            document["bizLocation"] = {"id": place_uri(place)}
    if note is not None:
        if _clean(note):
            document["thudo:note"] = _clean(note)[:500]
        else:
            document.pop("thudo:note", None)
    document["thudo:correctionReason"] = "incorrect_data"  # the CBV error reason
    document["thudo:correctionNote"] = reason[:500]
    result = _capture(events=[document], producer=producer, user=user, corrects=event)
    return Recorded(events=list(result.events), capture_id=str(result.capture_id))
