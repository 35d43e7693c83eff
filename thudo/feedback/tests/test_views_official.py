"""The officials' report pages: the units' queue (overdue first, filters, pages, a fixed number
of queries), the work page and its actions by state (lead and supporting units), the errors
field by field, and the statistics with their CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from thudo.accounts.testing import login_verified
from thudo.feedback import services
from thudo.feedback.menus_official import OFFICIAL_MENU
from thudo.feedback.models import (
    Assignment,
    Report,
    ReportEvent,
    ReportMedia,
    ReportStatus,
    ResponseTemplate,
)

from . import factories
from .factories import mp4_bytes, photo, submit, upload

# The domain's fixtures (assigned, not imported, so that test arguments may share the names).
fb = factories.fb
media_root = factories.media_root

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def _as(client: Any, user: Any) -> Any:
    login_verified(client, user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _now_submit(fb: Any, **kwargs: Any) -> Report:
    return submit(fb, now=timezone.now(), **kwargs)


def _post(client: Any, report: Report, action: str, data: dict[str, Any] | None = None) -> Any:
    url = reverse(f"feedback_official:{action}", args=[report.pk])
    return client.post(url, {f"{action}-{k}": v for k, v in (data or {}).items()})


@pytest.fixture
def report(fb: Any) -> Report:
    return _now_submit(fb)


# --- access and menus ------------------------------------------------------------------------


def test_pages_need_a_verified_official_with_the_permission(
    client: Any, fb: Any, report: Report
) -> None:
    queue = reverse("feedback_official:queue")
    detail = reverse("feedback_official:detail", args=[report.pk])
    stats = reverse("feedback_official:stats")
    assert client.get(queue).status_code == 302  # to the sign-in page
    client.force_login(fb.ward_officer)  # password only, no second factor
    assert client.get(queue).status_code == 403
    client.force_login(fb.resident)
    assert client.get(queue).status_code == 403
    c = _as(client, fb.moderator)  # moderates, does not handle reports
    assert c.get(queue).status_code == 403
    c = _as(client, fb.ward_officer)
    assert c.get(queue).status_code == 200
    assert c.get(detail).status_code == 200
    assert c.get(stats).status_code == 403  # no dashboard permission
    c = _as(client, fb.other_officer)  # another ward: not theirs
    assert c.get(detail).status_code == 404
    assert _post(c, report, "accept").status_code == 404
    assert Report.objects.get(pk=report.pk).status == ReportStatus.SUBMITTED


def test_menu_entries() -> None:
    for entry in OFFICIAL_MENU:
        assert entry.audience == "official"
        assert reverse(entry.url_name)
    assert [(e.url_name, e.permission) for e in OFFICIAL_MENU] == [
        ("feedback_official:queue", "report.handle"),
        ("feedback_official:mod_queue", "report.moderate"),
        ("notifications:alerts", "alert.send"),
        ("feedback_official:stats", "dashboard.view"),
    ]
    assert reverse("feedback_official:queue") == "/workspace/feedback/"


# --- the queue -------------------------------------------------------------------------------


def test_queue_lists_the_units_reports_overdue_first_with_due_times(client: Any, fb: Any) -> None:
    later = _now_submit(fb, description="Đèn hỏng ở ngõ 5.")
    overdue = _now_submit(fb, description="Rác thải trên vỉa hè.")
    Assignment.objects.filter(report=overdue).update(accept_due=timezone.now() - timedelta(hours=1))
    Assignment.objects.filter(report=later).update(accept_due=timezone.now() + timedelta(days=10))
    html = _as(client, fb.ward_officer).get(reverse("feedback_official:queue")).content.decode()
    first = html.index(f'href="/workspace/feedback/{overdue.pk}/"')
    second = html.index(f'href="/workspace/feedback/{later.pk}/"')
    assert first < second
    assert html.count('class="badge badge-overdue"') == 1 and "Overdue" in html
    assert "accept by" in html and "Rác thải trên vỉa hè." in html
    assert fb.ward_agency.name in html

    client.logout()
    html = _as(client, fb.other_officer).get(reverse("feedback_official:queue")).content.decode()
    assert f"/workspace/feedback/{later.pk}/" not in html and "No reports in your queue" in html


def test_queue_filters_by_unit_state_and_overdue(client: Any, fb: Any) -> None:
    waiting = _now_submit(fb)
    accepted = _now_submit(fb)
    services.report_accept(user=fb.ward_officer, report=accepted)
    Assignment.objects.filter(report=accepted).update(
        resolve_due=timezone.now() - timedelta(minutes=5)
    )
    c = _as(client, fb.city_leader)  # handles the city and every unit below it
    url = reverse("feedback_official:queue")

    def shown(params: dict[str, str]) -> set[int]:
        html = c.get(url, params).content.decode()
        return {int(n) for n in re.findall(r'href="/workspace/feedback/(\d+)/"', html)}

    assert shown({}) == {waiting.pk, accepted.pk}
    assert shown({"state": "pending"}) == {waiting.pk}
    assert shown({"state": "accepted"}) == {accepted.pk}
    assert shown({"overdue": "1"}) == {accepted.pk}
    assert shown({"unit": fb.ward_agency.code}) == {waiting.pk, accepted.pk}
    assert shown({"unit": fb.other_ward.code}) == set()
    html = c.get(url, {"unit": "NO-SUCH"}).content.decode()  # invalid filter: ignored
    assert "were ignored" in html and f"/workspace/feedback/{waiting.pk}/" in html


def _clone(template: Report, n: int) -> None:
    """Copies of a report with their lead assignment (the queue reads columns only)."""
    lead = Assignment.objects.get(report=template)
    now = timezone.now()
    for i in range(n):
        copy = Report.objects.get(pk=template.pk)
        copy.pk = None
        copy.token = __import__("uuid").uuid4()
        copy.save()
        part = Assignment.objects.get(pk=lead.pk)
        part.pk = None
        part.report = copy
        part.accept_due = now + timedelta(hours=i - n // 2)
        part.save()


def test_queue_costs_the_same_queries_for_few_or_many_reports(
    client: Any, fb: Any, report: Report
) -> None:
    c = _as(client, fb.ward_officer)
    url = reverse("feedback_official:queue")

    def queries() -> list[str]:
        c.get(url)  # warm the per-process caches (calendar, content types)
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    _clone(report, 2)
    small = queries()
    _clone(report, 27)
    large = queries()
    assert len(small) == len(large)
    assert not [q for q in large if "COUNT(" in q.upper() and "feedback_assignment" in q]


def test_queue_pages(client: Any, fb: Any, report: Report) -> None:
    _clone(report, 30)  # 31 in all
    c = _as(client, fb.ward_officer)
    url = reverse("feedback_official:queue")
    rows = re.compile(r'href="/workspace/feedback/\d+/"')
    first = c.get(url).content.decode()
    assert len(rows.findall(first)) == 25
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = c.get(url, {"page": 2}).content.decode()
    assert len(rows.findall(second)) == 6
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert c.get(url, {"page": "x"}).status_code == 200


# --- the work page ---------------------------------------------------------------------------


def test_work_page_shows_media_with_the_video_clocks_and_the_accept_action(
    client: Any, fb: Any
) -> None:
    report = _now_submit(
        fb, media=[photo(), upload(mp4_bytes(), "clip.mp4", "video/mp4")], address="12 Hàng Bài"
    )
    html = (
        _as(client, fb.ward_officer)
        .get(reverse("feedback_official:detail", args=[report.pk]))
        .content.decode()
    )
    media = list(ReportMedia.objects.filter(report=report).order_by("pk"))
    assert len(media) == 2
    for m in media:
        assert reverse("feedback:media", args=[m.pk]) in html
    assert "<video" in html and "<img" in html
    assert "12 Hàng Bài" in html and report.description in html
    assert "Units and their clocks" in html and fb.ward_agency.name in html
    assert reverse("feedback_official:accept", args=[report.pk]) in html
    for action in ("answer", "support"):  # not before it is accepted
        assert reverse(f"feedback_official:{action}", args=[report.pk]) not in html
    assert reverse("feedback_official:transfer", args=[report.pk]) in html
    assert reverse("feedback_official:note", args=[report.pk]) in html
    assert "Submitted" in html  # the timeline


def test_accept_then_the_actions_of_an_accepted_report(
    client: Any, fb: Any, report: Report
) -> None:
    ResponseTemplate.objects.create(title="Đã sửa", body="Đơn vị đã sửa xong ổ gà.")
    c = _as(client, fb.ward_officer)
    response = _post(c, report, "accept")
    assert response.status_code == 302
    assert response["Location"] == reverse("feedback_official:detail", args=[report.pk])
    report.refresh_from_db()
    assert report.status == ReportStatus.ACCEPTED and report.accepted_on_time is True

    html = c.get(response["Location"]).content.decode()
    assert "The report is accepted" in html
    assert reverse("feedback_official:accept", args=[report.pk]) not in html
    for action in ("answer", "support", "transfer", "note"):
        assert reverse(f"feedback_official:{action}", args=[report.pk]) in html
    # The template picker: the option carries the text the script puts in the box.
    assert 'data-fill="id_answer-text"' in html
    assert 'data-body="Đơn vị đã sửa xong ổ gà."' in html
    assert "feedback/official.js" in html

    # Accepting again is refused with a message, not an error page.
    response = _post(c, report, "accept")
    assert response.status_code == 409
    assert "not allowed" in response.content.decode()


def test_an_internal_note_shows_in_the_officials_timeline_only(
    client: Any, fb: Any, report: Report
) -> None:
    c = _as(client, fb.ward_officer)
    response = _post(c, report, "note", {"text": ""})
    assert response.status_code == 422
    assert 'href="#id_note-text"' in response.content.decode()
    response = _post(c, report, "note", {"text": "Đã gọi điện cho tổ dân phố."})
    assert response.status_code == 302
    event = ReportEvent.objects.get(report=report, action="note")
    assert event.public is False
    html = c.get(reverse("feedback_official:detail", args=[report.pk])).content.decode()
    assert "Đã gọi điện cho tổ dân phố." in html and "badge-internal" in html


def test_the_work_page_no_longer_names_a_reporter_who_removed_their_data(
    client: Any, fb: Any, report: Report
) -> None:
    services.report_accept(user=fb.ward_officer, report=report)
    services.report_personal_data_remove(user=fb.resident, report=report)
    _as(client, fb.ward_officer)
    html = client.get(reverse("feedback_official:detail", args=[report.pk])).content.decode()
    assert "Personal data removed at the resident's request" in html
    assert fb.resident.full_name not in html
    assert str(fb.ward_officer) in html  # the officials' acts still name them


def test_transfer_needs_a_reason_and_a_unit_then_leaves_the_queue(
    client: Any, fb: Any, report: Report
) -> None:
    c = _as(client, fb.ward_officer)
    response = _post(c, report, "transfer", {"agency": fb.other_ward.code, "reason": ""})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Give the reason for the transfer." in html and 'href="#id_transfer-reason"' in html
    assert 'id="action-transfer" open' in html

    response = _post(c, report, "transfer", {"agency": fb.ward_agency.code, "reason": "x"})
    assert response.status_code == 422  # its own unit is not offered

    response = _post(
        c, report, "transfer", {"agency": fb.other_ward.code, "reason": "Thuộc địa bàn khác."}
    )
    assert response.status_code == 302 and response["Location"] == reverse(
        "feedback_official:queue"
    )
    report.refresh_from_db()
    assert report.agency == fb.other_ward and report.status == ReportStatus.SUBMITTED
    # The past unit still reads the report, but may act on nothing but notes.
    html = c.get(reverse("feedback_official:detail", args=[report.pk])).content.decode()
    assert reverse("feedback_official:accept", args=[report.pk]) not in html
    assert reverse("feedback_official:transfer", args=[report.pk]) not in html
    # The new unit accepts it.
    client.logout()
    c = _as(client, fb.other_officer)
    assert _post(c, report, "accept").status_code == 302


def test_supporting_units_accept_and_contribute_on_their_own_part(
    client: Any, fb: Any, report: Report
) -> None:
    services.report_accept(user=fb.ward_officer, report=report)
    c = _as(client, fb.ward_officer)
    response = _post(c, report, "support", {"agencies": [], "note": ""})
    assert response.status_code == 422
    assert "Choose at least one unit." in response.content.decode()
    response = _post(
        c,
        report,
        "support",
        {"agencies": [fb.other_ward.code, fb.department.code], "note": "Hỗ trợ xe cẩu."},
    )
    assert response.status_code == 302
    parts = Assignment.objects.filter(report=report, role=Assignment.Role.SUPPORT)
    assert {p.agency_id for p in parts} == {fb.other_ward.pk, fb.department.pk}

    client.logout()
    c = _as(client, fb.other_officer)
    detail = reverse("feedback_official:detail", args=[report.pk])
    html = c.get(detail).content.decode()
    assert f'value="{fb.other_ward.code}"' in html  # the accept form names its part
    assert "Accept the support request" in html
    assert reverse("feedback_official:transfer", args=[report.pk]) not in html
    response = _post(c, report, "accept", {"agency": fb.other_ward.code})
    assert response.status_code == 302
    assert parts.get(agency=fb.other_ward).state == Assignment.State.ACCEPTED

    html = c.get(detail).content.decode()
    assert "Record the contribution" in html
    assert 'name="answer-resolution"' not in html  # a contribution has no outcome
    response = _post(c, report, "answer", {"agency": fb.other_ward.code, "text": "Đã điều xe cẩu."})
    assert response.status_code == 302
    assert parts.get(agency=fb.other_ward).state == Assignment.State.ANSWERED
    report.refresh_from_db()
    assert report.status == ReportStatus.ACCEPTED  # only the lead's answer answers
    # A supporting unit may not transfer the report: 403, nothing changes.
    response = _post(c, report, "transfer", {"agency": fb.department.code, "reason": "x"})
    assert response.status_code == 403
    assert Report.objects.get(pk=report.pk).agency == fb.ward_agency


def test_answer_fixed_needs_a_photo_and_a_template_can_be_the_text(
    client: Any, fb: Any, report: Report
) -> None:
    template = ResponseTemplate.objects.create(
        title="Đã sửa", body="Đơn vị đã sửa xong ổ gà.", category=fb.pothole
    )
    services.report_accept(user=fb.ward_officer, report=report)
    c = _as(client, fb.ward_officer)
    url = reverse("feedback_official:answer", args=[report.pk])

    response = c.post(url, {"answer-resolution": "fixed", "answer-text": "Đã sửa."})
    assert response.status_code == 422
    html = response.content.decode()
    assert "Attach at least one photo of the fix." in html
    assert 'href="#id_answer-evidence"' in html
    assert Report.objects.get(pk=report.pk).status == ReportStatus.ACCEPTED

    response = c.post(url, {"answer-resolution": "", "answer-text": "x"})
    assert (
        response.status_code == 422 and 'href="#id_answer-resolution"' in response.content.decode()
    )

    # Without JavaScript the button puts the template's text in the box.
    response = c.post(
        url,
        {"answer-template": str(template.pk), "answer-resolution": "fixed", "use_template": "1"},
    )
    assert response.status_code == 200
    assert "Đơn vị đã sửa xong ổ gà.</textarea>" in response.content.decode()
    assert Report.objects.get(pk=report.pk).status == ReportStatus.ACCEPTED

    response = c.post(
        url,
        {
            "answer-template": str(template.pk),
            "answer-resolution": "fixed",
            "answer-text": "",
            "answer-evidence": photo("after.jpg"),
        },
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.ANSWERED
    assert report.answer == "Đơn vị đã sửa xong ổ gà." and report.resolution == "fixed"
    evidence = ReportMedia.objects.get(report=report, purpose=ReportMedia.Purpose.EVIDENCE)
    html = c.get(reverse("feedback_official:detail", args=[report.pk])).content.decode()
    assert reverse("feedback:media", args=[evidence.pk]) in html
    assert "Nothing for you to do" not in html  # the internal note is still offered
    assert reverse("feedback_official:answer", args=[report.pk]) not in html


# --- statistics ------------------------------------------------------------------------------


def test_statistics_table_and_csv(client: Any, fb: Any) -> None:
    first = _now_submit(fb)
    _now_submit(fb)
    services.report_accept(user=fb.ward_officer, report=first)
    c = _as(client, fb.ward_leader)  # approvers see the dashboards
    url = reverse("feedback_official:stats")
    html = c.get(url).content.decode()
    assert fb.ward_agency.name in html and fb.pothole.name in html
    assert "Accepted on time" in html and "Satisfaction rate" in html
    assert "Total" in html and "format=csv" in html

    today = timezone.localdate().isoformat()
    response = c.get(url, {"start": today, "end": today, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Unit", "Category code", "Category", "Received"]
    assert rows[1][:6] == [fb.ward_agency.name, "pothole", fb.pothole.name, "2", "1", "0"]

    html = c.get(url, {"start": today, "end": "2000-01-01"}).content.decode()
    assert "The end is before the start." in html

    # The other ward's leader sees no row of this ward.
    client.logout()
    assert _as(client, fb.other_officer).get(url).status_code == 403


def test_every_page_renders_in_vietnamese(client: Any, fb: Any, report: Report) -> None:
    services.report_accept(user=fb.ward_officer, report=report)
    pages = {
        fb.ward_officer: [
            reverse("feedback_official:queue"),
            reverse("feedback_official:detail", args=[report.pk]),
        ],
        fb.moderator: [
            reverse("feedback_official:stats"),
            reverse("feedback_official:mod_queue"),
            reverse("feedback_official:mod_detail", args=[report.pk]),
            reverse("notifications:alerts"),
            reverse("notifications:alert_new"),
        ],
    }
    for user, urls in pages.items():
        login_verified(client, user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "vi"
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert '<html lang="vi"' in response.content.decode()
