"""Reads of the procedure catalog (public: anyone may read the catalog)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db.models import Count, Q, QuerySet

from thudo.core.errors import NotFound

from .models import LifeEvent, Procedure, ProcedureVersion, Sector

_NON_WORD = re.compile(r"[^\w]+")


def search_fold(text: str) -> str:
    """Lowercase, without Vietnamese diacritics (đ → d), punctuation as single spaces.

    Both the stored `Procedure.search_text` and the query are folded by this one function, so the
    search behaves the same on SQLite and PostgreSQL without a database `unaccent`."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", bare.lower()).split())


def procedure_search_text(procedure: Procedure) -> str:
    """The folded text a procedure is found by: code, names, sector and life events."""
    parts = [procedure.code, procedure.name, procedure.name_en]
    if procedure.sector_id:
        sector = procedure.sector
        parts += [sector.code, sector.name, sector.name_en]
    if procedure.pk:
        for event in procedure.life_events.all():
            parts += [event.name, event.name_en]
    return search_fold(" ".join(p for p in parts if p))


def _sector_code(sector: Sector | str | None) -> str:
    return sector.code if isinstance(sector, Sector) else (sector or "")


def _event_code(event: LifeEvent | str | None) -> str:
    return event.code if isinstance(event, LifeEvent) else (event or "")


def procedure_search(
    *,
    q: str = "",
    sector: Sector | str | None = None,
    life_event: LifeEvent | str | None = None,
    include_inactive: bool = False,
) -> QuerySet[Procedure]:
    """Procedures matching every word of `q` (with or without diacritics, any case; a word may
    be the beginning of one: "khai s"), in a sector and for a life event (objects or codes)."""
    qs = Procedure.objects.select_related("sector")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    for word in search_fold(q).split():  # every word, as the start of a word
        qs = qs.filter(Q(search_text__istartswith=word) | Q(search_text__icontains=f" {word}"))
    if code := _sector_code(sector):
        qs = qs.filter(sector__code=code)
    if code := _event_code(life_event):
        qs = qs.filter(life_events__code=code)
    return qs


def procedure_get(*, code: str) -> Procedure:
    try:
        return Procedure.objects.select_related("sector").get(code=code)
    except Procedure.DoesNotExist:
        raise NotFound() from None


def procedure_latest_version(procedure: Procedure) -> ProcedureVersion | None:
    return procedure.versions.order_by("-number").first()


def procedure_current_version(procedure: Procedure) -> ProcedureVersion:
    """The latest published version; publishes the first one when there is none."""
    version = procedure_latest_version(procedure)
    if version is None:
        from .services import procedure_publish

        version = procedure_publish(procedure=procedure)
    return version


def procedure_version_get(*, procedure: Procedure, number: int) -> ProcedureVersion:
    try:
        return procedure.versions.get(number=number)
    except ProcedureVersion.DoesNotExist:
        raise NotFound() from None


def sectors_with_counts(*, include_inactive: bool = False) -> QuerySet[Any]:
    """Sectors with `procedure_count` (open procedures only unless include_inactive)."""
    only = Q() if include_inactive else Q(procedures__is_active=True)
    counted = Sector.objects.annotate(procedure_count=Count("procedures", filter=only))
    return counted.order_by("order", "name")  # Meta.ordering is dropped by GROUP BY


def life_events_with_counts(*, include_inactive: bool = False) -> QuerySet[Any]:
    """Life events with `procedure_count` (open procedures only unless include_inactive)."""
    only = Q() if include_inactive else Q(procedures__is_active=True)
    counted = LifeEvent.objects.annotate(procedure_count=Count("procedures", filter=only))
    return counted.order_by("order", "name")
