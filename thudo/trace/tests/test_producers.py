"""Registering producers, their people, places, certifications, products and batches: every bad
input gets a precise message and leaves no row and no file behind; who may do what; who sees
which producer; the pages at /trace/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from thudo.accounts.roles import Role
from thudo.core.errors import PermissionDenied, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.trace import selectors, services
from thudo.trace.models import Batch, Certification, Place, Producer, ProducerMember, Product

from . import test_producers_factories as factories
from .test_producers_factories import image_bytes, make_gln, make_gtin, stored_files, upload

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


def _fields(exc: Any) -> dict[str, list[str]]:
    return exc.value.as_dict()["fields"]


# --- producers ---------------------------------------------------------------------------------


def test_register_producer_makes_the_citizen_owner(citizen: Any, ward: Any) -> None:
    producer = factories.register_coop(citizen, ward, gs1_company_prefix="8931234", gln=make_gln(7))
    assert ProducerMember.objects.get(producer=producer).role == ProducerMember.Role.OWNER
    assert producer.ward == ward
    assert AuditEvent.objects.filter(
        action="trace.producer_register", object_id=str(producer.pk)
    ).exists()


def test_household_needs_no_business_code(citizen: Any, ward: Any) -> None:
    producer = services.producer_register(
        user=citizen,
        kind=Producer.Kind.HOUSEHOLD,
        name="Hộ ông An",
        address="Xóm 3",
        ward=ward.code,
    )
    assert producer.business_code == ""


def test_register_producer_refuses_every_bad_input(citizen: Any, ward: Any, hanoi: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.producer_register(
            user=citizen,
            kind="farmer",
            name=" ",
            address="",
            ward=hanoi.code,  # the city, not a ward
            business_code="12345",
            phone="abc",
            email="not-an-email",
            gln="8930000000018",  # wrong check digit
            gs1_company_prefix="4501234",  # not Vietnam's
        )
    fields = _fields(caught)
    assert set(fields) == {
        "kind",
        "name",
        "address",
        "ward",
        "business_code",
        "phone",
        "email",
        "gln",
        "gs1_company_prefix",
    }
    assert "893" in fields["gs1_company_prefix"][0]
    with pytest.raises(ValidationFailed) as caught:
        services.producer_register(
            user=citizen, kind=Producer.Kind.COOPERATIVE, name="HTX", address="x", ward=ward.code
        )
    assert _fields(caught)["business_code"] == [
        "A business or a cooperative must give its enterprise code."
    ]
    assert not Producer.objects.exists()


def test_business_code_is_unique(citizen: Any, ward: Any) -> None:
    factories.register_coop(citizen, ward)
    with pytest.raises(ValidationFailed) as caught:
        factories.register_coop(citizen, ward, name="Another")
    assert "already registered" in _fields(caught)["business_code"][0]


# --- members -----------------------------------------------------------------------------------


def test_owner_adds_staff_by_personal_id(tr: Any) -> None:
    member = services.member_add(producer=tr.coop, actor=tr.owner, personal_id="0010 8800 0222")
    assert member.user == tr.staff and member.role == ProducerMember.Role.STAFF
    from thudo.notifications.models import Notification

    notice = Notification.objects.get(user=tr.staff)
    assert tr.coop.name in notice.title
    assert notice.url == reverse("trace:producer", args=[tr.coop.pk])
    with pytest.raises(ValidationFailed) as caught:
        services.member_add(producer=tr.coop, actor=tr.owner, personal_id="001088000222")
    assert _fields(caught)["personal_id"] == ["This person already keeps this producer's records."]
    with pytest.raises(ValidationFailed) as caught:
        services.member_add(producer=tr.coop, actor=tr.owner, personal_id="001099999999")
    assert _fields(caught)["personal_id"] == ["No citizen account has this personal ID number."]
    with pytest.raises(ValidationFailed):
        services.member_add(producer=tr.coop, actor=tr.owner, personal_id="12")
    # Staff may keep records, but not add people.
    with pytest.raises(PermissionDenied):
        services.member_add(producer=tr.coop, actor=tr.staff, personal_id="001195000111")
    # Somebody else entirely may do nothing.
    with pytest.raises(PermissionDenied):
        services.member_add(producer=tr.coop, actor=tr.seller, personal_id="001195000111")


# --- places and certifications ------------------------------------------------------------------


def test_place_codes_are_made_per_ward_or_taken_from_the_gln(tr: Any) -> None:
    assert tr.farm.code == f"HN-{tr.ward.code}-1"
    assert tr.warehouse.code == f"HN-{tr.ward.code}-2"
    assert tr.plant.code == tr.plant.gln == make_gln(1)


def test_place_refuses_bad_gln_and_duplicates(tr: Any) -> None:
    base = {
        "producer": tr.coop,
        "actor": tr.owner,
        "name": "Kho",
        "kind": Place.Kind.WAREHOUSE,
        "address": "x",
        "ward": tr.ward.code,
    }
    with pytest.raises(ValidationFailed) as caught:
        services.place_add(**{**base, "gln": "8930000000012"})
    assert _fields(caught)["gln"] == ["A GLN has 13 digits and a correct check digit."]
    with pytest.raises(ValidationFailed) as caught:
        services.place_add(**{**base, "gln": make_gln(1)})
    assert _fields(caught)["gln"] == ["A place with this GLN is already registered."]
    with pytest.raises(ValidationFailed) as caught:
        services.place_add(**{**base, "kind": "moon", "ward": "99999", "name": ""})
    assert set(_fields(caught)) == {"kind", "ward", "name"}
    with pytest.raises(PermissionDenied):
        services.place_add(**{**base, "actor": tr.seller})


def test_certification_checks_dates_and_product(tr: Any) -> None:
    cert = services.certification_add(
        producer=tr.coop,
        actor=tr.owner,
        scheme=Certification.Scheme.VIETGAP,
        number="VG-01-123",
        issuer="Trung tâm Chứng nhận",
        valid_from=timezone.localdate(),
        product=tr.product,
    )
    assert cert.product == tr.product
    with pytest.raises(ValidationFailed) as caught:
        services.certification_add(
            producer=tr.coop,
            actor=tr.owner,
            scheme="gold",
            number="",
            issuer="",
            valid_from=timezone.localdate(),
            valid_to=timezone.localdate() - timedelta(days=1),
            product=tr.shop_product,
        )
    assert set(_fields(caught)) == {"scheme", "number", "issuer", "valid_to", "product"}


# --- products ----------------------------------------------------------------------------------


def _product(tr: Any, **values: Any) -> Product:
    base: dict[str, Any] = {
        "producer": tr.coop,
        "actor": tr.owner,
        "gtin": make_gtin(50),
        "name": "Gạo",
        "category": Product.Category.RICE,
    }
    base.update(values)
    return services.product_register(**base)


@pytest.mark.parametrize(
    ("gtin", "message"),
    [
        ("08930000000502", "The GTIN's check digit is wrong."),  # make_gtin(50) ends in 9
        ("4006381333931", "A GTIN registered here must start with Vietnam's GS1 prefix 893."),
        ("89312", "A GTIN has 8, 12, 13 or 14 digits."),
    ],
)
def test_product_gtin_errors(tr: Any, media_root: Any, gtin: str, message: str) -> None:
    assert make_gtin(50) != gtin
    with pytest.raises(ValidationFailed) as caught:
        _product(tr, gtin=gtin, image=upload(image_bytes()))
    assert _fields(caught)["gtin"] == [message]
    assert not Product.objects.filter(name="Gạo").exists()
    assert stored_files(media_root) == []


def test_duplicate_gtin_is_refused_clearly(tr: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _product(tr, gtin=tr.product.gtin)
    assert _fields(caught)["gtin"] == ["This GTIN is already registered for another product."]
    # The 13-digit form of the same GTIN is the same product.
    with pytest.raises(ValidationFailed):
        _product(tr, gtin=tr.product.gtin[1:])


def test_gtin_must_start_with_the_producers_company_prefix(tr: Any) -> None:
    tr.coop.gs1_company_prefix = "8934567"
    tr.coop.save()
    with pytest.raises(ValidationFailed) as caught:
        _product(tr, gtin=make_gtin(51))
    assert "8934567" in _fields(caught)["gtin"][0]
    product = _product(tr, gtin=make_gtin(12345, prefix="08934567"))
    assert product.gtin.startswith("08934567")


def test_ocop_stars_need_the_decision(tr: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _product(tr, ocop_stars=4)
    assert set(_fields(caught)) == {"ocop_decision", "ocop_decided_on", "ocop_issuer"}
    with pytest.raises(ValidationFailed) as caught:
        _product(
            tr,
            ocop_stars=2,
            ocop_decision="1/QĐ",
            ocop_decided_on=timezone.localdate(),
            ocop_issuer="UBND",
        )
    assert _fields(caught)["ocop_stars"] == ["OCOP stars are 3, 4 or 5."]
    with pytest.raises(ValidationFailed) as caught:
        _product(tr, ocop_decision="1/QĐ")
    assert "ocop_stars" in _fields(caught)
    with pytest.raises(ValidationFailed) as caught:
        _product(
            tr,
            ocop_stars=3,
            ocop_decision="1/QĐ",
            ocop_decided_on=timezone.localdate() + timedelta(days=3),
            ocop_issuer="UBND",
        )
    assert "ocop_decided_on" in _fields(caught)
    product = _product(
        tr,
        ocop_stars=5,
        ocop_decision="2415/QĐ-UBND",
        ocop_decided_on=timezone.localdate(),
        ocop_issuer="UBND TP Hà Nội",
    )
    assert product.ocop_stars == 5 and product.ocop_decision == "2415/QĐ-UBND"


def test_product_image_is_cleaned_and_stored(tr: Any, media_root: Any, client: Any) -> None:
    from PIL import Image

    original = image_bytes("JPEG", exif=True)
    assert b"PhoneMaker" in original
    product = _product(tr, image=upload(original))
    files = stored_files(media_root)
    assert len(files) == 1 and product.image.startswith("trace/products/")
    stored = files[0].read_bytes()
    assert b"PhoneMaker" not in stored
    with Image.open(files[0]) as image:
        assert image.format == "JPEG" and image.size == (40, 30)
    response = client.get(reverse("trace:product_image", args=[product.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == stored


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a" + b"\x00" * 100, "The image must be a JPEG, PNG or WebP photo."),
        (image_bytes("PNG")[:60], "The image is damaged and cannot be read."),
        (b"", "The image file is empty."),
    ],
)
def test_bad_image_stores_nothing(tr: Any, media_root: Any, data: bytes, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _product(tr, image=upload(data, "x.png"))
    assert _fields(caught)["image"] == [message]
    assert not Product.objects.filter(name="Gạo").exists()
    assert stored_files(media_root) == []


def test_image_over_the_limit_is_refused(tr: Any, media_root: Any, settings: Any) -> None:
    settings.TRACE_MAX_IMAGE_BYTES = 20
    with pytest.raises(ValidationFailed) as caught:
        _product(tr, image=upload(image_bytes("WEBP")))
    assert "too large" in _fields(caught)["image"][0]
    assert stored_files(media_root) == []


def test_failed_transaction_removes_the_stored_image(
    tr: Any, media_root: Any, monkeypatch: Any
) -> None:
    from thudo.trace import services as trace_services

    def boom(**_kwargs: Any) -> None:
        raise RuntimeError("audit down")

    monkeypatch.setattr(trace_services, "audit_record", boom)
    with pytest.raises(RuntimeError):
        _product(tr, image=upload(image_bytes()))
    assert not Product.objects.filter(name="Gạo").exists()
    assert stored_files(media_root) == []  # no orphan file


# --- batches -----------------------------------------------------------------------------------


def test_batch_expiry_defaults_from_shelf_life(tr: Any) -> None:
    assert tr.batch.expires_on == tr.batch.produced_on + timedelta(days=7)


def test_batch_refuses_every_bad_input(tr: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.batch_register(
            product=tr.product,
            actor=tr.owner,
            lot="LÔ 1",  # not ASCII, has a space
            produced_on=timezone.localdate() + timedelta(days=1),
            quantity="-3",
            unit="BAG",
            place=tr.shop,  # the shop's place
            serial_count=-1,
        )
    assert set(_fields(caught)) == {
        "lot",
        "produced_on",
        "quantity",
        "unit",
        "place",
        "serial_count",
    }
    with pytest.raises(ValidationFailed) as caught:
        services.batch_register(
            product=tr.product, actor=tr.owner, lot="VD2401", produced_on=timezone.localdate()
        )
    assert _fields(caught)["lot"] == ["This lot number already exists for this product."]
    with pytest.raises(ValidationFailed) as caught:
        services.batch_register(
            product=tr.product,
            actor=tr.owner,
            lot="X",
            produced_on=timezone.localdate(),
            expires_on=timezone.localdate() - timedelta(days=1),
        )
    assert "expires_on" in _fields(caught)
    with pytest.raises(ValidationFailed) as caught:
        services.batch_register(
            product=tr.product,
            actor=tr.owner,
            lot="A-VERY-LONG-LOT-1234",
            produced_on=timezone.localdate(),
            serial_count=50,
        )
    assert "serial_count" in _fields(caught)
    assert Batch.objects.count() == 1


def test_member_of_a_cannot_add_a_batch_to_bs_product(tr: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.batch_register(
            product=tr.shop_product, actor=tr.owner, lot="X1", produced_on=timezone.localdate()
        )
    with pytest.raises(PermissionDenied):
        services.product_register(
            producer=tr.shop_producer,
            actor=tr.owner,
            gtin=make_gtin(60),
            name="x",
            category="fruit",
        )
    assert not Batch.objects.filter(lot="X1").exists()


def test_member_of_a_cannot_use_the_pages_of_b(client: Any, tr: Any) -> None:
    _en(client, tr.owner)
    assert client.get(reverse("trace:producer", args=[tr.shop_producer.pk])).status_code == 404
    assert client.get(reverse("trace:product", args=[tr.shop_product.pk])).status_code == 404
    response = client.post(
        reverse("trace:batch_new", args=[tr.shop_product.pk]),
        {"lot": "X1", "produced_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 404
    response = client.post(
        reverse("trace:place_new", args=[tr.shop_producer.pk]),
        {"name": "x", "kind": "farm", "address": "x", "ward": tr.ward.code},
    )
    assert response.status_code == 404
    assert not Batch.objects.filter(lot="X1").exists()


# --- who sees what -----------------------------------------------------------------------------


def test_selectors_filter_by_membership_and_trace_view(
    tr: Any, make_agency: Any, make_official: Any
) -> None:
    assert list(selectors.producers_for(tr.owner)) == [tr.coop]
    assert list(selectors.producers_for(tr.seller)) == [tr.shop_producer]
    assert list(selectors.producers_for(tr.staff)) == []
    agency = make_agency("HN-SNNMT", kind="department")
    officer = make_official(role=Role.FOOD_SAFETY_OFFICER, agency=agency)
    assert set(selectors.producers_for(officer)) == {tr.coop, tr.shop_producer}
    assert selectors.batch_get_for(user=officer, batch_id=tr.batch.pk) == tr.batch
    with pytest.raises(selectors.NotFound):
        selectors.batch_get_for(user=tr.seller, batch_id=tr.batch.pk)


def test_official_sees_pages_but_records_nothing(
    client: Any, tr: Any, make_agency: Any, make_official: Any
) -> None:
    agency = make_agency("HN-SNNMT", kind="department")
    officer = make_official(role=Role.FOOD_SAFETY_OFFICER, agency=agency)
    _en(client, officer)
    page = client.get(reverse("trace:producer", args=[tr.coop.pk]))
    assert page.status_code == 200
    assert reverse("trace:place_new", args=[tr.coop.pk]) not in page.content.decode()
    assert client.get(reverse("trace:place_new", args=[tr.coop.pk])).status_code == 403
    assert client.get(reverse("trace:labels_pdf", args=[tr.batch.pk])).status_code == 403


# --- pages -------------------------------------------------------------------------------------


def test_registration_pages_end_to_end(
    client: Any, citizen: Any, ward: Any, media_root: Any
) -> None:
    _en(client, citizen)
    home = client.get(reverse("trace:home"))
    assert home.status_code == 200 and "Register a producer" in home.content.decode()
    response = client.post(
        reverse("trace:producer_new"),
        {
            "kind": "cooperative",
            "name": "HTX Thanh Trì",
            "address": "Thôn 1",
            "ward": ward.code,
            "business_code": "0109999999",
        },
    )
    assert response.status_code == 302
    producer = Producer.objects.get(name="HTX Thanh Trì")
    response = client.post(
        reverse("trace:place_new", args=[producer.pk]),
        {"name": "Ruộng 1", "kind": "farm", "address": "Xứ đồng", "ward": ward.code},
    )
    assert response.status_code == 302
    response = client.post(
        reverse("trace:product_new", args=[producer.pk]),
        {
            "gtin": make_gtin(70),
            "name": "Gạo nếp cái hoa vàng",
            "category": "rice",
            "shelf_life_days": "365",
            "ocop_stars": "4",
            "ocop_decision": "1234/QĐ-UBND",
            "ocop_decided_on": "2024-05-10",
            "ocop_issuer": "UBND TP Hà Nội",
            "image": upload(image_bytes("PNG"), "gao.png"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.objects.get(gtin=make_gtin(70))
    assert product.image.endswith(".png") and product.ocop_stars == 4
    response = client.post(
        reverse("trace:batch_new", args=[product.pk]),
        {
            "lot": "NCHV-01",
            "produced_on": timezone.localdate().isoformat(),
            "quantity": "1000",
            "unit": "KGM",
            "place": producer.places.get().pk,
        },
    )
    assert response.status_code == 302
    batch = Batch.objects.get(lot="NCHV-01")
    assert batch.expires_on == batch.produced_on + timedelta(days=365)
    page = client.get(reverse("trace:producer", args=[producer.pk])).content.decode()
    assert "Ruộng 1" in page and f"HN-{ward.code}-1" in page and "Gạo nếp cái hoa vàng" in page
    page = client.get(reverse("trace:product", args=[product.pk])).content.decode()
    assert "NCHV-01" in page and "1234/QĐ-UBND" in page


def test_form_errors_are_shown_field_by_field(client: Any, tr: Any, media_root: Any) -> None:
    _en(client, tr.owner)
    response = client.post(
        reverse("trace:product_new", args=[tr.coop.pk]),
        {
            "gtin": "8930000000018",
            "name": "X",
            "category": "rice",
            "ocop_stars": "3",
            "image": upload(b"not an image", "x.jpg"),
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "There are" in page
    assert "check digit is wrong" in page
    assert "Give the number of the decision that granted the OCOP stars." in page
    assert "The image must be a JPEG, PNG or WebP photo." in page
    assert 'href="#id_gtin"' in page
    assert stored_files(media_root) == []
    assert not Product.objects.filter(name="X").exists()


def test_pages_need_sign_in(client: Any, tr: Any) -> None:
    response = client.get(reverse("trace:home"))
    assert response.status_code == 302 and "next=" in response["Location"]


def test_menu_entry() -> None:
    from thudo.trace.menus import CITIZEN_MENU

    assert [(m.url_name, m.audience) for m in CITIZEN_MENU] == [("trace:home", "citizen")]
    assert reverse("trace:home") == "/trace/"


def test_admin_shows_events_read_only(client: Any, tr: Any) -> None:
    from thudo.accounts.models import User
    from thudo.accounts.testing import login_verified
    from thudo.trace import stages
    from thudo.trace.models import Event

    stages.stage_record(
        stage="harvesting",
        batch=tr.batch,
        producer=tr.coop,
        user=tr.owner,
        values={"place": tr.farm, "quantity": 10, "uom": "KGM"},
    )
    event = Event.objects.get()
    admin_user = User.objects.create_superuser(username="root", password="x-secret-1")
    login_verified(client, admin_user)
    assert client.get(reverse("admin:trace_event_changelist")).status_code == 200
    page = client.get(reverse("admin:trace_event_change", args=[event.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.get(reverse("admin:trace_event_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:trace_event_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Event.objects.filter(pk=event.pk).exists()
    assert client.get(reverse("admin:trace_producer_change", args=[tr.coop.pk])).status_code == 200
