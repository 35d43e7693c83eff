"""In-app notifications; each may also go out by e-mail (after the write commits)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_to = models.EmailField(_("e-mailed to"), blank=True)
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.title


class CityAlert(models.Model):
    """News or an urgent alert the city sends to the residents of chosen wards."""

    class Level(models.TextChoices):
        NEWS = "news", _("News")
        URGENT = "urgent", _("Urgent alert")

    level = models.CharField(_("kind"), max_length=6, choices=Level.choices, default=Level.NEWS)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    units = models.ManyToManyField(
        "core.AdminUnit", related_name="+", verbose_name=_("wards / communes")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    recipients = models.PositiveIntegerField(_("recipients"), default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("city alert")
        verbose_name_plural = _("city alerts")

    def __str__(self) -> str:
        return self.title
