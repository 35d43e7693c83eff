from __future__ import annotations

from uuid import UUID

from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import File, Router, Status
from ninja.files import UploadedFile

from thudo.accounts.models import Agency

from . import selectors, services
from .models import Document, SigningJob
from .schemas import DocumentOut, SignJobIn, SignJobOut
from .verify import registered_document_facts, verify_upload

router = Router(tags=["documents"])


def _out(d: Document) -> DocumentOut:
    v = max(d.versions.all(), key=lambda x: x.number, default=None)  # prefetched
    return DocumentOut(
        id=d.public_id,
        kind=d.kind,
        title=d.title,
        agency=d.agency.code,
        reference=d.reference,
        access=d.access,
        created_at=d.created_at,
        retain_until=d.retain_until,
        version=v.number if v else None,
        sha256=v.sha256 if v else None,
        signatures=v.signatures if v else 0,
        verify_url=services.verify_url(d),
    )


@router.get("/", response=list[DocumentOut], summary="Documents the caller may read")
def documents(request: HttpRequest, reference: str | None = None) -> list[DocumentOut]:
    qs = selectors.documents_visible_to(request.user).prefetch_related("versions")
    if reference:
        qs = qs.filter(reference=reference)
    return [_out(d) for d in qs[:200]]


@router.post("/verify", auth=None, summary="Verify an uploaded PDF: signatures and registration")
def verify_uploaded(request: HttpRequest, file: File[UploadedFile]) -> dict:
    return verify_upload(file)


@router.post("/sign-jobs", response={202: SignJobOut}, summary="Sign many documents (background)")
def sign_job_start(request: HttpRequest, payload: SignJobIn) -> Status:
    agency = get_object_or_404(Agency, code=payload.agency)
    docs = list(Document.objects.filter(public_id__in=payload.documents))
    job = services.signing_job_start(agency=agency, documents=docs, actor=request.user)
    job.refresh_from_db()
    return Status(202, _job_out(job))


@router.get("/sign-jobs/{job_id}", response=SignJobOut, summary="Progress of a signing job")
def sign_job(request: HttpRequest, job_id: int) -> SignJobOut:
    return _job_out(selectors.signing_job_get(user=request.user, job_id=job_id))


@router.get("/{doc_id}", response=DocumentOut)
def document(request: HttpRequest, doc_id: UUID) -> DocumentOut:
    return _out(selectors.document_get(user=request.user, public_id=doc_id))


@router.get("/{doc_id}/file", summary="The latest version's PDF (permission-checked)")
def document_file(request: HttpRequest, doc_id: UUID) -> FileResponse:
    doc = selectors.document_get(user=request.user, public_id=doc_id)
    version = selectors.latest_version(doc)
    return FileResponse(
        version.file.open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"{doc.public_id}-v{version.number}.pdf",
    )


@router.get(
    "/{doc_id}/verification",
    auth=None,
    summary="Verification facts of a registered document (the QR's target)",
)
def document_verification(request: HttpRequest, doc_id: UUID) -> dict:
    return registered_document_facts(selectors.document_for_verification(public_id=doc_id))


def _job_out(job: SigningJob) -> SignJobOut:
    return SignJobOut(
        id=job.pk,
        status=job.status,
        total=job.total,
        done=job.done,
        failed=job.failed,
        errors=job.errors,
    )
