"""The feedback domain's entries in the registry."""

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
        app_label="feedback",
        api=[ApiMount("feedback/", "thudo.feedback.api.router")],
        menu=[*CITIZEN_MENU, *OFFICIAL_MENU],
        indicators=INDICATORS,
        demo=[DemoStep("feedback", _demo, order=70)],
        periodic=[
            PeriodicJob(
                "feedback: send breached deadlines to the units' leaders",
                "thudo.feedback.tasks.escalate_breaches",
                timedelta(minutes=15),
            ),
            PeriodicJob(
                "feedback: close answered reports nobody rated",
                "thudo.feedback.tasks.auto_close",
                timedelta(hours=1),
            ),
            PeriodicJob(
                "feedback: remove orphaned photos and videos",
                "thudo.feedback.tasks.sweep_orphan_media",
                timedelta(hours=6),
            ),
        ],
    )
)
