"""Notify a user in the app and, when they have an address, by e-mail after commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.audit import audit_record
from thudo.core.errors import PermissionDenied, ValidationFailed
from thudo.core.models import AdminUnit
from thudo.core.tasks import enqueue_on_commit
from thudo.core.units import province_code

from .models import CityAlert, Notification


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


# --- City news and alerts ------------------------------------------------------------------

ALERT_BATCH = 1000
"""Notification rows are inserted, and e-mails sent, this many at a time."""

ALERT_TITLE_MAX = 200
ALERT_BODY_MAX = 5000


def alert_units() -> QuerySet[AdminUnit]:
    """The city's wards and communes (the units an alert may go to)."""
    city = province_code(int(settings.THUDO_CITY["PROVINCE_CODE"]))
    return AdminUnit.objects.filter(level=AdminUnit.Level.COMMUNE, parent__code=city)


def alert_send(
    *, sender: Any, level: str, title: str, body: str, unit_codes: Sequence[str]
) -> CityAlert:
    """Send news or an urgent alert to every active user living in the chosen wards.

    One transaction: the alert, one in-app notification per resident (inserted in batches of
    ALERT_BATCH), the recipients' count and an audit row. Once it commits, the residents with
    an e-mail address are written to by background tasks, ALERT_BATCH addresses each; an urgent
    alert's subject starts with "[Khẩn]". The text is the city's own (in Vietnamese), so only
    the prefix is translated.
    """
    if not can(sender, Perm.ALERT_SEND):
        raise PermissionDenied(_("You may not send city alerts."))
    title = " ".join((title or "").split())
    body = (body or "").strip()
    codes = list(dict.fromkeys(str(c).strip() for c in unit_codes or () if str(c).strip()))
    errors: dict[str, Any] = {}
    if level not in CityAlert.Level.values:
        errors["level"] = _("Choose news or urgent alert.")
    if not title:
        errors["title"] = _("Enter a title.")
    elif len(title) > ALERT_TITLE_MAX:
        errors["title"] = _("The title is too long (at most 200 characters).")
    if not body:
        errors["body"] = _("Enter the text of the alert.")
    elif len(body) > ALERT_BODY_MAX:
        errors["body"] = _("The text is too long (at most 5000 characters).")
    units = list(alert_units().filter(code__in=codes)) if codes else []
    if not codes:
        errors["unit_codes"] = _("Choose at least one ward or commune.")
    else:
        unknown = sorted(set(codes) - {u.code for u in units})
        if unknown:
            errors["unit_codes"] = _("Unknown ward or commune: {codes}.").format(
                codes=", ".join(unknown)
            )
    if errors:
        raise ValidationFailed(fields=errors)

    if level == CityAlert.Level.URGENT:
        with translation.override("vi"):
            subject = "{prefix} {title}".format(prefix=gettext("[Urgent]"), title=title)
    else:
        subject = title
    subject = subject[:ALERT_TITLE_MAX]

    users = (
        get_user_model()
        .objects.filter(is_active=True, home_unit__in=[u.pk for u in units])
        .order_by("pk")
        .values_list("pk", "email")
    )
    with transaction.atomic():
        alert = CityAlert.objects.create(level=level, title=title, body=body, created_by=sender)
        alert.units.set(units)
        now = timezone.now()
        count = 0
        batch: list[Notification] = []
        to_email: list[list[int]] = []

        def flush() -> None:
            created = Notification.objects.bulk_create(batch)
            ids = [n.pk for n in created if n.emailed_to]
            if ids:
                to_email.append(ids)
            batch.clear()

        for user_id, email in users.iterator(chunk_size=ALERT_BATCH):
            batch.append(
                Notification(
                    user_id=user_id, title=subject, body=body, created_at=now, emailed_to=email
                )
            )
            count += 1
            if len(batch) >= ALERT_BATCH:
                flush()
        if batch:
            flush()
        alert.recipients = count
        alert.save(update_fields=["recipients"])
        audit_record(
            actor=sender,
            action="alert.send",
            obj=alert,
            data={"level": level, "units": [u.code for u in units], "recipients": count},
        )
        from .tasks import send_alert_emails

        for ids in to_email:
            enqueue_on_commit(send_alert_emails, ids)
    return alert


def alert_emails_send(*, notification_ids: Sequence[int]) -> int:
    """E-mail a batch of an alert's notifications over one SMTP connection; those already
    sent are skipped. Each sent one is marked, even when a later one fails (the task retries
    the rest), so a resident gets the alert once, never zero times."""
    pending = list(
        Notification.objects.filter(pk__in=list(notification_ids), emailed_at__isnull=True).exclude(
            emailed_to=""
        )
    )
    if not pending:
        return 0
    sent: list[int] = []
    try:
        with get_connection() as connection:
            for notification in pending:
                message = EmailMessage(
                    subject=notification.title,
                    body=notification.body,
                    to=[notification.emailed_to],
                    connection=connection,
                )
                if message.send():
                    sent.append(notification.pk)
    finally:
        if sent:
            Notification.objects.filter(pk__in=sent, emailed_at__isnull=True).update(
                emailed_at=timezone.now()
            )
    return len(sent)
