"""The officials' menu entry of traceability (the manifest registers it)."""

from django.utils.translation import gettext_lazy as _

from thudo.accounts.roles import Perm
from thudo.core.registry import MenuEntry

OFFICIAL_MENU = [
    MenuEntry(
        _("Food traceability"),
        "trace_official:overview",
        "official",
        icon="leaf",
        order=50,
        permission=Perm.TRACE_VIEW,
    ),
]
