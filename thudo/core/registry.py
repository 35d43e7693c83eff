"""Each domain declares its menu entries, indicators, periodic jobs and demo data here.

A domain registers a manifest in its AppConfig.ready(); the shell, the dashboards, the
scheduler and `thudo demo` read the registry, so adding a domain touches no other domain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.functional import Promise

Audience = str  # "citizen" | "official" | "leader"


@dataclass(frozen=True)
class MenuEntry:
    label: str | Promise
    url_name: str
    audience: Audience
    icon: str = ""
    order: int = 100
    permission: str = ""  # accounts permission code the user needs, "" for everyone


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str | Promise
    compute: Callable[[], Any]  # returns a number, or None for "no data"
    unit: str = ""
    # The value as it stood at a moment (the year to that moment), for monitoring's daily
    # snapshots and their history; None when the source can only say "now".
    compute_at: Callable[[datetime], Any] | None = None


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str
    every: timedelta | float


@dataclass(frozen=True)
class DemoStep:
    name: str
    load: Callable[..., Any]  # load(stdout=...) -> None; must be idempotent
    order: int = 100


@dataclass(frozen=True)
class ApiMount:
    prefix: str  # e.g. "core/" -> /api/core/...
    router: str  # dotted path of a ninja Router, imported when the API is built


@dataclass
class Manifest:
    app_label: str
    api: list[ApiMount] = field(default_factory=list)
    menu: list[MenuEntry] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    periodic: list[PeriodicJob] = field(default_factory=list)
    demo: list[DemoStep] = field(default_factory=list)


class Registry:
    def __init__(self) -> None:
        self._manifests: dict[str, Manifest] = {}

    def register(self, manifest: Manifest) -> None:
        self._manifests[manifest.app_label] = manifest

    def manifests(self) -> list[Manifest]:
        return list(self._manifests.values())

    def menu(self, audience: Audience) -> list[MenuEntry]:
        entries = [e for m in self._manifests.values() for e in m.menu if e.audience == audience]
        return sorted(entries, key=lambda e: e.order)

    def indicators(self) -> list[Indicator]:
        return [i for m in self._manifests.values() for i in m.indicators]

    def periodic_jobs(self) -> list[PeriodicJob]:
        return [j for m in self._manifests.values() for j in m.periodic]

    def api_mounts(self) -> list[ApiMount]:
        return [a for m in self._manifests.values() for a in m.api]

    def demo_steps(self) -> list[DemoStep]:
        steps = [s for m in self._manifests.values() for s in m.demo]
        return sorted(steps, key=lambda s: s.order)


registry = Registry()
