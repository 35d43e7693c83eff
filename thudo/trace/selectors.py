"""Reads of the producers' side, filtered by who asks.

A citizen sees the producers they keep records for (ProducerMember), with their places,
certifications, products and batches; an official holding Perm.TRACE_VIEW sees every producer.
A batch of another producer is also visible to the members of a producer that recorded one of
its events or that it was shipped to (the receiver and the seller record their own steps).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.errors import NotFound

from . import identifiers
from .models import Batch, Event, EventLink, Place, Producer, ProducerMember, Product

INCOMING_DAYS = 120  # shipments shown as "goods shipped to you"


def _authenticated(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def sees_all(user: Any) -> bool:
    """An official of the agriculture department (Perm.TRACE_VIEW) sees every producer."""
    return can(user, Perm.TRACE_VIEW)


def member_producer_ids(user: Any) -> list[int]:
    if not _authenticated(user):
        return []
    return list(
        ProducerMember.objects.filter(user=user, producer__is_active=True).values_list(
            "producer_id", flat=True
        )
    )


def producers_for(user: Any) -> QuerySet[Producer]:
    """The producers a user keeps records for (all of them for a TRACE_VIEW official)."""
    if sees_all(user):
        return Producer.objects.all().select_related("ward")
    return Producer.objects.filter(pk__in=member_producer_ids(user)).select_related("ward")


def producers_mine(user: Any) -> QuerySet[Producer]:
    """Only the producers the user is a member of (their own, also for officials)."""
    return Producer.objects.filter(pk__in=member_producer_ids(user)).select_related("ward")


def producer_get_for(*, user: Any, producer_id: int) -> Producer:
    try:
        return producers_for(user).get(pk=producer_id)
    except (Producer.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None


def membership(user: Any, producer: Producer) -> ProducerMember | None:
    if not _authenticated(user):
        return None
    return ProducerMember.objects.filter(user=user, producer=producer).first()


def product_get_for(*, user: Any, product_id: int) -> Product:
    try:
        product = Product.objects.select_related("producer").get(pk=product_id)
    except (Product.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    if not (sees_all(user) or product.producer_id in member_producer_ids(user)):
        raise NotFound()
    return product


def place_uris(places: Iterable[Place]) -> dict[str, Place]:
    """{EPCIS location URI: place} for read points, business locations and destinations."""
    return {identifiers.location_uri(gln=p.gln, code=p.code): p for p in places}


def party_uri(producer: Producer) -> str:
    """A producer as an EPCIS owning/possessing party: its GLN as a Digital Link (AI 417), else
    a private URN with its id."""
    if producer.gln:
        return f"{identifiers.GS1_RESOLVER}/417/{producer.gln}"
    return f"urn:thudo:party:{producer.pk}"


def place_by_uri(uri: str) -> Place | None:
    uri = (uri or "").strip()
    if uri.startswith(f"{identifiers.GS1_RESOLVER}/414/"):
        gln = uri.rsplit("/", 1)[-1]
        return Place.objects.filter(gln=gln).select_related("producer").first()
    if uri.startswith("urn:thudo:loc:"):
        return (
            Place.objects.filter(code=uri[len("urn:thudo:loc:") :])
            .select_related("producer")
            .first()
        )
    return None


def incoming_shipments(
    producer_ids: Iterable[int], *, since: datetime | None = None, batch: Batch | None = None
) -> list[tuple[Event, Place]]:
    """Shipping events whose destination is a place of one of these producers, with that place
    (newest first): the last INCOMING_DAYS days, or every one of `batch` when given. Found
    through the EPCIS core's index of destinations (EventEpc role "destination")."""
    producer_ids = list(producer_ids)
    places = place_uris(Place.objects.filter(producer_id__in=producer_ids))
    if not places:
        return []
    events = Event.objects.filter(
        biz_step="shipping", epcs__role="destination", epcs__epc__in=list(places)
    )
    if batch is not None:
        events = events.filter(links__batch=batch)
    else:
        since = since or timezone.now() - timedelta(days=INCOMING_DAYS)
        events = events.filter(event_time__gte=since).exclude(producer_id__in=producer_ids)
    found: list[tuple[Event, Place]] = []
    seen: set[int] = set()
    for event in events.select_related("producer").order_by("-event_time", "-pk")[:200]:
        if event.pk in seen:
            continue
        seen.add(event.pk)
        for item in event.document.get("destinationList") or []:
            place = places.get(str(item.get("destination", "")))
            if item.get("type") == "location" and place is not None:
                found.append((event, place))
                break
    return found


def shipped_to(batch: Batch, producer_ids: Iterable[int]) -> list[tuple[Event, Place]]:
    """The shipping events of this batch to a place of one of these producers."""
    return incoming_shipments(producer_ids, batch=batch)


def batch_actors(user: Any, batch: Batch) -> list[Producer]:
    """The user's producers that may record a step of this batch: the batch's own producer,
    or producers it was shipped to (receiving, selling, processing what they received)."""
    mine = member_producer_ids(user)
    if not mine:
        return []
    result: list[Producer] = []
    if batch.product.producer_id in mine:
        result.append(batch.product.producer)
    others = [pid for pid in mine if pid != batch.product.producer_id]
    if others:
        received = {p.producer_id for _e, p in shipped_to(batch, others)}
        recorded = set(
            EventLink.objects.filter(batch=batch, event__producer_id__in=others).values_list(
                "event__producer_id", flat=True
            )
        )
        ids = received | recorded
        result.extend(Producer.objects.filter(pk__in=ids).order_by("name"))
    return result


def batch_get_for(*, user: Any, batch_id: int) -> Batch:
    """A batch its producer's members, its receivers' members and TRACE_VIEW officials see."""
    try:
        batch = Batch.objects.select_related("product__producer", "place").get(pk=batch_id)
    except (Batch.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    if sees_all(user) or batch_actors(user, batch):
        return batch
    raise NotFound()


def batches_of(product: Product) -> QuerySet[Batch]:
    return (
        Batch.objects.filter(product=product)
        .select_related("place")
        .order_by("-produced_on", "-pk")
    )


def batches_usable_by(producer: Producer) -> list[Batch]:
    """Batches a producer may use as inputs or sell: its own and those shipped to it."""
    own = list(
        Batch.objects.filter(product__producer=producer)
        .select_related("product")
        .order_by("product__name", "-produced_on")[:500]
    )
    received_ids = {
        link.batch_id
        for link in EventLink.objects.filter(
            event__in=[e for e, _p in incoming_shipments([producer.pk])]
        )
    }
    received = list(
        Batch.objects.filter(pk__in=received_ids - {b.pk for b in own}).select_related("product")
    )
    return own + received


# --- the batch's timeline ----------------------------------------------------------------------


@dataclass
class Step:
    """One event of a batch's chain, as the batch page shows it."""

    link: EventLink
    event: Event
    stage: str
    place: Place | None
    corrects: Event | None
    corrected_by: list[Event] = field(default_factory=list)
    inputs: list[Batch] = field(default_factory=list)
    outputs: list[Batch] = field(default_factory=list)

    @property
    def document(self) -> dict[str, Any]:
        return self.event.document


def event_stage(event: Event) -> str:
    """Our stage name (planting, shipping…) of an event: its thudo:stage, else its bizStep."""
    stage = (event.document or {}).get("thudo:stage") or ""
    return str(stage or event.biz_step or event.event_type)


def batch_timeline(batch: Batch) -> list[Step]:
    """The batch's events (from its EventLinks) in time order, with their places, the events
    they correct or that correct them, and for transformations the batches on the other side.
    A fixed number of queries, whatever the number of events."""
    links = list(
        EventLink.objects.filter(batch=batch)
        .select_related("event", "event__producer", "event__corrects")
        .order_by("event__event_time", "seq")
    )
    events = [link.event for link in links]
    uris = {e.biz_location or e.read_point for e in events} - {""}
    places: dict[str, Place] = {}
    if uris:
        glns = [u.rsplit("/", 1)[-1] for u in uris if u.startswith(identifiers.GS1_RESOLVER)]
        codes = [u[len("urn:thudo:loc:") :] for u in uris if u.startswith("urn:thudo:loc:")]
        found = Place.objects.filter(Q(gln__in=glns) | Q(code__in=codes)).select_related("producer")
        places = place_uris(found)
    corrections: dict[int, list[Event]] = {}
    for c in Event.objects.filter(corrects__in=events).order_by("record_time"):
        corrections.setdefault(c.corrects_id, []).append(c)  # type: ignore[arg-type]
    other_links = EventLink.objects.filter(
        event__in=[e for e in events if e.event_type == Event.Type.TRANSFORMATION]
    ).select_related("batch__product")
    sides: dict[int, dict[str, list[Batch]]] = {}
    for other in other_links:
        if other.batch_id == batch.pk:
            continue
        sides.setdefault(other.event_id, {}).setdefault(other.role, []).append(other.batch)
    steps = []
    for link, event in zip(links, events, strict=True):
        side = sides.get(event.pk, {})
        steps.append(
            Step(
                link=link,
                event=event,
                stage=event_stage(event),
                place=places.get(event.biz_location or event.read_point),
                corrects=event.corrects,
                corrected_by=corrections.get(event.pk, []),
                inputs=side.get("input", []),
                outputs=side.get("output", []),
            )
        )
    return steps


def batch_events(batch: Batch, *, producer: Producer | None = None) -> list[Event]:
    """The batch's events (recorded by `producer` when given), newest first."""
    events = Event.objects.filter(links__batch=batch)
    if producer is not None:
        events = events.filter(producer=producer)
    return list(events.order_by("-event_time", "-pk"))


def batch_event_get(*, batch: Batch, event_id: int, producer: Producer) -> Event:
    try:
        return Event.objects.get(pk=event_id, links__batch=batch, producer=producer)
    except (Event.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None


def destination_places(producer: Producer, *, limit: int = 300) -> list[Place]:
    """Places offered as shipping destinations: the producer's own, then shops and other
    producers' places (a datalist; any place's code or GLN is accepted)."""
    own = list(Place.objects.filter(producer=producer).order_by("name"))
    others = list(
        Place.objects.exclude(producer=producer)
        .filter(producer__is_active=True)
        .select_related("producer")
        .order_by("-kind", "producer__name", "name")[:limit]
    )
    return own + others


def place_by_code(value: str) -> Place | None:
    """A place from its GLN or internal location code."""
    value = (value or "").strip()
    if not value:
        return None
    return (
        Place.objects.filter(Q(code=value) | Q(gln=value))
        .select_related("producer")
        .order_by("pk")
        .first()
    )
