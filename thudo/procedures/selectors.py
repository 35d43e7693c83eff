"""Reads of the procedure catalog (public: anyone may read the catalog)."""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.signals import post_delete, post_save

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
    """The latest published version; publishes the first one when there is none.

    One query for the latest version's id; the version itself (its spec) comes from the
    per-process cache (`procedure_version_by_id`)."""
    version_id = procedure.versions.order_by("-number").values_list("pk", flat=True).first()
    if version_id is None:
        from .services import procedure_publish

        return procedure_publish(procedure=procedure)
    return procedure_version_by_id(version_id)


# --- Published versions, kept per process ---------------------------------------------------
# A ProcedureVersion is an immutable snapshot: publishing makes a new row, nothing edits one.
# So a version read once by id can be shared by every request of the process (treat it as
# read-only). A row saved or deleted anyway (the admin, a test database reusing ids) is
# dropped from this process's cache by the signals below.

_VERSIONS: dict[int, ProcedureVersion] = {}
_VERSIONS_MAX = 2048
_versions_lock = threading.Lock()


def procedure_version_by_id(version_id: int) -> ProcedureVersion:
    """The published version `version_id` (DoesNotExist if none), from the process's cache."""
    version = _VERSIONS.get(version_id)
    if version is None:
        version = ProcedureVersion.objects.get(pk=version_id)
        with _versions_lock:
            if len(_VERSIONS) >= _VERSIONS_MAX:
                _VERSIONS.clear()
            _VERSIONS[version_id] = version
    return version


def procedure_versions_forget(version_id: int | None = None) -> None:
    """Drop one version (or all) from this process's cache."""
    with _versions_lock:
        if version_id is None:
            _VERSIONS.clear()
        else:
            _VERSIONS.pop(version_id, None)


def _version_changed(sender: Any, instance: ProcedureVersion, **kwargs: Any) -> None:
    if instance.pk is not None:
        procedure_versions_forget(instance.pk)


post_save.connect(
    _version_changed, sender=ProcedureVersion, dispatch_uid="procedures.version_saved"
)
post_delete.connect(
    _version_changed, sender=ProcedureVersion, dispatch_uid="procedures.version_deleted"
)


def procedure_with_current_version(*, code: str) -> tuple[Procedure, ProcedureVersion]:
    """The procedure by code and its current version, in one statement (the latest version's
    id as a subquery, written out: the ORM's equivalent costs more to build than to run, and
    every submission makes it); the version from the process's cache. NotFound for an unknown
    code."""
    qn = connection.ops.quote_name
    versions = qn(ProcedureVersion._meta.db_table)
    found = list(
        Procedure.objects.raw(
            f"SELECT p.*, (SELECT v.{qn('id')} FROM {versions} v "  # noqa: S608
            f"WHERE v.{qn('procedure_id')} = p.{qn('id')} ORDER BY v.{qn('number')} DESC "
            f"LIMIT 1) AS current_version_id FROM {qn(Procedure._meta.db_table)} p "
            f"WHERE p.{qn('code')} = %s",
            [code],
        )
    )
    if not found:
        raise NotFound()
    procedure = found[0]
    version_id = getattr(procedure, "current_version_id", None)
    if version_id is None:
        return procedure, procedure_current_version(procedure)  # publishes the first one
    return procedure, procedure_version_by_id(int(version_id))


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
