"""Figures for the agriculture department's view and the dashboards' indicators.

Every function is a handful of aggregate queries whatever the number of producers, products
or scans (grouped in the database, ward names joined from core.AdminUnit in one more query).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from thudo.core.models import AdminUnit

from .models import Batch, Producer, Product, Recall, ScanDay

STARS = (3, 4, 5)
STALE_DAYS = 30
SCAN_DAYS = 30


@dataclass
class WardRow:
    ward_id: int
    ward: str
    producers: int = 0
    products: int = 0
    ocop: int = 0
    ocop3: int = 0
    ocop4: int = 0
    ocop5: int = 0
    scans: int = 0


@dataclass
class Totals:
    producers: int
    products: int
    ocop: dict[int, int]
    scans: int
    active_recalls: int
    lifted_recalls: int
    stale_batches: int

    @property
    def ocop_products(self) -> int:
        return sum(self.ocop.values())


def scan_window(days: int = SCAN_DAYS, today: date | None = None) -> tuple[date, date]:
    """[first day, last day] of the last `days` days, today included (local dates)."""
    last = today or timezone.localdate()
    return last - timedelta(days=days - 1), last


def _ocop_counts() -> dict[str, Count]:
    return {f"ocop{s}": Count("id", filter=Q(ocop_stars=s)) for s in STARS}


def ward_table(*, today: date | None = None) -> list[WardRow]:
    """Producers, products, OCOP products by stars and scans in the last 30 days, per ward
    (the producer's ward), busiest first. Four queries."""
    rows: dict[int, WardRow] = {}

    def row(ward_id: int) -> WardRow:
        if ward_id not in rows:
            rows[ward_id] = WardRow(ward_id=ward_id, ward="")
        return rows[ward_id]

    for item in Producer.objects.filter(is_active=True).values("ward_id").annotate(n=Count("id")):
        row(item["ward_id"]).producers = item["n"]
    for item in (
        Product.objects.filter(is_active=True)
        .values("producer__ward_id")
        .annotate(n=Count("id"), **_ocop_counts())
    ):
        r = row(item["producer__ward_id"])
        r.products = item["n"]
        r.ocop3, r.ocop4, r.ocop5 = item["ocop3"], item["ocop4"], item["ocop5"]
        r.ocop = r.ocop3 + r.ocop4 + r.ocop5
    first, last = scan_window(today=today)
    for item in (
        ScanDay.objects.filter(day__gte=first, day__lte=last)
        .values("product__producer__ward_id")
        .annotate(n=Sum("count"))
    ):
        row(item["product__producer__ward_id"]).scans = item["n"] or 0
    names = dict(AdminUnit.objects.filter(pk__in=list(rows)).values_list("pk", "name"))
    for r in rows.values():
        r.ward = names.get(r.ward_id, "")
    return sorted(rows.values(), key=lambda r: (-r.producers, -r.products, r.ward))


def ocop_counts() -> dict[int, int]:
    """Active OCOP products by stars: {3: n, 4: n, 5: n}."""
    found = Product.objects.filter(is_active=True).aggregate(**_ocop_counts())
    return {s: found[f"ocop{s}"] or 0 for s in STARS}


@dataclass
class ProductScans:
    product: Product
    scans: int


def top_scanned(*, limit: int = 20, today: date | None = None) -> list[ProductScans]:
    """The most scanned products in the last 30 days (two queries)."""
    first, last = scan_window(today=today)
    ranked = list(
        ScanDay.objects.filter(day__gte=first, day__lte=last)
        .values("product_id")
        .annotate(n=Sum("count"))
        .order_by("-n", "product_id")[:limit]
    )
    products = Product.objects.select_related("producer").in_bulk([r["product_id"] for r in ranked])
    return [ProductScans(products[r["product_id"]], r["n"] or 0) for r in ranked]


def scans_total(*, first: date, last: date) -> int:
    found = ScanDay.objects.filter(day__gte=first, day__lte=last).aggregate(n=Sum("count"))
    return int(found["n"] or 0)


def stale_batches(*, now: datetime | None = None, days: int = STALE_DAYS) -> QuerySet[Batch]:
    """Batches with no event for `days` days: their last event is older, or they never had one
    and were registered before then. Oldest first."""
    since = (now or timezone.now()) - timedelta(days=days)
    return (
        Batch.objects.filter(
            Q(last_event_at__lt=since) | Q(last_event_at__isnull=True, created_at__lt=since)
        )
        .select_related("product", "product__producer")
        .order_by("last_event_at", "created_at", "pk")
    )


def recalls(*, active: bool) -> QuerySet[Recall]:
    found = Recall.objects.filter(lifted_at__isnull=active)
    return (
        found.select_related("batch", "batch__product", "agency")
        .annotate(flagged=Count("flags"))
        .order_by("-lifted_at" if not active else "-decided_at", "-pk")
    )


def totals(*, now: datetime | None = None) -> Totals:
    now = now or timezone.now()
    first, last = scan_window(today=timezone.localdate(now))
    recall_counts = Recall.objects.aggregate(
        active=Count("id", filter=Q(lifted_at__isnull=True)),
        lifted=Count("id", filter=Q(lifted_at__isnull=False)),
    )
    return Totals(
        producers=Producer.objects.filter(is_active=True).count(),
        products=Product.objects.filter(is_active=True).count(),
        ocop=ocop_counts(),
        scans=scans_total(first=first, last=last),
        active_recalls=recall_counts["active"] or 0,
        lifted_recalls=recall_counts["lifted"] or 0,
        stale_batches=stale_batches(now=now).count(),
    )
