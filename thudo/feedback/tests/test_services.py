"""The feedback services: submission checks and routing, the clocks, every transition and its
refusals, follows, flags, moderation, personal data and the periodic jobs."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from thudo.core.calendar import get_calendar
from thudo.core.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)
from thudo.core.models import AuditEvent
from thudo.feedback import services
from thudo.feedback.models import (
    Assignment,
    Ban,
    Category,
    Flag,
    Follow,
    ModerationAction,
    Report,
    ReportEvent,
    ReportMedia,
    ReportStatus,
    Urgency,
    Visibility,
)
from thudo.notifications.models import Notification

from . import factories
from .factories import HK_LAT, HK_LNG, MONDAY_10, image_bytes, mp4_bytes, photo, submit, upload

# The domain's fixtures (assigned, not imported, so that test arguments may share the names).
fb = factories.fb
media_root = factories.media_root

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
D = timedelta(days=1)


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def accepted(fb: Any, report: Report, now: Any = None) -> Report:
    return services.report_accept(user=fb.ward_officer, report=report, now=now or MONDAY_10 + H)


def answered(fb: Any, report: Report, now: Any = None) -> Report:
    accepted(fb, report)
    return services.report_answer(
        user=fb.ward_officer,
        report=report,
        text="Đã vá ổ gà.",
        resolution=Report.Resolution.FIXED,
        evidence=[photo("fixed.jpg")],
        now=now or MONDAY_10 + 3 * H,
    )


# --- submission ------------------------------------------------------------------------------


def test_a_report_is_routed_to_the_ward_on_its_clocks(fb: Any, media_root: Path) -> None:
    report = submit(fb, address="12 Hàng Bài", show_name=True)

    calendar = get_calendar()
    assert report.status == ReportStatus.SUBMITTED
    assert report.visibility == Visibility.PUBLIC
    assert report.agency == fb.ward_agency
    assert report.unit == fb.ward and report.unit_exact is False
    assert report.urgency == Urgency.NORMAL
    assert report.accept_due == calendar.add_working_hours(MONDAY_10, 8)
    assert report.accept_due == MONDAY_10 + D  # Tuesday 10:00
    assert report.resolve_due == calendar.add_working_days(MONDAY_10, 5)
    assert report.reporter_name == "Nguyễn Văn An" and report.show_name
    lead = Assignment.objects.get(report=report)
    assert (lead.role, lead.state, lead.agency) == ("lead", "pending", fb.ward_agency)
    assert (lead.accept_due, lead.resolve_due) == (report.accept_due, report.resolve_due)
    assert Follow.objects.filter(report=report, user=fb.resident).exists()
    assert report.follower_count == 1
    event = ReportEvent.objects.get(report=report)
    assert (event.action, event.to_status, event.public) == ("submit", "submitted", True)
    assert AuditEvent.objects.filter(action="feedback.submit", object_id=str(report.pk)).exists()
    media = ReportMedia.objects.get(report=report)
    assert media.kind == "photo" and media.event == event and media.uploaded_by == fb.resident
    assert default_storage.exists(media.file.name)
    assert len(stored_files(media_root)) == 1


def test_the_stored_photo_has_no_exif_and_is_upright(fb: Any) -> None:
    original = image_bytes(size=(64, 48), gps=(HK_LAT, HK_LNG), orientation=6, make="PhoneCo")
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    report = submit(fb, media=[upload(original, "IMG_0001.jpg")])

    media = ReportMedia.objects.get(report=report)
    with media.file.open("rb") as handle:
        stored = handle.read()
    image = Image.open(io.BytesIO(stored))
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info and "xmp" not in image.info
    assert image.size == (48, 64)  # orientation 6 applied
    assert (media.width, media.height) == (48, 64)
    assert media.size == len(stored) and media.content_type == "image/jpeg"


def test_a_department_category_goes_to_the_department(fb: Any) -> None:
    report = submit(fb, category=fb.lighting)
    assert report.agency == fb.department


def test_a_ward_without_a_committee_falls_back_to_the_city(fb: Any) -> None:
    from thudo.core.models import AdminUnit

    lonely = (
        AdminUnit.objects.filter(parent=fb.hanoi)
        .exclude(code__in=[fb.ward.code, fb.other_unit.code])
        .first()
    )
    assert lonely is not None
    report = submit(fb, unit_code=lonely.code)
    assert report.unit == lonely and report.agency == fb.city


def test_a_department_category_without_a_department_falls_back_to_the_city(fb: Any) -> None:
    orphan = Category.objects.create(code="orphan", name="Khác", handler="department")
    assert submit(fb, category=orphan).agency == fb.city


def test_the_confirmed_ward_wins_over_the_nearest(fb: Any) -> None:
    report = submit(fb, unit_code=fb.other_unit.code)
    assert report.unit == fb.other_unit and report.agency == fb.other_ward


def test_urgent_reports_have_four_working_hours(fb: Any) -> None:
    report = submit(fb, urgency="urgent")
    expected = get_calendar().add_working_hours(MONDAY_10, 4)
    assert report.urgency == Urgency.URGENT
    assert report.accept_due == report.resolve_due == expected


def test_urgency_comes_from_the_category_unless_urgent(fb: Any) -> None:
    fb.pothole.default_urgency = Urgency.COMPLEX
    fb.pothole.save()
    report = submit(fb, urgency="normal")
    assert report.urgency == Urgency.COMPLEX
    assert report.resolve_due == get_calendar().add_working_days(MONDAY_10, 15)


def test_a_report_outside_office_hours_starts_its_clock_next_morning(fb: Any) -> None:
    saturday = MONDAY_10 - 2 * D
    report = submit(fb, now=saturday)
    calendar = get_calendar()
    assert report.accept_due == calendar.add_working_hours(
        calendar.next_working_moment(saturday), 8
    )
    assert report.accept_due.astimezone(MONDAY_10.tzinfo).hour == 17  # Monday 17:00


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"latitude": None}, "position"),
        ({"longitude": None}, "position"),
        ({"latitude": 10.77, "longitude": 106.7}, "position"),  # Ho Chi Minh City
        ({"latitude": float("nan")}, "position"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"media": []}, "media"),
        ({"urgency": "whenever"}, "urgency"),
        ({"unit_code": "79"}, "unit_code"),
        ({"unit_code": "26734"}, "unit_code"),  # a ward of another province
        ({"address": "x" * 301}, "address"),
    ],
)
def test_bad_input_is_refused_by_field(
    fb: Any, media_root: Path, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submit(fb, **kwargs)
    assert field in caught.value.fields
    assert not Report.objects.exists()
    assert stored_files(media_root) == []


def test_a_description_of_4000_characters_is_accepted(fb: Any) -> None:
    assert len(submit(fb, description="x" * 4000).description) == 4000


def test_every_problem_is_reported_at_once(fb: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submit(fb, description="", latitude=None, media=[upload(b"not an image", "a.jpg")])
    assert {"description", "position", "media"} <= set(caught.value.fields)


def test_an_emergency_category_tells_the_number(fb: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submit(fb, category=fb.fire)
    assert "114" in str(caught.value.fields["category"])


def test_an_inactive_category_is_refused(fb: Any) -> None:
    fb.pothole.is_active = False
    fb.pothole.save()
    with pytest.raises(ValidationFailed) as caught:
        submit(fb)
    assert "category" in caught.value.fields


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ([upload(image_bytes()[:200], "broken.jpg")], "broken.jpg"),
        ([upload(b"\xff\xd8\xff" + b"\x00" * 500, "fake.jpg")], "fake.jpg"),
        ([upload(b"MZ\x90\x00 not a photo", "virus.exe")], "virus.exe"),
        ([photo(f"p{i}.jpg") for i in range(6)], "5"),
        ([upload(mp4_bytes(), "a.mp4"), upload(mp4_bytes(), "b.mp4")], "video"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    fb: Any, media_root: Path, files: list[Any], needle: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submit(fb, media=files)
    assert needle in str(caught.value.fields["media"])
    assert stored_files(media_root) == []
    assert not Report.objects.exists()


def test_a_photo_over_the_limit_is_refused(fb: Any, settings: Any) -> None:
    settings.FEEDBACK_MAX_PHOTO_BYTES = 500
    with pytest.raises(ValidationFailed) as caught:
        submit(fb, media=[photo("big.jpg", size=(400, 400))])
    assert "big.jpg" in str(caught.value.fields["media"])
    assert "MB" in str(caught.value.fields["media"])


def test_a_video_is_stored_as_it_is(fb: Any) -> None:
    data = mp4_bytes()
    report = submit(fb, media=[photo(), upload(data, "clip.mp4")])
    video = ReportMedia.objects.get(report=report, kind="video")
    assert video.content_type == "video/mp4" and video.size == len(data)
    with video.file.open("rb") as handle:
        assert handle.read() == data


def test_files_are_deleted_when_the_transaction_fails(
    fb: Any, media_root: Path, monkeypatch: Any
) -> None:
    def boom(**kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Follow.objects, "create", boom)
    with pytest.raises(RuntimeError):
        submit(fb, media=[photo(), photo("b.jpg")])
    assert stored_files(media_root) == []
    assert not Report.objects.exists()


def test_open311_reports_need_no_photo_and_keep_the_contact(fb: Any) -> None:
    from thudo.accounts.models import User

    client = User.objects.create_user(username="open311-app", kind=User.Kind.SYSTEM)
    report = services.report_submit(
        reporter=None,
        client=client,
        category=fb.pothole,
        description="Đèn đường hỏng",
        latitude=HK_LAT,
        longitude=HK_LNG,
        source="open311",
        contact={"name": "Lê Văn C", "email": "c@example.vn", "device_id": "dev-1"},
        require_media=False,
        now=MONDAY_10,
    )
    assert report.source == "open311" and report.client == client and report.reporter is None
    assert (report.reporter_name, report.reporter_email, report.device_id) == (
        "Lê Văn C",
        "c@example.vn",
        "dev-1",
    )
    assert report.follower_count == 0 and not Follow.objects.exists()


def test_an_anonymous_report_without_a_client_is_refused(fb: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(PermissionDenied):
        submit(fb, reporter=AnonymousUser())


def test_a_flood_of_reports_is_throttled(fb: Any, settings: Any) -> None:
    settings.FEEDBACK_MAX_REPORTS_PER_HOUR = 5
    for minute in range(5):
        submit(fb, now=MONDAY_10 + timedelta(minutes=minute * 5), media=[photo()])
    with pytest.raises(Throttled) as caught:
        submit(fb, now=MONDAY_10 + timedelta(minutes=30))
    # the oldest of the hour (10:00) leaves the window at 11:00, 30 minutes later
    assert caught.value.retry_after == 30 * 60
    assert caught.value.status == 429
    # an hour after the first, one more is allowed
    submit(fb, now=MONDAY_10 + timedelta(minutes=61))
    # another resident is not affected
    submit(fb, reporter=fb.neighbour, now=MONDAY_10 + timedelta(minutes=31))


def test_the_daily_limit_applies_too(fb: Any, settings: Any) -> None:
    settings.FEEDBACK_MAX_REPORTS_PER_DAY = 3
    for hour in range(3):
        submit(fb, now=MONDAY_10 + hour * 2 * H)
    with pytest.raises(Throttled) as caught:
        submit(fb, now=MONDAY_10 + 7 * H)
    assert caught.value.retry_after == 17 * 3600


def test_a_banned_resident_cannot_report_until_the_ban_ends(fb: Any) -> None:
    services.moderation_ban(
        moderator=fb.moderator, user=fb.resident, reason="Spam", until=MONDAY_10 + D, now=MONDAY_10
    )
    with pytest.raises(PermissionDenied) as caught:
        submit(fb, now=MONDAY_10 + H)
    assert caught.value.code == "banned"
    assert submit(fb, now=MONDAY_10 + 2 * D).pk


def test_attributes_are_checked_against_the_questions(fb: Any) -> None:
    fb.pothole.questions = [
        {
            "code": "size",
            "label": "Kích thước",
            "datatype": "singlevaluelist",
            "required": True,
            "values": [{"key": "small", "name": "Nhỏ"}, {"key": "large", "name": "Lớn"}],
        },
        {"code": "depth", "label": "Độ sâu (cm)", "datatype": "number"},
    ]
    fb.pothole.save()
    with pytest.raises(ValidationFailed) as caught:
        submit(fb, attributes={"depth": "deep"})
    assert set(caught.value.fields) == {"attribute:size", "attribute:depth"}
    report = submit(fb, attributes={"size": "large", "depth": "15", "junk": "x"})
    assert report.attributes == {"size": "large", "depth": 15}


# --- edit and withdraw ---------------------------------------------------------------------


def test_the_reporter_edits_until_the_report_is_accepted(fb: Any) -> None:
    report = submit(fb)
    services.report_edit(
        user=fb.resident, report=report, description="Ổ gà sâu", address="Số 14", now=MONDAY_10
    )
    report.refresh_from_db()
    assert (report.description, report.address) == ("Ổ gà sâu", "Số 14")
    event = ReportEvent.objects.get(report=report, action="edit")
    assert event.data["before"]["description"].startswith("Ổ gà lớn")
    with pytest.raises(PermissionDenied):
        services.report_edit(user=fb.neighbour, report=report, description="Khác")
    accepted(fb, report)
    with pytest.raises(InvalidTransition):
        services.report_edit(user=fb.resident, report=report, description="Muộn quá")
    report.refresh_from_db()
    assert report.description == "Ổ gà sâu"


def test_no_edit_or_withdrawal_once_a_unit_took_the_report_up(fb: Any) -> None:
    transferred = submit(fb)
    accepted(fb, transferred)
    services.report_transfer(
        user=fb.ward_officer, report=transferred, agency=fb.department, reason="Thuộc Sở"
    )
    assert transferred.status == ReportStatus.SUBMITTED
    with pytest.raises(InvalidTransition):
        services.report_edit(user=fb.resident, report=transferred, description="Sửa")
    with pytest.raises(InvalidTransition):
        services.report_withdraw(user=fb.resident, report=transferred)
    reopened = submit(fb, now=MONDAY_10 + H)
    answered(fb, reopened)
    services.report_rate(user=fb.resident, report=reopened, rating=1)
    services.report_reopen(user=fb.resident, report=reopened, reason="Chưa xong")
    with pytest.raises(InvalidTransition):
        services.report_withdraw(user=fb.resident, report=reopened)
    # a transfer before anyone accepted leaves the report editable
    fresh = submit(fb, now=MONDAY_10 + 2 * H)
    services.report_transfer(
        user=fb.ward_officer, report=fresh, agency=fb.department, reason="Thuộc Sở"
    )
    services.report_edit(user=fb.resident, report=fresh, description="Sửa lại")
    assert fresh.description == "Sửa lại"


def test_a_new_category_routes_the_report_again(fb: Any) -> None:
    report = submit(fb)
    services.report_edit(user=fb.resident, report=report, category=fb.lighting)
    report.refresh_from_db()
    assert report.agency == fb.department
    lead = Assignment.objects.get(report=report)
    assert lead.agency == fb.department
    with pytest.raises(ValidationFailed):
        services.report_edit(user=fb.resident, report=report, category=fb.fire)


def test_the_reporter_withdraws_before_acceptance_only(fb: Any) -> None:
    report = submit(fb)
    with pytest.raises(PermissionDenied):
        services.report_withdraw(user=fb.neighbour, report=report)
    services.report_withdraw(user=fb.resident, report=report)
    assert report.status == ReportStatus.WITHDRAWN
    assert Assignment.objects.get(report=report).state == "closed"
    with pytest.raises(InvalidTransition):
        services.report_withdraw(user=fb.resident, report=report)
    other = submit(fb, now=MONDAY_10 + H)
    accepted(fb, other)
    with pytest.raises(InvalidTransition) as caught:
        services.report_withdraw(user=fb.resident, report=other)
    assert caught.value.status == 409


# --- acceptance, transfer, support -----------------------------------------------------------


def test_the_ward_accepts_on_time_and_followers_hear(fb: Any) -> None:
    report = submit(fb)
    services.report_follow(user=fb.neighbour, report=report)
    with pytest.raises(PermissionDenied):
        services.report_accept(user=fb.other_officer, report=report)
    with pytest.raises(PermissionDenied):
        services.report_accept(user=fb.resident, report=report)
    accepted(fb, report)
    assert report.status == ReportStatus.ACCEPTED and report.accepted_on_time is True
    lead = Assignment.objects.get(report=report)
    assert lead.state == "accepted" and lead.accepted_at == MONDAY_10 + H
    note = Notification.objects.get(user=fb.neighbour)
    assert f"#{report.pk}" in note.title and note.url.endswith(f"/{report.pk}/")
    # the resident follows too; the actor (the official) is not notified
    assert Notification.objects.filter(user=fb.resident).count() == 1
    assert not Notification.objects.filter(user=fb.ward_officer).exists()
    with pytest.raises(InvalidTransition):
        accepted(fb, report)


def test_a_late_acceptance_is_settled_late(fb: Any) -> None:
    report = submit(fb)
    services.report_accept(user=fb.ward_officer, report=report, now=MONDAY_10 + 2 * D)
    assert report.accepted_on_time is False


def test_the_city_leader_may_act_for_a_ward_below(fb: Any) -> None:
    report = submit(fb)
    services.report_accept(user=fb.city_leader, report=report, now=MONDAY_10 + H)
    assert report.status == ReportStatus.ACCEPTED


def test_a_transfer_restarts_the_accept_clock_not_the_deadline(fb: Any) -> None:
    report = submit(fb)
    accepted(fb, report)
    due = report.resolve_due
    with pytest.raises(ValidationFailed) as caught:
        services.report_transfer(
            user=fb.ward_officer, report=report, agency=fb.department, reason=""
        )
    assert "reason" in caught.value.fields
    with pytest.raises(ValidationFailed):
        services.report_transfer(
            user=fb.ward_officer, report=report, agency=fb.ward_agency, reason="x"
        )
    with pytest.raises(PermissionDenied):
        services.report_transfer(
            user=fb.other_officer, report=report, agency=fb.department, reason="x"
        )
    fb.other_ward.is_active = False
    fb.other_ward.save()
    with pytest.raises(ValidationFailed):
        services.report_transfer(
            user=fb.ward_officer, report=report, agency=fb.other_ward, reason="x"
        )
    moment = MONDAY_10 + 2 * H
    services.report_transfer(
        user=fb.ward_officer,
        report=report,
        agency=fb.department,
        reason="Thuộc thẩm quyền Sở",
        now=moment,
    )
    assert report.status == ReportStatus.SUBMITTED and report.agency == fb.department
    assert report.resolve_due == due
    assert report.accept_due == get_calendar().add_working_hours(moment, 8)
    old, new = Assignment.objects.filter(report=report).order_by("pk")
    assert (old.state, old.ended_at) == ("transferred", moment)
    assert (new.agency, new.state, new.resolve_due) == (fb.department, "pending", due)
    # the ward no longer handles it; the department does
    with pytest.raises(PermissionDenied):
        accepted(fb, report)
    services.report_accept(user=fb.dept_officer, report=report, now=moment + H)
    assert report.status == ReportStatus.ACCEPTED


def test_transfer_is_refused_once_answered(fb: Any) -> None:
    report = submit(fb)
    answered(fb, report)
    with pytest.raises(InvalidTransition):
        services.report_transfer(
            user=fb.ward_officer, report=report, agency=fb.department, reason="x"
        )


def test_an_urgent_report_keeps_four_hour_accept_clocks_when_transferred_or_supported(
    fb: Any,
) -> None:
    report = submit(fb, urgency=Urgency.URGENT)
    calendar = get_calendar()
    moment = MONDAY_10 + H
    services.report_transfer(
        user=fb.ward_officer, report=report, agency=fb.other_ward, reason="Sai địa bàn", now=moment
    )
    assert report.accept_due == calendar.add_working_hours(moment, 4)
    new_lead = Assignment.objects.get(report=report, agency=fb.other_ward)
    assert new_lead.accept_due == calendar.add_working_hours(moment, 4)
    services.report_accept(user=fb.other_officer, report=report, now=moment + H)
    services.report_support_add(
        user=fb.other_officer, report=report, agencies=[fb.department], now=moment + H
    )
    support = Assignment.objects.get(report=report, agency=fb.department)
    assert support.accept_due == calendar.add_working_hours(moment + H, 4)


def test_the_answer_ends_the_supporting_parts_still_open(fb: Any) -> None:
    report = submit(fb)
    accepted(fb, report)
    services.report_support_add(
        user=fb.ward_officer,
        report=report,
        agencies=[fb.department, fb.other_ward],
        now=MONDAY_10 + 2 * H,
    )
    services.report_accept(
        user=fb.dept_officer, report=report, agency=fb.department, now=MONDAY_10 + 2 * H
    )
    services.report_answer(
        user=fb.dept_officer,
        report=report,
        text="Đã cấp vật tư.",
        resolution="",
        now=MONDAY_10 + 3 * H,
    )
    services.report_answer(
        user=fb.ward_officer,
        report=report,
        text="Đã xử lý.",
        resolution=Report.Resolution.ANSWERED,
        now=MONDAY_10 + 4 * H,
    )
    parts = dict(
        Assignment.objects.filter(report=report, role=Assignment.Role.SUPPORT).values_list(
            "agency_id", "state"
        )
    )
    # the contribution stays recorded; the part never accepted ends with the answer
    assert parts == {fb.department.pk: "answered", fb.other_ward.pk: "closed"}
    assert Assignment.objects.get(agency=fb.other_ward).ended_at == MONDAY_10 + 4 * H
    # so nobody is alerted of a part that can no longer be done
    assert services.reports_breaches_escalate(now=MONDAY_10 + 10 * D) == 0
    assert not Notification.objects.filter(user__in=[fb.city_leader, fb.dept_leader]).exists()


def test_supporting_units_accept_and_contribute(fb: Any) -> None:
    report = submit(fb)
    with pytest.raises(InvalidTransition):
        services.report_support_add(user=fb.ward_officer, report=report, agencies=[fb.department])
    accepted(fb, report)
    with pytest.raises(ValidationFailed):
        services.report_support_add(user=fb.ward_officer, report=report, agencies=[])
    with pytest.raises(PermissionDenied):
        services.report_support_add(user=fb.dept_officer, report=report, agencies=[fb.department])
    moment = MONDAY_10 + 2 * H
    services.report_support_add(
        user=fb.ward_officer,
        report=report,
        agencies=[fb.department, fb.other_ward],
        note="Hỗ trợ vật tư",
        now=moment,
    )
    support = Assignment.objects.get(report=report, agency=fb.department)
    assert (support.role, support.state) == ("support", "pending")
    assert support.resolve_due == report.resolve_due
    assert support.accept_due == get_calendar().add_working_hours(moment, 8)
    with pytest.raises(ValidationFailed):
        services.report_support_add(user=fb.ward_officer, report=report, agencies=[fb.department])
    # a contribution needs the part accepted first
    with pytest.raises(InvalidTransition):
        services.report_answer(
            user=fb.dept_officer, report=report, text="x", resolution="", agency=fb.department
        )
    services.report_accept(user=fb.dept_officer, report=report, now=moment + H)
    support.refresh_from_db()
    assert support.state == "accepted"
    assert report.status == ReportStatus.ACCEPTED
    services.report_answer(
        user=fb.dept_officer,
        report=report,
        text="Đã cấp vật tư.",
        resolution="",
        now=moment + 2 * H,
    )
    support.refresh_from_db()
    assert (support.state, support.note) == ("answered", "Đã cấp vật tư.")
    report.refresh_from_db()
    assert report.status == ReportStatus.ACCEPTED
    contribution = ReportEvent.objects.get(report=report, action="contribution")
    assert contribution.public is False and contribution.agency == fb.department


def test_notes_are_internal_and_for_handlers_only(fb: Any) -> None:
    report = submit(fb)
    event = services.report_note(user=fb.ward_officer, report=report, text="Đã cử người kiểm tra")
    assert event.public is False and event.action == "note"
    with pytest.raises(PermissionDenied):
        services.report_note(user=fb.resident, report=report, text="x")
    with pytest.raises(PermissionDenied):
        services.report_note(user=fb.other_officer, report=report, text="x")
    with pytest.raises(ValidationFailed):
        services.report_note(user=fb.ward_officer, report=report, text="  ")


# --- answer, rating, reopening ---------------------------------------------------------------


def test_fixed_needs_an_evidence_photo(fb: Any, media_root: Path) -> None:
    report = submit(fb)
    with pytest.raises(InvalidTransition):
        services.report_answer(user=fb.ward_officer, report=report, text="x", resolution="answered")
    accepted(fb, report)
    with pytest.raises(ValidationFailed) as caught:
        services.report_answer(
            user=fb.ward_officer, report=report, text="Đã vá", resolution="fixed"
        )
    assert "evidence" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.report_answer(
            user=fb.ward_officer,
            report=report,
            text="Đã vá",
            resolution="fixed",
            evidence=[upload(mp4_bytes(), "v.mp4")],
        )
    assert "evidence" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        services.report_answer(user=fb.ward_officer, report=report, text="", resolution="maybe")
    assert {"text", "resolution"} <= set(caught.value.fields)
    with pytest.raises(PermissionDenied):
        services.report_answer(
            user=fb.other_officer, report=report, text="x", resolution="answered"
        )
    assert len(stored_files(media_root)) == 1  # only the report's photo


def test_the_answer_with_evidence_settles_the_deadline(fb: Any) -> None:
    report = submit(fb)
    evidence = upload(image_bytes(gps=(HK_LAT, HK_LNG)), "after.jpg")
    accepted(fb, report)
    services.report_answer(
        user=fb.ward_officer,
        report=report,
        text="Đã vá ổ gà.",
        resolution="fixed",
        evidence=[evidence],
        now=MONDAY_10 + 3 * H,
    )
    assert report.status == ReportStatus.ANSWERED
    assert report.resolved_on_time is True and report.answered_at == MONDAY_10 + 3 * H
    media = ReportMedia.objects.get(report=report, purpose="evidence")
    with media.file.open("rb") as handle:
        assert dict(Image.open(handle).getexif()) == {}
    event = ReportEvent.objects.get(report=report, action="answer")
    assert media.event == event and event.public
    assert Assignment.objects.get(report=report).state == "answered"


def test_an_answer_after_the_deadline_is_late(fb: Any) -> None:
    report = submit(fb)
    accepted(fb, report)
    services.report_answer(
        user=fb.ward_officer,
        report=report,
        text="Không thuộc phạm vi.",
        resolution="not_in_scope",
        now=MONDAY_10 + 30 * D,
    )
    assert report.resolved_on_time is False


def test_a_satisfied_rating_closes_the_report(fb: Any) -> None:
    report = submit(fb)
    with pytest.raises(InvalidTransition):
        services.report_rate(user=fb.resident, report=report, rating=5)
    answered(fb, report)
    with pytest.raises(PermissionDenied):
        services.report_rate(user=fb.neighbour, report=report, rating=5)
    for bad in (0, 6, "five", 3.5, True):
        with pytest.raises(ValidationFailed):
            services.report_rate(user=fb.resident, report=report, rating=bad)  # type: ignore[arg-type]
    services.report_rate(user=fb.resident, report=report, rating=4, comment="Cảm ơn")
    assert report.status == ReportStatus.CLOSED and report.satisfied is True
    assert report.closed_at is not None
    assert Assignment.objects.get(report=report).state == "closed"
    with pytest.raises(InvalidTransition):
        services.report_rate(user=fb.resident, report=report, rating=5)


def test_an_unsatisfied_rating_keeps_it_answered_once(fb: Any) -> None:
    report = submit(fb)
    answered(fb, report)
    services.report_rate(user=fb.resident, report=report, rating=2)
    assert report.status == ReportStatus.ANSWERED and report.satisfied is False
    with pytest.raises(InvalidTransition):
        services.report_rate(user=fb.resident, report=report, rating=1)
    other = submit(fb, now=MONDAY_10 + H)
    answered(fb, other)
    services.report_rate(user=fb.resident, report=other, rating=4, satisfied=False)
    assert other.status == ReportStatus.ANSWERED and other.satisfied is False


def test_reopening_escalates_to_the_department_once(fb: Any) -> None:
    report = submit(fb)
    answered(fb, report)
    with pytest.raises(InvalidTransition):  # not rated yet
        services.report_reopen(user=fb.resident, report=report, reason="Chưa sửa")
    services.report_rate(user=fb.resident, report=report, rating=1)
    with pytest.raises(ValidationFailed):
        services.report_reopen(user=fb.resident, report=report, reason=" ")
    with pytest.raises(PermissionDenied):
        services.report_reopen(user=fb.neighbour, report=report, reason="x")
    moment = MONDAY_10 + 2 * D
    services.report_reopen(user=fb.resident, report=report, reason="Vẫn còn ổ gà", now=moment)
    report.refresh_from_db()
    calendar = get_calendar()
    assert report.level == 1 and report.status == ReportStatus.SUBMITTED
    assert report.agency == fb.department and report.reopened_at == moment
    assert report.rating is None and report.satisfied is None and report.rated_at is None
    assert report.accept_due == calendar.add_working_hours(moment, 8)
    assert report.resolve_due == calendar.add_working_days(moment, 5)
    old, new = Assignment.objects.filter(report=report).order_by("pk")
    assert old.state == "escalated"
    assert (new.agency, new.state) == (fb.department, "pending")
    event = ReportEvent.objects.get(report=report, action="reopen")
    assert event.data["rating"] == 1 and event.note == "Vẫn còn ổ gà"
    # the department's leader hears; not the ward's
    assert Notification.objects.filter(user=fb.dept_leader, url__contains="workspace").exists()
    assert not Notification.objects.filter(user=fb.ward_leader).exists()
    # a second round: handled, rated unsatisfied again, cannot be reopened again
    services.report_accept(user=fb.dept_officer, report=report, now=moment + H)
    services.report_answer(
        user=fb.dept_officer,
        report=report,
        text="Đã xử lý lại",
        resolution="answered",
        now=moment + 2 * H,
    )
    services.report_rate(user=fb.resident, report=report, rating=1)
    with pytest.raises(InvalidTransition) as caught:
        services.report_reopen(user=fb.resident, report=report, reason="Lần nữa")
    assert caught.value.status == 409


def test_a_department_report_reopens_to_the_city(fb: Any) -> None:
    report = submit(fb, category=fb.lighting)
    services.report_accept(user=fb.dept_officer, report=report, now=MONDAY_10 + H)
    services.report_answer(
        user=fb.dept_officer, report=report, text="Đã thay bóng", resolution="answered"
    )
    services.report_rate(user=fb.resident, report=report, rating=2)
    services.report_reopen(user=fb.resident, report=report, reason="Vẫn tối")
    assert report.agency == fb.city
    assert Notification.objects.filter(user=fb.city_leader).exists()


def test_a_closed_report_cannot_be_reopened(fb: Any) -> None:
    report = submit(fb)
    answered(fb, report)
    services.report_rate(user=fb.resident, report=report, rating=5)
    with pytest.raises(InvalidTransition):
        services.report_reopen(user=fb.resident, report=report, reason="x")


# --- follows and flags -----------------------------------------------------------------------


def test_follow_and_unfollow_keep_the_count(fb: Any) -> None:
    report = submit(fb)
    follow = services.report_follow(user=fb.neighbour, report=report)
    assert services.report_follow(user=fb.neighbour, report=report) == follow
    report.refresh_from_db()
    assert report.follower_count == 2
    services.report_unfollow(user=fb.neighbour, report=report)
    services.report_unfollow(user=fb.neighbour, report=report)
    report.refresh_from_db()
    assert report.follower_count == 1
    services.moderation_hide(moderator=fb.moderator, report=report, reason="Xúc phạm")
    with pytest.raises(NotFound):
        services.report_follow(user=fb.neighbour, report=report)


def test_three_flags_hide_a_report_pending_review(fb: Any, make_official: Any) -> None:
    report = submit(fb)
    with pytest.raises(PermissionDenied):
        services.report_flag(user=fb.resident, report=report, reason="spam")
    with pytest.raises(ValidationFailed):
        services.report_flag(user=fb.neighbour, report=report, reason="boring")
    services.report_flag(user=fb.neighbour, report=report, reason="abusive", comment="Chửi bới")
    with pytest.raises(ValidationFailed) as caught:
        services.report_flag(user=fb.neighbour, report=report, reason="spam")
    assert caught.value.code == "already_flagged"
    services.report_flag(user=fb.ward_officer, report=report, reason="spam")
    report.refresh_from_db()
    assert report.visibility == Visibility.PUBLIC and report.flag_count == 2
    services.report_flag(user=fb.other_officer, report=report, reason="personal_data")
    report.refresh_from_db()
    assert report.visibility == Visibility.FLAGGED and report.flag_count == 3
    assert ReportEvent.objects.filter(report=report, action="flagged", public=False).exists()
    assert AuditEvent.objects.filter(action="feedback.flag").count() == 3


def test_a_banned_resident_cannot_flag(fb: Any) -> None:
    report = submit(fb)
    services.moderation_ban(moderator=fb.moderator, user=fb.neighbour, reason="Spam")
    with pytest.raises(PermissionDenied):
        services.report_flag(user=fb.neighbour, report=report, reason="spam")


# --- moderation ------------------------------------------------------------------------------


def test_only_moderators_moderate(fb: Any) -> None:
    report = submit(fb)
    for user in (fb.resident, fb.ward_officer, fb.ward_leader):
        with pytest.raises(PermissionDenied):
            services.moderation_hide(moderator=user, report=report, reason="x")
    with pytest.raises(ValidationFailed):
        services.moderation_hide(moderator=fb.moderator, report=report, reason="")


def test_hide_show_and_dismiss(fb: Any) -> None:
    report = submit(fb)
    act = services.moderation_hide(moderator=fb.moderator, report=report, reason="Xúc phạm")
    assert report.visibility == Visibility.HIDDEN and act.action == "hide"
    Flag.objects.create(report=report, user=fb.neighbour, reason="spam")
    services.moderation_show(moderator=fb.moderator, report=report, reason="Đã xem lại")
    assert report.visibility == Visibility.PUBLIC and report.flag_count == 0
    assert not Flag.objects.filter(reviewed_at__isnull=True).exists()
    report.visibility = Visibility.FLAGGED
    report.save()
    Flag.objects.create(report=report, user=fb.ward_officer, reason="spam")
    services.moderation_dismiss_flags(moderator=fb.moderator, report=report, reason="Không sai")
    report.refresh_from_db()
    assert report.visibility == Visibility.PUBLIC and report.flag_count == 0
    assert ModerationAction.objects.count() == 3
    assert AuditEvent.objects.filter(action__startswith="feedback.moderation.").count() == 3


def test_redacting_text_keeps_the_original_in_the_history(fb: Any) -> None:
    report = submit(fb, description="Ông Nguyễn Văn X, SĐT 0912345678, đổ rác")
    act = services.moderation_redact_text(
        moderator=fb.moderator, report=report, text="Có người đổ rác", reason="Dữ liệu cá nhân"
    )
    assert report.description == "Có người đổ rác"
    assert act.data["before"].startswith("Ông Nguyễn Văn X")
    with pytest.raises(ValidationFailed):
        services.moderation_redact_text(
            moderator=fb.moderator, report=report, text="x" * 4001, reason="x"
        )


def test_redacting_a_photo_blacks_out_the_boxes_and_drops_the_original(
    fb: Any, media_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    report = submit(fb, media=[upload(image_bytes("PNG", size=(100, 80)), "plate.png")])
    media = ReportMedia.objects.get(report=report)
    original = media.file.name
    with pytest.raises(ValidationFailed):
        services.moderation_redact_photo(
            moderator=fb.moderator, media=media, boxes=[(500, 500, 10, 10)], reason="x"
        )
    with pytest.raises(ValidationFailed):
        services.moderation_redact_photo(
            moderator=fb.moderator, media=media, boxes=[(0, 0, -5, 10)], reason="x"
        )
    with pytest.raises(PermissionDenied):
        services.moderation_redact_photo(
            moderator=fb.ward_officer, media=media, boxes=[(0, 0, 5, 5)], reason="x"
        )
    with django_capture_on_commit_callbacks(execute=True):
        act = services.moderation_redact_photo(
            moderator=fb.moderator, media=media, boxes=[(10, 10, 30, 20)], reason="Biển số xe"
        )
    media.refresh_from_db()
    assert media.redacted and media.file.name != original
    assert not default_storage.exists(original)
    assert act.data == {"media": media.pk, "boxes": [[10, 10, 30, 20]]}
    with media.file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read())).convert("RGB")
    assert image.getpixel((20, 15)) == (0, 0, 0)
    assert image.getpixel((5, 5)) == (200, 30, 30)
    assert image.getpixel((39, 29)) == (0, 0, 0)  # the box is x 10-39, y 10-29
    assert image.getpixel((40, 29)) == image.getpixel((39, 30)) == (200, 30, 30)
    assert len(stored_files(media_root)) == 1


def test_a_video_cannot_be_redacted(fb: Any) -> None:
    report = submit(fb, media=[upload(mp4_bytes(), "v.mp4")])
    media = ReportMedia.objects.get(report=report)
    with pytest.raises(ValidationFailed):
        services.moderation_redact_photo(
            moderator=fb.moderator, media=media, boxes=[(0, 0, 5, 5)], reason="x"
        )


def test_ban_and_unban(fb: Any) -> None:
    with pytest.raises(ValidationFailed):
        services.moderation_ban(moderator=fb.moderator, user=fb.moderator, reason="x")
    with pytest.raises(ValidationFailed):
        services.moderation_ban(
            moderator=fb.moderator, user=fb.resident, reason="x", until=MONDAY_10 - D
        )
    with pytest.raises(InvalidTransition):
        services.moderation_unban(moderator=fb.moderator, user=fb.resident, reason="x")
    ban = services.moderation_ban(moderator=fb.moderator, user=fb.resident, reason="Spam")
    assert ban.until is None and services.user_banned(fb.resident)
    act = services.moderation_unban(moderator=fb.moderator, user=fb.resident, reason="Hết hạn")
    assert act.data["bans"] == [ban.pk] and not services.user_banned(fb.resident)
    assert Ban.objects.get().lifted_at is not None
    assert ModerationAction.objects.filter(target_user=fb.resident).count() == 2


# --- personal data ---------------------------------------------------------------------------


def test_the_reporter_removes_their_personal_data(fb: Any) -> None:
    report = submit(fb, show_name=True)
    services.report_follow(user=fb.neighbour, report=report)
    with pytest.raises(PermissionDenied):
        services.report_personal_data_remove(user=fb.neighbour, report=report)
    services.report_personal_data_remove(user=fb.resident, report=report, now=MONDAY_10 + D)
    report.refresh_from_db()
    assert report.reporter is None and report.personal_data_removed_at == MONDAY_10 + D
    assert (report.reporter_name, report.reporter_email, report.reporter_phone) == ("", "", "")
    assert report.show_name is False and report.follower_count == 1
    assert not Follow.objects.filter(user=fb.resident).exists()
    assert ReportMedia.objects.get(report=report).uploaded_by is None
    assert report.description.startswith("Ổ gà")
    audit = AuditEvent.objects.get(action="feedback.personal_data_removed")
    assert audit.actor == fb.resident


def test_removing_personal_data_unlinks_the_timeline_from_the_account(fb: Any) -> None:
    report = submit(fb)
    accepted(fb, report)
    services.report_personal_data_remove(user=fb.resident, report=report, now=MONDAY_10 + D)
    assert not ReportEvent.objects.filter(report=report, actor=fb.resident).exists()
    # the officials' acts still name them
    assert ReportEvent.objects.get(report=report, action="accept").actor == fb.ward_officer
    # the audit trail keeps who asked
    audit = AuditEvent.objects.get(action="feedback.submit")
    assert audit.actor == fb.resident


# --- periodic jobs ---------------------------------------------------------------------------


def test_breaches_are_escalated_to_the_leaders_once(fb: Any) -> None:
    report = submit(fb)
    assert services.reports_breaches_escalate(now=MONDAY_10 + H) == 0
    late = report.accept_due + timedelta(minutes=1)
    assert services.reports_breaches_escalate(now=late) == 1
    lead = Assignment.objects.get(report=report)
    assert lead.escalated_at == late
    note = Notification.objects.get(user=fb.ward_leader)
    assert f"#{report.pk}" in note.title
    breach = ReportEvent.objects.get(report=report, action="breach")
    assert breach.public is False and breach.data["clock"] == "accept"
    assert services.reports_breaches_escalate(now=late + H) == 0  # idempotent
    # accepted late, then the resolve deadline passes: escalated again
    services.report_accept(user=fb.ward_officer, report=report, now=late + H)
    assert services.reports_breaches_escalate(now=report.resolve_due + H) == 1
    assert Notification.objects.filter(user=fb.ward_leader).count() == 2


def test_a_unit_without_leaders_escalates_to_its_parent(fb: Any) -> None:
    report = submit(fb, unit_code=fb.other_unit.code)
    assert report.agency == fb.other_ward
    assert services.reports_breaches_escalate(now=MONDAY_10 + 3 * D) == 1
    assert Notification.objects.filter(user=fb.city_leader).exists()


def test_unrated_answers_close_after_seven_working_days(fb: Any) -> None:
    report = submit(fb)
    answered(fb, report)
    calendar = get_calendar()
    assert report.answered_at is not None
    due = calendar.add_working_days(report.answered_at, 7)
    assert services.reports_auto_close(now=due - H) == 0
    assert services.reports_auto_close(now=due + H) == 1
    report.refresh_from_db()
    assert report.status == ReportStatus.CLOSED and report.closed_at == due + H
    event = ReportEvent.objects.get(report=report, action="close")
    assert event.data["automatic"] is True and event.actor is None
    assert services.reports_auto_close(now=due + D) == 0
