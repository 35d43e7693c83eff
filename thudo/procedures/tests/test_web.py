"""Pages, the API and the admin."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from django.utils import translation

from thudo.accounts.testing import login_verified
from thudo.procedures.forms import SpecForm
from thudo.procedures.models import Procedure, ProcedureVersion

pytestmark = pytest.mark.django_db


def test_catalog_page_searches_and_filters(client: Any, catalog: None) -> None:
    r = client.get("/procedures/", {"q": "dang ky khai sinh"}, HTTP_ACCEPT_LANGUAGE="vi")
    assert r.status_code == 200
    body = r.content.decode()
    assert "Đăng ký khai sinh" in body and "/procedures/1.001193/" in body
    assert "Đăng ký kết hôn" not in body
    assert 'role="search"' in body and 'for="id_q"' in body
    r = client.get("/procedures/", {"event": "ket-hon"})
    assert "/procedures/1.000894/" in r.content.decode()
    assert "/procedures/1.000656/" not in r.content.decode()
    r = client.get("/procedures/", {"sector": "ly-lich-tu-phap"})
    assert "/procedures/2.000488/" in r.content.decode()
    r = client.get("/procedures/", {"q": "zzzz"})
    assert r.status_code == 200


def test_detail_page_shows_what_is_needed(client: Any, catalog: None) -> None:
    with translation.override("en"):
        r = client.get("/procedures/1.001193/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 200
    body = r.content.decode()
    assert "1.001193" in body
    assert "giay-chung-sinh" not in body  # papers by name, not code
    assert "PDF, JPG, PNG" in body
    assert "/procedures/1.001193/schema.json" in body
    ctx = r.context
    assert ctx["version"].number == 1
    assert ctx["apply_url"] in (None, "/dossiers/new/1.001193/")
    assert client.get("/procedures/nope/").status_code == 404


def test_detail_page_in_english(client: Any, catalog: None) -> None:
    client.cookies.load({"django_language": "en"})
    r = client.get("/procedures/2.000488/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 200


def test_schema_json(client: Any, catalog: None) -> None:
    r = client.get("/procedures/1.001193/schema.json")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/schema+json")
    schema = r.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "child_name" in schema["properties"]


def test_api_is_public(client: Any, catalog: None) -> None:
    r = client.get("/api/procedures/", {"q": "DANG KY KHAI SINH"})
    assert r.status_code == 200, r.content
    assert [p["code"] for p in r.json()] == ["1.001193"]
    assert r.json()[0]["life_events"] == ["sinh-con"]
    r = client.get("/api/procedures/", {"sector": "ho-tich", "event": "ket-hon"})
    assert {"1.000894", "1.004873"} <= {p["code"] for p in r.json()}
    sectors = client.get("/api/procedures/sectors").json()
    assert any(s["code"] == "ho-tich" and s["procedures"] >= 4 for s in sectors)
    events = client.get("/api/procedures/life-events").json()
    assert any(e["code"] == "sinh-con" for e in events)
    detail = client.get("/api/procedures/1.001193").json()
    assert detail["version"] == 1 and detail["spec"]["code"] == "1.001193"
    schema = client.get("/api/procedures/1.001193/schema").json()
    jsonschema.Draft202012Validator.check_schema(schema)
    r = client.get("/api/procedures/nope")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_spec_form_renders_and_validates(catalog: None) -> None:
    spec = ProcedureVersion.objects.get(procedure__code="1.001193").spec
    with translation.override("en"):
        form = SpecForm(spec)
        html = form.as_div()
        assert "Child&#x27;s full name" in html or "Child's full name" in html
        assert 'type="date"' in html and 'type="tel"' in html
        assert 'inputmode="numeric"' in html
        form = SpecForm(spec, data={"child_name": "An", "birth_date": "2025-13-01"})
        assert not form.is_valid()
        assert form.errors["birth_date"] == ["Enter a date as YYYY-MM-DD."]
        assert "mother_personal_id" in form.errors and "child_name" not in form.errors
    good = {
        "child_name": "Nguyễn Minh An",
        "birth_date": "2025-03-01",
        "sex": "male",
        "birth_place": "Bệnh viện Phụ sản Hà Nội",
        "ethnicity": "Kinh",
        "nationality": "Việt Nam",
        "mother_name": "Trần Thị Bình",
        "mother_personal_id": "001195012345",
        "relationship": "mother",
        "phone": "0912 345 678",
    }
    form = SpecForm(spec, data=good)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "0912345678"
    assert form.cleaned_data["residence_and_insurance"] is False


def _admin(make_official: Any, client: Any) -> Any:
    user = make_official(username="catalog.admin")
    user.is_staff = user.is_superuser = True
    user.save()
    return login_verified(client, user)


def _inline(prefix: str, rows: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{i}-{key}"] = value
    return data


def _procedure_post(sector_id: int, shares: tuple[int, ...] = (10, 60, 30), **over: Any) -> dict:
    data: dict[str, Any] = {
        "code": "9.100001",
        "name": "Đăng ký giám hộ",
        "name_en": "Guardianship registration",
        "sector": str(sector_id),
        "is_active": "on",
        "agency_kind": "commune_committee",
        "department_code": "",
        "online_level": "full",
        "deadline_days": "3.0",
        "cutoff": "",
        "fee": "0",
        "fee_waived_online": "on",
        "result_title": "Trích lục đăng ký giám hộ",
        "result_title_en": "",
        "result_body": "{ward_name}",
        "result_fields": '["ward_name"]',
        "description": "",
        "description_en": "",
    }
    data.update(
        _inline(
            "papers",
            [
                {
                    "order": "0",
                    "code": "to-khai",
                    "name": "Tờ khai",
                    "required": "on",
                    "file_types": "pdf",
                    "max_mb": "5",
                }
            ],
        )
    )
    data.update(
        _inline(
            "fields",
            [
                {
                    "order": "0",
                    "name": "ward_name",
                    "type": "text",
                    "required": "on",
                    "label": "Họ tên người được giám hộ",
                    "choices": "[]",
                }
            ],
        )
    )
    roles = ["receiving_officer", "processing_officer", "approver"]
    data.update(
        _inline(
            "steps",
            [
                {"order": str(i), "name": f"B{i}", "role": roles[i % 3], "share": str(s)}
                for i, s in enumerate(shares)
            ],
        )
    )
    data.update(_inline("versions", []))
    data.update(over)
    return data


def test_admin_save_publishes_a_version(client: Any, make_official: Any, catalog: None) -> None:
    from thudo.procedures.models import Sector

    _admin(make_official, client)
    sector = Sector.objects.get(code="ho-tich")
    r = client.post("/admin/procedures/procedure/add/", _procedure_post(sector.pk))
    assert r.status_code == 302, r.context["errors"] if r.context else r
    procedure = Procedure.objects.get(code="9.100001")
    assert procedure.versions.count() == 1
    spec = procedure.versions.get().spec
    assert spec["fields"][0]["name"] == "ward_name" and len(spec["steps"]) == 3
    assert "giam ho" in procedure.search_text

    # The change form and the version pages open.
    assert client.get(f"/admin/procedures/procedure/{procedure.pk}/change/").status_code == 200
    version = procedure.versions.get()
    assert client.get(f"/admin/procedures/procedureversion/{version.pk}/change/").status_code == 200
    assert client.get("/admin/procedures/procedure/").status_code == 200
    assert client.get("/admin/procedures/sector/").status_code == 200


def test_admin_refuses_wrong_shares_and_unknown_result_fields(
    client: Any, make_official: Any, catalog: None
) -> None:
    from thudo.procedures.models import Sector

    _admin(make_official, client)
    client.cookies["thudo_language"] = "en"
    sector = Sector.objects.get(code="ho-tich")
    with translation.override("en"):
        r = client.post(
            "/admin/procedures/procedure/add/",
            _procedure_post(sector.pk, shares=(10, 60, 20)),
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert r.status_code == 200
        assert "must add up to 100%" in r.content.decode()
        r = client.post(
            "/admin/procedures/procedure/add/",
            _procedure_post(sector.pk, result_fields='["ward_name", "nope"]'),
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert r.status_code == 200
        assert "do not exist: nope" in r.content.decode()
    assert not Procedure.objects.filter(code="9.100001").exists()


def test_admin_edit_publishes_only_on_change(
    client: Any, make_official: Any, catalog: None
) -> None:
    from thudo.procedures.models import Sector

    _admin(make_official, client)
    sector = Sector.objects.get(code="ho-tich")
    client.post("/admin/procedures/procedure/add/", _procedure_post(sector.pk))
    procedure = Procedure.objects.get(code="9.100001")
    url = f"/admin/procedures/procedure/{procedure.pk}/change/"

    def post(**over: Any) -> Any:
        data = _procedure_post(sector.pk, **over)
        for prefix, rel in (
            ("papers", procedure.papers),
            ("fields", procedure.fields),
            ("steps", procedure.steps),
        ):
            ids = list(rel.order_by("order", "pk").values_list("pk", flat=True))
            data[f"{prefix}-INITIAL_FORMS"] = str(len(ids))
            for i, pk in enumerate(ids):
                data[f"{prefix}-{i}-id"] = str(pk)
                data[f"{prefix}-{i}-procedure"] = str(procedure.pk)
        return client.post(url, data)

    assert post().status_code == 302
    assert procedure.versions.count() == 1  # nothing changed
    assert post(deadline_days="5.0").status_code == 302
    assert list(procedure.versions.values_list("number", flat=True)) == [2, 1]
    assert procedure.versions.get(number=2).spec["deadline_days"] == "5.0"
    assert procedure.versions.get(number=1).spec["deadline_days"] == "3.0"


def test_catalog_page_has_a_fixed_number_of_queries(
    client: Any, catalog: None, django_assert_max_num_queries: Any
) -> None:
    client.get("/procedures/")  # warm caches (sessions, menus)
    with django_assert_max_num_queries(12):
        r = client.get("/procedures/")
    assert r.status_code == 200
    sectors = [s["code"] for s in r.context["sectors"]]
    assert sectors[0] == "ho-tich"  # in the catalog's order, not alphabetical
