"""Open311 GeoReport v2 at /open311/v2/: the spec's JSON and XML, every error, the filters.

Given a ward with its committee, two reportable categories (one with questions), one answered
by an emergency number, and an information system's API key; when a client calls the
endpoint; then the answers have the spec's shapes and the reports are filed as the domain
rules say.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image

from thudo.feedback import open311

BASE = "/open311/v2/"
WARD_POINT = {"lat": "21.0287", "long": "105.8524"}  # Hoàn Kiếm
QUESTIONS: list[dict[str, Any]] = [
    {
        "code": "hazards",
        "label": "Nguy hiểm kèm theo",
        "label_en": "Other hazards",
        "datatype": "multivaluelist",
        "required": False,
        "order": 2,
        "values": [
            {"key": "water", "name": "Đọng nước", "name_en": "Standing water"},
            {"key": "dark", "name": "Thiếu đèn", "name_en": "No street light"},
        ],
    },
    {
        "code": "size",
        "label": "Kích thước",
        "label_en": "Size",
        "datatype": "singlevaluelist",
        "required": True,
        "order": 1,
        "values": [
            {"key": "small", "name": "Nhỏ", "name_en": "Small"},
            {"key": "large", "name": "Lớn", "name_en": "Large"},
        ],
    },
    {"code": "depth", "label": "Độ sâu (cm)", "datatype": "number", "order": 3},
    {"code": "note", "label": "Ghi chú", "label_en": "Note", "datatype": "text", "order": 4},
]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def city(make_agency: Any, ward: Any, hanoi: Any) -> Any:
    """The city committee and the committee of Hoàn Kiếm, whose centre is known."""
    from thudo.core.models import AdminUnit

    AdminUnit.objects.filter(code=ward.code).update(latitude=21.0287, longitude=105.8524)
    root = make_agency("HN", kind="city_committee", name="Ủy ban nhân dân thành phố Hà Nội")
    ward_agency = make_agency(
        "HN-00070", unit=ward, parent=root, name="Ủy ban nhân dân phường Hoàn Kiếm"
    )
    ward_agency.name_en = "Hoan Kiem Ward People's Committee"
    ward_agency.save(update_fields=["name_en"])
    return SimpleNamespace(root=root, ward=ward_agency)


@pytest.fixture
def categories(db: Any) -> Any:
    from thudo.feedback.models import Category

    pothole = Category.objects.create(
        code="o-ga",
        name="Ổ gà, hư hỏng mặt đường",
        name_en="Potholes and damaged roads",
        description="Mặt đường bị lún, nứt, ổ gà.",
        description_en="Sunken, cracked or holed road surface.",
        group="Giao thông",
        keywords="ổ gà, mặt đường, lún",
        questions=QUESTIONS,
        order=1,
    )
    waste = Category.objects.create(
        code="rac-thai", name="Rác thải", name_en="Waste", group="Môi trường", order=2
    )
    fire = Category.objects.create(
        code="chay-no", name="Cháy nổ, an ninh trật tự", redirect_phone="114", order=3
    )
    closed = Category.objects.create(code="cu", name="Đã bỏ", is_active=False, order=4)
    return SimpleNamespace(pothole=pothole, waste=waste, fire=fire, closed=closed)


@pytest.fixture
def system(db: Any) -> Any:
    """An information system (a 311 app) and its API key."""
    from thudo.accounts import services as account_services
    from thudo.accounts.models import User

    user = User.objects.create(username="ung-dung-311", full_name="Ứng dụng 311", kind="system")
    _token, raw = account_services.api_token_create(user=user, name="Open311")
    return SimpleNamespace(user=user, key=raw)


@pytest.fixture
def api(client: Client) -> Any:
    def call(path: str, method: str = "get", **kwargs: Any) -> Any:
        return getattr(client, method)(BASE + path, **kwargs)

    return call


def submit(category: Any, system: Any, **extra: Any) -> Any:
    """A report filed by the Open311 client through the domain's service."""
    from thudo.feedback import services

    values: dict[str, Any] = {
        "reporter": None,
        "category": category,
        "description": "Ổ gà lớn trước số 12",
        "latitude": 21.0287,
        "longitude": 105.8524,
        "attributes": {"size": "small"} if category.questions else None,
        "source": "open311",
        "client": system.user,
        "contact": {},
        "require_media": False,
    }
    values.update(extra)
    return services.report_submit(**values)


def post_data(system: Any, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "api_key": system.key,
        "service_code": "o-ga",
        **WARD_POINT,
        "description": "Ổ gà sâu giữa đường",
        "attribute[size]": "large",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def errors_of(response: Any) -> list[dict[str, Any]]:
    if response["Content-Type"].startswith("text/xml"):
        root = ET.fromstring(response.content)  # noqa: S314 — our own answer
        assert root.tag == "errors"
        return [
            {"code": int(e.findtext("code") or 0), "description": e.findtext("description")}
            for e in root.findall("error")
        ]
    body = json.loads(response.content)
    assert isinstance(body, list)
    return body


def assert_error(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.content
    errors = errors_of(response)
    assert errors and all(e["code"] == status for e in errors)
    text = " ".join(str(e["description"]) for e in errors)
    for word in words:
        assert word in text
    return text


def jpeg(color: str = "red") -> io.BytesIO:
    data = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(data, "JPEG")
    data.seek(0)
    data.name = "o-ga.jpg"
    return data


def xml_of(response: Any) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)  # noqa: S314 — our own answer


# --- discovery and services ----------------------------------------------------------------


def test_discovery_json_and_xml(api: Any) -> None:
    body = api("discovery.json").json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2/"
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["changeset"].endswith("+07:00")

    root = xml_of(api("discovery.xml"))
    assert root.tag == "discovery"
    node = root.find("endpoints/endpoint")
    assert node is not None
    assert node.findtext("url") == "http://testserver/open311/v2/"
    assert [f.text for f in node.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_list_the_reportable_categories(api: Any, categories: Any) -> None:
    response = api("services.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    services = response.json()
    assert [s["service_code"] for s in services] == ["o-ga", "rac-thai"]  # not 114, not closed
    assert services[0] == {
        "service_code": "o-ga",
        "service_name": "Potholes and damaged roads",
        "description": "Sunken, cracked or holed road surface.",
        "metadata": True,
        "type": "realtime",
        "keywords": "ổ gà, mặt đường, lún",
        "group": "Giao thông",
    }
    assert services[1]["metadata"] is False
    assert services[1]["description"] is None


def test_services_in_vietnamese_when_asked(api: Any, categories: Any) -> None:
    response = api("services.json", HTTP_ACCEPT_LANGUAGE="vi-VN,vi;q=0.9,en;q=0.5")
    assert response.json()[0]["service_name"] == "Ổ gà, hư hỏng mặt đường"
    assert response["Content-Language"] == "vi"
    english = api("services.json", HTTP_ACCEPT_LANGUAGE="fr, en;q=0.8, vi;q=0.3")
    assert english.json()[0]["service_name"] == "Potholes and damaged roads"


def test_services_xml(api: Any, categories: Any) -> None:
    root = xml_of(api("services.xml"))
    assert root.tag == "services"
    services = root.findall("service")
    assert [s.findtext("service_code") for s in services] == ["o-ga", "rac-thai"]
    first = services[0]
    assert first.findtext("metadata") == "true"
    assert first.findtext("type") == "realtime"
    assert first.findtext("service_name") == "Potholes and damaged roads"
    assert services[1].findtext("metadata") == "false"
    assert services[1].find("description") is not None  # present and empty
    assert services[1].findtext("description") == ""


def test_service_definition_json(api: Any, categories: Any) -> None:
    body = api("services/o-ga.json").json()
    assert body["service_code"] == "o-ga"
    attributes = body["attributes"]
    assert [a["code"] for a in attributes] == ["size", "hazards", "depth", "note"]
    assert [a["order"] for a in attributes] == [1, 2, 3, 4]
    size = attributes[0]
    assert size == {
        "variable": True,
        "code": "size",
        "datatype": "singlevaluelist",
        "required": True,
        "datatype_description": size["datatype_description"],
        "order": 1,
        "description": "Size",
        "values": [{"key": "small", "name": "Small"}, {"key": "large", "name": "Large"}],
    }
    assert attributes[1]["datatype"] == "multivaluelist"
    assert attributes[1]["required"] is False
    assert attributes[2]["datatype"] == "number"
    assert attributes[2]["description"] == "Độ sâu (cm)"  # no English label: the Vietnamese
    assert attributes[3]["datatype"] == "text"
    assert attributes[3]["datatype_description"] is None
    assert attributes[3]["values"] == []
    assert api("services/rac-thai.json").json() == {"service_code": "rac-thai", "attributes": []}


def test_service_definition_xml(api: Any, categories: Any) -> None:
    root = xml_of(api("services/o-ga.xml", HTTP_ACCEPT_LANGUAGE="vi"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "o-ga"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["size", "hazards", "depth", "note"]
    size = attributes[0]
    assert size.findtext("variable") == "true"
    assert size.findtext("required") == "true"
    assert size.findtext("order") == "1"
    assert size.findtext("description") == "Kích thước"
    values = [(v.findtext("key"), v.findtext("name")) for v in size.findall("values/value")]
    assert values == [("small", "Nhỏ"), ("large", "Lớn")]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_is_404(api: Any, categories: Any, fmt: str) -> None:
    assert_error(api(f"services/khong-co.{fmt}"), 404, "khong-co")
    assert_error(api(f"services/cu.{fmt}"), 404, "cu")  # inactive


# --- POST requests ---------------------------------------------------------------------------


def test_post_creates_a_report_and_answers_its_id(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    from thudo.feedback.models import Report

    data = post_data(
        system,
        **{
            "jurisdiction_id": "hanoi.gov.vn",
            "address_string": "12 Hàng Bài, Hoàn Kiếm, Hà Nội",
            "email": "an@example.vn",
            "first_name": "An",
            "last_name": "Nguyễn",
            "phone": "0912345678",
            "device_id": "device-1",
            "account_id": "app-42",
            "media_url": "https://photos.example.com/o-ga.jpg",
            "attribute[hazards][]": ["water", "dark"],
            "attribute[depth]": "12",
            "attribute[note]": "Hai dòng\nghi chú",
            "attribute[unknown]": "bỏ qua",
        },
    )
    response = api("requests.json", "post", data=data)
    assert response.status_code == 200, response.content
    [answer] = response.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] is None
    report = Report.objects.get(pk=answer["service_request_id"])
    assert "Hoan Kiem Ward People's Committee" in answer["service_notice"]

    assert report.source == "open311"
    assert report.client == system.user
    assert report.reporter is None
    assert report.status == "submitted"
    assert report.category.code == "o-ga"
    assert report.agency == city.ward
    assert (report.latitude, report.longitude) == (21.0287, 105.8524)
    assert report.address == "12 Hàng Bài, Hoàn Kiếm, Hà Nội"
    assert report.reporter_name == "An Nguyễn"
    assert report.reporter_email == "an@example.vn"
    assert report.reporter_phone == "0912345678"
    assert report.device_id == "device-1"
    # the attributes round-trip as the definition types them; unknown codes are dropped
    assert report.attributes == {
        "size": "large",
        "hazards": ["water", "dark"],
        "depth": 12,
        "note": "Hai dòng\nghi chú",
    }
    assert not report.media.exists()  # media_url is never fetched nor kept


def test_post_multivaluelist_as_repeated_codes(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    """Node's querystring sends a list as attribute[code]=a&attribute[code]=b."""
    from thudo.feedback.models import Report

    data = post_data(system, **{"attribute[hazards]": ["dark", "water"]})
    answer = api("requests.json", "post", data=data).json()[0]
    assert Report.objects.get(pk=answer["service_request_id"]).attributes["hazards"] == [
        "dark",
        "water",
    ]


def test_post_xml_answer(api: Any, city: Any, categories: Any, system: Any) -> None:
    response = api("requests.xml", "post", data=post_data(system, service_code="rac-thai"))
    assert response.status_code == 200, response.content
    root = xml_of(response)
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    assert [child.tag for child in request] == [
        "service_request_id",
        "service_notice",
        "account_id",
    ]
    assert (request.findtext("service_request_id") or "").isdigit()
    assert request.findtext("account_id") == ""


def test_post_with_a_photo_and_read_its_media_url(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    from thudo.feedback.models import Report

    data = post_data(system, media=jpeg())
    response = api("requests.json", "post", data=data)
    assert response.status_code == 200, response.content
    report_id = response.json()[0]["service_request_id"]
    photo = Report.objects.get(pk=report_id).media.get()
    assert photo.kind == "photo"

    [request] = api(f"requests/{report_id}.json").json()
    assert request["media_url"] == f"http://testserver/feedback/media/{photo.pk}/"


def test_post_refuses_a_file_that_is_not_a_photo(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    fake = io.BytesIO(b"not an image at all")
    fake.name = "o-ga.jpg"
    assert_error(api("requests.json", "post", data=post_data(system, media=fake)), 400, "media")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_without_or_with_a_bad_api_key_is_403(
    api: Any, city: Any, categories: Any, system: Any, fmt: str
) -> None:
    assert_error(api(f"requests.{fmt}", "post", data=post_data(system, api_key=None)), 403)
    bad = post_data(system, api_key=system.key[:-3] + "xyz")
    assert_error(api(f"requests.{fmt}", "post", data=bad), 403, "api_key")
    assert_error(api(f"requests.{fmt}", "post", data=post_data(system, api_key="junk")), 403)


def test_post_with_a_revoked_or_a_person_s_key_is_403(
    api: Any, city: Any, categories: Any, system: Any, citizen: Any
) -> None:
    from thudo.accounts import services as account_services
    from thudo.accounts.models import ApiToken

    _token, personal = account_services.api_token_create(user=citizen, name="script")
    assert_error(
        api("requests.json", "post", data=post_data(system, api_key=personal)),
        403,
        "information system",
    )
    account_services.api_token_revoke(token=ApiToken.objects.get(user=system.user))
    assert_error(api("requests.json", "post", data=post_data(system)), 403)


def test_post_service_code_missing_400_unknown_404(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    data = post_data(system, service_code=None)
    assert_error(api("requests.json", "post", data=data), 400, "service_code")
    data = post_data(system, service_code="khong-co")
    assert_error(api("requests.json", "post", data=data), 404, "khong-co")


def test_post_emergency_category_tells_the_number(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    data = post_data(system, service_code="chay-no")
    assert_error(api("requests.json", "post", data=data), 400, "service_code", "114")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"lat": None, "long": None}, ["lat and long are required"]),
        ({"lat": None, "long": None, "address_string": "12 Hàng Bài"}, ["address_string"]),
        ({"lat": None, "long": None, "address_id": "545483"}, ["address_id"]),
        ({"long": None}, ["together"]),
        ({"lat": "north"}, ["lat"]),
        ({"lat": "10.77", "long": "106.70"}, ["lat/long"]),  # Ho Chi Minh City, not Hanoi
    ],
)
def test_post_place_errors(
    api: Any, city: Any, categories: Any, system: Any, change: dict[str, Any], words: list[str]
) -> None:
    data = post_data(system, **change)
    assert_error(api("requests.json", "post", data=data), 400, *words)


def test_post_attribute_errors_name_the_code(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    from thudo.feedback.models import Report

    missing = post_data(system, **{"attribute[size]": None})
    assert_error(api("requests.json", "post", data=missing), 400, "attribute[size]")
    wrong = post_data(system, **{"attribute[size]": "huge"})
    assert_error(api("requests.json", "post", data=wrong), 400, "attribute[size]")
    several = post_data(system, **{"attribute[size]": ["small", "large"]})
    assert_error(api("requests.json", "post", data=several), 400, "attribute[size]")
    bad_list = post_data(system, **{"attribute[hazards][]": ["water", "fire"]})
    assert_error(api("requests.json", "post", data=bad_list), 400, "attribute[hazards]")
    not_number = post_data(system, **{"attribute[depth]": "sâu"})
    assert_error(api("requests.json", "post", data=not_number), 400, "attribute[depth]")
    assert not Report.objects.exists()


def test_post_description_errors(api: Any, city: Any, categories: Any, system: Any) -> None:
    data = post_data(system, description=None)
    assert_error(api("requests.json", "post", data=data), 400, "description")
    data = post_data(system, description="x" * 4001)
    assert_error(api("requests.json", "post", data=data), 400, "description", "4000")
    data = post_data(system, email="not-an-address")
    assert_error(api("requests.xml", "post", data=data), 400, "email")


def test_post_flood_is_429_with_retry_after(
    api: Any, city: Any, categories: Any, system: Any, settings: Any
) -> None:
    settings.FEEDBACK_MAX_REPORTS_PER_HOUR = 1
    data = post_data(system, email="an@example.vn")
    assert api("requests.json", "post", data=data).status_code == 200
    response = api("requests.json", "post", data=data)
    assert_error(response, 429)
    assert int(response["Retry-After"]) > 0
    other_person = post_data(system, email="binh@example.vn")
    assert api("requests.json", "post", data=other_person).status_code == 200


def test_post_needs_no_csrf_token(city: Any, categories: Any, system: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(BASE + "requests.json", data=post_data(system))
    assert response.status_code == 200, response.content


# --- jurisdiction, format, method, path ---------------------------------------------------------


@pytest.mark.parametrize("path", ["services.json", "requests.json", "discovery.json"])
def test_jurisdiction(api: Any, categories: Any, path: str) -> None:
    assert api(path, data={"jurisdiction_id": "hanoi.gov.vn"}).status_code == 200
    assert api(path, data={"jurisdiction_id": ""}).status_code == 200
    assert_error(api(path, data={"jurisdiction_id": "sfgov.org"}), 404, "sfgov.org")


def test_post_to_another_jurisdiction_is_404(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    data = post_data(system, jurisdiction_id="sfgov.org")
    assert_error(api("requests.json", "post", data=data), 404, "jurisdiction_id")


def test_format_missing_or_unknown(api: Any, categories: Any) -> None:
    missing = api("services")
    assert_error(missing, 400, ".xml or .json")
    assert missing["Content-Type"].startswith("text/xml")  # the spec's required format
    as_json = api("services/o-ga", HTTP_ACCEPT="application/json")
    assert_error(as_json, 400)
    assert as_json["Content-Type"].startswith("application/json")
    assert_error(api("services.csv"), 404, "csv")
    assert_error(api("requests/1.yaml"), 404, "yaml")


def test_unknown_path_and_method(api: Any, categories: Any) -> None:
    assert_error(api("nothing/here.json"), 404)
    assert_error(api(""), 404)
    response = api("services.json", "post", data={})
    assert_error(response, 405, "POST")
    assert response["Allow"] == "GET, HEAD"
    assert api("requests/1.json", "delete").status_code == 405


def test_errors_are_english_by_default(api: Any, categories: Any) -> None:
    response = api("services/khong-co.json")
    assert response["Content-Language"] == "en"
    assert response.json()[0]["description"] == "service_code khong-co was not found."
    assert api("services/khong-co.json", HTTP_ACCEPT_LANGUAGE="vi")["Content-Language"] == "vi"


# --- GET requests ---------------------------------------------------------------------------


def test_request_detail_json(api: Any, city: Any, categories: Any, system: Any) -> None:
    report = submit(categories.pothole, system, address="12 Hàng Bài")
    response = api(f"requests/{report.pk}.json")
    assert response.status_code == 200
    [request] = response.json()
    assert request == {
        "service_request_id": report.pk,
        "status": "open",
        "status_notes": "Waiting to be accepted",
        "service_name": "Potholes and damaged roads",
        "service_code": "o-ga",
        "description": "Ổ gà lớn trước số 12",
        "agency_responsible": "Hoan Kiem Ward People's Committee",
        "service_notice": request["service_notice"],
        "requested_datetime": timezone.localtime(report.submitted_at).isoformat("T", "seconds"),
        "updated_datetime": timezone.localtime(report.updated_at).isoformat("T", "seconds"),
        "expected_datetime": timezone.localtime(report.resolve_due).isoformat("T", "seconds"),
        "address": "12 Hàng Bài",
        "address_id": None,
        "zipcode": None,
        "lat": 21.0287,
        "long": 105.8524,
        "media_url": None,
    }
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert request[name].endswith("+07:00")
        assert len(request[name]) == len("2026-11-23T09:15:00+07:00")


def test_request_detail_xml(api: Any, city: Any, categories: Any, system: Any) -> None:
    report = submit(categories.pothole, system)
    root = xml_of(api(f"requests/{report.pk}.xml", HTTP_ACCEPT_LANGUAGE="vi"))
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    assert [child.tag for child in request] == [
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    ]
    assert request.findtext("service_request_id") == str(report.pk)
    assert request.findtext("status") == "open"
    assert request.findtext("service_name") == "Ổ gà, hư hỏng mặt đường"
    assert request.findtext("agency_responsible") == "Ủy ban nhân dân phường Hoàn Kiếm"
    assert request.findtext("lat") == "21.0287"
    assert request.findtext("address") == ""


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_request_detail_not_found(
    api: Any, city: Any, categories: Any, system: Any, fmt: str
) -> None:
    from thudo.feedback.models import Report

    assert_error(api(f"requests/999999.{fmt}"), 404, "999999")
    assert_error(api(f"requests/abc.{fmt}"), 404, "abc")
    hidden = submit(categories.pothole, system)
    Report.objects.filter(pk=hidden.pk).update(visibility="hidden")
    assert_error(api(f"requests/{hidden.pk}.{fmt}"), 404)


def test_status_follows_the_report(
    api: Any, city: Any, categories: Any, system: Any, make_official: Any
) -> None:
    from thudo.feedback import services

    officer = make_official("receiving_officer", city.ward)
    report = submit(categories.waste, system)
    services.report_accept(user=officer, report=report)
    [request] = api(f"requests/{report.pk}.json").json()
    assert (request["status"], request["status_notes"]) == ("open", "Being handled")

    services.report_answer(
        user=officer, report=report, text="Đã thu gom rác.", resolution="answered"
    )
    [request] = api(f"requests/{report.pk}.json").json()
    assert request["status"] == "closed"
    assert request["status_notes"] == "Đã thu gom rác."
    assert request["service_notice"] is None


def test_token_gives_the_id(api: Any, city: Any, categories: Any, system: Any) -> None:
    report = submit(categories.pothole, system)
    assert api(f"tokens/{report.token}.json").json() == [
        {"service_request_id": report.pk, "token": str(report.token)}
    ]
    root = xml_of(api(f"tokens/{report.token}.xml"))
    assert root.findtext("request/service_request_id") == str(report.pk)
    assert root.findtext("request/token") == str(report.token)
    assert_error(api("tokens/8d5f0c4e-3c1b-4b7e-9d0a-000000000000.json"), 404, "token")
    assert_error(api("tokens/not-a-token.xml"), 404)


def test_requests_default_to_the_last_90_days_newest_first(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    now = timezone.now()
    old = submit(categories.pothole, system, now=now - timedelta(days=91))
    older = submit(categories.waste, system, now=now - timedelta(days=30))
    newer = submit(categories.pothole, system, now=now - timedelta(days=1))
    ids = [r["service_request_id"] for r in api("requests.json").json()]
    assert ids == [newer.pk, older.pk]
    assert old.pk not in ids

    root = xml_of(api("requests.xml"))
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [
        str(newer.pk),
        str(older.pk),
    ]


def test_requests_date_range(api: Any, city: Any, categories: Any, system: Any) -> None:
    now = timezone.now()
    old = submit(categories.pothole, system, now=now - timedelta(days=120))
    recent = submit(categories.pothole, system, now=now - timedelta(days=2))

    def ids(**params: str) -> list[int]:
        response = api("requests.json", data=params)
        assert response.status_code == 200, response.content
        return [r["service_request_id"] for r in response.json()]

    start = (now - timedelta(days=150)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=start, end_date=end) == [old.pk]
    assert ids(start_date=start) == [old.pk]  # start + 90 days
    assert ids(end_date=end) == [old.pk]  # end - 90 days
    local = timezone.localtime(now - timedelta(days=3)).isoformat(timespec="seconds")
    assert ids(start_date=local) == [recent.pk]  # with the +07:00 offset
    assert ids(start_date=local.replace("+", " ")) == [recent.pk]  # "+" left unencoded

    too_long = api("requests.json", data={"start_date": start, "end_date": now.isoformat()})
    assert_error(too_long, 400, "90 days")
    reversed_range = api("requests.json", data={"start_date": end, "end_date": start})
    assert_error(reversed_range, 400, "end_date")
    assert_error(api("requests.json", data={"start_date": "yesterday"}), 400, "start_date")


def test_requests_by_status_and_service_code(
    api: Any, city: Any, categories: Any, system: Any, make_official: Any
) -> None:
    from thudo.feedback import services

    officer = make_official("receiving_officer", city.ward)
    waiting = submit(categories.pothole, system)
    accepted = services.report_accept(user=officer, report=submit(categories.waste, system))
    answered = submit(categories.waste, system)
    services.report_accept(user=officer, report=answered)
    services.report_answer(user=officer, report=answered, text="Xong.", resolution="answered")

    def ids(**params: str) -> set[int]:
        response = api("requests.json", data=params)
        assert response.status_code == 200, response.content
        return {r["service_request_id"] for r in response.json()}

    assert ids(status="open") == {waiting.pk, accepted.pk}
    assert ids(status="closed") == {answered.pk}
    assert ids(status="open,closed") == {waiting.pk, accepted.pk, answered.pk}
    assert ids(service_code="rac-thai") == {accepted.pk, answered.pk}
    assert ids(service_code="o-ga,rac-thai", status="closed") == {answered.pk}
    assert ids(service_code="khong-co") == set()
    assert_error(api("requests.json", data={"status": "pending"}), 400, "pending")


def test_requests_by_ids_override_the_other_filters(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    from thudo.feedback.models import Report

    old = submit(categories.pothole, system, now=timezone.now() - timedelta(days=200))
    recent = submit(categories.waste, system)
    hidden = submit(categories.waste, system)
    Report.objects.filter(pk=hidden.pk).update(visibility="flagged")
    response = api(
        "requests.json",
        data={"service_request_id": f"{old.pk}, {recent.pk},{hidden.pk},999999", "status": "x"},
    )
    assert response.status_code == 200, response.content
    assert [r["service_request_id"] for r in response.json()] == [recent.pk, old.pk]
    assert_error(api("requests.json", data={"service_request_id": "1,two"}), 400, "two")


def test_requests_leave_out_hidden_reports(
    api: Any, city: Any, categories: Any, system: Any
) -> None:
    from thudo.feedback.models import Report

    shown = submit(categories.pothole, system)
    hidden = submit(categories.pothole, system)
    Report.objects.filter(pk=hidden.pk).update(visibility="hidden")
    assert [r["service_request_id"] for r in api("requests.json").json()] == [shown.pk]


def test_requests_are_capped(
    api: Any, city: Any, categories: Any, system: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(open311, "MAX_REQUESTS", 2)
    made = [submit(categories.waste, system) for _ in range(3)]
    ids = [r["service_request_id"] for r in api("requests.json").json()]
    assert ids == [made[2].pk, made[1].pk]


def test_requests_list_query_count(
    api: Any,
    city: Any,
    categories: Any,
    system: Any,
    django_assert_max_num_queries: Any,
) -> None:
    from thudo.feedback import services

    for _ in range(6):
        services.report_submit(
            reporter=None,
            category=categories.waste,
            description="Rác tràn ra đường",
            latitude=21.0287,
            longitude=105.8524,
            media=[jpeg()],
            source="open311",
            client=system.user,
            contact={},
            require_media=False,
        )
    with django_assert_max_num_queries(4):
        response = api("requests.json")
    body = response.json()
    assert len(body) == 6
    assert all(r["media_url"].startswith("http://testserver/feedback/media/") for r in body)


def test_xml_leaves_out_characters_xml_cannot_carry() -> None:
    response = open311.render("xml", "services", [{"service_code": "o\x01-ga\x0b", "n": "Hà\tNội"}])
    root = xml_of(response)
    assert root.findtext("service/service_code") == "o-ga"
    assert root.findtext("service/n") == "Hà\tNội"


def test_answers_vary_by_language_and_format(api: Any, categories: Any) -> None:
    vary = api("services.json")["Vary"]
    assert "Accept-Language" in vary
    assert "Accept" in vary.replace("Accept-Language", "")


def test_nul_characters_are_a_400(api: Any, city: Any, categories: Any, system: Any) -> None:
    assert_error(api("services/o%00ga.json"), 400, "NUL")
    assert_error(api("requests.json", data={"service_code": "o-ga\x00"}), 400, "NUL")
    data = post_data(system, description="Ổ gà\x00")
    assert_error(api("requests.xml", "post", data=data), 400, "NUL")
