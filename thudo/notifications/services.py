"""Notify a user in the app and, when they have an address, by e-mail after commit."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from thudo.core.tasks import enqueue_on_commit

from .models import Notification


def notify(
    *, user: Any, title: str, body: str = "", url: str = "", email: str = ""
) -> Notification:
    """Record a notification; `email` (or the user's own address) receives a copy once the
    caller's transaction commits. Title and body are already in the recipient's language.

    One insert in the caller's transaction (no savepoint of its own: a failure rolls the
    caller's whole change back, notification included); outside a transaction the row is
    committed at once and the e-mail queued straight after."""
    address = email or getattr(user, "email", "") or ""
    notification = Notification.objects.create(
        user=user, title=title[:200], body=body, url=url, emailed_to=address
    )
    if address:
        from .tasks import send_notification_email

        enqueue_on_commit(send_notification_email, notification.pk)
    return notification


def notification_email_send(*, notification_id: int) -> bool:
    """Send one notification's e-mail; one already sent is not sent again. The SMTP exchange
    happens outside any transaction (on SQLite a transaction holds the write lock); a crash
    between sending and recording may send it twice, never zero times."""
    from django.conf import settings
    from django.core.mail import send_mail

    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None or notification.emailed_at or not notification.emailed_to:
        return False
    body = notification.body
    if notification.url:
        body = f"{body}\n\n{settings.THUDO_PUBLIC_URL}{notification.url}"
    send_mail(
        subject=notification.title,
        message=body,
        from_email=None,
        recipient_list=[notification.emailed_to],
    )
    Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    return True


def notification_mark_read(*, user: Any, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all when `ids` is None)."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
