"""The monitoring domain's menu entries (the manifest registers them): the programme's dashboard
for leaders, reporting and reviewing for the monitoring officers."""

from django.utils.translation import gettext_lazy as _

from thudo.accounts.roles import Perm
from thudo.core.registry import MenuEntry

LEADER_MENU = [
    MenuEntry(
        _("Programme monitoring"),
        "monitoring:overview",
        "leader",
        icon="chart",
        order=40,
        permission=Perm.DASHBOARD_VIEW,
    ),
]

OFFICIAL_MENU = [
    MenuEntry(
        _("Report indicators"),
        "monitoring:report",
        "official",
        icon="file",
        order=60,
        permission=Perm.MONITORING_REPORT,
    ),
    MenuEntry(
        _("Review reported values"),
        "monitoring:review",
        "official",
        icon="shield",
        order=61,
        permission=Perm.MONITORING_REPORT,
    ),
]

MENU = [*LEADER_MENU, *OFFICIAL_MENU]
