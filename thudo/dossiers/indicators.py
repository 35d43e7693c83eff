"""The public services' indicators for the leaders' dashboard (registered by manifest.py).

The figures of this year for the whole city; one aggregate query each, cached briefly so the
dashboard's refresh every minute does not recount a million dossiers four times.

Each also answers for a past moment (`compute_at`, monitoring's daily snapshots and their
history): the figures of the local year containing the moment, from 1 January to the moment's
day, with the dossiers open and overdue as they stood at that moment. Not cached.
"""

from __future__ import annotations

from datetime import date, datetime

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


def _year_to(moment: datetime) -> IndexFigures:
    """The figures of the local year containing `moment`, up to that moment."""
    day = timezone.localdate(moment)
    return service_index(start=date(day.year, 1, 1), end=day, now=moment)


def on_time_rate() -> float | None:
    return _this_year().on_time_rate


def online_rate() -> float | None:
    return _this_year().online_rate


def overdue_now() -> int:
    return _this_year().overdue


def satisfaction() -> float | None:
    return _this_year().satisfaction


def digitisation_rate() -> float | None:
    return _this_year().digitisation_rate


def on_time_rate_at(moment: datetime) -> float | None:
    return _year_to(moment).on_time_rate


def online_rate_at(moment: datetime) -> float | None:
    return _year_to(moment).online_rate


def overdue_at(moment: datetime) -> int:
    return _year_to(moment).overdue


def satisfaction_at(moment: datetime) -> float | None:
    return _year_to(moment).satisfaction


def digitisation_rate_at(moment: datetime) -> float | None:
    return _year_to(moment).digitisation_rate


INDICATORS = [
    Indicator(
        "dossiers.on_time_rate",
        _("Dossiers settled on time this year"),
        on_time_rate,
        "%",
        compute_at=on_time_rate_at,
    ),
    Indicator(
        "dossiers.online_rate",
        _("Dossiers submitted online this year"),
        online_rate,
        "%",
        compute_at=online_rate_at,
    ),
    Indicator("dossiers.overdue", _("Dossiers overdue now"), overdue_now, compute_at=overdue_at),
    Indicator(
        "dossiers.satisfaction",
        _("Satisfaction this year (out of 100)"),
        satisfaction,
        compute_at=satisfaction_at,
    ),
    Indicator(
        "dossiers.digitisation_rate",
        _("Dossiers with papers and results stored digitally this year"),
        digitisation_rate,
        "%",
        compute_at=digitisation_rate_at,
    ),
]
