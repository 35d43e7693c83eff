"""The officials' dossiers API: the agency's queue, one dossier as the official sees it, the
workflow actions, the papers and documents, and the counter intake.

Included in the dossiers router (mounted at /api/dossiers/). Authentication: a system token, or
the page session of an official who has passed the second factor. Errors share the API's body
`{code, message, fields}`: 404 `not_found` (a dossier the caller may not see), 403
`permission_denied` (an official acting on another agency's dossier, or without the role),
409 `invalid_transition` (not allowed from the current status; nothing changes), 422
`validation_failed` with field errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Form, Query, Router, Schema, Status
from pydantic import ValidationError as PydanticValidationError

from thudo.accounts.models import Agency
from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.api.auth import SessionAuth, token_auth
from thudo.core.errors import NotFound, PermissionDenied, ValidationFailed
from thudo.documents import selectors as document_selectors
from thudo.procedures import selectors as procedure_selectors
from thudo.procedures.specs import spec_label

from . import selectors, services
from .models import Dossier
from .models import Status as DossierStatus
from .schemas import multipart_doc
from .views_official import ACTION_FORMS, action_perform, due_state, soon_until

PAGE_MAX = 100


class VerifiedSessionAuth(SessionAuth):
    """The page session, for officials only once they passed the second factor."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None:
            return None
        if getattr(user, "is_official", False) and not user.is_verified():
            return None
        return user


official_router = Router(tags=["dossiers: officials"], auth=[token_auth, VerifiedSessionAuth()])
router = official_router  # the name the dossiers API includes


# --- schemas -------------------------------------------------------------------------------

DueFilter = Literal["overdue", "soon"]
ActionName = Literal[
    "receive",
    "refuse",
    "request_supplement",
    "start_processing",
    "forward",
    "hand_off",
    "approve",
    "reject",
    "sign_result",
    "return_result",
    "apologise",
    "close",
]
DeliveryIn = Literal["online", "counter", "post"]


class QueueItemOut(Schema):
    id: UUID
    code: str | None
    procedure: str
    procedure_name: str
    applicant_name: str
    status: str
    status_label: str
    channel: str
    agency: str
    submitted_at: datetime | None
    due_at: datetime | None
    due: str = Field(description='"overdue", "soon", "paused" or "" (the queue\'s badge).')


class QueuePageOut(Schema):
    items: list[QueueItemOut]
    offset: int
    limit: int
    has_more: bool = Field(description="Whether a next page exists (the queue is not counted).")


class ApplicantOut(Schema):
    name: str
    personal_id: str
    phone: str
    email: str
    address: str


class PaperFileOut(Schema):
    id: int
    paper: str
    name: str
    content_type: str
    size: int
    round: int
    uploaded_at: datetime
    url: str


class IssuedDocumentOut(Schema):
    id: UUID
    kind: str
    title: str
    created_at: datetime
    url: str


class TimelineEventOut(Schema):
    at: datetime
    action: str
    label: str
    from_status: str
    to_status: str
    note: str


class OfficialDossierOut(Schema):
    id: UUID
    code: str | None
    procedure: str
    procedure_name: str
    version: int
    status: str
    status_label: str
    step: int
    channel: str
    delivery: str
    applicant: ApplicantOut
    receiving_agency: str
    agency: str
    holder: str | None
    submitted_at: datetime | None
    received_at: datetime | None
    due_at: datetime | None
    appointment_at: datetime | None
    settled_at: datetime | None
    on_time: bool | None
    due: str
    data: dict[str, Any]
    files: list[PaperFileOut]
    documents: list[IssuedDocumentOut]
    timeline: list[TimelineEventOut]
    actions: list[str] = Field(description="The actions the caller may take now.")


class MissingItemIn(Schema):
    paper: str | None = Field(
        default=None, max_length=40, description="A paper's code; its name is filled in."
    )
    name: str = Field(default="", max_length=300, description="What is missing, in words.")
    note: str = Field(default="", max_length=1000)


class ActionIn(Schema):
    """The body of an action; each action reads only its own fields."""

    reasons: list[str] = Field(
        default_factory=list, description="refuse, reject: the reasons (at least one)."
    )
    missing: list[MissingItemIn] = Field(
        default_factory=list, description="request_supplement: what to supplement (at least one)."
    )
    note: str = Field(
        default="",
        max_length=2000,
        description="request_supplement, forward, hand_off, approve: a note.",
    )
    to_agency: str | None = Field(
        default=None, max_length=32, description="hand_off: the receiving agency's code."
    )
    new_appointment: datetime | None = Field(
        default=None, description="apologise: the new appointment (with time zone)."
    )
    reason: str = Field(default="", max_length=2000, description="apologise: why it is late.")
    delivery: DeliveryIn | None = Field(
        default=None, description="return_result: how the result is returned."
    )


class IntakeApplicantIn(Schema):
    name: str = Field(max_length=150)
    personal_id: str = Field(pattern=r"^\d{12}$")
    phone: str = Field(default="", max_length=20)
    email: str = Field(default="", max_length=254)
    address: str = Field(default="", max_length=300)


class IntakeIn(Schema):
    """The JSON of the `payload` part of a counter intake (the scans are the other parts)."""

    applicant: IntakeApplicantIn
    data: dict[str, Any] = Field(default_factory=dict)
    delivery: DeliveryIn = "counter"


_INTAKE_DOC = multipart_doc("IntakeIn", papers="A scanned paper")


# --- helpers -------------------------------------------------------------------------------


def _require_official(request: HttpRequest, permission: str = Perm.DOSSIER_VIEW) -> None:
    if not can(request.user, permission):
        raise PermissionDenied(code="not_an_official")


def _dossier(request: HttpRequest, public_id: UUID, *, acting: bool = False) -> Dossier:
    """The dossier if the caller may see it. An official acting on another agency's dossier
    is told 403; everyone else who may not see it, 404."""
    try:
        return selectors.dossier_for(request.user, public_id=public_id)
    except NotFound:
        if acting and Dossier.objects.filter(public_id=public_id).exists():
            raise PermissionDenied(
                _("This dossier belongs to another agency."), code="other_agency"
            ) from None
        raise


def _procedure_name(d: Dossier) -> str:
    spec = d.version.spec or {}
    return spec_label(spec) if spec else d.procedure.name


def _event(e: Any) -> TimelineEventOut:
    def get(key: str) -> Any:
        return e.get(key) if isinstance(e, dict) else getattr(e, key, None)

    return TimelineEventOut(
        at=get("at"),
        action=get("action") or "",
        label=str(get("label") or get("action") or ""),
        from_status=get("from_status") or "",
        to_status=get("to_status") or "",
        note=get("note") or "",
    )


def _out(request: HttpRequest, d: Dossier) -> OfficialDossierOut:
    files = [
        PaperFileOut(
            id=f.pk,
            paper=f.paper_code,
            name=f.original_name,
            content_type=f.content_type,
            size=f.size,
            round=f.round,
            uploaded_at=f.uploaded_at,
            url=reverse(
                "api:official_dossier_file", kwargs={"public_id": d.public_id, "file_id": f.pk}
            ),
        )
        for f in selectors.dossier_files(d)
    ]
    documents = [
        IssuedDocumentOut(
            id=link.document.public_id,
            kind=link.kind,
            title=link.document.title,
            created_at=link.created_at,
            url=reverse(
                "api:official_dossier_document",
                kwargs={"public_id": d.public_id, "document_id": link.document.public_id},
            ),
        )
        for link in selectors.dossier_document_links(d)
    ]
    return OfficialDossierOut(
        id=d.public_id,
        code=d.code,
        procedure=d.procedure.code,
        procedure_name=_procedure_name(d),
        version=d.version.number,
        status=d.status,
        status_label=str(d.get_status_display()),
        step=d.step,
        channel=d.channel,
        delivery=d.delivery,
        applicant=ApplicantOut(
            name=d.applicant_name,
            personal_id=d.applicant_personal_id,
            phone=d.applicant_phone,
            email=d.applicant_email,
            address=d.applicant_address,
        ),
        receiving_agency=d.receiving_agency.code,
        agency=d.agency.code,
        holder=str(d.holder) if d.holder_id else None,
        submitted_at=d.submitted_at,
        received_at=d.received_at,
        due_at=d.due_at,
        appointment_at=d.appointment_at,
        settled_at=d.settled_at,
        on_time=d.on_time,
        due=due_state(d, timezone.now()),
        data=d.data,
        files=files,
        documents=documents,
        timeline=[_event(e) for e in selectors.dossier_timeline(d)],
        actions=[
            t.action for t in selectors.dossier_actions(request.user, d) if t.action in ACTION_FORMS
        ],
    )


def _required(fields: dict[str, Any], name: str) -> None:
    fields[name] = _("This field is required.")


def _arguments(action: str, dossier: Dossier, body: ActionIn) -> dict[str, Any]:
    """The service's keyword arguments for `action`, from the JSON body."""
    errors: dict[str, Any] = {}
    args: dict[str, Any] = {}
    if action in ("refuse", "reject"):
        reasons = [r.strip() for r in body.reasons if r.strip()]
        if not reasons:
            errors["reasons"] = _("Give at least one reason.")
        args["reasons"] = reasons
    elif action == "request_supplement":
        papers = {p["code"]: spec_label(p) for p in (dossier.version.spec or {}).get("papers", [])}
        items = []
        for i, item in enumerate(body.missing):
            name = item.name.strip()
            if item.paper:
                if item.paper not in papers:
                    errors[f"missing.{i}.paper"] = _("This procedure has no paper with this code.")
                    continue
                name = name or papers[item.paper]
            if not name:
                errors[f"missing.{i}.name"] = _("Name the paper or the item that is missing.")
                continue
            items.append({"name": name, "note": item.note.strip()})
        if not body.missing:
            errors["missing"] = _("Name at least one item to supplement.")
        args.update(missing=items, note=body.note)
    elif action in ("forward", "approve"):
        args["note"] = body.note
    elif action == "hand_off":
        agency = None
        if not body.to_agency:
            _required(errors, "to_agency")
        else:
            agency = Agency.objects.filter(code=body.to_agency, is_active=True).first()
            if agency is None:
                errors["to_agency"] = _("There is no active agency with this code.")
        args.update(to_agency=agency, note=body.note)
    elif action == "apologise":
        if body.new_appointment is None:
            _required(errors, "new_appointment")
        if not body.reason.strip():
            _required(errors, "reason")
        args.update(new_appointment=body.new_appointment, reason=body.reason.strip())
    elif action == "return_result":
        args["delivery"] = body.delivery
    if errors:
        raise ValidationFailed(fields=errors)
    return args


# --- endpoints -----------------------------------------------------------------------------


@official_router.get(
    "/queue",
    response=QueuePageOut,
    url_name="official_queue",
    summary="The agency's queue: overdue and due-soon first (officials)",
)
def queue(
    request: HttpRequest,
    status: str | None = None,
    procedure: str | None = Query(None, description="A procedure's code."),  # type: ignore[assignment]
    due: DueFilter | None = None,
    q: str = Query("", max_length=100, description="Part of the code or the name."),  # type: ignore[assignment]
    offset: int = Query(0, ge=0, le=100_000),  # type: ignore[assignment]
    limit: int = Query(25, ge=1, le=PAGE_MAX),  # type: ignore[assignment]
) -> QueuePageOut:
    _require_official(request)
    filters: dict[str, Any] = {"q": q.strip()}
    if status:
        if status not in DossierStatus.values or status == DossierStatus.DRAFT:
            raise ValidationFailed(fields={"status": _("Not a dossier status.")})
        filters["status"] = status
    if due:
        filters["due"] = due
    if procedure:
        try:
            filters["procedure"] = procedure_selectors.procedure_get(code=procedure)
        except NotFound:
            raise ValidationFailed(
                fields={"procedure": _("There is no procedure with this code.")}
            ) from None
    found = list(selectors.dossier_queue(user=request.user, **filters)[offset : offset + limit + 1])
    now = timezone.now()
    soon = soon_until(now)
    items = [
        QueueItemOut(
            id=d.public_id,
            code=d.code,
            procedure=d.procedure.code,
            procedure_name=d.procedure.name,
            applicant_name=d.applicant_name,
            status=d.status,
            status_label=str(d.get_status_display()),
            channel=d.channel,
            agency=d.agency.code,
            submitted_at=d.submitted_at,
            due_at=d.due_at,
            due=due_state(d, now, soon),
        )
        for d in found[:limit]
    ]
    return QueuePageOut(items=items, offset=offset, limit=limit, has_more=len(found) > limit)


@official_router.get(
    "/{uuid:public_id}/work",
    response=OfficialDossierOut,
    url_name="official_dossier",
    summary="One dossier as the official sees it: applicant, form, papers, timeline, actions",
)
def dossier_work(request: HttpRequest, public_id: UUID) -> OfficialDossierOut:
    _require_official(request)
    return _out(request, _dossier(request, public_id))


@official_router.post(
    "/{uuid:public_id}/actions/{action}",
    response=OfficialDossierOut,
    url_name="official_dossier_action",
    summary="Take a workflow action (409 invalid_transition when the status does not allow it)",
)
def dossier_action(
    request: HttpRequest, public_id: UUID, action: ActionName, payload: ActionIn | None = None
) -> OfficialDossierOut:
    _require_official(request)
    dossier = _dossier(request, public_id, acting=True)
    arguments = _arguments(action, dossier, payload or ActionIn())
    action_perform(action=action, dossier=dossier, actor=request.user, arguments=arguments)
    try:
        dossier = selectors.dossier_for(request.user, public_id=public_id)
    except NotFound:  # handed off to another agency: show what was done, once
        dossier = Dossier.objects.get(public_id=public_id)
    return _out(request, dossier)


def _file(response: FileResponse) -> FileResponse:
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@official_router.get(
    "/{uuid:public_id}/files/{int:file_id}",
    url_name="official_dossier_file",
    summary="One of the applicant's papers (officials who may see the dossier)",
)
def dossier_file(request: HttpRequest, public_id: UUID, file_id: int) -> FileResponse:
    _require_official(request)
    dossier = _dossier(request, public_id)
    paper = selectors.dossier_file(dossier, file_id)
    return _file(
        FileResponse(
            paper.file.open("rb"),
            content_type=paper.content_type or "application/octet-stream",
            as_attachment=True,
            filename=paper.original_name,
        )
    )


@official_router.get(
    "/{uuid:public_id}/documents/{uuid:document_id}",
    url_name="official_dossier_document",
    summary="A document issued for the dossier (receipt, forms 02–05, result), as PDF",
)
def dossier_document(request: HttpRequest, public_id: UUID, document_id: UUID) -> FileResponse:
    _require_official(request)
    dossier = _dossier(request, public_id)
    link = selectors.dossier_issued_document(dossier, document_id)
    version = document_selectors.latest_version(link.document)
    return _file(
        FileResponse(
            version.file.open("rb"),
            content_type="application/pdf",
            as_attachment=True,
            filename=f"{dossier.code or dossier.public_id}-{link.kind}.pdf",
        )
    )


@official_router.post(
    "/intake/{code}",
    response={201: OfficialDossierOut},
    url_name="official_intake",
    summary="Counter intake for a walk-in applicant (multipart: payload JSON + scans)",
    openapi_extra=_INTAKE_DOC,
)
def intake(request: HttpRequest, code: str, payload: Form[str]) -> Status:
    _require_official(request, Perm.DOSSIER_RECEIVE)
    try:
        body = IntakeIn.model_validate_json(payload)
    except PydanticValidationError as exc:
        raise ValidationFailed(
            fields={
                ".".join(str(p) for p in err["loc"]) or "payload": err["msg"]
                for err in exc.errors()
            }
        ) from None
    procedure = procedure_selectors.procedure_get(code=code)
    spec = procedure_selectors.procedure_current_version(procedure).spec
    codes = {p["code"] for p in spec.get("papers", [])}
    files: dict[str, list[Any]] = {}
    unknown: dict[str, Any] = {}
    for name in request.FILES:
        paper = name.removeprefix("paper:")
        if paper not in codes:
            unknown[name] = _("This procedure has no paper with this code.")
            continue
        files.setdefault(paper, []).extend(request.FILES.getlist(name))
    if unknown:
        raise ValidationFailed(fields=unknown)
    dossier = services.dossier_intake(
        officer=request.user,
        procedure=procedure,
        applicant=body.applicant.dict(),
        data=body.data,
        files=files,
        delivery=body.delivery,
    )
    return Status(201, _out(request, dossier))
