"""The registries' catalogue: the members, systems, services and grants the exchange loads, and
OpenAPI 3.1 documents that are well formed and describe what the handlers really answer."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from thudo.exchange import handlers as exchange_handlers
from thudo.exchange.handlers import ProviderResponse
from thudo.registries.catalogue import CLIENT_GRANTS, LEGAL_BASIS, PORTAL, PROVIDERS

from .factories import BUSINESS, CHILD, FATHER, LONER, MOTHER, UNKNOWN, make_family, request

SERVICES = [(p, s) for p in PROVIDERS for s in p["services"]]
IDENTIFIER = re.compile(r"^VN/GOV/[A-Za-z0-9-]+/[A-Za-z0-9-]+/[a-z]+$")
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def identifier(provider: dict[str, Any], service: dict[str, Any]) -> str:
    member = provider["member"]
    system = provider["system"]["code"]
    return f"VN/{member['member_class']}/{member['code']}/{system}/{service['code']}"


def test_providers_are_the_agreed_topology() -> None:
    assert {identifier(p, s) for p, s in SERVICES} == {
        "VN/GOV/BCA/CSDLQGDC/person",
        "VN/GOV/BCA/CSDLQGDC/household",
        "VN/GOV/BCA/CSDLQGDC/verify",
        "VN/GOV/BTC/DKKD/business",
        "VN/GOV/BTC/DKKD/businesses",
        "VN/GOV/HN-SNNMT/CSDLDD/parcels",
        "VN/GOV/HN-SNNMT/CSDLDD/parcel",
        "VN/GOV/BHXH/CSDLBH/insurance",
    }
    agencies = {p["member"]["code"]: p["member"]["agency_code"] for p in PROVIDERS}
    assert agencies == {"BCA": "", "BTC": "", "HN-SNNMT": "HN-SNNMT", "BHXH": ""}
    for provider, service in SERVICES:
        assert IDENTIFIER.match(identifier(provider, service))
        for part in (provider["member"], provider["system"], service):
            assert part["name"] and part["name_en"], part["code"]
        assert service["description"] and service["description_en"]
        assert service["openapi"]["x-thudo-service"] == identifier(provider, service)
        expected_personal = service["code"] not in {"business", "parcel"}
        assert service["personal_data"] is expected_personal, service["code"]
        assert service["openapi"]["x-thudo-personal-data"] is expected_personal
    json.dumps(PROVIDERS)  # stored as JSON by the exchange's configuration


def test_the_portal_is_granted_every_service_with_its_legal_basis() -> None:
    assert sorted(g["service"] for g in CLIENT_GRANTS) == sorted(
        identifier(p, s) for p, s in SERVICES
    )
    assert {g["client"] for g in CLIENT_GRANTS} == {PORTAL}
    assert {g["legal_basis"] for g in CLIENT_GRANTS} == {LEGAL_BASIS}


# A structural schema of the OpenAPI 3.1 subset the documents use (openapi-spec-validator, when
# installed, checks them against the full specification below).
REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}}}
PARAMETER = {
    "anyOf": [
        REF,
        {
            "type": "object",
            "required": ["name", "in", "schema"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "in": {"enum": ["path", "query", "header", "cookie"]},
                "required": {"type": "boolean"},
                "description": {"type": "string"},
                "schema": {"type": "object"},
            },
            "if": {"properties": {"in": {"const": "path"}}},
            "then": {"required": ["required"], "properties": {"required": {"const": True}}},
            "additionalProperties": False,
        },
    ]
}
MEDIA = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-z]+/[a-z+.-]+$"},
    "additionalProperties": {
        "type": "object",
        "required": ["schema"],
        "properties": {"schema": {"type": "object"}},
    },
}
RESPONSE = {
    "type": "object",
    "required": ["description"],
    "properties": {
        "description": {"type": "string"},
        "headers": {"type": "object", "additionalProperties": {"type": "object"}},
        "content": MEDIA,
    },
    "additionalProperties": False,
}
OPERATION = {
    "type": "object",
    "required": ["responses", "operationId"],
    "properties": {
        "operationId": {"type": "string"},
        "summary": {"type": "string"},
        "description": {"type": "string"},
        "parameters": {"type": "array", "items": PARAMETER},
        "requestBody": {
            "type": "object",
            "required": ["content"],
            "properties": {"content": MEDIA, "required": {"type": "boolean"}},
        },
        "responses": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^([1-5][0-9]{2}|[1-5]XX|default)$"},
            "additionalProperties": RESPONSE,
        },
    },
    "additionalProperties": False,
}
OPENAPI_31 = {
    "type": "object",
    "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {"title": {"type": "string"}, "version": {"type": "string"}},
        },
        "servers": {
            "type": "array",
            "items": {"type": "object", "required": ["url"]},
        },
        "security": {"type": "array"},
        "paths": {
            "type": "object",
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {
                "type": "object",
                "propertyNames": {"enum": sorted(METHODS)},
                "additionalProperties": OPERATION,
            },
        },
        "components": {
            "type": "object",
            "properties": {
                "schemas": {"type": "object", "additionalProperties": {"type": "object"}},
                "parameters": {"type": "object", "additionalProperties": PARAMETER},
                "headers": {
                    "type": "object",
                    "additionalProperties": {"type": "object", "required": ["schema"]},
                },
                "securitySchemes": {
                    "type": "object",
                    "additionalProperties": {"type": "object", "required": ["type"]},
                },
            },
        },
    },
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
}


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in all_refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in all_refs(value)]
    return []


@pytest.mark.parametrize("service", [s for _, s in SERVICES], ids=lambda s: s["code"])
def test_openapi_documents_are_well_formed(service: dict[str, Any]) -> None:
    document = service["openapi"]
    Draft202012Validator(OPENAPI_31).validate(document)
    for ref in all_refs(document):
        resolve(document, ref)  # every reference resolves inside the document
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    ((path, item),) = document["paths"].items()
    for method, operation in item.items():
        parameters = [
            resolve(document, p["$ref"]) if "$ref" in p else p for p in operation["parameters"]
        ]
        in_path = {p["name"] for p in parameters if p["in"] == "path"}
        assert in_path == set(re.findall(r"\{(\w+)\}", path)), path
        headers = {p["name"] for p in parameters if p["in"] == "header"}
        assert {
            "Thudo-Message-Id",
            "Thudo-Purpose",
            "Thudo-Dossier",
            "Thudo-End-User",
            "Thudo-Subject",
        } <= headers
        subject = next(p for p in parameters if p["name"] == "Thudo-Subject")
        assert subject["required"] is service["personal_data"]
        assert {"200", "400", "401", "403", "404", "405", "409", "502", "504"} <= set(
            operation["responses"]
        )
        assert (method == "post") == ("requestBody" in operation)


def test_openapi_documents_pass_openapi_spec_validator() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    for _, service in SERVICES:
        validator.validate(service["openapi"])


def schema_validator(document: dict[str, Any], path: str, method: str, status: int) -> Any:
    """A jsonschema validator for the response body the document declares."""
    operation = document["paths"][path][method]
    response = operation["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    registry: Registry[Any] = Registry().with_resource(
        "urn:thudo:openapi", DRAFT202012.create_resource(document)
    )
    root = {"$ref": "urn:thudo:openapi" + schema["$ref"]}
    return Draft202012Validator(
        root, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


# (service code, handler request, expected status): real answers checked against the documents.
CASES: list[tuple[str, dict[str, Any], int]] = [
    ("person", dict(path=f"person/{FATHER}", subject=FATHER), 200),
    ("person", dict(path=f"person/{LONER}"), 200),
    ("person", dict(path=f"person/{UNKNOWN}"), 404),
    ("person", dict(path="person/123"), 400),
    ("person", dict(path=f"person/{FATHER}", method="DELETE"), 405),
    ("household", dict(path=f"household/{CHILD}", subject=CHILD), 200),
    ("household", dict(path=f"household/{LONER}"), 404),
    (
        "verify",
        dict(
            path="verify",
            method="POST",
            body=json.dumps(
                {"personal_id": FATHER, "full_name": "Nguyễn Văn An", "birth_date": "1980-03-02"}
            ).encode(),
        ),
        200,
    ),
    ("verify", dict(path="verify", method="POST", body=b"{}"), 400),
    ("business", dict(path=f"business/{BUSINESS}"), 200),
    ("business", dict(path="business/0100000000"), 404),
    ("business", dict(path="business/abc"), 400),
    ("businesses", dict(path="businesses", query={"representative": FATHER}), 200),
    ("businesses", dict(path="businesses", query={"representative": MOTHER}), 200),
    ("parcels", dict(path="parcels", query={"owner": FATHER}), 200),
    ("parcels", dict(path="parcels", query={"owner": FATHER}, subject=MOTHER), 400),
    ("parcel", dict(path="parcel/00070/12/345"), 200),
    ("parcel", dict(path="parcel/00070/12/999"), 404),
    ("insurance", dict(path=f"insurance/{FATHER}"), 200),
    ("insurance", dict(path=f"insurance/{CHILD}"), 404),
]


def call(code: str, **kwargs: Any) -> tuple[dict[str, Any], ProviderResponse]:
    service = next(s for _, s in SERVICES if s["code"] == code)
    handler = exchange_handlers.get(service["target"].removeprefix("handler:"))
    assert handler is not None
    return service, handler(request(**kwargs))


@pytest.mark.django_db
def test_handler_answers_match_their_documents(ward: Any) -> None:
    make_family(ward)
    for code, kwargs, status in CASES:
        service, response = call(code, **kwargs)
        assert response.status == status, (code, kwargs, response.data)
        document = service["openapi"]
        ((path, item),) = document["paths"].items()
        ((method, _),) = item.items()
        validator = schema_validator(document, path, method, status)
        errors = list(validator.iter_errors(json.loads(json.dumps(response.data))))
        assert not errors, (code, status, [e.message for e in errors])


@pytest.mark.django_db
def test_the_schema_check_catches_a_drifting_answer(ward: Any) -> None:
    make_family(ward)
    service, response = call("person", path=f"person/{FATHER}")
    validator = schema_validator(service["openapi"], "/person/{personal_id}", "get", 200)
    assert validator.is_valid(response.data)
    for drifted in (
        {**response.data, "surprise": 1},
        {**response.data, "birth_date": "02/03/1980"},
        {k: v for k, v in response.data.items() if k != "sex"},
        {**response.data, "permanent_address": {"address": "x"}},
    ):
        assert not validator.is_valid(drifted)


@pytest.mark.django_db
def test_documented_paths_reach_the_handlers(ward: Any) -> None:
    """Each document's path template, filled in, is a path its handler answers with 200."""
    make_family(ward)
    values = {
        "personal_id": FATHER,
        "code": BUSINESS,
        "ward_code": "00070",
        "map_sheet": "12",
        "parcel_number": "345",
    }
    queries = {"representative": FATHER, "owner": FATHER}
    for _, service in SERVICES:
        ((path, item),) = service["openapi"]["paths"].items()
        ((method, operation),) = item.items()
        filled = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path).lstrip("/")
        query = {
            p["name"]: queries[p["name"]] for p in operation["parameters"] if p.get("in") == "query"
        }
        body = b""
        if "requestBody" in operation:
            body = json.dumps(
                {"personal_id": FATHER, "full_name": "X", "birth_date": "1980-03-02"}
            ).encode()
        _, response = call(
            service["code"], path=filled, method=method.upper(), query=query, body=body
        )
        assert response.status == 200, (service["code"], response.data)
