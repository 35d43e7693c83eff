"""The moderators' pages: the queue (flagged first, with flag counts and reasons), the report's
page with its history, and every act (hide, show, dismiss flags, redact text or photo, ban and
lift a ban) with its errors field by field and its refusals as messages, never a 500."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from thudo.accounts.models import User
from thudo.accounts.testing import login_verified
from thudo.feedback import services
from thudo.feedback.models import Ban, Flag, ModerationAction, Report, ReportMedia, Visibility

from . import factories
from .factories import image_bytes, submit, upload

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


def _mod(client: Any, report: Report, action: str, data: dict[str, Any] | None = None) -> Any:
    url = reverse(f"feedback_official:mod_{action}", args=[report.pk])
    return client.post(url, {f"{action}-{k}": v for k, v in (data or {}).items()})


@pytest.fixture
def flaggers(fb: Any) -> list[User]:
    more = [
        User.objects.create_user(username=f"nguoidan{n}", email=f"nd{n}@example.vn")
        for n in range(2)
    ]
    return [fb.neighbour, *more]


@pytest.fixture
def report(fb: Any) -> Report:
    return submit(
        fb,
        now=timezone.now(),
        media=[upload(image_bytes("PNG", size=(40, 30)), "p.png", "image/png")],
        description="Ông Nguyễn Văn X ở số 5, điện thoại 0912345678, đổ rác.",
    )


def _flag(report: Report, users: list[User], reason: str = Flag.Reason.PERSONAL_DATA) -> None:
    for user in users:
        services.report_flag(user=user, report=report, reason=reason, comment="Lộ số điện thoại")


# --- access ----------------------------------------------------------------------------------


def test_moderation_needs_the_permission(client: Any, fb: Any, report: Report) -> None:
    urls = [
        reverse("feedback_official:mod_queue"),
        reverse("feedback_official:mod_detail", args=[report.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302
    c = _as(client, fb.ward_officer)  # handles reports, does not moderate
    for url in urls:
        assert c.get(url).status_code == 403
    assert _mod(c, report, "hide", {"reason": "x"}).status_code == 403
    assert Report.objects.get(pk=report.pk).visibility == Visibility.PUBLIC
    c = _as(client, fb.moderator)
    for url in urls:
        assert c.get(url).status_code == 200


# --- the queue -------------------------------------------------------------------------------


def test_queue_puts_flagged_reports_first_with_counts_and_reasons(
    client: Any, fb: Any, flaggers: list[User]
) -> None:
    quiet = submit(fb, now=timezone.now(), description="Vỉa hè bị lấn chiếm.")
    one_flag = submit(fb, now=timezone.now(), description="Cây đổ chắn đường.")
    flagged = submit(fb, now=timezone.now(), description="Nội dung bị báo cáo.")
    _flag(one_flag, flaggers[:1], Flag.Reason.SPAM)
    _flag(flagged, flaggers[:2], Flag.Reason.ABUSIVE)
    _flag(flagged, flaggers[2:], Flag.Reason.PERSONAL_DATA)
    assert Report.objects.get(pk=flagged.pk).visibility == Visibility.FLAGGED

    html = _as(client, fb.moderator).get(reverse("feedback_official:mod_queue")).content.decode()
    found = [int(n) for n in re.findall(r'href="/workspace/feedback/moderation/(\d+)/"', html)]
    assert found == [flagged.pk, one_flag.pk]
    assert quiet.pk not in found
    assert "Abusive or offensive (2)" in html and "Shows someone&#x27;s personal data (1)" in html
    assert "Spam or advertising (1)" in html
    assert "Hidden pending review" in html


def test_the_queue_reads_a_fixed_number_of_queries(
    client: Any, fb: Any, settings: Any, flaggers: list[User]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.FEEDBACK_MAX_REPORTS_PER_HOUR = 100
    c = _as(client, fb.moderator)
    url = reverse("feedback_official:mod_queue")

    def queries() -> int:
        c.get(url)  # warm the per-process caches
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    _flag(submit(fb, now=timezone.now()), flaggers[:1])
    few = queries()
    for i in range(5):
        _flag(submit(fb, now=timezone.now(), description=f"Báo cáo {i}"), flaggers[: 1 + i % 3])
    assert queries() == few


# --- the acts --------------------------------------------------------------------------------


def test_hide_show_and_dismiss_with_the_history(
    client: Any, fb: Any, report: Report, flaggers: list[User]
) -> None:
    _flag(report, flaggers)
    c = _as(client, fb.moderator)
    detail = reverse("feedback_official:mod_detail", args=[report.pk])
    html = c.get(detail).content.decode()
    assert "Lộ số điện thoại" in html and "No moderation yet." in html
    for action in ("hide", "show", "dismiss", "redact_text", "redact_photo", "ban"):
        assert reverse(f"feedback_official:mod_{action}", args=[report.pk]) in html

    response = _mod(c, report, "hide", {"reason": ""})
    assert response.status_code == 422
    assert 'href="#id_hide-reason"' in response.content.decode()

    assert _mod(c, report, "hide", {"reason": "Lộ thông tin cá nhân."}).status_code == 302
    assert Report.objects.get(pk=report.pk).visibility == Visibility.HIDDEN
    html = c.get(detail).content.decode()
    assert "Hid the report" in html and "Lộ thông tin cá nhân." in html
    assert "The report is hidden from the public." in html
    assert reverse("feedback_official:mod_hide", args=[report.pk]) not in html

    assert _mod(c, report, "show", {"reason": "Đã xử lý."}).status_code == 302
    assert Report.objects.get(pk=report.pk).visibility == Visibility.PUBLIC
    assert not Flag.objects.filter(report=report, reviewed_at__isnull=True).exists()

    _flag(report, [User.objects.create_user(username="nguoimoi")], Flag.Reason.SPAM)
    assert _mod(c, report, "dismiss", {"reason": "Không có cơ sở."}).status_code == 302
    assert not Flag.objects.filter(report=report, reviewed_at__isnull=True).exists()
    actions = list(ModerationAction.objects.filter(report=report).values_list("action", flat=True))
    assert actions == ["dismiss_flags", "show", "hide"]


def test_redact_the_text_keeps_the_original_in_the_history(
    client: Any, fb: Any, report: Report
) -> None:
    c = _as(client, fb.moderator)
    detail = reverse("feedback_official:mod_detail", args=[report.pk])
    html = c.get(detail).content.decode()
    assert f"{report.description}</textarea>" in html  # the box starts with the text

    response = _mod(c, report, "redact_text", {"text": "", "reason": "x"})
    assert response.status_code == 422
    assert "The report needs a text." in response.content.decode()

    response = _mod(
        c,
        report,
        "redact_text",
        {"text": "Ông X ở số 5 đổ rác.", "reason": "Lộ số điện thoại."},
    )
    assert response.status_code == 302
    assert Report.objects.get(pk=report.pk).description == "Ông X ở số 5 đổ rác."
    html = c.get(detail).content.decode()
    assert "Text before the redaction" in html and "0912345678" in html


def test_redact_a_photo_by_boxes(client: Any, fb: Any, report: Report) -> None:
    media = ReportMedia.objects.get(report=report)
    c = _as(client, fb.moderator)
    html = c.get(reverse("feedback_official:mod_detail", args=[report.pk])).content.decode()
    assert f'data-redact-media="{media.pk}"' in html and 'name="redact_photo-boxes"' in html

    response = _mod(
        c, report, "redact_photo", {"photo": media.pk, "boxes": "1,2,three", "reason": "x"}
    )
    assert response.status_code == 422
    assert "four numbers" in response.content.decode()

    response = _mod(
        c,
        report,
        "redact_photo",
        {"photo": media.pk, "boxes": "0,0,10,10\n20, 10, 5, 5", "reason": "Biển số xe."},
    )
    assert response.status_code == 302
    media.refresh_from_db()
    assert media.redacted is True
    action = ModerationAction.objects.get(report=report, action="redact_photo")
    assert [list(b) for b in action.data["boxes"]] == [[0, 0, 10, 10], [20, 10, 5, 5]]
    html = c.get(reverse("feedback_official:mod_detail", args=[report.pk])).content.decode()
    assert "partly blacked out" in html and "0,0,10,10" in html


def test_ban_and_lift_the_ban(client: Any, fb: Any, report: Report) -> None:
    c = _as(client, fb.moderator)
    detail = reverse("feedback_official:mod_detail", args=[report.pk])
    response = _mod(c, report, "ban", {"reason": "Spam.", "until": "2000-01-01"})
    assert response.status_code == 422
    assert "Choose a day after today." in response.content.decode()

    until = (timezone.localdate() + timedelta(days=7)).isoformat()
    assert _mod(c, report, "ban", {"reason": "Gửi tin rác.", "until": until}).status_code == 302
    ban = Ban.objects.get(user=fb.resident)
    assert ban.until is not None and ban.until > timezone.now() and ban.lifted_at is None
    assert services.user_banned(fb.resident)
    html = c.get(detail).content.decode()
    assert "Banned until" in html
    assert reverse("feedback_official:mod_unban", args=[report.pk]) in html
    assert reverse("feedback_official:mod_ban", args=[report.pk]) not in html

    assert _mod(c, report, "unban", {"reason": "Đã cam kết."}).status_code == 302
    assert not services.user_banned(fb.resident)
    # Lifting a ban that is not there is refused with a message, not a 500.
    response = _mod(c, report, "unban", {"reason": "Lần nữa."})
    assert response.status_code in {409, 422}
    assert "not banned" in response.content.decode()


def test_a_moderator_may_not_ban_themselves(client: Any, fb: Any) -> None:
    own = submit(fb, reporter=fb.neighbour, now=timezone.now())
    Report.objects.filter(pk=own.pk).update(reporter=fb.moderator)
    c = _as(client, fb.moderator)
    response = _mod(c, own, "ban", {"reason": "x"})
    assert response.status_code == 422
    assert "You cannot ban yourself." in response.content.decode()
    assert not Ban.objects.exists()
