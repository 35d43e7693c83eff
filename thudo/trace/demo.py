"""The demo city's food traceability: six Hanoi producers and their supply chains.

What it loads (DemoStep order 90, after the citizens and agencies; idempotent):

* six producers with an owner account each (citizens, password accounts.demo.DEMO_PASSWORD):
  ``htx.vanduc`` — HTX Nông nghiệp rau an toàn Văn Đức (cooperative, Gia Lâm; the account of
  the browser walkthrough, with a staff member), ``htx.donganh`` — HTX Nếp cái hoa vàng Đông
  Anh, ``chebavi`` — Công ty TNHH Chè Ba Vì (business), ``matong.socson`` — the household of
  Nguyễn Thị Hoa (honey, Sóc Sơn), ``htx.buoidien`` — HTX Bưởi Diễn Phúc Thọ, and
  ``cuahang.hoankiem`` — Cửa hàng Thực phẩm sạch Hoàn Kiếm (the shop everything reaches);
* their places (farms, plants, warehouses, the shop; some with a GLN, others with an internal
  ``HN-<ward>-<n>`` code), certifications (VietGAP, organic, HACCP, food safety), eleven
  products with 893 GTINs and a small photo, OCOP stars 3, 4 and 5 on several;
* batches with full stage histories recorded through `stages.stage_record`, i.e. the EPCIS
  core's capture: planting → fertilising / spraying → harvesting → processing → packing
  (one into an SSCC-labelled carton) → shipping → receiving at the shop → selling; one
  transformation with two input batches (pomelo + honey received from another producer →
  pomelo-honey juice); a serialised honey batch (12 jars, one label each);
* an anchor of every chain at the end (integrity.anchor_now).

Each story (a producer's batch and its events) runs in one transaction and is skipped when its
first batch already has events, so loading twice adds nothing. Times are days before the load.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from thudo.accounts.models import User
from thudo.core.models import AdminUnit

from . import selectors, services, stages
from .models import Batch, Certification, EventLink, Place, Producer, ProducerMember, Product
from .stages import Stage

DEMO_USERNAME = "htx.vanduc"


def gtin13(body12: str) -> str:
    """A GTIN-13 (as GTIN-14 with a leading 0) from its first 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return "0" + body12 + str((10 - total % 10) % 10)


def gln13(body12: str) -> str:
    return gtin13(body12)[1:]


def sscc18(body17: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body17))
    return body17 + str((10 - total % 10) % 10)


# --- the data ----------------------------------------------------------------------------------

PRODUCERS: list[dict[str, Any]] = [
    {
        "key": "vanduc",
        "username": DEMO_USERNAME,
        "owner": ("Nguyễn Văn Đức", "male", 1972),
        "kind": Producer.Kind.COOPERATIVE,
        "name": "HTX Nông nghiệp rau an toàn Văn Đức",
        "name_en": "Van Duc Safe Vegetable Cooperative",
        "business_code": "0105550101",
        "ward": "Xã Gia Lâm",
        "address": "Thôn Trung Quan, xã Gia Lâm",
        "phone": "0243 876 5501",
        "gs1_company_prefix": "8935550",
        "description": "Hợp tác xã trồng rau an toàn theo VietGAP ven sông Hồng.",
        "places": [
            ("farm", "Cánh đồng rau bãi sông Văn Đức", "Xứ đồng Bãi Giữa", ""),
            ("plant", "Nhà sơ chế rau HTX Văn Đức", "Thôn Trung Quan", "893555000001"),
            ("warehouse", "Kho lạnh HTX Văn Đức", "Thôn Trung Quan", ""),
        ],
    },
    {
        "key": "donganh",
        "username": "htx.donganh",
        "owner": ("Trần Văn Thắng", "male", 1968),
        "kind": Producer.Kind.COOPERATIVE,
        "name": "HTX Nếp cái hoa vàng Đông Anh",
        "name_en": "Dong Anh Yellow-Flower Sticky Rice Cooperative",
        "business_code": "0105550202",
        "ward": "Xã Đông Anh",
        "address": "Thôn Thư Cưu, xã Đông Anh",
        "gs1_company_prefix": "8935551",
        "places": [
            ("farm", "Cánh đồng nếp Thư Cưu", "Xứ đồng Cửa Chùa", ""),
            ("plant", "Xưởng xay bột nếp Đông Anh", "Thôn Thư Cưu", ""),
        ],
    },
    {
        "key": "chebavi",
        "username": "chebavi",
        "owner": ("Đinh Thị Lan", "female", 1980),
        "kind": Producer.Kind.BUSINESS,
        "name": "Công ty TNHH Chè Ba Vì",
        "name_en": "Ba Vi Tea Co., Ltd",
        "business_code": "0105550303",
        "ward": "Xã Ba Vì",
        "address": "Thôn Muồng, xã Ba Vì",
        "gs1_company_prefix": "8935552",
        "gln": gln13("893555200000"),
        "places": [
            ("farm", "Đồi chè Ba Vì", "Đồi Muồng", ""),
            ("plant", "Nhà máy chè Ba Vì", "Thôn Muồng", "893555200002"),
        ],
    },
    {
        "key": "matong",
        "username": "matong.socson",
        "owner": ("Nguyễn Thị Hoa", "female", 1976),
        "kind": Producer.Kind.HOUSEHOLD,
        "name": "Hộ kinh doanh Nguyễn Thị Hoa — Mật ong Sóc Sơn",
        "name_en": "Nguyen Thi Hoa household — Soc Son honey",
        "business_code": "",
        "ward": "Xã Sóc Sơn",
        "address": "Thôn Đông Xuân, xã Sóc Sơn",
        "places": [("farm", "Trại ong Đông Xuân", "Vườn nhãn Đông Xuân", "")],
    },
    {
        "key": "buoidien",
        "username": "htx.buoidien",
        "owner": ("Phạm Quang Hải", "male", 1970),
        "kind": Producer.Kind.COOPERATIVE,
        "name": "HTX Bưởi Diễn Phúc Thọ",
        "name_en": "Phuc Tho Dien Pomelo Cooperative",
        "business_code": "0105550505",
        "ward": "Xã Phúc Thọ",
        "address": "Thôn Ngọc Tảo, xã Phúc Thọ",
        "gs1_company_prefix": "8935554",
        "places": [
            ("farm", "Vườn bưởi Ngọc Tảo", "Bãi Ngọc Tảo", ""),
            ("plant", "Xưởng nước ép HTX Phúc Thọ", "Thôn Ngọc Tảo", ""),
        ],
    },
    {
        "key": "shop",
        "username": "cuahang.hoankiem",
        "owner": ("Lê Minh Khánh", "male", 1985),
        "kind": Producer.Kind.BUSINESS,
        "name": "Cửa hàng Thực phẩm sạch Hoàn Kiếm",
        "name_en": "Hoan Kiem Clean Food Shop",
        "business_code": "0105550606",
        "ward": "Phường Hoàn Kiếm",
        "address": "24 Hàng Bè, phường Hoàn Kiếm",
        "places": [("shop", "Cửa hàng Hàng Bè", "24 Hàng Bè", "")],
    },
]

OCOP_ISSUER = "UBND thành phố Hà Nội"

PRODUCTS: list[dict[str, Any]] = [
    {
        "key": "caingot",
        "producer": "vanduc",
        "gtin": gtin13("893555000101"),
        "name": "Rau cải ngọt VietGAP",
        "name_en": "VietGAP choy sum",
        "category": "vegetables",
        "shelf": 5,
        "ocop": (3, "2615/QĐ-UBND", date(2024, 6, 12)),
        "standards": "TCVN 11892-1:2017 (VietGAP)",
        "colour": (60, 150, 60),
    },
    {
        "key": "cachua",
        "producer": "vanduc",
        "gtin": gtin13("893555000102"),
        "name": "Cà chua bi hữu cơ",
        "name_en": "Organic cherry tomatoes",
        "category": "vegetables",
        "shelf": 7,
        "standards": "TCVN 11041-2:2017 (hữu cơ)",
        "colour": (200, 40, 40),
    },
    {
        "key": "raumuong",
        "producer": "vanduc",
        "gtin": gtin13("893555000103"),
        "name": "Rau muống VietGAP",
        "name_en": "VietGAP water spinach",
        "category": "vegetables",
        "shelf": 3,
        "colour": (40, 120, 50),
    },
    {
        "key": "nep",
        "producer": "donganh",
        "gtin": gtin13("893555100101"),
        "name": "Gạo nếp cái hoa vàng Đông Anh",
        "name_en": "Dong Anh yellow-flower sticky rice",
        "category": "rice",
        "shelf": 365,
        "ocop": (4, "4127/QĐ-UBND", date(2023, 9, 20)),
        "trademark": "Nếp Thư Cưu",
        "colour": (230, 200, 120),
    },
    {
        "key": "botnep",
        "producer": "donganh",
        "gtin": gtin13("893555100102"),
        "name": "Bột nếp cái hoa vàng",
        "name_en": "Sticky rice flour",
        "category": "processed",
        "shelf": 180,
        "colour": (245, 240, 225),
    },
    {
        "key": "chexanh",
        "producer": "chebavi",
        "gtin": gtin13("893555200101"),
        "name": "Chè xanh Ba Vì",
        "name_en": "Ba Vi green tea",
        "category": "tea",
        "shelf": 540,
        "ocop": (4, "1862/QĐ-UBND", date(2023, 4, 5)),
        "standards": "TCVN 1455:1993",
        "colour": (90, 130, 60),
    },
    {
        "key": "tuiloc",
        "producer": "chebavi",
        "gtin": gtin13("893555200102"),
        "name": "Trà xanh túi lọc Ba Vì",
        "name_en": "Ba Vi green tea bags",
        "category": "tea",
        "shelf": 720,
        "ocop": (5, "5210/QĐ-UBND", date(2024, 11, 28)),
        "trademark": "Chè Ba Vì",
        "colour": (110, 150, 80),
    },
    {
        "key": "matong",
        "producer": "matong",
        "gtin": gtin13("893555300101"),
        "name": "Mật ong hoa nhãn Sóc Sơn",
        "name_en": "Soc Son longan-flower honey",
        "category": "processed",
        "shelf": 730,
        "ocop": (3, "3378/QĐ-UBND", date(2024, 8, 1)),
        "colour": (220, 160, 30),
    },
    {
        "key": "buoi",
        "producer": "buoidien",
        "gtin": gtin13("893555400101"),
        "name": "Bưởi Diễn Phúc Thọ",
        "name_en": "Phuc Tho Dien pomelo",
        "category": "fruit",
        "shelf": 60,
        "ocop": (4, "2890/QĐ-UBND", date(2023, 12, 15)),
        "colour": (200, 190, 60),
    },
    {
        "key": "nuocbuoi",
        "producer": "buoidien",
        "gtin": gtin13("893555400102"),
        "name": "Nước bưởi mật ong",
        "name_en": "Pomelo and honey juice",
        "category": "drinks",
        "shelf": 30,
        "ocop": (3, "5211/QĐ-UBND", date(2024, 11, 28)),
        "colour": (230, 210, 120),
    },
    {
        "key": "cam",
        "producer": "buoidien",
        "gtin": gtin13("893555400103"),
        "name": "Cam canh Phúc Thọ",
        "name_en": "Canh oranges",
        "category": "fruit",
        "shelf": 30,
        "colour": (240, 140, 30),
    },
]

CERTIFICATIONS: list[tuple[str, str | None, str, str, str, int]] = [
    # producer, product (or None), scheme, number, issuer, validity in years
    (
        "vanduc",
        None,
        Certification.Scheme.VIETGAP,
        "VietGAP-TT-12-34-0101",
        "Trung tâm Chứng nhận phù hợp (QUACERT)",
        3,
    ),
    (
        "vanduc",
        "cachua",
        Certification.Scheme.ORGANIC,
        "HC-2024-0456",
        "Viện Nghiên cứu Rau quả",
        2,
    ),
    (
        "donganh",
        None,
        Certification.Scheme.VIETGAP,
        "VietGAP-TT-12-34-0202",
        "Trung tâm Chứng nhận phù hợp (QUACERT)",
        3,
    ),
    (
        "chebavi",
        None,
        Certification.Scheme.HACCP,
        "HACCP-2024-0789",
        "Công ty Chứng nhận Bureau Veritas Việt Nam",
        3,
    ),
    (
        "matong",
        None,
        Certification.Scheme.FOOD_SAFETY,
        "125/2024/ATTP-CNĐK",
        "Chi cục An toàn vệ sinh thực phẩm Hà Nội",
        3,
    ),
    (
        "buoidien",
        "buoi",
        Certification.Scheme.VIETGAP,
        "VietGAP-TT-12-34-0505",
        "Trung tâm Chứng nhận phù hợp (QUACERT)",
        3,
    ),
    (
        "shop",
        None,
        Certification.Scheme.FOOD_SAFETY,
        "311/2024/ATTP-CNĐK",
        "Chi cục An toàn vệ sinh thực phẩm Hà Nội",
        3,
    ),
]


@dataclass
class Demo:
    now: datetime
    producers: dict[str, Producer]
    owners: dict[str, User]
    places: dict[str, dict[str, Place]]  # producer key → place kind → place
    products: dict[str, Product]

    def at(self, days: float, hour: int = 8) -> datetime:
        """A moment `days` before today, at `hour` o'clock Vietnam time."""
        day = timezone.localtime(self.now, stages.TZ).date() - timedelta(days=int(days))
        moment = datetime(day.year, day.month, day.day, hour, 0, tzinfo=stages.TZ)
        return min(moment, self.now - timedelta(minutes=10))


# --- people, producers, products ---------------------------------------------------------------


def _city() -> AdminUnit:
    return AdminUnit.objects.get(code=services.city_code())


def _ward(city: AdminUnit, name: str) -> AdminUnit:
    unit = AdminUnit.objects.filter(parent=city, name=name).first()
    return unit or AdminUnit.objects.filter(parent=city).order_by("code").first()  # type: ignore[return-value]


def _owner(spec: dict[str, Any], password_hash: str, rng: random.Random) -> User:
    from thudo.accounts.personal_id import make_personal_id

    user = User.objects.filter(username=spec["username"]).first()
    if user is not None:
        return user
    full_name, sex, year = spec["owner"]
    while True:
        number = make_personal_id(province="001", sex=sex, birth_year=year, rng=rng)
        if not User.objects.filter(personal_id=number).exists():
            break
    return User.objects.create(
        username=spec["username"],
        personal_id=number,
        full_name=full_name,
        sex=sex,
        birth_date=date(year, 1 + rng.randrange(12), 1 + rng.randrange(28)),
        kind=User.Kind.CITIZEN,
        password=password_hash,
        email=f"{spec['username']}@demo.thudo.vn",
    )


def _producer(
    spec: dict[str, Any], owner: User, city: AdminUnit
) -> tuple[Producer, dict[str, Place]]:
    ward = _ward(city, spec["ward"])
    producer = Producer.objects.filter(name=spec["name"]).first()
    if producer is None:
        producer = services.producer_register(
            user=owner,
            kind=spec["kind"],
            name=spec["name"],
            name_en=spec.get("name_en", ""),
            business_code=spec.get("business_code", ""),
            address=spec["address"],
            ward=ward,
            phone=spec.get("phone", ""),
            email=f"{spec['username']}@demo.thudo.vn",
            gln=spec.get("gln", ""),
            gs1_company_prefix=spec.get("gs1_company_prefix", ""),
            description=spec.get("description", ""),
        )
    places: dict[str, Place] = {}
    for kind, name, address, gln_body in spec["places"]:
        place = Place.objects.filter(producer=producer, name=name).first()
        if place is None:
            place = services.place_add(
                producer=producer,
                actor=owner,
                name=name,
                kind=kind,
                address=address,
                ward=ward,
                gln=gln13(gln_body) if gln_body else "",
                latitude=ward.latitude,
                longitude=ward.longitude,
            )
        places.setdefault(kind, place)
    return producer, places


def _photo(colour: tuple[int, int, int]) -> bytes:
    """A small product picture: a soft gradient in the product's colour."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), colour)
    draw = ImageDraw.Draw(image)
    for y in range(240):
        shade = tuple(min(255, int(c + (255 - c) * y / 480)) for c in colour)
        draw.line([(0, y), (320, y)], fill=shade)
    draw.ellipse((100, 60, 220, 180), fill=tuple(max(0, c - 40) for c in colour))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _product(spec: dict[str, Any], demo: Demo) -> Product:
    product = Product.objects.filter(gtin=spec["gtin"]).first()
    if product is not None:
        return product
    producer = demo.producers[spec["producer"]]
    stars = spec.get("ocop")
    return services.product_register(
        producer=producer,
        actor=demo.owners[spec["producer"]],
        gtin=spec["gtin"],
        name=spec["name"],
        name_en=spec.get("name_en", ""),
        category=spec["category"],
        trademark=spec.get("trademark", ""),
        standards=spec.get("standards", ""),
        shelf_life_days=spec.get("shelf"),
        ocop_stars=stars[0] if stars else None,
        ocop_decision=stars[1] if stars else "",
        ocop_decided_on=stars[2] if stars else None,
        ocop_issuer=OCOP_ISSUER if stars else "",
        image=_photo(spec["colour"]),
    )


def _certifications(demo: Demo) -> None:
    for key, product_key, scheme, number, issuer, years in CERTIFICATIONS:
        producer = demo.producers[key]
        if Certification.objects.filter(producer=producer, number=number).exists():
            continue
        start = timezone.localdate() - timedelta(days=200)
        services.certification_add(
            producer=producer,
            actor=demo.owners[key],
            scheme=scheme,
            number=number,
            issuer=issuer,
            valid_from=start,
            valid_to=start + timedelta(days=365 * years),
            product=demo.products[product_key] if product_key else None,
        )


def _staff(demo: Demo) -> None:
    """A staff member of the first cooperative (a demo citizen), added by personal ID."""
    coop = demo.producers["vanduc"]
    if ProducerMember.objects.filter(producer=coop, role=ProducerMember.Role.STAFF).exists():
        return
    person = (
        User.objects.filter(kind=User.Kind.CITIZEN, is_active=True)
        .exclude(personal_id=None)
        .exclude(trace_memberships__isnull=False)
        .exclude(username__contains=".")
        .order_by("id")
        .first()
    )
    if person is not None and person.personal_id:
        services.member_add(
            producer=coop, actor=demo.owners["vanduc"], personal_id=person.personal_id
        )


# --- stories: batches and their stages ---------------------------------------------------------


def _batch(
    demo: Demo,
    product_key: str,
    lot: str,
    *,
    days: int,
    quantity: Any,
    unit: str = "KGM",
    place_kind: str = "farm",
    serials: int = 0,
) -> Batch:
    product = demo.products[product_key]
    batch = Batch.objects.filter(product=product, lot=lot).first()
    if batch is not None:
        return batch
    producer_key = next(k for k, p in demo.producers.items() if p.pk == product.producer_id)
    return services.batch_register(
        product=product,
        actor=demo.owners[producer_key],
        lot=lot,
        produced_on=demo.at(days).date(),
        quantity=quantity,
        unit=unit,
        place=demo.places[producer_key].get(place_kind),
        serial_count=serials,
    )


def _record(demo: Demo, key: str, stage: str, batch: Batch, when: datetime, **values: Any) -> Any:
    return stages.stage_record(
        stage=stage,
        batch=batch,
        producer=demo.producers[key],
        user=demo.owners[key],
        values={"when": when, **values},
    )


def _ship_receive_sell(
    demo: Demo,
    key: str,
    batch: Batch,
    *,
    day: float,
    quantity: Any,
    sold: Any,
    unit: str = "KGM",
    from_kind: str = "warehouse",
) -> None:
    """Ship to the shop, receive it there the same day, sell part of it the next day."""
    places = demo.places[key]
    source = places.get(from_kind) or places.get("plant") or places["farm"]
    shop = demo.places["shop"]["shop"]
    _record(
        demo,
        key,
        Stage.SHIPPING,
        batch,
        demo.at(day, 6),
        place=source,
        destination=shop,
        quantity=quantity,
        uom=unit,
        delivery_note=f"PX-{batch.lot}",
    )
    shipment = selectors.shipped_to(batch, [demo.producers["shop"].pk])[0][0]
    _record(
        demo,
        "shop",
        Stage.RECEIVING,
        batch,
        demo.at(day, 9),
        place=shop,
        quantity=quantity,
        uom=unit,
        shipment=shipment,
    )
    _record(
        demo,
        "shop",
        Stage.SELLING,
        batch,
        demo.at(day - 1, 17),
        place=shop,
        quantity=sold,
        uom=unit,
    )


def _story_vegetables(demo: Demo) -> None:
    farm, plant = demo.places["vanduc"]["farm"], demo.places["vanduc"]["plant"]
    batch = _batch(demo, "caingot", "VD-CN-2601", days=3, quantity=480)
    _record(
        demo,
        "vanduc",
        Stage.PLANTING,
        batch,
        demo.at(38, 7),
        place=farm,
        variety="Cải ngọt lá to",
        area="3 sào",
        seed_source="Công ty Giống cây trồng Trung ương",
    )
    _record(
        demo,
        "vanduc",
        Stage.FERTILISING,
        batch,
        demo.at(30, 7),
        place=farm,
        input_name="Phân hữu cơ vi sinh Sông Gianh",
        dose="25 kg/sào",
    )
    _record(
        demo,
        "vanduc",
        Stage.SPRAYING,
        batch,
        demo.at(18, 16),
        place=farm,
        input_name="Chế phẩm sinh học Bt (Bacillus thuringiensis)",
        dose="20 ml/bình 16 lít",
        pre_harvest_days=5,
    )
    _record(
        demo, "vanduc", Stage.HARVESTING, batch, demo.at(3, 5), place=farm, quantity=480, uom="KGM"
    )
    _record(
        demo,
        "vanduc",
        Stage.PACKING,
        batch,
        demo.at(3, 10),
        place=plant,
        quantity=450,
        uom="KGM",
        packaging="Túi 500 g có tem QR",
    )
    _ship_receive_sell(demo, "vanduc", batch, day=2, quantity=120, sold=35)


def _story_tomatoes(demo: Demo) -> None:
    farm, plant = demo.places["vanduc"]["farm"], demo.places["vanduc"]["plant"]
    batch = _batch(demo, "cachua", "VD-CC-2601", days=4, quantity=300)
    _record(
        demo,
        "vanduc",
        Stage.PLANTING,
        batch,
        demo.at(75, 7),
        place=farm,
        variety="Cà chua bi đỏ",
        area="2 sào",
    )
    _record(
        demo,
        "vanduc",
        Stage.FERTILISING,
        batch,
        demo.at(50, 7),
        place=farm,
        input_name="Phân chuồng ủ hoai",
        dose="500 kg/sào",
    )
    _record(
        demo, "vanduc", Stage.HARVESTING, batch, demo.at(4, 6), place=farm, quantity=300, uom="KGM"
    )
    _record(
        demo,
        "vanduc",
        Stage.PACKING,
        batch,
        demo.at(4, 11),
        place=plant,
        quantity=60,
        uom="KGM",
        packaging="Thùng carton 10 hộp 500 g",
        sscc=sscc18("38935550000000001"),
    )
    _ship_receive_sell(demo, "vanduc", batch, day=3, quantity=60, sold=12)


def _story_spinach(demo: Demo) -> None:
    farm = demo.places["vanduc"]["farm"]
    batch = _batch(demo, "raumuong", "VD-RM-2601", days=1, quantity=200)
    _record(
        demo,
        "vanduc",
        Stage.PLANTING,
        batch,
        demo.at(25, 7),
        place=farm,
        variety="Rau muống hạt",
        area="1 sào",
    )
    _record(
        demo,
        "vanduc",
        Stage.FERTILISING,
        batch,
        demo.at(15, 7),
        place=farm,
        input_name="Phân hữu cơ vi sinh",
        dose="15 kg/sào",
    )
    _record(
        demo, "vanduc", Stage.HARVESTING, batch, demo.at(1, 5), place=farm, quantity=200, uom="KGM"
    )


def _story_rice(demo: Demo) -> None:
    farm, plant = demo.places["donganh"]["farm"], demo.places["donganh"]["plant"]
    rice = _batch(demo, "nep", "NCHV-2512", days=45, quantity=5000)
    _record(
        demo,
        "donganh",
        Stage.PLANTING,
        rice,
        demo.at(160, 7),
        place=farm,
        variety="Nếp cái hoa vàng",
        area="2 ha",
        seed_source="Hạt giống HTX tự nhân",
    )
    _record(
        demo,
        "donganh",
        Stage.FERTILISING,
        rice,
        demo.at(130, 7),
        place=farm,
        input_name="Phân NPK 5-10-3 Lâm Thao",
        dose="15 kg/sào",
    )
    _record(
        demo,
        "donganh",
        Stage.HARVESTING,
        rice,
        demo.at(45, 6),
        place=farm,
        quantity=5000,
        uom="KGM",
    )
    _record(
        demo,
        "donganh",
        Stage.PROCESSING,
        rice,
        demo.at(20, 8),
        place=plant,
        inputs=[(rice, 800, "KGM")],
        output_product=demo.products["botnep"],
        output_lot="BN-2601",
        output_produced_on=demo.at(20).date(),
        output_quantity=760,
        output_uom="KGM",
        process="Ngâm, xay ướt, sấy khô",
    )
    flour = Batch.objects.get(product=demo.products["botnep"], lot="BN-2601")
    _record(
        demo,
        "donganh",
        Stage.PACKING,
        flour,
        demo.at(19, 9),
        place=plant,
        quantity=700,
        uom="KGM",
        packaging="Túi 400 g",
    )
    _ship_receive_sell(demo, "donganh", rice, day=10, quantity=200, sold=40, from_kind="plant")
    _ship_receive_sell(demo, "donganh", flour, day=9, quantity=100, sold=18, from_kind="plant")


def _story_tea(demo: Demo) -> None:
    hill, factory = demo.places["chebavi"]["farm"], demo.places["chebavi"]["plant"]
    leaves = _batch(demo, "chexanh", "CBV-2601", days=30, quantity=1200)
    _record(
        demo,
        "chebavi",
        Stage.FERTILISING,
        leaves,
        demo.at(70, 7),
        place=hill,
        input_name="Phân hữu cơ sinh học",
        dose="2 tấn/ha",
    )
    _record(
        demo,
        "chebavi",
        Stage.HARVESTING,
        leaves,
        demo.at(30, 6),
        place=hill,
        quantity=1200,
        uom="KGM",
    )
    _record(
        demo,
        "chebavi",
        Stage.PROCESSING,
        leaves,
        demo.at(29, 8),
        place=factory,
        inputs=[(leaves, 1000, "KGM")],
        output_product=demo.products["tuiloc"],
        output_lot="TL-2601",
        output_produced_on=demo.at(29).date(),
        output_quantity=2000,
        output_uom="H87",
        process="Diệt men, vò, sấy, đóng túi lọc",
    )
    bags = Batch.objects.get(product=demo.products["tuiloc"], lot="TL-2601")
    _record(
        demo,
        "chebavi",
        Stage.PACKING,
        bags,
        demo.at(28, 9),
        place=factory,
        quantity=2000,
        uom="H87",
        packaging="Hộp 25 túi lọc",
    )
    _ship_receive_sell(
        demo, "chebavi", bags, day=14, quantity=400, sold=60, unit="H87", from_kind="plant"
    )


def _story_honey_and_juice(demo: Demo) -> None:
    """Honey (serialised jars) shipped to the pomelo cooperative and to the shop; pomelos; the
    juice made from both (a transformation with two input batches, one of them received)."""
    apiary = demo.places["matong"]["farm"]
    honey = _batch(demo, "matong", "MO2601", days=40, quantity=12, unit="H87", serials=12)
    _record(
        demo,
        "matong",
        Stage.HARVESTING,
        honey,
        demo.at(40, 7),
        place=apiary,
        quantity=12,
        uom="H87",
    )
    _record(
        demo,
        "matong",
        Stage.PACKING,
        honey,
        demo.at(39, 9),
        place=apiary,
        quantity=12,
        uom="H87",
        packaging="Hũ thủy tinh 500 ml",
    )
    orchard, juicery = demo.places["buoidien"]["farm"], demo.places["buoidien"]["plant"]
    _record(
        demo,
        "matong",
        Stage.SHIPPING,
        honey,
        demo.at(12, 7),
        place=apiary,
        destination=juicery,
        quantity=4,
        uom="H87",
        delivery_note="PX-MO-01",
    )
    shipment = selectors.shipped_to(honey, [demo.producers["buoidien"].pk])[0][0]
    _record(
        demo,
        "buoidien",
        Stage.RECEIVING,
        honey,
        demo.at(12, 14),
        place=juicery,
        quantity=4,
        uom="H87",
        shipment=shipment,
    )
    _ship_receive_sell(
        demo, "matong", honey, day=8, quantity=6, sold=2, unit="H87", from_kind="farm"
    )

    pomelo = _batch(demo, "buoi", "BD-2601", days=15, quantity=2000)
    _record(
        demo,
        "buoidien",
        Stage.FERTILISING,
        pomelo,
        demo.at(120, 7),
        place=orchard,
        input_name="Phân bón lá hữu cơ",
        dose="30 ml/bình 16 lít",
    )
    _record(
        demo,
        "buoidien",
        Stage.SPRAYING,
        pomelo,
        demo.at(60, 16),
        place=orchard,
        input_name="Dầu khoáng SK Enspray 99EC",
        dose="50 ml/bình 16 lít",
        pre_harvest_days=7,
    )
    _record(
        demo,
        "buoidien",
        Stage.HARVESTING,
        pomelo,
        demo.at(15, 6),
        place=orchard,
        quantity=2000,
        uom="KGM",
    )
    _ship_receive_sell(demo, "buoidien", pomelo, day=11, quantity=300, sold=80, from_kind="plant")
    _record(
        demo,
        "buoidien",
        Stage.PROCESSING,
        pomelo,
        demo.at(10, 8),
        place=juicery,
        inputs=[(pomelo, 150, "KGM"), (honey, 4, "H87")],
        output_product=demo.products["nuocbuoi"],
        output_lot="NB-2601",
        output_produced_on=demo.at(10).date(),
        output_quantity=400,
        output_uom="H87",
        process="Ép lạnh, phối mật ong, thanh trùng",
    )
    juice = Batch.objects.get(product=demo.products["nuocbuoi"], lot="NB-2601")
    _record(
        demo,
        "buoidien",
        Stage.PACKING,
        juice,
        demo.at(10, 14),
        place=juicery,
        quantity=400,
        uom="H87",
        packaging="Chai 330 ml",
    )
    _ship_receive_sell(
        demo, "buoidien", juice, day=7, quantity=120, sold=45, unit="H87", from_kind="plant"
    )


def _story_oranges(demo: Demo) -> None:
    """A batch registered but with no event for a long time (the department's list)."""
    _batch(demo, "cam", "CC-2510", days=60, quantity=800)


STORIES: list[tuple[str, str, str, Callable[[Demo], None]]] = [
    # (name, product key, lot of the batch whose events mark the story done, the story)
    ("rau cải ngọt", "caingot", "VD-CN-2601", _story_vegetables),
    ("cà chua bi", "cachua", "VD-CC-2601", _story_tomatoes),
    ("rau muống", "raumuong", "VD-RM-2601", _story_spinach),
    ("nếp cái hoa vàng", "nep", "NCHV-2512", _story_rice),
    ("chè Ba Vì", "chexanh", "CBV-2601", _story_tea),
    ("mật ong và nước bưởi", "matong", "MO2601", _story_honey_and_juice),
    ("cam canh", "cam", "CC-2510", _story_oranges),
]


def _done(demo: Demo, product_key: str, lot: str) -> bool:
    batch = Batch.objects.filter(product=demo.products[product_key], lot=lot).first()
    if batch is None:
        return False
    return product_key == "cam" or EventLink.objects.filter(batch=batch).exists()


# --- the entry point ---------------------------------------------------------------------------


def demo_load(stdout: Any = None) -> None:
    def say(text: str) -> None:
        if stdout:
            stdout.write(text)

    city = _city()
    rng = random.Random(90)  # noqa: S311 — reproducible demo data
    password_hash = make_password(_demo_password())
    with transaction.atomic():
        owners: dict[str, User] = {}
        producers: dict[str, Producer] = {}
        places: dict[str, dict[str, Place]] = {}
        for spec in PRODUCERS:
            owner = _owner(spec, password_hash, rng)
            producer, made = _producer(spec, owner, city)
            owners[spec["key"]], producers[spec["key"]], places[spec["key"]] = owner, producer, made
        demo = Demo(
            now=timezone.now(), producers=producers, owners=owners, places=places, products={}
        )
        for spec in PRODUCTS:
            demo.products[spec["key"]] = _product(spec, demo)
        _certifications(demo)
        _staff(demo)
    recorded = 0
    for name, product_key, lot, story in STORIES:
        if _done(demo, product_key, lot):
            continue
        with transaction.atomic():
            story(demo)
        recorded += 1
        say(f"  trace: {name}")
    anchored = _anchor()
    say(
        f"  trace: producers {len(demo.producers)}, products {len(demo.products)}, "
        f"new stories {recorded}, anchor: {anchored}"
    )


def _demo_password() -> str:
    from thudo.accounts.demo import DEMO_PASSWORD

    return DEMO_PASSWORD


def _anchor() -> str:
    """Sign every chain head (the hourly job's work), when the integrity module is there."""
    try:
        from .integrity import anchor_now
    except ImportError:  # pragma: no cover — the EPCIS core not installed
        return "not available"
    anchor = anchor_now()
    return "none needed" if anchor is None else f"{anchor.item_count} batches"
