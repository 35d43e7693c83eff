"""Builders shared by the producers', stages', labels' and demo tests (no tests here).

Everything is made through the domain's own services (`services`, `stages`), so the tests see
what a producer's pages make. Fixtures are defined here and assigned in the test modules
(``media_root = factories.media_root``)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from thudo.trace import services
from thudo.trace.models import Place, Producer, ProducerMember, Product


def make_gtin(n: int, prefix: str = "0893") -> str:
    """A valid GTIN-14 starting with `prefix` (Vietnam's 893 by default)."""
    body = f"{prefix}{n:0{13 - len(prefix)}d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def make_gln(n: int) -> str:
    """A valid 13-digit GLN 893…"""
    body = f"893{n:09d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def image_bytes(
    fmt: str = "JPEG", *, exif: bool = False, size: tuple[int, int] = (40, 30)
) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, (30, 140, 60))
    options: dict[str, Any] = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "PhoneMaker"  # camera make
        options["exif"] = data.tobytes()
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


def register_coop(
    user: Any, ward: Any, *, name: str = "HTX Rau an toàn Văn Đức", **extra: Any
) -> Producer:
    values: dict[str, Any] = {
        "kind": Producer.Kind.COOPERATIVE,
        "address": "Thôn Văn Đức",
        "business_code": "0101234567",
    }
    values.update(extra)
    return services.producer_register(user=user, name=name, ward=ward.code, **values)


def register_product(producer: Producer, user: Any, n: int, **extra: Any) -> Product:
    values: dict[str, Any] = {
        "name": "Rau cải ngọt",
        "category": Product.Category.VEGETABLES,
        "shelf_life_days": 7,
    }
    values.update(extra)
    return services.product_register(producer=producer, actor=user, gtin=make_gtin(n), **values)


@pytest.fixture
def tr(ward: Any, citizen: Any, hanoi: Any) -> Any:
    """Two producers: a cooperative (owner: `citizen`) with a farm, a plant and a warehouse, a
    product and a batch; a shop (another citizen) with a shop place and its own product."""
    from thudo.accounts import services as accounts

    seller = accounts.citizen_create(
        personal_id="001195000111",
        full_name="Trần Thị Bình",
        sex="female",
        birth_date=date(1995, 2, 3),
        password="citizen-pass-2",
    )
    staff = accounts.citizen_create(
        personal_id="001088000222",
        full_name="Lê Văn Cường",
        sex="male",
        birth_date=date(1988, 7, 1),
        password="citizen-pass-3",
    )
    coop = register_coop(citizen, ward)
    farm = services.place_add(
        producer=coop,
        actor=citizen,
        name="Cánh đồng Văn Đức",
        kind=Place.Kind.FARM,
        address="Xứ đồng Bãi",
        ward=ward.code,
    )
    plant = services.place_add(
        producer=coop,
        actor=citizen,
        name="Xưởng sơ chế",
        kind=Place.Kind.PLANT,
        address="Thôn Văn Đức",
        ward=ward.code,
        gln=make_gln(1),
    )
    warehouse = services.place_add(
        producer=coop,
        actor=citizen,
        name="Kho lạnh",
        kind=Place.Kind.WAREHOUSE,
        address="Thôn Văn Đức",
        ward=ward.code,
    )
    product = register_product(coop, citizen, 1)
    batch = services.batch_register(
        product=product,
        actor=citizen,
        lot="VD2401",
        produced_on=timezone.localdate() - timedelta(days=20),
        quantity="500",
        unit="KGM",
        place=farm,
    )
    shop_producer = services.producer_register(
        user=seller,
        kind=Producer.Kind.HOUSEHOLD,
        name="Cửa hàng Bình An",
        address="12 Hàng Bè",
        ward=ward.code,
    )
    shop = services.place_add(
        producer=shop_producer,
        actor=seller,
        name="Quầy rau Hàng Bè",
        kind=Place.Kind.SHOP,
        address="12 Hàng Bè",
        ward=ward.code,
    )
    shop_product = register_product(shop_producer, seller, 2, name="Nước ép rau")
    return SimpleNamespace(
        owner=citizen,
        seller=seller,
        staff=staff,
        coop=coop,
        farm=farm,
        plant=plant,
        warehouse=warehouse,
        product=product,
        batch=batch,
        shop_producer=shop_producer,
        shop=shop,
        shop_product=shop_product,
        ward=ward,
    )


def member(producer: Producer, user: Any) -> bool:
    return ProducerMember.objects.filter(producer=producer, user=user).exists()
