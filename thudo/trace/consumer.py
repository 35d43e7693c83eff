"""The consumer's origin page: what a scan of a label shows (Circular 02/2024/TT-BKHCN).

`build(resolution)` gathers everything the page shows with a fixed number of queries, whatever
the number of events: the product with its producer and ward and the batch with its place come
from the resolver (2 queries); then the certifications (1), the batch's events through its chain
links (1), corrections of those events recorded elsewhere (1), the other batches of its
transformation and aggregation events (1, only when there are such events), the places and
producers the events name (1 each, only when named) and the recall flags (1). The integrity
verdict is T1's `integrity.batch_integrity` (its own fixed queries).

A scan usually costs less: the resolver's view keeps the page's own HTML in Django's cache
under `page_key(stamp)`, where the stamp (resolver.resolve_stamped, one query) digests the rows the
page shows (product, producer, ward, batch, place) and what they depend on (certificates, the
batch's chain of links and event documents, corrections recorded elsewhere, the latest anchor,
recall flags), with the language and the day. A new event, a recall, a lifted recall, a new
anchor, an edited product or a record altered behind the system's back changes the stamp, and
the next scan builds the page again. What it does not cover (the names of places, producers
and neighbour batches the journey mentions, edits to a certificate) shows once the entry
expires: TRACE_PAGE_CACHE_SECONDS (300; 0 turns keeping pages off). The integrity verdict is
kept the same way, under the chain's digest and anchor, so it is recomputed only when they
change.

What the circular asks for, and where it is on the page: product name and image (header),
producer name and address (producer), every production stage with its product code, location
code and time (journey), the trace code (lot / serial), trademark, shelf life and standards
applied (batch), "one step back, one step forward" (inputs / outputs and the places shipped
from and to). OCOP stars with their decision and the certificates come with them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .identifiers import Epc, parse_epc
from .models import Batch, Certification, Event, EventLink, Place, Producer, Product, RecallFlag
from .resolver import PageStamp, Resolution, batch_path, page_path

logger = logging.getLogger(__name__)

MAX_CODES = 6  # product codes listed per stage; the rest are counted
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

STAGE_LABELS: dict[str, str | Promise] = {
    "planting": _("Planting"),
    "fertilising": _("Fertilising"),
    "spraying": _("Spraying"),
    "harvesting": _("Harvesting"),
    "processing": _("Processing"),
    "packing": _("Packing"),
    "shipping": _("Shipping"),
    "receiving": _("Receiving"),
    "selling": _("Selling"),
    "retail_selling": _("Selling"),
    "commissioning": _("Production recorded"),
    "creating_class_instance": _("Production recorded"),
    "inspecting": _("Inspection"),
    "sampling": _("Sampling"),
    "storing": _("Storage"),
    "transporting": _("Transport"),
    "accepting": _("Receiving"),
    "arriving": _("Arrival"),
    "departing": _("Departure"),
    "loading": _("Loading"),
    "unloading": _("Unloading"),
    "assembling": _("Assembly"),
    "repackaging": _("Repackaging"),
    "unpacking": _("Unpacking"),
    "destroying": _("Destroyed"),
    "decommissioning": _("Withdrawn"),
}
DISPOSITION_LABELS: dict[str, str | Promise] = {
    "active": _("active"),
    "in_progress": _("in progress"),
    "in_transit": _("in transit"),
    "sellable_accessible": _("on sale"),
    "sellable_not_accessible": _("in stock"),
    "retail_sold": _("sold"),
    "recalled": _("recalled"),
    "destroyed": _("destroyed"),
    "expired": _("expired"),
    "damaged": _("damaged"),
    "non_conformant": _("not conformant"),
    "conformant": _("conformant"),
}
DETAIL_LABELS: dict[str, str | Promise] = {
    "thudo:input": _("Input used"),
    "thudo:dose": _("Dose"),
    "thudo:preHarvestDays": _("Days to wait before harvest"),
    "thudo:variety": _("Variety"),
    "thudo:area": _("Area"),
    "thudo:seedSource": _("Seed source"),
    "thudo:harvestedOn": _("Harvested on"),
    "thudo:process": _("Process"),
    "thudo:packaging": _("Packaging"),
    "thudo:deliveryNote": _("Delivery note"),
    "thudo:note": _("Note"),
}
# Shown elsewhere on the page (or not for consumers).
HIDDEN_DETAILS = frozenset({"thudo:stage", "thudo:correctionReason"})
ERROR_REASONS: dict[str, str | Promise] = {
    "incorrect_data": _("the data recorded was wrong"),
    "did_not_occur": _("the step did not take place"),
}
EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


@lru_cache(maxsize=4096)
def _epc(value: str) -> Epc | None:
    """identifiers.parse_epc, remembered: a page names the same few codes many times, and
    parsing a Digital Link URI costs more than the rest of a stage."""
    return parse_epc(value)


def english() -> bool:
    return (translation.get_language() or "").startswith("en")


def pick(vi: str, en: str) -> str:
    """The English text when the page is in English and there is one, else the Vietnamese."""
    return en if english() and en else vi


def short_term(value: str) -> str:
    """A CBV value's short name (T1 stores short names; URIs from older captures are cut)."""
    value = value or ""
    for marker in ("/BizStep-", "/Disp-", ":bizstep:", ":disp:", "/SDT-", ":sdt:", "/ER-", ":er:"):
        if marker in value:
            return value.rsplit(marker, 1)[1]
    return value


def location_code(uri: str) -> str:
    """The location code the circular asks for: the GLN, or our internal location code."""
    uri = uri or ""
    if "/414/" in uri:
        return "GLN " + uri.split("/414/", 1)[1].split("/", 1)[0]
    if uri.startswith("urn:thudo:loc:"):
        return uri[len("urn:thudo:loc:") :]
    return uri


def _place_keys(uri: str) -> tuple[str, str]:
    """("gln", value) / ("code", value) / ("", "") for a location URI."""
    uri = uri or ""
    if "/414/" in uri:
        return "gln", uri.split("/414/", 1)[1].split("/", 1)[0]
    if uri.startswith("urn:thudo:loc:"):
        return "code", uri[len("urn:thudo:loc:") :]
    return "", ""


def _party_gln(uri: str) -> str:
    uri = uri or ""
    if "/417/" in uri:
        return uri.split("/417/", 1)[1].split("/", 1)[0]
    return ""


def _party_id(uri: str) -> int | None:
    """Our producers without a GLN are parties urn:thudo:party:<id> (selectors.party_uri)."""
    uri = uri or ""
    if uri.startswith("urn:thudo:party:") and uri[len("urn:thudo:party:") :].isdigit():
        return int(uri[len("urn:thudo:party:") :])
    return None


def product_name(product: Product) -> str:
    return pick(product.name, product.name_en)


def image_url(product: Product) -> str:
    """Where the product's photo is served ("" when it has none)."""
    if not product.image:
        return ""
    return reverse("trace:product_image", args=[product.pk])


# --- what the page shows ---------------------------------------------------------------------


@dataclass
class PlaceRef:
    name: str
    code: str  # GLN … or the internal location code
    address: str = ""
    owner: str = ""
    owner_id: int | None = None


@dataclass
class Party:
    side: str  # "from" (a source) or "to" (a destination)
    kind: str  # owning_party | possessing_party | location
    name: str
    code: str
    owner_id: int | None = None  # the producer it belongs to, when known


@dataclass
class Stage:
    event: Event
    anchor: str  # id of the stage on the page
    kind: str
    label: str | Promise
    time: datetime
    place: PlaceRef | None
    location: str  # the location code
    product_codes: list[str]
    more_codes: int
    recorded_by: str
    disposition: str | Promise
    quantity: str
    details: list[tuple[str | Promise, str]]
    parties: list[Party]
    corrects: Event | None = None  # this event corrects that one
    corrects_anchor: str = ""
    correction_reason: str | Promise = ""
    corrected_by: list[str] = field(default_factory=list)  # anchors of the corrections


@dataclass
class Neighbour:
    """A batch one step back or one step forward, with the step that links it."""

    name: str
    gtin: str
    lot: str
    url: str
    relation: str | Promise
    time: datetime


@dataclass
class Verdict:
    """The integrity verdict: state ok | pending | altered | empty | unavailable."""

    state: str
    events: int = 0
    anchored_events: int = 0
    anchored_at: datetime | None = None
    problem: str = ""

    @property
    def unanchored(self) -> int:
        return max(0, self.events - self.anchored_events)


@dataclass
class RecallNotice:
    flag: RecallFlag
    reason: str
    decided_at: datetime
    lifted_at: datetime | None
    lift_reason: str
    agency: str
    origin: str  # "<product> · lot <lot>" of the recalled batch when this one derives from it
    origin_url: str


@dataclass
class ConsumerPage:
    resolution: Resolution
    product: Product
    producer: Producer
    batch: Batch | None
    name: str
    description: str
    image: str
    certifications: list[Certification]
    stages: list[Stage]
    back: list[Neighbour]
    forward: list[Neighbour]
    sources: list[Party]
    destinations: list[Party]
    integrity: Verdict
    recalls: list[RecallNotice]  # active recalls of this batch
    lifted: list[RecallNotice]
    recalled_lots: list[str]  # on the product's page: lots under an active recall
    today: date

    @property
    def recalled(self) -> bool:
        return bool(self.recalls)

    @property
    def shelf_life_days(self) -> int | None:
        return self.product.shelf_life_days

    @property
    def expired(self) -> bool:
        return bool(self.batch and self.batch.expires_on and self.batch.expires_on < self.today)


# --- building it -----------------------------------------------------------------------------


def certifications(product: Product) -> list[Certification]:
    """The producer's certificates for this product or for all its products (one query)."""
    return list(
        Certification.objects.filter(producer_id=product.producer_id)
        .filter(Q(product__isnull=True) | Q(product_id=product.pk))
        .order_by("scheme", "-valid_from")
    )


def integrity_verdict(batch: Batch, stamp: PageStamp | None = None) -> Verdict:
    """T1's verdict on the batch's chain; "unavailable" when that part is not installed.

    With the page's stamp (resolver.resolve_stamped: a digest of the batch's links and event
    documents, and its latest anchor item), the verdict is kept in the cache under them, so it
    is recomputed when an event is added, a record is altered or a new anchor covers the
    batch, not on every scan."""
    key = _verdict_key(batch, stamp)
    if key:
        kept = cache.get(key)
        if isinstance(kept, Verdict):
            return kept
    verdict = _compute_verdict(batch)
    # An altered chain's verdict names the problem in the page's language: not kept.
    if key and verdict.state in ("ok", "pending", "empty"):
        cache.set(key, verdict, page_cache_seconds())
    return verdict


def _verdict_key(batch: Batch, stamp: PageStamp | None) -> str:
    if stamp is None or not stamp.chain or stamp.batch_id != batch.pk:
        return ""
    if not page_cache_seconds():
        return ""
    digest = hashlib.blake2b(stamp.chain.encode(), digest_size=16).hexdigest()
    return f"trace:verdict:v{PAGE_CACHE_VERSION}:{batch.pk}:{digest}"


def _compute_verdict(batch: Batch) -> Verdict:
    try:
        from .integrity import batch_integrity
    except ImportError:
        return Verdict("unavailable")
    try:
        result = batch_integrity(batch)
    except Exception:  # a broken check must not hide the page; the log says why
        logger.exception("integrity check failed for batch %s", batch.pk)
        return Verdict("unavailable")
    if not result.ok:
        state = "altered"
    elif not result.events:
        state = "empty"
    elif result.anchored_at is None or not result.anchored_events:
        state = "pending"
    else:
        state = "ok"
    return Verdict(
        state,
        events=result.events,
        anchored_events=result.anchored_events,
        anchored_at=result.anchored_at,
        problem=str(result.problem or ""),
    )


def _role(role: str) -> str:
    """input | output | parent | child | "" from T1's link roles (inputEPC, childQuantity…)."""
    role = (role or "").lower()
    for kind in ("input", "output", "parent", "child"):
        if role.startswith(kind):
            return kind
    return ""


# (my role, the other batch's role) -> (side, relation)
RELATIONS: dict[tuple[str, str], tuple[str, str | Promise]] = {
    ("output", "input"): ("back", _("used to make this batch")),
    ("input", "output"): ("forward", _("made from this batch")),
    ("child", "parent"): ("forward", _("this batch was packed into it")),
    ("parent", "child"): ("back", _("packed into this batch")),
}


def _codes(document: dict[str, Any]) -> list[str]:
    """The product codes an event names: GTIN with lot or serial, as printed on labels."""
    found: list[str] = []
    values: list[str] = []
    for key in EPC_LISTS:
        values.extend(v for v in document.get(key) or [] if isinstance(v, str))
    if isinstance(document.get("parentID"), str):
        values.append(document["parentID"])
    for key in QUANTITY_LISTS:
        for q in document.get(key) or []:
            if isinstance(q, dict) and isinstance(q.get("epcClass"), str):
                values.append(q["epcClass"])
    for value in values:
        epc = _epc(value)
        if epc is None:
            code = value
        else:
            code = f"(01) {epc.gtin}"
            if epc.lot:
                code += f" (10) {epc.lot}"
            if epc.serial:
                code += f" (21) {epc.serial}"
        if code not in found:
            found.append(code)
    return found


def _quantity(document: dict[str, Any], batch: Batch) -> str:
    """The quantity of this batch the event names ("120 KGM"), from any quantity list."""
    for key in QUANTITY_LISTS:
        for q in document.get(key) or []:
            if not isinstance(q, dict):
                continue
            epc = _epc(str(q.get("epcClass", "")))
            if epc and epc.gtin == batch.product.gtin and epc.lot == batch.lot:
                amount = q.get("quantity")
                if amount is None:
                    continue
                number = f"{amount:g}" if isinstance(amount, float) else str(amount)
                return f"{number} {q.get('uom', '')}".strip()
    return ""


def _details(document: dict[str, Any]) -> list[tuple[str | Promise, str]]:
    """Our own extension fields (thudo:…, on the event and in its ilmd) worth showing:
    the variety, inputs and doses, the process, notes…"""
    rows: list[tuple[str | Promise, str]] = []
    ilmd = document.get("ilmd")
    items = list(document.items()) + (list(ilmd.items()) if isinstance(ilmd, dict) else [])
    for key, value in items:
        if not key.startswith("thudo:") or key in HIDDEN_DETAILS:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        text = str(value).strip()
        if not text:
            continue
        if ISO_DATE.match(text):
            with contextlib.suppress(ValueError):
                text = date_format(date.fromisoformat(text), "SHORT_DATE_FORMAT")
        label = DETAIL_LABELS.get(key)
        if label is None:
            label = key[len("thudo:") :].replace("_", " ").capitalize()
        rows.append((label, text[:300]))
    return rows


def _parties(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(side "from"/"to", type, URI) for the sources and destinations of an event; where a
    side names a location, only its locations (the place says whose it is)."""
    found: list[tuple[str, str, str]] = []
    for side, key, member in (
        ("from", "sourceList", "source"),
        ("to", "destinationList", "destination"),
    ):
        entries = [
            (short_term(str(item.get("type", ""))), str(item.get(member, "")))
            for item in document.get(key) or []
            if isinstance(item, dict) and item.get(member)
        ]
        if any(kind == "location" for kind, _uri in entries):
            entries = [(kind, uri) for kind, uri in entries if kind == "location"]
        found.extend((side, kind, uri) for kind, uri in entries)
    return found


def _error_reason(document: dict[str, Any]) -> str | Promise:
    """Why a correction was recorded: our correctionReason, else EPCIS's errorDeclaration."""
    reason = document.get("thudo:correctionReason")
    if isinstance(reason, str) and reason.strip():
        code = short_term(reason.strip())
        return ERROR_REASONS.get(code, reason.strip()[:500])
    declaration = document.get("errorDeclaration")
    if isinstance(declaration, dict):
        code = short_term(str(declaration.get("reason", "")))
        return ERROR_REASONS.get(code, code)
    return ""


def _stage_kind(event: Event) -> str:
    document = event.document if isinstance(event.document, dict) else {}
    stage = document.get("thudo:stage")
    if isinstance(stage, str) and stage:
        return stage
    if event.event_type == Event.Type.TRANSFORMATION:
        return "processing"
    if event.event_type == Event.Type.AGGREGATION and not event.biz_step:
        return "packing"
    return short_term(event.biz_step) or "other"


def stage_label(kind: str) -> str | Promise:
    label = STAGE_LABELS.get(kind)
    if label is not None:
        return label
    return kind.replace("_", " ").capitalize() if kind else _("Recorded step")


class _Lookups:
    """Places (by GLN or code) and producers (by GLN) named by events: two queries at most."""

    def __init__(self, documents: list[tuple[Event, dict[str, Any]]]) -> None:
        glns: set[str] = set()
        codes: set[str] = set()
        party_glns: set[str] = set()
        party_ids: set[int] = set()
        for event, document in documents:
            uris = [event.biz_location, event.read_point]
            for _side, kind, uri in _parties(document):
                gln, pid = _party_gln(uri), _party_id(uri)
                if kind != "location" and gln:
                    party_glns.add(gln)
                elif kind != "location" and pid is not None:
                    party_ids.add(pid)
                else:
                    uris.append(uri)
            for uri in uris:
                which, value = _place_keys(uri)
                if which == "gln":
                    glns.add(value)
                elif which == "code":
                    codes.add(value)
        self.by_gln: dict[str, Place] = {}
        self.by_code: dict[str, Place] = {}
        if glns or codes:
            for place in Place.objects.filter(Q(gln__in=glns) | Q(code__in=codes)).select_related(
                "producer"
            ):
                if place.gln:
                    self.by_gln.setdefault(place.gln, place)
                self.by_code[place.code] = place
        self.producers: dict[str, Producer] = {}
        self.producer_ids: dict[int, Producer] = {}
        if party_glns or party_ids:
            for p in Producer.objects.filter(Q(gln__in=party_glns) | Q(pk__in=party_ids)):
                self.producer_ids[p.pk] = p
                if p.gln:
                    self.producers[p.gln] = p

    def place(self, uri: str) -> PlaceRef | None:
        which, value = _place_keys(uri)
        found = (self.by_gln if which == "gln" else self.by_code).get(value) if which else None
        if found is None:
            return None
        return PlaceRef(
            name=found.name,
            code=location_code(uri),
            address=found.address,
            owner=pick(found.producer.name, found.producer.name_en),
            owner_id=found.producer_id,
        )

    def party(self, side: str, kind: str, uri: str) -> Party:
        gln, pid = _party_gln(uri), _party_id(uri)
        if gln and gln in self.producers:
            producer = self.producers[gln]
            name = pick(producer.name, producer.name_en)
            return Party(side, kind, name, f"GLN {gln}", producer.pk)
        if pid is not None and pid in self.producer_ids:
            producer = self.producer_ids[pid]
            return Party(side, kind, pick(producer.name, producer.name_en), "", producer.pk)
        place = self.place(uri)
        if place is not None:
            name = f"{place.name} ({place.owner})" if place.owner else place.name
            return Party(side, kind, name, place.code, place.owner_id)
        return Party(side, kind, "", location_code(uri) if not gln else f"GLN {gln}")


def _recall_notice(flag: RecallFlag, batch: Batch) -> RecallNotice:
    recall = flag.recall
    origin = origin_url = ""
    if recall.batch_id != batch.pk:
        source = recall.batch
        origin = f"{product_name(source.product)} · {source.lot}"
        origin_url = batch_path(source)
    return RecallNotice(
        flag=flag,
        reason=pick(recall.reason, recall.reason_en),
        decided_at=recall.decided_at,
        lifted_at=recall.lifted_at,
        lift_reason=recall.lift_reason,
        agency=pick(recall.agency.name, recall.agency.name_en),
        origin=origin,
        origin_url=origin_url,
    )


def build(resolution: Resolution) -> ConsumerPage:
    """Everything the consumer page shows for a resolved scan (see the module's docstring)."""
    product = resolution.product
    producer = product.producer
    batch = resolution.batch
    page = ConsumerPage(
        resolution=resolution,
        product=product,
        producer=producer,
        batch=batch,
        name=product_name(product),
        description=pick(product.description, product.description_en),
        image=image_url(product),
        certifications=certifications(product),
        stages=[],
        back=[],
        forward=[],
        sources=[],
        destinations=[],
        integrity=Verdict("empty"),
        recalls=[],
        lifted=[],
        recalled_lots=[],
        today=timezone.localdate(),
    )
    if batch is None:
        if resolution.stamp is not None and not resolution.stamp.flagged:
            return page  # the stamp saw no recall flag on the product's lots
        page.recalled_lots = sorted(
            set(
                RecallFlag.objects.filter(
                    batch__product=product, recall__lifted_at__isnull=True
                ).values_list("batch__lot", flat=True)
            )
        )
        return page
    stamp = resolution.stamp
    _journey(page, batch, outside=stamp is None or stamp.corrected)
    page.integrity = integrity_verdict(batch, stamp)
    if stamp is not None and not stamp.flagged:
        return page  # the stamp saw no recall flag on this batch
    flags = RecallFlag.objects.filter(batch=batch).select_related(
        "recall", "recall__agency", "recall__batch", "recall__batch__product"
    )
    for flag in sorted(flags, key=lambda f: f.recall.decided_at, reverse=True):
        notice = _recall_notice(flag, batch)
        (page.lifted if flag.recall.lifted_at else page.recalls).append(notice)
    return page


def _journey(page: ConsumerPage, batch: Batch, *, outside: bool = True) -> None:
    """The stages, one step back and forward. `outside`: look for corrections of these events
    recorded by events that do not name the batch (the page's stamp knows when there are none)."""
    links = list(
        EventLink.objects.filter(batch=batch)
        .select_related("event", "event__producer")
        .order_by("event__event_time", "event_id")
    )
    events = [link.event for link in links]
    my_role = {link.event_id: _role(link.role) for link in links}
    ids = [e.pk for e in events]
    by_id = {e.pk: e for e in events}
    documents = [(e, e.document if isinstance(e.document, dict) else {}) for e in events]
    # Corrections recorded against these events that do not name this batch any more.
    corrected_by: dict[int, list[str]] = {}
    elsewhere = (
        Event.objects.filter(corrects_id__in=ids).exclude(pk__in=ids) if ids and outside else []
    )
    for correction in elsewhere:
        corrected_by.setdefault(correction.corrects_id or 0, []).append("")
    for e in events:
        if e.corrects_id in by_id:
            corrected_by.setdefault(e.corrects_id, []).append(f"stage-{e.pk}")
    lookups = _Lookups(documents)
    for event, document in documents:
        kind = _stage_kind(event)
        codes = _codes(document)
        parties = [lookups.party(*p) for p in _parties(document)]
        location_uri = event.biz_location or event.read_point
        stage = Stage(
            event=event,
            anchor=f"stage-{event.pk}",
            kind=kind,
            label=stage_label(kind),
            time=event.event_time,
            place=lookups.place(location_uri) if location_uri else None,
            location=location_code(location_uri),
            product_codes=codes[:MAX_CODES],
            more_codes=max(0, len(codes) - MAX_CODES),
            recorded_by=pick(event.producer.name, event.producer.name_en),
            disposition=DISPOSITION_LABELS.get(
                short_term(event.disposition), short_term(event.disposition).replace("_", " ")
            ),
            quantity=_quantity(document, batch),
            details=_details(document),
            parties=parties,
            corrected_by=corrected_by.get(event.pk, []),
        )
        if event.corrects_id:
            stage.corrects = by_id.get(event.corrects_id)
            stage.corrects_anchor = (
                f"stage-{event.corrects_id}" if event.corrects_id in by_id else ""
            )
            stage.correction_reason = _error_reason(document)
        page.stages.append(stage)
        for party in parties:
            if party.side == "to":
                page.destinations.append(party)
            elif party.owner_id != batch.product.producer_id:
                # One step back is where the goods came from: not the producer's own places
                # it shipped them from.
                page.sources.append(party)
    page.sources = _unique(page.sources)
    page.destinations = _unique(page.destinations)
    # One step back and one step forward: the other batches of the same transformation or
    # aggregation events (one query for all of them).
    linked = [eid for eid, role in my_role.items() if role]
    if not linked:
        return
    others = (
        EventLink.objects.filter(event_id__in=linked)
        .exclude(batch_id=batch.pk)
        .select_related("batch", "batch__product")
        .order_by("event__event_time", "pk")
    )
    seen: set[tuple[str, int]] = set()
    for other in others:
        relation = RELATIONS.get((my_role[other.event_id], _role(other.role)))
        if relation is None:
            continue
        side, label = relation
        if (side, other.batch_id) in seen:
            continue
        seen.add((side, other.batch_id))
        neighbour = Neighbour(
            name=product_name(other.batch.product),
            gtin=other.batch.product.gtin,
            lot=other.batch.lot,
            url=page_path(other.batch.product.gtin, other.batch.lot),
            relation=label,
            time=by_id[other.event_id].event_time,
        )
        (page.back if side == "back" else page.forward).append(neighbour)


def _unique(parties: list[Party]) -> list[Party]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for p in parties:
        key = (p.name, p.code)
        if key in seen or not (p.name or p.code):
            continue
        seen.add(key)
        kept.append(p)
    return kept


# --- keeping built pages ---------------------------------------------------------------------

PAGE_CACHE_VERSION = 1  # change when what a kept page holds, or its templates, change


def page_cache_seconds() -> int:
    """How long a built consumer page (and an integrity verdict) stays in the cache; 0: never
    kept. Freshness does not depend on it, except for what the page's stamp does not cover."""
    return max(0, int(getattr(settings, "TRACE_PAGE_CACHE_SECONDS", 300)))


def page_key(stamp: PageStamp | None, serial: str = "") -> str:
    """The cache key of the consumer page with this stamp (resolver.resolve_stamped) in the
    active language and today ("expired" marks change with the day); "" when not kept."""
    if stamp is None or not page_cache_seconds():
        return ""
    parts = (
        PAGE_CACHE_VERSION,
        stamp.digest,
        translation.get_language() or "",
        timezone.localdate().isoformat(),
        serial,
    )
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"trace:page:{stamp.product_id}:{stamp.batch_id or 0}:{digest}"


def page_title(page: ConsumerPage) -> str:
    title = f"{gettext('Recalled')}: " if page.recalled else ""
    title += page.name
    if page.batch is not None:
        title += f" · {page.batch.lot}"
    return title


@dataclass
class KeptPage:
    """A built consumer page as kept in the cache: its HTML (the page's own part, not the
    site's header and menus, which depend on who asks) and what the view reports about it."""

    title: str
    body: str
    integrity: Verdict
    recalled: bool


class ServedPage:
    """What the view's context calls `page` when the page came from the cache: the rows the
    resolver read with the stamp, and what was kept (not the stages: they live in the kept
    HTML)."""

    def __init__(self, resolution: Resolution, kept: KeptPage) -> None:
        self.resolution = resolution
        self.product = resolution.product
        self.producer = resolution.product.producer
        self.batch = resolution.batch
        self.integrity = kept.integrity
        self.recalled = kept.recalled
        self.title = kept.title
