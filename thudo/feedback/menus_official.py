"""The officials' menu entries of the feedback domain (the manifest registers them)."""

from django.utils.translation import gettext_lazy as _

from thudo.accounts.roles import Perm
from thudo.core.registry import MenuEntry

OFFICIAL_MENU = [
    MenuEntry(
        _("Reports"),
        "feedback_official:queue",
        "official",
        icon="chat",
        order=30,
        permission=Perm.REPORT_HANDLE,
    ),
    MenuEntry(
        _("Moderation"),
        "feedback_official:mod_queue",
        "official",
        icon="shield",
        order=35,
        permission=Perm.REPORT_MODERATE,
    ),
    MenuEntry(
        _("City alerts"),
        "notifications:alerts",
        "official",
        icon="bell",
        order=36,
        permission=Perm.ALERT_SEND,
    ),
    MenuEntry(
        _("Report statistics"),
        "feedback_official:stats",
        "official",
        icon="chart",
        order=38,
        permission=Perm.DASHBOARD_VIEW,
    ),
]
