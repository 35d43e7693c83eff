"""Traceability's indicators for the leaders' dashboards (the manifest registers INDICATORS).

Now: active producers, active OCOP products, label scans in the last 30 days (today included),
recalls in force. Each also answers for a past moment (`compute_at`, monitoring's daily
snapshots): producers and OCOP products registered by then (those deactivated since are left
out: the model keeps no history of that), scans in the 30 days to that day, and recalls decided
by then and not lifted by then. Cached briefly, like the other domains' indicators.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.registry import Indicator

from .models import Producer, Product, Recall
from .stats import scan_window, scans_total

CACHE_SECONDS = 60


def _cached(key: str, compute):  # type: ignore[no-untyped-def]
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def producers_at(moment: datetime) -> int:
    return Producer.objects.filter(is_active=True, created_at__lte=moment).count()


def ocop_products_at(moment: datetime) -> int:
    day = timezone.localdate(moment)
    return (
        Product.objects.filter(is_active=True, created_at__lte=moment, ocop_stars__isnull=False)
        .filter(Q(ocop_decided_on__isnull=True) | Q(ocop_decided_on__lte=day))
        .count()
    )


def scans_30d_at(moment: datetime) -> int:
    first, last = scan_window(today=timezone.localdate(moment))
    return scans_total(first=first, last=last)


def active_recalls_at(moment: datetime) -> int:
    return (
        Recall.objects.filter(decided_at__lte=moment)
        .filter(Q(lifted_at__isnull=True) | Q(lifted_at__gt=moment))
        .count()
    )


def producers() -> int:
    return int(_cached("trace:ind:producers", lambda: producers_at(timezone.now())))


def ocop_products() -> int:
    return int(_cached("trace:ind:ocop", lambda: ocop_products_at(timezone.now())))


def scans_30d() -> int:
    return int(_cached("trace:ind:scans", lambda: scans_30d_at(timezone.now())))


def active_recalls() -> int:
    """Not cached: a recall must show on the dashboards at once."""
    return Recall.objects.filter(lifted_at__isnull=True).count()


INDICATORS = [
    Indicator(
        "trace.producers",
        _("Producers keeping traceability records"),
        producers,
        compute_at=producers_at,
    ),
    Indicator(
        "trace.ocop_products",
        _("OCOP products with traceability"),
        ocop_products,
        compute_at=ocop_products_at,
    ),
    Indicator(
        "trace.scans_30d",
        _("Product QR scans in the last 30 days"),
        scans_30d,
        compute_at=scans_30d_at,
    ),
    Indicator(
        "trace.active_recalls",
        _("Food recalls in force"),
        active_recalls,
        compute_at=active_recalls_at,
    ),
]
