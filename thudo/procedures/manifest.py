"""The procedures domain's entries in the registry."""

from django.utils.translation import gettext_lazy as _

from thudo.core.registry import ApiMount, DemoStep, Manifest, MenuEntry, registry

from . import services  # noqa: F401 — connects the search-text signals


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="procedures",
        api=[ApiMount("procedures/", "thudo.procedures.api.router")],
        menu=[
            MenuEntry(
                _("Public services"), "procedures:list", "citizen", icon="briefcase", order=10
            ),
        ],
        demo=[DemoStep("procedures", _demo, order=50)],
    )
)
