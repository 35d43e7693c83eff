"""Every read of the dossiers domain that leaves it, already filtered by who asks.

An applicant sees their own dossiers (drafts included); an official sees the dossiers held or
received by the agencies where they hold DOSSIER_VIEW (and the agencies below them), never
drafts. Lists select their related rows in the same query, so a page costs a fixed number of
queries however many dossiers it shows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone, translation

from thudo.accounts.roles import Perm
from thudo.core.calendar import get_calendar
from thudo.core.errors import NotFound
from thudo.documents.models import Document

from . import permissions as perms
from .models import (
    QUEUE_STATUSES,
    SETTLED_STATUSES,
    Dossier,
    DossierDocument,
    DossierEvent,
    DossierFile,
    Status,
)
from .workflow import Transition, actions_from

PUBLIC_HIDDEN_ACTIONS = frozenset({"remind", "escalate", "draft"})
"""Internal events the public look-up leaves out of the timeline."""

_RELATED = ("procedure", "agency", "receiving_agency", "unit", "holder")


def _authenticated(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and bool(
        getattr(user, "is_active", False)
    )


def dossiers_visible_to(user: Any) -> QuerySet[Dossier]:
    """The applicant's own dossiers, plus, for an official, the non-draft dossiers held or
    received by the agencies where they hold DOSSIER_VIEW."""
    if not _authenticated(user):
        return Dossier.objects.none()
    agency_ids = perms.official_agency_ids(user)
    condition = Q(applicant=user)
    if agency_ids:
        condition |= (Q(agency_id__in=agency_ids) | Q(receiving_agency_id__in=agency_ids)) & ~Q(
            status=Status.DRAFT
        )
    return Dossier.objects.filter(condition)


def dossier_for(
    user: Any, *, public_id: uuid.UUID | str | None = None, code: str | None = None
) -> Dossier:
    """One dossier the user may see, by public id or code; NotFound otherwise (also when it
    exists but is someone else's: its existence is not revealed)."""
    if public_id is None and not code:
        raise NotFound()
    qs = dossiers_visible_to(user).select_related(*_RELATED, "version", "applicant")
    try:
        if public_id is not None:
            return qs.get(public_id=public_id)
        return qs.get(code=str(code).strip().upper())
    except (Dossier.DoesNotExist, ValueError, TypeError, DjangoValidationError):
        raise NotFound() from None


def dossiers_of_applicant(user: Any) -> QuerySet[Dossier]:
    """The citizen's "my dossiers" list, newest first."""
    if not _authenticated(user):
        return Dossier.objects.none()
    return (
        Dossier.objects.filter(applicant=user)
        .select_related("procedure", "receiving_agency")
        .order_by("-created_at", "-pk")
    )


def _queue_filtered(
    qs: QuerySet[Dossier],
    *,
    status: str | list[str] | tuple[str, ...] | None,
    procedure: Any,
    due: str | None,
    q: str,
    now: datetime | None,
) -> QuerySet[Dossier]:
    """The queue's filters (status, procedure, due date, search), on any dossier set."""
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        qs = qs.filter(status__in=[s for s in statuses if s != Status.DRAFT])
    else:
        qs = qs.filter(status__in=QUEUE_STATUSES)
    if procedure is not None and procedure != "":
        if isinstance(procedure, str):
            qs = qs.filter(procedure__code=procedure)
        else:
            qs = qs.filter(procedure=procedure)
    now = now or timezone.now()
    if due == "overdue":
        qs = qs.filter(due_at__lt=now)
    elif due == "soon":
        calendar = get_calendar()
        qs = qs.filter(
            due_at__gte=now, due_at__lte=calendar.add_working_hours(now, calendar.day_length)
        )
    term = " ".join((q or "").split())
    if term:
        qs = qs.filter(
            Q(code__startswith=term.upper())
            | Q(applicant_personal_id=term)
            | Q(applicant_name__icontains=term)
        )
    return qs


QUEUE_ORDER = (F("due_at").asc(nulls_last=True), "pk")
"""Overdue first, then due soonest; paused dossiers (no deadline while paused) last."""


def dossier_queue(
    *,
    user: Any,
    status: str | list[str] | tuple[str, ...] | None = None,
    procedure: Any = None,
    due: str | None = None,
    q: str = "",
    now: datetime | None = None,
) -> QuerySet[Dossier]:
    """The officials' queue: the dossiers of their agencies that need work, overdue first,
    then due soonest (paused ones last), with `procedure`, `agency`, `receiving_agency`,
    `unit` and `holder` in the same query.

    `due`: "overdue" (past the legal deadline) or "soon" (due within one working day).
    `q`: the start of a dossier code, a personal ID, or part of the applicant's name.

    One query, but with the holding and the receiving agency OR-ed the databases cannot read
    it in deadline order from an index: pages use `dossier_queue_page`, which can."""
    if not _authenticated(user):
        return Dossier.objects.none()
    agency_ids = perms.official_agency_ids(user)
    if not agency_ids:
        return Dossier.objects.none()
    qs = Dossier.objects.filter(Q(agency_id__in=agency_ids) | Q(receiving_agency_id__in=agency_ids))
    qs = _queue_filtered(qs, status=status, procedure=procedure, due=due, q=q, now=now)
    return qs.select_related(*_RELATED).order_by(*QUEUE_ORDER)


def _queue_sort_key(row: tuple[int, datetime | None]) -> tuple[bool, datetime | None, int]:
    pk, due_at = row
    return (due_at is None, due_at, pk)


def dossier_queue_page(
    *,
    user: Any,
    offset: int = 0,
    limit: int = 25,
    status: str | list[str] | tuple[str, ...] | None = None,
    procedure: Any = None,
    due: str | None = None,
    q: str = "",
    now: datetime | None = None,
) -> list[Dossier]:
    """`dossier_queue(...)[offset:offset + limit]`, read so that its cost does not grow with
    the table: always three queries.

    The dossiers held by the official's agencies and those they received but handed to
    another agency are two index range scans in deadline order that stop after
    `offset + limit` rows (index `dossier_queue_open`, or `dossier_queue` for a single status;
    `dossier_handed_off`): only their ids and deadlines are read. The two lists are merged here
    and the page's rows are then read by primary key with their related rows."""
    if not _authenticated(user) or limit <= 0:
        return []
    agency_ids = perms.official_agency_ids(user)
    if not agency_ids:
        return []
    wanted = offset + limit
    filters = {"status": status, "procedure": procedure, "due": due, "q": q, "now": now}
    held = _queue_filtered(Dossier.objects.filter(agency_id__in=agency_ids), **filters)
    # Received here, held elsewhere: the condition of the partial index `dossier_handed_off`
    # is repeated so that the databases use it.
    handed_off = _queue_filtered(
        Dossier.objects.filter(receiving_agency_id__in=agency_ids)
        .exclude(agency=F("receiving_agency"))
        .exclude(agency_id__in=agency_ids),
        **filters,
    )
    rows: list[tuple[int, datetime | None]] = []
    for part in (held, handed_off):
        rows += part.order_by(*QUEUE_ORDER).values_list("pk", "due_at")[:wanted]
    page = [pk for pk, _ in sorted(rows, key=_queue_sort_key)[offset:wanted]]
    found = Dossier.objects.select_related(*_RELATED).in_bulk(page)
    return [found[pk] for pk in page if pk in found]


def dossier_timeline(dossier: Dossier) -> list[dict[str, Any]]:
    """The dossier's events in order, labelled in the active language."""
    from .services import event_label

    events = DossierEvent.objects.filter(dossier=dossier).select_related("actor", "agency")
    return [
        {
            "at": event.at,
            "action": event.action,
            "label": event_label(event.action, event.to_status),
            "from_status": event.from_status,
            "to_status": event.to_status,
            "status_label": str(Status(event.to_status).label)
            if event.to_status in Status.values
            else "",
            "actor": (event.actor.full_name or event.actor.get_username()) if event.actor else "",
            "agency": event.agency.name if event.agency else "",
            "note": event.note,
            "data": event.data,
        }
        for event in events.order_by("at", "pk")
    ]


PUBLIC_CACHE_SECONDS = 300
"""How long a built public answer stays in the cache. Freshness does not depend on it: the key
holds the dossier's `updated_at`, which every change visible in the answer moves."""


def _public_key(pk: int, code: str, status: str, updated_at: str, lang: str) -> str:
    stamp = "".join(c for c in updated_at if c.isdigit())  # no spaces: memcached-safe
    return f"dossiers:public:{pk}:{code}:{status}:{stamp}:{lang}"


def _public_answer(dossier: Dossier) -> dict[str, Any]:
    """The public part of the look-up (no personal data): safe to cache and share."""
    from thudo.procedures.specs import spec_label

    from .services import event_label

    events = DossierEvent.objects.filter(dossier=dossier).exclude(action__in=PUBLIC_HIDDEN_ACTIONS)
    return {
        "code": dossier.code,
        "status": dossier.status,
        "status_label": str(Status(dossier.status).label),
        "procedure": spec_label(dossier.version.spec, translation.get_language()),
        "procedure_code": dossier.version.spec.get("code", ""),
        "receiving_agency": dossier.receiving_agency.name,
        "agency": dossier.agency.name,
        "submitted_at": dossier.submitted_at,
        "due_at": dossier.due_at,
        "appointment_at": dossier.appointment_at,
        "settled_at": dossier.settled_at,
        "on_time": dossier.on_time,
        "settled": dossier.status in SETTLED_STATUSES,
        "timeline": [
            {
                "at": event.at,
                "action": event.action,
                "label": event_label(event.action, event.to_status),
                "status": event.to_status,
            }
            for event in events.order_by("at", "pk")
        ],
        "proven": False,
        "applicant_name": None,
    }


def _public_row(code: str) -> tuple[int, str, str, str, str] | None:
    """The look-up's one query, by the unique code (the ORM's equivalent costs more to build
    than to run: this is the public hot path)."""
    qn = connection.ops.quote_name
    table = qn(Dossier._meta.db_table)
    columns = ", ".join(
        qn(c) for c in ("id", "status", "updated_at", "applicant_personal_id", "applicant_name")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {table} WHERE {qn('code')} = %s AND {qn('status')} <> %s",  # noqa: S608
            [code, Status.DRAFT.value],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    pk, status, updated_at, personal_id, name = row
    # `updated_at` only makes the cache key: its text as the database returns it will do.
    return int(pk), str(status), str(updated_at or ""), str(personal_id), str(name)


def dossier_public_status(*, code: str, personal_id: str | None = None) -> dict[str, Any]:
    """What anyone may learn from a dossier code: status, timeline (what happened and when,
    not who or why), the due date. The applicant's name only when `personal_id` matches.

    One indexed query (by the unique code) per call; the public part of the answer is cached
    under the dossier's id, code, status and `updated_at` (and the language), so any change
    to the dossier makes a new key and a stale answer is never served. The applicant's name is
    added per call and never cached."""
    code = " ".join(str(code or "").split()).upper()
    if not code:
        raise NotFound()
    found = _public_row(code)
    if found is None:
        raise NotFound()
    pk, status, updated_at, applicant_personal_id, applicant_name = found
    key = _public_key(pk, code, status, updated_at, translation.get_language() or "")
    answer: dict[str, Any] | None = cache.get(key)
    if answer is None:
        dossier = Dossier.objects.select_related("version", "receiving_agency", "agency").get(pk=pk)
        answer = _public_answer(dossier)
        cache.set(key, answer, PUBLIC_CACHE_SECONDS)
    proven = bool(personal_id) and str(personal_id).strip() == applicant_personal_id
    if proven:
        return {**answer, "proven": True, "applicant_name": applicant_name}
    return answer


def _fresh_key(code: str, lang: str) -> str:
    return f"dossiers:lookup:{code}:{lang}"


def public_answer_cached(*, code: str, lang: str) -> bytes | None:
    """The finished public answer (JSON) for `code`, if one was kept: the look-up's hot path,
    no query. Kept for `DOSSIER_LOOKUP_CACHE_SECONDS` and dropped as soon as the dossier
    changes (`public_answer_forget`), in this process and wherever the cache is shared."""
    return cache.get(_fresh_key(code, lang))


def public_answer_keep(*, code: str, lang: str, content: bytes) -> None:
    cache.set(_fresh_key(code, lang), content, settings.DOSSIER_LOOKUP_CACHE_SECONDS)


def public_answer_forget(code: str) -> None:
    cache.delete_many([_fresh_key(code, lang) for lang, _name in settings.LANGUAGES])


def dossier_actions(user: Any, dossier: Dossier) -> list[Transition]:
    """The transitions this user may take on the dossier now."""
    if not perms.can_view(user, dossier):
        return []
    return [
        t
        for t in actions_from(dossier.status)
        if perms.can_act(user, dossier, t) and perms.step_allows(dossier, t.action)
    ]


def dossier_files(dossier: Dossier) -> QuerySet[DossierFile]:
    return DossierFile.objects.filter(dossier=dossier).order_by("round", "paper_code", "pk")


def dossier_file(dossier: Dossier, file_id: int) -> DossierFile:
    """One of the dossier's papers, or NotFound."""
    paper = DossierFile.objects.filter(dossier=dossier, pk=file_id).first()
    if paper is None:
        raise NotFound(code="unknown_file")
    return paper


def dossier_document_links(dossier: Dossier) -> QuerySet[DossierDocument]:
    """The documents issued for the dossier (receipt, forms 02-05, the result), oldest first."""
    return (
        DossierDocument.objects.filter(dossier=dossier)
        .select_related("document")
        .order_by("created_at", "pk")
    )


def dossier_issued_document(dossier: Dossier, document_id: Any) -> DossierDocument:
    """The dossier's issued document with that public id, or NotFound. Whoever may see the
    dossier may read what was issued for it, even by another agency before a hand-off."""
    link = dossier_document_links(dossier).filter(document__public_id=document_id).first()
    if link is None:
        raise NotFound(code="unknown_document")
    return link


def dossier_documents(dossier: Dossier) -> list[Document]:
    return [link.document for link in dossier_document_links(dossier)]


def dossier_document(dossier: Dossier, kind: str) -> Document | None:
    """The latest document of `kind` issued for the dossier (no visibility check: callers have
    already loaded the dossier through `dossier_for` or are services)."""
    link = (
        DossierDocument.objects.filter(dossier=dossier, kind=kind)
        .select_related("document")
        .order_by("-created_at", "-pk")
        .first()
    )
    return link.document if link else None


def dossier_document_for(user: Any, dossier: Dossier, kind: str) -> Document | None:
    """The latest document of `kind` for a dossier the user may see (None if there is none)."""
    if not perms.can_view(user, dossier):
        raise NotFound()
    return dossier_document(dossier, kind)


def official_can_view(user: Any, dossier: Dossier) -> bool:
    """Whether the user sees the dossier as an official (not as its applicant)."""
    from thudo.accounts.permissions import can

    return can(user, Perm.DOSSIER_VIEW, dossier.agency) or can(
        user, Perm.DOSSIER_VIEW, dossier.receiving_agency
    )
