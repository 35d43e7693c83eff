import json

import pytest

from thudo.accounts import services
from thudo.accounts.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def bearer(citizen) -> dict:
    _token, raw = services.api_token_create(user=citizen, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_openapi_and_docs_are_served_locally(client) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["info"]["title"] == "Thudo API"
    assert "/api/core/units/{code}" in spec["paths"]
    assert "/api/accounts/me" in spec["paths"]
    docs = client.get("/api/docs").content.decode()
    assert "cdn" not in docs.lower() and "/static/ninja/" in docs


def test_health_needs_no_auth(client) -> None:
    assert client.get("/api/health").json()["status"] == "ok"


def test_token_auth_reads_one_unit(client, bearer) -> None:
    body = client.get("/api/core/units/00070", **bearer).json()
    assert body["name"] == "Phường Hoàn Kiếm" and body["parent"] == "01"


def test_missing_malformed_and_revoked_tokens_are_401(client, citizen) -> None:
    r = client.get("/api/core/units/00070")
    assert r.status_code == 401 and r.json()["code"] == "authentication_failed"
    r = client.get("/api/core/units/00070", HTTP_AUTHORIZATION="Bearer nonsense")
    assert r.status_code == 401 and r.json()["code"] == "malformed_token"
    assert "Authorization" in r.json()["fields"]
    r = client.get("/api/core/units/00070", HTTP_AUTHORIZATION="Basic abc")
    assert r.status_code == 401 and r.json()["code"] == "malformed_token"
    token, raw = services.api_token_create(user=citizen, name="t")
    services.api_token_revoke(token=token)
    r = client.get("/api/core/units/00070", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"


def test_errors_follow_accept_language(client, bearer) -> None:
    r = client.get("/api/core/units/99999", HTTP_ACCEPT_LANGUAGE="en", **bearer)
    assert r.status_code == 404
    assert r.json() == {
        "code": "unknown_admin_unit",
        "message": "Unknown administrative unit code.",
        "fields": {"admin_unit": ["No administrative unit has this code."]},
    }
    r = client.get("/api/core/units/99999", HTTP_ACCEPT_LANGUAGE="vi", **bearer)
    assert r.json()["message"] == "Mã đơn vị hành chính không tồn tại."
    assert r.headers["Content-Language"] == "vi"


def test_session_auth_works_for_pages(client, citizen) -> None:
    client.force_login(citizen)
    assert client.get("/api/accounts/me").json()["personal_id"] == citizen.personal_id


def test_me_lists_roles_and_permissions(client, make_agency, make_official) -> None:
    official = make_official(Role.AUDITOR, make_agency("HN", kind="city_committee"))
    _t, raw = services.api_token_create(user=official, name="t")
    body = client.get("/api/accounts/me", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert body["roles"] == [{"agency": "HN", "agency_name": "Agency HN", "role": "auditor"}]
    assert "audit.view" in body["permissions"]


def test_audit_api_is_for_auditors_only(client, bearer, make_agency, make_official) -> None:
    r = client.get("/api/core/audit", **bearer)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    auditor = make_official(Role.AUDITOR, make_agency("HN", kind="city_committee"))
    _t, raw = services.api_token_create(user=auditor, name="t")
    rows = client.get(
        "/api/core/audit?action=role.grant", HTTP_AUTHORIZATION=f"Bearer {raw}"
    ).json()
    assert len(rows) == 1 and rows[0]["data"] == {"agency": "HN", "role": "auditor"}


def test_register_citizen_needs_right_and_validates(client, make_agency, make_official) -> None:
    admin = make_official(Role.AGENCY_ADMIN, make_agency())
    _t, raw = services.api_token_create(user=admin, name="t")
    auth = {
        "HTTP_AUTHORIZATION": f"Bearer {raw}",
        "content_type": "application/json",
        "HTTP_ACCEPT_LANGUAGE": "en",
    }
    bad = {
        "personal_id": "001190000001",
        "full_name": "Lê Văn C",
        "sex": "male",
        "birth_date": "1990-01-01",
    }
    r = client.post("/api/accounts/citizens", json.dumps(bad), **auth)
    assert r.status_code == 422 and r.json()["fields"]["personal_id"] == [
        "The 4th digit does not match the person's sex."
    ]
    r = client.post("/api/accounts/citizens", json.dumps({**bad, "home_unit": "123"}), **auth)
    assert r.status_code == 422 and "admin_unit" in r.json()["fields"]
    r = client.post("/api/accounts/citizens", json.dumps({"full_name": 3}), **auth)
    assert r.status_code == 422 and "personal_id" in r.json()["fields"]
    good = {**bad, "personal_id": "001090000001"}
    r = client.post("/api/accounts/citizens", json.dumps(good), **auth)
    assert r.status_code == 201 and r.json()["username"] == "001090000001"


def test_unit_at_endpoint(client) -> None:
    r = client.get("/api/core/units/at?lat=91&lng=0")
    assert r.status_code == 422 and "position" in r.json()["fields"]


def test_unknown_api_path_is_a_json_404(client) -> None:
    r = client.get("/api/no/such/thing", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found" and r.json()["fields"] == {
        "path": ["/api/no/such/thing"]
    }


def test_calendar_deadline_endpoint(client) -> None:
    # Friday 13 Feb 2026 10:00, 3 working days: Tết (16-20 Feb) and the weekends are skipped.
    r = client.get("/api/core/calendar/deadline", {"start": "2026-02-13T10:00:00+07:00", "days": 3})
    assert r.status_code == 200
    assert r.json()["deadline"].startswith("2026-02-25T10:00:00")
    r = client.get("/api/core/calendar/deadline", {"start": "2026-02-13T10:00:00", "days": 1})
    assert r.status_code == 422 and "start" in r.json()["fields"]


def test_calendar_days_off(client) -> None:
    days = {d["date"] for d in client.get("/api/core/calendar/days-off?year=2026").json()}
    assert {"2026-02-16", "2026-02-20", "2026-09-02"} <= days
    assert client.get("/api/core/calendar/days-off?year=1500").status_code == 422
