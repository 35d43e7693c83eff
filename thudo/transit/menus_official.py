"""The operator's menu entry of transit (the manifest registers it)."""

from django.utils.translation import gettext_lazy as _

from thudo.accounts.roles import Perm
from thudo.core.registry import MenuEntry

OFFICIAL_MENU = [
    MenuEntry(
        _("Bus operations"),
        "transit_official:control",
        "official",
        icon="bus",
        order=55,
        permission=Perm.TRANSIT_OPERATE,
    ),
]
