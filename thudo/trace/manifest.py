"""The traceability domain's entries in the registry."""

from datetime import timedelta

from thudo.core.registry import DemoStep, Manifest, PeriodicJob, registry

from .indicators import INDICATORS
from .menus import CITIZEN_MENU
from .menus_official import OFFICIAL_MENU


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


def _demo_officer(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo_official import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="trace",
        menu=[*CITIZEN_MENU, *OFFICIAL_MENU],
        indicators=INDICATORS,
        demo=[
            DemoStep("trace", _demo, order=90),
            DemoStep("trace officer", _demo_officer, order=91),
        ],
        periodic=[
            PeriodicJob(
                "trace: sign every batch's moved event chain (anchor)",
                "thudo.trace.tasks.anchor",
                timedelta(hours=1),
            ),
        ],
    )
)
