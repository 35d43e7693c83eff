"""Every write of the dossiers domain: drafts, submission, the one-stop workflow, ratings.

All services are keyword-only and take `now` for tests. Each state change runs in one
transaction that locks the dossier, checks the transition (`workflow.transition_check`: 409)
and the actor (`permissions.can_act`: 403) before anything is written, and records a
`DossierEvent` and an audit row. Notifications and tasks are queued to run after commit.

Slow work stays out of the transactions: form and file checks run before the submitting
transaction opens, and signatures (receipt, result) are made with no transaction open; only
storing them takes a short lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.db.models.signals import post_delete, post_save
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency, Membership, User
from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import Perm, Role
from thudo.core.audit import audit_record
from thudo.core.calendar import WorkingCalendar, WorkingClock, get_calendar
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from thudo.documents.models import Document

from . import once_only
from . import permissions as perms
from .clock import clock_of, clock_start, clock_store
from .codes import dossier_code_allocate
from .models import (
    Channel,
    Delivery,
    Dossier,
    DossierDocument,
    DossierEvent,
    DossierFile,
    Rating,
    Status,
)
from .selectors import dossier_document
from .uploads import CheckedFile, files_delete, files_store, files_write, papers_check
from .workflow import TRANSITIONS, Transition, transition_check

logger = logging.getLogger(__name__)

SUPPLEMENT_WORKING_DAYS = 15
"""How long the applicant is given to supplement (printed on form 02; the clock is paused)."""
RATING_MIN, RATING_MAX = 1, 5
RUNNING_STATUSES = (Status.SUBMITTED, Status.RECEIVED, Status.PROCESSING, Status.APPROVED)
"""Open statuses in which the clock runs (a supplement request pauses it)."""
REMIND_HORIZON = timedelta(days=60)
"""Reminders look only at dossiers due within this wall-clock time (the share of any normal
legal deadline left, stretched by weekends and holidays, is well inside it)."""
DEFAULT_LANG = "vi"

# --- messages ------------------------------------------------------------------------------

MSG_NOT_YOURS = _("This dossier is not yours.")
MSG_NOT_VISIBLE = _("You cannot see this dossier.")
MSG_NOT_ALLOWED = _("You are not allowed to take this action on this dossier.")
MSG_PROCEDURE_CLOSED = _("This procedure is not open for submissions.")
MSG_NO_AGENCY = _("Choose the ward or commune that should receive the dossier.")
MSG_NO_DEPARTMENT = _("The agency competent for this procedure is not set up.")
MSG_WRONG_AGENCY = _("This agency does not receive dossiers for this procedure.")
MSG_DELIVERY = _("Choose how to receive the result.")
MSG_NOT_DRAFT = _("Only a draft can be edited.")
MSG_REASONS = _("Give at least one reason.")
MSG_MISSING = _("Name each missing paper or item.")
MSG_NOTHING_SUPPLEMENTED = _("Add the papers or the corrections that were asked for.")
MSG_LAST_STEP = _("This is the last step: approve or reject the dossier.")
MSG_NOT_APPROVER_STEP = _("The dossier is not at the approval step yet.")
MSG_SAME_AGENCY = _("Choose another agency.")
MSG_INACTIVE_AGENCY = _("This agency is not active.")
MSG_APPOINTMENT_PAST = _("The new appointment must be in the future.")
MSG_APPOINTMENT_EARLIER = _("The new appointment must be later than the current one.")
MSG_APPOINTMENT_NAIVE = _("Give the new appointment with its time zone.")
MSG_REASON = _("Give the reason.")
MSG_RATING = _("Choose a score from 1 to 5.")
MSG_ALREADY_RATED = _("This dossier has already been rated.")
MSG_RATE_TOO_EARLY = _("A dossier can be rated once its result has been returned.")
MSG_NAME = _("Enter the applicant's full name.")
MSG_EMAIL = _("Enter a valid e-mail address.")
MSG_NO_RESULT = _("The dossier has no result to sign.")
MSG_NO_RECEIVING_DESK = _("You do not receive dossiers for this procedure.")

T_SUBMITTED = _("Dossier {code} received")
B_SUBMITTED = _(
    "Your dossier for “{procedure}” has the code {code}. The result is due on {appointment}. "
    "Your receipt is ready to download."
)
T_SUPPLEMENT = _("Dossier {code}: please supplement it")
B_SUPPLEMENT = _("The agency asks you to supplement your dossier: {items}. {note}")
T_SUPPLEMENTED = _("Dossier {code} was supplemented")
B_SUPPLEMENTED = _("The applicant sent the supplement that was asked for.")
T_RESULT = _("Dossier {code}: the result is ready")
B_RESULT = _("The signed result of your dossier for “{procedure}” is ready. {how}")
B_RESULT_ONLINE = _("Download it from the dossier's page.")
B_RESULT_COUNTER = _("Collect it at the counter of {agency}.")
B_RESULT_POST = _("It will be sent to you by post.")
T_REFUSED = _("Dossier {code} was not accepted")
T_REJECTED = _("Dossier {code} was rejected")
B_REASONS = _("Reasons: {reasons}")
T_APOLOGY = _("Dossier {code}: new appointment")
B_APOLOGY = _(
    "We apologise: your dossier will not be ready on time. The new appointment is {appointment}. "
    "Reason: {reason}"
)
T_REMIND = _("Dossier {code} is nearly due")
B_REMIND = _("The dossier “{procedure}” is due on {due}.")
T_ESCALATE = _("Dossier {code} is overdue")
B_ESCALATE = _("The dossier “{procedure}” was due on {due}. It is held by {agency}.")

# Text the forms print that is not in the procedure's data, per document language.
DOC_TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "place": "Hà Nội",
        "online_officer": "Hệ thống tiếp nhận trực tuyến",
        "form": "Tờ khai",
        "submitted": "Nộp hồ sơ",
        "head": "Thủ trưởng cơ quan",
        "chair": "Chủ tịch",
        "director": "Giám đốc",
        "on_behalf": "TM. Ủy ban nhân dân",
        "yes": "Có",
        "no": "Không",
        "receipt": "Giấy tiếp nhận hồ sơ và hẹn trả kết quả {code}",
        "supplement_request": "Phiếu yêu cầu bổ sung hồ sơ {code}",
        "refusal": "Phiếu từ chối tiếp nhận, giải quyết hồ sơ {code}",
        "apology": "Phiếu xin lỗi và hẹn lại ngày trả kết quả {code}",
        "control_slip": "Phiếu kiểm soát quá trình giải quyết hồ sơ {code}",
        "result": "{title} — hồ sơ {code}",
    },
    "en": {
        "place": "Hanoi",
        "online_officer": "Online reception system",
        "form": "Application form",
        "submitted": "Submitted",
        "head": "Head of the agency",
        "chair": "Chairperson",
        "director": "Director",
        "on_behalf": "On behalf of the People's Committee",
        "yes": "Yes",
        "no": "No",
        "receipt": "Receipt and appointment {code}",
        "supplement_request": "Request to supplement {code}",
        "refusal": "Refusal of dossier {code}",
        "apology": "Apology and new appointment {code}",
        "control_slip": "Processing-control slip {code}",
        "result": "{title} — dossier {code}",
    },
}

# --- small helpers -------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _lang_of(user: Any) -> str:
    return str(getattr(user, "language", "") or DEFAULT_LANG)


def _label(item: Mapping[str, Any], lang: str | None = None) -> str:
    from thudo.procedures.specs import spec_label

    return spec_label(item, lang)


def _url(name: str, dossier: Dossier, fallback: str) -> str:
    try:
        return reverse(name, args=[dossier.public_id])
    except NoReverseMatch:
        return fallback


def dossier_url(dossier: Dossier) -> str:
    return _url("dossiers:detail", dossier, f"/dossiers/{dossier.public_id}/")


def lookup_url(dossier: Dossier) -> str:
    try:
        path = reverse("dossiers:lookup")
    except NoReverseMatch:
        path = "/lookup/"
    return f"{settings.THUDO_PUBLIC_URL}{path}?code={dossier.code}"


def _moment_text(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _text(message: Any, **kwargs: Any) -> str:
    return str(format_lazy(message, **kwargs)) if kwargs else str(message)


def _clean_lines(values: Iterable[Any]) -> list[str]:
    return [" ".join(str(v).split()) for v in values if isinstance(v, str) and v.strip()]


def _json_safe(data: Mapping[str, Any] | None) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if isinstance(value, str | int | float | bool) or value is None:
            safe[str(key)] = value
        elif isinstance(value, list | tuple):
            safe[str(key)] = [str(v) for v in value]
        else:
            safe[str(key)] = str(value)
    return safe


def _current_version(procedure: Any) -> Any:
    from thudo.procedures.selectors import procedure_current_version

    return procedure_current_version(procedure)


def _form_validate(spec: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    from thudo.procedures.specs import form_validate

    return form_validate(spec, data)


def _calendar() -> WorkingCalendar:
    return get_calendar()


def _locked(dossier: Dossier) -> Dossier:
    """The dossier, re-read under a row lock (PostgreSQL; SQLite serialises writers)."""
    return (
        Dossier.objects.select_for_update(of=("self",))
        .select_related("version", "procedure", "agency", "receiving_agency", "applicant")
        .get(pk=dossier.pk)
    )


def _begin(dossier: Dossier, actor: Any, action: str) -> tuple[Dossier, Transition]:
    """Lock, then check: visible (403), allowed from the status and the procedure's steps
    (409), allowed to this actor (403). Nothing has been written when any of these raises."""
    locked = _locked(dossier)
    if not perms.can_view(actor, locked):
        raise PermissionDenied(MSG_NOT_VISIBLE)
    transition = transition_check(action, locked.status)
    if not perms.step_allows(locked, action):
        raise InvalidTransition(MSG_LAST_STEP if action == "forward" else MSG_NOT_APPROVER_STEP)
    if not perms.can_act(actor, locked, transition):
        raise PermissionDenied(MSG_NOT_ALLOWED)
    return locked, transition


def _record(
    dossier: Dossier,
    *,
    actor: Any,
    action: str,
    from_status: str,
    to_status: str,
    at: datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> DossierEvent:
    """The timeline event and the audit row, in the caller's transaction."""
    event = _event(
        dossier,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        at=at,
        note=note,
        data=data,
    )
    _audit(dossier, actor=actor, event=event)
    return event


def _event(
    dossier: Dossier,
    *,
    actor: Any,
    action: str,
    from_status: str,
    to_status: str,
    at: datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> DossierEvent:
    """The timeline event (`_record` without the audit row)."""
    return DossierEvent.objects.create(
        dossier=dossier,
        at=at,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=_user(actor),
        agency=dossier.agency,
        note=note,
        data=data or {},
    )


def _audit(dossier: Dossier, *, actor: Any, event: DossierEvent) -> None:
    """The audit row of a timeline event (after the code is set: it names the dossier)."""
    audit_record(
        actor=actor,
        action=f"dossier.{event.action}",
        obj=dossier,
        from_state=event.from_status,
        to_state=event.to_status,
        data={"code": dossier.code or "", **(event.data or {})},
    )


def _notify(
    user: Any, title: Any, body: Any, *, url: str = "", email: str = "", **values: Any
) -> None:
    """A notification in the recipient's language (Vietnamese unless they chose another)."""
    from thudo.notifications.services import notify

    with translation.override(_lang_of(user)):
        rendered = {k: (str(v) if isinstance(v, Promise) else v) for k, v in values.items()}
        notify(
            user=user,
            title=_text(title, **rendered),
            body=_text(body, **rendered),
            url=url,
            email=email,
        )


def _notify_applicant(dossier: Dossier, title: Any, body: Any, **values: Any) -> None:
    with translation.override(_lang_of(dossier.applicant)):
        procedure = _label(dossier.version.spec)
    _notify(
        dossier.applicant,
        title,
        body,
        url=dossier_url(dossier),
        email=dossier.applicant_email,
        code=dossier.code or "",
        procedure=procedure,
        **values,
    )


def _settle(dossier: Dossier, at: datetime) -> None:
    clock = clock_of(dossier)
    dossier.settled_at = at
    dossier.on_time = True if clock is None else not clock.is_overdue(at)


def _resume_moment(clock: WorkingClock, at: datetime) -> datetime:
    last = clock.started_at
    if clock.pauses:
        paused_at, resumed_at = clock.pauses[-1]
        last = resumed_at or paused_at
    return max(at, last)


# --- the competent agency ------------------------------------------------------------------


def competent_agency(
    *, spec: Mapping[str, Any], applicant: Any = None, receiving_agency: Agency | None = None
) -> Agency:
    """The agency that receives a dossier of this procedure (ValidationFailed if none).

    Department procedures go to the department named by the spec; ward/commune procedures to the
    chosen ward agency, by default the one of the applicant's ward of residence.
    """
    kind = str(spec.get("agency_kind") or "")
    if kind == Agency.Kind.DEPARTMENT:
        code = str(spec.get("department_code") or "")
        department = Agency.objects.filter(code=code, is_active=True).first() if code else None
        if department is None:
            raise ValidationFailed(fields={"receiving_agency": MSG_NO_DEPARTMENT})
        return department
    if receiving_agency is not None:
        if not receiving_agency.is_active or (kind and receiving_agency.kind != kind):
            raise ValidationFailed(fields={"receiving_agency": MSG_WRONG_AGENCY})
        return receiving_agency
    home_unit_id = getattr(applicant, "home_unit_id", None)
    if kind == Agency.Kind.COMMUNE_COMMITTEE:
        found = None
        if home_unit_id:
            found = (
                Agency.objects.filter(admin_unit_id=home_unit_id, kind=kind, is_active=True)
                .order_by("code")
                .first()
            )
        if found is None:
            raise ValidationFailed(fields={"receiving_agency": MSG_NO_AGENCY})
        return found
    found = Agency.objects.filter(kind=kind, is_active=True).order_by("code").first()
    if found is None:
        raise ValidationFailed(fields={"receiving_agency": MSG_NO_DEPARTMENT})
    return found


class _AgencyCache:
    """Active agencies by code, kept per process for `AGENCY_CACHE_SECONDS` (a submission
    names its receiving agency by code; agencies change rarely, by an administrator). A save
    or delete of any agency empties this process's cache at once; other processes see the
    change within the time limit, as with the working calendar (core/calendar.py)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Agency]] = {}

    def get(self, code: str) -> Agency | None:
        hit = self._items.get(code)
        if hit is not None and monotonic() - hit[0] < AGENCY_CACHE_SECONDS:
            return hit[1]
        agency = (
            Agency.objects.select_related("parent", "parent__parent")
            .filter(code=code, is_active=True)
            .first()
        )
        if agency is not None:
            with self._lock:
                if len(self._items) >= 4096:
                    self._items.clear()
                self._items[code] = (monotonic(), agency)
        return agency

    def clear(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self._items.clear()


AGENCY_CACHE_SECONDS = 60.0
_agencies = _AgencyCache()
post_save.connect(_agencies.clear, sender=Agency, dispatch_uid="dossiers.agency_cache_saved")
post_delete.connect(_agencies.clear, sender=Agency, dispatch_uid="dossiers.agency_cache_deleted")


def receiving_agency_get(*, code: str) -> Agency | None:
    """The active agency with this code, or None (from the process's cache: treat it as
    read-only)."""
    return _agencies.get(code)


# --- drafts and submission -----------------------------------------------------------------


@transaction.atomic
def dossier_draft_save(
    *,
    procedure: Any,
    applicant: Any,
    data: Mapping[str, Any],
    dossier: Dossier | None = None,
    receiving_agency: Agency | None = None,
) -> Dossier:
    """Create or update a draft: the form as typed so far, not validated; no code, no clock."""
    if _user(applicant) is None:
        raise PermissionDenied(MSG_NOT_YOURS)
    if dossier is not None:
        dossier = _locked(dossier)
        if dossier.applicant_id != applicant.pk:
            raise PermissionDenied(MSG_NOT_YOURS)
        if dossier.status != Status.DRAFT:
            raise InvalidTransition(MSG_NOT_DRAFT)
        dossier.data = _json_safe(data)
        fields = ["data", "updated_at"]
        if receiving_agency is not None and receiving_agency.pk != dossier.receiving_agency_id:
            agency = competent_agency(
                spec=dossier.version.spec, applicant=applicant, receiving_agency=receiving_agency
            )
            dossier.receiving_agency = dossier.agency = agency
            dossier.unit_id = agency.admin_unit_id
            fields += ["receiving_agency", "agency", "unit"]
        dossier.save(update_fields=fields)
        return dossier
    if not procedure.is_active:
        raise ValidationFailed(fields={"procedure": MSG_PROCEDURE_CLOSED})
    version = _current_version(procedure)
    agency = competent_agency(
        spec=version.spec, applicant=applicant, receiving_agency=receiving_agency
    )
    dossier = Dossier.objects.create(
        procedure=procedure,
        version=version,
        applicant=applicant,
        applicant_name=applicant.full_name or applicant.get_username(),
        applicant_personal_id=applicant.personal_id or "",
        applicant_phone=applicant.phone or "",
        applicant_email=applicant.email or "",
        receiving_agency=agency,
        agency=agency,
        unit_id=agency.admin_unit_id,
        status=Status.DRAFT,
        data=_json_safe(data),
    )
    audit_record(actor=applicant, action="dossier.draft", obj=dossier, to_state=Status.DRAFT)
    return dossier


def _validated(
    *, spec: Mapping[str, Any], data: Mapping[str, Any], files: Any, require_papers: bool = True
) -> tuple[dict[str, Any], list[CheckedFile], dict[str, Any]]:
    """The cleaned form and files, and every error (form fields and "paper:<code>")."""
    errors: dict[str, Any] = {}
    cleaned: dict[str, Any] = {}
    try:
        cleaned = _form_validate(spec, data)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    checked, paper_errors = papers_check(spec=spec, files=files, require=require_papers)
    errors.update(paper_errors)
    return cleaned, checked, errors


def _start_clock(dossier: Dossier, spec: Mapping[str, Any], now: datetime) -> None:
    calendar = _calendar()
    clock = clock_start(dict(spec), now, calendar)
    dossier.submitted_at = now
    dossier.received_at = clock.started_at
    clock_store(dossier, clock, calendar)
    dossier.appointment_at = dossier.due_at


@dataclasses.dataclass
class Submission:
    """What `dossier_submission` did: the dossier, and whether this call created it (False: the
    idempotency key named one made before). For a created dossier, its files and timeline as
    written, so a caller can answer without reading them back."""

    dossier: Dossier
    created: bool
    files: list[DossierFile] = dataclasses.field(default_factory=list)
    events: list[DossierEvent] = dataclasses.field(default_factory=list)


def dossier_submit(
    *,
    procedure: Any,
    applicant: Any,
    data: Mapping[str, Any],
    files: Mapping[str, Sequence[Any]] | None,
    receiving_agency: Agency | None = None,
    delivery: str = Delivery.ONLINE,
    idempotency_key: str = "",
    draft: Dossier | None = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> Dossier:
    """Submit a dossier online (`dossier_submission`); the dossier."""
    return dossier_submission(
        procedure=procedure,
        applicant=applicant,
        data=data,
        files=files,
        receiving_agency=receiving_agency,
        delivery=delivery,
        idempotency_key=idempotency_key,
        draft=draft,
        sources=sources,
        now=now,
    ).dossier


def dossier_submission(
    *,
    procedure: Any,
    applicant: Any,
    data: Mapping[str, Any],
    files: Mapping[str, Sequence[Any]] | None,
    receiving_agency: Agency | None = None,
    delivery: str = Delivery.ONLINE,
    idempotency_key: str = "",
    draft: Dossier | None = None,
    version: Any = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> Submission:
    """Submit a dossier online. Validates the form and every paper first (all errors at once,
    nothing written) and writes the papers to storage, then in one transaction: the dossier,
    its files, the event, the code, the audit row, the notification. The receipt is made and
    signed when first asked for (`dossier_receipt_issue`, ADR 0010), not here. On any failure
    no row and no file remain, and the day's number is given back. The same
    `idempotency_key` returns the same dossier (`created` False).

    `version` is the procedure's current version when the caller has already read it (it is
    used only if it belongs to the procedure submitted). The day's number is taken last, just
    before the audit row and the notification that show it: the counter's row lock, which
    every submission to the same unit on the same day waits for, is held from there to the
    commit only.

    Once-only: `sources` is what the page fetched from the registries for the spec's sourced
    fields (`once_only.Prefill.sources_record`): a verified field takes the fetched value
    whatever `data` says, and the dossier keeps each sourced field's provenance under
    `once_only.SOURCES_KEY` of its data (docs/once-only.md)."""
    now = _now(now)
    if _user(applicant) is None:
        raise PermissionDenied(MSG_NOT_YOURS)
    key = (idempotency_key or "").strip()[:80]
    if key:
        existing = _idempotent(applicant, key)
        if existing is not None:
            return Submission(existing, created=False)
    if draft is not None:
        if draft.applicant_id != applicant.pk:
            raise PermissionDenied(MSG_NOT_YOURS)
        if draft.status != Status.DRAFT:
            raise InvalidTransition(MSG_NOT_DRAFT)
        procedure = draft.procedure
    if not procedure.is_active:
        raise ValidationFailed(fields={"procedure": MSG_PROCEDURE_CLOSED})
    if version is None or version.procedure_id != procedure.pk:
        version = _current_version(procedure)
    spec = version.spec
    forced, provenance = once_only.sources_clean(spec, sources)
    if forced:
        data = {**data, **forced}
    cleaned, checked, errors = _validated(spec=spec, data=data, files=files)
    if provenance and not errors:
        cleaned[once_only.SOURCES_KEY] = provenance
    if delivery not in Delivery.values:
        errors["delivery"] = MSG_DELIVERY
    if receiving_agency is None and draft is not None:
        receiving_agency = draft.receiving_agency
    agency: Agency | None = None
    try:
        agency = competent_agency(spec=spec, applicant=applicant, receiving_agency=receiving_agency)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors or agency is None:
        raise ValidationFailed(fields=errors)

    dossier = draft if draft is not None else Dossier(procedure=procedure, applicant=applicant)
    stored: list[str] = []
    try:
        # The papers go to storage before the transaction opens (their names need only the
        # dossier's public id); a failure below deletes them.
        rows = files_write(dossier=dossier, checked=checked, stored=stored, uploaded_by=applicant)
        with transaction.atomic():
            if draft is not None:
                dossier = _locked(draft)
                if dossier.status != Status.DRAFT:
                    raise InvalidTransition(MSG_NOT_DRAFT)
            dossier.version = version
            dossier.applicant_name = applicant.full_name or applicant.get_username()
            dossier.applicant_personal_id = applicant.personal_id or ""
            dossier.applicant_phone = applicant.phone or ""
            dossier.applicant_email = applicant.email or ""
            dossier.receiving_agency = dossier.agency = agency
            dossier.unit_id = agency.admin_unit_id
            dossier.channel = Channel.ONLINE
            dossier.delivery = delivery
            dossier.status = Status.SUBMITTED
            dossier.step = 0
            dossier.data = cleaned
            dossier.idempotency_key = key
            dossier.digitised = bool(checked)
            _start_clock(dossier, spec, now)
            # The idempotency race raises IntegrityError here: the whole transaction rolls back
            # and the dossier the other request made is returned below (no savepoint needed).
            dossier.save()
            for row in rows:
                row.dossier = dossier
            created_files = DossierFile.objects.bulk_create(rows)
            event = _event(
                dossier,
                actor=applicant,
                action="submit",
                from_status=Status.DRAFT,
                to_status=Status.SUBMITTED,
                at=now,
                data={"channel": Channel.ONLINE, "files": len(checked)},
            )
            # Last: the code, then what shows it. From here to the commit the day's counter row
            # is locked (PostgreSQL); everything else is already written.
            dossier.code = dossier_code_allocate(agency=agency, moment=now)
            dossier.save(update_fields=["code"])
            _audit(dossier, actor=applicant, event=event)
            _notify_applicant(
                dossier, T_SUBMITTED, B_SUBMITTED, appointment=_moment_text(dossier.appointment_at)
            )
    except IntegrityError:
        files_delete(stored)
        if key:
            existing = _idempotent(applicant, key)
            if existing is not None:
                return Submission(existing, created=False)
        raise
    except BaseException:
        files_delete(stored)
        raise
    return Submission(dossier, created=True, files=created_files, events=[event])


def _idempotent(applicant: Any, key: str) -> Dossier | None:
    """The dossier this applicant already submitted with this idempotency key, if any. The
    probe reads only the id through the unique index (almost always there is none: a plain
    statement, cheaper to build than the ORM's); the row is read when found."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn('id')} FROM {qn(Dossier._meta.db_table)} "  # noqa: S608
            f"WHERE {qn('applicant_id')} = %s AND {qn('idempotency_key')} = %s",
            [applicant.pk, key],
        )
        row = cursor.fetchone()
    return None if row is None else Dossier.objects.get(pk=row[0])


def _citizen_for(applicant: Mapping[str, Any]) -> tuple[User | None, dict[str, Any]]:
    """Check the applicant's details given at the counter; the existing account if any."""
    from thudo.accounts.personal_id import parse_personal_id

    errors: dict[str, Any] = {}
    name = " ".join(str(applicant.get("name") or "").split())
    if not name:
        errors["applicant.name"] = MSG_NAME
    personal_id = str(applicant.get("personal_id") or "").strip()
    try:
        parse_personal_id(personal_id, field="applicant.personal_id")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    email = str(applicant.get("email") or "").strip()
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            errors["applicant.email"] = MSG_EMAIL
    if errors:
        return None, errors
    return User.objects.filter(personal_id=personal_id).first(), {}


def _citizen_create(applicant: Mapping[str, Any]) -> User:
    from thudo.accounts.personal_id import parse_personal_id

    parsed = parse_personal_id(str(applicant["personal_id"]).strip())
    username = parsed.number
    if User.objects.filter(username=username).exists():
        username = f"c{parsed.number}"
    user = User(
        username=username,
        personal_id=parsed.number,
        full_name=" ".join(str(applicant["name"]).split()),
        sex=parsed.sex,
        phone=str(applicant.get("phone") or "")[:20],
        email=str(applicant.get("email") or ""),
        kind=User.Kind.CITIZEN,
    )
    user.set_unusable_password()
    with transaction.atomic():
        user.save()
    audit_record(actor="counter", action="citizen.create", obj=user, to_state="active")
    return user


def dossier_intake(
    *,
    officer: Any,
    procedure: Any,
    applicant: Mapping[str, Any],
    data: Mapping[str, Any],
    files: Mapping[str, Sequence[Any]] | None,
    delivery: str = Delivery.COUNTER,
    now: datetime | None = None,
) -> Dossier:
    """A receiving officer files a dossier for a citizen at the counter: received at once.

    `applicant` is {name, personal_id, phone, email, address}; the citizen's account is found by
    personal ID, or made (without a password) when there is none. Papers brought on paper need
    not be scanned: files are optional, and checked like online ones when given."""
    now = _now(now)
    if not procedure.is_active:
        raise ValidationFailed(fields={"procedure": MSG_PROCEDURE_CLOSED})
    version = _current_version(procedure)
    spec = version.spec
    kind = str(spec.get("agency_kind") or "")
    agency: Agency | None
    if kind == Agency.Kind.DEPARTMENT:
        agency = competent_agency(spec=spec)
    else:
        agency = (
            Agency.objects.filter(
                pk__in=agencies_where(officer, Perm.DOSSIER_RECEIVE), kind=kind, is_active=True
            )
            .order_by("code")
            .first()
        )
    if agency is None or not can(officer, Perm.DOSSIER_RECEIVE, agency):
        raise PermissionDenied(MSG_NO_RECEIVING_DESK)
    cleaned, checked, errors = _validated(spec=spec, data=data, files=files, require_papers=False)
    if delivery not in Delivery.values:
        errors["delivery"] = MSG_DELIVERY
    user, applicant_errors = _citizen_for(applicant)
    errors.update(applicant_errors)
    if errors:
        raise ValidationFailed(fields=errors)

    stored: list[str] = []
    try:
        with transaction.atomic():
            if user is None:
                user = _citizen_create(applicant)
            code = dossier_code_allocate(agency=agency, moment=now)
            dossier = Dossier(
                procedure=procedure,
                version=version,
                applicant=user,
                code=code,
                applicant_name=" ".join(str(applicant["name"]).split())[:150],
                applicant_personal_id=str(applicant["personal_id"]).strip(),
                applicant_phone=str(applicant.get("phone") or "")[:20],
                applicant_email=str(applicant.get("email") or "") or user.email or "",
                applicant_address=str(applicant.get("address") or "")[:300],
                receiving_agency=agency,
                agency=agency,
                unit_id=agency.admin_unit_id,
                channel=Channel.COUNTER,
                delivery=delivery,
                status=Status.RECEIVED,
                holder=officer,
                data=cleaned,
                digitised=bool(checked),
            )
            _start_clock(dossier, spec, now)
            dossier.save()
            files_store(dossier=dossier, checked=checked, stored=stored, uploaded_by=officer)
            _record(
                dossier,
                actor=officer,
                action="submit",
                from_status=Status.DRAFT,
                to_status=Status.SUBMITTED,
                at=now,
                data={"channel": Channel.COUNTER, "files": len(checked)},
            )
            _record(
                dossier,
                actor=officer,
                action="receive",
                from_status=Status.SUBMITTED,
                to_status=Status.RECEIVED,
                at=now,
            )
            _notify_applicant(
                dossier, T_SUBMITTED, B_SUBMITTED, appointment=_moment_text(dossier.appointment_at)
            )
    except BaseException:
        files_delete(stored)
        raise
    return dossier


# --- documents -----------------------------------------------------------------------------


def _doc_common(agency: Agency, lang: str) -> dict[str, Any]:
    return {
        "agency": agency.name if lang == "vi" else (agency.name_en or agency.name),
        "parent_agency": (
            (agency.parent.name if lang == "vi" else (agency.parent.name_en or agency.parent.name))
            if agency.parent_id and agency.parent
            else ""
        ),
        "place": DOC_TEXT[lang]["place"],
        "date": timezone.localdate(),
    }


def _doc_dossier(dossier: Dossier, lang: str) -> dict[str, Any]:
    return {
        "dossier_code": dossier.code,
        "applicant_name": dossier.applicant_name,
        "procedure": _label(dossier.version.spec, lang),
        "received_at": dossier.received_at or dossier.submitted_at,
    }


def _issue(
    dossier: Dossier,
    *,
    kind: str,
    agency: Agency,
    context: Mapping[str, Any],
    actor: Any = None,
    lang: str = DEFAULT_LANG,
    title_values: Mapping[str, Any] | None = None,
) -> Document:
    """Render a form, store it as a document of the applicant, and link it to the dossier."""
    from thudo.documents.rendering import render_document
    from thudo.documents.services import document_create

    pdf = render_document(kind, context, lang=lang)
    title = DOC_TEXT[lang][kind].format(code=dossier.code, **(title_values or {}))
    document = document_create(
        kind=kind,
        title=title,
        agency=agency,
        pdf=pdf,
        subject=dossier.applicant,
        reference=dossier.code or "",
        actor=actor,
    )
    DossierDocument.objects.create(dossier=dossier, document=document, kind=kind)
    return document


def _papers_table(dossier: Dossier, lang: str) -> list[dict[str, Any]]:
    spec = dossier.version.spec
    counts: dict[str, int] = {}
    for code in DossierFile.objects.filter(dossier=dossier).values_list("paper_code", flat=True):
        counts[code] = counts.get(code, 0) + 1
    rows = []
    for paper in spec.get("papers", []):
        count = counts.get(str(paper.get("code")), 0)
        if count or (dossier.channel == Channel.COUNTER and paper.get("required")):
            rows.append({"name": _label(paper, lang), "count": max(count, 1)})
    return rows or [{"name": DOC_TEXT[lang]["form"], "count": 1}]


def _receipt_context(dossier: Dossier, lang: str) -> dict[str, Any]:
    spec = dossier.version.spec
    try:
        days = float(spec.get("deadline_days") or 0)
    except (TypeError, ValueError):
        days = 0
    officer = (
        (dossier.holder.full_name or dossier.holder.get_username())
        if dossier.channel == Channel.COUNTER and dossier.holder_id and dossier.holder
        else DOC_TEXT[lang]["online_officer"]
    )
    with translation.override(lang):
        delivery = str(Delivery(dossier.delivery).label)
    return {
        **_doc_common(dossier.receiving_agency, lang),
        **_doc_dossier(dossier, lang),
        "applicant_id": dossier.applicant_personal_id or "—",
        "applicant_address": dossier.applicant_address,
        "applicant_phone": dossier.applicant_phone,
        "applicant_email": dossier.applicant_email,
        "papers": _papers_table(dossier, lang),
        "processing_days": int(days) if days >= 1 and days == int(days) else None,
        "due_at": dossier.appointment_at or dossier.due_at,
        "result_delivery": delivery,
        "officer": officer,
        "lookup_url": lookup_url(dossier),
    }


def _signed(document: Document) -> bool:
    return document.versions.filter(signatures__gt=0).exists()


def dossier_receipt_issue(*, dossier: Dossier) -> Document:
    """The dossier's receipt (form 01), signed by the receiving agency, made on the first request
    for it (the citizen's or the counter officer's download; ADR 0010). Idempotent: made once
    under a lock on the dossier, then signed with no transaction open (a second signer that
    finds the document changed leaves the first signature)."""
    from thudo.documents.pki import CredentialError
    from thudo.documents.services import DocumentChanged, document_sign

    document = dossier_document(dossier, Document.Kind.RECEIPT)
    if document is None:
        with transaction.atomic():
            locked = (
                Dossier.objects.select_for_update(of=("self",))
                .select_related("version", "receiving_agency__parent", "holder", "applicant")
                .get(pk=dossier.pk)
            )
            if not locked.code:
                raise InvalidTransition(_("A draft has no receipt."))
            document = dossier_document(locked, Document.Kind.RECEIPT)
            if document is None:
                document = _issue(
                    locked,
                    kind=Document.Kind.RECEIPT,
                    agency=locked.receiving_agency,
                    context=_receipt_context(locked, DEFAULT_LANG),
                )
    if not _signed(document):
        try:
            document_sign(
                document=document,
                actor="dossier_receipt_issue",
                signer_label=document.agency.name,
                level="B-T",
                check_permission=False,
            )
        except DocumentChanged:
            pass  # signed meanwhile by the task or another request
        except CredentialError:
            logger.warning(
                "receipt %s not signed: %s has no usable key", dossier.code, document.agency
            )
    return document


def dossier_control_slip(*, dossier: Dossier, actor: Any) -> Document:
    """The processing-control slip (form 05): the dossier's timeline as hand-overs."""
    dossier = Dossier.objects.select_related(
        "version", "agency__parent", "receiving_agency", "applicant"
    ).get(pk=dossier.pk)
    if not perms.can_view(actor, dossier):
        raise PermissionDenied(MSG_NOT_VISIBLE)
    if not dossier.code:
        raise InvalidTransition(_("A draft has no control slip."))
    lang = DEFAULT_LANG
    events = list(
        DossierEvent.objects.filter(dossier=dossier)
        .select_related("actor", "agency")
        .order_by("at", "pk")
    )
    steps: list[dict[str, Any]] = []
    giver = dossier.applicant_name
    coordinating: list[str] = []
    with translation.override(lang):
        for event in events:
            receiver = (
                (event.actor.full_name or event.actor.get_username())
                if event.actor
                else (event.agency.name if event.agency else "—")
            )
            steps.append(
                {
                    "handed_over_by": giver,
                    "received_by": receiver,
                    "at": event.at,
                    "result": event_label(event.action, event.to_status),
                }
            )
            giver = receiver
            to_code = (event.data or {}).get("to_agency_name")
            if event.action == "hand_off" and to_code and to_code not in coordinating:
                coordinating.append(str(to_code))
    context = {
        **_doc_common(dossier.agency, lang),
        **_doc_dossier(dossier, lang),
        "handling_agency": dossier.agency.name,
        "coordinating_agencies": ", ".join(coordinating),
        "steps": steps,
    }
    with transaction.atomic():
        return _issue(
            dossier,
            kind=Document.Kind.CONTROL_SLIP,
            agency=dossier.agency,
            context=context,
            actor=actor,
        )


EVENT_LABELS: dict[str, Any] = {
    "submit": _("Submitted"),
    "remind": _("Reminder sent"),
    "escalate": _("Escalated to the approvers"),
    "rate": _("Rated by the applicant"),
    "draft": _("Draft saved"),
}


def event_label(action: str, to_status: str = "") -> str:
    """What an event says in the timeline, in the active language."""
    if action in EVENT_LABELS:
        return str(EVENT_LABELS[action])
    transition = TRANSITIONS.get(action)
    if transition is not None:
        return str(transition.label)
    if to_status in Status.values:
        return str(Status(to_status).label)
    return action


# --- transitions ---------------------------------------------------------------------------


def _actor_name(actor: Any) -> str:
    return str(getattr(actor, "full_name", "") or getattr(actor, "get_username", lambda: "")())


@transaction.atomic
def dossier_receive(*, dossier: Dossier, actor: Any, now: datetime | None = None) -> Dossier:
    """The one-stop desk accepts the dossier as complete."""
    now = _now(now)
    d, transition = _begin(dossier, actor, "receive")
    previous = d.status
    d.status = str(transition.target)
    d.holder = actor
    d.save(update_fields=["status", "holder", "updated_at"])
    _record(d, actor=actor, action="receive", from_status=previous, to_status=d.status, at=now)
    return d


def _settle_with_reasons(
    *, dossier: Dossier, actor: Any, action: str, reasons: list[str], now: datetime, title: Any
) -> Dossier:
    """Refuse at reception or reject after processing: settled, with form 03 giving the
    reasons, issued by the agency that decided (the receiving desk, or the holder)."""
    cleaned = _clean_lines(reasons or [])
    if not cleaned:
        raise ValidationFailed(fields={"reasons": MSG_REASONS})
    d, transition = _begin(dossier, actor, action)
    previous = d.status
    d.status = str(transition.target)
    d.holder = actor
    _settle(d, now)
    d.save(update_fields=["status", "holder", "settled_at", "on_time", "updated_at"])
    _record(
        d,
        actor=actor,
        action=action,
        from_status=previous,
        to_status=d.status,
        at=now,
        note="\n".join(cleaned),
        data={"reasons": cleaned},
    )
    issuer = d.receiving_agency if action == "refuse" else d.agency
    _issue(
        d,
        kind=Document.Kind.REFUSAL,
        agency=issuer,
        actor=actor,
        context={
            **_doc_common(issuer, DEFAULT_LANG),
            **_doc_dossier(d, DEFAULT_LANG),
            "reasons": cleaned,
            "officer": _actor_name(actor),
        },
    )
    _notify_applicant(d, title, B_REASONS, reasons="; ".join(cleaned))
    return d


@transaction.atomic
def dossier_refuse(
    *, dossier: Dossier, actor: Any, reasons: list[str], now: datetime | None = None
) -> Dossier:
    """Refuse to accept the dossier (form 03, with the reasons); it is settled."""
    return _settle_with_reasons(
        dossier=dossier,
        actor=actor,
        action="refuse",
        reasons=reasons,
        now=_now(now),
        title=T_REFUSED,
    )


@transaction.atomic
def dossier_request_supplement(
    *,
    dossier: Dossier,
    actor: Any,
    missing: list[dict[str, str]],
    note: str = "",
    now: datetime | None = None,
) -> Dossier:
    """Ask the applicant to supplement (form 02); the clock pauses until they do."""
    now = _now(now)
    items = []
    for entry in missing or []:
        name = (
            " ".join(str((entry or {}).get("name") or "").split())
            if isinstance(entry, Mapping)
            else ""
        )
        if not name:
            raise ValidationFailed(fields={"missing": MSG_MISSING})
        items.append({"name": name, "note": " ".join(str(entry.get("note") or "").split())})
    if not items:
        raise ValidationFailed(fields={"missing": MSG_MISSING})
    d, transition = _begin(dossier, actor, "request_supplement")
    previous = d.status
    calendar = _calendar()
    clock = clock_of(d)
    if clock is not None:
        clock.pause(_resume_moment(clock, now))
        clock_store(d, clock, calendar)
    d.resume_status = previous
    d.status = str(transition.target)
    d.save(update_fields=["status", "resume_status", "clock", "due_at", "updated_at"])
    _record(
        d,
        actor=actor,
        action="request_supplement",
        from_status=previous,
        to_status=d.status,
        at=now,
        note=note,
        data={"missing": items},
    )
    lang = DEFAULT_LANG
    _issue(
        d,
        kind=Document.Kind.SUPPLEMENT_REQUEST,
        agency=d.agency,
        actor=actor,
        context={
            **_doc_common(d.agency, lang),
            **_doc_dossier(d, lang),
            "missing": [{"item": i["name"], "reason": i["note"] or None} for i in items],
            "deadline": calendar.add_working_days(now, SUPPLEMENT_WORKING_DAYS),
            "contact": d.agency.name,
            "officer": _actor_name(actor),
        },
    )
    _notify_applicant(
        d, T_SUPPLEMENT, B_SUPPLEMENT, items="; ".join(i["name"] for i in items), note=note
    )
    return d


def dossier_supplement(
    *,
    dossier: Dossier,
    actor: Any,
    files: Mapping[str, Sequence[Any]] | None,
    data: Mapping[str, Any] | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Dossier:
    """The applicant sends what was asked for; the clock resumes and the dossier returns to
    where it was. Files are checked like at submission and kept as a new round."""
    now = _now(now)
    current = Dossier.objects.select_related("version").get(pk=dossier.pk)
    if _user(actor) is None or current.applicant_id != actor.pk:
        raise PermissionDenied(MSG_NOT_YOURS)
    spec = current.version.spec
    errors: dict[str, Any] = {}
    cleaned_data: dict[str, Any] | None = None
    if data:
        # Values verified from a registry stay as fetched; their provenance is kept.
        provenance = once_only.dossier_sources(current)
        verified = {n for n, p in provenance.items() if p.get("verified")}
        data = {k: v for k, v in data.items() if k not in verified}
        try:
            cleaned_data = _form_validate(spec, {**(current.data or {}), **data})
        except ValidationFailed as exc:
            errors.update(exc.fields)
        if cleaned_data is not None and provenance:
            cleaned_data[once_only.SOURCES_KEY] = provenance
    checked, paper_errors = papers_check(spec=spec, files=files, require=False)
    errors.update(paper_errors)
    if errors:
        raise ValidationFailed(fields=errors)
    if not checked and cleaned_data is None and not note.strip():
        raise ValidationFailed(fields={"files": MSG_NOTHING_SUPPLEMENTED})
    stored: list[str] = []
    try:
        with transaction.atomic():
            d, _transition = _begin(dossier, actor, "supplement")
            previous = d.status
            calendar = _calendar()
            clock = clock_of(d)
            if clock is not None and clock.is_paused:
                clock.resume(_resume_moment(clock, now))
                clock_store(d, clock, calendar)
                if d.due_at and (d.appointment_at is None or d.appointment_at < d.due_at):
                    d.appointment_at = d.due_at
            d.status = d.resume_status or Status.SUBMITTED
            d.resume_status = ""
            if cleaned_data is not None:
                d.data = cleaned_data
            if checked:
                d.digitised = True
            d.save()
            rounds = DossierFile.objects.filter(dossier=d).aggregate(m=Max("round"))["m"]
            files_store(
                dossier=d,
                checked=checked,
                stored=stored,
                round=(rounds or 0) + 1,
                uploaded_by=actor,
            )
            _record(
                d,
                actor=actor,
                action="supplement",
                from_status=previous,
                to_status=d.status,
                at=now,
                note=note,
                data={"files": len(checked), "data": bool(cleaned_data)},
            )
            if d.holder_id and d.holder:
                _notify(
                    d.holder,
                    T_SUPPLEMENTED,
                    B_SUPPLEMENTED,
                    url=_url("dossiers:work", d, f"/workspace/dossiers/{d.public_id}/"),
                    code=d.code,
                )
    except BaseException:
        files_delete(stored)
        raise
    return d


def _first_processing_step(dossier: Dossier) -> int:
    steps = perms.dossier_steps(dossier)
    for index, step in enumerate(steps):
        if step.get("role") != Role.RECEIVING_OFFICER:
            return index
    return 0


@transaction.atomic
def dossier_start_processing(
    *, dossier: Dossier, actor: Any, now: datetime | None = None
) -> Dossier:
    now = _now(now)
    d, transition = _begin(dossier, actor, "start_processing")
    previous = d.status
    d.status = str(transition.target)
    d.step = _first_processing_step(d)
    d.holder = actor
    d.save(update_fields=["status", "step", "holder", "updated_at"])
    _record(
        d,
        actor=actor,
        action="start_processing",
        from_status=previous,
        to_status=d.status,
        at=now,
        data={"step": d.step},
    )
    return d


@transaction.atomic
def dossier_forward(
    *, dossier: Dossier, actor: Any, note: str = "", now: datetime | None = None
) -> Dossier:
    """Hand the dossier to the procedure's next step (its role's officials pick it up)."""
    now = _now(now)
    d, _transition = _begin(dossier, actor, "forward")
    previous_step = d.step
    d.step = previous_step + 1
    d.holder = None
    d.save(update_fields=["step", "holder", "updated_at"])
    step = perms.current_step(d) or {}
    _record(
        d,
        actor=actor,
        action="forward",
        from_status=d.status,
        to_status=d.status,
        at=now,
        note=note,
        data={"from_step": previous_step, "to_step": d.step, "role": step.get("role", "")},
    )
    return d


@transaction.atomic
def dossier_hand_off(
    *, dossier: Dossier, actor: Any, to_agency: Agency, note: str = "", now: datetime | None = None
) -> Dossier:
    """Pass the dossier to another agency (one-stop liên thông); that agency now holds it."""
    now = _now(now)
    if to_agency is None or to_agency.pk == dossier.agency_id:
        raise ValidationFailed(fields={"to_agency": MSG_SAME_AGENCY})
    if not to_agency.is_active:
        raise ValidationFailed(fields={"to_agency": MSG_INACTIVE_AGENCY})
    d, _transition = _begin(dossier, actor, "hand_off")
    source = d.agency
    d.agency = to_agency
    d.holder = None
    d.save(update_fields=["agency", "holder", "updated_at"])
    _record(
        d,
        actor=actor,
        action="hand_off",
        from_status=d.status,
        to_status=d.status,
        at=now,
        note=note,
        data={
            "from_agency": source.code,
            "to_agency": to_agency.code,
            "to_agency_name": to_agency.name,
        },
    )
    return d


def _signer_title(agency: Agency, lang: str) -> tuple[str, str]:
    text = DOC_TEXT[lang]
    if agency.kind == Agency.Kind.COMMUNE_COMMITTEE or agency.kind == Agency.Kind.CITY_COMMITTEE:
        return text["chair"], text["on_behalf"]
    if agency.kind == Agency.Kind.DEPARTMENT:
        return text["director"], ""
    return text["head"], ""


def _result_fields(dossier: Dossier, lang: str) -> list[tuple[str, str]]:
    from thudo.procedures.specs import choice_label

    spec = dossier.version.spec
    by_name = {str(f.get("name")): f for f in spec.get("fields", [])}
    names = list((spec.get("result") or {}).get("fields") or []) or list(by_name)
    rows: list[tuple[str, str]] = []
    for name in names:
        field = by_name.get(str(name))
        value = (dossier.data or {}).get(str(name))
        if field is None or value in (None, ""):
            continue
        if field.get("type") == "boolean":
            text = DOC_TEXT[lang]["yes" if value else "no"]
        elif field.get("type") == "choice":
            text = next(
                (
                    choice_label(c, lang)
                    for c in field.get("choices", [])
                    if str(c[0]) == str(value)
                ),
                str(value),
            )
        elif field.get("type") == "date":
            try:
                text = datetime.fromisoformat(str(value)).strftime("%d/%m/%Y")
            except ValueError:
                text = str(value)
        else:
            text = str(value)
        rows.append((_label(field, lang), text))
    return rows or [(DOC_TEXT[lang]["submitted"], dossier.code or "")]


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _result_context(dossier: Dossier, actor: Any, lang: str) -> dict[str, Any]:
    result = dossier.version.spec.get("result") or {}
    body = str(result.get("body") or "")
    with contextlib.suppress(ValueError, IndexError):
        body = body.format_map(_Blank({k: str(v) for k, v in (dossier.data or {}).items()}))
    title, on_behalf = _signer_title(dossier.agency, lang)
    return {
        **_doc_common(dossier.agency, lang),
        "number": dossier.code,
        "title": _label(
            {
                "title": result.get("title") or dossier.version.spec.get("name", ""),
                "title_en": result.get("title_en", ""),
            },
            lang,
        ),
        "body": body,
        "issued_to": dossier.applicant_name,
        "fields": _result_fields(dossier, lang),
        "dossier_code": dossier.code,
        "signer": _actor_name(actor),
        "signer_title": title,
        "signer_on_behalf": on_behalf,
    }


@transaction.atomic
def dossier_approve(
    *, dossier: Dossier, actor: Any, note: str = "", now: datetime | None = None
) -> Dossier:
    """Approve: the result is generated from the procedure's template, not signed yet."""
    now = _now(now)
    d, transition = _begin(dossier, actor, "approve")
    previous = d.status
    d.status = str(transition.target)
    d.holder = actor
    d.save(update_fields=["status", "holder", "updated_at"])
    _record(
        d,
        actor=actor,
        action="approve",
        from_status=previous,
        to_status=d.status,
        at=now,
        note=note,
    )
    result = d.version.spec.get("result") or {}
    _issue(
        d,
        kind=Document.Kind.RESULT,
        agency=d.agency,
        actor=actor,
        context=_result_context(d, actor, DEFAULT_LANG),
        title_values={"title": result.get("title") or _label(d.version.spec, DEFAULT_LANG)},
    )
    return d


@transaction.atomic
def dossier_reject(
    *, dossier: Dossier, actor: Any, reasons: list[str], now: datetime | None = None
) -> Dossier:
    """Reject with reasons (form 03 from the holding agency); the dossier is settled."""
    return _settle_with_reasons(
        dossier=dossier,
        actor=actor,
        action="reject",
        reasons=reasons,
        now=_now(now),
        title=T_REJECTED,
    )


def _result_how(dossier: Dossier) -> Any:
    if dossier.delivery == Delivery.COUNTER:
        return format_lazy(B_RESULT_COUNTER, agency=dossier.receiving_agency.name)
    if dossier.delivery == Delivery.POST:
        return B_RESULT_POST
    return B_RESULT_ONLINE


def dossier_sign_result(*, dossier: Dossier, actor: Any, now: datetime | None = None) -> Dossier:
    """The approver signs the result (PAdES B-LTA); the dossier is settled.

    Checks first (nothing written if they fail), signs with no transaction open, then records
    the new status in its own short transaction after checking again that nobody moved the
    dossier meanwhile."""
    with transaction.atomic():
        _begin(dossier, actor, "sign_result")
    document = dossier_document(dossier, Document.Kind.RESULT)
    if document is None:
        raise InvalidTransition(MSG_NO_RESULT)
    from thudo.documents.services import document_sign

    if not _signed(document):
        document_sign(document=document, actor=actor, level="B-LTA")
    now = _now(now)
    with transaction.atomic():
        d, transition = _begin(dossier, actor, "sign_result")
        previous = d.status
        d.status = str(transition.target)
        _settle(d, now)
        d.save(update_fields=["status", "settled_at", "on_time", "updated_at"])
        _record(
            d,
            actor=actor,
            action="sign_result",
            from_status=previous,
            to_status=d.status,
            at=now,
            data={"document": str(document.public_id), "on_time": d.on_time},
        )
        _notify_applicant(d, T_RESULT, B_RESULT, how=_result_how(d))
    return d


def _return(d: Dossier, *, actor: Any, now: datetime, data: dict[str, Any]) -> Dossier:
    previous = d.status
    d.status = Status.RETURNED
    d.returned_at = now
    d.save(update_fields=["status", "returned_at", "delivery", "updated_at"])
    _record(
        d,
        actor=actor,
        action="return_result",
        from_status=previous,
        to_status=d.status,
        at=now,
        data=data,
    )
    return d


@transaction.atomic
def dossier_return_result(
    *, dossier: Dossier, actor: Any, delivery: str | None = None, now: datetime | None = None
) -> Dossier:
    """The desk hands over the result (or the rejection) at the counter or by post."""
    now = _now(now)
    if delivery is not None and delivery not in Delivery.values:
        raise ValidationFailed(fields={"delivery": MSG_DELIVERY})
    d, _transition = _begin(dossier, actor, "return_result")
    if delivery:
        d.delivery = delivery
    return _return(d, actor=actor, now=now, data={"delivery": d.delivery})


@transaction.atomic
def dossier_result_downloaded(
    *, dossier: Dossier, user: Any, now: datetime | None = None
) -> Dossier:
    """The applicant downloaded the signed result: an online delivery is returned by this first
    download. Anything else (another reader, a later download) changes nothing."""
    now = _now(now)
    if _user(user) is None or dossier.applicant_id != user.pk:
        return dossier
    if dossier.status != Status.SIGNED or dossier.delivery != Delivery.ONLINE:
        return dossier
    d = _locked(dossier)
    if d.status != Status.SIGNED or d.delivery != Delivery.ONLINE:
        return d
    return _return(d, actor=user, now=now, data={"delivery": Delivery.ONLINE, "by": "download"})


@transaction.atomic
def dossier_apologise(
    *,
    dossier: Dossier,
    actor: Any,
    new_appointment: datetime,
    reason: str,
    now: datetime | None = None,
) -> Dossier:
    """The agency will be late: apology with a new appointment (form 04)."""
    now = _now(now)
    reason = " ".join(str(reason or "").split())
    errors: dict[str, Any] = {}
    if not reason:
        errors["reason"] = MSG_REASON
    if not isinstance(new_appointment, datetime) or timezone.is_naive(new_appointment):
        errors["new_appointment"] = MSG_APPOINTMENT_NAIVE
    elif new_appointment <= now:
        errors["new_appointment"] = MSG_APPOINTMENT_PAST
    if errors:
        raise ValidationFailed(fields=errors)
    d, _transition = _begin(dossier, actor, "apologise")
    original = d.appointment_at or d.due_at
    if original is not None and new_appointment <= original:
        raise ValidationFailed(fields={"new_appointment": MSG_APPOINTMENT_EARLIER})
    d.appointment_at = new_appointment
    d.apologised_at = now
    d.save(update_fields=["appointment_at", "apologised_at", "updated_at"])
    _record(
        d,
        actor=actor,
        action="apologise",
        from_status=d.status,
        to_status=d.status,
        at=now,
        note=reason,
        data={
            "original": original.isoformat() if original else None,
            "new_appointment": new_appointment.isoformat(),
        },
    )
    title, _on_behalf = _signer_title(d.agency, DEFAULT_LANG)
    _issue(
        d,
        kind=Document.Kind.APOLOGY,
        agency=d.agency,
        actor=actor,
        context={
            **_doc_common(d.agency, DEFAULT_LANG),
            **_doc_dossier(d, DEFAULT_LANG),
            "original_due": original or new_appointment,
            "new_due": new_appointment,
            "reason": reason,
            "signer": _actor_name(actor),
            "signer_title": title,
        },
    )
    _notify_applicant(
        d, T_APOLOGY, B_APOLOGY, appointment=_moment_text(new_appointment), reason=reason
    )
    return d


@transaction.atomic
def dossier_close(*, dossier: Dossier, actor: Any, now: datetime | None = None) -> Dossier:
    now = _now(now)
    d, transition = _begin(dossier, actor, "close")
    previous = d.status
    d.status = str(transition.target)
    d.closed_at = now
    d.save(update_fields=["status", "closed_at", "updated_at"])
    _record(d, actor=actor, action="close", from_status=previous, to_status=d.status, at=now)
    return d


@transaction.atomic
def dossier_rate(
    *,
    dossier: Dossier,
    applicant: Any,
    attitude: int,
    timeliness: int,
    contacts: int,
    clarity: int,
    comment: str = "",
    now: datetime | None = None,
) -> Rating:
    """The applicant rates the service once, after the result was returned (1 to 5 each)."""
    now = _now(now)
    scores = {
        "attitude": attitude,
        "timeliness": timeliness,
        "contacts": contacts,
        "clarity": clarity,
    }
    errors = {}
    for name, value in scores.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not (RATING_MIN <= value <= RATING_MAX)
        ):
            errors[name] = MSG_RATING
    if errors:
        raise ValidationFailed(fields=errors)
    d = _locked(dossier)
    if _user(applicant) is None or d.applicant_id != applicant.pk:
        raise PermissionDenied(MSG_NOT_YOURS)
    if d.status not in (Status.RETURNED, Status.CLOSED):
        raise InvalidTransition(MSG_RATE_TOO_EARLY)
    if Rating.objects.filter(dossier=d).exists():
        raise InvalidTransition(MSG_ALREADY_RATED, code="already_rated")
    try:
        with transaction.atomic():
            rating = Rating.objects.create(
                dossier=d, comment=str(comment or "").strip()[:2000], created_at=now, **scores
            )
    except IntegrityError:
        raise InvalidTransition(MSG_ALREADY_RATED, code="already_rated") from None
    d.save(update_fields=["updated_at"])  # the public look-up's timeline shows the rating
    _record(
        d,
        actor=applicant,
        action="rate",
        from_status=d.status,
        to_status=d.status,
        at=now,
        data=scores,
    )
    return rating


# --- reminders and escalation --------------------------------------------------------------


def _officials(agency: Agency, role: str) -> list[User]:
    ids = [agency.pk, *(a.pk for a in agency.ancestors())]
    return list(
        User.objects.filter(
            pk__in=Membership.objects.filter(agency_id__in=ids, role=role).values("user_id"),
            is_active=True,
        ).order_by("pk")
    )


def dossiers_remind(*, now: datetime | None = None) -> dict[str, int]:
    """Periodic: remind the holder (or the step's officials) once when less than
    DOSSIER_REMIND_AT_SHARE of the legal time is left, and escalate each overdue dossier once
    to the approvers of the agency holding it. Each dossier is handled in its own short
    transaction that re-checks under a lock, so two runs never notify twice."""
    now = _now(now)
    calendar = _calendar()
    share = float(settings.DOSSIER_REMIND_AT_SHARE)
    base = Dossier.objects.filter(status__in=RUNNING_STATUSES, due_at__isnull=False)
    reminded = escalated = 0
    for pk in (
        base.filter(escalated_at__isnull=True, due_at__lt=now)
        .values_list("pk", flat=True)
        .iterator()
    ):
        escalated += _escalate_one(pk, now, calendar)
    # Working time left is at most the wall-clock time left, so anything due within the budget's
    # share in wall-clock terms qualifies; weekends and holidays stretch it, hence the margin.
    horizon = now + REMIND_HORIZON
    candidates = base.filter(reminded_at__isnull=True, due_at__gte=now, due_at__lte=horizon)
    for pk in candidates.values_list("pk", flat=True).iterator():
        reminded += _remind_one(pk, now, calendar, share)
    return {"reminded": reminded, "escalated": escalated}


def _remind_one(pk: int, now: datetime, calendar: WorkingCalendar, share: float) -> int:
    with transaction.atomic():
        d = (
            Dossier.objects.select_for_update(of=("self",))
            .select_related("version", "agency", "holder")
            .filter(pk=pk, reminded_at__isnull=True)
            .first()
        )
        if d is None or d.status not in RUNNING_STATUSES:
            return 0
        clock = clock_of(d)
        if clock is None or clock.is_paused or not clock.budget:
            return 0
        left = clock.remaining(now, calendar=calendar)
        if left >= clock.budget * share or clock.is_overdue(now, calendar=calendar):
            return 0
        recipients = (
            [d.holder] if d.holder_id and d.holder else _officials(d.agency, perms.current_role(d))
        )
        d.reminded_at = now
        d.save(update_fields=["reminded_at", "updated_at"])
        _record(
            d,
            actor="dossiers_remind",
            action="remind",
            from_status=d.status,
            to_status=d.status,
            at=now,
            data={"to": [u.pk for u in recipients], "left_seconds": int(left.total_seconds())},
        )
        for user in recipients:
            _notify(
                user,
                T_REMIND,
                B_REMIND,
                url=_url("dossiers:work", d, f"/workspace/dossiers/{d.public_id}/"),
                code=d.code,
                procedure=_label(d.version.spec, _lang_of(user)),
                due=_moment_text(d.due_at),
            )
        return 1


def _escalate_one(pk: int, now: datetime, calendar: WorkingCalendar) -> int:
    with transaction.atomic():
        d = (
            Dossier.objects.select_for_update(of=("self",))
            .select_related("version", "agency")
            .filter(pk=pk, escalated_at__isnull=True)
            .first()
        )
        if d is None or d.status not in RUNNING_STATUSES:
            return 0
        clock = clock_of(d)
        if clock is None or not clock.is_overdue(now, calendar=calendar):
            return 0
        approvers = _officials(d.agency, Role.APPROVER)
        d.escalated_at = now
        d.save(update_fields=["escalated_at", "updated_at"])
        _record(
            d,
            actor="dossiers_remind",
            action="escalate",
            from_status=d.status,
            to_status=d.status,
            at=now,
            data={"to": [u.pk for u in approvers]},
        )
        for user in approvers:
            _notify(
                user,
                T_ESCALATE,
                B_ESCALATE,
                url=_url("dossiers:work", d, f"/workspace/dossiers/{d.public_id}/"),
                code=d.code,
                procedure=_label(d.version.spec, _lang_of(user)),
                due=_moment_text(d.due_at),
                agency=d.agency.name,
            )
        return 1


__all__ = [
    "competent_agency",
    "dossier_apologise",
    "dossier_approve",
    "dossier_close",
    "dossier_control_slip",
    "dossier_document",
    "dossier_draft_save",
    "dossier_forward",
    "dossier_hand_off",
    "dossier_intake",
    "dossier_rate",
    "dossier_receipt_issue",
    "dossier_receive",
    "dossier_refuse",
    "dossier_reject",
    "dossier_request_supplement",
    "dossier_result_downloaded",
    "dossier_return_result",
    "dossier_sign_result",
    "dossier_start_processing",
    "dossier_submit",
    "dossier_supplement",
    "dossiers_remind",
    "event_label",
]
