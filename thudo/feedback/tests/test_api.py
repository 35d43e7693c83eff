"""The feedback API (/api/feedback/): categories, public reports by box and filters, one report,
nearby reports, a new report (multipart, session or bearer token) and the statistics."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from thudo.accounts import services as accounts
from thudo.feedback import services
from thudo.feedback.models import Category, Report, ReportMedia, Visibility

from . import factories
from .factories import (
    HK_LAT,
    HK_LNG,
    image_bytes,
    mp4_bytes,
    photo,
    submit,
    upload,
)

# The domain's fixtures (assigned, not imported, so that test arguments may share the names).
fb = factories.fb
media_root = factories.media_root

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def _now_submit(fb: Any, **kwargs: Any) -> Report:
    return submit(fb, now=timezone.now(), **kwargs)


def _payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "pothole",
        "description": "Ổ gà trước số 8 Hàng Bài.",
        "latitude": HK_LAT,
        "longitude": HK_LNG,
        "address": "8 Hàng Bài",
        "unit_code": "00070",
    }
    body.update(overrides)
    return body


def _submit(client: Any, files: list[Any] | None = None, **payload: Any) -> Any:
    data: dict[str, Any] = {"payload": json.dumps(_payload(**payload))}
    data["media"] = [photo()] if files is None else files
    return client.post(reverse("api:feedback_submit"), data, **EN)


def test_categories_with_their_questions_in_the_callers_language(client: Any, fb: Any) -> None:
    Category.objects.filter(pk=fb.pothole.pk).update(
        notice="Chụp rõ.",
        notice_en="Take a clear photo.",
        questions=[
            {
                "code": "lane",
                "label": "Làn",
                "label_en": "Lane",
                "datatype": "singlevaluelist",
                "required": True,
                "values": [{"key": "left", "name": "Trái", "name_en": "Left"}],
            }
        ],
    )
    Category.objects.create(code="closed", name="Đã đóng", is_active=False)
    response = client.get(reverse("api:feedback_categories"), **EN)
    assert response.status_code == 200
    body = {c["code"]: c for c in response.json()}
    assert set(body) == {"pothole", "lighting", "fire"}
    pothole = body["pothole"]
    assert pothole["name"] == "Pothole" and pothole["notice"] == "Take a clear photo."
    assert pothole["questions"] == [
        {
            "code": "lane",
            "label": "Lane",
            "datatype": "singlevaluelist",
            "required": True,
            "order": 0,
            "values": [{"key": "left", "name": "Left"}],
        }
    ]
    assert body["fire"]["redirect_phone"] == "114"


def test_public_reports_by_box_filters_and_pages(client: Any, fb: Any) -> None:
    near = _now_submit(fb)
    far = _now_submit(fb, latitude=21.05, longitude=105.80, category=fb.lighting)
    hidden = _now_submit(fb, reporter=fb.neighbour)
    Report.objects.filter(pk=hidden.pk).update(visibility=Visibility.HIDDEN)
    url = reverse("api:feedback_reports")
    everything = client.get(url).json()
    assert everything["count"] == 2
    assert [r["id"] for r in everything["items"]] == [far.pk, near.pk]
    item = everything["items"][1]
    assert item["ward"] == fb.ward.code and item["agency"] == fb.ward_agency.code
    assert item["url"] == reverse("feedback:detail", args=[near.pk])
    bbox = f"{HK_LNG - 0.01},{HK_LAT - 0.01},{HK_LNG + 0.01},{HK_LAT + 0.01}"
    assert [r["id"] for r in client.get(url, {"bbox": bbox}).json()["items"]] == [near.pk]
    assert [r["id"] for r in client.get(url, {"category": "lighting"}).json()["items"]] == [far.pk]
    assert client.get(url, {"status": "closed"}).json()["count"] == 0
    page = client.get(url, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 2 and [r["id"] for r in page["items"]] == [near.pk]
    bad = client.get(url, {"bbox": "1,2,3"}, **EN)
    assert bad.status_code == 422 and "bbox" in bad.json()["fields"]
    assert client.get(url, {"limit": 1000}).status_code == 422


def test_one_report_public_and_for_its_reporter(client: Any, fb: Any) -> None:
    report = _now_submit(fb, media=[photo(), upload(mp4_bytes(), "clip.mp4", "video/mp4")])
    url = reverse("api:feedback_report", kwargs={"report_id": report.pk})
    public = client.get(url, **EN).json()
    assert public["reporter"] == "A resident"
    assert [m["kind"] for m in public["media"]] == ["photo"]  # no video for the public
    assert public["timeline"][0]["action"] == "submit"
    assert public["timeline"][0]["label"] == "Report sent"
    client.force_login(fb.resident)
    own = client.get(url, **EN).json()
    assert sorted(m["kind"] for m in own["media"]) == ["photo", "video"]
    Report.objects.filter(pk=report.pk).update(visibility=Visibility.HIDDEN)
    assert client.get(url).status_code == 200
    client.logout()
    hidden = client.get(url, **EN)
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"


def test_a_bearer_token_reads_as_its_user(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    Report.objects.filter(pk=report.pk).update(visibility=Visibility.HIDDEN)
    _token, raw = accounts.api_token_create(user=fb.resident, name="app")
    url = reverse("api:feedback_report", kwargs={"report_id": report.pk})
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert client.get(url).status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION="Bearer thd_bad").status_code == 401


def test_nearby_reports_nearest_first(client: Any, fb: Any) -> None:
    closer = _now_submit(fb, latitude=HK_LAT + 0.0005)
    further = _now_submit(fb, latitude=HK_LAT + 0.0015)
    _now_submit(fb, latitude=HK_LAT + 0.01)  # about 1.1 km
    _now_submit(fb, category=fb.lighting)
    url = reverse("api:feedback_nearby")
    found = client.get(url, {"category": "pothole", "lat": HK_LAT, "lng": HK_LNG}).json()
    assert [r["id"] for r in found] == [closer.pk, further.pk]
    assert 50 < found[0]["distance_m"] < 60
    unknown = client.get(url, {"category": "nope", "lat": HK_LAT, "lng": HK_LNG}, **EN)
    assert unknown.status_code == 422 and "category" in unknown.json()["fields"]
    assert client.get(url, {"category": "pothole", "lat": 99, "lng": 0}).status_code == 422


def test_submit_with_the_session(client: Any, fb: Any) -> None:
    client.force_login(fb.resident)
    response = _submit(client, urgent=True, show_name=True)
    assert response.status_code == 201, response.content
    body = response.json()
    report = Report.objects.get()
    assert body["id"] == report.pk and body["status"] == "submitted"
    assert body["urgency"] == "urgent" and body["reporter"] == fb.resident.full_name
    assert body["ward"] == fb.ward.code and body["agency"] == fb.ward_agency.code
    assert [m["kind"] for m in body["media"]] == ["photo"]
    assert report.reporter == fb.resident and report.media.count() == 1


def test_submit_with_a_bearer_token(client: Any, fb: Any) -> None:
    _token, raw = accounts.api_token_create(user=fb.resident, name="app")
    response = client.post(
        reverse("api:feedback_submit"),
        {"payload": json.dumps(_payload()), "media": [photo()]},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 201, response.content
    assert Report.objects.get().reporter == fb.resident


def test_submit_needs_a_caller(client: Any, fb: Any) -> None:
    response = _submit(client)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert not Report.objects.exists()


def test_submit_errors_are_field_by_field_and_leave_nothing(client: Any, fb: Any) -> None:
    client.force_login(fb.resident)
    broken = upload(image_bytes("JPEG")[:100], "broken.jpg", "image/jpeg")
    response = _submit(client, files=[broken], latitude=None, longitude=None, description=" ")
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert {"position", "description", "media"} <= set(fields)
    assert "damaged" in fields["media"][0]
    assert not Report.objects.exists() and not ReportMedia.objects.exists()
    too_long = _submit(client, description="x" * 4001)
    assert too_long.status_code == 422 and "description" in too_long.json()["fields"]
    malformed = client.post(
        reverse("api:feedback_submit"), {"payload": "{not json", "media": [photo()]}, **EN
    )
    assert malformed.status_code == 422
    stray = client.post(
        reverse("api:feedback_submit"),
        {"payload": json.dumps(_payload()), "photo": photo()},
        **EN,
    )
    assert stray.status_code == 422 and "photo" in stray.json()["fields"]


def test_submit_an_emergency_category_is_refused_with_its_number(client: Any, fb: Any) -> None:
    client.force_login(fb.resident)
    response = _submit(client, category="fire")
    assert response.status_code == 422
    assert "114" in response.json()["fields"]["category"][0]
    unknown = _submit(client, category="nope")
    assert unknown.status_code == 422 and "category" in unknown.json()["fields"]


def test_submit_is_throttled(client: Any, fb: Any, settings: Any) -> None:
    settings.FEEDBACK_MAX_REPORTS_PER_HOUR = 1
    _now_submit(fb)
    client.force_login(fb.resident)
    response = _submit(client)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert Report.objects.count() == 1


def test_statistics_need_the_dashboard_permission(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    services.report_accept(user=fb.ward_officer, report=report)
    url = reverse("api:feedback_statistics")
    client.force_login(fb.resident)
    assert client.get(url).status_code == 403
    client.force_login(fb.ward_leader)  # an approver: dashboards of the ward
    rows = client.get(url).json()
    assert len(rows) == 1
    row = rows[0]
    assert row["agency_name"] == fb.ward_agency.name and row["category_code"] == "pothole"
    assert row["received"] == 1 and row["accepted_on_time"] == 1 and row["backlog"] == 1
    # The city's leader sees the units below; another unit's code is refused to the ward.
    assert client.get(url, {"agency": fb.department.code}).status_code == 404
    client.force_login(fb.city_leader)
    assert len(client.get(url, {"agency": fb.ward_agency.code}).json()) == 1
    # A period without reports still shows the open ones (backlog), not the received.
    old = (timezone.localdate() - timedelta(days=400)).isoformat()
    older = (timezone.localdate() - timedelta(days=390)).isoformat()
    past = client.get(url, {"start": old, "end": older}).json()
    assert past[0]["received"] == 0 and past[0]["backlog"] == 1
    wrong = client.get(url, {"start": older, "end": old})
    assert wrong.status_code == 422
    client.logout()
    assert client.get(url).status_code == 401
