"""Recalls: the food-safety office recalls a batch, and everything made from it is flagged.

`recall_batch` flags the batch (depth 0) and, breadth-first, every batch derived from it
downstream through the events that link batches: a TransformationEvent leads from its input
batches to its output batches, an AggregationEvent from its child batches to its parent batch.
Nothing is flagged upstream (the inputs of a recalled output are not suspect because of it) and
batches merely shipped, received or sold together are not linked by that.

Each level costs two set-based queries whatever its size (the links of the frontier as inputs
or children, then the outputs or parents of those events), in chunks of CHUNK ids, so 10,000
derived batches take a few dozen queries; the flags are inserted with bulk_create.

The members of every producer that owns a flagged batch or recorded an event naming one
(receivers, sellers) get one notification each per recall, in Vietnamese; `lift_recall` ends a
recall (the flags stay, as history) and tells the same people.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency, Membership
from thudo.accounts.permissions import can
from thudo.accounts.roles import ROLE_PERMISSIONS, Perm
from thudo.core.audit import audit_record
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed

from .models import Batch, EventLink, ProducerMember, Recall, RecallFlag
from .resolver import page_path

LANG = "vi"  # notifications are written in Vietnamese, like the platform's others
CHUNK = 2000  # ids per IN (...) list
NOTIFY_EACH_MAX = 50  # up to this many people, notify() one by one; beyond, in bulk
LOTS_LISTED = 10
REASON_MAX = 2000

MSG_REASON = _("Say why the batch is recalled.")
MSG_LIFT_REASON = _("Say why the recall is lifted.")
MSG_TOO_LONG = _("The text is too long (at most 2000 characters).")
MSG_NOT_ALLOWED = _("You may not recall batches or lift recalls.")
MSG_ALREADY = _("This batch is already recalled; lift that recall first.")
MSG_LIFTED = _("This recall was already lifted.")
MSG_NO_AGENCY = _("No agency to record the recall under: your account holds no recall role.")

T_RECALL = _("Recall: {product}, lot {lot}")
B_RECALL = _(
    "{agency} recalled lot {lot} of {product} on {day}. Reason: {reason}\n"
    "Your batches concerned ({count}): {lots}.\n"
    "Stop selling and using them, and keep them apart until the office tells you what to do."
)
T_LIFT = _("Recall lifted: {product}, lot {lot}")
B_LIFT = _(
    "{agency} lifted the recall of lot {lot} of {product} on {day}. Reason: {reason}\n"
    "Your batches concerned ({count}): {lots}."
)

INPUT, OUTPUT, CHILD, PARENT = "input", "output", "child", "parent"


def _chunks(ids: list[int], size: int = CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _starts(field_name: str, *prefixes: str) -> Q:
    """role LIKE 'input%' OR … : T1 names link roles input/inputEPC/inputQuantity…"""
    q = Q()
    for prefix in prefixes:
        q |= Q(**{f"{field_name}__startswith": prefix})
    return q


def _kind(role: str) -> str:
    role = (role or "").lower()
    for kind in (INPUT, OUTPUT, CHILD, PARENT):
        if role.startswith(kind):
            return kind
    return ""


@dataclass
class Found:
    """A flagged batch: how far from the recalled one and through which event."""

    depth: int
    via_event_id: int | None


def derived_batches(batch_id: int) -> dict[int, Found]:
    """The batch and every batch derived from it downstream, breadth-first (see the module)."""
    found: dict[int, Found] = {batch_id: Found(0, None)}
    frontier = [batch_id]
    depth = 0
    while frontier:
        depth += 1
        # 1. the events in which the frontier takes part as input or child
        sources: dict[int, set[str]] = {}
        for ids in _chunks(frontier):
            rows = EventLink.objects.filter(batch_id__in=ids).filter(_starts("role", INPUT, CHILD))
            for event_id, role in rows.values_list("event_id", "role"):
                sources.setdefault(event_id, set()).add(_kind(role))
        if not sources:
            break
        # 2. the outputs (for inputs) and parents (for children) of those events
        following: list[int] = []
        for ids in _chunks(sorted(sources)):
            rows = EventLink.objects.filter(event_id__in=ids).filter(
                _starts("role", OUTPUT, PARENT)
            )
            for event_id, role, target in rows.order_by("event_id", "batch_id").values_list(
                "event_id", "role", "batch_id"
            ):
                kind = _kind(role)
                wanted = INPUT if kind == OUTPUT else CHILD
                if wanted not in sources[event_id] or target in found:
                    continue
                found[target] = Found(depth, event_id)
                following.append(target)
        frontier = following
    return found


# --- who is told -----------------------------------------------------------------------------


@dataclass
class Audience:
    """Per user: the labels of the flagged batches that concern them."""

    lots: dict[int, list[str]] = field(default_factory=dict)
    emails: dict[int, str] = field(default_factory=dict)


def _audience(batch_ids: Iterable[int]) -> Audience:
    """The members of every producer that owns a flagged batch or recorded an event naming
    one, each with the batches that concern them (set-based: three queries per chunk)."""
    concerns: dict[int, set[int]] = {}  # producer -> flagged batch ids
    labels: dict[int, str] = {}
    ids = sorted(set(batch_ids))
    for chunk in _chunks(ids):
        for pk, producer_id, lot, gtin in Batch.objects.filter(pk__in=chunk).values_list(
            "pk", "product__producer_id", "lot", "product__gtin"
        ):
            concerns.setdefault(producer_id, set()).add(pk)
            labels[pk] = f"{gtin}/{lot}"
        for producer_id, pk in (
            EventLink.objects.filter(batch_id__in=chunk)
            .values_list("event__producer_id", "batch_id")
            .distinct()
        ):
            concerns.setdefault(producer_id, set()).add(pk)
    audience = Audience()
    producers = sorted(concerns)
    for chunk in _chunks(producers):
        members = ProducerMember.objects.filter(
            producer_id__in=chunk, user__is_active=True
        ).values_list("producer_id", "user_id", "user__email")
        for producer_id, user_id, email in members.order_by("user_id"):
            mine = audience.lots.setdefault(user_id, [])
            for pk in sorted(concerns[producer_id]):
                if labels[pk] not in mine:
                    mine.append(labels[pk])
            audience.emails[user_id] = email or ""
    return audience


def _text(message: Any, **values: Any) -> str:
    with translation.override(LANG):
        return str(format_lazy(message, **{k: str(v) for k, v in values.items()}))


def _tell(audience: Audience, *, title: Any, body: Any, url: str, values: dict[str, Any]) -> int:
    """One notification per person (in the caller's transaction; e-mails after commit)."""
    from thudo.notifications.models import Notification
    from thudo.notifications.services import notify

    subject = _text(title, **values)
    users = sorted(audience.lots)
    texts = {}
    for user_id in users:
        lots = audience.lots[user_id]
        listed = ", ".join(lots[:LOTS_LISTED]) + (" …" if len(lots) > LOTS_LISTED else "")
        texts[user_id] = _text(body, count=len(lots), lots=listed, **values)
    if len(users) <= NOTIFY_EACH_MAX:
        from django.contrib.auth import get_user_model

        people = get_user_model().objects.in_bulk(users)
        for user_id in users:
            notify(user=people[user_id], title=subject, body=texts[user_id], url=url)
        return len(users)
    now = timezone.now()
    made = Notification.objects.bulk_create(
        [
            Notification(
                user_id=user_id,
                title=subject[:200],
                body=texts[user_id],
                url=url,
                emailed_to=audience.emails.get(user_id, ""),
                created_at=now,
            )
            for user_id in users
        ],
        batch_size=1000,
    )
    to_email = [n.pk for n in made if n.emailed_to and n.pk]
    if to_email:
        from thudo.notifications.tasks import send_notification_email

        def send() -> None:
            for pk in to_email:
                send_notification_email.delay(pk)

        transaction.on_commit(send)
    return len(users)


# --- the services ----------------------------------------------------------------------------


def _recall_agency(user: Any) -> Agency:
    """The agency the recall is made in: where the user holds a role that may recall."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.TRACE_RECALL in perms]
    membership = (
        Membership.objects.filter(user=user, role__in=roles)
        .select_related("agency")
        .order_by("agency__code")
        .first()
    )
    if membership is not None:
        return membership.agency
    if getattr(user, "is_superuser", False):
        code = getattr(settings, "TRACE_RECALL_AGENCY", "HN-SNNMT")
        agency = Agency.objects.filter(code=code).first() or Agency.objects.order_by("code").first()
        if agency is not None:
            return agency
    raise ValidationFailed(MSG_NO_AGENCY, fields={"agency": MSG_NO_AGENCY})


def _clean_reason(value: str, field_name: str, missing: Any) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(fields={field_name: missing})
    if len(text) > REASON_MAX:
        raise ValidationFailed(fields={field_name: MSG_TOO_LONG})
    return text


def _values(recall: Recall, reason: str, moment: Any) -> dict[str, Any]:
    batch = recall.batch
    with translation.override(LANG):
        return {
            "product": batch.product.name,
            "lot": batch.lot,
            "agency": recall.agency.name,
            "day": timezone.localtime(moment).strftime("%d/%m/%Y"),
            "reason": reason,
        }


@transaction.atomic
def recall_batch(*, batch: Batch, reason: str, reason_en: str = "", user: Any) -> Recall:
    """Recall `batch` (TRACE_RECALL): flag it and everything derived from it, tell the
    producers concerned. InvalidTransition when it is already under a recall of its own."""
    if not can(user, Perm.TRACE_RECALL):
        raise PermissionDenied(MSG_NOT_ALLOWED)
    reason = _clean_reason(reason, "reason", MSG_REASON)
    reason_en = (reason_en or "").strip()
    if len(reason_en) > REASON_MAX:
        raise ValidationFailed(fields={"reason_en": MSG_TOO_LONG})
    batch = Batch.objects.select_for_update().select_related("product").get(pk=batch.pk)
    if Recall.objects.filter(batch=batch, lifted_at__isnull=True).exists():
        raise InvalidTransition(MSG_ALREADY)
    agency = _recall_agency(user)
    recall = Recall.objects.create(
        batch=batch, reason=reason, reason_en=reason_en, agency=agency, decided_by=user
    )
    found = derived_batches(batch.pk)
    RecallFlag.objects.bulk_create(
        [
            RecallFlag(recall=recall, batch_id=pk, depth=f.depth, via_event_id=f.via_event_id)
            for pk, f in found.items()
        ],
        batch_size=1000,
    )
    audience = _audience(found)
    told = _tell(
        audience,
        title=T_RECALL,
        body=B_RECALL,
        url=page_path(batch.product.gtin, batch.lot),
        values=_values(recall, reason, recall.decided_at),
    )
    audit_record(
        actor=user,
        action="trace.recall",
        obj=recall,
        from_state="",
        to_state="active",
        data={
            "batch": batch.pk,
            "gtin": batch.product.gtin,
            "lot": batch.lot,
            "flagged": len(found),
            "depth": max(f.depth for f in found.values()),
            "notified": told,
            "agency": agency.code,
        },
    )
    return recall


@transaction.atomic
def lift_recall(*, recall: Recall, reason: str, user: Any) -> Recall:
    """End a recall (TRACE_RECALL). The flags stay as the recall's history; the consumer pages
    stop showing the warning (unless another recall still flags the batch)."""
    if not can(user, Perm.TRACE_RECALL):
        raise PermissionDenied(MSG_NOT_ALLOWED)
    reason = _clean_reason(reason, "reason", MSG_LIFT_REASON)
    recall = (
        Recall.objects.select_for_update()
        .select_related("batch__product", "agency")
        .get(pk=recall.pk)
    )
    if recall.lifted_at is not None:
        raise InvalidTransition(MSG_LIFTED)
    recall.lifted_at = timezone.now()
    recall.lifted_by = user
    recall.lift_reason = reason
    recall.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    flagged = list(recall.flags.values_list("batch_id", flat=True))
    told = _tell(
        _audience(flagged),
        title=T_LIFT,
        body=B_LIFT,
        url=page_path(recall.batch.product.gtin, recall.batch.lot),
        values=_values(recall, reason, recall.lifted_at),
    )
    audit_record(
        actor=user,
        action="trace.recall_lift",
        obj=recall,
        from_state="active",
        to_state="lifted",
        data={"batch": recall.batch_id, "flagged": len(flagged), "notified": told},
    )
    return recall


def active_recall_of(batch: Batch) -> Recall | None:
    """The batch's own recall in force, if any (not one that flags it as derived)."""
    return Recall.objects.filter(batch=batch, lifted_at__isnull=True).first()
