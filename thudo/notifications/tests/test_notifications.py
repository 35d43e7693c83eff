from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from thudo.notifications.models import Notification
from thudo.notifications.services import notification_email_send, notify

pytestmark = pytest.mark.django_db


def test_notify_records_and_emails_after_commit(citizen, django_capture_on_commit_callbacks):
    citizen.email = "an@example.vn"
    citizen.save()
    with django_capture_on_commit_callbacks(execute=True):
        n = notify(user=citizen, title="Hồ sơ đã tiếp nhận", body="Mã hồ sơ X", url="/dossiers/")
    assert Notification.objects.filter(user=citizen).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["an@example.vn"]
    assert "/dossiers/" in mail.outbox[0].body
    n.refresh_from_db()
    assert n.emailed_at is not None
    # sending again does nothing
    assert notification_email_send(notification_id=n.pk) is False
    assert len(mail.outbox) == 1


def test_no_email_without_address(citizen, django_capture_on_commit_callbacks):
    citizen.email = ""
    citizen.save()
    with django_capture_on_commit_callbacks(execute=True):
        notify(user=citizen, title="Only in the app")
    assert mail.outbox == []


def test_inbox_page_lists_and_marks_read(client, citizen):
    notify(user=citizen, title="Kết quả đã sẵn sàng")
    client.force_login(citizen)
    page = client.get(reverse("notifications:inbox"))
    assert page.status_code == 200
    assert "Kết quả đã sẵn sàng" in page.content.decode()
    client.post(reverse("notifications:mark_read"))
    assert Notification.objects.get(user=citizen).read_at is not None


def test_inbox_needs_sign_in(client):
    response = client.get(reverse("notifications:inbox"))
    assert response.status_code == 302
