"""Checks for the papers a dossier carries, and storing them.

Every file is judged by its bytes, never by its name or declared type: the type is sniffed from
the signature (``%PDF-``, JPEG ``FF D8 FF``, the PNG signature) and must be one the paper accepts;
its size must be within the paper's ``max_mb`` and ``settings.DOSSIER_MAX_FILE_BYTES``; a PDF must
parse with its pages readable (`documents.uploads.pdf_upload_check`), an image must decode fully
(Pillow). Errors are keyed ``"paper:<code>"`` so a form can show them beside the paper.

`papers_check` only reads; `files_store` (or `files_write`, then the rows' insert) writes, and the
caller deletes what it wrote if its transaction fails (`files_delete`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed

from .models import Dossier, DossierFile

logger = logging.getLogger(__name__)

PDF, JPG, PNG = "pdf", "jpg", "png"
CONTENT_TYPES = {PDF: "application/pdf", JPG: "image/jpeg", PNG: "image/png"}
ALIASES = {"jpeg": JPG, "jpe": JPG}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_FILES_PER_PAPER = 10
MAX_IMAGE_PIXELS = 60_000_000  # 60 megapixels: any phone photo, not a decompression bomb

MSG_REQUIRED = _("This paper is required.")
MSG_UNKNOWN_PAPER = _("This paper is not part of the procedure.")
MSG_TOO_MANY = _("Upload at most {limit} files for this paper.")
MSG_EMPTY = _("The file is empty.")
MSG_TOO_LARGE = _("The file is too large: the limit is {limit} MB.")
MSG_WRONG_TYPE = _("This type of file is not accepted here. Accepted: {types}.")
MSG_UNKNOWN_TYPE = _("This file is not a PDF, JPEG or PNG file. Accepted: {types}.")
MSG_CORRUPT_IMAGE = _("The image is damaged and cannot be read.")
MSG_IMAGE_TOO_BIG = _("The image has too many pixels to be accepted.")
MSG_FILE_PROBLEM = _("{name}: {problem}")


@dataclass(frozen=True)
class CheckedFile:
    """A paper's file that passed every check, held in memory until it is stored."""

    paper_code: str
    original_name: str
    kind: str  # pdf | jpg | png
    content: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]


class FileRefused(Exception):
    def __init__(self, message: str | Promise) -> None:
        super().__init__(str(message))
        self.message = message


def file_sniff(head: bytes) -> str | None:
    """The file's type from its first bytes: "pdf", "jpg", "png", or None."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPG
    if head.startswith(PNG_SIGNATURE):
        return PNG
    return None


def paper_types(paper: Mapping[str, Any]) -> list[str]:
    raw = paper.get("file_types") or [PDF, JPG, PNG]
    if isinstance(raw, str):
        raw = raw.split(",")
    types: list[str] = []
    for item in raw:
        name = ALIASES.get(str(item).strip().lower().lstrip("."), str(item).strip().lower())
        if name in CONTENT_TYPES and name not in types:
            types.append(name)
    return types


def paper_limit(paper: Mapping[str, Any]) -> int:
    """The largest file this paper accepts, in bytes."""
    limit = int(settings.DOSSIER_MAX_FILE_BYTES)
    max_mb = paper.get("max_mb")
    if max_mb:
        limit = min(limit, int(float(max_mb) * 1024 * 1024))
    return limit


def _mb(limit: int) -> str:
    value = limit / (1024 * 1024)
    return f"{value:.0f}" if value >= 1 else f"{value:.2f}"


def _types_label(types: Sequence[str]) -> str:
    return ", ".join(t.upper() for t in types)


def _read(upload: Any, limit: int) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise FileRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(limit)))
    if hasattr(upload, "seek"):
        upload.seek(0)
    if hasattr(upload, "chunks") and size is not None:
        parts, seen = [], 0
        for chunk in upload.chunks():
            seen += len(chunk)
            if seen > limit:
                raise FileRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(limit)))
            parts.append(chunk)
        data = b"".join(parts)
    else:
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(format_lazy(MSG_TOO_LARGE, limit=_mb(limit)))
    if not data:
        raise FileRefused(MSG_EMPTY)
    return data


def _check_pdf(data: bytes, limit: int) -> None:
    from thudo.documents.uploads import PdfRejected, pdf_upload_check

    try:
        pdf_upload_check(data, max_bytes=limit)
    except PdfRejected as exc:
        message = exc.fields["file"]
        raise FileRefused(message[0] if isinstance(message, list) else message) from None


def _check_image(data: bytes, kind: str) -> None:
    from PIL import Image

    expected = {JPG: "JPEG", PNG: "PNG"}[kind]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != expected:
                    raise FileRefused(MSG_CORRUPT_IMAGE)
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise FileRefused(MSG_IMAGE_TOO_BIG)
                image.verify()  # structure and checksums (PNG CRCs)
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # decode every pixel: a truncated JPEG fails here
    except FileRefused:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise FileRefused(MSG_IMAGE_TOO_BIG) from None
    except Exception:  # Pillow raises many types for damaged data
        raise FileRefused(MSG_CORRUPT_IMAGE) from None


def file_check(upload: Any, *, paper: Mapping[str, Any]) -> CheckedFile:
    """One file for one paper, or FileRefused saying why."""
    limit = paper_limit(paper)
    data = _read(upload, limit)
    kind = file_sniff(data[:16])
    types = paper_types(paper)
    if kind is None:
        raise FileRefused(format_lazy(MSG_UNKNOWN_TYPE, types=_types_label(types)))
    if kind not in types:
        raise FileRefused(format_lazy(MSG_WRONG_TYPE, types=_types_label(types)))
    if kind == PDF:
        _check_pdf(data, limit)
    else:
        _check_image(data, kind)
    name = os.path.basename(str(getattr(upload, "name", "") or "")).strip() or f"file.{kind}"
    return CheckedFile(
        paper_code=str(paper["code"]),
        original_name=name[:255],
        kind=kind,
        content=data,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def papers_check(
    *,
    spec: Mapping[str, Any],
    files: Mapping[str, Iterable[Any]] | None,
    require: bool = True,
) -> tuple[list[CheckedFile], dict[str, list[str | Promise]]]:
    """Check every file against its paper. Returns the good files and the errors by
    ``"paper:<code>"`` (every problem, not only the first). With `require`, each mandatory paper
    needs at least one file (a supplement passes False: it brings only what was asked for)."""
    papers = {str(p["code"]): p for p in spec.get("papers", [])}
    checked: list[CheckedFile] = []
    errors: dict[str, list[str | Promise]] = {}
    given: dict[str, list[Any]] = {}
    for code, uploads in (files or {}).items():
        items = [u for u in (uploads or []) if u is not None]
        if items:
            given[str(code)] = items
    for code, uploads in given.items():
        key = f"paper:{code}"
        paper = papers.get(code)
        if paper is None:
            errors.setdefault(key, []).append(MSG_UNKNOWN_PAPER)
            continue
        if len(uploads) > MAX_FILES_PER_PAPER:
            errors.setdefault(key, []).append(format_lazy(MSG_TOO_MANY, limit=MAX_FILES_PER_PAPER))
            continue
        for upload in uploads:
            try:
                checked.append(file_check(upload, paper=paper))
            except FileRefused as exc:
                name = os.path.basename(str(getattr(upload, "name", "") or "")) or "?"
                errors.setdefault(key, []).append(
                    format_lazy(MSG_FILE_PROBLEM, name=name, problem=exc.message)
                )
    if require:
        for code, paper in papers.items():
            if paper.get("required") and code not in given:
                errors.setdefault(f"paper:{code}", []).append(MSG_REQUIRED)
    return checked, errors


def papers_validate(
    *, spec: Mapping[str, Any], files: Mapping[str, Iterable[Any]] | None, require: bool = True
) -> list[CheckedFile]:
    """`papers_check`, raising ValidationFailed when anything is wrong."""
    checked, errors = papers_check(spec=spec, files=files, require=require)
    if errors:
        raise ValidationFailed(fields=dict(errors.items()))
    return checked


def files_write(
    *,
    dossier: Dossier,
    checked: Sequence[CheckedFile],
    stored: list[str],
    round: int = 0,
    uploaded_by: Any = None,
) -> list[DossierFile]:
    """Write the files to storage and return their rows, not saved yet (`bulk_create` them in
    the transaction that stores the dossier). The names depend only on the dossier's public id,
    so this can run before that transaction opens, even for a dossier not saved yet. Each
    written name is appended to `stored` at once, so the caller can delete them all if its
    transaction fails (`files_delete`)."""
    rows: list[DossierFile] = []
    user = uploaded_by if getattr(uploaded_by, "is_authenticated", False) else None
    for item in checked:
        row = DossierFile(
            dossier=dossier,
            paper_code=item.paper_code,
            original_name=item.original_name,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            round=round,
            uploaded_by=user,
        )
        row.file.save(item.original_name, ContentFile(item.content), save=False)
        stored.append(row.file.name)
        rows.append(row)
    return rows


def files_store(
    *,
    dossier: Dossier,
    checked: Sequence[CheckedFile],
    stored: list[str],
    round: int = 0,
    uploaded_by: Any = None,
) -> list[DossierFile]:
    """Write the files and their rows (`files_write`, then one insert)."""
    rows = files_write(
        dossier=dossier, checked=checked, stored=stored, round=round, uploaded_by=uploaded_by
    )
    return DossierFile.objects.bulk_create(rows)


def files_delete(names: Iterable[str]) -> None:
    """Delete stored files (after a failed transaction); never raises."""
    for name in names:
        with contextlib.suppress(Exception):  # best effort; never hide the first error
            default_storage.delete(name)


def orphan_files_sweep(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete stored papers that no `DossierFile` refers to (a caller's outer transaction
    rolled back after the papers were written, or a process died in between)."""
    from thudo.core.storage import unreferenced_files_sweep

    deleted = unreferenced_files_sweep(
        root="dossiers",
        referenced=lambda paths: set(
            DossierFile.objects.filter(file__in=paths).values_list("file", flat=True)
        ),
        older_than=older_than,
    )
    if deleted:
        logger.warning("removed %d stored dossier papers that no file row refers to", deleted)
    return deleted
