"""Reads of the documents domain, filtered by who asks."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from thudo.accounts.permissions import agencies_where
from thudo.accounts.roles import Perm
from thudo.core.errors import NotFound, PermissionDenied

from .models import Document, DocumentVersion, SigningJob
from .permissions import can_read


def documents_visible_to(user: Any) -> QuerySet[Document]:
    """Documents the user may read: their own, their agencies', and published ones."""
    qs = Document.objects.select_related("agency")
    if not getattr(user, "is_authenticated", False):
        return qs.filter(access=Document.Access.PUBLIC)
    agencies = agencies_where(user, Perm.DOSSIER_VIEW)
    return qs.filter(
        Q(access=Document.Access.PUBLIC)
        | Q(agency_id__in=agencies)
        | Q(access=Document.Access.SUBJECT, subject=user)
    )


def document_get(*, user: Any, public_id: Any) -> Document:
    document = (
        Document.objects.select_related("agency", "subject").filter(public_id=public_id).first()
    )
    if document is None:
        raise NotFound(code="unknown_document")
    if not can_read(user, document):
        raise PermissionDenied()
    return document


def document_for_verification(*, public_id: Any) -> Document:
    """Anyone holding the QR may see the verification facts of a registered document."""
    document = Document.objects.select_related("agency").filter(public_id=public_id).first()
    if document is None:
        raise NotFound(code="unknown_document")
    return document


def latest_version(document: Document) -> DocumentVersion:
    version = document.versions.order_by("-number").first()
    if version is None:
        raise NotFound(code="no_version")
    return version


def version_by_digest(sha256: str) -> DocumentVersion | None:
    """The registered version with exactly these bytes, if any."""
    return (
        DocumentVersion.objects.select_related("document", "document__agency")
        .filter(sha256=sha256)
        .order_by("-number")
        .first()
    )


def signing_job_get(*, user: Any, job_id: int) -> SigningJob:
    job = SigningJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(code="unknown_signing_job")
    if job.requested_by_id != user.pk and not user.is_superuser:
        raise PermissionDenied()
    return job
