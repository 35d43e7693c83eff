"""EPCIS capture: validate, check permission, give ids, store — all or nothing.

The rules (docs/trace.md):

- **Ids.** Every event's canonical CBV 2.0 hash is computed (hashing.event_hash). Its id is the
  ``eventID`` the capturer supplied, else that hash. A supplied ``ni:///sha-256;…`` id must be
  this event's hash (the CBV 2.0 form, or the draft form GS1's EPCIS 2.0 examples use); any other
  URI (``urn:uuid:…``) is kept as it is.
- **Duplicates.** An event whose id or canonical hash is already stored is a no-op when the
  stored event has the same canonical hash and was recorded by the same producer (so a client
  may safely retry a capture); otherwise the whole capture is refused. An id repeated inside one
  document is an error. (Two events with different supplied ids but equal content are two
  events: we cannot tell them apart from two identical real-world observations.)
- **Permission.** A producer records events about its own goods: an identifier whose GTIN is a
  Product of this producer, or, for a GTIN no producer registered, starts with the producer's GS1
  company prefix. Another producer's goods (or unregistered GTINs outside the prefix) may be
  named only when they were *shipped to this producer*: an earlier stored event names the same
  GTIN (and lot, when given) with one of this producer's places (or its GLN) in its
  destinationList; and even then never as the output of a transformation nor in an ObjectEvent
  with action ADD (creating them). Identifiers without a GTIN (SSCC, GRAI, private URIs) are not
  restricted.
- **Corrections.** Events are immutable. A correction is a new event carrying
  ``"thudo:corrects": "<eventID of the corrected event>"`` (and optionally
  ``"thudo:correctionReason": "incorrect_data" | "did_not_occur"``); the corrected event must be
  this producer's. Queries then show the corrected event with EPCIS 2.0's ``errorDeclaration``
  (``correctiveEventIDs``), which is outside the hash, so the stored event never changes.
- **Chains.** Each event is linked into the hash chain of every local Batch it names (an
  identifier with a GTIN and lot, or an item whose lot is known), in capture order:
  ``chain_hash = sha256(previous chain_hash + canonical event hash)``, the first link's previous
  being the empty string. The batch rows are locked (select_for_update) while their chains grow.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.audit import audit_record
from thudo.trace.identifiers import location_uri
from thudo.trace.models import Batch, Event, EventEpc, EventLink, Producer, Product

from . import hashing
from .validate import (
    EpcisValidationError,
    error_path,
    event_time,
    interpolate,
    parse_epc,
    rendered_errors,
    validate_document,
    validate_events,
)

__all__ = [
    "CaptureResult",
    "EpcisValidationError",
    "capture_document",
    "capture_events",
    "chain_next",
    "error_path",
    "event_identifiers",
    "rendered_errors",
]

CORRECTS = "thudo:corrects"
CORRECTION_REASON = "thudo:correctionReason"

MSG_HASH_MISMATCH = _(
    "is an event hash but not this event's: leave eventID out and we compute it, or send the "
    "CBV 2.0 hash of this event."
)
MSG_REPEATED = _("repeats event %(index)s of this document.")
MSG_ID_TAKEN = _("is already the id of a different event; events cannot be changed.")
MSG_OTHER_PRODUCER = _("This event was already recorded by another producer.")
MSG_NOT_YOURS = _(
    "belongs to another producer (GTIN %(gtin)s): you may record events only for your own "
    "products, or for goods shipped to one of your places."
)
MSG_NOT_YOURS_CREATE = _(
    "belongs to another producer (GTIN %(gtin)s): only its producer may create it."
)
MSG_CORRECTS_MISSING = _("names no recorded event.")
MSG_CORRECTS_OTHER = _("names an event recorded by another producer.")
MSG_CORRECTS_SELF = _("An event cannot correct itself.")

# EventEpc roles (query API) and the EventLink role they give a batch.
EPC_ROLES = {
    "epcList": "epc",
    "quantityList": "quantity",
    "parentID": "parent",
    "childEPCs": "child",
    "childQuantityList": "childQuantity",
    "inputEPCList": "input",
    "inputQuantityList": "inputQuantity",
    "outputEPCList": "output",
    "outputQuantityList": "outputQuantity",
}
LINK_ROLE = {
    "epc": "epc",
    "quantity": "epc",
    "parent": "parent",
    "child": "child",
    "childQuantity": "child",
    "input": "input",
    "inputQuantity": "input",
    "output": "output",
    "outputQuantity": "output",
}
# When a batch appears in several roles of one event, its link takes the first of these.
LINK_PRIORITY = ("input", "output", "parent", "child", "epc")
OUTPUT_ROLES = frozenset({"output", "outputQuantity"})


@dataclass
class CaptureResult:
    capture_id: str
    events: list[Event] = field(default_factory=list)
    duplicates: int = 0  # events already stored (idempotent no-ops), included in `events`


@dataclass(frozen=True)
class Identifier:
    """One identifier an event names, parsed."""

    role: str  # an EventEpc role
    field: str  # where, e.g. "epcList[2]"
    epc: str
    gtin: str = ""
    lot: str = ""
    serial: str = ""


def event_identifiers(event: Mapping[str, Any]) -> list[Identifier]:
    """Every EPC/class an event names, with GTIN/lot/serial parsed (lot from ilmd's
    cbvmda:lotNumber for items commissioned with one), plus its sources and destinations."""
    found: list[Identifier] = []
    raw_ilmd = event.get("ilmd")
    ilmd: Mapping[str, Any] = raw_ilmd if isinstance(raw_ilmd, Mapping) else {}
    ilmd_lot = str(ilmd.get("cbvmda:lotNumber", "") or "")[:20]
    for key, role in EPC_ROLES.items():
        value = event.get(key)
        if value is None:
            continue
        if key == "parentID":
            items: list[tuple[str, str]] = [(key, value)]
        elif key.endswith("QuantityList") or key == "quantityList":
            items = [(f"{key}[{n}].epcClass", q.get("epcClass", "")) for n, q in enumerate(value)]
        else:
            items = [(f"{key}[{n}]", e) for n, e in enumerate(value)]
        for where, uri in items:
            parsed = parse_epc(uri)
            if parsed is None:
                found.append(Identifier(role, where, uri))
                continue
            lot = parsed.lot or (ilmd_lot if parsed.serial and role in ("epc", "output") else "")
            found.append(Identifier(role, where, uri, parsed.gtin, lot, parsed.serial))
    for key, member, role in (
        ("sourceList", "source", "source"),
        ("destinationList", "destination", "destination"),
    ):
        for n, item in enumerate(event.get(key) or []):
            uri = item.get(member)
            if uri:
                canonical = hashing.canonical_epc(uri) or uri
                found.append(Identifier(role, f"{key}[{n}].{member}", canonical[:300]))
    return found


def chain_next(previous: str, event_hash: str) -> str:
    """The next chain hash: sha256(previous chain hash hex + canonical event hash), hex."""
    return hashlib.sha256((previous + event_hash).encode()).hexdigest()


# --- entry points ---------------------------------------------------------------------------


def capture_document(*, document: Any, producer: Producer, user: Any) -> CaptureResult:
    """Capture an EPCISDocument (a dict) for `producer`; all events or none."""
    events = validate_document(document)
    return _capture(events, producer=producer, user=user)


def capture_events(
    *,
    events: list[dict[str, Any]],
    producer: Producer,
    user: Any,
    corrects: Event | None = None,
    context: Any = None,
) -> CaptureResult:
    """Capture a bare list of EPCIS events (the stage forms' way). With `corrects`, every
    event is recorded as a correction of that event."""
    if corrects is not None:
        events = [
            {**e, CORRECTS: e.get(CORRECTS, corrects.event_id)} if isinstance(e, dict) else e
            for e in events
        ]
    normalised = validate_events(events, context=context)
    return _capture(normalised, producer=producer, user=user)


# --- the work -------------------------------------------------------------------------------


@dataclass
class _Prepared:
    index: int
    document: dict[str, Any]
    canonical: str
    event_id: str
    identifiers: list[Identifier]
    moment: datetime
    corrects_id: str = ""
    existing: Event | None = None


def _prepare(events: list[dict[str, Any]]) -> tuple[list[_Prepared], list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    prepared: list[_Prepared] = []
    seen: dict[str, int] = {}
    for index, event in enumerate(events):
        canonical = hashing.event_hash(event)
        supplied = event.get("eventID")
        if (
            supplied
            and hashing.is_event_hash(supplied)
            and supplied not in (canonical, hashing.legacy_event_hash(event))
        ):
            errors.append({"event": index, "field": "eventID", "message": MSG_HASH_MISMATCH})
        event_id = supplied or canonical
        if event_id in seen:
            errors.append(
                {
                    "event": index,
                    "field": "eventID" if supplied else "",
                    "message": interpolate(MSG_REPEATED, index=seen[event_id]),
                }
            )
        seen.setdefault(event_id, index)
        document = {"@context": event["@context"], "type": event["type"], "eventID": event_id}
        document.update((k, v) for k, v in event.items() if k not in document)
        corrects_id = event.get(CORRECTS) or ""
        prepared.append(
            _Prepared(
                index=index,
                document=document,
                canonical=canonical,
                event_id=event_id,
                identifiers=event_identifiers(document),
                moment=event_time(event),
                corrects_id=corrects_id if isinstance(corrects_id, str) else "",
            )
        )
        if corrects_id and corrects_id in (event_id, canonical):
            errors.append({"event": index, "field": CORRECTS, "message": MSG_CORRECTS_SELF})
    return prepared, errors


def _capture(events: list[dict[str, Any]], *, producer: Producer, user: Any) -> CaptureResult:
    prepared, errors = _prepare(events)
    if errors:
        raise EpcisValidationError(errors)
    with transaction.atomic():
        result = _store(prepared, producer=producer, user=user)
    return result


def _store(prepared: list[_Prepared], *, producer: Producer, user: Any) -> CaptureResult:
    errors: list[dict[str, Any]] = []
    _check_duplicates(prepared, producer, errors)
    corrected = _check_corrections(prepared, producer, errors)
    fresh = [p for p in prepared if p.existing is None]
    _resolve_item_lots(fresh)
    _check_permission(fresh, producer, errors)
    if errors:
        raise EpcisValidationError(sorted(errors, key=lambda e: e["event"] or 0))

    capture_id = uuid.uuid4().hex
    if not fresh:
        first = prepared[0].existing
        return CaptureResult(
            capture_id=first.capture_id if first and first.capture_id else capture_id,
            events=[p.existing for p in prepared if p.existing is not None],
            duplicates=len(prepared),
        )
    now = timezone.now()
    captured_by = user if getattr(user, "is_authenticated", False) else None
    rows = [
        Event(
            event_id=p.event_id,
            event_type=p.document["type"],
            action=p.document.get("action", ""),
            event_time=p.moment,
            event_time_zone_offset=p.document.get("eventTimeZoneOffset", "+07:00"),
            record_time=now,
            biz_step=p.document.get("bizStep", ""),
            disposition=p.document.get("disposition", ""),
            read_point=(p.document.get("readPoint") or {}).get("id", ""),
            biz_location=(p.document.get("bizLocation") or {}).get("id", ""),
            producer=producer,
            captured_by=captured_by,
            capture_id=capture_id,
            corrects=corrected.get(p.corrects_id),
            document=p.document,
        )
        for p in fresh
    ]
    created = Event.objects.bulk_create(rows)
    if any(e.pk is None for e in created):  # a backend without RETURNING
        by_id = dict(Event.objects.filter(capture_id=capture_id).values_list("event_id", "pk"))
        for e in created:
            e.pk = by_id[e.event_id]
    EventEpc.objects.bulk_create(
        EventEpc(
            event_id=row.pk,
            role=ident.role,
            epc=ident.epc[:300],
            gtin=ident.gtin,
            lot=ident.lot[:20],
            serial=ident.serial[:20],
        )
        for row, p in zip(created, fresh, strict=True)
        for ident in p.identifiers
    )
    links = _extend_chains(created, fresh)
    audit_record(
        actor=user,
        action="trace.epcis_capture",
        obj=producer,
        to_state="captured",
        data={"capture_id": capture_id, "events": len(created), "links": links},
    )
    by_index = {p.index: row for row, p in zip(created, fresh, strict=True)}
    events = [p.existing if p.existing is not None else by_index[p.index] for p in prepared]
    return CaptureResult(
        capture_id=capture_id, events=events, duplicates=len(prepared) - len(fresh)
    )


def _check_duplicates(prepared: list[_Prepared], producer: Producer, errors: list) -> None:
    keys = {p.event_id for p in prepared} | {p.canonical for p in prepared}
    stored = {e.event_id: e for e in Event.objects.filter(event_id__in=keys)}
    for p in prepared:
        existing = stored.get(p.event_id) or stored.get(p.canonical)
        if existing is None:
            continue
        same = existing.event_id in (p.event_id, p.canonical) and (
            hashing.event_hash(existing.document) == p.canonical
        )
        if not same:
            errors.append({"event": p.index, "field": "eventID", "message": MSG_ID_TAKEN})
        elif existing.producer_id != producer.pk:
            errors.append({"event": p.index, "field": "", "message": MSG_OTHER_PRODUCER})
        else:
            p.existing = existing


def _check_corrections(
    prepared: list[_Prepared], producer: Producer, errors: list
) -> dict[str, Event]:
    wanted = {p.corrects_id for p in prepared if p.corrects_id}
    if not wanted:
        return {}
    found = {e.event_id: e for e in Event.objects.filter(event_id__in=wanted)}
    for p in prepared:
        if not p.corrects_id:
            continue
        target = found.get(p.corrects_id)
        if target is None:
            errors.append({"event": p.index, "field": CORRECTS, "message": MSG_CORRECTS_MISSING})
        elif target.producer_id != producer.pk:
            errors.append({"event": p.index, "field": CORRECTS, "message": MSG_CORRECTS_OTHER})
    return found


def _resolve_item_lots(prepared: list[_Prepared]) -> None:
    """Items named without their lot (…/01/<gtin>/21/<serial>) take the lot recorded for the
    same item earlier (its commissioning with ilmd cbvmda:lotNumber, or a Digital Link with
    both), or earlier in this capture, or — Thudo's own serials being "<lot>.<n>" — the lot
    before the last dot when such a batch exists."""
    missing = {
        (i.gtin, i.serial)
        for p in prepared
        for i in p.identifiers
        if i.gtin and i.serial and not i.lot
    }
    if not missing:
        return
    known: dict[tuple[str, str], str] = {}
    for p in prepared:
        for i in p.identifiers:
            if i.gtin and i.serial and i.lot:
                known.setdefault((i.gtin, i.serial), i.lot)
    rows = (
        EventEpc.objects.filter(
            gtin__in={g for g, _s in missing}, serial__in={s for _g, s in missing}
        )
        .exclude(lot="")
        .values_list("gtin", "serial", "lot")
    )
    for gtin, serial, lot in rows:
        known.setdefault((gtin, serial), lot)
    # Thudo's own serials are "<lot>.<n>" (trace.services.batch_serials)
    guesses = [
        (gtin, serial.rsplit(".", 1)[0], serial)
        for gtin, serial in missing - set(known)
        if "." in serial
    ]
    if guesses:
        found = set(
            Batch.objects.filter(
                product__gtin__in={g for g, _l, _s in guesses},
                lot__in={lot for _g, lot, _s in guesses},
            ).values_list("product__gtin", "lot")
        )
        for gtin, lot, serial in guesses:
            if (gtin, lot) in found:
                known.setdefault((gtin, serial), lot)
    for p in prepared:
        p.identifiers = [
            Identifier(i.role, i.field, i.epc, i.gtin, known.get((i.gtin, i.serial), ""), i.serial)
            if i.gtin and i.serial and not i.lot
            else i
            for i in p.identifiers
        ]


def _producer_places(producer: Producer) -> set[str]:
    uris: set[str] = set()
    for gln, code in producer.places.values_list("gln", "code"):
        if gln:
            uris.add(location_uri(gln=gln))
        if code:
            uris.add(location_uri(code=code))
    if producer.gln:
        uris.add(location_uri(gln=producer.gln))
        uris.add(f"https://id.gs1.org/417/{producer.gln}")
    uris.add(f"urn:thudo:party:{producer.pk}")  # the stage forms' owning party without a GLN
    return uris


def _check_permission(prepared: list[_Prepared], producer: Producer, errors: list) -> None:
    gtins = {i.gtin for p in prepared for i in p.identifiers if i.gtin}
    if not gtins:
        return
    owners = dict(Product.objects.filter(gtin__in=gtins).values_list("gtin", "producer_id"))
    prefix = producer.gs1_company_prefix

    def own(gtin: str) -> bool:
        if gtin in owners:
            return owners[gtin] == producer.pk
        return bool(prefix) and gtin[1:].startswith(prefix)

    foreign = {g for g in gtins if not own(g)}
    if not foreign:
        return
    received = _received(foreign, producer)
    for p in prepared:
        creating = p.document["type"] == "ObjectEvent" and p.document.get("action") == "ADD"
        for i in p.identifiers:
            if not i.gtin or i.gtin not in foreign:
                continue
            if creating or i.role in OUTPUT_ROLES:
                message = MSG_NOT_YOURS_CREATE
            elif (i.gtin, i.lot) in received or (not i.lot and (i.gtin, "") in received):
                continue
            else:
                message = MSG_NOT_YOURS
            errors.append(
                {"event": p.index, "field": i.field, "message": interpolate(message, gtin=i.gtin)}
            )


def _received(gtins: Iterable[str], producer: Producer) -> set[tuple[str, str]]:
    """(gtin, lot) pairs — and (gtin, "") — that a stored event shipped to this producer."""
    places = _producer_places(producer)
    if not places:
        return set()
    shipped = EventEpc.objects.filter(role="destination", epc__in=places).values("event_id")
    pairs: set[tuple[str, str]] = set()
    for gtin, lot in EventEpc.objects.filter(event_id__in=shipped, gtin__in=gtins).values_list(
        "gtin", "lot"
    ):
        pairs.add((gtin, lot))
        pairs.add((gtin, ""))
    return pairs


def _extend_chains(created: list[Event], prepared: list[_Prepared]) -> int:
    """Link every new event into the chain of each local batch it names; returns links made."""
    wanted: dict[int, dict[tuple[str, str], str]] = {}
    pairs: set[tuple[str, str]] = set()
    for row, p in zip(created, prepared, strict=True):
        roles: dict[tuple[str, str], str] = {}
        for i in p.identifiers:
            link_role = LINK_ROLE.get(i.role)
            if not (i.gtin and i.lot and link_role):
                continue
            key = (i.gtin, i.lot)
            current = roles.get(key)
            if current is None or LINK_PRIORITY.index(link_role) < LINK_PRIORITY.index(current):
                roles[key] = link_role
        if roles:
            wanted[row.pk] = roles
            pairs.update(roles)
    if not pairs:
        return 0
    batches = {
        (gtin, lot): pk
        for pk, gtin, lot in Batch.objects.filter(
            product__gtin__in={g for g, _l in pairs}, lot__in={lot for _g, lot in pairs}
        ).values_list("pk", "product__gtin", "lot")
        if (gtin, lot) in pairs
    }
    if not batches:
        return 0
    ids = sorted(set(batches.values()))
    # Lock the batches (in a fixed order, so two captures cannot deadlock) while their chains grow.
    locked = list(
        Batch.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .annotate(
            head_seq=Subquery(
                EventLink.objects.filter(batch=OuterRef("pk")).order_by("-seq").values("seq")[:1]
            ),
            head_hash=Subquery(
                EventLink.objects.filter(batch=OuterRef("pk"))
                .order_by("-seq")
                .values("chain_hash")[:1]
            ),
        )
    )
    heads: dict[int, tuple[int, str]] = {
        b.pk: (b.head_seq or 0, b.head_hash or "")  # type: ignore[attr-defined]
        for b in locked
    }
    latest: dict[int, datetime] = defaultdict(lambda: datetime.min.replace(tzinfo=UTC))
    links: list[EventLink] = []
    for row, p in zip(created, prepared, strict=True):
        for key, role in wanted.get(row.pk, {}).items():
            batch_id = batches.get(key)
            if batch_id is None:
                continue
            seq, previous = heads[batch_id]
            chain = chain_next(previous, p.canonical)
            heads[batch_id] = (seq + 1, chain)
            links.append(
                EventLink(
                    event_id=row.pk, batch_id=batch_id, role=role, seq=seq + 1, chain_hash=chain
                )
            )
            latest[batch_id] = max(latest[batch_id], p.moment)
    EventLink.objects.bulk_create(links)
    changed = [
        b.pk
        for b in locked
        if b.pk in latest and (b.last_event_at is None or latest[b.pk] > b.last_event_at)
    ]
    if changed:
        # one statement: each batch's latest eventTime over its chain
        newest = (
            EventLink.objects.filter(batch=OuterRef("pk"))
            .order_by("-event__event_time")
            .values("event__event_time")[:1]
        )
        Batch.objects.filter(pk__in=changed).update(last_event_at=Subquery(newest))
    return len(links)
