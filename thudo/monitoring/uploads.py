"""Checks for the evidence behind a reported value, and storing it.

A file is judged by its bytes, never by its name or declared type: PDF (it must parse, the
documents app's check), JPEG or PNG (it must decode fully, the dossiers' check) or XLSX (a ZIP
package holding a workbook); at most ``settings.MONITORING_MAX_EVIDENCE_BYTES`` (10 MB).

`evidence_check` only reads; `evidence_write` stores the file and records its name in `stored`, so
the caller deletes it when its transaction fails (`evidence_delete`).
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.dossiers.uploads import JPG, PDF, PNG, FileRefused, file_sniff

XLSX = "xlsx"
KINDS = (PDF, JPG, PNG, XLSX)
CONTENT_TYPES = {
    PDF: "application/pdf",
    JPG: "image/jpeg",
    PNG: "image/png",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
ZIP_SIGNATURE = b"PK\x03\x04"
MAX_XLSX_MEMBERS = 10_000

MSG_REQUIRED = _("Attach the evidence for this value (PDF, JPEG, PNG or XLSX).")
MSG_EMPTY = _("The file is empty.")
MSG_TOO_LARGE = _("The file is too large: the limit is {limit} MB.")
MSG_UNKNOWN_TYPE = _("This file is not a PDF, JPEG, PNG or XLSX file.")
MSG_CORRUPT_XLSX = _("The spreadsheet is damaged and cannot be read.")


def max_bytes() -> int:
    return int(getattr(settings, "MONITORING_MAX_EVIDENCE_BYTES", 10 * 1024 * 1024))


@dataclass(frozen=True)
class CheckedEvidence:
    original_name: str
    kind: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]

    @property
    def extension(self) -> str:
        return "." + self.kind


def _mb(limit: int) -> str:
    value = limit / (1024 * 1024)
    return f"{value:.0f}" if value >= 1 else f"{value:.2f}"


def _too_large(limit: int) -> FileRefused:
    return FileRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(limit)))


def _read(upload: Any, limit: int) -> bytes:
    if isinstance(upload, bytes | bytearray | memoryview):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > limit:
            raise _too_large(limit)
        if hasattr(upload, "seek"):
            upload.seek(0)
        if hasattr(upload, "chunks"):
            parts, seen = [], 0
            for chunk in upload.chunks():
                seen += len(chunk)
                if seen > limit:
                    raise _too_large(limit)
                parts.append(chunk)
            data = b"".join(parts)
        else:
            data = upload.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise FileRefused(MSG_EMPTY)
    return data


def _check_xlsx(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = package.namelist()
            if len(names) > MAX_XLSX_MEMBERS:
                raise FileRefused(MSG_CORRUPT_XLSX)
            wanted = {"[Content_Types].xml", "xl/workbook.xml"}
            if not wanted <= set(names):
                raise FileRefused(MSG_UNKNOWN_TYPE)
            if package.testzip() is not None:  # a member whose CRC does not match
                raise FileRefused(MSG_CORRUPT_XLSX)
    except FileRefused:
        raise
    except Exception:  # zipfile raises several types for damaged archives
        raise FileRefused(MSG_CORRUPT_XLSX) from None


def _check_pdf(data: bytes, limit: int) -> None:
    from thudo.documents.uploads import PdfRejected, pdf_upload_check

    try:
        pdf_upload_check(data, max_bytes=limit)
    except PdfRejected as exc:
        message = exc.fields["file"]
        raise FileRefused(message[0] if isinstance(message, list) else message) from None


def sniff(head: bytes) -> str | None:
    """ "pdf", "jpg", "png", "xlsx" (a ZIP: the package is checked later), or None."""
    kind = file_sniff(head)
    if kind is not None:
        return kind
    if head.startswith(ZIP_SIGNATURE):
        return XLSX
    return None


def evidence_check(upload: Any) -> CheckedEvidence:
    """The evidence file read and judged, or FileRefused saying why."""
    from thudo.dossiers.uploads import _check_image

    limit = max_bytes()
    data = _read(upload, limit)
    kind = sniff(data[:16])
    if kind is None:
        raise FileRefused(MSG_UNKNOWN_TYPE)
    if kind == PDF:
        _check_pdf(data, limit)
    elif kind == XLSX:
        _check_xlsx(data)
    else:
        _check_image(data, kind)
    name = os.path.basename(str(getattr(upload, "name", "") or "")).strip()
    return CheckedEvidence(
        original_name=(name or f"evidence.{kind}")[:255], kind=kind, content=data
    )


def evidence_problem(upload: Any) -> tuple[CheckedEvidence | None, str | Promise | None]:
    """(the checked file, None) or (None, why it is refused)."""
    try:
        return evidence_check(upload), None
    except FileRefused as exc:
        return None, exc.message


def evidence_write(field_file: Any, checked: CheckedEvidence, stored: list[str]) -> None:
    """Store the file in a model's FileField (not saving the row); its name goes to `stored` at
    once, so the caller can delete it if its transaction fails."""
    field_file.save("evidence" + checked.extension, ContentFile(checked.content), save=False)
    stored.append(field_file.name)


def evidence_delete(names: list[str]) -> None:
    """Delete stored files (after a failed transaction); never raises."""
    for name in names:
        with contextlib.suppress(Exception):
            default_storage.delete(name)
