"""Once-only forms: fields filled from the registries through the real exchange (the node, its
log and the registries' handlers, in process), shown verified and read-only, submitted as
fetched whatever is posted, kept with their provenance, shown to the official with the log's
proof, and visible to the citizen in the data tracker. And the e-ID level a procedure demands.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from thudo.accounts.testing import login_verified
from thudo.dossiers.models import Dossier
from thudo.dossiers.once_only import SOURCES_KEY, pointer_get
from thudo.exchange.models import Grant, Message
from thudo.exchange.tests.test_tracker import exchange_topology, node_key  # noqa: F401

from .factories import make_procedure

PERSON = "VN/GOV/BCA/CSDLQGDC/person"
INSURANCE = "VN/GOV/BHXH/CSDLBH/insurance"

FIELDS: list[dict[str, Any]] = [
    {
        "name": "full_name",
        "label": "Họ, chữ đệm và tên",
        "label_en": "Full name",
        "type": "text",
        "max_length": 100,
        "source": f"{PERSON}#/full_name",
    },
    {
        "name": "birth_date",
        "label": "Ngày sinh",
        "label_en": "Date of birth",
        "type": "date",
        "source": f"{PERSON}#/birth_date",
    },
    {
        "name": "sex",
        "label": "Giới tính",
        "label_en": "Sex",
        "type": "choice",
        "choices": [["male", "Nam", "Male"], ["female", "Nữ", "Female"]],
        "source": f"{PERSON}#/sex",
    },
    {
        "name": "residence",
        "label": "Nơi cư trú",
        "label_en": "Place of residence",
        "type": "text",
        "max_length": 300,
        "source": f"{PERSON}#/permanent_address/address",
    },
    {
        "name": "insurance_number",
        "label": "Mã số bảo hiểm xã hội",
        "label_en": "Social insurance number",
        "type": "text",
        "required": False,
        "max_length": 10,
        "source": f"{INSURANCE}#/insurance_number",
    },
    {
        "name": "purpose",
        "label": "Mục đích sử dụng",
        "label_en": "Purpose",
        "type": "text",
        "max_length": 200,
    },
]
POSTED = {
    "full_name": "Người Giả Mạo",
    "birth_date": "2000-01-01",
    "sex": "female",
    "residence": "Nơi khác",
    "insurance_number": "9999999999",
    "purpose": "Để đăng ký kết hôn",
    "action": "submit",
    "delivery": "online",
}


@pytest.fixture
def topology(node_key: Any, make_agency: Any) -> Any:  # noqa: F811
    agency = make_agency("HN-UBND", kind="city_committee", name="Ủy ban nhân dân thành phố")
    return exchange_topology(portal_agency=agency)


@pytest.fixture
def resident(applicant: Any) -> Any:
    """The applicant, in the population registry (Số 1 phố Tràng Tiền) and with insurance."""
    from thudo.registries.models import InsuranceRecord
    from thudo.registries.services import resident_for_user

    resident_for_user(applicant)
    InsuranceRecord.objects.create(
        insurance_number="0112233445", personal_id=applicant.personal_id, status="contributing"
    )
    return applicant


@pytest.fixture
def marital(db: Any) -> Any:
    return make_procedure(
        code="1.004873",
        name="Cấp Giấy xác nhận tình trạng hôn nhân",
        name_en="Certificate of marital status",
        fields=FIELDS,
        papers=[],
        result_fields=["full_name"],
    )


def _calls(pid: str) -> list[Message]:
    return list(Message.objects.filter(side="client", subject=pid).order_by("pk"))


def _en(client: Any) -> Any:
    client.cookies["thudo_language"] = "en"
    return client


def test_the_form_is_filled_from_the_registries_once_per_service(
    client: Any, topology: Any, resident: Any, marital: Any, ward_agency: Any
) -> None:
    _en(client).force_login(resident)
    url = reverse("dossiers:apply", args=[marital.code])
    r = client.get(url)
    assert r.status_code == 200
    page = r.content.decode()
    calls = _calls(resident.personal_id)
    assert sorted(m.service for m in calls) == [PERSON, INSURANCE]  # one call per service
    assert all(m.status == 200 and m.log_index is not None for m in calls)
    assert all(m.purpose.startswith("Thủ tục 1.004873: Cấp Giấy xác nhận") for m in calls)
    assert all("Nghị định 47/2020/NĐ-CP" in m.purpose for m in calls)  # the grant's basis
    assert all(m.end_user == resident.personal_id for m in calls)
    # Shown as verified, with the source, and not as inputs.
    assert "Nguyễn Văn An" in page and "Số 1 phố Tràng Tiền" in page and "0112233445" in page
    assert "Verified" in page and "National population database" in page
    assert "Ministry of Public Security" in page
    for name in ("full_name", "birth_date", "sex", "residence", "insurance_number"):
        assert f'name="{name}"' not in page
    assert 'name="purpose"' in page
    rows = {row.name: row.value for row in r.context["verified_rows"]}
    assert rows["birth_date"] == "05/17/1990" and rows["sex"] == "Male"
    # The page opened again within the time limit asks nothing again.
    client.get(url)
    assert len(_calls(resident.personal_id)) == 2


def test_posted_values_for_sourced_fields_are_ignored_and_provenance_is_kept(
    client: Any, topology: Any, resident: Any, marital: Any, ward_agency: Any
) -> None:
    client.force_login(resident)
    url = reverse("dossiers:apply", args=[marital.code])
    client.get(url)
    calls = {m.service: m for m in _calls(resident.personal_id)}
    r = client.post(url, POSTED)
    assert r.status_code == 302, r.context and r.context["errors"]
    assert len(_calls(resident.personal_id)) == 2  # the submission used what was fetched
    dossier = Dossier.objects.get(applicant=resident)
    data = dossier.data
    assert data["full_name"] == "Nguyễn Văn An"
    assert data["birth_date"] == "1990-05-17" and data["sex"] == "male"
    assert data["residence"] == "Số 1 phố Tràng Tiền"
    assert data["insurance_number"] == "0112233445"
    assert data["purpose"] == "Để đăng ký kết hôn"  # typed fields are the citizen's
    sources = data[SOURCES_KEY]
    assert set(sources) == {"full_name", "birth_date", "sex", "residence", "insurance_number"}
    person = calls[PERSON]
    assert sources["full_name"] == {
        "service": PERSON,
        "pointer": "/full_name",
        "verified": True,
        "message_id": person.message_id,
        "log_index": person.log_index,
    }
    assert sources["insurance_number"]["message_id"] == calls[INSURANCE].message_id
    assert "value" not in sources["full_name"]  # the form holds the value once

    # The data tracker lists the accesses, linked to the dossier, with a working proof.
    page = client.get(reverse("exchange_tracker:index")).content.decode()
    assert person.message_id in page and dossier.code in page
    assert reverse("dossiers:detail", args=[dossier.public_id]) in page
    proof = reverse("exchange_log:proof", kwargs={"index": person.log_index})
    assert proof in page and client.get(proof).status_code == 200


def test_the_service_takes_verified_values_over_posted_ones(
    topology: Any, resident: Any, marital: Any, ward_agency: Any
) -> None:
    from thudo.dossiers.services import dossier_submit

    sources = {
        "full_name": {
            "service": PERSON,
            "pointer": "/full_name",
            "verified": True,
            "value": "Nguyễn Văn An",
            "message_id": "m-12345678",
            "log_index": 7,
        },
        "other": {"service": PERSON, "verified": True, "value": "x"},  # not a form field
    }
    data = {k: v for k, v in POSTED.items() if k not in ("action", "delivery")}
    dossier = dossier_submit(
        procedure=marital, applicant=resident, data=data, files={}, sources=sources
    )
    assert dossier.data["full_name"] == "Nguyễn Văn An"
    assert dossier.data["sex"] == "female"  # no provenance: as posted, not verified
    stored = dossier.data[SOURCES_KEY]
    assert "other" not in stored and stored["full_name"]["log_index"] == 7
    assert stored["sex"]["verified"] is False


def test_when_a_registry_cannot_be_reached_the_citizen_types_the_values(
    client: Any, topology: Any, resident: Any, marital: Any, ward_agency: Any
) -> None:
    from django.utils import timezone

    Grant.objects.filter(service__code="insurance").update(revoked_at=timezone.now())
    _en(client).force_login(resident)
    url = reverse("dossiers:apply", args=[marital.code])
    page = client.get(url).content.decode()
    assert "could not be taken from the registries" in page
    assert 'name="insurance_number"' in page and "Not verified" in page
    assert 'name="full_name"' not in page  # the population registry answered
    r = client.post(url, {**POSTED, "insurance_number": "0123456789"})
    assert r.status_code == 302
    dossier = Dossier.objects.get(applicant=resident)
    assert dossier.data["insurance_number"] == "0123456789"
    assert dossier.data["full_name"] == "Nguyễn Văn An"
    record = dossier.data[SOURCES_KEY]["insurance_number"]
    assert record["verified"] is False and record["error"] == "grant_revoked"
    assert dossier.data[SOURCES_KEY]["full_name"]["verified"] is True


def test_a_citizen_unknown_to_the_registry_types_everything(
    client: Any, topology: Any, applicant: Any, marital: Any, ward_agency: Any
) -> None:
    client.force_login(applicant)  # no resident record, no insurance
    url = reverse("dossiers:apply", args=[marital.code])
    page = client.get(url).content.decode()
    assert 'name="full_name"' in page and 'name="insurance_number"' in page
    r = client.post(url, {**POSTED, "insurance_number": ""})
    assert r.status_code == 302
    dossier = Dossier.objects.get(applicant=applicant)
    assert dossier.data["full_name"] == "Người Giả Mạo"
    assert dossier.data[SOURCES_KEY]["full_name"]["error"] == "not_found"


def test_the_official_sees_the_verified_values_with_their_log_entry(
    client: Any, topology: Any, resident: Any, marital: Any, staff: Any
) -> None:
    client.force_login(resident)
    url = reverse("dossiers:apply", args=[marital.code])
    client.get(url)
    client.post(url, POSTED)
    dossier = Dossier.objects.get(applicant=resident)
    person = Message.objects.get(side="client", service=PERSON, subject=resident.personal_id)

    official = _en(login_verified(client.__class__(), staff.receiving))
    r = official.get(reverse("dossiers:work", args=[dossier.public_id]))
    assert r.status_code == 200
    page = r.content.decode()
    assert "Nguyễn Văn An" in page and "Người Giả Mạo" not in page
    assert "Verified" in page and "National population database" in page
    assert reverse("exchange_log:proof", kwargs={"index": person.log_index}) in page
    assert person.message_id in page


def test_a_supplement_cannot_change_a_verified_value(
    client: Any, topology: Any, resident: Any, marital: Any, staff: Any
) -> None:
    from thudo.dossiers.services import (
        dossier_receive,
        dossier_request_supplement,
        dossier_supplement,
    )

    client.force_login(resident)
    url = reverse("dossiers:apply", args=[marital.code])
    client.get(url)
    client.post(url, POSTED)
    dossier = Dossier.objects.get(applicant=resident)
    dossier_receive(dossier=dossier, actor=staff.receiving)
    dossier_request_supplement(
        dossier=dossier,
        actor=staff.receiving,
        missing=[{"name": "Mục đích", "note": ""}],
        note="",
    )
    dossier_supplement(
        dossier=dossier,
        actor=resident,
        files={},
        data={"full_name": "Tên Khác", "purpose": "Để mua bán nhà đất"},
    )
    dossier.refresh_from_db()
    assert dossier.data["full_name"] == "Nguyễn Văn An"
    assert dossier.data["purpose"] == "Để mua bán nhà đất"
    assert dossier.data[SOURCES_KEY]["full_name"]["verified"] is True


def test_a_level_2_procedure_sends_a_password_signed_in_citizen_to_vneid(
    client: Any, topology: Any, resident: Any, ward_agency: Any
) -> None:
    procedure = make_procedure(code="2.000488", fields=FIELDS, papers=[])
    procedure.eid_level_required = 2
    procedure.save()
    from thudo.procedures.services import procedure_publish

    assert procedure_publish(procedure=procedure).spec["eid_level_required"] == 2
    client.force_login(resident)  # a password sign-in: e-ID level 0
    url = reverse("dossiers:apply", args=[procedure.code])
    r = client.get(url)
    assert r.status_code == 302 and r["Location"].startswith(reverse("eid_client:start"))
    r = client.post(url, POSTED)
    assert r.status_code == 302 and r["Location"].startswith(reverse("eid_client:start"))
    assert not Dossier.objects.exists()
    assert not _calls(resident.personal_id)  # nothing asked of the registries before sign-in

    # Signed in through VNeID at level 2, the form opens.
    session = client.session
    session["eid_level"], session["eid_sub"] = 2, resident.personal_id
    session.save()
    assert client.get(url).status_code == 200


def test_the_spec_and_schema_declare_the_sources(marital: Any) -> None:
    import jsonschema

    from thudo.procedures.specs import json_schema, procedure_spec, sourced_fields

    spec = procedure_spec(marital)
    assert sourced_fields(spec)["residence"] == (PERSON, "/permanent_address/address")
    assert "source" not in spec["fields"][-1] and "eid_level_required" not in spec
    schema = json_schema(spec)
    assert schema["properties"]["full_name"]["readOnly"] is True
    assert "readOnly" not in schema["properties"]["purpose"]
    jsonschema.Draft202012Validator.check_schema(schema)


def test_json_pointers() -> None:
    doc = {"a": [{"b/c": 1, "m~n": 2}], "": 3}
    assert pointer_get(doc, "/a/0/b~1c") == 1 and pointer_get(doc, "/a/0/m~0n") == 2
    assert pointer_get(doc, "/") == 3 and pointer_get(doc, "") is doc
    missing = pointer_get(doc, "/a/1")
    assert missing is pointer_get(doc, "/x") and missing is pointer_get(doc, "/a/01")


def test_the_demo_catalogue_declares_sources_and_a_level_2_procedure(db: Any) -> None:
    from thudo.procedures.demo import PROCEDURES
    from thudo.procedures.specs import source_parse
    from thudo.registries.catalogue import service_identifiers

    known = set(service_identifiers())
    sourced = {
        item["code"]: [f["source"] for f in item["fields"] if f.get("source")]
        for item in PROCEDURES
    }
    with_sources = [code for code, sources in sourced.items() if sources]
    assert len(with_sources) >= 2
    for sources in sourced.values():
        for source in sources:
            parsed = source_parse(source)
            assert parsed is not None and parsed[0] in known
    assert any(item.get("eid_level_required") == 2 for item in PROCEDURES)
