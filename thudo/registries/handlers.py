"""The base registries as exchange services: one provider handler per service, registered under
"registries.<registry>.<service>" (RegistriesConfig.ready) and called by the provider's node after
it has checked the client, the grant and the signature (thudo.exchange.handlers).

Each handler reads one registry's own tables (never another registry's), with one or two queries,
and answers JSON. Errors are `{"error": {"code", "message_vi", "message_en"}}` (plus "fields" for
an invalid body): 400 for a malformed identifier, query or body, or a Thudo-Subject that is not the
person asked about; 404 for an unknown path or record; 405 for a wrong method (with Allow).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any

from thudo.accounts.personal_id import parse_personal_id
from thudo.core.errors import ValidationFailed
from thudo.core.models import AdminUnit
from thudo.exchange.handlers import ProviderRequest, ProviderResponse, register

from .models import Business, InsuranceRecord, LandParcel, Person

LAND_USE_NAMES = {
    "ODT": "Đất ở tại đô thị",
    "ONT": "Đất ở tại nông thôn",
    "LUC": "Đất chuyên trồng lúa nước",
    "CLN": "Đất trồng cây lâu năm",
    "TMD": "Đất thương mại, dịch vụ",
    "SKC": "Đất cơ sở sản xuất phi nông nghiệp",
}
RELATION_ORDER = {"head": 0, "spouse": 1, "parent": 2, "child": 3, "other": 4}
BUSINESS_CODE = re.compile(r"^\d{10}(-\d{3})?$")
WARD_CODE = re.compile(r"^\d{5}$")
NUMBER = re.compile(r"^[1-9]\d{0,8}$")

# (code, HTTP status, Vietnamese, English)
ERRORS: dict[str, tuple[int, str, str]] = {
    "unknown_path": (
        404,
        "Dịch vụ không có đường dẫn này.",
        "This service has no such path.",
    ),
    "method_not_allowed": (
        405,
        "Dịch vụ không nhận phương thức này.",
        "This service does not accept this method.",
    ),
    "invalid_personal_id": (
        400,
        "Số định danh cá nhân không hợp lệ.",
        "The personal ID number is not valid.",
    ),
    "subject_mismatch": (
        400,
        "Thudo-Subject phải là số định danh cá nhân của người được tra cứu.",
        "Thudo-Subject must be the personal ID number of the person asked about.",
    ),
    "person_not_found": (
        404,
        "Không có công dân với số định danh này trong cơ sở dữ liệu quốc gia về dân cư.",
        "No resident with this personal ID number in the national population database.",
    ),
    "household_not_found": (
        404,
        "Công dân này chưa được ghi nhận thuộc hộ gia đình nào.",
        "This resident is not recorded in any household.",
    ),
    "invalid_body": (
        400,
        "Nội dung yêu cầu không hợp lệ.",
        "The request body is not valid.",
    ),
    "invalid_business_code": (
        400,
        "Mã số doanh nghiệp gồm 10 chữ số (chi nhánh: thêm -NNN).",
        "An enterprise code has 10 digits (a branch adds -NNN).",
    ),
    "business_not_found": (
        404,
        "Không có doanh nghiệp với mã số này.",
        "No business with this enterprise code.",
    ),
    "invalid_parcel": (
        400,
        "Thửa đất được xác định bởi mã xã/phường (5 chữ số), số tờ bản đồ và số thửa.",
        "A parcel is identified by a ward code (5 digits), a map sheet and a parcel number.",
    ),
    "parcel_not_found": (
        404,
        "Không có thửa đất này trong cơ sở dữ liệu đất đai.",
        "No such parcel in the land database.",
    ),
    "insurance_not_found": (
        404,
        "Không có sổ bảo hiểm xã hội cho số định danh này.",
        "No social insurance record for this personal ID number.",
    ),
}


def error(code: str, *, fields: dict[str, str] | None = None) -> ProviderResponse:
    status, vi, en = ERRORS[code]
    body: dict[str, Any] = {"code": code, "message_vi": vi, "message_en": en}
    if fields:
        body["fields"] = fields
    return ProviderResponse(status, {"error": body})


def _method_not_allowed(allowed: str) -> ProviderResponse:
    response = error("method_not_allowed")
    return ProviderResponse(response.status, response.data, {"Allow": allowed})


def _route(
    request: ProviderRequest, method: str, pattern: re.Pattern[str]
) -> re.Match[str] | ProviderResponse:
    """The path's match, or the error answer: 404 for another path, 405 for another method."""
    match = pattern.match(request.path.strip("/"))
    if match is None:
        return error("unknown_path")
    if request.method.upper() != method:
        return _method_not_allowed(method)
    return match


def _personal_id(value: str, request: ProviderRequest) -> str | ProviderResponse:
    """The checked number, or 400: malformed, or not the Thudo-Subject the caller declared."""
    try:
        number = parse_personal_id(value).number
    except ValidationFailed:
        return error("invalid_personal_id")
    if request.subject and request.subject != number:
        return error("subject_mismatch")
    return number


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def address_data(address: str, ward: AdminUnit) -> dict[str, str]:
    """An address with its ward and province (ward.parent must be loaded)."""
    province = ward.parent
    return {
        "address": address,
        "ward_code": ward.code,
        "ward_name": ward.name,
        "province_code": province.code if province else "",
        "province_name": province.name if province else "",
    }


def person_data(person: Person) -> dict[str, Any]:
    household = person.household
    return {
        "personal_id": person.personal_id,
        "full_name": person.full_name,
        "birth_date": person.birth_date.isoformat(),
        "sex": person.sex,
        "nationality": person.nationality,
        "ethnicity": person.ethnicity,
        "hometown": person.hometown,
        "birth_place": person.birth_place,
        "permanent_address": (
            address_data(household.address, household.ward) if household else None
        ),
        "household_code": household.code if household else None,
        "relation_to_head": person.relation_to_head or None,
    }


# --- population (VN/GOV/BCA/CSDLQGDC) ---------------------------------------------------------

PERSON_PATH = re.compile(r"^person/(?P<pid>[^/]*)$")
HOUSEHOLD_PATH = re.compile(r"^household/(?P<pid>[^/]*)$")
VERIFY_PATH = re.compile(r"^verify$")


def population_person(request: ProviderRequest) -> ProviderResponse:
    """GET person/{personal_id}: the resident's identity and permanent residence."""
    match = _route(request, "GET", PERSON_PATH)
    if isinstance(match, ProviderResponse):
        return match
    number = _personal_id(match["pid"], request)
    if isinstance(number, ProviderResponse):
        return number
    person = (
        Person.objects.select_related("household__ward__parent").filter(personal_id=number).first()
    )
    if person is None:
        return error("person_not_found")
    return ProviderResponse(200, person_data(person))


def population_household(request: ProviderRequest) -> ProviderResponse:
    """GET household/{personal_id}: the household the resident belongs to, with its members."""
    match = _route(request, "GET", HOUSEHOLD_PATH)
    if isinstance(match, ProviderResponse):
        return match
    number = _personal_id(match["pid"], request)
    if isinstance(number, ProviderResponse):
        return number
    person = (
        Person.objects.select_related("household__ward__parent")
        .filter(personal_id=number)
        .only(
            "personal_id",
            "household__code",
            "household__address",
            "household__ward__code",
            "household__ward__name",
            "household__ward__parent__code",
            "household__ward__parent__name",
        )
        .first()
    )
    if person is None:
        return error("person_not_found")
    household = person.household
    if household is None:
        return error("household_not_found")
    members = sorted(
        Person.objects.filter(household=household).values_list(
            "personal_id", "full_name", "birth_date", "sex", "relation_to_head"
        ),
        key=lambda m: (RELATION_ORDER.get(m[4], 9), m[2], m[0]),
    )
    head = next((m[0] for m in members if m[4] == Person.Relation.HEAD), None)
    return ProviderResponse(
        200,
        {
            "household_code": household.code,
            "address": address_data(household.address, household.ward),
            "head_personal_id": head,
            "members": [
                {
                    "personal_id": pid,
                    "full_name": name,
                    "birth_date": born.isoformat(),
                    "sex": sex,
                    "relation": relation or None,
                }
                for pid, name, born, sex, relation in members
            ],
        },
    )


def normalize_name(value: str) -> str:
    """Unicode NFC with runs of whitespace collapsed to one space; case and accents are kept."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def population_verify(request: ProviderRequest) -> ProviderResponse:
    """POST verify {personal_id, full_name, birth_date} -> {match}: whether all three agree.

    The name must equal the registered one after Unicode NFC normalization and whitespace
    collapse (case and diacritics count: "Nguyen Van An" does not match "Nguyễn Văn An"). An
    unknown number is simply no match; nothing else about the person is disclosed.
    """
    match = _route(request, "POST", VERIFY_PATH)
    if isinstance(match, ProviderResponse):
        return match
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return error("invalid_body", fields={"body": "not JSON"})
    if not isinstance(body, dict):
        return error("invalid_body", fields={"body": "must be a JSON object"})
    fields: dict[str, str] = {}
    for name in ("personal_id", "full_name", "birth_date"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            fields[name] = "required, a non-empty string"
    born: date | None = None
    if "birth_date" not in fields:
        try:
            born = date.fromisoformat(body["birth_date"])
        except ValueError:
            fields["birth_date"] = "must be a date YYYY-MM-DD"
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["birth_date"]):
            fields["birth_date"] = "must be a date YYYY-MM-DD"
    if fields:
        return error("invalid_body", fields=fields)
    number = _personal_id(body["personal_id"], request)
    if isinstance(number, ProviderResponse):
        return number
    found = Person.objects.filter(personal_id=number).values("full_name", "birth_date").first()
    matched = (
        found is not None
        and normalize_name(found["full_name"]) == normalize_name(body["full_name"])
        and found["birth_date"] == born
    )
    return ProviderResponse(200, {"match": matched})


# --- business registration (VN/GOV/BTC/DKKD) --------------------------------------------------

BUSINESS_PATH = re.compile(r"^business/(?P<code>[^/]*)$")
BUSINESSES_PATH = re.compile(r"^businesses$")


def business_data(business: Business) -> dict[str, Any]:
    return {
        "code": business.code,
        "name": business.name,
        "name_en": business.name_en,
        "kind": business.kind,
        "status": business.status,
        "registered_on": business.registered_on.isoformat(),
        "head_office": address_data(business.address, business.ward),
        "representative_personal_id": business.representative_id,
        "charter_capital": business.charter_capital,
        "industry_codes": list(business.industry_codes or []),
    }


def business_business(request: ProviderRequest) -> ProviderResponse:
    """GET business/{code}: one registered business by its enterprise code."""
    match = _route(request, "GET", BUSINESS_PATH)
    if isinstance(match, ProviderResponse):
        return match
    code = match["code"]
    if not BUSINESS_CODE.match(code):
        return error("invalid_business_code")
    business = Business.objects.select_related("ward__parent").filter(code=code).first()
    if business is None:
        return error("business_not_found")
    return ProviderResponse(200, business_data(business))


def business_businesses(request: ProviderRequest) -> ProviderResponse:
    """GET businesses?representative={personal_id}: the businesses a person legally represents
    (every status; an empty list when none)."""
    match = _route(request, "GET", BUSINESSES_PATH)
    if isinstance(match, ProviderResponse):
        return match
    number = _personal_id(str(request.query.get("representative") or ""), request)
    if isinstance(number, ProviderResponse):
        return number
    businesses = Business.objects.select_related("ward__parent").filter(representative_id=number)
    return ProviderResponse(
        200,
        {
            "representative_personal_id": number,
            "businesses": [business_data(b) for b in businesses.order_by("code")],
        },
    )


# --- land (VN/GOV/HN-SNNMT/CSDLDD) ------------------------------------------------------------

PARCELS_PATH = re.compile(r"^parcels$")
PARCEL_PATH = re.compile(r"^parcel/(?P<ward>[^/]*)/(?P<sheet>[^/]*)/(?P<number>[^/]*)$")


def parcel_data(parcel: LandParcel) -> dict[str, Any]:
    return {
        "ward_code": parcel.ward.code,
        "ward_name": parcel.ward.name,
        "province_code": parcel.ward.parent.code if parcel.ward.parent else "",
        "province_name": parcel.ward.parent.name if parcel.ward.parent else "",
        "map_sheet": parcel.map_sheet,
        "parcel_number": parcel.parcel_number,
        "address": parcel.address,
        "area_m2": float(parcel.area_m2),
        "land_use": parcel.land_use,
        "land_use_name": LAND_USE_NAMES.get(parcel.land_use, parcel.land_use),
        "use_term": parcel.use_term,
        "certificate_number": parcel.certificate_number,
        "certificate_issued_on": _iso(parcel.certificate_issued_on),
        "owner_personal_ids": sorted(o.personal_id for o in parcel.owners.all()),
        "owner_business_code": parcel.owner_business_code or None,
    }


def land_parcels(request: ProviderRequest) -> ProviderResponse:
    """GET parcels?owner={personal_id}: the parcels a person holds rights to."""
    match = _route(request, "GET", PARCELS_PATH)
    if isinstance(match, ProviderResponse):
        return match
    number = _personal_id(str(request.query.get("owner") or ""), request)
    if isinstance(number, ProviderResponse):
        return number
    parcels = (
        LandParcel.objects.select_related("ward__parent")
        .prefetch_related("owners")
        .filter(owners__personal_id=number)
        .order_by("ward__code", "map_sheet", "parcel_number")
    )
    return ProviderResponse(
        200, {"owner_personal_id": number, "parcels": [parcel_data(p) for p in parcels]}
    )


def land_parcel(request: ProviderRequest) -> ProviderResponse:
    """GET parcel/{ward_code}/{map_sheet}/{parcel_number}: one parcel and its right holders."""
    match = _route(request, "GET", PARCEL_PATH)
    if isinstance(match, ProviderResponse):
        return match
    if not (
        WARD_CODE.match(match["ward"])
        and NUMBER.match(match["sheet"])
        and NUMBER.match(match["number"])
    ):
        return error("invalid_parcel")
    parcel = (
        LandParcel.objects.select_related("ward__parent")
        .prefetch_related("owners")
        .filter(
            ward__code=match["ward"],
            map_sheet=int(match["sheet"]),
            parcel_number=int(match["number"]),
        )
        .first()
    )
    if parcel is None:
        return error("parcel_not_found")
    return ProviderResponse(200, parcel_data(parcel))


# --- social insurance (VN/GOV/BHXH/CSDLBH) ----------------------------------------------------

INSURANCE_PATH = re.compile(r"^insurance/(?P<pid>[^/]*)$")


def insurance_insurance(request: ProviderRequest) -> ProviderResponse:
    """GET insurance/{personal_id}: the social insurance book and the health insurance card."""
    match = _route(request, "GET", INSURANCE_PATH)
    if isinstance(match, ProviderResponse):
        return match
    number = _personal_id(match["pid"], request)
    if isinstance(number, ProviderResponse):
        return number
    record = InsuranceRecord.objects.filter(personal_id=number).first()
    if record is None:
        return error("insurance_not_found")
    return ProviderResponse(
        200,
        {
            "personal_id": record.personal_id,
            "insurance_number": record.insurance_number,
            "status": record.status,
            "employer": (
                {"code": record.employer_code, "name": record.employer_name}
                if record.employer_code
                else None
            ),
            "contributing_since": _iso(record.contributing_since),
            "months_contributed": record.months_contributed,
            "salary_basis": record.salary_basis,
            "health_card": (
                {
                    "number": record.health_card_number,
                    "valid_to": _iso(record.health_card_valid_to),
                    "facility": record.health_facility,
                }
                if record.health_card_number
                else None
            ),
        },
    )


HANDLERS: dict[str, Callable[[ProviderRequest], ProviderResponse]] = {
    "registries.population.person": population_person,
    "registries.population.household": population_household,
    "registries.population.verify": population_verify,
    "registries.business.business": business_business,
    "registries.business.businesses": business_businesses,
    "registries.land.parcels": land_parcels,
    "registries.land.parcel": land_parcel,
    "registries.insurance.insurance": insurance_insurance,
}


def register_all() -> None:
    for key, handler in HANDLERS.items():
        register(key, handler)
