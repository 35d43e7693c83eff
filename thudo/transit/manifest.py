"""The transit domain's entries in the registry: menus, periodic jobs, indicators, demo steps."""

from datetime import timedelta

from thudo.core.registry import DemoStep, Manifest, PeriodicJob, registry

from .menus import RIDER_MENU
from .menus_official import OFFICIAL_MENU


def _demo_network(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


def _demo_history(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo_history import demo_load

    demo_load(stdout=stdout)


def _demo_operator(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo_official import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="transit",
        menu=[*RIDER_MENU, *OFFICIAL_MENU],
        demo=[
            DemoStep("transit network and fleet", _demo_network, order=92),
            DemoStep("transit travel-time history", _demo_history, order=93),
            DemoStep("transit operator", _demo_operator, order=94),
        ],
        periodic=[
            PeriodicJob(
                "transit: withdraw the predictions of buses that stopped reporting (ghosts)",
                "thudo.transit.tasks.sweep_ghosts",
                timedelta(seconds=30),
            ),
            PeriodicJob(
                "transit: drop stored positions older than 30 days",
                "thudo.transit.tasks.prune_positions",
                timedelta(days=1),
            ),
        ],
    )
)
