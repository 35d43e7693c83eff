"""The base registries on the exchange: their members, systems and services (with OpenAPI 3.1
documents that describe exactly what thudo.registries.handlers answers), and the grants the demo
gives the Hanoi portal. The exchange's demo and configuration import read PROVIDERS and
CLIENT_GRANTS; nothing here touches the database.

Every document describes the call as a client system makes it to its own node:
`{METHOD} /exchange/r1/<service identifier>/<path>` with the client assertion and the Thudo-*
headers (docs/exchange.md), and lists the provider's own errors next to the exchange's.
"""

from __future__ import annotations

import copy
from typing import Any

PORTAL = "VN/GOV/HN-UBND/PORTAL"
LEGAL_BASIS = "Nghị định 47/2020/NĐ-CP; Quyết định 06/QĐ-TTg"
OPENAPI_VERSION = "3.1.0"
DOC_VERSION = "1.0.0"

PERSONAL_ID = {"type": "string", "pattern": "^[0-9]{12}$", "examples": ["001090123456"]}
DATE = {"type": "string", "format": "date"}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A closed object schema: every property required, nothing else allowed."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(name: str) -> dict[str, Any]:
    return {"anyOf": [_ref(name), {"type": "null"}]}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message_vi", "message_en"],
                "properties": {
                    "code": {"type": "string", "description": "A stable machine code."},
                    "message": {
                        "type": "string",
                        "description": "In the active language (exchange errors).",
                    },
                    "message_vi": {"type": "string"},
                    "message_en": {"type": "string"},
                    "message_id": {
                        "type": "string",
                        "description": "The Thudo-Message-Id (exchange errors).",
                    },
                    "fields": {
                        "type": "object",
                        "description": "Per-field reasons for an invalid body.",
                        "additionalProperties": {"type": "string"},
                    },
                },
            }
        },
    },
    "Address": _object(
        {
            "address": {"type": "string", "description": "House number, lane, street / village."},
            "ward_code": {"type": "string", "pattern": "^[0-9]{5}$"},
            "ward_name": {"type": "string"},
            "province_code": {"type": "string", "pattern": "^[0-9]{2}$"},
            "province_name": {"type": "string"},
        },
        description="An address with its commune-level unit and province (codes of 2025).",
    ),
    "Person": _object(
        {
            "personal_id": PERSONAL_ID,
            "full_name": {"type": "string"},
            "birth_date": DATE,
            "sex": {"type": "string", "enum": ["male", "female"]},
            "nationality": {"type": "string"},
            "ethnicity": {"type": "string"},
            "hometown": {"type": "string", "description": "Quê quán."},
            "birth_place": {"type": "string", "description": "Nơi đăng ký khai sinh."},
            "permanent_address": _nullable("Address"),
            "household_code": {"type": ["string", "null"]},
            "relation_to_head": {
                "type": ["string", "null"],
                "enum": ["head", "spouse", "child", "parent", "other", None],
            },
        },
        description="A resident in the national population database.",
    ),
    "HouseholdMember": _object(
        {
            "personal_id": PERSONAL_ID,
            "full_name": {"type": "string"},
            "birth_date": DATE,
            "sex": {"type": "string", "enum": ["male", "female"]},
            "relation": {
                "type": ["string", "null"],
                "enum": ["head", "spouse", "child", "parent", "other", None],
            },
        }
    ),
    "Household": _object(
        {
            "household_code": {"type": "string"},
            "address": _ref("Address"),
            "head_personal_id": {"anyOf": [PERSONAL_ID, {"type": "null"}]},
            "members": {"type": "array", "items": _ref("HouseholdMember"), "minItems": 1},
        },
        description="A household and its members: head first, then spouse, parents, children.",
    ),
    "VerifyRequest": {
        "type": "object",
        "required": ["personal_id", "full_name", "birth_date"],
        "properties": {
            "personal_id": PERSONAL_ID,
            "full_name": {
                "type": "string",
                "description": "Compared exactly after Unicode NFC normalization and "
                "whitespace collapse; case and diacritics count.",
            },
            "birth_date": DATE,
        },
    },
    "VerifyResult": _object({"match": {"type": "boolean"}}),
    "Business": _object(
        {
            "code": {"type": "string", "pattern": "^[0-9]{10}(-[0-9]{3})?$"},
            "name": {"type": "string"},
            "name_en": {"type": "string"},
            "kind": {
                "type": "string",
                "enum": ["llc", "jsc", "private", "cooperative", "household"],
            },
            "status": {"type": "string", "enum": ["active", "suspended", "dissolved"]},
            "registered_on": DATE,
            "head_office": _ref("Address"),
            "representative_personal_id": PERSONAL_ID,
            "charter_capital": {"type": "integer", "minimum": 0, "description": "VND."},
            "industry_codes": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[0-9]{4,5}$"},
                "description": "VSIC codes.",
            },
        },
        description="A business in the national business registration database.",
    ),
    "BusinessList": _object(
        {
            "representative_personal_id": PERSONAL_ID,
            "businesses": {"type": "array", "items": _ref("Business")},
        }
    ),
    "Parcel": _object(
        {
            "ward_code": {"type": "string", "pattern": "^[0-9]{5}$"},
            "ward_name": {"type": "string"},
            "province_code": {"type": "string"},
            "province_name": {"type": "string"},
            "map_sheet": {"type": "integer", "minimum": 1},
            "parcel_number": {"type": "integer", "minimum": 1},
            "address": {"type": "string"},
            "area_m2": {"type": "number", "exclusiveMinimum": 0},
            "land_use": {
                "type": "string",
                "description": "Land use code (ODT, ONT, LUC, CLN, TMD, SKC, ...).",
            },
            "land_use_name": {"type": "string"},
            "use_term": {"type": "string"},
            "certificate_number": {"type": "string"},
            "certificate_issued_on": NULLABLE_DATE,
            "owner_personal_ids": {"type": "array", "items": PERSONAL_ID},
            "owner_business_code": {"type": ["string", "null"]},
        },
        description="A land parcel with its land-use right certificate and right holders.",
    ),
    "ParcelList": _object(
        {
            "owner_personal_id": PERSONAL_ID,
            "parcels": {"type": "array", "items": _ref("Parcel")},
        }
    ),
    "Insurance": _object(
        {
            "personal_id": PERSONAL_ID,
            "insurance_number": {"type": "string", "pattern": "^[0-9]{10}$"},
            "status": {
                "type": "string",
                "enum": ["contributing", "paused", "retired", "voluntary"],
            },
            "employer": {
                "anyOf": [
                    _object({"code": {"type": "string"}, "name": {"type": "string"}}),
                    {"type": "null"},
                ]
            },
            "contributing_since": NULLABLE_DATE,
            "months_contributed": {"type": "integer", "minimum": 0},
            "salary_basis": {"type": "integer", "minimum": 0, "description": "VND a month."},
            "health_card": {
                "anyOf": [
                    _object(
                        {
                            "number": {
                                "type": "string",
                                "pattern": "^[A-Z]{2}[0-9]{13}$",
                                "examples": ["DN4010123456789"],
                            },
                            "valid_to": NULLABLE_DATE,
                            "facility": {"type": "string"},
                        }
                    ),
                    {"type": "null"},
                ]
            },
        },
        description="A social insurance book and the health insurance card.",
    ),
}

HEADER_PARAMETERS: dict[str, dict[str, Any]] = {
    "MessageId": {
        "name": "Thudo-Message-Id",
        "in": "header",
        "required": True,
        "description": "Chosen by the client; a retry reuses it (idempotency key).",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
    },
    "Purpose": {
        "name": "Thudo-Purpose",
        "in": "header",
        "required": True,
        "description": "The legal basis and purpose, percent-encoded UTF-8.",
        "schema": {"type": "string", "minLength": 1},
    },
    "Dossier": {
        "name": "Thudo-Dossier",
        "in": "header",
        "required": False,
        "description": "The dossier code when acting on a dossier.",
        "schema": {"type": "string"},
    },
    "EndUser": {
        "name": "Thudo-End-User",
        "in": "header",
        "required": False,
        "description": 'The personal ID of the citizen, or "official:<username>".',
        "schema": {"type": "string"},
    },
}


def _subject(personal: bool) -> dict[str, Any]:
    return {
        "name": "Thudo-Subject",
        "in": "header",
        "required": personal,
        "description": (
            "The personal ID the data is about; it must be the person asked about."
            if personal
            else "The personal ID the call is about, when there is one."
        ),
        "schema": PERSONAL_ID,
    }


RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "MessageId": {"description": "The request's message id.", "schema": {"type": "string"}},
    "Signature": {
        "description": "The provider node's compact JWS over the response claims.",
        "schema": {"type": "string"},
    },
    "LogIndex": {
        "description": "The index of this exchange in the client node's log.",
        "schema": {"type": "integer", "minimum": 0},
    },
}

EXCHANGE_ERRORS = {
    "401": "unknown_client, bad_client_assertion, replayed_assertion, bad_signature.",
    "403": "access_denied (no grant), grant_expired, grant_revoked.",
    "409": "replayed_message: the message id was used for a different request.",
    "502": "provider_unreachable.",
    "504": "provider_timeout.",
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Thudo-Message-Id": {"$ref": "#/components/headers/MessageId"}},
        "content": {"application/json": {"schema": ERROR_REF}},
    }


def _refs(node: Any) -> set[str]:
    """The component schema names a schema refers to (directly)."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _needed(names: list[str]) -> dict[str, Any]:
    """The named schemas and every schema they refer to."""
    wanted: set[str] = set()
    todo = ["Error", *names]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(_refs(SCHEMAS[name]))
    return {name: SCHEMAS[name] for name in sorted(wanted)}


def openapi(
    *,
    identifier: str,
    title: str,
    description: str,
    method: str,
    path: str,
    operation_id: str,
    parameters: list[dict[str, Any]],
    ok: str,
    errors_400: str,
    errors_404: str,
    personal: bool,
    body: str = "",
) -> dict[str, Any]:
    """An OpenAPI 3.1 document for one registry service, as called through the exchange."""
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": title,
        "description": description,
        "parameters": [
            *parameters,
            *({"$ref": f"#/components/parameters/{n}"} for n in HEADER_PARAMETERS),
            _subject(personal),
        ],
        "responses": {
            "200": {
                "description": "The registry's answer.",
                "headers": {
                    "Thudo-Message-Id": {"$ref": "#/components/headers/MessageId"},
                    "Thudo-Signature": {"$ref": "#/components/headers/Signature"},
                    "Thudo-Log-Index": {"$ref": "#/components/headers/LogIndex"},
                },
                "content": {"application/json": {"schema": _ref(ok)}},
            },
            "400": _error_response(
                f"{errors_400} From the exchange: malformed_request, subject_required."
            ),
            "401": _error_response(EXCHANGE_ERRORS["401"]),
            "403": _error_response(EXCHANGE_ERRORS["403"]),
            "404": _error_response(f"{errors_404} From the exchange: unknown_service."),
            "405": {
                **_error_response("method_not_allowed (the provider's answer)."),
                "headers": {
                    "Thudo-Message-Id": {"$ref": "#/components/headers/MessageId"},
                    "Allow": {
                        "description": "The method it accepts.",
                        "schema": {"type": "string"},
                    },
                },
            },
            "409": _error_response(EXCHANGE_ERRORS["409"]),
            "502": _error_response(EXCHANGE_ERRORS["502"]),
            "504": _error_response(EXCHANGE_ERRORS["504"]),
        },
    }
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": DOC_VERSION, "description": description},
        "servers": [
            {
                "url": f"/exchange/r1/{identifier}",
                "description": "The client system's own Thudo node (relative to its base URL).",
            }
        ],
        "security": [{"clientAssertion": []}],
        "paths": {path: {method.lower(): operation}},
        "components": {
            "schemas": _needed([ok, body] if body else [ok]),
            "parameters": HEADER_PARAMETERS,
            "headers": RESPONSE_HEADERS,
            "securitySchemes": {
                "clientAssertion": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A client assertion: a JWS signed by the client system's "
                    "key (EdDSA or ES256), iss = sub = the system identifier, aud = the node's "
                    "base URL, exp at most 300 s after iat, a unique jti.",
                }
            },
        },
        "x-thudo-service": identifier,
        "x-thudo-personal-data": personal,
    }
    return copy.deepcopy(document)  # no dict shared between documents


def _path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def _query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "description": description,
        "schema": schema,
    }


PID_PATH = _path_param("personal_id", PERSONAL_ID, "The 12-digit personal ID number.")
BAD_PID = "invalid_personal_id, subject_mismatch."

POPULATION = "VN/GOV/BCA/CSDLQGDC"
BUSINESS = "VN/GOV/BTC/DKKD"
LAND = "VN/GOV/HN-SNNMT/CSDLDD"
INSURANCE = "VN/GOV/BHXH/CSDLBH"

PROVIDERS: list[dict[str, Any]] = [
    {
        "member": {
            "member_class": "GOV",
            "code": "BCA",
            "name": "Bộ Công an",
            "name_en": "Ministry of Public Security",
            "agency_code": "",
        },
        "system": {
            "code": "CSDLQGDC",
            "name": "Cơ sở dữ liệu quốc gia về dân cư",
            "name_en": "National population database",
        },
        "services": [
            {
                "code": "person",
                "name": "Thông tin công dân",
                "name_en": "Resident's identity",
                "description": "Họ tên, ngày sinh, giới tính, quốc tịch, dân tộc, quê quán, "
                "nơi đăng ký khai sinh, nơi thường trú, mã hộ và quan hệ với chủ hộ của một "
                "công dân, theo số định danh cá nhân.",
                "description_en": "A resident's name, birth date, sex, nationality, ethnicity, "
                "hometown, place of birth registration, permanent residence, household code "
                "and relation to the head, by personal ID number.",
                "target": "handler:registries.population.person",
                "personal_data": True,
                "openapi": openapi(
                    identifier=f"{POPULATION}/person",
                    title="Resident's identity",
                    description="GET person/{personal_id}: one resident of the national "
                    "population database.",
                    method="GET",
                    path="/person/{personal_id}",
                    operation_id="getPerson",
                    parameters=[PID_PATH],
                    ok="Person",
                    errors_400=BAD_PID,
                    errors_404="person_not_found, unknown_path.",
                    personal=True,
                ),
            },
            {
                "code": "household",
                "name": "Thông tin hộ gia đình",
                "name_en": "Household members",
                "description": "Hộ gia đình của công dân: mã hộ, nơi thường trú, chủ hộ và "
                "các thành viên (số định danh, họ tên, ngày sinh, giới tính, quan hệ).",
                "description_en": "The resident's household: code, permanent address, head "
                "and members (personal ID, name, birth date, sex, relation).",
                "target": "handler:registries.population.household",
                "personal_data": True,
                "openapi": openapi(
                    identifier=f"{POPULATION}/household",
                    title="Household members",
                    description="GET household/{personal_id}: the household this resident "
                    "belongs to, with its members.",
                    method="GET",
                    path="/household/{personal_id}",
                    operation_id="getHousehold",
                    parameters=[PID_PATH],
                    ok="Household",
                    errors_400=BAD_PID,
                    errors_404="person_not_found, household_not_found, unknown_path.",
                    personal=True,
                ),
            },
            {
                "code": "verify",
                "name": "Xác thực thông tin công dân",
                "name_en": "Identity verification",
                "description": "Đối chiếu số định danh, họ tên và ngày sinh với cơ sở dữ liệu "
                "dân cư; chỉ trả lời khớp hay không.",
                "description_en": "Checks a personal ID, full name and birth date against the "
                "population database; answers only whether they match.",
                "target": "handler:registries.population.verify",
                "personal_data": True,
                "openapi": openapi(
                    identifier=f"{POPULATION}/verify",
                    title="Identity verification",
                    description="POST verify {personal_id, full_name, birth_date}: match is "
                    "true when all three agree with the registry (the name exactly, after "
                    "Unicode NFC normalization and whitespace collapse). An unknown number "
                    "is no match.",
                    method="POST",
                    path="/verify",
                    operation_id="verifyPerson",
                    parameters=[],
                    ok="VerifyResult",
                    body="VerifyRequest",
                    errors_400=f"invalid_body (with fields), {BAD_PID}",
                    errors_404="unknown_path.",
                    personal=True,
                ),
            },
        ],
    },
    {
        "member": {
            "member_class": "GOV",
            "code": "BTC",
            "name": "Bộ Tài chính",
            "name_en": "Ministry of Finance",
            "agency_code": "",
        },
        "system": {
            "code": "DKKD",
            "name": "Hệ thống thông tin quốc gia về đăng ký doanh nghiệp",
            "name_en": "National business registration system",
        },
        "services": [
            {
                "code": "business",
                "name": "Thông tin doanh nghiệp",
                "name_en": "Business details",
                "description": "Tên, loại hình, tình trạng, ngày đăng ký lần đầu, trụ sở, "
                "người đại diện theo pháp luật, vốn điều lệ và ngành nghề của một doanh "
                "nghiệp theo mã số doanh nghiệp.",
                "description_en": "A business's name, type, status, first registration, head "
                "office, legal representative, charter capital and industries, by enterprise "
                "code.",
                "target": "handler:registries.business.business",
                "personal_data": False,
                "openapi": openapi(
                    identifier=f"{BUSINESS}/business",
                    title="Business details",
                    description="GET business/{code}: one registered business.",
                    method="GET",
                    path="/business/{code}",
                    operation_id="getBusiness",
                    parameters=[
                        _path_param(
                            "code",
                            {"type": "string", "pattern": "^[0-9]{10}(-[0-9]{3})?$"},
                            "The enterprise code (10 digits; a branch adds -NNN).",
                        )
                    ],
                    ok="Business",
                    errors_400="invalid_business_code.",
                    errors_404="business_not_found, unknown_path.",
                    personal=False,
                ),
            },
            {
                "code": "businesses",
                "name": "Doanh nghiệp do công dân đại diện",
                "name_en": "Businesses a person represents",
                "description": "Các doanh nghiệp và hộ kinh doanh mà công dân là người đại "
                "diện theo pháp luật (mọi tình trạng).",
                "description_en": "The businesses and household businesses a person legally "
                "represents (any status).",
                "target": "handler:registries.business.businesses",
                "personal_data": True,
                "openapi": openapi(
                    identifier=f"{BUSINESS}/businesses",
                    title="Businesses a person represents",
                    description="GET businesses?representative={personal_id}: an empty list "
                    "when the person represents none.",
                    method="GET",
                    path="/businesses",
                    operation_id="listBusinessesByRepresentative",
                    parameters=[
                        _query_param(
                            "representative", PERSONAL_ID, "The representative's personal ID."
                        )
                    ],
                    ok="BusinessList",
                    errors_400=BAD_PID,
                    errors_404="unknown_path.",
                    personal=True,
                ),
            },
        ],
    },
    {
        "member": {
            "member_class": "GOV",
            "code": "HN-SNNMT",
            "name": "Sở Nông nghiệp và Môi trường Hà Nội",
            "name_en": "Hanoi Department of Agriculture and Environment",
            "agency_code": "HN-SNNMT",
        },
        "system": {
            "code": "CSDLDD",
            "name": "Cơ sở dữ liệu đất đai Hà Nội",
            "name_en": "Hanoi land database",
        },
        "services": [
            {
                "code": "parcels",
                "name": "Thửa đất của người sử dụng đất",
                "name_en": "Parcels of a right holder",
                "description": "Các thửa đất mà công dân có quyền sử dụng: vị trí, tờ bản đồ, "
                "số thửa, diện tích, mục đích và thời hạn sử dụng, giấy chứng nhận.",
                "description_en": "The parcels a person holds land-use rights to: location, "
                "map sheet, parcel number, area, land use and term, certificate.",
                "target": "handler:registries.land.parcels",
                "personal_data": True,
                "openapi": openapi(
                    identifier=f"{LAND}/parcels",
                    title="Parcels of a right holder",
                    description="GET parcels?owner={personal_id}: an empty list when the "
                    "person holds none.",
                    method="GET",
                    path="/parcels",
                    operation_id="listParcelsByOwner",
                    parameters=[
                        _query_param("owner", PERSONAL_ID, "The right holder's personal ID.")
                    ],
                    ok="ParcelList",
                    errors_400=BAD_PID,
                    errors_404="unknown_path.",
                    personal=True,
                ),
            },
            {
                "code": "parcel",
                "name": "Thông tin thửa đất",
                "name_en": "Parcel details",
                "description": "Một thửa đất theo mã xã/phường, số tờ bản đồ và số thửa, với "
                "giấy chứng nhận và người sử dụng đất.",
                "description_en": "One parcel by ward code, map sheet and parcel number, with "
                "its certificate and right holders.",
                "target": "handler:registries.land.parcel",
                "personal_data": False,
                "openapi": openapi(
                    identifier=f"{LAND}/parcel",
                    title="Parcel details",
                    description="GET parcel/{ward_code}/{map_sheet}/{parcel_number}.",
                    method="GET",
                    path="/parcel/{ward_code}/{map_sheet}/{parcel_number}",
                    operation_id="getParcel",
                    parameters=[
                        _path_param(
                            "ward_code",
                            {"type": "string", "pattern": "^[0-9]{5}$"},
                            "The commune-level unit's code.",
                        ),
                        _path_param(
                            "map_sheet", {"type": "integer", "minimum": 1}, "The map sheet."
                        ),
                        _path_param(
                            "parcel_number",
                            {"type": "integer", "minimum": 1},
                            "The parcel number on the sheet.",
                        ),
                    ],
                    ok="Parcel",
                    errors_400="invalid_parcel.",
                    errors_404="parcel_not_found, unknown_path.",
                    personal=False,
                ),
            },
        ],
    },
    {
        "member": {
            "member_class": "GOV",
            "code": "BHXH",
            "name": "Bảo hiểm xã hội Việt Nam",
            "name_en": "Vietnam Social Security",
            "agency_code": "",
        },
        "system": {
            "code": "CSDLBH",
            "name": "Cơ sở dữ liệu quốc gia về bảo hiểm",
            "name_en": "National insurance database",
        },
        "services": [
            {
                "code": "insurance",
                "name": "Thông tin bảo hiểm xã hội, bảo hiểm y tế",
                "name_en": "Social and health insurance",
                "description": "Số sổ bảo hiểm xã hội, tình trạng tham gia, đơn vị sử dụng lao "
                "động, thời gian đóng, mức lương đóng và thẻ bảo hiểm y tế của công dân.",
                "description_en": "A person's social insurance number, status, employer, "
                "contribution period and salary, and health insurance card.",
                "target": "handler:registries.insurance.insurance",
                "personal_data": True,
                "openapi": openapi(
                    identifier=f"{INSURANCE}/insurance",
                    title="Social and health insurance",
                    description="GET insurance/{personal_id}: the social insurance book and "
                    "the health insurance card.",
                    method="GET",
                    path="/insurance/{personal_id}",
                    operation_id="getInsurance",
                    parameters=[PID_PATH],
                    ok="Insurance",
                    errors_400=BAD_PID,
                    errors_404="insurance_not_found, unknown_path.",
                    personal=True,
                ),
            },
        ],
    },
]


def service_identifiers() -> list[str]:
    """Every registry service identifier, e.g. VN/GOV/BCA/CSDLQGDC/person."""
    return [
        f"VN/{p['member']['member_class']}/{p['member']['code']}/{p['system']['code']}/{s['code']}"
        for p in PROVIDERS
        for s in p["services"]
    ]


CLIENT_GRANTS: list[dict[str, str]] = [
    {"client": PORTAL, "service": identifier, "legal_basis": LEGAL_BASIS}
    for identifier in service_identifiers()
]
