"""The riders' menu entry of the transit domain (the manifest registers it)."""

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import MenuEntry

RIDER_MENU = [
    MenuEntry(_("Bus locator"), "transit:home", "citizen", icon="bus", order=36),
]
