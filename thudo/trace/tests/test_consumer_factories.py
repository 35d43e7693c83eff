"""Builders shared by the consumer, resolver, recall and department tests (no tests here).

Producers, places, products and batches are rows (their registration forms are tested by
test_producers*); every event goes through the EPCIS core's `capture_events`, so the chains and
link roles are exactly what capture makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from thudo.accounts.models import User
from thudo.trace.identifiers import location_uri, lot_uri
from thudo.trace.models import Batch, Event, Place, Producer, ProducerMember, Product

CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
    {"thudo": "https://thudo.hanoi.gov.vn/epcis/"},
]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def make_gtin(n: int) -> str:
    """A valid GTIN-14 with Vietnam's prefix 893: 0 893 <9 digits> <check>."""
    body = f"0893{n:09d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def make_user(username: str, email: str = "") -> User:
    return User.objects.create(
        username=username,
        full_name=username.title(),
        kind=User.Kind.CITIZEN,
        email=email or f"{username}@example.vn",
    )


def make_producer(ward: Any, name: str, *, user: Any = None, **extra: Any) -> Producer:
    values: dict[str, Any] = {
        "kind": Producer.Kind.COOPERATIVE,
        "address": "12 Hàng Bông",
        "ward": ward,
    }
    values.update(extra)
    producer = Producer.objects.create(name=name, **values)
    if user is not None:
        ProducerMember.objects.create(producer=producer, user=user)
    return producer


def make_place(producer: Producer, code: str, kind: str = Place.Kind.FARM, **extra: Any) -> Place:
    values: dict[str, Any] = {"name": f"Nơi {code}", "address": "Thôn Đông", "ward": producer.ward}
    values.update(extra)
    return Place.objects.create(producer=producer, kind=kind, code=code, **values)


def make_product(producer: Producer, n: int, name: str = "Gạo nếp", **extra: Any) -> Product:
    values: dict[str, Any] = {
        "name_en": "",
        "category": Product.Category.RICE,
        "shelf_life_days": 180,
    }
    values.update(extra)
    return Product.objects.create(producer=producer, gtin=make_gtin(n), name=name, **values)


def make_batch(product: Product, lot: str, *, place: Place | None = None, **extra: Any) -> Batch:
    produced = extra.pop("produced_on", timezone.localdate() - timedelta(days=10))
    values: dict[str, Any] = {
        "produced_on": produced,
        "expires_on": produced + timedelta(days=product.shelf_life_days or 180),
        "quantity": Decimal("500"),
        "unit": "KGM",
        "place": place,
    }
    values.update(extra)
    batch = Batch.objects.create(product=product, lot=lot, **values)
    batch.product = product
    return batch


# --- EPCIS events ----------------------------------------------------------------------------


def when(days_ago: float = 0) -> str:
    """An EPCIS eventTime `days_ago` days before now, in Vietnam's time, to the minute."""
    moment = timezone.now().astimezone(TZ) - timedelta(days=days_ago)
    return moment.replace(second=0, microsecond=0).isoformat(timespec="milliseconds")


def q(batch: Batch, quantity: float | int | None = 100, uom: str = "KGM") -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": lot_uri(batch.product.gtin, batch.lot)}
    if quantity is not None:
        element["quantity"] = quantity
        element["uom"] = uom
    return element


def where(place: Place | None) -> dict[str, Any]:
    if place is None:
        return {}
    uri = location_uri(gln=place.gln, code=place.code)
    return {"readPoint": {"id": uri}, "bizLocation": {"id": uri}}


def object_event(
    batch: Batch,
    *,
    stage: str,
    biz_step: str,
    place: Place | None,
    at: str,
    disposition: str = "active",
    action: str = "OBSERVE",
    quantity: float | int | None = 100,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ObjectEvent about a batch; `fields` adds others ("thudo:note", sourceList…)."""
    event: dict[str, Any] = {
        "@context": CONTEXT,
        "type": "ObjectEvent",
        "eventTime": at,
        "eventTimeZoneOffset": "+07:00",
        "action": action,
        "bizStep": biz_step,
        "disposition": disposition,
        "quantityList": [q(batch, quantity)],
        **where(place),
        "thudo:stage": stage,
    }
    event.update(fields or {})
    return event


def shipping_event(batch: Batch, *, src: Place, dst: Place, at: str) -> dict[str, Any]:
    src_uri = location_uri(gln=src.gln, code=src.code)
    dst_uri = location_uri(gln=dst.gln, code=dst.code)
    return {
        "@context": CONTEXT,
        "type": "ObjectEvent",
        "eventTime": at,
        "eventTimeZoneOffset": "+07:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "quantityList": [q(batch)],
        "readPoint": {"id": src_uri},
        "sourceList": [
            {"type": "owning_party", "source": f"urn:thudo:party:{src.producer_id}"},
            {"type": "location", "source": src_uri},
        ],
        "destinationList": [
            {"type": "owning_party", "destination": f"urn:thudo:party:{dst.producer_id}"},
            {"type": "location", "destination": dst_uri},
        ],
        "thudo:stage": "shipping",
    }


def transformation_event(
    inputs: list[Batch], outputs: list[Batch], *, place: Place | None, at: str
) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "TransformationEvent",
        "eventTime": at,
        "eventTimeZoneOffset": "+07:00",
        "bizStep": "commissioning",
        "disposition": "active",
        "inputQuantityList": [q(b, 50) for b in inputs],
        "outputQuantityList": [q(b, 80) for b in outputs],
        **where(place),
        "thudo:stage": "processing",
    }


def aggregation_event(
    parent: Batch, children: list[Batch], *, place: Place | None, at: str
) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "AggregationEvent",
        "eventTime": at,
        "eventTimeZoneOffset": "+07:00",
        "action": "ADD",
        "bizStep": "packing",
        "disposition": "in_progress",
        "parentID": lot_uri(parent.product.gtin, parent.lot),
        "childQuantityList": [q(c, 20) for c in children],
        **where(place),
        "thudo:stage": "packing",
    }


def capture(producer: Producer, user: Any, *events: dict[str, Any], **kwargs: Any) -> list[Event]:
    from thudo.trace.epcis.capture import capture_events

    result = capture_events(events=list(events), producer=producer, user=user, **kwargs)
    return list(result.events)


# --- a supply chain --------------------------------------------------------------------------


@dataclass
class Chain:
    """A farm (A) ships rice R1 to a mill (B), which mixes it with its own B0 into flour F1,
    makes noodles N1 from F1 and packs F1 into gift boxes P1; P1 goes to a shop (C), which
    receives and sells it. R2 (A) is unrelated; D has nothing to do with any of it."""

    farm: Producer
    mill: Producer
    shop: Producer
    other: Producer
    farm_user: User
    mill_user: User
    mill_staff: User
    shop_user: User
    other_user: User
    field_place: Place
    plant: Place
    store: Place
    r1: Batch
    r2: Batch
    b0: Batch
    f1: Batch
    n1: Batch
    p1: Batch
    events: dict[str, Event]


def build_chain(ward: Any) -> Chain:
    farm_user, mill_user = make_user("farmer"), make_user("miller")
    mill_staff, shop_user, other_user = make_user("mill.staff"), make_user("seller"), make_user("x")
    farm = make_producer(ward, "HTX Nông nghiệp Vân Đức", user=farm_user)
    mill = make_producer(ward, "Xưởng bột Đông Anh", user=mill_user)
    ProducerMember.objects.create(producer=mill, user=mill_staff, role=ProducerMember.Role.STAFF)
    shop = make_producer(ward, "Cửa hàng Tràng Tiền", user=shop_user)
    other = make_producer(ward, "HTX Không liên quan", user=other_user)
    field_place = make_place(farm, "HN-F-001", Place.Kind.FARM, name="Cánh đồng Vân Đức")
    plant = make_place(mill, "HN-P-001", Place.Kind.PLANT, name="Xưởng Đông Anh")
    store = make_place(shop, "HN-S-001", Place.Kind.SHOP, name="Quầy Tràng Tiền")
    rice = make_product(farm, 11, "Gạo nếp cái hoa vàng")
    flour_base = make_product(mill, 21, "Bột sắn")
    flour = make_product(mill, 22, "Bột gạo nếp")
    noodles = make_product(mill, 23, "Bún gạo")
    box = make_product(mill, 24, "Hộp quà bột gạo")
    r1 = make_batch(rice, "R1", place=field_place)
    r2 = make_batch(rice, "R2", place=field_place)
    b0 = make_batch(flour_base, "B0", place=plant)
    f1 = make_batch(flour, "F1", place=plant)
    n1 = make_batch(noodles, "N1", place=plant)
    p1 = make_batch(box, "P1", place=plant)
    events: dict[str, Event] = {}
    (events["plant_r1"],) = capture(
        farm,
        farm_user,
        object_event(
            r1,
            stage="planting",
            biz_step="commissioning",
            place=field_place,
            at=when(9),
            action="ADD",
            quantity=None,
        ),
    )
    capture(
        farm,
        farm_user,
        object_event(
            r2,
            stage="planting",
            biz_step="commissioning",
            place=field_place,
            at=when(9),
            action="ADD",
            quantity=None,
        ),
    )
    (events["ship_r1"],) = capture(
        farm, farm_user, shipping_event(r1, src=field_place, dst=plant, at=when(6))
    )
    (events["receive_r1"],) = capture(
        mill,
        mill_user,
        object_event(
            r1,
            stage="receiving",
            biz_step="receiving",
            place=plant,
            at=when(5),
            disposition="in_progress",
        ),
    )
    (events["transform_f1"],) = capture(
        mill, mill_user, transformation_event([r1, b0], [f1], place=plant, at=when(4))
    )
    (events["transform_n1"],) = capture(
        mill, mill_user, transformation_event([f1], [n1], place=plant, at=when(3))
    )
    (events["pack_p1"],) = capture(
        mill, mill_user, aggregation_event(p1, [f1], place=plant, at=when(2.8))
    )
    (events["ship_p1"],) = capture(
        mill, mill_user, shipping_event(p1, src=plant, dst=store, at=when(2))
    )
    (events["receive_p1"],) = capture(
        shop,
        shop_user,
        object_event(
            p1,
            stage="receiving",
            biz_step="receiving",
            place=store,
            at=when(1),
            disposition="in_progress",
        ),
    )
    (events["sell_p1"],) = capture(
        shop,
        shop_user,
        object_event(
            p1,
            stage="selling",
            biz_step="retail_selling",
            place=store,
            at=when(0.2),
            disposition="retail_sold",
            quantity=2,
        ),
    )
    return Chain(
        farm=farm, mill=mill, shop=shop, other=other, farm_user=farm_user, mill_user=mill_user,
        mill_staff=mill_staff, shop_user=shop_user, other_user=other_user,
        field_place=field_place, plant=plant, store=store,
        r1=r1, r2=r2, b0=b0, f1=f1, n1=n1, p1=p1, events=events,
    )  # fmt: skip


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value)


def today() -> date:
    return timezone.localdate()
