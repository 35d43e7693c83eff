"""The officials' menu entries of the dossiers domain (the manifest registers them)."""

from django.utils.translation import gettext_lazy as _

from thudo.accounts.roles import Perm
from thudo.core.registry import MenuEntry

OFFICIAL_MENU = [
    MenuEntry(
        _("Dossier queue"),
        "dossiers:queue",
        "official",
        icon="briefcase",
        order=20,
        permission=Perm.DOSSIER_VIEW,
    ),
    MenuEntry(
        _("Counter intake"),
        "dossiers:counter",
        "official",
        icon="building",
        order=25,
        permission=Perm.DOSSIER_RECEIVE,
    ),
]
