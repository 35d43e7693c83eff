"""The citizen's menu entries of the dossiers domain (the manifest registers them)."""

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import MenuEntry

CITIZEN_MENU = [
    MenuEntry(_("My dossiers"), "dossiers:mine", "citizen", icon="briefcase", order=20),
    MenuEntry(_("Look up a dossier"), "dossiers:lookup", "citizen", icon="search", order=25),
]
