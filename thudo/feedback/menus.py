"""The residents' menu entries of the feedback domain (the manifest registers them)."""

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import MenuEntry

CITIZEN_MENU = [
    MenuEntry(_("Report a problem"), "feedback:report", "citizen", icon="chat", order=30),
    MenuEntry(_("City reports"), "feedback:map", "citizen", icon="map", order=32),
    MenuEntry(_("My reports"), "feedback:mine", "citizen", icon="user", order=34),
]
