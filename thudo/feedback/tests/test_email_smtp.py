"""A report's followers hear of its status changes by e-mail, and the residents of a ward hear of
a city alert: proved against a real SMTP server (aiosmtpd) on loopback, through Django's SMTP
backend, after the transactions commit. The e-mails are in Vietnamese."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from thudo.accounts.testing import login_verified
from thudo.feedback import services
from thudo.feedback.models import ReportStatus
from thudo.notifications.models import CityAlert, Notification
from thudo.notifications.services import alert_send

from . import factories
from .factories import photo, submit

# The domain's fixtures (assigned, not imported, so that test arguments may share the names).
fb = factories.fb
media_root = factories.media_root

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def read(self) -> list[tuple[list[str], str, str]]:
        """(recipients, subject, body) of every message received."""
        out = []
        for _sender, recipients, raw in self.messages:
            message = message_from_bytes(raw)
            subject = str(make_header(decode_header(message["Subject"])))
            payload = message.get_payload(decode=True)
            assert isinstance(payload, bytes)
            body = payload.decode(message.get_content_charset() or "utf-8")
            out.append((recipients, subject, body))
        return out


@pytest.fixture
def smtp(settings: Any) -> Iterator[_Inbox]:
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    try:
        yield inbox
    finally:
        controller.stop()


def _vi_status_subject(report_id: int, status: str) -> str:
    with translation.override("vi"):
        label = str(ReportStatus(status).label)
        return gettext("Report #{id}: {status}").format(id=report_id, status=label)


def test_followers_get_the_status_changes_and_residents_the_alert_over_smtp(
    client: Any, fb: Any, smtp: _Inbox, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        report = submit(fb, now=timezone.now())  # the reporter follows it
        services.report_follow(user=fb.neighbour, report=report)
    smtp.messages.clear()  # whatever the submission sent is not this test's concern

    login_verified(client, fb.ward_officer)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"  # the page; not the e-mails
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("feedback_official:accept", args=[report.pk]))
    assert response.status_code == 302
    assert smtp.messages == []  # nothing is sent before the commit
    for callback in callbacks:
        callback()

    accepted = _vi_status_subject(report.pk, ReportStatus.ACCEPTED)
    got = smtp.read()
    assert sorted(r[0][0] for r in got) == ["an@example.vn", "binh@example.vn"]
    assert {r[1] for r in got} == {accepted}
    for _recipients, _subject, body in got:
        assert f"/feedback/{report.pk}/" in body
    smtp.messages.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("feedback_official:answer", args=[report.pk]),
            {
                "answer-resolution": "fixed",
                "answer-text": "Đã vá ổ gà trước số 12 phố Hàng Bài.",
                "answer-evidence": photo("sau.jpg"),
            },
        )
    assert response.status_code == 302
    answered = _vi_status_subject(report.pk, ReportStatus.ANSWERED)
    got = smtp.read()
    assert sorted(r[0][0] for r in got) == ["an@example.vn", "binh@example.vn"]
    assert {r[1] for r in got} == {answered}
    for _recipients, _subject, body in got:
        assert "Đã vá ổ gà trước số 12 phố Hàng Bài." in body
    assert not Notification.objects.filter(
        user__in=[fb.resident, fb.neighbour], emailed_at__isnull=True
    ).exists()
    assert not Notification.objects.filter(user=fb.ward_officer).exists()  # not the actor
    smtp.messages.clear()

    # A city alert to the ward reaches its resident by e-mail too.
    with django_capture_on_commit_callbacks(execute=True):
        alert = alert_send(
            sender=fb.moderator,
            level=CityAlert.Level.URGENT,
            title="Ngập sâu phố Hàng Bài",
            body="Người dân hạn chế đi qua phố Hàng Bài đến 18 giờ.",
            unit_codes=[fb.ward.code],
        )
    assert alert.recipients >= 1
    with translation.override("vi"):
        prefix = gettext("[Urgent]")  # "[Khẩn]" in the Vietnamese catalogue
    got = smtp.read()
    assert [r[0] for r in got] == [["an@example.vn"]]
    assert got[0][1] == f"{prefix} Ngập sâu phố Hàng Bài"
    assert "hạn chế đi qua phố Hàng Bài" in got[0][2]
    mailed = Notification.objects.get(user=fb.resident, title__startswith=prefix)
    assert mailed.emailed_at is not None
