"""EPCIS 2.0 JSON-LD out: single events, EPCISDocument and EPCISQueryDocument.

A stored event is served exactly as stored, plus two things outside its hash: ``recordTime``
(when we recorded it) and, when later events correct it, EPCIS 2.0's ``errorDeclaration`` with
their ids in ``correctiveEventIDs`` (reason from the correction's ``thudo:correctionReason``,
default ``incorrect_data``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from thudo.trace.models import Event

from . import hashing
from .validate import EPCIS_CONTEXT, standard_context

SCHEMA_VERSION = "2.0"
QUERY_NAME = "SimpleEventQuery"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _corrections(events: list[Event]) -> dict[int, list[tuple[str, datetime, str]]]:
    found: dict[int, list[tuple[str, datetime, str]]] = defaultdict(list)
    ids = [e.pk for e in events]
    if not ids:
        return found
    rows = Event.objects.filter(corrects_id__in=ids).order_by("record_time", "pk")
    for corrects_id, event_id, recorded, document in rows.values_list(
        "corrects_id", "event_id", "record_time", "document"
    ):
        reason = document.get("thudo:correctionReason") if isinstance(document, dict) else None
        found[corrects_id].append((event_id, recorded, reason or "incorrect_data"))
    return found


def event_json(
    event: Event,
    corrections: list[tuple[str, datetime, str]] | None = None,
    *,
    with_context: bool = True,
) -> dict[str, Any]:
    """One stored event as served (with @context unless it goes inside a document)."""
    document = dict(event.document)
    context = document.pop("@context", None)
    out: dict[str, Any] = {"@context": context or standard_context()} if with_context else {}
    out.update(document)
    out["recordTime"] = iso(event.record_time)
    if corrections:
        declaration = dict(out.get("errorDeclaration") or {})
        declaration.setdefault("declarationTime", iso(corrections[0][1]))
        declaration.setdefault("reason", corrections[0][2])
        ids = list(declaration.get("correctiveEventIDs") or [])
        ids.extend(c[0] for c in corrections if c[0] not in ids)
        declaration["correctiveEventIDs"] = ids
        out["errorDeclaration"] = declaration
    return out


def single_event(event: Event) -> dict[str, Any]:
    """One event as a standalone JSON-LD object (GET /epcis/events/<id>)."""
    return event_json(event, _corrections([event]).get(event.pk))


def _merged_context(events: list[Event]) -> list[Any]:
    prefixes: dict[str, str] = {}
    for event in events:
        context = event.document.get("@context") if isinstance(event.document, Mapping) else None
        prefixes.update(hashing.context_prefixes(context))
    return standard_context(prefixes)


def _event_list(events: list[Event]) -> list[dict[str, Any]]:
    corrections = _corrections(events)
    return [event_json(e, corrections.get(e.pk), with_context=False) for e in events]


def epcis_document(events: Iterable[Event]) -> dict[str, Any]:
    """An EPCISDocument (as a capture client would send) holding these events."""
    events = list(events)
    return {
        "@context": _merged_context(events),
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": iso(timezone.now()),
        "epcisBody": {"eventList": _event_list(events)},
    }


def query_document(events: Iterable[Event], *, query_name: str = QUERY_NAME) -> dict[str, Any]:
    """An EPCISQueryDocument with these events as the results of `query_name`."""
    events = list(events)
    return {
        "@context": _merged_context(events),
        "type": "EPCISQueryDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": iso(timezone.now()),
        "epcisBody": {
            "queryResults": {
                "queryName": query_name,
                "resultsBody": {"eventList": _event_list(events)},
            }
        },
    }


__all__ = [
    "EPCIS_CONTEXT",
    "epcis_document",
    "event_json",
    "iso",
    "query_document",
    "single_event",
]
