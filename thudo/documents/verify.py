"""Verification as people and systems see it: the signatures' verdict plus whether the file is
the version registered in Thudo. Shared by the page, the API and `thudo verify`."""

from __future__ import annotations

import hashlib
from typing import IO, Any

from django.utils.translation import gettext_lazy as _

from . import selectors
from .models import Document, DocumentVersion
from .uploads import pdf_upload_check

COVERAGE = {
    "entire document": _("the whole document"),
    "entire revision": _("the document as it was when signed (later additions allowed)"),
    "partial": _("only part of the document"),
}
KIND = {"signature": _("Signature"), "document_timestamp": _("Document time-stamp")}


def verification_facts(data: bytes) -> dict[str, Any]:
    """verify_pdf's report, with the registered document this file is (if any)."""
    from .verification import verify_pdf

    report = verify_pdf(data).as_dict()
    for signature in report.get("signatures", []):
        # Labels for people, in the active language, beside the stable machine values.
        signature["coverage_label"] = str(COVERAGE.get(signature.get("coverage", ""), ""))
        signature["kind_label"] = str(KIND.get(signature.get("kind", ""), ""))
    version = selectors.version_by_digest(hashlib.sha256(data).hexdigest())
    report["registered"] = _registered(version)
    return report


def verify_upload(upload: IO[bytes]) -> dict[str, Any]:
    """An uploaded file, checked (type, size, structure: ValidationFailed on "file" if not)
    and then verified. The page, the API and `thudo verify` all come here."""
    facts = pdf_upload_check(upload)
    upload.seek(0)
    report = verification_facts(upload.read(facts.size + 1))
    report["pages"] = facts.pages
    return report


def _registered(version: DocumentVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    document = version.document
    latest = document.versions.order_by("-number").values_list("number", flat=True).first()
    return {
        "document": str(document.public_id),
        "title": document.title,
        "kind": document.kind,
        "agency": document.agency.name,
        "reference": document.reference,
        "version": version.number,
        "is_latest": version.number == latest,
    }


def registered_document_facts(document: Document) -> dict[str, Any]:
    """The verification facts of a registered document's latest version (the QR's target)."""
    version = selectors.latest_version(document)
    with version.file.open("rb") as fh:
        return verification_facts(fh.read())
