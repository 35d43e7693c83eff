"""Checks for PDF files that people upload (the verification page, dossier papers).

``pdf_upload_check(data)`` reads at most the upload limit plus one byte, looks at the bytes,
then parses the structure with pypdf under tight limits in a worker thread with a wall-clock
timeout. It returns ``PdfFacts`` or raises ``PdfRejected`` (a ``ValidationFailed`` on the field
``"file"`` whose ``reason`` is one of ``Reason``). It never raises anything else for a bad file
and never takes longer than about ``timeout`` seconds.

What is checked, in order (cheap checks first, so most bad files never reach the parser):

1. size: empty; larger than ``max_bytes`` (``DOCUMENT_MAX_UPLOAD_BYTES`` by default);
2. magic: ``%PDF-`` within the first 1024 bytes;
3. the end: ``%%EOF`` and ``startxref`` within the last 1024 bytes (else truncated), and
   ``startxref`` pointing at a cross-reference table or stream (else damaged);
4. the trailer: ``/Encrypt`` (refused) and ``/Size`` (at most ``MAX_OBJECTS``);
5. the structure, with pypdf: the catalog, the page tree (walked here, with loop, depth and
   count limits, never trusting ``/Count``), the signature fields of the form.

Limits on pypdf (``pypdf.Configuration``, applied in the worker thread only): every decoder's
output is capped at ``MAX_INFLATED_BYTES``, arrays and dictionaries at 100,000 entries, xref
streams at ``MAX_OBJECTS`` entries. Python's recursion limit stops deeply nested objects.
A parse that still runs past the timeout cannot be killed (it is a thread), so at most
``MAX_CONCURRENT_PARSES`` parses run at once, each holding its slot until it really ends; the
limits above bound how long that is.
"""

from __future__ import annotations

import enum
import hashlib
import io
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from django.conf import settings
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import Throttled, ValidationFailed

logger = logging.getLogger(__name__)

MAGIC_WINDOW = 1024  # %PDF- must start within the first 1024 bytes (as Acrobat accepts)
EOF_WINDOW = 1024  # %%EOF must be within the last 1024 bytes
READ_CHUNK = 64 * 1024
MAX_OBJECTS = 500_000  # /Size of the cross-reference; big real files have tens of thousands
MAX_PAGES = 10_000
MAX_TREE_DEPTH = 64  # page tree and form field tree
MAX_NESTING = 128  # [ and < characters; real files stay under 20, pypdf recurses per level
MAX_FIELDS = 10_000
MAX_INFLATED_BYTES = 32 * 1024 * 1024  # per decoded stream (object and xref streams)
MAX_CONCURRENT_PARSES = 4
PARSE_TIMEOUT = 5.0  # seconds


class Reason(enum.StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_PDF = "not_pdf"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    NO_PAGES = "no_pages"
    HOSTILE = "hostile"
    TIMEOUT = "timeout"


class PdfRejected(ValidationFailed):
    """A refused upload: ``fields["file"]`` says why to the person, ``reason`` to the code."""

    def __init__(self, reason: Reason, message: str | Promise) -> None:
        super().__init__(fields={"file": message})
        self.reason = reason

    def __repr__(self) -> str:
        return f"PdfRejected({self.reason.value!r}, {str(self.fields['file'])!r})"


@dataclass(frozen=True)
class PdfFacts:
    size: int
    sha256: str
    version: str  # from the header, e.g. "1.7"
    pages: int
    encrypted: bool  # always False here: encrypted files are refused; kept for callers' records
    signatures: int  # signature fields that hold a signature (/FT /Sig with a /V)
    revisions: int  # cross-reference sections: 1, plus one per incremental update

    @property
    def has_signatures(self) -> bool:
        return self.signatures > 0


# --- messages -------------------------------------------------------------------------------

MSG_EMPTY = _("The file is empty.")
MSG_TOO_LARGE = _("The file is too large: the limit is {limit}.")
MSG_NOT_PDF = _("This is not a PDF file.")
MSG_NOT_PDF_IMAGE = _("This is an image, not a PDF file. Convert it to PDF and upload it again.")
MSG_NOT_PDF_OFFICE = _(
    "This is an office document, not a PDF file. Export it as PDF and upload it again."
)
MSG_TRUNCATED = _(
    "The PDF file is incomplete: its end is missing. It may have been cut off; upload it again."
)
MSG_BAD_XREF = _("The PDF file is damaged: its cross-reference table cannot be read.")
MSG_CORRUPT = _("The PDF file is damaged and cannot be read.")
MSG_NO_CATALOG = _("The PDF file is damaged: its document catalog is missing.")
MSG_ENCRYPTED = _(
    "The PDF file is encrypted or password-protected. Remove the protection and upload it again."
)
MSG_NO_PAGES = _("The PDF file has no pages.")
MSG_TOO_MANY_PAGES = _("The PDF file has too many pages: the limit is {limit}.")
MSG_TOO_MANY_OBJECTS = _("The PDF file has too many objects to be checked safely.")
MSG_TOO_DEEP = _("The PDF file is nested too deeply to be checked safely.")
MSG_LOOP = _("The PDF file refers to itself in a loop.")
MSG_BOMB = _("The PDF file holds compressed data that expands to an unreasonable size.")
MSG_HOSTILE = _("The PDF file is built in a way that cannot be checked safely.")
MSG_TIMEOUT = _("The PDF file took too long to check. It is too complex to be accepted.")
MSG_BUSY = _("Too many files are being checked right now. Please try again in a minute.")


# --- reading --------------------------------------------------------------------------------


def _read_limited(data: bytes | bytearray | memoryview | IO[bytes], max_bytes: int) -> bytes:
    """The bytes, or TOO_LARGE as soon as more than ``max_bytes`` have been seen."""
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > max_bytes:
            raise PdfRejected(Reason.TOO_LARGE, _too_large(max_bytes))
        return bytes(data)
    seekable = bool(getattr(data, "seekable", lambda: False)())
    start = data.tell() if seekable else 0
    if seekable:
        data.seek(0)
    buffer = bytearray()
    try:
        while len(buffer) <= max_bytes:
            chunk = data.read(min(READ_CHUNK, max_bytes + 1 - len(buffer)))
            if not chunk:
                break
            buffer += chunk
    finally:
        if seekable:
            data.seek(start)
    if len(buffer) > max_bytes:
        raise PdfRejected(Reason.TOO_LARGE, _too_large(max_bytes))
    return bytes(buffer)


def _too_large(max_bytes: int) -> str | Promise:
    if max_bytes >= 1024 * 1024:
        limit = f"{max_bytes / (1024 * 1024):.3g} MB"
    elif max_bytes >= 1024:
        limit = f"{max_bytes / 1024:.3g} KB"
    else:
        limit = f"{max_bytes} B"
    return format_lazy(MSG_TOO_LARGE, limit=limit)


_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*", b"BM")
_OFFICE_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def _not_pdf(head: bytes) -> PdfRejected:
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return PdfRejected(Reason.NOT_PDF, MSG_NOT_PDF_IMAGE)
    if head.startswith(_OFFICE_MAGIC):
        return PdfRejected(Reason.NOT_PDF, MSG_NOT_PDF_OFFICE)
    return PdfRejected(Reason.NOT_PDF, MSG_NOT_PDF)


_HEADER = re.compile(rb"%PDF-(\d\.\d)")
_STARTXREF = re.compile(rb"startxref\s+(\d{1,15})\s+%%EOF")
_XREF_AT = re.compile(rb"\s*(?:(xref)\b|\d{1,10}\s+\d{1,5}\s+obj\b)")
_SIZE = re.compile(rb"/Size\s+(\d{1,20})")
_PREV = re.compile(rb"/Prev\s+(\d{1,15})")
MAX_REVISIONS = 1000  # cross-reference sections chained by /Prev (incremental updates)


def _prescan(data: bytes) -> tuple[str, int]:
    """The checks on raw bytes; returns the header version and the number of revisions."""
    if not data:
        raise PdfRejected(Reason.EMPTY, MSG_EMPTY)
    header = _HEADER.search(data, 0, MAGIC_WINDOW + 8)
    if header is None or header.start() >= MAGIC_WINDOW:
        raise _not_pdf(data[:16])
    tail = data[max(0, len(data) - EOF_WINDOW) :]
    if b"%%EOF" not in tail:
        raise PdfRejected(Reason.TRUNCATED, MSG_TRUNCATED)
    pointers = _STARTXREF.findall(tail)
    if not pointers:
        raise PdfRejected(Reason.TRUNCATED, MSG_TRUNCATED)
    revisions = _walk_xref_chain(data, int(pointers[-1]), header.start())
    return header.group(1).decode("ascii"), revisions


def _walk_xref_chain(data: bytes, offset: int, shift: int) -> int:
    """Follow startxref and each section's /Prev: every pointer must land on a cross-reference
    table or stream, the chain must not loop, and no trailer may declare encryption or more
    than MAX_OBJECTS objects. Returns the number of sections."""
    seen: set[int] = set()
    pointer: int | None = offset
    while pointer is not None:
        # Offsets count from the file's start, or from the header where junk comes first.
        for at in dict.fromkeys((pointer, pointer + shift)):
            found = _XREF_AT.match(data, at) if 0 < at < len(data) else None
            if found:
                break
        else:
            raise PdfRejected(Reason.CORRUPT, MSG_BAD_XREF)
        if at in seen:
            raise PdfRejected(Reason.HOSTILE, MSG_LOOP)
        seen.add(at)
        if len(seen) > MAX_REVISIONS:
            raise PdfRejected(Reason.HOSTILE, MSG_HOSTILE)
        if found.group(1):  # a classic table; its trailer follows it
            trailer_at = data.find(b"trailer", at)
            if trailer_at == -1:
                raise PdfRejected(Reason.CORRUPT, MSG_BAD_XREF)
            dictionary = data[trailer_at : trailer_at + 4096].split(b"startxref", 1)[0]
        else:  # a cross-reference stream; its dictionary is the trailer
            dictionary = data[at : at + 4096].split(b"stream", 1)[0]
        if b"/Encrypt" in dictionary:
            raise PdfRejected(Reason.ENCRYPTED, MSG_ENCRYPTED)
        if any(int(size) > MAX_OBJECTS for size in _SIZE.findall(dictionary)):
            raise PdfRejected(Reason.HOSTILE, MSG_TOO_MANY_OBJECTS)
        previous = _PREV.findall(dictionary)
        pointer = int(previous[0]) if previous else None
    return len(seen)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise PdfRejected(Reason.TIMEOUT, MSG_TIMEOUT)


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]<>")


def _check_nesting(data: bytes, deadline: _Deadline) -> None:
    """Refuse objects nested deeper than MAX_NESTING (pypdf would recurse, then recover with a
    warning for every level). Stream bodies are cut out; of the rest only the brackets
    ``[ ] < >`` are kept, and matched innermost pairs are removed once per level: the number
    of rounds is the depth (a dictionary's ``<<`` counts two)."""
    outside: list[bytes] = []
    position = 0
    while True:
        start = data.find(b"stream", position)
        if start == -1:
            outside.append(data[position:])
            break
        if data[start - 3 : start] == b"end":  # a stray endstream
            outside.append(data[position : start + 6])
            position = start + 6
            continue
        outside.append(data[position:start])
        end = data.find(b"endstream", start + 6)
        if end == -1:  # never closed: check the rest too rather than trust it
            outside.append(data[start:])
            break
        position = end + 9
        if len(outside) % 1024 == 0:
            deadline.check()
    skeleton = b"".join(outside).translate(None, _NOT_BRACKETS)
    for _round in range(MAX_NESTING):
        deadline.check()
        reduced = skeleton.replace(b"[]", b"").replace(b"<>", b"")
        if len(reduced) == len(skeleton):
            return
        skeleton = reduced
    if b"[]" in skeleton or b"<>" in skeleton:
        raise PdfRejected(Reason.HOSTILE, MSG_TOO_DEEP)


# --- parsing --------------------------------------------------------------------------------


def _pypdf_limits() -> dict[str, Any]:
    cap = MAX_INFLATED_BYTES
    return {
        "zlib_maximum_output_length": cap,
        "lzw_maximum_output_length": cap,
        "run_length_maximum_output_length": cap,
        "brotli_maximum_output_length": cap,
        "jbig2_maximum_output_length": cap,
        "array_based_stream_maximum_output_length": cap,
        "image_maximum_buffer_size": cap,
        "xmp_maximum_input_length": 1_000_000,
        "stream_decoding_work_maximum_length": 4 * cap,
        "array_maximum_element_count": 100_000,
        "dictionary_maximum_element_count": 100_000,
        "jbig2dec_binary": None,  # never start an external decoder on an upload
    }


def _resolve(obj: Any, deadline: _Deadline) -> Any:
    """Follow indirect references, refusing a chain that comes back on itself."""
    from pypdf.generic import IndirectObject, NullObject

    seen: set[tuple[int, int]] = set()
    while isinstance(obj, IndirectObject):
        key = (obj.idnum, obj.generation)
        if key in seen:
            raise PdfRejected(Reason.HOSTILE, MSG_LOOP)
        seen.add(key)
        deadline.check()
        obj = obj.pdf.get_object(obj)
    return None if isinstance(obj, NullObject) else obj


def _ref_key(obj: Any) -> tuple[int, int] | None:
    from pypdf.generic import IndirectObject

    return (obj.idnum, obj.generation) if isinstance(obj, IndirectObject) else None


def _raw(dictionary: dict[Any, Any], key: str) -> Any:
    # dict.get, not DictionaryObject.get: we resolve references ourselves, with loop checks.
    return dict.get(dictionary, key)


def _count_pages(pages_ref: Any, deadline: _Deadline) -> int:
    from pypdf.generic import ArrayObject, DictionaryObject

    count = 0
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int]] = [(pages_ref, 0)]
    while stack:
        deadline.check()
        ref, depth = stack.pop()
        key = _ref_key(ref)
        if key is not None:
            if key in seen:
                raise PdfRejected(Reason.HOSTILE, MSG_LOOP)
            seen.add(key)
        node = _resolve(ref, deadline)
        if not isinstance(node, DictionaryObject):
            raise PdfRejected(Reason.CORRUPT, MSG_CORRUPT)
        kind = _resolve(_raw(node, "/Type"), deadline)
        kids = _resolve(_raw(node, "/Kids"), deadline)
        if kind == "/Pages" or (kind != "/Page" and kids is not None):
            if not isinstance(kids, ArrayObject):
                raise PdfRejected(Reason.CORRUPT, MSG_CORRUPT)
            if depth >= MAX_TREE_DEPTH:
                raise PdfRejected(Reason.HOSTILE, MSG_TOO_DEEP)
            stack.extend((kid, depth + 1) for kid in reversed(kids))
        else:
            count += 1
            if count > MAX_PAGES:
                raise PdfRejected(Reason.HOSTILE, format_lazy(MSG_TOO_MANY_PAGES, limit=MAX_PAGES))
    return count


def _count_signatures(root: dict[Any, Any], deadline: _Deadline) -> int:
    from pypdf.generic import ArrayObject, DictionaryObject

    form = _resolve(_raw(root, "/AcroForm"), deadline)
    if not isinstance(form, DictionaryObject):
        return 0
    fields = _resolve(_raw(form, "/Fields"), deadline)
    if not isinstance(fields, ArrayObject):
        return 0
    signed = 0
    visited = 0
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int, Any]] = [(field, 0, None) for field in fields]
    while stack:
        deadline.check()
        ref, depth, inherited_type = stack.pop()
        key = _ref_key(ref)
        if key is not None:
            if key in seen:
                raise PdfRejected(Reason.HOSTILE, MSG_LOOP)
            seen.add(key)
        visited += 1
        if visited > MAX_FIELDS or depth > MAX_TREE_DEPTH:
            raise PdfRejected(Reason.HOSTILE, MSG_HOSTILE)
        field = _resolve(ref, deadline)
        if not isinstance(field, DictionaryObject):
            continue
        field_type = _resolve(_raw(field, "/FT"), deadline) or inherited_type
        kids = _resolve(_raw(field, "/Kids"), deadline)
        if isinstance(kids, ArrayObject):
            stack.extend((kid, depth + 1, field_type) for kid in kids)
        if field_type == "/Sig" and isinstance(
            _resolve(_raw(field, "/V"), deadline), DictionaryObject
        ):
            signed += 1
    return signed


def _parse(data: bytes, deadline: _Deadline) -> tuple[int, int]:
    """Pages and signatures, or a PdfRejected. Runs in the worker thread."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError
    from pypdf.generic import DictionaryObject

    _check_nesting(data, deadline)
    try:
        with apply_configuration(**_pypdf_limits()):
            reader = PdfReader(
                io.BytesIO(data),
                strict=False,
                root_object_recovery_limit=0,
                xref_stream_maximum_entries=MAX_OBJECTS,
            )
            deadline.check()
            if reader.is_encrypted:
                raise PdfRejected(Reason.ENCRYPTED, MSG_ENCRYPTED)
            root = _resolve(_raw(reader.trailer, "/Root"), deadline)
            if not isinstance(root, DictionaryObject):
                raise PdfRejected(Reason.CORRUPT, MSG_NO_CATALOG)
            pages_ref = _raw(root, "/Pages")
            if pages_ref is None:
                raise PdfRejected(Reason.CORRUPT, MSG_NO_CATALOG)
            pages = _count_pages(pages_ref, deadline)
            signatures = _count_signatures(root, deadline)
    except PdfRejected:
        raise
    except RecursionError:
        raise PdfRejected(Reason.HOSTILE, MSG_TOO_DEEP) from None
    except MemoryError:
        raise PdfRejected(Reason.HOSTILE, MSG_BOMB) from None
    except LimitReachedError as exc:
        message = str(exc).lower()
        bomb = any(word in message for word in ("decompress", "output", "decod", "length"))
        raise PdfRejected(Reason.HOSTILE, MSG_BOMB if bomb else MSG_HOSTILE) from None
    except Exception as exc:  # any other failure of the parser means a damaged file
        logger.info("PDF upload refused as damaged: %s: %s", type(exc).__name__, exc)
        raise PdfRejected(Reason.CORRUPT, MSG_CORRUPT) from None
    if pages == 0:
        raise PdfRejected(Reason.NO_PAGES, MSG_NO_PAGES)
    return pages, signatures


_parse_slots = threading.BoundedSemaphore(MAX_CONCURRENT_PARSES)

T = TypeVar("T")


def _run_with_timeout(work: Callable[[], T], timeout: float) -> T:
    """Run ``work`` in a daemon thread; give up waiting after ``timeout`` seconds. The thread
    keeps its parse slot until it ends, so runaway parses cannot pile up."""
    started = time.monotonic()
    slots = _parse_slots  # released on the object acquired, whatever the global is by then
    if not slots.acquire(timeout=timeout):
        raise Throttled(MSG_BUSY, retry_after=60)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            slots.release()

    worker = threading.Thread(target=target, name="pdf-upload-check", daemon=True)
    worker.start()
    worker.join(max(0.0, timeout - (time.monotonic() - started)))
    if worker.is_alive():
        logger.warning("PDF upload check gave up after %.1f s; the parse goes on", timeout)
        raise PdfRejected(Reason.TIMEOUT, MSG_TIMEOUT)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


# --- the check ------------------------------------------------------------------------------


def pdf_upload_check(
    data: bytes | bytearray | memoryview | IO[bytes],
    *,
    max_bytes: int | None = None,
    timeout: float = PARSE_TIMEOUT,
) -> PdfFacts:
    """Check an uploaded PDF; return its facts or raise ``PdfRejected`` on field ``"file"``.

    ``data`` is the bytes or a binary file (a Django ``UploadedFile`` works): a seekable file is
    read from its start and left where it was. At most ``max_bytes + 1`` bytes are read.
    ``Throttled`` is raised, instead of judging the file, only when ``MAX_CONCURRENT_PARSES``
    checks are already running for longer than ``timeout``.
    """
    limit = int(settings.DOCUMENT_MAX_UPLOAD_BYTES) if max_bytes is None else max_bytes
    content = _read_limited(data, limit)
    version, revisions = _prescan(content)
    deadline = _Deadline(timeout)
    pages, signatures = _run_with_timeout(lambda: _parse(content, deadline), timeout)
    return PdfFacts(
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        version=version,
        pages=pages,
        encrypted=False,
        signatures=signatures,
        revisions=revisions,
    )
