"""The registries domain's entries in the registry."""

from thudo.core.registry import DemoStep, Manifest, registry


def _demo(stdout=None) -> None:  # type: ignore[no-untyped-def]
    from .demo import demo_load

    demo_load(stdout=stdout)


registry.register(Manifest(app_label="registries", demo=[DemoStep("registries", _demo, order=85)]))
