from celery import shared_task

from .services import notification_email_send


@shared_task(
    name="thudo.notifications.tasks.send_notification_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_notification_email(notification_id: int) -> bool:
    return notification_email_send(notification_id=notification_id)


@shared_task(
    name="thudo.notifications.tasks.send_alert_emails",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_alert_emails(notification_ids: list[int]) -> int:
    """One batch of a city alert's e-mails (alert_send queues one task per batch)."""
    from .services import alert_emails_send

    return alert_emails_send(notification_ids=notification_ids)
