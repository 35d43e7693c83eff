"""The feedback reads: who sees which report, timeline and media; the public map's filters; the
duplicate search near a point; the units' queues; moderation's queue; response templates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from thudo.core.errors import NotFound, PermissionDenied
from thudo.feedback import selectors, services
from thudo.feedback.models import Report, ReportMedia, ResponseTemplate, Visibility

from . import factories
from .factories import HK_LAT, HK_LNG, MONDAY_10, mp4_bytes, photo, submit, upload

# The domain's fixtures (assigned, not imported, so that test arguments may share the names).
fb = factories.fb
media_root = factories.media_root

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
METRE = 1 / 111_320  # a metre of latitude, in degrees


def hide(fb: Any, report: Report) -> None:
    services.moderation_hide(moderator=fb.moderator, report=report, reason="x")


def test_the_public_sees_only_public_reports(fb: Any) -> None:
    report = submit(fb)
    assert selectors.report_public_get(report_id=report.pk) == report
    assert selectors.report_public_get(report_id=str(report.pk)) == report
    with pytest.raises(NotFound):
        selectors.report_public_get(report_id="abc")
    hide(fb, report)
    with pytest.raises(NotFound):
        selectors.report_public_get(report_id=report.pk)


def test_a_hidden_report_stays_visible_to_its_reporter_handlers_and_moderators(fb: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    report = submit(fb)
    hide(fb, report)
    for user in (fb.resident, fb.ward_officer, fb.moderator, fb.city_leader):
        assert selectors.report_get_for(user=user, report_id=report.pk) == report
    for user in (fb.neighbour, fb.other_officer, AnonymousUser()):
        with pytest.raises(NotFound):
            selectors.report_get_for(user=user, report_id=report.pk)
    with pytest.raises(NotFound):
        selectors.report_get_for(user=fb.resident, report_id=999_999)


def test_a_unit_that_transferred_the_report_still_sees_it(fb: Any) -> None:
    report = submit(fb)
    services.report_transfer(
        user=fb.ward_officer, report=report, agency=fb.department, reason="Thuộc Sở"
    )
    hide(fb, report)
    assert selectors.report_get_for(user=fb.ward_officer, report_id=report.pk) == report
    assert selectors.report_get_for(user=fb.dept_officer, report_id=report.pk) == report


def test_the_reporters_name_shows_only_when_chosen(fb: Any) -> None:
    from django.utils import translation

    shown = submit(fb, show_name=True)
    hidden = submit(fb, now=MONDAY_10 + H)
    assert selectors.reporter_label(shown) == "Nguyễn Văn An"
    with translation.override("en"):
        assert selectors.reporter_label(hidden) == "A resident"


def test_public_list_filters(fb: Any) -> None:
    a = submit(fb)
    b = submit(fb, category=fb.lighting, now=MONDAY_10 + H, latitude=21.05, longitude=105.80)
    c = submit(fb, now=MONDAY_10 + 2 * H, unit_code=fb.other_unit.code)
    d = submit(fb, reporter=fb.neighbour, now=MONDAY_10 + 3 * H)
    services.report_withdraw(user=fb.neighbour, report=d)
    e = submit(fb, reporter=fb.neighbour, now=MONDAY_10 + 4 * H)
    hide(fb, e)

    assert list(selectors.reports_public()) == [c, b, a]
    assert list(selectors.reports_public(statuses=["withdrawn"])) == [d]
    assert list(selectors.reports_public(category_codes=["lighting"])) == [b]
    assert list(selectors.reports_public(unit_code=fb.other_unit.code)) == [c]
    box = (HK_LAT - 0.001, HK_LNG - 0.001, HK_LAT + 0.001, HK_LNG + 0.001)
    assert list(selectors.reports_public(bbox=box)) == [c, a]
    assert list(selectors.reports_public(start=MONDAY_10 + H, end=MONDAY_10 + 2 * H)) == [b]
    assert list(selectors.reports_public(limit=1)) == [c]
    assert selectors.reports_public(limit=None).count() == 3


def test_nearby_finds_open_reports_of_the_category_nearest_first(fb: Any) -> None:
    far = submit(fb, latitude=HK_LAT + 240 * METRE, now=MONDAY_10)
    near = submit(fb, latitude=HK_LAT + 50 * METRE, now=MONDAY_10 + H)
    submit(fb, latitude=HK_LAT + 400 * METRE, now=MONDAY_10 + 2 * H)  # outside the radius
    submit(fb, category=fb.lighting, now=MONDAY_10 + 3 * H)  # another category
    hidden = submit(fb, reporter=fb.neighbour, now=MONDAY_10 + 4 * H)
    hide(fb, hidden)
    withdrawn = submit(fb, reporter=fb.neighbour, now=MONDAY_10 + 5 * H)
    services.report_withdraw(user=fb.neighbour, report=withdrawn)
    # a point inside the box's corner but further than the radius
    submit(
        fb,
        reporter=fb.neighbour,
        latitude=HK_LAT + 200 * METRE,
        longitude=HK_LNG + 0.0022,
        now=MONDAY_10 + 6 * H,
    )

    found = selectors.reports_nearby(category=fb.pothole, latitude=HK_LAT, longitude=HK_LNG)
    assert found == [near, far]
    assert found[0].distance_m == pytest.approx(50, abs=1)  # type: ignore[attr-defined]
    assert selectors.reports_nearby(
        category=fb.pothole, latitude=HK_LAT, longitude=HK_LNG, limit=1
    ) == [near]
    assert (
        selectors.reports_nearby(
            category=fb.pothole, latitude=HK_LAT, longitude=HK_LNG, radius_m=10
        )
        == []
    )
    services.report_accept(user=fb.ward_officer, report=near, now=MONDAY_10 + 2 * H)
    assert near in selectors.reports_nearby(category=fb.pothole, latitude=HK_LAT, longitude=HK_LNG)


def test_nearby_reads_few_rows_in_two_queries(fb: Any) -> None:
    for i in range(3):
        submit(fb, latitude=HK_LAT + i * 10 * METRE, now=MONDAY_10 + i * H)
    with CaptureQueriesContext(connection) as queries:
        found = selectors.reports_nearby(category=fb.pothole, latitude=HK_LAT, longitude=HK_LNG)
    assert len(found) == 3
    assert len(queries) == 2
    first = queries[0]["sql"]
    assert "latitude" in first and "longitude" in first and "category_id" in first


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner shows the index")
def test_nearby_uses_the_fb_near_index(fb: Any) -> None:
    submit(fb)
    with CaptureQueriesContext(connection) as queries:
        selectors.reports_nearby(category=fb.pothole, latitude=HK_LAT, longitude=HK_LNG)
    sql = queries[0]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "fb_near" in plan


def test_own_and_followed_lists(fb: Any) -> None:
    mine = submit(fb)
    theirs = submit(fb, reporter=fb.neighbour, now=MONDAY_10 + H)
    services.report_follow(user=fb.resident, report=theirs)
    assert list(selectors.reports_of(user=fb.resident)) == [mine]
    assert list(selectors.reports_followed(user=fb.resident)) == [theirs, mine]
    hide(fb, theirs)
    hide(fb, mine)
    assert list(selectors.reports_followed(user=fb.resident)) == [mine]


def test_the_queue_shows_open_parts_overdue_first(fb: Any) -> None:
    late = submit(fb, now=MONDAY_10)
    fresh = submit(fb, now=MONDAY_10 + 5 * H)
    accepted = submit(fb, now=MONDAY_10 + H)
    services.report_accept(user=fb.ward_officer, report=accepted, now=MONDAY_10 + 2 * H)
    done = submit(fb, reporter=fb.neighbour, now=MONDAY_10 + 2 * H)
    services.report_withdraw(user=fb.neighbour, report=done)
    other = submit(fb, reporter=fb.neighbour, now=MONDAY_10, unit_code=fb.other_unit.code)

    now = late.accept_due + H  # Tuesday 11:00: only `late` is past its accept deadline
    queue = list(selectors.report_queue(user=fb.ward_officer, now=now))
    assert [a.report for a in queue] == [late, fresh, accepted]
    assert [a.is_overdue for a in queue] == [1, 0, 0]  # type: ignore[attr-defined]
    assert queue[2].due == accepted.resolve_due  # type: ignore[attr-defined]
    overdue = selectors.report_queue(user=fb.ward_officer, overdue_only=True, now=now)
    assert [a.report for a in overdue] == [late]
    assert [a.report for a in selectors.report_queue(user=fb.ward_officer, status="accepted")] == [
        accepted
    ]
    assert [
        a.report for a in selectors.report_queue(user=fb.ward_officer, status="submitted", now=now)
    ] == [late, fresh]
    assert [a.report for a in selectors.report_queue(user=fb.other_officer)] == [other]
    # the city's approver sees every unit below the city
    assert len(selectors.report_queue(user=fb.city_leader)) == 4
    assert list(selectors.report_queue(user=fb.city_leader, agency=fb.other_ward)) == list(
        selectors.report_queue(user=fb.other_officer)
    )
    assert list(selectors.report_queue(user=fb.ward_officer, agency=fb.other_ward)) == []
    assert list(selectors.report_queue(user=fb.resident)) == []


def test_the_queue_has_no_n_plus_one(fb: Any, django_assert_max_num_queries: Any) -> None:
    for i in range(5):
        submit(fb, now=MONDAY_10 + i * H)
    with django_assert_max_num_queries(3):
        rows = list(selectors.report_queue(user=fb.ward_officer))
        names = [(a.report.category.name, a.report.unit.name, a.agency.name) for a in rows]
    assert len(names) == 5


def test_the_timeline_hides_internal_events_from_the_public(fb: Any) -> None:
    report = submit(fb)
    services.report_note(user=fb.ward_officer, report=report, text="Nội bộ", now=MONDAY_10)
    services.report_accept(user=fb.ward_officer, report=report, now=MONDAY_10 + H)
    public = [e.action for e in selectors.report_timeline(user=None, report=report)]
    assert public == ["submit", "accept"]
    assert [e.action for e in selectors.report_timeline(user=fb.resident, report=report)] == public
    full = [e.action for e in selectors.report_timeline(user=fb.ward_officer, report=report)]
    assert full == ["submit", "note", "accept"]
    assert len(selectors.report_timeline(user=fb.moderator, report=report)) == 3


def test_videos_are_never_public(fb: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    report = submit(fb, media=[photo(), upload(mp4_bytes(), "clip.mp4")])
    photo_row = ReportMedia.objects.get(report=report, kind="photo")
    video_row = ReportMedia.objects.get(report=report, kind="video")
    assert list(selectors.report_media_public(report=report)) == [photo_row]
    assert list(selectors.report_media_for(user=AnonymousUser(), report=report)) == [photo_row]
    assert list(selectors.report_media_for(user=fb.neighbour, report=report)) == [photo_row]
    both = [photo_row, video_row]
    assert list(selectors.report_media_for(user=fb.resident, report=report)) == both
    assert list(selectors.report_media_for(user=fb.ward_officer, report=report)) == both
    assert selectors.media_get_for(user=fb.ward_officer, media_id=video_row.pk) == video_row
    with pytest.raises(NotFound):
        selectors.media_get_for(user=fb.neighbour, media_id=video_row.pk)
    assert selectors.media_get_for(user=None, media_id=photo_row.pk) == photo_row
    hide(fb, report)
    assert list(selectors.report_media_public(report=report)) == []
    with pytest.raises(NotFound):
        selectors.media_get_for(user=None, media_id=photo_row.pk)
    assert list(selectors.report_media_for(user=fb.resident, report=report)) == both


def test_evidence_of_a_contribution_stays_internal(fb: Any) -> None:
    report = submit(fb)
    services.report_accept(user=fb.ward_officer, report=report, now=MONDAY_10 + H)
    services.report_support_add(user=fb.ward_officer, report=report, agencies=[fb.department])
    services.report_accept(user=fb.dept_officer, report=report, agency=fb.department)
    services.report_answer(
        user=fb.dept_officer, report=report, text="Đã hỗ trợ", resolution="", evidence=[photo()]
    )
    internal = ReportMedia.objects.get(report=report, purpose="evidence")
    assert internal not in selectors.report_media_public(report=report)
    assert internal not in selectors.report_media_for(user=fb.resident, report=report)
    assert internal in selectors.report_media_for(user=fb.ward_officer, report=report)


def test_templates_for_the_unit_and_category(fb: Any) -> None:
    city_any = ResponseTemplate.objects.create(title="A chung", body="...")
    city_pothole = ResponseTemplate.objects.create(title="B ổ gà", body="...", category=fb.pothole)
    ward_any = ResponseTemplate.objects.create(title="C phường", body="...", agency=fb.ward_agency)
    ResponseTemplate.objects.create(title="D chiếu sáng", body="...", category=fb.lighting)
    ResponseTemplate.objects.create(title="E phường khác", body="...", agency=fb.other_ward)
    found = list(selectors.templates_for(agency=fb.ward_agency, category=fb.pothole))
    assert found == [city_any, city_pothole, ward_any]
    assert list(selectors.templates_for(agency=None, category=None)) == [city_any]


def test_the_moderation_queue(fb: Any) -> None:
    plain = submit(fb)
    flagged_once = submit(fb, now=MONDAY_10 + H)
    hidden = submit(fb, now=MONDAY_10 + 2 * H)
    flagged = submit(fb, now=MONDAY_10 + 3 * H)
    services.report_flag(user=fb.neighbour, report=flagged_once, reason="spam")
    hide(fb, hidden)
    flagged.visibility = Visibility.FLAGGED
    flagged.save()
    queue = list(selectors.moderation_queue(user=fb.moderator))
    assert queue == [flagged, hidden, flagged_once]
    assert plain not in queue
    with pytest.raises(PermissionDenied):
        selectors.moderation_queue(user=fb.ward_officer)
    history = selectors.moderation_history(user=fb.moderator)
    assert [a.action for a in history] == ["hide"]
    assert list(selectors.moderation_history(user=fb.moderator, report=plain)) == []
    with pytest.raises(PermissionDenied):
        selectors.moderation_history(user=fb.resident)


def test_categories(fb: Any) -> None:
    assert set(selectors.categories_active()) == {fb.pothole, fb.lighting, fb.fire}
    assert selectors.category_get(code="pothole") == fb.pothole
    fb.lighting.is_active = False
    fb.lighting.save()
    with pytest.raises(NotFound):
        selectors.category_get(code="lighting")
    with pytest.raises(NotFound):
        selectors.category_get(code="nothing")
