"""Every write of the producers' side of traceability: producers and their people, places,
certifications, products and batches. (Events are captured by `epcis.capture`; the stage forms
build them in `stages`.)

Services are keyword-only and atomic; each checks every value and reports every problem at
once as ValidationFailed naming the field, checks that the actor keeps the producer's records
(PermissionDenied otherwise) before anything is written, and leaves an audit row in the same
transaction. A product image is checked and cleaned before the transaction opens, stored only
once every other check has passed, and deleted again if the transaction fails.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from biip import ParseError
from biip.gln import Gln
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import User
from thudo.core.audit import audit_record
from thudo.core.errors import PermissionDenied, ValidationFailed
from thudo.core.models import AdminUnit

from . import identifiers
from .models import Batch, Certification, Place, Producer, ProducerMember, Product
from .uploads import CheckedImage, image_check, image_delete, image_write

VIETNAM_PREFIX = identifiers.VIETNAM_PREFIX
MAX_SERIALS = 100_000
MAX_SHELF_LIFE_DAYS = 3650
# UN/CEFACT Recommendation 20 codes a small producer needs (EPCIS `uom`).
UNITS = {
    "KGM": _("kg"),
    "GRM": _("g"),
    "TNE": _("tonne"),
    "LTR": _("litre"),
    "MLT": _("ml"),
    "H87": _("piece"),
}

_BUSINESS_CODE_RE = re.compile(r"^\d{10}(-\d{3})?$")
_PHONE_RE = re.compile(r"^\+?[0-9 .]{8,15}$")

MSG_REQUIRED = _("This field is required.")
MSG_KIND = _("Choose a valid kind.")
MSG_WARD = _("Choose a ward or commune of the city.")
MSG_BUSINESS_CODE = _(
    "An enterprise or cooperative code has 10 digits (13 with a branch: 0101234567-001)."
)
MSG_BUSINESS_CODE_NEEDED = _("A business or a cooperative must give its enterprise code.")
MSG_BUSINESS_CODE_TAKEN = _("A producer with this enterprise code is already registered.")
MSG_PHONE = _("Enter a phone number of 8 to 15 digits.")
MSG_EMAIL = _("Enter a valid e-mail address.")
MSG_GLN = _("A GLN has 13 digits and a correct check digit.")
MSG_GLN_TAKEN = _("A place with this GLN is already registered.")
MSG_PREFIX = _("A GS1 company prefix has 6 to 12 digits and starts with Vietnam's prefix 893.")
MSG_NOT_MEMBER = _("You do not keep the records of this producer.")
MSG_NOT_OWNER = _("Only an owner of the producer may add people.")
MSG_PERSON_UNKNOWN = _("No citizen account has this personal ID number.")
MSG_PERSON_ID = _("A personal ID number has 12 digits.")
MSG_ALREADY_MEMBER = _("This person already keeps this producer's records.")
MSG_ROLE = _("Choose owner or staff.")
MSG_SCHEME = _("Choose a certification scheme.")
MSG_DATES = _("The end date must be after the start date.")
MSG_NOT_OWN_PRODUCT = _("Choose one of this producer's products.")
MSG_GTIN_TAKEN = _("This GTIN is already registered for another product.")
MSG_GTIN_COMPANY = _("The GTIN must start with your GS1 company prefix {prefix}.")
MSG_CATEGORY = _("Choose a category.")
MSG_SHELF_LIFE = _("The shelf life is a number of days from 1 to 3650.")
MSG_STARS = _("OCOP stars are 3, 4 or 5.")
MSG_OCOP_DECISION = _("Give the number of the decision that granted the OCOP stars.")
MSG_OCOP_DATE = _("Give the date of the OCOP decision.")
MSG_OCOP_ISSUER = _("Give who granted the OCOP stars.")
MSG_OCOP_FUTURE = _("The OCOP decision date cannot be in the future.")
MSG_OCOP_NO_STARS = _("Choose the stars that the OCOP decision granted.")
MSG_LOT = identifiers.MSG_LOT
MSG_LOT_TAKEN = _("This lot number already exists for this product.")
MSG_FUTURE = _("The date cannot be in the future.")
MSG_EXPIRY = _("The expiry date must be after the production date.")
MSG_QUANTITY = _("Enter a quantity greater than zero.")
MSG_UNIT = _("Choose a unit.")
MSG_PLACE = _("Choose one of this producer's places.")
MSG_SERIALS = _("The number of serialised items is from 0 to 100,000.")
MSG_SERIALS_LOT = _(
    "Serial numbers are the lot, a dot and a number, at most 20 characters: use a shorter lot "
    "number for this many items."
)
MSG_INACTIVE = _("This producer is no longer active.")

T_MEMBER = _("You now keep the records of {producer}")
B_MEMBER = _("{actor} added you as {role} of {producer} on the traceability pages.")


# --- small helpers -----------------------------------------------------------------------------


def _clean(value: Any) -> str:
    return str(value or "").strip()


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def city_code() -> str:
    return f"{int(settings.THUDO_CITY['PROVINCE_CODE']):02d}"


def _ward(value: Any) -> AdminUnit | None:
    """The city's ward or commune from a unit, its pk or its code; None when it is not one."""
    unit: AdminUnit | None
    if isinstance(value, AdminUnit):
        unit = value
    elif value in (None, ""):
        return None
    else:
        unit = AdminUnit.objects.filter(code=str(value)).select_related("parent").first()
    if (
        unit is None
        or unit.level != AdminUnit.Level.COMMUNE
        or unit.parent is None
        or unit.parent.code != city_code()
    ):
        return None
    return unit


def gln_ok(value: str) -> bool:
    """Whether `value` is a 13-digit GLN with a correct check digit."""
    if not (value.isdigit() and len(value) == 13):
        return False
    try:
        Gln.parse(value)
    except (ParseError, ValueError):
        return False
    return True


def is_member(user: Any, producer: Producer, *, owner: bool = False) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    members = ProducerMember.objects.filter(producer=producer, user=user)
    if owner:
        members = members.filter(role=ProducerMember.Role.OWNER)
    return members.exists()


def _require_member(user: Any, producer: Producer, *, owner: bool = False) -> None:
    if not is_member(user, producer, owner=owner):
        raise PermissionDenied(MSG_NOT_OWNER if owner and is_member(user, producer) else None)
    if not producer.is_active:
        raise PermissionDenied(MSG_INACTIVE)


def _raise(errors: dict[str, Any]) -> None:
    if errors:
        raise ValidationFailed(fields=errors)


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _contact_errors(errors: dict[str, Any], *, phone: str, email: str) -> None:
    if phone and not _PHONE_RE.match(phone):
        errors["phone"] = MSG_PHONE
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            errors["email"] = MSG_EMAIL


# --- producers ---------------------------------------------------------------------------------


def producer_register(
    *,
    user: Any,
    kind: str,
    name: str,
    address: str,
    ward: Any,
    name_en: str = "",
    business_code: str = "",
    phone: str = "",
    email: str = "",
    gln: str = "",
    gs1_company_prefix: str = "",
    description: str = "",
) -> Producer:
    """Register a business, cooperative or household; the signed-in citizen becomes its owner.

    A household may leave the enterprise code empty; a GS1 company prefix, when given, starts
    with 893; a GLN, when given, has a correct check digit."""
    if _user(user) is None:
        raise PermissionDenied()
    name, address, name_en = _clean(name), _clean(address), _clean(name_en)
    business_code, phone, email = _clean(business_code), _clean(phone), _clean(email)
    gln, prefix = _clean(gln), _clean(gs1_company_prefix)
    errors: dict[str, Any] = {}
    if kind not in Producer.Kind.values:
        errors["kind"] = MSG_KIND
    if not name:
        errors["name"] = MSG_REQUIRED
    if not address:
        errors["address"] = MSG_REQUIRED
    unit = _ward(ward)
    if unit is None:
        errors["ward"] = MSG_WARD
    if business_code:
        if not _BUSINESS_CODE_RE.match(business_code):
            errors["business_code"] = MSG_BUSINESS_CODE
        elif Producer.objects.filter(business_code=business_code).exists():
            errors["business_code"] = MSG_BUSINESS_CODE_TAKEN
    elif kind in (Producer.Kind.BUSINESS, Producer.Kind.COOPERATIVE):
        errors["business_code"] = MSG_BUSINESS_CODE_NEEDED
    _contact_errors(errors, phone=phone, email=email)
    if gln and not gln_ok(gln):
        errors["gln"] = MSG_GLN
    if prefix and not (
        prefix.isdigit() and 6 <= len(prefix) <= 12 and prefix.startswith(VIETNAM_PREFIX)
    ):
        errors["gs1_company_prefix"] = MSG_PREFIX
    _raise(errors)
    assert unit is not None
    with transaction.atomic():
        producer = Producer.objects.create(
            kind=kind,
            name=name[:255],
            name_en=name_en[:255],
            business_code=business_code,
            address=address[:300],
            ward=unit,
            phone=phone,
            email=email,
            gln=gln,
            gs1_company_prefix=prefix,
            description=_clean(description),
        )
        ProducerMember.objects.create(producer=producer, user=user, role=ProducerMember.Role.OWNER)
        audit_record(
            actor=user,
            action="trace.producer_register",
            obj=producer,
            to_state="active",
            data={"kind": kind, "business_code": business_code, "ward": unit.code},
        )
    return producer


def member_add(
    *, producer: Producer, personal_id: str, actor: Any, role: str = ProducerMember.Role.STAFF
) -> ProducerMember:
    """An owner adds an existing citizen account (by personal ID) as owner or staff."""
    _require_member(actor, producer, owner=True)
    personal_id = re.sub(r"\s", "", _clean(personal_id))
    errors: dict[str, Any] = {}
    if role not in ProducerMember.Role.values:
        errors["role"] = MSG_ROLE
    person = None
    if not (personal_id.isdigit() and len(personal_id) == 12):
        errors["personal_id"] = MSG_PERSON_ID
    else:
        person = User.objects.filter(
            personal_id=personal_id, kind=User.Kind.CITIZEN, is_active=True
        ).first()
        if person is None:
            errors["personal_id"] = MSG_PERSON_UNKNOWN
        elif ProducerMember.objects.filter(producer=producer, user=person).exists():
            errors["personal_id"] = MSG_ALREADY_MEMBER
    _raise(errors)
    assert person is not None
    from thudo.notifications.services import notify

    with transaction.atomic():
        member = ProducerMember.objects.create(producer=producer, user=person, role=role)
        audit_record(
            actor=actor,
            action="trace.member_add",
            obj=producer,
            data={"user": person.pk, "role": role},
        )
        with translation.override("vi"):
            notify(
                user=person,
                title=str(format_lazy(T_MEMBER, producer=producer.name)),
                body=str(
                    format_lazy(
                        B_MEMBER,
                        actor=str(actor),
                        role=str(ProducerMember.Role(role).label).lower(),
                        producer=producer.name,
                    )
                ),
                url=_url("trace:producer", producer.pk),
            )
    return member


# --- places and certifications -----------------------------------------------------------------


def location_prefix() -> str:
    return str(getattr(settings, "TRACE_LOCATION_PREFIX", "HN"))


def _next_code(unit: AdminUnit) -> str:
    """The next free internal location code of a ward: HN-<ward code>-<n>."""
    stem = f"{location_prefix()}-{unit.code}-"
    numbers = [
        int(code[len(stem) :])
        for code in Place.objects.filter(code__startswith=stem).values_list("code", flat=True)
        if code[len(stem) :].isdigit()
    ]
    return f"{stem}{max(numbers, default=0) + 1}"


def place_add(
    *,
    producer: Producer,
    actor: Any,
    name: str,
    kind: str,
    address: str,
    ward: Any,
    gln: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
) -> Place:
    """A farm, plant, warehouse or shop of the producer. With a GLN (check digit validated) the
    GLN is its location code; without, an internal code ``HN-<ward>-<n>`` is made for it."""
    _require_member(actor, producer)
    name, address, gln = _clean(name), _clean(address), _clean(gln)
    errors: dict[str, Any] = {}
    if not name:
        errors["name"] = MSG_REQUIRED
    if kind not in Place.Kind.values:
        errors["kind"] = MSG_KIND
    if not address:
        errors["address"] = MSG_REQUIRED
    unit = _ward(ward)
    if unit is None:
        errors["ward"] = MSG_WARD
    if gln:
        if not gln_ok(gln):
            errors["gln"] = MSG_GLN
        elif Place.objects.filter(gln=gln).exists() or Place.objects.filter(code=gln).exists():
            errors["gln"] = MSG_GLN_TAKEN
    if latitude is not None and not -90 <= float(latitude) <= 90:
        errors["latitude"] = _("The latitude is between -90 and 90.")
    if longitude is not None and not -180 <= float(longitude) <= 180:
        errors["longitude"] = _("The longitude is between -180 and 180.")
    _raise(errors)
    assert unit is not None
    for _attempt in range(5):
        try:
            with transaction.atomic():
                place = Place.objects.create(
                    producer=producer,
                    name=name[:255],
                    kind=kind,
                    gln=gln,
                    code=gln or _next_code(unit),
                    address=address[:300],
                    ward=unit,
                    latitude=latitude,
                    longitude=longitude,
                )
                audit_record(
                    actor=actor,
                    action="trace.place_add",
                    obj=place,
                    data={"producer": producer.pk, "code": place.code, "kind": kind},
                )
            return place
        except IntegrityError:
            if gln:  # a concurrent registration of the same GLN
                raise ValidationFailed(fields={"gln": MSG_GLN_TAKEN}) from None
            continue  # a concurrent place took the same code: take the next one
    raise ValidationFailed(fields={"name": _("Please try again.")})


def certification_add(
    *,
    producer: Producer,
    actor: Any,
    scheme: str,
    number: str,
    issuer: str,
    valid_from: date | None,
    valid_to: date | None = None,
    product: Product | None = None,
) -> Certification:
    _require_member(actor, producer)
    number, issuer = _clean(number), _clean(issuer)
    errors: dict[str, Any] = {}
    if scheme not in Certification.Scheme.values:
        errors["scheme"] = MSG_SCHEME
    if not number:
        errors["number"] = MSG_REQUIRED
    if not issuer:
        errors["issuer"] = MSG_REQUIRED
    if valid_from is None:
        errors["valid_from"] = MSG_REQUIRED
    elif valid_to is not None and valid_to < valid_from:
        errors["valid_to"] = MSG_DATES
    if product is not None and product.producer_id != producer.pk:
        errors["product"] = MSG_NOT_OWN_PRODUCT
    _raise(errors)
    assert valid_from is not None
    with transaction.atomic():
        certification = Certification.objects.create(
            producer=producer,
            product=product,
            scheme=scheme,
            number=number[:60],
            issuer=issuer[:255],
            valid_from=valid_from,
            valid_to=valid_to,
        )
        audit_record(
            actor=actor,
            action="trace.certification_add",
            obj=certification,
            data={"producer": producer.pk, "scheme": scheme, "number": number},
        )
    return certification


# --- products ----------------------------------------------------------------------------------


def _gtin_errors(errors: dict[str, Any], value: str, producer: Producer) -> str:
    try:
        gtin = identifiers.validate_gtin(value, field="gtin")
    except ValidationFailed as exc:
        errors.update(exc.fields)
        return ""
    prefix = producer.gs1_company_prefix
    if prefix and not gtin.lstrip("0").startswith(prefix) and not gtin[1:].startswith(prefix):
        errors["gtin"] = format_lazy(MSG_GTIN_COMPANY, prefix=prefix)
    elif Product.objects.filter(gtin=gtin).exists():
        errors["gtin"] = MSG_GTIN_TAKEN
    return gtin


def _ocop_errors(
    errors: dict[str, Any],
    *,
    stars: int | None,
    decision: str,
    decided_on: date | None,
    issuer: str,
) -> None:
    if stars is None:
        if decision or decided_on or issuer:
            errors["ocop_stars"] = MSG_OCOP_NO_STARS
        return
    if stars not in (3, 4, 5):
        errors["ocop_stars"] = MSG_STARS
        return
    if not decision:
        errors["ocop_decision"] = MSG_OCOP_DECISION
    if decided_on is None:
        errors["ocop_decided_on"] = MSG_OCOP_DATE
    elif decided_on > timezone.localdate():
        errors["ocop_decided_on"] = MSG_OCOP_FUTURE
    if not issuer:
        errors["ocop_issuer"] = MSG_OCOP_ISSUER


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def product_register(
    *,
    producer: Producer,
    actor: Any,
    gtin: str,
    name: str,
    category: str,
    name_en: str = "",
    description: str = "",
    description_en: str = "",
    trademark: str = "",
    standards: str = "",
    shelf_life_days: int | None = None,
    ocop_stars: int | None = None,
    ocop_decision: str = "",
    ocop_decided_on: date | None = None,
    ocop_issuer: str = "",
    image: Any = None,
) -> Product:
    """A product of the producer: its GTIN (check digit, prefix 893, the producer's company
    prefix when it has one, not registered yet), names, category, standards, shelf life, the
    OCOP stars with the decision that granted them, and an optional JPEG/PNG/WebP image."""
    _require_member(actor, producer)
    name = _clean(name)
    decision, issuer = _clean(ocop_decision), _clean(ocop_issuer)
    stars = _int_or_none(ocop_stars)
    shelf_life = _int_or_none(shelf_life_days)
    errors: dict[str, Any] = {}
    normalized = _gtin_errors(errors, _clean(gtin), producer)
    if not name:
        errors["name"] = MSG_REQUIRED
    if category not in Product.Category.values:
        errors["category"] = MSG_CATEGORY
    if shelf_life is not None and not 1 <= shelf_life <= MAX_SHELF_LIFE_DAYS:
        errors["shelf_life_days"] = MSG_SHELF_LIFE
    _ocop_errors(errors, stars=stars, decision=decision, decided_on=ocop_decided_on, issuer=issuer)
    checked: CheckedImage | None = None
    if image:
        try:
            checked = image_check(image, field="image")
        except ValidationFailed as exc:
            errors.update(exc.fields)
    _raise(errors)
    stored = ""
    try:
        with transaction.atomic():
            if checked is not None:
                stored = image_write(checked)
            product = Product.objects.create(
                producer=producer,
                gtin=normalized,
                name=name[:255],
                name_en=_clean(name_en)[:255],
                category=category,
                image=stored,
                description=_clean(description),
                description_en=_clean(description_en),
                trademark=_clean(trademark)[:200],
                standards=_clean(standards)[:500],
                shelf_life_days=shelf_life,
                ocop_stars=stars,
                ocop_decision=decision[:120] if stars else "",
                ocop_decided_on=ocop_decided_on if stars else None,
                ocop_issuer=issuer[:255] if stars else "",
            )
            audit_record(
                actor=actor,
                action="trace.product_register",
                obj=product,
                data={"producer": producer.pk, "gtin": normalized, "ocop_stars": stars},
            )
    except IntegrityError:
        image_delete(stored)
        raise ValidationFailed(fields={"gtin": MSG_GTIN_TAKEN}) from None
    except BaseException:
        image_delete(stored)
        raise
    return product


# --- batches -----------------------------------------------------------------------------------


def batch_serials(batch: Batch) -> list[str]:
    """The serial numbers of a serialised batch's items: ``<lot>.<n>`` for n = 1…serial_count
    (unique for the GTIN because lots are; the lot is read back as everything before the last
    dot)."""
    return [f"{batch.lot}.{n}" for n in range(1, batch.serial_count + 1)]


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).replace(",", "."))
    except (InvalidOperation, ValueError):
        return Decimal(-1)
    return number if number.is_finite() else Decimal(-1)


def batch_register(
    *,
    product: Product,
    actor: Any,
    lot: str,
    produced_on: date | None,
    expires_on: date | None = None,
    quantity: Any = None,
    unit: str = "",
    place: Place | None = None,
    serial_count: int = 0,
) -> Batch:
    """A batch (lot) of one of the producer's products. The expiry date defaults to the
    production date plus the product's shelf life; the place must be the producer's."""
    producer = product.producer
    _require_member(actor, producer)
    lot = _clean(lot)
    unit = _clean(unit).upper()
    amount = _decimal(quantity)
    serials = _int_or_none(serial_count) or 0
    errors: dict[str, Any] = {}
    if not identifiers.lot_ok(lot):
        errors["lot"] = MSG_LOT
    elif Batch.objects.filter(product=product, lot=lot).exists():
        errors["lot"] = MSG_LOT_TAKEN
    today = timezone.localdate()
    if produced_on is None:
        errors["produced_on"] = MSG_REQUIRED
    elif produced_on > today:
        errors["produced_on"] = MSG_FUTURE
    if expires_on is None and produced_on is not None and product.shelf_life_days:
        expires_on = produced_on + timedelta(days=product.shelf_life_days)
    if expires_on is not None and produced_on is not None and expires_on < produced_on:
        errors["expires_on"] = MSG_EXPIRY
    if amount is not None and amount <= 0:
        errors["quantity"] = MSG_QUANTITY
    if (amount is not None and unit not in UNITS) or (unit and unit not in UNITS):
        errors["unit"] = MSG_UNIT
    if place is not None and place.producer_id != producer.pk:
        errors["place"] = MSG_PLACE
    if not 0 <= serials <= MAX_SERIALS:
        errors["serial_count"] = MSG_SERIALS
    elif serials and "lot" not in errors and len(f"{lot}.{serials}") > 20:
        errors["serial_count"] = MSG_SERIALS_LOT
    _raise(errors)
    assert produced_on is not None
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                product=product,
                lot=lot,
                produced_on=produced_on,
                expires_on=expires_on,
                quantity=amount,
                unit=unit,
                place=place,
                serial_count=serials,
            )
            audit_record(
                actor=actor,
                action="trace.batch_register",
                obj=batch,
                data={"product": product.pk, "lot": lot, "serial_count": serials},
            )
    except IntegrityError:
        raise ValidationFailed(fields={"lot": MSG_LOT_TAKEN}) from None
    return batch
