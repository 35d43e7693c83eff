"""The citizen's data tracker (like Estonia's Andmejälgija): every exchange on this node that
touched a citizen's data, notifications on each access, and objections that reach the agency
that made the access.

Reads are filtered by who asks: a citizen sees only the messages whose data subject is their own
personal ID; an official sees the objections of the agencies where they hold
Perm.EXCHANGE_MANAGE. Writes (subscription, objection, answer) are keyword-only services, each
in one transaction with its audit row; notifications are recorded in the transaction and their
e-mails go after commit (`thudo.notifications.services.notify`).

`on_exchange(message)` is called by the node after it has logged a client-side exchange.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency, Membership, User
from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import ROLE_PERMISSIONS, Perm
from thudo.core.audit import audit_record
from thudo.core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from thudo.core.registry import MenuEntry

from .models import AccessSubscription, Grant, Member, Message, Objection, Service, System

logger = logging.getLogger(__name__)

CITY_MEMBER_AGENCY = "HN-UBND"
"""The agency that receives an objection when the client member has no agency of its own (the
city committee; the demo's committee has the code "HN", tried next)."""
OBJECTION_MAX = 2000
ANSWER_MAX = 5000

MSG_OBJECTION_REQUIRED = _("Write what you object to.")
MSG_OBJECTION_TOO_LONG = _("Use at most 2,000 characters.")
MSG_ANSWER_REQUIRED = _("Write the answer to the citizen.")
MSG_ANSWER_TOO_LONG = _("Use at most 5,000 characters.")
MSG_NO_PERSONAL_ID = _("Your account has no personal ID number, so no data is linked to it.")
MSG_NO_AGENCY = _("No agency can receive objections yet. Please contact the city.")
MSG_ALREADY_ANSWERED = _("This objection has already been answered.")
MSG_NOT_YOURS = _("You may not answer objections for this agency.")

T_ACCESS = _("Your data was used: {service}")
B_ACCESS = _("{agency} ({system}) used “{service}” of {provider} on {when}. Purpose: {purpose}")
T_OBJECTION = _("A citizen objects to an access to their data")
B_OBJECTION = _("An objection about “{service}” used by {system} on {when} waits for an answer.")
T_ANSWERED = _("Your objection has been answered")
B_ANSWERED = _("{agency} answered your objection about “{service}”: {answer}")

TRACKER_MENU = [
    MenuEntry(_("My data"), "exchange_tracker:index", "citizen", icon="shield", order=28),
    MenuEntry(
        _("Data objections"),
        "exchange_tracker:objections",
        "official",
        icon="shield",
        order=62,
        permission=Perm.EXCHANGE_MANAGE,
    ),
]
"""Menu entries for the exchange manifest (the integrator registers them)."""


# --- identifiers and names ------------------------------------------------------------------


def split_identifier(identifier: str) -> list[str]:
    """The segments of a member, system or service identifier (VN/GOV/BCA/CSDLQGDC/person)."""
    return [part for part in (identifier or "").split("/") if part]


def _english() -> bool:
    return (get_language() or "vi").lower().startswith("en")


def local_name(obj: Any) -> str:
    """The object's name in the active language (English name when there is one)."""
    if obj is None:
        return ""
    if _english() and str(getattr(obj, "name_en", "") or ""):
        return str(obj.name_en)
    return str(obj.name)


@dataclass(frozen=True)
class Party:
    """Names of a system and its member (client or provider), resolved for display."""

    identifier: str
    member: str
    system: str
    member_obj: Member | None = None


@dataclass(frozen=True)
class ServiceInfo:
    identifier: str
    name: str
    provider: Party


class Directory:
    """Systems and services by identifier, read in a fixed number of queries for a page."""

    def __init__(self, systems: Iterable[str] = (), services: Iterable[str] = ()) -> None:
        self._systems: dict[str, System] = {}
        self._services: dict[str, Service] = {}
        system_ids = {s for s in systems if len(split_identifier(s)) == 4}
        service_ids = {s for s in services if len(split_identifier(s)) == 5}
        system_ids |= {"/".join(split_identifier(s)[:4]) for s in service_ids}
        if system_ids:
            q = Q()
            for identifier in system_ids:
                inst, cls, member, code = split_identifier(identifier)
                q |= Q(
                    member__instance=inst,
                    member__member_class=cls,
                    member__code=member,
                    code=code,
                )
            for system in System.objects.select_related("member", "member__agency").filter(q):
                self._systems[system.identifier] = system
        if service_ids:
            q = Q()
            for identifier in service_ids:
                inst, cls, member, system_code, code = split_identifier(identifier)
                q |= Q(
                    system__member__instance=inst,
                    system__member__member_class=cls,
                    system__member__code=member,
                    system__code=system_code,
                    code=code,
                )
            for service in Service.objects.select_related("system", "system__member").filter(q):
                self._services[service.identifier] = service

    def party(self, system_identifier: str) -> Party:
        system = self._systems.get(system_identifier)
        if system is None:
            parts = split_identifier(system_identifier)
            member = "/".join(parts[:3]) if len(parts) >= 3 else system_identifier
            return Party(system_identifier, member, system_identifier)
        return Party(
            system_identifier, local_name(system.member), local_name(system), system.member
        )

    def service(self, identifier: str) -> ServiceInfo:
        provider = self.party("/".join(split_identifier(identifier)[:4]))
        found = self._services.get(identifier)
        name = local_name(found) if found is not None else identifier
        return ServiceInfo(identifier, name, provider)


def service_describe(identifier: str) -> ServiceInfo:
    """Names of one service and its provider (for the once-only form)."""
    return Directory(services=[identifier]).service(identifier)


def legal_basis(*, client: str, service: str) -> str:
    """The legal basis of the client system's valid grant for the service ("" when none)."""
    c = split_identifier(client)
    s = split_identifier(service)
    if len(c) != 4 or len(s) != 5:
        return ""
    now = timezone.now()
    grant = (
        Grant.objects.filter(
            client__member__instance=c[0],
            client__member__member_class=c[1],
            client__member__code=c[2],
            client__code=c[3],
            service__system__member__instance=s[0],
            service__system__member__member_class=s[1],
            service__system__member__code=s[2],
            service__system__code=s[3],
            service__code=s[4],
            revoked_at__isnull=True,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-granted_at")
        .first()
    )
    return grant.legal_basis if grant is not None else ""


def proof_url(log_index: int | None) -> str:
    """The log's proof page of an entry ("" when there is no entry or no page)."""
    if log_index is None:
        return ""
    try:
        return reverse("exchange_log:proof", kwargs={"index": log_index})
    except NoReverseMatch:
        return ""


def _tracker_url() -> str:
    try:
        return reverse("exchange_tracker:index")
    except NoReverseMatch:
        return "/my-data/"


def status_label(message: Message) -> str:
    """What happened to the call, in words."""
    if message.error_code:
        return str(format_lazy(_("Refused or failed ({code})"), code=message.error_code))
    status = message.status
    if status is None:
        return str(_("In progress"))
    if 200 <= status < 300:
        return str(_("Data provided"))
    if status == 404:
        return str(_("No record found"))
    return str(format_lazy(_("Answered with status {status}"), status=status))


# --- the citizen's accesses -----------------------------------------------------------------


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def accesses_for(
    user: Any,
    *,
    member: str = "",
    service: str = "",
    start: date | None = None,
    end: date | None = None,
) -> QuerySet[Message]:
    """The client-side messages on this node whose data subject is the user, newest first;
    filtered by client member identifier, service identifier and local dates (inclusive)."""
    pid = str(getattr(user, "personal_id", "") or "")
    if not getattr(user, "is_authenticated", False) or not pid:
        return Message.objects.none()
    qs = Message.objects.filter(side=Message.Side.CLIENT, subject=pid)
    if member:
        qs = qs.filter(client__startswith=f"{member.rstrip('/')}/")
    if service:
        qs = qs.filter(service=service)
    if start:
        qs = qs.filter(started_at__gte=_local_start(start))
    if end:
        qs = qs.filter(started_at__lt=_local_start(end + timedelta(days=1)))
    return qs.order_by("-started_at", "-pk")


def access_get(user: Any, pk: int) -> Message:
    """One of the user's accesses (NotFound for anyone else's)."""
    found = accesses_for(user).filter(pk=pk).first()
    if found is None:
        raise NotFound
    return found


def access_filter_choices(user: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(members, services) that appear in the user's accesses, as (identifier, name)."""
    qs = accesses_for(user)
    clients = sorted(set(qs.values_list("client", flat=True)))
    services = sorted(set(qs.values_list("service", flat=True)))
    directory = Directory(systems=clients, services=services)
    members: dict[str, str] = {}
    for client in clients:
        identifier = "/".join(split_identifier(client)[:3])
        members.setdefault(identifier, directory.party(client).member)
    service_names = {s: directory.service(s) for s in services}
    return (
        sorted(members.items(), key=lambda m: m[1]),
        sorted(
            ((s, f"{info.name} — {info.provider.member}") for s, info in service_names.items()),
            key=lambda s: s[1],
        ),
    )


@dataclass
class AccessRow:
    message: Message
    client: Party
    service: ServiceInfo
    status: str
    proof_url: str
    dossier_code: str
    dossier_url: str
    objections: list[Objection]


def access_rows(user: Any, messages: Iterable[Message]) -> list[AccessRow]:
    """Display rows for a page of the user's accesses: names, the dossier (linked when it is
    the user's), the proof link and the user's objections; a fixed number of queries."""
    from thudo.dossiers.models import Dossier
    from thudo.dossiers.once_only import SOURCES_KEY

    messages = list(messages)
    if not messages:
        return []
    directory = Directory(
        systems=[m.client for m in messages], services=[m.service for m in messages]
    )
    codes = {m.dossier_code for m in messages if m.dossier_code}
    mine = Dossier.objects.filter(applicant=user)
    by_code = {d.code: d for d in mine.filter(code__in=codes)} if codes else {}
    # A form filled before the dossier existed names no dossier in the message; the dossier
    # keeps the message id of each verified field.
    by_message: dict[str, Any] = {}
    earliest = min(m.started_at for m in messages)
    for d in mine.filter(submitted_at__gte=earliest).only("pk", "public_id", "code", "data"):
        for provenance in ((d.data or {}).get(SOURCES_KEY) or {}).values():
            if isinstance(provenance, dict) and provenance.get("message_id"):
                by_message.setdefault(str(provenance["message_id"]), d)
    objections: dict[int, list[Objection]] = {}
    for o in Objection.objects.filter(user=user, message__in=messages).order_by("created_at"):
        objections.setdefault(o.message_id, []).append(o)
    rows = []
    for m in messages:
        dossier = by_code.get(m.dossier_code) or by_message.get(m.message_id)
        url = ""
        if dossier is not None:
            try:
                url = reverse("dossiers:detail", args=[dossier.public_id])
            except NoReverseMatch:
                url = ""
        rows.append(
            AccessRow(
                message=m,
                client=directory.party(m.client),
                service=directory.service(m.service),
                status=status_label(m),
                proof_url=proof_url(m.log_index),
                dossier_code=m.dossier_code or (str(dossier.code or "") if dossier else ""),
                dossier_url=url,
                objections=objections.get(m.pk, []),
            )
        )
    return rows


@dataclass
class ObjectionRow:
    objection: Objection
    message: Message
    client: Party
    service: ServiceInfo
    status: str
    proof_url: str


def access_rows_for_official(objections: Iterable[Objection]) -> list[ObjectionRow]:
    """Display rows for objections (with the access each is about), a fixed number of queries."""
    objections = list(objections)
    messages = [o.message for o in objections]
    directory = Directory(
        systems=[m.client for m in messages], services=[m.service for m in messages]
    )
    return [
        ObjectionRow(
            objection=o,
            message=o.message,
            client=directory.party(o.message.client),
            service=directory.service(o.message.service),
            status=status_label(o.message),
            proof_url=proof_url(o.message.log_index),
        )
        for o in objections
    ]


# --- subscriptions --------------------------------------------------------------------------


def is_subscribed(user: Any) -> bool:
    return AccessSubscription.objects.filter(user=user).exists()


@transaction.atomic
def subscription_set(*, user: Any, subscribed: bool) -> bool:
    """Subscribe the citizen to a notification on each access to their data, or stop it.
    Returns whether anything changed (an audit row is written then)."""
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied
    if not getattr(user, "personal_id", ""):
        raise ValidationFailed(MSG_NO_PERSONAL_ID)
    if subscribed:
        _obj, created = AccessSubscription.objects.get_or_create(user=user)
        changed = created
    else:
        changed = AccessSubscription.objects.filter(user=user).delete()[0] > 0
    if changed:
        audit_record(
            actor=user,
            action="exchange.subscribe" if subscribed else "exchange.unsubscribe",
            obj=user,
            to_state="subscribed" if subscribed else "unsubscribed",
        )
    return changed


def _lang_of(user: Any) -> str:
    return str(getattr(user, "language", "") or "vi")


def _notify(user: Any, title: Any, body: Any, *, url: str, **values: Any) -> None:
    """A notification in the recipient's language; its e-mail goes after commit."""
    from thudo.notifications.services import notify

    with translation.override(_lang_of(user)):
        rendered = {k: (str(v) if isinstance(v, Promise) else v) for k, v in values.items()}
        notify(
            user=user,
            title=str(format_lazy(title, **rendered)),
            body=str(format_lazy(body, **rendered)),
            url=url,
        )


def _when(moment: datetime | None) -> str:
    from django.utils.formats import date_format

    if moment is None:
        return ""
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def on_exchange(message: Message) -> None:
    """Tell the data subject about an exchange that reached the provider, when they subscribed.

    Called by the node after it logged a client-side message. It never raises: a failure to
    notify must not fail the exchange (it is logged)."""
    try:
        if message.side != Message.Side.CLIENT or not message.subject or message.error_code:
            return
        users = list(
            User.objects.filter(
                personal_id=message.subject, is_active=True, exchange_subscription__isnull=False
            )
        )
        if not users:
            return
        url = _tracker_url()
        for user in users:
            with translation.override(_lang_of(user)):
                directory = Directory(systems=[message.client], services=[message.service])
                client = directory.party(message.client)
                service = directory.service(message.service)
                _notify(
                    user,
                    T_ACCESS,
                    B_ACCESS,
                    url=url,
                    service=service.name,
                    agency=client.member,
                    system=client.system,
                    provider=service.provider.member,
                    when=_when(message.started_at),
                    purpose=message.purpose or "—",
                )
    except Exception:
        logger.exception("exchange tracker: could not notify about message %s", message.pk)


# --- objections -----------------------------------------------------------------------------


def objection_agency(message: Message) -> Agency | None:
    """The Thudo agency behind the client member of the message; the city committee when the
    member has none."""
    parts = split_identifier(message.client)
    if len(parts) >= 3:
        member = (
            Member.objects.select_related("agency")
            .filter(instance=parts[0], member_class=parts[1], code=parts[2])
            .first()
        )
        if member is not None and member.agency is not None:
            return member.agency
    found = Agency.objects.filter(code=CITY_MEMBER_AGENCY, is_active=True).first()
    if found is None:
        found = Agency.objects.filter(
            code="HN", kind=Agency.Kind.CITY_COMMITTEE, is_active=True
        ).first()
    if found is None:
        found = (
            Agency.objects.filter(kind=Agency.Kind.CITY_COMMITTEE, is_active=True)
            .order_by("parent_id", "code")
            .first()
        )
    return found


def _managers(agency: Agency) -> list[User]:
    """Active officials holding Perm.EXCHANGE_MANAGE in the agency (or above it)."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.EXCHANGE_MANAGE in perms]
    ids = [agency.pk, *(a.pk for a in agency.ancestors())]
    return list(
        User.objects.filter(
            pk__in=Membership.objects.filter(agency_id__in=ids, role__in=roles).values("user_id"),
            is_active=True,
        ).order_by("pk")
    )


def _objections_url(pk: int | None = None) -> str:
    try:
        if pk is None:
            return reverse("exchange_tracker:objections")
        return reverse("exchange_tracker:objection", args=[pk])
    except NoReverseMatch:
        return ""


@transaction.atomic
def objection_file(*, user: Any, message: Message, text: str) -> Objection:
    """The citizen objects to one access to their data: the objection goes to the agency of the
    client member, its data stewards are notified."""
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied
    pid = str(getattr(user, "personal_id", "") or "")
    if not pid or message.side != Message.Side.CLIENT or message.subject != pid:
        raise NotFound
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(fields={"text": MSG_OBJECTION_REQUIRED})
    if len(text) > OBJECTION_MAX:
        raise ValidationFailed(fields={"text": MSG_OBJECTION_TOO_LONG})
    agency = objection_agency(message)
    if agency is None:
        raise ValidationFailed(MSG_NO_AGENCY)
    objection = Objection.objects.create(user=user, message=message, agency=agency, text=text)
    audit_record(
        actor=user,
        action="exchange.objection_file",
        obj=objection,
        to_state=Objection.Status.OPEN,
        data={"message_id": message.message_id, "agency": agency.code},
    )
    url = _objections_url(objection.pk)
    for official in _managers(agency):
        with translation.override(_lang_of(official)):
            directory = Directory(systems=[message.client], services=[message.service])
            _notify(
                official,
                T_OBJECTION,
                B_OBJECTION,
                url=url,
                service=directory.service(message.service).name,
                system=directory.party(message.client).system,
                when=_when(message.started_at),
            )
    return objection


def objections_of(user: Any) -> QuerySet[Objection]:
    """The citizen's own objections, newest first."""
    if not getattr(user, "is_authenticated", False):
        return Objection.objects.none()
    return Objection.objects.filter(user=user).select_related("message", "agency")


def objections_for_official(user: Any, *, status: str = "") -> QuerySet[Objection]:
    """Objections to the agencies where the official holds Perm.EXCHANGE_MANAGE."""
    agencies = agencies_where(user, Perm.EXCHANGE_MANAGE)
    qs = Objection.objects.filter(agency_id__in=agencies).select_related(
        "message", "agency", "user"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("status", "-created_at", "-pk")


def objection_get_for_official(user: Any, pk: int) -> Objection:
    found = objections_for_official(user).filter(pk=pk).first()
    if found is None:
        raise NotFound
    return found


@transaction.atomic
def objection_answer(*, objection: Objection, actor: Any, answer: str) -> Objection:
    """A data steward of the agency answers; the citizen is notified."""
    locked = (
        Objection.objects.select_for_update(of=("self",))
        .select_related("agency", "message", "user")
        .get(pk=objection.pk)
    )
    if not can(actor, Perm.EXCHANGE_MANAGE, locked.agency):
        raise PermissionDenied(MSG_NOT_YOURS)
    if locked.status != Objection.Status.OPEN:
        raise InvalidTransition(MSG_ALREADY_ANSWERED)
    answer = (answer or "").strip()
    if not answer:
        raise ValidationFailed(fields={"answer": MSG_ANSWER_REQUIRED})
    if len(answer) > ANSWER_MAX:
        raise ValidationFailed(fields={"answer": MSG_ANSWER_TOO_LONG})
    locked.status = Objection.Status.ANSWERED
    locked.answer = answer
    locked.answered_by = actor
    locked.answered_at = timezone.now()
    locked.save(update_fields=["status", "answer", "answered_by", "answered_at"])
    audit_record(
        actor=actor,
        action="exchange.objection_answer",
        obj=locked,
        from_state=Objection.Status.OPEN,
        to_state=Objection.Status.ANSWERED,
        data={"message_id": locked.message.message_id, "agency": locked.agency.code},
    )
    citizen = locked.user
    with translation.override(_lang_of(citizen)):
        service = service_describe(locked.message.service)
        _notify(
            citizen,
            T_ANSWERED,
            B_ANSWERED,
            url=_tracker_url(),
            agency=local_name(locked.agency),
            service=service.name,
            answer=answer[:1000],
        )
    return locked
