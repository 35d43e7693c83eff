"""The e-ID domain's entries in the registry."""

from datetime import timedelta

from thudo.core.registry import DemoStep, Manifest, PeriodicJob, registry


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


registry.register(
    Manifest(
        app_label="eid",
        demo=[DemoStep("eid", _demo, order=86)],
        periodic=[
            PeriodicJob(
                "eid: clear expired codes and tokens",
                "thudo.eid.tasks.clear_expired_tokens",
                timedelta(hours=1),
            )
        ],
    )
)
