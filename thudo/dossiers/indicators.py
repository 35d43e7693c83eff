"""The public services' indicators for the leaders' dashboard (registered by manifest.py).

The figures of this year for the whole city; one aggregate query each, cached briefly so the
dashboard's refresh every minute does not recount a million dossiers four times.
"""

from __future__ import annotations

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.registry import Indicator

from .index import IndexFigures, service_index, this_year

CACHE_SECONDS = 60


def _this_year() -> IndexFigures:
    start, end = this_year()
    key = f"dossiers:indicators:{start.year}"
    figures = cache.get(key)
    if figures is None:
        figures = service_index(start=start, end=end, now=timezone.now())
        cache.set(key, figures, CACHE_SECONDS)
    return figures


def on_time_rate() -> float | None:
    return _this_year().on_time_rate


def online_rate() -> float | None:
    return _this_year().online_rate


def overdue_now() -> int:
    return _this_year().overdue


def satisfaction() -> float | None:
    return _this_year().satisfaction


INDICATORS = [
    Indicator("dossiers.on_time_rate", _("Dossiers settled on time this year"), on_time_rate, "%"),
    Indicator("dossiers.online_rate", _("Dossiers submitted online this year"), online_rate, "%"),
    Indicator("dossiers.overdue", _("Dossiers overdue now"), overdue_now),
    Indicator("dossiers.satisfaction", _("Satisfaction this year (out of 100)"), satisfaction),
]
