"""Notifications: a row at once, the e-mail only after commit, never twice."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from thudo.notifications import selectors
from thudo.notifications.models import Notification
from thudo.notifications.services import (
    notification_email_send,
    notification_mark_read,
    notify,
)

pytestmark = pytest.mark.django_db


def test_notify_records_and_emails_after_commit(
    citizen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        note = notify(user=citizen, title="Hồ sơ", body="Nội dung", url="/x/", email="a@b.vn")
        assert mail.outbox == []
    assert len(callbacks) == 1 and len(mail.outbox) == 1
    assert mail.outbox[0].to == ["a@b.vn"] and mail.outbox[0].subject == "Hồ sơ"
    assert mail.outbox[0].body.endswith("/x/")
    note.refresh_from_db()
    assert note.emailed_to == "a@b.vn" and note.emailed_at is not None
    # Sending again does nothing.
    assert notification_email_send(notification_id=note.pk) is False
    assert len(mail.outbox) == 1


def test_a_rolled_back_notification_sends_nothing(
    citizen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    class Boom(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        notify(user=citizen, title="x", email="a@b.vn")
        raise Boom
    assert callbacks == [] and mail.outbox == []
    assert not Notification.objects.exists()


def test_without_an_address_there_is_no_email(
    citizen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    citizen.email = ""
    citizen.save()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        note = notify(user=citizen, title="x" * 300)
    assert callbacks == [] and note.emailed_to == "" and len(note.title) == 200


def test_unread_count_and_mark_read(citizen: Any, make_official: Any) -> None:
    other = make_official()
    first = notify(user=citizen, title="1")
    notify(user=citizen, title="2")
    notify(user=other, title="3")
    assert selectors.unread_count(citizen) == 2
    assert notification_mark_read(user=citizen, ids=[first.pk]) == 1
    assert selectors.unread_count(citizen) == 1
    assert notification_mark_read(user=other, ids=[first.pk]) == 0  # not theirs
    assert notification_mark_read(user=citizen) == 1
    assert selectors.unread_count(citizen) == 0
    assert list(selectors.notifications_of(other).values_list("title", flat=True)) == ["3"]
