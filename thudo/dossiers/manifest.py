"""The dossiers domain's entries in the registry."""

from datetime import timedelta

from thudo.core.registry import ApiMount, DemoStep, Manifest, PeriodicJob, registry

from .indicators import INDICATORS
from .menus import CITIZEN_MENU
from .menus_official import OFFICIAL_MENU


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="dossiers",
        api=[
            ApiMount("dossiers/index", "thudo.dossiers.api_index.index_router"),
            ApiMount("dossiers/", "thudo.dossiers.api.router"),
        ],
        menu=[*CITIZEN_MENU, *OFFICIAL_MENU],
        indicators=INDICATORS,
        demo=[DemoStep("dossiers", _demo, order=60)],
        periodic=[
            PeriodicJob(
                "dossiers: remind before the deadline, escalate overdue dossiers",
                "thudo.dossiers.tasks.remind",
                timedelta(minutes=15),
            ),
            PeriodicJob(
                "dossiers: remove orphaned papers",
                "thudo.dossiers.tasks.sweep_orphan_files",
                timedelta(hours=6),
            ),
        ],
    )
)
