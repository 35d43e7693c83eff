"""The dossiers API for applicants and the public look-up (mounted at /api/dossiers/).

Submissions are multipart: a `payload` part holding the JSON of `SubmitIn`, and one or more file
parts per paper, named by the paper's code. An `Idempotency-Key` header makes a retried
submission return the dossier the first one created. Errors share the API's body
`{code, message, fields}`: 422 `validation_failed` (fields by form field name and
`paper:<code>`), 404 `not_found`, 409 `invalid_transition`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from ninja import Form, Header, Query, Router, Status
from pydantic import ValidationError as PydanticValidationError

from thudo.core.errors import NotFound, PermissionDenied, ValidationFailed
from thudo.documents import selectors as document_selectors
from thudo.documents import services as document_services
from thudo.procedures.selectors import procedure_get, procedure_with_current_version
from thudo.procedures.specs import spec_label

from . import permissions as perms
from . import selectors, services
from .models import Dossier, DossierDocument
from .models import Status as DossierStatus
from .schemas import (
    DocumentLinkOut,
    DossierOut,
    DossierPageOut,
    DossierSummaryOut,
    DraftIn,
    EventOut,
    FileOut,
    PublicStatusOut,
    RatingIn,
    RatingOut,
    SubmitIn,
    multipart_doc,
)
from .workflow import APPLICANT, actions_from

router = Router(tags=["dossiers"])

PAGE_DEFAULT = 20
PAGE_MAX = 100

RESULT_READY = (DossierStatus.SIGNED, DossierStatus.RETURNED, DossierStatus.CLOSED)

_MULTIPART_DOC = multipart_doc("SubmitIn")
_SUPPLEMENT_DOC = multipart_doc()


def _require_citizen(request: HttpRequest) -> None:
    if getattr(request.user, "kind", "") != "citizen":
        raise PermissionDenied(
            _("Only citizens and businesses file dossiers in their own name."),
            code="not_a_citizen",
        )


def _dossier(request: HttpRequest, dossier_id: UUID) -> Dossier:
    return selectors.dossier_for(request.user, public_id=dossier_id)


def _own(request: HttpRequest, dossier_id: UUID) -> Dossier:
    """The caller's own dossier (officials use the officials' endpoints)."""
    dossier = _dossier(request, dossier_id)
    if dossier.applicant_id != request.user.pk:
        raise NotFound()
    return dossier


def _files(request: HttpRequest, codes: list[str]) -> dict[str, list[Any]]:
    """The uploaded parts named by paper codes; any other file part is an error."""
    files: dict[str, list[Any]] = {}
    unknown: dict[str, Any] = {}
    for name in request.FILES:
        code = name.removeprefix("paper:")
        if code not in codes:
            unknown[name] = _("This procedure has no paper with this code.")
            continue
        files.setdefault(code, []).extend(request.FILES.getlist(name))
    if unknown:
        raise ValidationFailed(fields=unknown)
    return files


def _procedure_name(dossier: Dossier) -> str:
    return spec_label(dossier.version.spec)


def _summary(d: Dossier) -> DossierSummaryOut:
    return DossierSummaryOut(
        id=d.public_id,
        code=d.code,
        procedure=d.procedure.code,
        procedure_name=_procedure_name(d),
        status=d.status,
        status_label=str(d.get_status_display()),
        channel=d.channel,
        created_at=d.created_at,
        submitted_at=d.submitted_at,
        due_at=d.due_at,
        appointment_at=d.appointment_at,
    )


def _document_url(request: HttpRequest, dossier: Dossier, link: DossierDocument) -> str:
    if link.kind == "result":
        name = "api:dossier_result"
    elif link.kind == "receipt":
        name = "api:dossier_receipt"
    else:
        return reverse("api:document_file", kwargs={"doc_id": link.document.public_id})
    return reverse(name, kwargs={"dossier_id": dossier.public_id})


def _event(e: dict[str, Any]) -> EventOut:
    return EventOut(
        at=e["at"],
        action=e.get("action") or "",
        label=str(e.get("label") or e.get("action") or ""),
        from_status=e.get("from_status") or "",
        to_status=e.get("to_status") or "",
        note=e.get("note") or "",
    )


def _dossier_out(
    d: Dossier,
    *,
    files: Any,
    documents: list[DocumentLinkOut],
    timeline: list[EventOut],
    rating: RatingOut | None,
    actions: list[str],
) -> DossierOut:
    return DossierOut(
        **_summary(d).dict(),
        version=d.version.number,
        receiving_agency=d.receiving_agency.code,
        agency=d.agency.code,
        delivery=d.delivery,
        received_at=d.received_at,
        settled_at=d.settled_at,
        on_time=d.on_time,
        returned_at=d.returned_at,
        data=d.data,
        files=[
            FileOut(
                paper=f.paper_code,
                name=f.original_name,
                size=f.size,
                round=f.round,
                uploaded_at=f.uploaded_at,
            )
            for f in files
        ],
        documents=documents,
        timeline=timeline,
        rating=rating,
        actions=actions,
    )


def _out(request: HttpRequest, d: Dossier) -> DossierOut:
    links = [
        link
        for link in selectors.dossier_document_links(d)
        if link.kind != "result" or d.status in RESULT_READY
    ]
    rating = getattr(d, "rating", None)
    return _dossier_out(
        d,
        files=d.files.all(),
        documents=[
            DocumentLinkOut(
                id=link.document.public_id,
                kind=link.kind,
                title=link.document.title,
                created_at=link.document.created_at,
                url=_document_url(request, d, link),
                verify_url=document_services.verify_url(link.document),
            )
            for link in links
        ],
        timeline=[_event(e) for e in selectors.dossier_timeline(d)],
        rating=_rating_out(rating) if rating else None,
        actions=[t.action for t in selectors.dossier_actions(request.user, d)],
    )


def _rating_out(r: Any) -> RatingOut:
    return RatingOut(
        attitude=r.attitude,
        timeliness=r.timeliness,
        contacts=r.contacts,
        clarity=r.clarity,
        comment=r.comment,
        score=r.score,
        created_at=r.created_at,
    )


def _pdf(request: HttpRequest, document: Any, filename: str) -> FileResponse:
    document = document_selectors.document_get(user=request.user, public_id=document.public_id)
    version = document_selectors.latest_version(document)
    return FileResponse(
        version.file.open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"{filename}.pdf",
    )


# --- public --------------------------------------------------------------------------------


@router.get(
    "/lookup",
    auth=None,
    response=PublicStatusOut,
    url_name="dossier_lookup",
    summary="Public look-up by dossier code: status, timeline, due date",
    description=(
        "No personal data is shown unless `personal_id` is the applicant's personal ID number, "
        "in which case `applicant` holds the applicant's name."
    ),
)
def lookup(
    request: HttpRequest, response: HttpResponse, code: str, personal_id: str | None = None
) -> dict[str, Any] | HttpResponse:
    personal_id = (personal_id or "").strip() or None
    code = " ".join(code.split()).upper()
    if personal_id:  # an answer naming the applicant is never kept by a shared cache
        response["Cache-Control"] = "private, no-store"
        return selectors.dossier_public_status(code=code, personal_id=personal_id)
    # Anonymous: the finished JSON is kept until the dossier changes (ADR 0010).
    from thudo.api.api import api as platform_api

    lang = translation.get_language() or ""
    content = selectors.public_answer_cached(code=code, lang=lang)
    if content is None:
        answer = PublicStatusOut.model_validate(selectors.dossier_public_status(code=code))
        content = platform_api.renderer.render(request, answer.model_dump(), response_status=200)
        selectors.public_answer_keep(code=code, lang=lang, content=content)
    return HttpResponse(content, content_type=platform_api.get_content_type())


# --- the applicant's dossiers --------------------------------------------------------------


@router.get(
    "/",
    response=DossierPageOut,
    url_name="dossiers_mine",
    summary="The caller's dossiers, newest first (drafts included)",
)
def mine(
    request: HttpRequest,
    status: str | None = None,
    limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX),  # type: ignore[type-arg]
    offset: int = Query(0, ge=0),  # type: ignore[type-arg]
) -> DossierPageOut:
    qs = selectors.dossiers_of_applicant(request.user).select_related("version")
    if status:
        qs = qs.filter(status=status)
    return DossierPageOut(
        count=qs.count(), items=[_summary(d) for d in qs[offset : offset + limit]]
    )


@router.post(
    "/",
    response={201: DossierOut},
    url_name="dossier_submit",
    summary="Submit a dossier (multipart: payload JSON + one part per paper)",
    openapi_extra=_MULTIPART_DOC,
)
def submit(
    request: HttpRequest,
    payload: Form[str],
    idempotency_key: str = Header(  # type: ignore[type-arg]
        "", alias="Idempotency-Key", max_length=80
    ),
) -> Status:
    _require_citizen(request)
    body = _submit_in(payload)
    procedure, version = _procedure_and_version(body.procedure)
    draft = _own(request, body.draft) if body.draft else None
    agency = None
    if body.receiving_agency:
        agency = _receiving_agency(body.receiving_agency)
    spec_codes = [p["code"] for p in version.spec.get("papers", [])]
    submission = services.dossier_submission(
        procedure=procedure,
        applicant=request.user,
        data=body.data,
        files=_files(request, spec_codes),
        receiving_agency=agency,
        delivery=body.delivery,
        idempotency_key=idempotency_key or "",
        draft=draft,
        version=version,
    )
    if not submission.created:  # the idempotency key's dossier, as it is now
        return Status(201, _out(request, submission.dossier))
    return Status(201, _submitted_out(request, submission))


def _submitted_out(request: HttpRequest, submission: services.Submission) -> DossierOut:
    """`_out` of a dossier just created, from what the submission wrote (nothing is read back:
    a new dossier has no documents and no rating; its files and timeline are those written)."""
    d = submission.dossier
    files = sorted(submission.files, key=lambda f: (f.round, f.paper_code))  # DossierFile order
    return _dossier_out(
        d,
        files=files,
        documents=[],
        timeline=[
            EventOut(
                at=e.at,
                action=e.action,
                label=str(services.event_label(e.action, e.to_status) or e.action),
                from_status=e.from_status,
                to_status=e.to_status,
                note=e.note,
            )
            for e in submission.events
        ],
        rating=None,
        # The caller is a citizen (`_require_citizen`), and citizens hold no roles in agencies
        # (`accounts.services.role_grant`): only the applicant's own transitions can apply.
        actions=[
            t.action
            for t in actions_from(d.status)
            if t.actor == APPLICANT and perms.step_allows(d, t.action)
        ],
    )


def _receiving_agency(code: str) -> Any:
    agency = services.receiving_agency_get(code=code)
    if agency is None:
        raise ValidationFailed(fields={"receiving_agency": _("There is no agency with this code.")})
    return agency


def _submit_in(payload: str) -> SubmitIn:
    try:
        return SubmitIn.model_validate_json(payload)
    except PydanticValidationError as exc:
        fields = {}
        for err in exc.errors():
            fields[".".join(str(p) for p in err["loc"]) or "payload"] = str(err["msg"])
        raise ValidationFailed(fields=fields) from None


def _procedure_and_version(code: str) -> tuple[Any, Any]:
    """The procedure and its current version in one query (the version from the cache)."""
    try:
        return procedure_with_current_version(code=code)
    except NotFound:
        raise ValidationFailed(
            fields={"procedure": _("There is no procedure with this code.")}
        ) from None


def _procedure(code: str) -> Any:
    try:
        return procedure_get(code=code)
    except NotFound:
        raise ValidationFailed(
            fields={"procedure": _("There is no procedure with this code.")}
        ) from None


@router.post(
    "/drafts",
    response={201: DossierOut},
    url_name="dossier_draft",
    summary="Save a draft (the form only; no check of completeness)",
)
def draft_save(request: HttpRequest, payload: DraftIn) -> Status:
    _require_citizen(request)
    procedure = _procedure(payload.procedure)
    draft = _own(request, payload.draft) if payload.draft else None
    dossier = services.dossier_draft_save(
        procedure=procedure, applicant=request.user, data=payload.data, dossier=draft
    )
    return Status(201, _out(request, dossier))


@router.get(
    "/{uuid:dossier_id}",
    response=DossierOut,
    url_name="dossier_get",
    summary="One of the caller's dossiers, with its timeline and documents",
)
def dossier_get(request: HttpRequest, dossier_id: UUID) -> DossierOut:
    return _out(request, _own(request, dossier_id))


@router.post(
    "/{uuid:dossier_id}/supplement",
    response=DossierOut,
    url_name="dossier_supplement",
    summary="Send the papers the agency asked for (multipart; the clock resumes)",
    openapi_extra=_SUPPLEMENT_DOC,
)
def supplement(request: HttpRequest, dossier_id: UUID, note: Form[str] = "") -> DossierOut:
    dossier = _own(request, dossier_id)
    codes = [p["code"] for p in dossier.version.spec.get("papers", [])]
    dossier = services.dossier_supplement(
        dossier=dossier, actor=request.user, files=_files(request, codes), note=note
    )
    return _out(request, dossier)


@router.post(
    "/{uuid:dossier_id}/rating",
    response={201: RatingOut},
    url_name="dossier_rate",
    summary="Rate the service once the result is returned",
)
def rate(request: HttpRequest, dossier_id: UUID, payload: RatingIn) -> Status:
    dossier = _own(request, dossier_id)
    rating = services.dossier_rate(
        dossier=dossier,
        applicant=request.user,
        attitude=payload.attitude,
        timeliness=payload.timeliness,
        contacts=payload.contacts,
        clarity=payload.clarity,
        comment=payload.comment,
    )
    return Status(201, _rating_out(rating))


@router.get(
    "/{uuid:dossier_id}/receipt",
    url_name="dossier_receipt",
    summary="The receipt and appointment slip (form 01), signed PDF",
)
def receipt(request: HttpRequest, dossier_id: UUID) -> FileResponse:
    dossier = _dossier(request, dossier_id)
    if not dossier.code:
        raise NotFound(code="no_receipt")
    document = services.dossier_receipt_issue(dossier=dossier)
    return _pdf(request, document, f"{dossier.code}-receipt")


@router.get(
    "/{uuid:dossier_id}/result",
    url_name="dossier_result",
    summary="The signed result PDF (the applicant's first download returns an online result)",
)
def result(request: HttpRequest, dossier_id: UUID) -> FileResponse:
    dossier = _dossier(request, dossier_id)
    document = selectors.dossier_document(dossier, "result")
    if document is None or dossier.status not in RESULT_READY:
        raise NotFound(code="no_result")
    dossier = services.dossier_result_downloaded(dossier=dossier, user=request.user)
    return _pdf(request, document, f"{dossier.code}-result")


# The officials' endpoints share this router (mounted at /api/dossiers/).
from .api_official import official_router  # noqa: E402

router.add_router("", official_router)
