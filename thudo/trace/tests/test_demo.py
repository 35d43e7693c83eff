"""The traceability demo: six producers with their supply chains, captured through the EPCIS
core, anchored; loading it twice adds nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count

from thudo.accounts.demo import DEMO_PASSWORD
from thudo.trace import demo, selectors
from thudo.trace.models import (
    Anchor,
    Batch,
    Certification,
    Event,
    EventLink,
    Producer,
    ProducerMember,
    Product,
)

from . import test_producers_factories as factories

media_root = factories.media_root

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "producers": Producer.objects.count(),
        "products": Product.objects.count(),
        "batches": Batch.objects.count(),
        "events": Event.objects.count(),
        "links": EventLink.objects.count(),
        "certifications": Certification.objects.count(),
        "members": ProducerMember.objects.count(),
        "anchors": Anchor.objects.count(),
    }


def test_demo_loads_the_supply_chains_once(
    hanoi: Any, citizen: Any, media_root: Any, client: Any
) -> None:
    demo.demo_load()
    first = _counts()
    assert 5 <= first["producers"] <= 8
    assert first["products"] >= 10
    assert {p.kind for p in Producer.objects.all()} == {"business", "cooperative", "household"}
    assert set(Product.objects.exclude(ocop_stars=None).values_list("ocop_stars", flat=True)) == {
        3,
        4,
        5,
    }
    assert all(p.gtin.startswith("0893") for p in Product.objects.all())
    assert Product.objects.exclude(image="").count() == first["products"]
    assert {"vietgap", "organic", "haccp", "food_safety"} <= set(
        Certification.objects.values_list("scheme", flat=True)
    )
    # The demo account owns the first cooperative and can sign in.
    coop = Producer.objects.get(name="HTX Nông nghiệp rau an toàn Văn Đức")
    owner = ProducerMember.objects.get(producer=coop, role="owner").user
    assert owner.username == "htx.vanduc" and owner.kind == "citizen"
    assert client.login(username="htx.vanduc", password=DEMO_PASSWORD)
    # A full stage history, from planting to selling at the shop.
    batch = Batch.objects.get(lot="VD-CN-2601")
    stages_seen = [step.stage for step in selectors.batch_timeline(batch)]
    assert stages_seen == [
        "planting",
        "fertilising",
        "spraying",
        "harvesting",
        "packing",
        "shipping",
        "receiving",
        "selling",
    ]
    shop = Producer.objects.get(name="Cửa hàng Thực phẩm sạch Hoàn Kiếm")
    assert Event.objects.filter(producer=shop, biz_step="retail_selling").count() >= 5
    # One transformation with two input batches, one of them received from another producer.
    juice = Event.objects.annotate(
        inputs=Count(
            "links", filter=__import__("django.db.models", fromlist=["Q"]).Q(links__role="input")
        )
    ).get(event_type="TransformationEvent", inputs=2)
    input_producers = {
        link.batch.product.producer.name for link in juice.links.filter(role="input")
    }
    assert len(input_producers) == 2
    assert Event.objects.filter(event_type="AggregationEvent").exists()
    assert Batch.objects.filter(serial_count__gt=0).exists()
    assert Batch.objects.filter(lot="CC-2510", links__isnull=True).exists()  # no events yet
    assert first["anchors"] == 1
    # Every event's time is in the past, in Vietnam's time zone.
    assert set(Event.objects.values_list("event_time_zone_offset", flat=True)) == {"+07:00"}

    demo.demo_load()
    assert _counts() == first
