"""A submission e-mails the applicant: proved against a real SMTP server (aiosmtpd) on
loopback, through Django's SMTP backend, after the transaction commits."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any

import pytest

from thudo.notifications.models import Notification

from .factories import submit

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


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Inbox]]:
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def test_a_submission_sends_the_code_by_email_over_smtp(
    procedure: Any,
    applicant: Any,
    smtp_server: tuple[int, _Inbox],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
) -> None:

    port, inbox = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        dossier = submit(procedure=procedure, applicant=applicant)
    assert inbox.messages == []  # nothing is sent before the commit
    for callback in callbacks:
        callback()

    assert len(inbox.messages) == 1
    mail_from, recipients, raw = inbox.messages[0]
    assert recipients == ["an@example.vn"] and "no-reply" in mail_from
    message = message_from_bytes(raw)
    subject = str(make_header(decode_header(message["Subject"])))
    assert dossier.code in subject
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode(message.get_content_charset() or "utf-8")
    assert dossier.code in body and f"/dossiers/{dossier.public_id}/" in body
    assert Notification.objects.get(user=applicant).emailed_at is not None
