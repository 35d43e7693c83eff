"""Broken and hostile PDF files, made in memory, for tests of anything that reads uploaded PDFs.

``broken_files()`` returns ``{name: bytes}`` (``describe(name)`` says what each one is). Every
file in it must be refused by ``thudo.documents.uploads.pdf_upload_check`` (``test_uploads.py``
names the reason for each) and must not crash or hang any other reader either: the signature
verifier can run the same set. The file one byte over the upload limit is made only on demand:
``huge_pdf()`` returns its bytes (a valid PDF of exactly that size), and ``HugeUpload`` serves a
stream of any size without holding it, counting in ``served`` how much the reader took.

``good_pdf(pages)`` is a small valid PDF made the same way, for the happy path, and
``assemble(objects)`` builds any other small PDF with a correct cross-reference table.

Only the standard library and pypdf (for the encrypted files) are used. The whole set takes about
half a second to make (the million objects most of it) and is then cached for the process.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Sequence
from functools import cache

from django.conf import settings

# ---------------------------------------------------------------------------------------------
# A tiny PDF writer: numbered objects, a classic cross-reference table, a trailer.


def assemble(
    objects: Sequence[bytes],
    *,
    root: int = 1,
    trailer_extra: bytes = b"",
    version: bytes = b"1.7",
    size: int | None = None,
) -> bytes:
    """Objects numbered from 1 (``objects[0]`` is ``1 0 obj``), with a correct xref table."""
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    count = len(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % count
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\n" % (size or count, root, trailer_extra)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(data), extra, data)


def good_pdf(pages: int = 1) -> bytes:
    """A valid, unencrypted PDF with ``pages`` A4 pages, each saying "Page n"."""
    page_numbers = [3 + 2 * i for i in range(pages)]
    kids = b" ".join(b"%d 0 R" % n for n in page_numbers)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
    ]
    font = 3 + 2 * pages
    for i in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, 4 + 2 * i)
        )
        objects.append(stream(b"BT /F1 24 Tf 72 760 Td (Page %d) Tj ET" % (i + 1)))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return assemble(objects)


# ---------------------------------------------------------------------------------------------
# The broken files.


def _png() -> bytes:
    """A 1x1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff"))
        + chunk(b"IEND", b"")
    )


def _missing_eof() -> bytes:
    data = good_pdf()
    return data[: data.rindex(b"%%EOF")]


def _garbage_xref() -> bytes:
    """startxref points into noise where the cross-reference table should be."""
    data = good_pdf()
    start = data.rindex(b"xref\n0 ")
    end = data.index(b"trailer", start)
    noise = bytes((i * 37 + 11) % 251 for i in range(end - start))
    return data[:start] + noise.replace(b"%", b"?") + data[end:]


def _encrypted() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(good_pdf())))
    writer.encrypt(user_password="bí mật", owner_password="chủ sở hữu", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _encrypted_no_password() -> bytes:
    """Encrypted with an empty user password: opens without asking, but it is still encrypted
    (copying and signing restrictions)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(good_pdf())))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _deeply_nested(levels: int = 100_000) -> bytes:
    deep = b"[" * levels + b"]" * levels
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Deep %s >>" % deep,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ]
    )


def _deeply_nested_dicts(levels: int = 100_000) -> bytes:
    deep = b"<< /A " * levels + b"0" + b" >>" * levels
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Deep %s >>" % deep,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ]
    )


def _page_tree_loop() -> bytes:
    """The page tree's /Kids holds the tree itself."""
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ]
    )


def _reference_loop() -> bytes:
    """Two page-tree nodes, each the other's only kid."""
    return assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        ]
    )


def _reference_chain_loop() -> bytes:
    """Object 2 is nothing but a reference to object 3, which is a reference to object 2."""
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"3 0 R", b"2 0 R"])


def _xref_prev_loop() -> bytes:
    """The trailer's /Prev points back at the same cross-reference table."""
    data = good_pdf()
    xref_at = int(data[data.rindex(b"startxref") + 9 :].split()[0])
    return data.replace(b"/Root 1 0 R ", b"/Root 1 0 R /Prev %d " % xref_at)


def _zero_pages() -> bytes:
    return assemble([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def _no_catalog() -> bytes:
    return assemble([b"<< /Type /Pages /Kids [] /Count 0 >>"], root=7)


def _header_too_late() -> bytes:
    return b"x" * 2000 + good_pdf()


_MOD = 65521


def _adler32_of_spaces(start: int, count: int) -> int:
    """The Adler-32 of (whatever gave ``start``) followed by ``count`` spaces, without reading
    ``count`` bytes: A grows by 32 a byte, B by A."""
    a, b = start & 0xFFFF, start >> 16
    b = (b + count * a + 32 * (count * (count + 1) // 2)) % _MOD
    a = (a + 32 * count) % _MOD
    return (b << 16) | a


def inflating_stream(prefix: bytes, total: int) -> bytes:
    """A zlib (FlateDecode) stream that inflates to ``prefix`` followed by spaces, ``total``
    bytes in all, made from one compressed block repeated (about 1 KB per MB of output)."""
    block_size = 1 << 20
    compressor = zlib.compressobj(9)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(b" " * block_size) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(total - len(prefix), block_size)
    tail = compressor.compress(b" " * rest) + compressor.flush(zlib.Z_FINISH)
    # The compressor's own checksum covers one block; write the true one for the whole output.
    checksum = _adler32_of_spaces(zlib.adler32(prefix), blocks * block_size + rest)
    return head + block * blocks + tail[:-4] + checksum.to_bytes(4, "big")


def _object_stream_bomb(total: int = (1 << 30) + (1 << 20)) -> bytes:
    """The catalog sits in an object stream that inflates to just over 1 GiB; a
    cross-reference stream (PDF 1.5) points into it."""
    header = b"3 0 "
    prefix = header + b"<< /Type /Catalog /Pages 4 0 R >> "
    bomb = inflating_stream(prefix, total)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    offsets[1] = len(out)
    out += b"1 0 obj\n%s\nendobj\n" % stream(
        bomb, b"/Type /ObjStm /N 1 /First %d /Filter /FlateDecode " % len(header)
    )
    offsets[4] = len(out)
    out += b"4 0 obj\n<< /Type /Pages /Kids [5 0 R] /Count 1 >>\nendobj\n"
    offsets[5] = len(out)
    out += b"5 0 obj\n<< /Type /Page /Parent 4 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
    xref_at = len(out)
    offsets[2] = xref_at
    rows = bytearray()
    for number in range(6):
        if number == 0:
            rows += bytes([0, 0, 0, 0, 0xFF, 0xFF])
        elif number == 3:  # object 3 is the first object of stream 1
            rows += bytes([2, 0, 0, 1, 0, 0])
        else:
            rows += bytes([1]) + offsets[number].to_bytes(3, "big") + bytes([0, 0])
    out += b"2 0 obj\n%s\nendobj\n" % stream(
        bytes(rows), b"/Type /XRef /Size 6 /W [1 3 2] /Root 3 0 R "
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _million_objects(count: int = 1_000_000) -> bytes:
    """A million tiny objects (``null``), packed in one object stream and listed in a
    compressed cross-reference stream, so the file itself stays small (all of them share the
    stream's one ``null``, which keeps the stream small too)."""
    pairs = (" 0 ".join(map(str, range(3, 3 + count))) + " 0 ").encode()
    objstm = zlib.compress(pairs + b"null", 1)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    catalog_at = len(out)
    out += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    pages_at = len(out)
    out += b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    stm_number = 3 + count
    stm_at = len(out)
    out += b"%d 0 obj\n%s\nendobj\n" % (
        stm_number,
        stream(
            objstm, b"/Type /ObjStm /N %d /First %d /Filter /FlateDecode " % (count, len(pairs))
        ),
    )
    xref_number = stm_number + 1
    xref_at = len(out)

    def row(kind: int, field: int, index: int = 0) -> bytes:
        return bytes([kind]) + field.to_bytes(4, "big") + index.to_bytes(3, "big")

    rows = bytearray(row(0, 0, 0xFFFF) + row(1, catalog_at) + row(1, pages_at))
    stm_ref = bytes([2]) + stm_number.to_bytes(4, "big")
    rows += b"".join([stm_ref + i.to_bytes(3, "big") for i in range(count)])
    rows += row(1, stm_at) + row(1, xref_at)
    out += b"%d 0 obj\n%s\nendobj\n" % (
        xref_number,
        stream(
            zlib.compress(bytes(rows), 1),
            b"/Type /XRef /Size %d /W [1 4 3] /Root 1 0 R /Filter /FlateDecode "
            % (xref_number + 1),
        ),
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


BROKEN_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty": (lambda: b"", "Zero bytes."),
    "text file named .pdf": (
        lambda: "Đây là một tệp văn bản, không phải PDF.\n".encode() * 20,
        "Plain UTF-8 text.",
    ),
    "png": (_png, "A PNG image."),
    "header after 1024 bytes": (_header_too_late, "2,000 bytes of junk before %PDF-."),
    "truncated half": (lambda: good_pdf()[: len(good_pdf()) // 2], "The first half of a PDF."),
    "missing %%EOF": (_missing_eof, "A whole PDF without its final %%EOF marker."),
    "garbage xref": (_garbage_xref, "The cross-reference table overwritten with noise."),
    "encrypted": (_encrypted, "RC4-128 with a user password."),
    "encrypted, empty password": (_encrypted_no_password, "Encrypted, opens without a password."),
    "no catalog": (_no_catalog, "The trailer's /Root names an object that does not exist."),
    "zero pages": (_zero_pages, "A valid structure with an empty page tree."),
    "deeply nested arrays (100k levels)": (_deeply_nested, "[[[[…]]]] 100,000 deep."),
    "deeply nested dictionaries (100k levels)": (
        _deeply_nested_dicts,
        "<< /A << /A … >> >> 100,000 deep.",
    ),
    "page tree loop": (_page_tree_loop, "The page tree lists itself among its kids."),
    "reference loop": (_reference_loop, "Page-tree nodes 2 and 3 are each other's kids."),
    "reference chain loop": (
        _reference_chain_loop,
        "/Pages is 2 0 R, whose value is 3 0 R, whose value is 2 0 R.",
    ),
    "xref /Prev loop": (_xref_prev_loop, "The trailer's /Prev points to the same xref table."),
    "object stream bomb": (
        _object_stream_bomb,
        "The catalog is in a FlateDecode object stream that inflates to just over 1 GiB.",
    ),
    "million tiny objects": (
        _million_objects,
        "1,000,000 null objects in an object stream, listed in an xref stream.",
    ),
}


@cache
def _made() -> dict[str, bytes]:
    return {name: make() for name, (make, _) in BROKEN_FILES.items()}


def broken_files() -> dict[str, bytes]:
    """Every broken or hostile file by name (made once per process, then copied out)."""
    return dict(_made())


def describe(name: str) -> str:
    return BROKEN_FILES[name][1]


# ---------------------------------------------------------------------------------------------
# The file one byte over the upload limit, made only when asked for.


def huge_size() -> int:
    return int(settings.DOCUMENT_MAX_UPLOAD_BYTES) + 1


def huge_pdf(size: int | None = None) -> bytes:
    """A valid PDF of exactly ``size`` bytes (default: the upload limit plus one): one page and
    an unused stream of filler."""
    size = size or huge_size()

    def make(filler: int) -> bytes:
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] >>",
            stream(b"x" * filler),
        ]
        return assemble(objects)

    filler = size - len(make(0))
    data = make(filler)
    data = make(filler - (len(data) - size))  # the /Length grew by a few digits
    if len(data) != size:
        raise ValueError(f"cannot make a PDF of exactly {size} bytes")
    return data


class HugeUpload(io.RawIOBase):
    """A readable stream of ``size`` bytes that starts like a PDF and is never held in memory.
    ``served`` counts the bytes handed out, so a test can prove that a reader stopped early."""

    def __init__(self, size: int | None = None) -> None:
        super().__init__()
        self.size = size or huge_size()
        self.served = 0
        self._head = b"%PDF-1.7\n%"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self.size - self.served)
        if want <= 0:
            return 0
        chunk = bytearray(b"x" * want)
        head = self._head[self.served : self.served + want]
        chunk[: len(head)] = head
        buffer[:want] = chunk
        self.served += want
        return want
