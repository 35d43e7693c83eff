"""Every write of the documents domain: store, add a version, sign, sign in batches."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency
from thudo.core.audit import audit_record
from thudo.core.errors import PermissionDenied, ThudoError, ValidationFailed
from thudo.core.tasks import enqueue_on_commit

from .models import Document, DocumentVersion, SigningJob
from .permissions import can_sign

logger = logging.getLogger(__name__)

# How long each kind is kept (years; None = permanently). ADR 0007.
RETENTION_YEARS: dict[str, int | None] = {
    Document.Kind.RESULT: None,
    Document.Kind.RECEIPT: 10,
    Document.Kind.SUPPLEMENT_REQUEST: 10,
    Document.Kind.REFUSAL: 10,
    Document.Kind.APOLOGY: 10,
    Document.Kind.CONTROL_SLIP: 10,
    Document.Kind.OTHER: 5,
}


def verify_url(document: Document) -> str:
    return f"{settings.THUDO_PUBLIC_URL}/verify/{document.public_id}/"


def _retain_until(kind: str, today: date) -> date | None:
    years = RETENTION_YEARS.get(kind, 5)
    return None if years is None else today + timedelta(days=round(365.25 * years))


def orphan_files_sweep(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete stored files that no version refers to (left when a caller's transaction rolled
    back after the file was written, or a process died between file and row). Only files older
    than `older_than` are touched, so a version being written right now is never swept."""
    from thudo.core.storage import unreferenced_files_sweep

    deleted = unreferenced_files_sweep(
        root="documents",
        referenced=lambda paths: set(
            DocumentVersion.objects.filter(file__in=paths).values_list("file", flat=True)
        ),
        older_than=older_than,
    )
    if deleted:
        logger.warning("removed %d stored document files that no version refers to", deleted)
    return deleted


def _store_version(
    *, document: Document, pdf: bytes, note: str, signatures: int, actor: Any
) -> DocumentVersion:
    """Write the file, then the row; a failure here removes the file again. A rollback of the
    caller's transaction later cannot be seen here: `orphan_files_sweep` removes those files."""
    number = (
        document.versions.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    version = DocumentVersion(
        document=document,
        number=number,
        sha256=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
        signatures=signatures,
        note=note[:200],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    version.file.save("document.pdf", ContentFile(pdf), save=False)
    try:
        with transaction.atomic():
            version.save()
    except Exception:
        default_storage.delete(version.file.name)
        raise
    return version


@transaction.atomic
def document_create(
    *,
    kind: str,
    title: str,
    agency: Agency,
    pdf: bytes,
    subject: Any = None,
    access: str = Document.Access.SUBJECT,
    reference: str = "",
    actor: Any = None,
) -> Document:
    """Register a document and its first version."""
    errors: dict[str, Any] = {}
    if kind not in Document.Kind.values:
        errors["kind"] = _("Unknown document type.")
    if access not in Document.Access.values:
        errors["access"] = _("Unknown access rule.")
    if not title.strip():
        errors["title"] = _("A document needs a title.")
    if not pdf.startswith(b"%PDF-"):
        errors["file"] = _("The file is not a PDF.")
    if errors:
        raise ValidationFailed(fields=errors)
    document = Document.objects.create(
        kind=kind,
        title=title.strip()[:255],
        agency=agency,
        subject=subject,
        access=access,
        reference=reference,
        retain_until=_retain_until(kind, timezone.localdate()),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _store_version(document=document, pdf=pdf, note="created", signatures=0, actor=actor)
    audit_record(
        actor=actor,
        action="document.create",
        obj=document,
        to_state="stored",
        data={"kind": kind, "reference": reference},
    )
    return document


class DocumentChanged(ThudoError):
    code = "document_changed"
    status = 409
    default_message = _("The document changed while it was being signed. Sign it again.")


def document_sign(
    *,
    document: Document,
    actor: Any,
    signer_label: str = "",
    level: str = "B-LTA",
    check_permission: bool = True,
    after_store: Callable[[DocumentVersion], bool] | None = None,
) -> DocumentVersion:
    """Sign the current version with the owning agency's certificate (a new version).

    The signature (key, time-stamp, revocation data: slow, and possibly network I/O) is made
    with no transaction open; only storing the result takes a short lock on the document, and
    refuses if another version arrived meanwhile. `after_store(version)` runs in that same
    transaction (a batch job records its progress there); if it returns False, nothing is kept
    and DocumentChanged is raised.
    """
    from .signing import sign_pdf

    if check_permission and not can_sign(actor, document):
        raise PermissionDenied(_("Only the agency's approvers sign its documents."))
    current = document.versions.order_by("-number").first()
    if current is None:
        raise ValidationFailed(fields={"document": _("The document has no file to sign.")})
    with current.file.open("rb") as fh:
        original = fh.read()
    label = signer_label or getattr(actor, "full_name", "") or document.agency.name
    signed = sign_pdf(
        pdf=original,
        agency=document.agency,
        signer_label=label,
        verify_url=verify_url(document),
        level=level,
    )
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        latest = locked.versions.order_by("-number").values_list("pk", flat=True).first()
        if latest != current.pk:
            raise DocumentChanged()
        version = _store_version(
            document=locked,
            pdf=signed,
            note=f"signed {level}",
            signatures=current.signatures + 1,
            actor=actor,
        )
        if after_store is not None and not after_store(version):
            default_storage.delete(version.file.name)
            raise DocumentChanged()
        audit_record(
            actor=actor,
            action="document.sign",
            obj=locked,
            from_state=f"v{current.number}",
            to_state=f"v{version.number}",
            data={"level": level, "sha256": version.sha256},
        )
    return version


@transaction.atomic
def signing_job_start(*, agency: Agency, documents: list[Document], actor: Any) -> SigningJob:
    """Queue many documents for signing; progress is read from the job."""
    from thudo.accounts.permissions import can
    from thudo.accounts.roles import Perm

    if not can(actor, Perm.DOSSIER_APPROVE, agency):
        raise PermissionDenied(_("Only the agency's approvers sign its documents."))
    foreign = [d.public_id for d in documents if d.agency_id != agency.pk]
    if foreign or not documents:
        raise ValidationFailed(
            fields={
                "documents": _(
                    "Choose at least one document, all of them owned by the signing agency."
                )
            }
        )
    job = SigningJob.objects.create(agency=agency, requested_by=actor, total=len(documents))
    job.documents.set(documents)
    audit_record(
        actor=actor,
        action="signing_job.start",
        obj=job,
        to_state="queued",
        data={"total": len(documents)},
    )
    from .tasks import run_signing_job

    enqueue_on_commit(run_signing_job, job.pk)
    return job


def signing_job_run(*, job_id: int) -> SigningJob:
    """Sign each document of the job, recording progress in the transaction that stores each
    signed version: a task delivered again, or two workers on one job, never store a document
    twice, and any error is recorded against its document instead of stopping the job."""
    job = SigningJob.objects.select_related("requested_by").get(pk=job_id)
    if job.status in (SigningJob.Status.DONE, SigningJob.Status.FAILED):
        return job  # idempotent: a redelivered task does nothing
    SigningJob.objects.filter(pk=job.pk, status=SigningJob.Status.QUEUED).update(
        status=SigningJob.Status.RUNNING
    )
    for document in job.documents.order_by("pk"):
        if document.pk in SigningJob.objects.get(pk=job.pk).processed:
            continue

        def record(version: DocumentVersion, doc_pk: int = document.pk) -> bool:
            locked = SigningJob.objects.select_for_update().get(pk=job.pk)
            if doc_pk in locked.processed:
                return False  # another worker stored it meanwhile
            locked.processed = [*locked.processed, doc_pk]
            locked.done += 1
            locked.save(update_fields=["processed", "done"])
            return True

        try:
            document_sign(document=document, actor=job.requested_by, after_store=record)
        except Exception as exc:  # one bad document must not stop the batch
            if isinstance(exc, ThudoError):
                code, message = exc.code, str(exc.message)
            else:
                logger.exception("signing job %s: document %s failed", job.pk, document.pk)
                code, message = "internal_error", str(_("The document could not be signed."))
            with transaction.atomic():
                locked = SigningJob.objects.select_for_update().get(pk=job.pk)
                if document.pk not in locked.processed:
                    locked.processed = [*locked.processed, document.pk]
                    locked.failed += 1
                    locked.errors = [
                        *locked.errors,
                        {"document": str(document.public_id), "code": code, "message": message},
                    ]
                    locked.save(update_fields=["processed", "failed", "errors"])
    with transaction.atomic():
        job = SigningJob.objects.select_for_update().select_related("requested_by").get(pk=job.pk)
        if job.status == SigningJob.Status.RUNNING:
            job.status = SigningJob.Status.FAILED if job.failed else SigningJob.Status.DONE
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "finished_at"])
            audit_record(
                actor=job.requested_by,
                action="signing_job.finish",
                obj=job,
                from_state="running",
                to_state=job.status,
                data={"done": job.done, "failed": job.failed},
            )
    return job
