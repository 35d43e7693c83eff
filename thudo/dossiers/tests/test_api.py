"""The applicants' dossiers API and the public look-up (/api/dossiers/)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from thudo.dossiers import services
from thudo.dossiers.models import Dossier, DossierFile, Rating, Status

from .factories import BIRTH_DATA, pdf_bytes, png_bytes, submit, upload


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def _files() -> dict[str, Any]:
    return {
        "to-khai": upload("to-khai.png", png_bytes(), "image/png"),
        "giay-chung-sinh": upload("chung-sinh.pdf", pdf_bytes(), "application/pdf"),
    }


def _submit(client: Any, procedure: Any, *, key: str = "", **payload: Any) -> Any:
    body = {"procedure": procedure.code, "data": BIRTH_DATA, **payload}
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(
        reverse("api:dossier_submit"),
        {"payload": json.dumps(body), **_files()},
        headers={**headers, "Accept-Language": "en"},
    )


def test_submit_with_an_idempotency_key_twice_gives_one_dossier(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    client.force_login(applicant)
    first = _submit(client, procedure, key="abc-123", delivery="post")
    second = _submit(client, procedure, key="abc-123", delivery="post")
    assert first.status_code == 201, first.content
    assert second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert Dossier.objects.count() == 1
    body = first.json()
    assert body["status"] == "submitted" and body["code"].startswith("HN-00070-")
    assert body["delivery"] == "post" and body["appointment_at"]
    assert {f["paper"] for f in body["files"]} == {"to-khai", "giay-chung-sinh"}
    assert body["timeline"][0]["action"] == "submit"


def test_submit_errors_are_field_by_field_and_leave_nothing(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    client.force_login(applicant)
    response = client.post(
        reverse("api:dossier_submit"),
        {
            "payload": json.dumps(
                {"procedure": procedure.code, "data": {**BIRTH_DATA, "birth_date": "1/6/2026"}}
            ),
            "giay-chung-sinh": upload("a.pdf", b"%PDF-1.7 not really", "application/pdf"),
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert {"birth_date", "paper:to-khai", "paper:giay-chung-sinh"} <= set(body["fields"])
    assert not Dossier.objects.exists() and not DossierFile.objects.exists()


def test_submit_refuses_a_malformed_payload_and_unknown_parts(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    client.force_login(applicant)
    url = reverse("api:dossier_submit")
    bad_json = client.post(url, {"payload": "{not json"})
    assert bad_json.status_code == 422 and bad_json.json()["code"] == "validation_failed"
    unknown = client.post(
        url,
        {
            "payload": json.dumps({"procedure": "0.000000"}),
        },
    )
    assert unknown.status_code == 422 and "procedure" in unknown.json()["fields"]
    stray = client.post(
        url,
        {
            "payload": json.dumps({"procedure": procedure.code, "data": BIRTH_DATA}),
            **_files(),
            "photo": upload("p.png", png_bytes(), "image/png"),
        },
    )
    assert stray.status_code == 422 and "photo" in stray.json()["fields"]
    assert not Dossier.objects.exists()


def test_submit_needs_a_signed_in_citizen(
    client: Any, procedure: Any, staff: Any, ward_agency: Any
) -> None:
    assert _submit(client, procedure).status_code == 401
    client.force_login(staff.receiving)
    response = _submit(client, procedure)
    assert response.status_code == 403 and response.json()["code"] == "not_a_citizen"


def test_mine_and_one_and_another_citizen_gets_404(
    client: Any, applicant: Any, other_citizen: Any, procedure: Any, ward_agency: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    submit(procedure=procedure, applicant=other_citizen)
    client.force_login(applicant)
    listing = client.get(reverse("api:dossiers_mine")).json()
    assert listing["count"] == 1 and listing["items"][0]["code"] == dossier.code
    one = client.get(reverse("api:dossier_get", kwargs={"dossier_id": dossier.public_id}))
    assert one.status_code == 200 and one.json()["data"]["child_name"] == BIRTH_DATA["child_name"]

    client.force_login(other_citizen)
    other = client.get(reverse("api:dossier_get", kwargs={"dossier_id": dossier.public_id}))
    assert other.status_code == 404 and other.json()["code"] == "not_found"


def test_wrong_transition_is_409_with_a_code_and_changes_nothing(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    client.force_login(applicant)
    rate = client.post(
        reverse("api:dossier_rate", kwargs={"dossier_id": dossier.public_id}),
        {"attitude": 5, "timeliness": 5, "contacts": 5, "clarity": 5},
        content_type="application/json",
    )
    assert rate.status_code == 409 and rate.json()["code"] == "invalid_transition"
    supplement = client.post(
        reverse("api:dossier_supplement", kwargs={"dossier_id": dossier.public_id}),
        {"note": "x", "giay-chung-sinh": upload("c.pdf", pdf_bytes(), "application/pdf")},
    )
    assert supplement.status_code == 409
    assert supplement.json()["code"] == "invalid_transition"
    dossier.refresh_from_db()
    assert dossier.status == Status.SUBMITTED
    assert not Rating.objects.exists() and dossier.files.count() == 2


def test_supplement_over_the_api(client: Any, applicant: Any, procedure: Any, staff: Any) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    dossier = services.dossier_receive(dossier=dossier, actor=staff.receiving)
    dossier = services.dossier_request_supplement(
        dossier=dossier, actor=staff.receiving, missing=[{"name": "Giấy chứng sinh"}]
    )
    client.force_login(applicant)
    response = client.post(
        reverse("api:dossier_supplement", kwargs={"dossier_id": dossier.public_id}),
        {"note": "Đã bổ sung", "giay-chung-sinh": upload("c.pdf", pdf_bytes(), "application/pdf")},
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "received"


def test_receipt_pdf(client: Any, applicant: Any, procedure: Any, ward_agency: Any) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    client.force_login(applicant)
    response = client.get(reverse("api:dossier_receipt", kwargs={"dossier_id": dossier.public_id}))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    result = client.get(reverse("api:dossier_result", kwargs={"dossier_id": dossier.public_id}))
    assert result.status_code == 404


def test_public_lookup_hides_personal_data_unless_the_id_matches(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    url = reverse("api:dossier_lookup")
    anonymous = client.get(url, {"code": dossier.code})
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert body["status"] == "submitted" and body["due_at"] and body["timeline"]
    assert body["applicant_name"] is None and body["proven"] is False
    assert applicant.personal_id not in anonymous.content.decode()
    assert BIRTH_DATA["child_name"] not in anonymous.content.decode()

    assert "no-store" not in anonymous.get("Cache-Control", "")
    answer = client.get(url, {"code": dossier.code, "personal_id": applicant.personal_id})
    assert answer["Cache-Control"] == "private, no-store"  # never kept by a shared cache
    proven = answer.json()
    assert proven["applicant_name"] == applicant.full_name and proven["proven"] is True
    again = client.get(url, {"code": dossier.code}).json()  # the name stays out of the cache
    assert again["applicant_name"] is None and again["proven"] is False
    missing = client.get(url, {"code": "HN-00070-200101-0001"})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_endpoints_are_in_the_openapi(client: Any, db: Any) -> None:
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    assert "/api/dossiers/" in paths and "post" in paths["/api/dossiers/"]
    body = paths["/api/dossiers/"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "payload" in body["schema"]["properties"]
    assert any(
        p["name"] == "Idempotency-Key" for p in paths["/api/dossiers/"]["post"]["parameters"]
    )
    assert "/api/dossiers/lookup" in paths
    assert "PublicStatusOut" in schema["components"]["schemas"]


def test_draft_then_submit_over_the_api(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    client.force_login(applicant)
    draft = client.post(
        reverse("api:dossier_draft"),
        {"procedure": procedure.code, "data": {"child_name": "Bé"}},
        content_type="application/json",
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft"
    assert draft.json()["code"] is None
    response = _submit(client, procedure, draft=draft.json()["id"])
    assert response.status_code == 201
    assert response.json()["id"] == draft.json()["id"]
    assert Dossier.objects.count() == 1


def test_the_submit_answer_is_what_a_read_back_shows(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    """The 201 answer is built from what the submission wrote, without reading it back: it
    must say exactly what GET /api/dossiers/{id} says, and the idempotent replay too."""
    client.force_login(applicant)
    created = _submit(client, procedure, key="same-answer", receiving_agency=ward_agency.code)
    assert created.status_code == 201, created.content
    body = _instants(created.json())
    read = client.get(
        reverse("api:dossier_get", args=[body["id"]]), headers={"Accept-Language": "en"}
    )
    assert _instants(read.json()) == body
    replay = _submit(client, procedure, key="same-answer", receiving_agency=ward_agency.code)
    assert replay.status_code == 201 and _instants(replay.json()) == body


def _instants(value: Any) -> Any:
    """The answer with its date-times as instants (a row read back is in local time, the
    written one in UTC: the same moment)."""
    from datetime import datetime

    if isinstance(value, dict):
        return {k: _instants(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_instants(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def test_a_submission_costs_a_fixed_number_of_queries(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    """The procedure's version and the agency come from the process's caches after the first
    submission; the dossier is not read back for the answer, and notify takes no savepoint."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(applicant)
    assert _submit(client, procedure, receiving_agency=ward_agency.code).status_code == 201
    with CaptureQueriesContext(connection) as ctx:
        response = _submit(client, procedure, key="k-2", receiving_agency=ward_agency.code)
    assert response.status_code == 201, response.content
    sql = [q["sql"] for q in ctx.captured_queries]
    # One savepoint: the submitting transaction itself, inside the test's (notify adds none).
    assert sum(s.startswith("SAVEPOINT") for s in sql) == 1
    assert not any('procedures_procedureversion"."spec' in s for s in sql)
    assert sum('FROM "accounts_agency"' in s for s in sql) == 0
    written = [s.split()[2].strip('"') for s in sql if s.startswith("INSERT INTO")]
    assert sorted(written) == sorted(
        [
            "dossiers_dossier",
            "dossiers_dossierfile",
            "dossiers_dossierevent",
            "dossiers_dossiercounter",
            "core_auditevent",
            "notifications_notification",
        ]
    )
    assert len(sql) <= 16  # session and user, procedure, idempotency probe, the transaction


def test_a_deactivated_agency_is_refused_at_once(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    client.force_login(applicant)
    assert _submit(client, procedure, receiving_agency=ward_agency.code).status_code == 201
    ward_agency.is_active = False
    ward_agency.save()  # empties the process's agency cache
    refused = _submit(client, procedure, key="later", receiving_agency=ward_agency.code)
    assert refused.status_code == 422
    assert "receiving_agency" in refused.json()["fields"]


def test_a_newly_published_version_is_used_at_once(
    client: Any, applicant: Any, procedure: Any, ward_agency: Any
) -> None:
    from decimal import Decimal

    from thudo.procedures.services import procedure_publish

    client.force_login(applicant)
    first = _submit(client, procedure, receiving_agency=ward_agency.code)
    assert first.status_code == 201 and first.json()["version"] == 1
    procedure.deadline_days = Decimal("5.0")
    procedure.save()
    assert procedure_publish(procedure=procedure).number == 2
    second = _submit(client, procedure, key="v2", receiving_agency=ward_agency.code)
    assert second.status_code == 201 and second.json()["version"] == 2
    assert Dossier.objects.get(public_id=second.json()["id"]).version.number == 2
