"""The residents' menu entry of the traceability domain (the manifest registers it)."""

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import MenuEntry

CITIZEN_MENU = [
    MenuEntry(_("Traceability for producers"), "trace:home", "citizen", icon="leaf", order=60),
]
