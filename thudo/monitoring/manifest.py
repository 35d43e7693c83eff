"""The monitoring domain's entries in the registry."""

from datetime import timedelta

from thudo.core.registry import ApiMount, DemoStep, Manifest, PeriodicJob, registry

from .menus import MENU


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="monitoring",
        api=[ApiMount("monitoring/", "thudo.monitoring.api.router")],
        menu=MENU,
        demo=[DemoStep("monitoring", _demo, order=80)],
        periodic=[
            PeriodicJob(
                "monitoring: today's snapshot of every indicator, targets evaluated",
                "thudo.monitoring.tasks.take_snapshots",
                timedelta(hours=24),
            ),
            PeriodicJob(
                "monitoring: remind agencies before tasks and reports are due, escalate late ones",
                "thudo.monitoring.tasks.send_reminders",
                timedelta(hours=24),
            ),
        ],
    )
)
