"""The data exchange's entries in the registry."""

from datetime import timedelta

from thudo.core.registry import DemoStep, Manifest, PeriodicJob, registry

from .tracker import TRACKER_MENU
from .views_protocol import PROTOCOL_MENU


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="exchange",
        menu=[*PROTOCOL_MENU, *TRACKER_MENU],
        demo=[DemoStep("exchange", _demo, order=84)],
        periodic=[
            PeriodicJob(
                "exchange: publish a signed tree head of the log",
                "thudo.exchange.tasks.sign_tree_head",
                timedelta(minutes=1),
            ),
        ],
    )
)
