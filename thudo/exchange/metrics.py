"""Operations figures of this node: call counts, errors by code and latency per service and side.

Both the Prometheus endpoint and the operations page compute them from the Message table, so
every process of the node (any number of gunicorn workers) reports the same numbers, and the
counters only grow (messages are never deleted). Side "jti" rows (used client-assertion ids)
are not exchanges and are left out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from .models import Message

# Seconds. Exchanges inside one process take milliseconds; across nodes tens of milliseconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIDES = (Message.Side.CLIENT, Message.Side.PROVIDER)


def _finished() -> Any:
    return Message.objects.filter(side__in=SIDES, status__isnull=False)


class ExchangeCollector(Collector):
    """Reads the Message table at each scrape."""

    def collect(self) -> Iterator[Any]:
        calls = CounterMetricFamily(
            "thudo_exchange_calls",
            "Finished exchanges on this node, by service and side (errors included).",
            labels=["service", "side"],
        )
        errors = CounterMetricFamily(
            "thudo_exchange_errors",
            "Exchanges that ended with a protocol error, by service, side and error code.",
            labels=["service", "side", "code"],
        )
        latency = HistogramMetricFamily(
            "thudo_exchange_duration_seconds",
            "Time this node spent on an exchange, from receiving it to answering.",
            labels=["service", "side"],
        )
        bucket_counts = {
            f"le{i}": Count("pk", filter=Q(duration_ms__lte=b * 1000))
            for i, b in enumerate(BUCKETS)
        }
        rows = (
            _finished()
            .values("service", "side")
            .annotate(total=Count("pk"), seconds=Sum("duration_ms"), **bucket_counts)
            .order_by("service", "side")
        )
        for row in rows:
            labels = [row["service"], row["side"]]
            calls.add_metric(labels, row["total"])
            buckets = [(_le(b), row[f"le{i}"]) for i, b in enumerate(BUCKETS)]
            buckets.append(("+Inf", row["total"]))
            latency.add_metric(labels, buckets, (row["seconds"] or 0.0) / 1000)
        for row in (
            _finished()
            .exclude(error_code="")
            .values("service", "side", "error_code")
            .annotate(total=Count("pk"))
            .order_by("service", "side", "error_code")
        ):
            errors.add_metric([row["service"], row["side"], row["error_code"]], row["total"])
        yield calls
        yield errors
        yield latency


def _le(bound: float) -> str:
    return repr(float(bound))


def prometheus_text() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExchangeCollector())
    return generate_latest(registry)


@dataclass
class ServiceStats:
    service: str
    side: str
    calls: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())

    @property
    def errors_sorted(self) -> list[tuple[str, int]]:
        return sorted(self.errors.items(), key=lambda kv: (-kv[1], kv[0]))


def percentile(sorted_values: list[float], share: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def service_stats(*, hours: int = 24, now: datetime | None = None) -> list[ServiceStats]:
    """Per service and side over the last `hours`: calls, errors by code, p50 and p95 latency."""
    since = (now or timezone.now()) - timedelta(hours=hours)
    rows = _finished().filter(started_at__gte=since)
    stats: dict[tuple[str, str], ServiceStats] = {}

    def get(service: str, side: str) -> ServiceStats:
        key = (service, side)
        if key not in stats:
            stats[key] = ServiceStats(service=service, side=side)
        return stats[key]

    for row in rows.values("service", "side").annotate(n=Count("pk")):
        get(row["service"], row["side"]).calls = row["n"]
    for row in (
        rows.exclude(error_code="").values("service", "side", "error_code").annotate(n=Count("pk"))
    ):
        get(row["service"], row["side"]).errors[row["error_code"]] = row["n"]
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    values: Iterable[tuple[str, str, float]] = (
        rows.filter(duration_ms__isnull=False)
        .order_by("duration_ms")
        .values_list("service", "side", "duration_ms")
        .iterator(chunk_size=5000)
    )
    for service, side, ms in values:
        durations[(service, side)].append(ms)
    for key, items in durations.items():
        get(*key).p50_ms = percentile(items, 0.5)
        get(*key).p95_ms = percentile(items, 0.95)
    return sorted(stats.values(), key=lambda s: (s.service, s.side))
