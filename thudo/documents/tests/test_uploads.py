"""Checks on uploaded PDFs (thudo/documents/uploads.py), fed the broken and hostile files of
``broken.py``: each is refused with its precise reason, quickly, and nothing else escapes."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import tracemalloc
import zlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from thudo.core.errors import Throttled, ValidationFailed
from thudo.documents import uploads
from thudo.documents.tests import broken
from thudo.documents.uploads import PdfFacts, PdfRejected, Reason, pdf_upload_check

EXPECTED_REASONS: dict[str, Reason] = {
    "empty": Reason.EMPTY,
    "text file named .pdf": Reason.NOT_PDF,
    "png": Reason.NOT_PDF,
    "header after 1024 bytes": Reason.NOT_PDF,
    "truncated half": Reason.TRUNCATED,
    "missing %%EOF": Reason.TRUNCATED,
    "garbage xref": Reason.CORRUPT,
    "encrypted": Reason.ENCRYPTED,
    "encrypted, empty password": Reason.ENCRYPTED,
    "no catalog": Reason.CORRUPT,
    "zero pages": Reason.NO_PAGES,
    "deeply nested arrays (100k levels)": Reason.HOSTILE,
    "deeply nested dictionaries (100k levels)": Reason.HOSTILE,
    "page tree loop": Reason.HOSTILE,
    "reference loop": Reason.HOSTILE,
    "reference chain loop": Reason.CORRUPT,
    "xref /Prev loop": Reason.HOSTILE,
    "object stream bomb": Reason.HOSTILE,
    "million tiny objects": Reason.HOSTILE,
}
EXPECTED_MESSAGES = {
    "png": uploads.MSG_NOT_PDF_IMAGE,
    "garbage xref": uploads.MSG_BAD_XREF,
    "no catalog": uploads.MSG_NO_CATALOG,
    "deeply nested arrays (100k levels)": uploads.MSG_TOO_DEEP,
    "deeply nested dictionaries (100k levels)": uploads.MSG_TOO_DEEP,
    "page tree loop": uploads.MSG_LOOP,
    "reference loop": uploads.MSG_LOOP,
    "xref /Prev loop": uploads.MSG_LOOP,
    "object stream bomb": uploads.MSG_BOMB,
    "million tiny objects": uploads.MSG_TOO_MANY_OBJECTS,
}
FEW_SECONDS = 3.0


def refused(data: Any, **kwargs: Any) -> PdfRejected:
    with pytest.raises(PdfRejected) as caught:
        pdf_upload_check(data, **kwargs)
    return caught.value


def test_every_broken_file_has_an_expected_reason() -> None:
    assert set(broken.broken_files()) == set(EXPECTED_REASONS)


@pytest.mark.parametrize("name", list(EXPECTED_REASONS))
def test_each_broken_file_is_refused_with_its_reason(name: str) -> None:
    data = broken.broken_files()[name]
    started = time.monotonic()
    error = refused(data)
    elapsed = time.monotonic() - started
    assert error.reason == EXPECTED_REASONS[name], (broken.describe(name), error)
    assert elapsed < FEW_SECONDS
    # A ValidationFailed on "file", which the API and the forms already know how to show.
    assert isinstance(error, ValidationFailed)
    assert error.code == "validation_failed"
    assert set(error.fields) == {"file"}
    if name in EXPECTED_MESSAGES:
        assert str(error.fields["file"]) == str(EXPECTED_MESSAGES[name])
    with translation.override("vi"):
        assert error.as_dict()["fields"]["file"][0]


@pytest.mark.parametrize("name", list(EXPECTED_REASONS))
def test_each_broken_file_is_refused_as_a_stream_too(name: str) -> None:
    stream = io.BytesIO(broken.broken_files()[name])
    assert refused(stream).reason == EXPECTED_REASONS[name]


def test_the_bomb_is_stopped_without_inflating_it() -> None:
    """The object stream inflates to over 1 GiB; the check stops at the 32 MB cap."""
    data = broken.broken_files()["object stream bomb"]
    tracemalloc.start()
    try:
        refused(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 1024 * 1024


def test_the_bomb_really_inflates_past_a_gigabyte() -> None:
    """Inflated here in 16 MB steps, thrown away as it comes (about 3 s): over 1 GiB, and a
    valid zlib stream to the end (checksum included)."""
    data = broken.broken_files()["object stream bomb"]
    compressed = data[data.index(b"stream\n") + 7 : data.index(b"\nendstream")]
    assert len(compressed) < 2 * 1024 * 1024
    decompressor = zlib.decompressobj()
    first = decompressor.decompress(compressed, 64)
    assert first.startswith(b"3 0 << /Type /Catalog")
    total, rest = len(first), decompressor.unconsumed_tail
    while rest:
        total += len(decompressor.decompress(rest, 16 * 1024 * 1024))
        rest = decompressor.unconsumed_tail
    total += len(decompressor.flush())
    assert decompressor.eof
    assert total > 1024**3


# --- too large ------------------------------------------------------------------------------


def test_one_byte_over_the_limit_is_too_large(settings: Any) -> None:
    data = broken.huge_pdf()
    assert len(data) == settings.DOCUMENT_MAX_UPLOAD_BYTES + 1
    assert data.startswith(b"%PDF-")
    error = refused(data)
    assert error.reason == Reason.TOO_LARGE
    assert "20 MB" in str(error.fields["file"])


def test_at_the_limit_is_not_too_large(settings: Any) -> None:
    data = broken.huge_pdf(settings.DOCUMENT_MAX_UPLOAD_BYTES)
    assert pdf_upload_check(data).pages == 1


def test_a_huge_stream_is_read_no_further_than_the_limit(settings: Any) -> None:
    stream = broken.HugeUpload(size=10 * settings.DOCUMENT_MAX_UPLOAD_BYTES)
    assert refused(stream).reason == Reason.TOO_LARGE
    assert stream.served == settings.DOCUMENT_MAX_UPLOAD_BYTES + 1


def test_max_bytes_overrides_the_setting() -> None:
    error = refused(broken.good_pdf(), max_bytes=512)
    assert error.reason == Reason.TOO_LARGE
    assert "the limit is 512 B." in str(error.fields["file"])


# --- good files -----------------------------------------------------------------------------


@pytest.mark.parametrize("pages", [1, 3])
def test_a_good_pdf_passes_with_its_facts(pages: int) -> None:
    data = broken.good_pdf(pages)
    facts = pdf_upload_check(data)
    assert facts == PdfFacts(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        version="1.7",
        pages=pages,
        encrypted=False,
        signatures=0,
        revisions=1,
    )
    assert not facts.has_signatures


def test_a_rendered_form_passes() -> None:
    from thudo.documents.rendering import render_document
    from thudo.documents.tests.test_rendering import CONTEXTS

    facts = pdf_upload_check(render_document("receipt", CONTEXTS["receipt"]))
    assert facts.pages == 1


def test_an_uploaded_file_is_read_and_put_back() -> None:
    data = broken.good_pdf(2)
    upload = SimpleUploadedFile("giay-to.pdf", data, content_type="application/pdf")
    upload.read(10)
    assert pdf_upload_check(upload).pages == 2
    assert upload.tell() == 10  # where the caller left it
    upload.seek(0)
    assert upload.read() == data


def test_junk_before_the_header_is_tolerated() -> None:
    """Some mail and scanner software prepends a few bytes; readers accept the header within
    the first 1024 bytes, with offsets counted from it."""
    assert pdf_upload_check(b"\r\n" * 100 + broken.good_pdf()).pages == 1


def _incremental_update(data: bytes, extra: bytes) -> bytes:
    """``data`` with one more revision: object 99, a new xref section and a trailer /Prev."""
    previous = int(data[data.rindex(b"startxref") + 9 :].split()[0])
    out = bytearray(data)
    at = len(out)
    out += b"99 0 obj\n%s\nendobj\n" % extra
    xref = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n99 1\n%010d 00000 n \n" % at
    out += b"trailer\n<< /Size 100 /Root 1 0 R /Prev %d >>\n" % previous
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_incremental_updates_are_counted() -> None:
    data = _incremental_update(broken.good_pdf(), b"(a later revision)")
    facts = pdf_upload_check(data)
    assert (facts.pages, facts.revisions) == (1, 2)


def test_signature_fields_with_a_value_are_counted() -> None:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R "
        b"/AcroForm << /Fields [4 0 R 5 0 R 6 0 R] /SigFlags 3 >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] >>",
        b"<< /FT /Sig /T (Signature1) /V 7 0 R /Subtype /Widget /Rect [0 0 0 0] >>",
        b"<< /FT /Sig /T (Empty) /Subtype /Widget /Rect [0 0 0 0] >>",  # not signed yet
        b"<< /FT /Sig /T (Parent) /Kids [8 0 R] >>",  # the kid inherits /FT
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached >>",
        b"<< /T (Kid) /V 7 0 R /Subtype /Widget /Rect [0 0 0 0] >>",
    ]
    facts = pdf_upload_check(broken.assemble(objects))
    assert (facts.signatures, facts.has_signatures) == (2, True)


def test_a_field_tree_loop_is_refused() -> None:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /FT /Sig /T (Loop) /Kids [4 0 R] >>",
    ]
    assert refused(broken.assemble(objects)).reason == Reason.HOSTILE


def test_moderate_nesting_is_fine() -> None:
    nested = b"[" * 40 + b"1" + b"]" * 40
    data = broken.assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Extra %s >>" % nested,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ]
    )
    assert pdf_upload_check(data).pages == 1


# --- time limits ----------------------------------------------------------------------------


def test_a_parse_that_takes_too_long_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(data: bytes, deadline: Any) -> tuple[int, int]:
        release.wait(5)
        return 1, 0

    monkeypatch.setattr(uploads, "_parse", stuck)
    started = time.monotonic()
    try:
        error = refused(broken.good_pdf(), timeout=0.3)
    finally:
        release.set()
    assert error.reason == Reason.TIMEOUT
    assert time.monotonic() - started < 2


def test_when_every_parse_slot_is_taken_the_caller_is_told_to_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slots = threading.BoundedSemaphore(1)
    slots.acquire()
    monkeypatch.setattr(uploads, "_parse_slots", slots)
    with pytest.raises(Throttled):
        pdf_upload_check(broken.good_pdf(), timeout=0.2)


def test_an_unexpected_parser_failure_is_a_damaged_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdf

    def explode(*args: Any, **kwargs: Any) -> None:
        raise KeyError("/Root")

    monkeypatch.setattr(pypdf, "PdfReader", explode)
    assert refused(broken.good_pdf()).reason == Reason.CORRUPT
