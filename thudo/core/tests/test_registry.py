from datetime import timedelta

from thudo.core.registry import (
    DemoStep,
    Indicator,
    Manifest,
    MenuEntry,
    PeriodicJob,
    Registry,
    registry,
)


def test_domains_declare_themselves() -> None:
    labels = {m.app_label for m in registry.manifests()}
    assert {"core", "accounts"} <= labels
    prefixes = {a.prefix for a in registry.api_mounts()}
    assert {"core/", "accounts/"} <= prefixes
    names = [s.name for s in registry.demo_steps()]
    assert names.index("units") < names.index("accounts")


def test_registry_collects_and_orders_entries() -> None:
    r = Registry()
    r.register(
        Manifest(
            "a",
            menu=[MenuEntry("B", "x:b", "citizen", order=20), MenuEntry("O", "x:o", "official")],
            indicators=[Indicator("rate", "Rate", lambda: None)],
            periodic=[PeriodicJob("p", "t.p", timedelta(minutes=5))],
            demo=[DemoStep("late", lambda **_: None, order=50)],
        )
    )
    r.register(
        Manifest(
            "b",
            menu=[MenuEntry("A", "x:a", "citizen", order=10)],
            demo=[DemoStep("early", lambda **_: None, order=5)],
        )
    )
    assert [e.label for e in r.menu("citizen")] == ["A", "B"]
    assert [e.label for e in r.menu("official")] == ["O"]
    assert r.indicators()[0].compute() is None
    assert [j.name for j in r.periodic_jobs()] == ["p"]
    assert [s.name for s in r.demo_steps()] == ["early", "late"]
