"""This domain's entries in the registry."""

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import Manifest, MenuEntry, registry

registry.register(
    Manifest(
        app_label="web",
        menu=[
            MenuEntry(
                label=_("Home"), url_name="web:home", audience="citizen", icon="home", order=0
            ),
            MenuEntry(
                label=_("Workspace"),
                url_name="web:workspace",
                audience="official",
                icon="briefcase",
                order=0,
            ),
            MenuEntry(
                label=_("Dashboard"),
                url_name="web:dashboard",
                audience="leader",
                icon="chart",
                order=0,
            ),
        ],
    )
)
