"""The residents' and the public's report pages: the map and its list, the GeoJSON for the map,
reporting a problem (categories, emergency numbers, the place from a photo, the ward to confirm,
similar reports nearby, every error field by field), a report and its actions, my reports, and
who may open which photo or video."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from thudo.accounts.testing import login_verified
from thudo.feedback import services
from thudo.feedback.menus import CITIZEN_MENU
from thudo.feedback.models import (
    Category,
    Flag,
    Follow,
    Report,
    ReportMedia,
    ReportStatus,
    Visibility,
)

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

FAR_LAT, FAR_LNG = 21.0500, 105.8000  # ~6 km west of the lake, still inside the city


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def _en(client: Any) -> Any:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _as(client: Any, user: Any) -> Any:
    client.force_login(user)
    return _en(client)


def _now_submit(fb: Any, **kwargs: Any) -> Report:
    return submit(fb, now=timezone.now(), **kwargs)


def _html(response: Any) -> str:
    return str(response.content.decode())


def _post_data(category: Category, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": category.code,
        "description": "Ổ gà sâu trước số 5 phố Tràng Tiền.",
        "latitude": f"{HK_LAT}",
        "longitude": f"{HK_LNG}",
        "address": "5 Tràng Tiền",
        "media": [photo()],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _report_url() -> str:
    return reverse("feedback:report")


def _config(html: str) -> dict[str, Any]:
    found = re.search(
        r'<script id="feedback-map-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert found is not None
    return dict(json.loads(found.group(1)))


# --- menu ----------------------------------------------------------------------------------


def test_the_menu_names_the_three_pages() -> None:
    assert [e.url_name for e in CITIZEN_MENU] == [
        "feedback:report",
        "feedback:map",
        "feedback:mine",
    ]
    assert all(e.audience == "citizen" for e in CITIZEN_MENU)
    for entry in CITIZEN_MENU:
        reverse(entry.url_name)


# --- the public map and list ---------------------------------------------------------------


def test_map_lists_public_reports_without_javascript(client: Any, fb: Any) -> None:
    shown = _now_submit(fb, description="Đèn đường hỏng ở ngõ 3.")
    hidden = _now_submit(fb, reporter=fb.neighbour, description="Ẩn đi.")
    Report.objects.filter(pk=hidden.pk).update(visibility=Visibility.HIDDEN)
    response = _en(client).get(reverse("feedback:map"))
    assert response.status_code == 200
    html = _html(response)
    assert f'href="{reverse("feedback:detail", args=[shown.pk])}"' in html
    assert "Đèn đường hỏng ở ngõ 3." in html
    assert reverse("feedback:detail", args=[hidden.pk]) not in html
    assert "1 report" in html
    # Leaflet and the map script come from this site; settings as JSON, no inline code.
    assert "/static/leaflet/leaflet.js" in html and "/static/leaflet/leaflet.css" in html
    assert "/static/feedback/map.js" in html
    assert "unpkg" not in html and "cdn" not in html.lower()
    scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.S)
    assert all('type="application/json"' in attrs for attrs, _body in scripts)
    config = _config(html)
    assert config["mode"] == "reports"
    assert config["geojsonUrl"] == reverse("feedback:geojson")
    assert config["tileUrl"] == ""
    assert "Offline base map" in html
    # Every filter has a label.
    for name in ("category", "status", "ward"):
        assert f'<label for="id_{name}">' in html


def test_pages_are_in_vietnamese_by_default(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    for url in (reverse("feedback:map"), reverse("feedback:detail", args=[report.pk])):
        response = client.get(url)
        assert response.status_code == 200
        assert '<html lang="vi"' in _html(response)


def test_the_list_reads_a_fixed_number_of_queries(
    client: Any, fb: Any, settings: Any, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.FEEDBACK_MAX_REPORTS_PER_HOUR = 100
    _now_submit(fb)
    _en(client)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("feedback:map"))
    for i in range(6):
        _now_submit(fb, reporter=fb.neighbour, description=f"Báo cáo {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("feedback:map"))
    assert "7 reports" in _html(response)


def test_map_offline_base_layer_has_the_ward_centres(client: Any, fb: Any) -> None:
    config = _config(_html(_en(client).get(reverse("feedback:map"))))
    assert {"code": fb.ward.code, "name": fb.ward.name, "lat": HK_LAT, "lng": HK_LNG} in config[
        "wards"
    ]


def test_map_uses_the_tile_server_when_set(client: Any, fb: Any, settings: Any) -> None:
    settings.MAP_TILE_URL = "https://tiles.example.vn/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "© Thành phố"
    html = _html(_en(client).get(reverse("feedback:map")))
    config = _config(html)
    assert config["tileUrl"] == settings.MAP_TILE_URL
    assert config["tileAttribution"] == "© Thành phố"
    assert config["wards"] == []
    assert "Offline base map" not in html


def test_map_filters_and_pages_keep_the_filters(client: Any, fb: Any, monkeypatch: Any) -> None:
    from thudo.feedback import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    potholes = [_now_submit(fb, description=f"Ổ gà {i}") for i in range(3)]
    lamp = _now_submit(fb, category=fb.lighting, description="Đèn tắt")
    response = _en(client).get(reverse("feedback:map"), {"category": "pothole"})
    html = _html(response)
    assert "3 reports" in html
    assert reverse("feedback:detail", args=[lamp.pk]) not in html
    assert "category=pothole" in html and "page=2" in html  # the pager keeps the filter
    page2 = _html(client.get(reverse("feedback:map"), {"category": "pothole", "page": "2"}))
    assert reverse("feedback:detail", args=[potholes[0].pk]) in page2
    assert _config(html)["filters"] == {"category": "pothole"}
    # By status and by ward.
    services.report_accept(user=fb.ward_officer, report=potholes[0])
    by_status = _html(client.get(reverse("feedback:map"), {"status": "accepted"}))
    assert "1 report" in by_status
    other_ward = _html(client.get(reverse("feedback:map"), {"ward": fb.other_unit.code}))
    assert "No report matches these filters." in other_ward
    # An unknown value filters nothing rather than failing.
    assert client.get(reverse("feedback:map"), {"status": "nonsense"}).status_code == 200


def test_geojson_gives_the_public_reports_inside_the_box(
    client: Any, fb: Any, monkeypatch: Any
) -> None:
    inside = _now_submit(fb)
    outside = _now_submit(fb, latitude=FAR_LAT, longitude=FAR_LNG)
    hidden = _now_submit(fb, reporter=fb.neighbour)
    Report.objects.filter(pk=hidden.pk).update(visibility=Visibility.FLAGGED)
    bbox = f"{HK_LNG - 0.01},{HK_LAT - 0.01},{HK_LNG + 0.01},{HK_LAT + 0.01}"
    response = client.get(reverse("feedback:geojson"), {"bbox": bbox})
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    ids = [f["properties"]["id"] for f in body["features"]]
    assert ids == [inside.pk]
    feature = body["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [HK_LNG, HK_LAT]}
    props = feature["properties"]
    assert props["status"] == "submitted" and props["category"] == "pothole"
    assert props["url"] == reverse("feedback:detail", args=[inside.pk])
    assert props["title"]
    assert outside.pk not in ids
    # Filters, newest first, and the limit.
    everything = client.get(reverse("feedback:geojson")).json()
    assert [f["id"] for f in everything["features"]] == [outside.pk, inside.pk]
    assert client.get(reverse("feedback:geojson"), {"status": "closed"}).json()["features"] == []
    assert (
        client.get(reverse("feedback:geojson"), {"category": "lighting"}).json()["features"] == []
    )
    from thudo.feedback import views

    monkeypatch.setattr(views, "GEOJSON_LIMIT", 1)
    limited = client.get(reverse("feedback:geojson")).json()
    assert len(limited["features"]) == 1 and limited["truncated"] is True


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "105.9,21.1,105.8,21.0", "200,0,201,1"])
def test_geojson_refuses_a_bad_box(client: Any, fb: Any, bbox: str) -> None:
    response = _en(client).get(reverse("feedback:geojson"), {"bbox": bbox})
    assert response.status_code == 400
    assert "bbox" in response.json()["fields"]


# --- reporting: choosing the category ------------------------------------------------------


def test_reporting_needs_a_signed_in_resident(client: Any, fb: Any) -> None:
    response = client.get(_report_url())
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_category_step_shows_notices_and_emergency_numbers(client: Any, fb: Any) -> None:
    Category.objects.filter(pk=fb.pothole.pk).update(
        notice="Chụp rõ ổ gà.", notice_en="Take a clear photo of the pothole."
    )
    html = _html(_as(client, fb.resident).get(_report_url()))
    assert "Pothole" in html  # the English name
    assert "Take a clear photo of the pothole." in html
    assert f'href="{_report_url()}?category=pothole"' in html
    assert 'href="tel:114"' in html and "Call 114" in html
    assert f"{_report_url()}?category=fire" not in html


def test_an_emergency_category_shows_the_number_and_takes_no_report(client: Any, fb: Any) -> None:
    _as(client, fb.resident)
    html = _html(client.get(_report_url(), {"category": "fire"}))
    assert 'href="tel:114"' in html and "Call 114" in html
    assert '<textarea name="description"' not in html
    response = client.post(_report_url(), _post_data(fb.fire, unit_code=fb.ward.code))
    assert response.status_code == 200
    assert 'href="tel:114"' in _html(response)
    assert not Report.objects.exists()


def test_an_unknown_or_closed_category_is_404(client: Any, fb: Any) -> None:
    _as(client, fb.resident)
    assert client.get(_report_url(), {"category": "nope"}).status_code == 404
    Category.objects.filter(pk=fb.pothole.pk).update(is_active=False)
    assert client.get(_report_url(), {"category": "pothole"}).status_code == 404


# --- reporting: the form -------------------------------------------------------------------

QUESTIONS = [
    {"code": "depth", "label": "Độ sâu (cm)", "label_en": "Depth (cm)", "datatype": "number"},
    {
        "code": "lane",
        "label": "Làn",
        "label_en": "Lane",
        "datatype": "singlevaluelist",
        "required": True,
        "order": 1,
        "values": [
            {"key": "left", "name": "Trái", "name_en": "Left"},
            {"key": "right", "name": "Phải", "name_en": "Right"},
        ],
    },
    {
        "code": "hazards",
        "label": "Nguy hiểm",
        "label_en": "Hazards",
        "datatype": "multivaluelist",
        "values": [
            {"key": "water", "name": "Nước", "name_en": "Water"},
            {"key": "night", "name": "Tối", "name_en": "Dark at night"},
        ],
    },
    {"code": "seen", "label": "Thấy lúc", "label_en": "Seen at", "datatype": "datetime"},
    {"code": "more", "label": "Thêm", "label_en": "More", "datatype": "text"},
]


def test_the_form_has_every_field_labelled(client: Any, fb: Any) -> None:
    Category.objects.filter(pk=fb.pothole.pk).update(questions=QUESTIONS)
    html = _html(_as(client, fb.resident).get(_report_url(), {"category": "pothole"}))
    assert 'maxlength="4000"' in html
    assert re.search(r'<input type="file" name="media" id="id_media" multiple accept="image/', html)
    assert '<label for="id_media">' in html
    for name in ("description", "latitude", "longitude", "address", "urgent", "show_name"):
        assert f'for="id_{name}"' in html, name
    assert "This is urgent (danger to people)" in html
    assert 'type="number"' in html and 'step="any"' in html
    # The category's questions, the required one marked.
    assert "Depth (cm)" in html and 'name="q_depth"' in html
    assert 'name="q_lane"' in html and "Left" in html
    assert 'name="q_hazards"' in html and 'type="checkbox"' in html
    assert 'type="datetime-local"' in html and 'name="q_seen"' in html
    assert '<textarea name="q_more"' in html
    # The htmx check of the place and the follow form outside the report form.
    assert f'hx-get="{reverse("feedback:nearby")}"' in html
    assert 'id="follow-nearby"' in html
    config = _config(html)
    assert config["mode"] == "pick" and config["photoPositionUrl"] == reverse(
        "feedback:photo_position"
    )


def test_a_report_is_sent_with_the_confirmed_ward(client: Any, fb: Any) -> None:
    Category.objects.filter(pk=fb.pothole.pk).update(questions=QUESTIONS)
    _as(client, fb.resident)
    data = _post_data(
        fb.pothole,
        unit_code=fb.ward.code,
        urgent="on",
        show_name="on",
        q_depth="12,5",
        q_lane="left",
        q_hazards=["water", "night"],
        q_seen="2026-11-20T18:30",
        latitude="21,0285",  # a decimal comma is taken
    )
    response = client.post(_report_url(), data)
    assert response.status_code == 302, _html(response)
    report = Report.objects.get()
    assert response["Location"] == reverse("feedback:detail", args=[report.pk])
    assert report.reporter == fb.resident and report.unit == fb.ward
    assert report.urgency == "urgent" and report.show_name
    assert report.attributes["lane"] == "left"
    assert report.attributes["hazards"] == ["water", "night"]
    assert report.attributes["depth"] == 12.5
    assert report.address == "5 Tràng Tiền"
    assert report.media.count() == 1
    page = _html(client.get(response["Location"]))
    assert f"Your report #{report.pk} has been sent" in page
    assert "Depth (cm)" in page and "Water, Dark at night" in page


def test_a_ward_that_is_not_certain_is_asked_for_and_files_must_be_chosen_again(
    client: Any, fb: Any
) -> None:
    _as(client, fb.resident)
    response = client.post(_report_url(), _post_data(fb.pothole))
    assert response.status_code == 200
    html = _html(response)
    assert not Report.objects.exists()
    assert "Please confirm the ward or commune of the place." in html
    assert re.search(rf'<option value="{fb.ward.code}" selected>', html)
    assert "Choose your photos and video again." in html
    assert 'aria-describedby="id_media_helptext id_media_lost"' in html
    # The description and the place stay filled in.
    assert "Ổ gà sâu trước số 5 phố Tràng Tiền." in html
    assert f'value="{HK_LAT}"' in html
    again = client.post(_report_url(), _post_data(fb.pothole, unit_code=fb.ward.code))
    assert again.status_code == 302
    assert Report.objects.get().unit == fb.ward


def test_no_place_and_no_photo_are_errors_linked_to_their_fields(client: Any, fb: Any) -> None:
    _as(client, fb.resident)
    response = client.post(
        _report_url(), _post_data(fb.pothole, latitude="", longitude="", media=None)
    )
    assert response.status_code == 400
    html = _html(response)
    assert not Report.objects.exists()
    assert 'href="#id_latitude"' in html
    assert "Choose the place on the map, use your location" in html
    assert re.search(r'aria-describedby="id_latitude_helptext id_latitude_error"', html)
    assert 'aria-invalid="true"' in html
    assert "Attach at least one photo or video of the problem." in html
    assert 'href="#id_media"' in html and 'id="id_media_error"' in html


def test_a_place_outside_the_city_is_refused(client: Any, fb: Any) -> None:
    _as(client, fb.resident)
    data = _post_data(fb.pothole, latitude="10.77", longitude="106.70", unit_code=fb.ward.code)
    response = client.post(_report_url(), data)
    assert response.status_code == 400
    assert "The place is outside the city." in _html(response)
    assert not Report.objects.exists()


def test_the_place_is_taken_from_the_photo_when_none_is_given(
    client: Any, fb: Any, media_root: Path
) -> None:
    _as(client, fb.resident)
    gps_photo = photo(gps=(21.0301, 105.8511))
    data = _post_data(fb.pothole, latitude="", longitude="", media=[gps_photo])
    response = client.post(_report_url(), data)
    assert response.status_code == 200
    html = _html(response)
    assert "We took the place from where your photo was taken." in html
    assert 'value="21.030100"' in html and 'value="105.851100"' in html
    assert "Choose your photos and video again." in html
    assert not Report.objects.exists()
    assert not any(p.is_file() for p in media_root.rglob("*"))  # nothing stored


def test_a_damaged_photo_is_refused(client: Any, fb: Any) -> None:
    _as(client, fb.resident)
    broken = upload(image_bytes("JPEG")[:200], "broken.jpg", "image/jpeg")
    response = client.post(
        _report_url(), _post_data(fb.pothole, unit_code=fb.ward.code, media=[broken])
    )
    assert response.status_code == 400
    html = _html(response)
    assert "broken.jpg: The image is damaged and cannot be read." in html
    assert 'id="id_media_error"' in html
    assert not Report.objects.exists()


def test_a_too_long_description_is_refused(client: Any, fb: Any) -> None:
    _as(client, fb.resident)
    response = client.post(
        _report_url(), _post_data(fb.pothole, unit_code=fb.ward.code, description="x" * 4001)
    )
    assert response.status_code == 400
    html = _html(response)
    assert 'href="#id_description"' in html
    assert "at most 4000 characters" in html
    assert not Report.objects.exists()


def test_a_required_question_is_asked_for(client: Any, fb: Any) -> None:
    Category.objects.filter(pk=fb.pothole.pk).update(questions=QUESTIONS)
    _as(client, fb.resident)
    response = client.post(_report_url(), _post_data(fb.pothole, unit_code=fb.ward.code))
    assert response.status_code == 400
    html = _html(response)
    assert 'href="#id_q_lane_0"' in html
    assert 'href="#id_latitude"' not in html  # the place was given
    assert not Report.objects.exists()


def test_similar_reports_nearby_are_offered_before_sending(client: Any, fb: Any) -> None:
    existing = _now_submit(fb, reporter=fb.neighbour, latitude=HK_LAT + 0.001)
    _as(client, fb.resident)
    response = client.post(_report_url(), _post_data(fb.pothole, unit_code=fb.ward.code))
    assert response.status_code == 200
    html = _html(response)
    assert Report.objects.count() == 1
    assert "Similar reports nearby" in html
    assert f'formaction="{reverse("feedback:follow", args=[existing.pk])}"' in html
    assert 'form="follow-nearby"' in html
    assert "Submit mine anyway" in html and 'name="confirm_new" value="1"' in html
    assert "111 m away" in html
    # Following it instead.
    followed = client.post(reverse("feedback:follow", args=[existing.pk]))
    assert followed.status_code == 302
    assert Follow.objects.filter(report=existing, user=fb.resident).exists()
    # Or sending one's own anyway.
    mine = client.post(
        _report_url(), _post_data(fb.pothole, unit_code=fb.ward.code, confirm_new="1")
    )
    assert mine.status_code == 302
    assert Report.objects.count() == 2


def test_too_many_reports_are_throttled_with_a_message(client: Any, fb: Any, settings: Any) -> None:
    settings.FEEDBACK_MAX_REPORTS_PER_HOUR = 1
    _now_submit(fb, latitude=FAR_LAT, longitude=FAR_LNG)
    _as(client, fb.resident)
    response = client.post(_report_url(), _post_data(fb.pothole, unit_code=fb.ward.code))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "You have sent 1 reports in the last hour." in _html(response)
    assert Report.objects.count() == 1


def test_a_banned_resident_is_told(client: Any, fb: Any) -> None:
    services.moderation_ban(moderator=fb.moderator, user=fb.resident, reason="Spam")
    _as(client, fb.resident)
    response = client.post(_report_url(), _post_data(fb.pothole, unit_code=fb.ward.code))
    assert response.status_code == 403
    assert "may not send reports" in _html(response)


# --- the checks before sending (htmx) and the photo's place --------------------------------


def test_nearby_partial_gives_the_ward_and_similar_reports(client: Any, fb: Any) -> None:
    existing = _now_submit(fb)
    response = _en(client).get(
        reverse("feedback:nearby"),
        {"category": "pothole", "latitude": f"{HK_LAT}", "longitude": f"{HK_LNG}"},
    )
    assert response.status_code == 200
    html = _html(response)
    assert "<html" not in html
    assert re.search(rf'<option value="{fb.ward.code}" selected>', html)
    assert reverse("feedback:detail", args=[existing.pk]) in html
    assert "Follow this report instead" in html
    far = _html(
        client.get(
            reverse("feedback:nearby"),
            {"category": "pothole", "lat": f"{FAR_LAT}", "lng": f"{FAR_LNG}"},
        )
    )
    assert "Similar reports nearby" not in far
    outside = _html(
        client.get(reverse("feedback:nearby"), {"category": "pothole", "lat": "10", "lng": "106"})
    )
    assert "outside the city" in outside
    assert _html(client.get(reverse("feedback:nearby"))).strip() == ""


def test_photo_position_reads_the_gps_and_stores_nothing(
    client: Any, fb: Any, media_root: Path
) -> None:
    url = reverse("feedback:photo_position")
    assert client.post(url, {"photo": photo(gps=(21.03, 105.85))}).status_code == 403
    _as(client, fb.resident)
    found = client.post(url, {"photo": photo(gps=(21.03, 105.85))}).json()
    assert found["lat"] == pytest.approx(21.03, abs=1e-4)
    assert found["lng"] == pytest.approx(105.85, abs=1e-4)
    assert client.post(url, {"photo": photo()}).json() == {}
    assert client.post(url, {"photo": upload(b"not an image", "x.jpg")}).json() == {}
    assert client.post(url, {}).json() == {}
    assert client.get(url).status_code == 405
    assert not ReportMedia.objects.exists()
    assert not any(p.is_file() for p in media_root.rglob("*"))


# --- a report ------------------------------------------------------------------------------


def test_the_public_sees_a_report_without_the_reporters_name(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    html = _html(_en(client).get(reverse("feedback:detail", args=[report.pk])))
    assert f"Report #{report.pk}: Pothole" in html
    assert "A resident" in html and fb.resident.full_name not in html
    assert fb.ward_agency.name in html and fb.ward.name in html
    photo_row = report.media.get()
    assert f'src="{reverse("feedback:media", args=[photo_row.pk])}"' in html
    assert ">Photo 1 of the problem</span>" in html
    assert "Sign in to follow this report" in html
    assert "Report sent" in html  # the timeline
    assert _config(html)["point"] == [HK_LAT, HK_LNG]
    # Not the reporter's buttons.
    assert reverse("feedback:edit", args=[report.pk]) not in html
    assert reverse("feedback:withdraw", args=[report.pk]) not in html


def test_the_name_is_shown_when_the_reporter_chose_so(client: Any, fb: Any) -> None:
    report = _now_submit(fb, show_name=True)
    html = _html(_en(client).get(reverse("feedback:detail", args=[report.pk])))
    assert fb.resident.full_name in html


def test_a_hidden_report_is_404_but_its_reporter_sees_it(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    Report.objects.filter(pk=report.pk).update(visibility=Visibility.HIDDEN)
    url = reverse("feedback:detail", args=[report.pk])
    assert _en(client).get(url).status_code == 404
    _as(client, fb.neighbour)
    assert client.get(url).status_code == 404
    _as(client, fb.resident)
    response = client.get(url)
    assert response.status_code == 200
    assert "hidden from the public by a moderator" in _html(response)
    assert client.get(reverse("feedback:detail", args=[99999])).status_code == 404


def test_the_reporter_can_edit_and_withdraw_before_acceptance(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    _as(client, fb.resident)
    html = _html(client.get(reverse("feedback:detail", args=[report.pk])))
    assert reverse("feedback:edit", args=[report.pk]) in html
    assert reverse("feedback:withdraw", args=[report.pk]) in html
    assert reverse("feedback:forget", args=[report.pk]) in html
    assert reverse("feedback:flag", args=[report.pk]) not in html  # not one's own
    edit_url = reverse("feedback:edit", args=[report.pk])
    form = _html(client.get(edit_url))
    assert "Ổ gà lớn trước số 12 phố Hàng Bài." in form
    saved = client.post(
        edit_url,
        {
            "description": "Ổ gà rất sâu.",
            "latitude": f"{HK_LAT}",
            "longitude": f"{HK_LNG}",
            "address": "12 Hàng Bài",
        },
    )
    assert saved.status_code == 302
    report.refresh_from_db()
    assert report.description == "Ổ gà rất sâu." and report.address == "12 Hàng Bài"
    bad = client.post(edit_url, {"description": "", "latitude": "", "longitude": ""})
    assert bad.status_code == 400
    assert 'href="#id_description"' in _html(bad) and 'href="#id_latitude"' in _html(bad)
    withdrawn = client.post(reverse("feedback:withdraw", args=[report.pk]))
    assert withdrawn.status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.WITHDRAWN
    # Again: a wrong state is a message and 409, not an error page.
    again = client.post(reverse("feedback:withdraw", args=[report.pk]))
    assert again.status_code == 409
    assert "is not allowed while the report is" in _html(again)
    # Editing a report no longer waiting: back to the report with a message.
    late = client.get(edit_url)
    assert late.status_code == 302


def test_only_the_reporter_edits(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    _as(client, fb.neighbour)
    assert client.get(reverse("feedback:edit", args=[report.pk])).status_code == 404
    response = client.post(reverse("feedback:withdraw", args=[report.pk]))
    assert response.status_code == 403
    assert "Only the resident who sent the report" in _html(response)
    assert Report.objects.get().status == ReportStatus.SUBMITTED


def test_editing_after_acceptance_is_refused(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    services.report_accept(user=fb.ward_officer, report=report)
    _as(client, fb.resident)
    response = client.post(
        reverse("feedback:edit", args=[report.pk]),
        {"description": "Khác", "latitude": f"{HK_LAT}", "longitude": f"{HK_LNG}"},
    )
    assert response.status_code == 409
    assert "is not allowed while the report is" in _html(response)


def test_no_edit_or_withdrawal_is_offered_once_a_unit_took_the_report_up(
    client: Any, fb: Any
) -> None:
    report = _now_submit(fb)
    services.report_accept(user=fb.ward_officer, report=report)
    # back to "waiting to be accepted" at another unit, but a unit has taken it up
    services.report_transfer(
        user=fb.ward_officer, report=report, agency=fb.department, reason="Thuộc Sở"
    )
    assert report.status == ReportStatus.SUBMITTED
    _as(client, fb.resident)
    url = reverse("feedback:detail", args=[report.pk])
    html = _html(client.get(url))
    assert reverse("feedback:edit", args=[report.pk]) not in html
    assert reverse("feedback:withdraw", args=[report.pk]) not in html
    assert reverse("feedback:forget", args=[report.pk]) in html
    edit = client.get(reverse("feedback:edit", args=[report.pk]))
    assert edit.status_code == 302 and edit["Location"] == url


def test_no_edit_or_withdrawal_is_offered_after_a_reopening(client: Any, fb: Any) -> None:
    report = _answered(fb)
    services.report_rate(user=fb.resident, report=report, rating=1)
    services.report_reopen(user=fb.resident, report=report, reason="Vẫn còn ổ gà.")
    assert report.status == ReportStatus.SUBMITTED and report.level == 1
    _as(client, fb.resident)
    html = _html(client.get(reverse("feedback:detail", args=[report.pk])))
    assert reverse("feedback:edit", args=[report.pk]) not in html
    assert reverse("feedback:withdraw", args=[report.pk]) not in html


def test_following_and_unfollowing(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    url = reverse("feedback:detail", args=[report.pk])
    _as(client, fb.neighbour)
    assert "Follow this report" in _html(client.get(url))
    assert client.post(reverse("feedback:follow", args=[report.pk])).status_code == 302
    assert Follow.objects.filter(report=report, user=fb.neighbour).exists()
    html = _html(client.get(url))
    assert "You follow this report" in html and "Stop following" in html
    assert client.post(reverse("feedback:unfollow", args=[report.pk])).status_code == 302
    assert not Follow.objects.filter(report=report, user=fb.neighbour).exists()
    assert client.get(reverse("feedback:follow", args=[report.pk])).status_code == 405
    client.logout()
    anonymous = client.post(reverse("feedback:follow", args=[report.pk]))
    assert anonymous.status_code == 302 and reverse("accounts:login") in anonymous["Location"]


def test_flagging_once_with_a_reason(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    url = reverse("feedback:flag", args=[report.pk])
    _as(client, fb.neighbour)
    html = _html(client.get(reverse("feedback:detail", args=[report.pk])))
    assert '<select name="reason"' in html and "Abusive or offensive" in html
    missing = client.post(url, {"reason": ""})
    assert missing.status_code == 400
    assert 'href="#id_reason"' in _html(missing)
    assert client.post(url, {"reason": "spam", "comment": "Quảng cáo"}).status_code == 302
    assert Flag.objects.get().reason == "spam"
    twice = client.post(url, {"reason": "spam"})
    assert twice.status_code == 400
    assert "You have already flagged this report." in _html(twice)
    assert "You have sent this report to a moderator." in _html(twice)
    _as(client, fb.resident)
    own = client.post(url, {"reason": "spam"})
    assert own.status_code == 403 and "You cannot flag your own report." in _html(own)


def _answered(fb: Any, *, evidence: bool = True) -> Report:
    report = _now_submit(fb)
    services.report_accept(user=fb.ward_officer, report=report)
    return services.report_answer(
        user=fb.ward_officer,
        report=report,
        text="Đã vá ổ gà.",
        resolution="fixed" if evidence else "answered",
        evidence=[photo("fix.jpg")] if evidence else (),
    )


def test_the_answer_with_its_evidence_and_the_rating_then_reopening(client: Any, fb: Any) -> None:
    report = _answered(fb)
    url = reverse("feedback:detail", args=[report.pk])
    public = _html(_en(client).get(url))
    assert "The city's answer" in public and "Đã vá ổ gà." in public
    evidence = report.media.get(purpose=ReportMedia.Purpose.EVIDENCE)
    assert f'src="{reverse("feedback:media", args=[evidence.pk])}"' in public
    assert ">Photo 1 of the answer</span>" in public
    assert reverse("feedback:rate", args=[report.pk]) not in public
    _as(client, fb.resident)
    html = _html(client.get(url))
    assert "Rate the answer" in html and 'name="rating"' in html
    assert reverse("feedback:reopen", args=[report.pk]) not in html
    bad = client.post(reverse("feedback:rate", args=[report.pk]), {"rating": "9"})
    assert bad.status_code == 400
    assert 'href="#id_rating_0"' in _html(bad)
    rated = client.post(
        reverse("feedback:rate", args=[report.pk]),
        {"rating": "4", "satisfied": "no", "comment": "Vá chưa phẳng."},
    )
    assert rated.status_code == 302
    report.refresh_from_db()
    assert report.rating == 4 and report.satisfied is False
    assert report.status == ReportStatus.ANSWERED
    html = _html(client.get(url))
    assert "Not solved? Reopen the report" in html
    missing = client.post(reverse("feedback:reopen", args=[report.pk]), {"reason": ""})
    assert missing.status_code == 400 and 'href="#id_reason"' in _html(missing)
    reopened = client.post(
        reverse("feedback:reopen", args=[report.pk]), {"reason": "Vẫn còn ổ gà."}
    )
    assert reopened.status_code == 302
    report.refresh_from_db()
    assert report.level == 1 and report.status == ReportStatus.SUBMITTED
    assert reverse("feedback:reopen", args=[report.pk]) not in _html(client.get(url))


def test_a_satisfied_rating_closes_the_report(client: Any, fb: Any) -> None:
    report = _answered(fb, evidence=False)
    _as(client, fb.resident)
    client.post(reverse("feedback:rate", args=[report.pk]), {"rating": "5"})
    report.refresh_from_db()
    assert report.status == ReportStatus.CLOSED and report.satisfied is True
    again = client.post(reverse("feedback:rate", args=[report.pk]), {"rating": "5"})
    assert again.status_code == 409


def test_removing_my_personal_data(client: Any, fb: Any) -> None:
    report = _now_submit(fb, show_name=True)
    url = reverse("feedback:forget", args=[report.pk])
    _as(client, fb.resident)
    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 400
    assert "Tick this box to remove your personal data." in _html(unconfirmed)
    done = client.post(url, {"confirm": "on"})
    assert done.status_code == 302 and done["Location"] == reverse("feedback:mine")
    report.refresh_from_db()
    assert report.reporter is None and report.reporter_name == "" and not report.show_name
    html = _html(_en(client).get(reverse("feedback:detail", args=[report.pk])))
    assert fb.resident.full_name not in html and "A resident" in html


def test_officials_get_a_link_to_the_workspace(client: Any, fb: Any) -> None:
    report = _now_submit(fb)
    login_verified(client, fb.ward_officer)
    _en(client)
    html = _html(client.get(reverse("feedback:detail", args=[report.pk])))
    assert reverse("feedback_official:detail", args=[report.pk]) in html
    _as(client, fb.neighbour)
    html = _html(client.get(reverse("feedback:detail", args=[report.pk])))
    assert reverse("feedback_official:detail", args=[report.pk]) not in html


# --- my reports ----------------------------------------------------------------------------


def test_my_reports_and_the_ones_i_follow(client: Any, fb: Any) -> None:
    own = _now_submit(fb, description="Của tôi")
    theirs = _now_submit(fb, reporter=fb.neighbour, description="Của hàng xóm")
    services.report_follow(user=fb.resident, report=theirs)
    stranger = _now_submit(fb, reporter=fb.neighbour, description="Không theo dõi")
    assert client.get(reverse("feedback:mine")).status_code == 302
    html = _html(_as(client, fb.resident).get(reverse("feedback:mine")))
    own_part, followed_part = html.split("Reports I follow")
    assert reverse("feedback:detail", args=[own.pk]) in own_part
    assert reverse("feedback:detail", args=[theirs.pk]) not in own_part
    assert reverse("feedback:detail", args=[theirs.pk]) in followed_part
    assert reverse("feedback:detail", args=[own.pk]) not in followed_part
    assert reverse("feedback:detail", args=[stranger.pk]) not in html
    empty = _html(_as(client, fb.neighbour).get(reverse("feedback:mine")))
    assert "You do not follow other residents' reports." in empty


# --- photos and videos ---------------------------------------------------------------------


def test_my_reports_read_a_fixed_number_of_queries(
    client: Any, fb: Any, settings: Any, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.FEEDBACK_MAX_REPORTS_PER_HOUR = 100
    _now_submit(fb)
    services.report_follow(user=fb.resident, report=_now_submit(fb, reporter=fb.neighbour))
    _as(client, fb.resident)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("feedback:mine"))
    for i in range(4):
        _now_submit(fb, description=f"Báo cáo {i}")
        other = _now_submit(fb, reporter=fb.neighbour, description=f"Theo dõi {i}")
        services.report_follow(user=fb.resident, report=other)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("feedback:mine"))
    assert _html(response).count('class="card fb-report"') == 10


def test_media_access_follows_the_rules(client: Any, fb: Any) -> None:
    report = _now_submit(fb, media=[photo(), upload(mp4_bytes(), "clip.mp4", "video/mp4")])
    picture = report.media.get(kind=ReportMedia.Kind.PHOTO)
    video = report.media.get(kind=ReportMedia.Kind.VIDEO)
    photo_url = reverse("feedback:media", args=[picture.pk])
    video_url = reverse("feedback:media", args=[video.pk])
    response = client.get(photo_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"\xff\xd8")  # type: ignore[attr-defined]
    assert client.get(video_url).status_code == 404  # videos are never public
    _as(client, fb.neighbour)
    assert client.get(video_url).status_code == 404
    _as(client, fb.resident)
    own_video = client.get(video_url)
    assert own_video.status_code == 200 and own_video["Content-Type"] == "video/mp4"
    assert "no-cache" in own_video["Cache-Control"]
    detail = _html(client.get(reverse("feedback:detail", args=[report.pk])))
    assert video_url in detail and "Videos are not public" in detail
    login_verified(client, fb.ward_officer)
    assert client.get(video_url).status_code == 200
    # A hidden report's photo: not for the public, still for its reporter and moderators.
    Report.objects.filter(pk=report.pk).update(visibility=Visibility.HIDDEN)
    client.logout()
    assert client.get(photo_url).status_code == 404
    _as(client, fb.resident)
    assert client.get(photo_url).status_code == 200
    login_verified(client, fb.moderator)
    assert client.get(photo_url).status_code == 200
    assert client.get(reverse("feedback:media", args=[99999])).status_code == 404
