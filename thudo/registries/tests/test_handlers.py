"""The registries' provider handlers: their answers, their errors, and how few queries they make."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest

from thudo.exchange import handlers as exchange_handlers
from thudo.registries.catalogue import PROVIDERS
from thudo.registries.handlers import (
    business_business,
    business_businesses,
    insurance_insurance,
    land_parcel,
    land_parcels,
    population_household,
    population_person,
    population_verify,
)

from .factories import (
    BUSINESS,
    CHILD,
    FATHER,
    LONER,
    MOTHER,
    UNKNOWN,
    Family,
    make_family,
    request,
)


@pytest.fixture
def family(ward: Any) -> Family:
    return make_family(ward)


def error_code(response: Any) -> str:
    return str(response.data["error"]["code"])


def test_every_catalogue_target_is_registered_in_the_exchange() -> None:
    targets = [s["target"] for p in PROVIDERS for s in p["services"]]
    assert len(targets) == 8
    for target in targets:
        kind, _, key = target.partition(":")
        assert kind == "handler"
        assert exchange_handlers.get(key) is not None, key


@pytest.mark.django_db
def test_person_answers_identity_and_permanent_address(
    family: Family, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        response = population_person(request(f"person/{FATHER}", subject=FATHER))
    assert response.status == 200
    assert response.data == {
        "personal_id": FATHER,
        "full_name": "Nguyễn Văn An",
        "birth_date": "1980-03-02",
        "sex": "male",
        "nationality": "Việt Nam",
        "ethnicity": "Kinh",
        "hometown": "Phường Hoàn Kiếm, Thành phố Hà Nội",
        "birth_place": "Thành phố Hà Nội",
        "permanent_address": {
            "address": "Số 12 phố Hàng Bạc",
            "ward_code": "00070",
            "ward_name": "Phường Hoàn Kiếm",
            "province_code": "01",
            "province_name": "Thành phố Hà Nội",
        },
        "household_code": "00070-000001",
        "relation_to_head": "head",
    }
    json.dumps(response.data)  # JSON-able as it is


@pytest.mark.django_db
def test_person_without_household_has_no_address(family: Family) -> None:
    response = population_person(request(f"person/{LONER}"))
    assert response.status == 200
    assert response.data["permanent_address"] is None
    assert response.data["household_code"] is None
    assert response.data["relation_to_head"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"person/{UNKNOWN}", 404, "person_not_found"),
        ("person/12345", 400, "invalid_personal_id"),
        ("person/003090123456", 400, "invalid_personal_id"),  # 003 is no province code
        ("person/00109012345x", 400, "invalid_personal_id"),
        ("person/", 404, "unknown_path"),
        ("people/001080123456", 404, "unknown_path"),
        (f"person/{FATHER}/extra", 404, "unknown_path"),
        ("", 404, "unknown_path"),
    ],
)
def test_person_errors(family: Family, path: str, status: int, code: str) -> None:
    response = population_person(request(path))
    assert response.status == status
    assert error_code(response) == code
    assert response.data["error"]["message_vi"] and response.data["error"]["message_en"]


@pytest.mark.django_db
def test_subject_must_be_the_person_asked_about(family: Family) -> None:
    response = population_person(request(f"person/{FATHER}", subject=MOTHER))
    assert response.status == 400
    assert error_code(response) == "subject_mismatch"
    for handler, path, query in [
        (population_household, f"household/{FATHER}", {}),
        (insurance_insurance, f"insurance/{FATHER}", {}),
        (business_businesses, "businesses", {"representative": FATHER}),
        (land_parcels, "parcels", {"owner": FATHER}),
    ]:
        response = handler(request(path, query=query, subject=MOTHER))
        assert (response.status, error_code(response)) == (400, "subject_mismatch"), path


@pytest.mark.django_db
def test_wrong_method_is_405_with_allow(family: Family) -> None:
    response = population_person(request(f"person/{FATHER}", method="POST"))
    assert response.status == 405
    assert error_code(response) == "method_not_allowed"
    assert response.headers["Allow"] == "GET"
    response = population_verify(request("verify", method="GET"))
    assert response.status == 405
    assert response.headers["Allow"] == "POST"


@pytest.mark.django_db
def test_household_lists_members_head_first(family: Family, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2):
        response = population_household(request(f"household/{CHILD}", subject=CHILD))
    assert response.status == 200
    data = response.data
    assert data["household_code"] == "00070-000001"
    assert data["head_personal_id"] == FATHER
    assert data["address"]["ward_name"] == "Phường Hoàn Kiếm"
    assert [(m["personal_id"], m["relation"]) for m in data["members"]] == [
        (FATHER, "head"),
        (MOTHER, "spouse"),
        (CHILD, "child"),
    ]
    assert data["members"][2] == {
        "personal_id": CHILD,
        "full_name": "Nguyễn Minh Châu",
        "birth_date": "2012-01-20",
        "sex": "male",
        "relation": "child",
    }


@pytest.mark.django_db
def test_household_errors(family: Family) -> None:
    assert error_code(population_household(request(f"household/{LONER}"))) == (
        "household_not_found"
    )
    response = population_household(request(f"household/{UNKNOWN}"))
    assert (response.status, error_code(response)) == (404, "person_not_found")
    response = population_household(request("household/1"))
    assert (response.status, error_code(response)) == (400, "invalid_personal_id")


def verify(body: Any, subject: str = "") -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return population_verify(request("verify", method="POST", body=raw, subject=subject))


@pytest.mark.django_db
def test_verify_matches_exactly_after_nfc_and_whitespace(
    family: Family, django_assert_num_queries: Any
) -> None:
    good = {"personal_id": FATHER, "full_name": "Nguyễn Văn An", "birth_date": "1980-03-02"}
    with django_assert_num_queries(1):
        assert verify(good, subject=FATHER).data == {"match": True}
    decomposed = unicodedata.normalize("NFD", "  Nguyễn   Văn\tAn ")
    assert decomposed != "Nguyễn Văn An"
    assert verify({**good, "full_name": decomposed}).data == {"match": True}
    assert verify({**good, "full_name": "nguyễn văn an"}).data == {"match": False}
    assert verify({**good, "full_name": "Nguyen Van An"}).data == {"match": False}
    assert verify({**good, "birth_date": "1980-03-03"}).data == {"match": False}
    assert verify({**good, "personal_id": UNKNOWN}).data == {"match": False}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        (b"{not json", "invalid_body", {"body"}),
        ([1, 2], "invalid_body", {"body"}),
        ({}, "invalid_body", {"personal_id", "full_name", "birth_date"}),
        (
            {"personal_id": FATHER, "full_name": "A", "birth_date": "02/03/1980"},
            "invalid_body",
            {"birth_date"},
        ),
        (
            {"personal_id": FATHER, "full_name": "A", "birth_date": "19800302"},
            "invalid_body",
            {"birth_date"},
        ),
        (
            {"personal_id": "12", "full_name": "A", "birth_date": "1980-03-02"},
            "invalid_personal_id",
            set(),
        ),
    ],
)
def test_verify_rejects_bad_bodies(family: Family, body: Any, code: str, fields: set[str]) -> None:
    response = verify(body)
    assert response.status == 400
    assert error_code(response) == code
    assert set(response.data["error"].get("fields", {})) == fields


@pytest.mark.django_db
def test_business_by_code(family: Family, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        response = business_business(request(f"business/{BUSINESS}"))
    assert response.status == 200
    assert response.data["name"] == "Công ty TNHH Thương mại và Dịch vụ An Phú"
    assert response.data["kind"] == "llc"
    assert response.data["status"] == "active"
    assert response.data["representative_personal_id"] == FATHER
    assert response.data["head_office"]["ward_code"] == "00070"
    assert response.data["charter_capital"] == 2_000_000_000
    assert response.data["industry_codes"] == ["4690", "4711"]
    response = business_business(request("business/0109999999"))
    assert (response.status, error_code(response)) == (404, "business_not_found")
    response = business_business(request("business/01-123"))
    assert (response.status, error_code(response)) == (400, "invalid_business_code")


@pytest.mark.django_db
def test_businesses_by_representative(family: Family, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        response = business_businesses(
            request("businesses", query={"representative": FATHER}, subject=FATHER)
        )
    assert response.status == 200
    assert response.data["representative_personal_id"] == FATHER
    assert [b["code"] for b in response.data["businesses"]] == [BUSINESS]
    response = business_businesses(request("businesses", query={"representative": MOTHER}))
    assert response.data == {"representative_personal_id": MOTHER, "businesses": []}
    response = business_businesses(request("businesses"))
    assert (response.status, error_code(response)) == (400, "invalid_personal_id")
    response = business_businesses(request("business", query={"representative": FATHER}))
    assert (response.status, error_code(response)) == (404, "unknown_path")


@pytest.mark.django_db
def test_parcels_by_owner(family: Family, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2):
        response = land_parcels(request("parcels", query={"owner": MOTHER}, subject=MOTHER))
    assert response.status == 200
    (parcel,) = response.data["parcels"]
    assert parcel == {
        "ward_code": "00070",
        "ward_name": "Phường Hoàn Kiếm",
        "province_code": "01",
        "province_name": "Thành phố Hà Nội",
        "map_sheet": 12,
        "parcel_number": 345,
        "address": "Số 12 phố Hàng Bạc, Phường Hoàn Kiếm",
        "area_m2": 64.5,
        "land_use": "ODT",
        "land_use_name": "Đất ở tại đô thị",
        "use_term": "Lâu dài",
        "certificate_number": "CS 123456",
        "certificate_issued_on": "2019-06-01",
        "owner_personal_ids": [FATHER, MOTHER],
        "owner_business_code": None,
    }
    response = land_parcels(request("parcels", query={"owner": CHILD}))
    assert response.data == {"owner_personal_id": CHILD, "parcels": []}
    response = land_parcels(request("parcels", query={"owner": "abc"}))
    assert (response.status, error_code(response)) == (400, "invalid_personal_id")


@pytest.mark.django_db
def test_parcel_by_number(family: Family, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(2):
        response = land_parcel(request("parcel/00070/12/345"))
    assert response.status == 200
    assert response.data["owner_personal_ids"] == [FATHER, MOTHER]
    for path, status, code in [
        ("parcel/00070/12/346", 404, "parcel_not_found"),
        ("parcel/00073/12/345", 404, "parcel_not_found"),
        ("parcel/70/12/345", 400, "invalid_parcel"),
        ("parcel/00070/x/345", 400, "invalid_parcel"),
        ("parcel/00070/12/0", 400, "invalid_parcel"),
        ("parcel/00070/12", 404, "unknown_path"),
    ]:
        response = land_parcel(request(path))
        assert (response.status, error_code(response)) == (status, code), path


@pytest.mark.django_db
def test_insurance(family: Family, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        response = insurance_insurance(request(f"insurance/{FATHER}", subject=FATHER))
    assert response.status == 200
    assert response.data == {
        "personal_id": FATHER,
        "insurance_number": "0123456789",
        "status": "contributing",
        "employer": {"code": BUSINESS, "name": "Công ty TNHH Thương mại và Dịch vụ An Phú"},
        "contributing_since": "2005-08-01",
        "months_contributed": 240,
        "salary_basis": 15_000_000,
        "health_card": {
            "number": "DN4010123456789",
            "valid_to": "2030-12-31",
            "facility": "Bệnh viện Đa khoa Xanh Pôn",
        },
    }
    response = insurance_insurance(request(f"insurance/{MOTHER}"))
    assert (response.status, error_code(response)) == (404, "insurance_not_found")
    response = insurance_insurance(request("insurance/0010801234567"))
    assert (response.status, error_code(response)) == (400, "invalid_personal_id")


@pytest.mark.django_db
def test_handlers_write_nothing(family: Family, django_assert_num_queries: Any) -> None:
    """A GET reads only (the node may run a handler again for a retried message)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        population_person(request(f"person/{FATHER}"))
        population_household(request(f"household/{FATHER}"))
        verify({"personal_id": FATHER, "full_name": "Nguyễn Văn An", "birth_date": "1980-03-02"})
        business_business(request(f"business/{BUSINESS}"))
        business_businesses(request("businesses", query={"representative": FATHER}))
        land_parcels(request("parcels", query={"owner": FATHER}))
        land_parcel(request("parcel/00070/12/345"))
        insurance_insurance(request(f"insurance/{FATHER}"))
    assert queries.captured_queries
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
