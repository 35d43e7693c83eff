"""PAdES signing of PDFs with an agency's credential (docs/signatures.md).

``sign_pdf`` is a pure function on bytes: it appends one incremental update holding a visible,
time-stamped signature at the top right of page 1 (left of any signature already there), and for
B-LT / B-LTA the revocation data (the city's CRL and an OCSP response, no network) and a
document time-stamp. The caller stores the result as a new ``DocumentVersion``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import io
import logging
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ThudoError, ValidationFailed

from . import pki

if TYPE_CHECKING:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko_certvalidator import ValidationContext

    from thudo.accounts.models import Agency

# fontTools logs every subsetting step at INFO.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)


class _NoFetchingNotice(logging.Filter):
    """pyHanko warns that revocation data is embedded without fetching: that is the design
    here (the city's own CRL and OCSP are handed to it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_NoFetchingNotice())

LEVELS = ("B-T", "B-LT", "B-LTA")
STAMP_WIDTH = 200
STAMP_HEIGHT = 70
STAMP_MARGIN = 18  # from the page's top and right edges, in points
STAMP_GAP = 6  # between stacked stamps
STAMP_FONT_SIZE = 7
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
STAMP_TEXT = "%(organisation)s\n%(label)s\nKý ngày / Signed: %(signed_at)s"


class SigningFailed(ThudoError):
    code = "signing_failed"
    status = 422
    default_message = _("The document could not be signed.")


@functools.cache
def font_path() -> Path:
    """DejaVu Sans (shipped with matplotlib): every Vietnamese diacritic."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


# Latin with every Vietnamese letter (precomposed and combining), punctuation, digits, ₫.
_FONT_RANGES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x250),
    *range(0x300, 0x370),
    *range(0x1EA0, 0x1F00),
    *range(0x2010, 0x2040),
    0x20AB,
    0x20AC,
    0x2116,
]


@functools.cache
def _font_bytes() -> bytes:
    """DejaVu Sans cut down once per process to the Vietnamese/Latin repertoire (pyHanko then
    subsets a small font per signature instead of a 750 kB one: 10x faster), and rescaled to
    1000 units per em: pyHanko writes the glyph widths (/W) in font units, which PDF reads as
    thousandths of an em, so a 2048-unit font would be drawn with doubled letter spacing."""
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem

    options = subset.Options()
    options.layout_features = ["ccmp", "locl", "mark", "mkmk", "kern"]
    options.drop_tables = [*options.drop_tables, "MATH", "FFTM"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = TTFont(io.BytesIO(font_path().read_bytes()))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_FONT_RANGES)
    subsetter.subset(font)
    if font["head"].unitsPerEm != 1000:
        scale_upem(font, 1000)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def signing_time_text(moment: dt.datetime) -> str:
    """ISO 8601 in Vietnam's time, e.g. 2026-11-23T05:37:17+07:00."""
    return moment.astimezone(VIETNAM).isoformat(timespec="seconds")


# --- The stamp: pyHanko's QR stamp with a TrueType font, the QR drawn with segno ------------


def _reserve(credential: Any) -> int:
    """Bytes to reserve for the CMS container, without pyHanko's dry-run signature (which
    signs and time-stamps twice). The container holds the signer's chain, the signature, the
    signed attributes and the time-stamp token with the TSA's certificate: ~4 KiB with the
    city's certificates; 4 KiB of margin plus every certificate's size covers longer chains."""
    from cryptography.hazmat.primitives.serialization import Encoding

    certs = (credential.cert, *credential.chain)
    return 8192 + sum(len(c.public_bytes(Encoding.DER)) for c in certs)


# Font programs of stamp subsets, by glyph-id set (bounded; see SubsetCachingAccumulator).
_SUBSETS: dict[frozenset[int], bytes] = {}
_SUBSETS_LOCK = threading.Lock()


@functools.cache
def _stamp_style() -> Any:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.font.opentype import (
        CIDFontType2,
        GlyphAccumulator,
        GlyphAccumulatorFactory,
    )
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.pdf_utils.writer import init_xobject_dictionary
    from pyhanko.stamp import QRPosition, QRStampStyle
    from pyhanko.stamp.qr import QRStamp

    @dataclass(frozen=True)
    class InMemoryFont(GlyphAccumulatorFactory):
        # pyHanko's factory opens the font file and never closes it; read it once instead.
        def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
            if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
                obj_stream = writer.prepare_object_stream()
            return SubsetCachingAccumulator(
                writer=writer,
                font_handle=io.BytesIO(_font_bytes()),
                font_size=self.font_size,
                obj_stream=obj_stream,
            )

    class SubsetCachingAccumulator(GlyphAccumulator):
        """Subsetting the font is most of a signature's cost, and an agency's stamps use the
        same glyphs every time (its name, the label, digits): keep each subset's font program,
        keyed by its glyph ids, and embed the kept bytes instead of subsetting again."""

        def _extract_subset(self, options: Any = None) -> None:
            key = frozenset(self._glyphs)
            program = _SUBSETS.get(key)
            if program is None:
                super()._extract_subset(options)
                buffer = io.BytesIO()
                self.tt.save(buffer)
                program = buffer.getvalue()
                with _SUBSETS_LOCK:
                    if len(_SUBSETS) >= 256:
                        _SUBSETS.pop(next(iter(_SUBSETS)), None)
                    _SUBSETS[key] = program
            kept: bytes = program
            if isinstance(self.cidfont_obj, CIDFontType2):
                cidfont = self.cidfont_obj

                def set_font_file(writer: Any, data: bytes = kept) -> Any:
                    stream = generic.StreamObject(stream_data=data)
                    stream.compress()
                    ref = writer.add_object(stream)
                    cidfont._font_descriptor[generic.pdf_name("/FontFile2")] = ref
                    return ref

                cidfont.set_font_file = set_font_file  # type: ignore[method-assign]

    class SegnoQRStamp(QRStamp):
        # pyHanko draws QR codes with the `qrcode` package (its [qr] extra, not installed
        # here); segno is already a Thudo dependency, so the modules are drawn from it.
        def _qr_xobject(self) -> tuple[Any, int]:
            import segno

            border = 2
            code = segno.make(self.url, error="m", micro=False)
            size = code.symbol_size(border=border)[0]
            ops: list[str] = ["0 g"]
            for y, row in enumerate(code.matrix):
                x = 0
                while x < len(row):
                    if row[x]:
                        start = x
                        while x < len(row) and row[x]:
                            x += 1
                        ops.append(f"{start + border} {size - border - y - 1} {x - start} 1 re")
                    else:
                        x += 1
            ops.append("f")
            xobj = init_xobject_dictionary("\n".join(ops).encode(), size, size)
            xobj.compress()
            assert self.writer is not None
            return self.writer.add_object(xobj), int(size)

    @dataclass(frozen=True)
    class ThudoStampStyle(QRStampStyle):
        def create_stamp(self, writer: Any, box: Any, text_params: dict[str, Any]) -> Any:
            params = dict(text_params)
            url = params.pop("url")
            return SegnoQRStamp(writer, style=self, url=url, text_params=params, box=box)

    return ThudoStampStyle(
        stamp_text=STAMP_TEXT,
        border_width=1,
        innsep=3,
        qr_position=QRPosition.LEFT_OF_TEXT,
        text_box_style=TextBoxStyle(
            font=InMemoryFont(str(font_path()), font_size=STAMP_FONT_SIZE),
            font_size=STAMP_FONT_SIZE,
            leading=STAMP_FONT_SIZE + 2,
        ),
    )


# --- Placement -----------------------------------------------------------------------------


def _inherited(page: Any, key: str) -> Any:
    node = page
    for _depth in range(64):
        if key in node:
            return node[key]
        parent = node.get("/Parent")
        if parent is None:
            return None
        node = parent.get_object()
    return None


def _existing_signature_names(writer: IncrementalPdfFileWriter) -> set[str]:
    from pyhanko.sign.fields import enumerate_sig_fields

    return {name for name, _value, _ref in enumerate_sig_fields(writer.prev)}


def stamp_box(writer: IncrementalPdfFileWriter) -> tuple[int, int, int, int]:
    """Where the next stamp goes on page 1: in the top band, right to left.

    The first stamp takes the top right corner (the forms keep it free: rendering.py's
    RESERVED_SIGNATURE_BOX); the next goes to its left, in the same band above the national
    header, and so on. Only when the band is full does a stamp go below the lowest one.
    """
    page_ref, _resources = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    x0, y0, x1, y1 = (float(v) for v in _inherited(page, "/MediaBox") or (0, 0, 595, 842))
    left, bottom = min(x0, x1), min(y0, y1)
    right, top = max(x0, x1), max(y0, y1)
    taken = _visible_signature_rects(page)
    band_top = top - STAMP_MARGIN
    box_right = right - STAMP_MARGIN
    while box_right - STAMP_WIDTH >= left + STAMP_MARGIN:
        box = (box_right - STAMP_WIDTH, band_top - STAMP_HEIGHT, box_right, band_top)
        if not any(_overlaps(box, rect) for rect in taken):
            return _rounded(box)
        box_right -= STAMP_WIDTH + STAMP_GAP
    # The band is full: below the lowest stamp at the right edge.
    box_right = right - STAMP_MARGIN
    box_left = max(left, box_right - STAMP_WIDTH)
    box_top = min(
        [
            band_top,
            *(r[1] - STAMP_GAP for r in taken if _overlaps((box_left, bottom, box_right, top), r)),
        ]
    )
    box_bottom = max(bottom, box_top - STAMP_HEIGHT)
    return _rounded((box_left, box_bottom, box_right, box_bottom + STAMP_HEIGHT))


def _visible_signature_rects(page: Any) -> list[tuple[float, float, float, float]]:
    rects = []
    annots = page.get("/Annots")  # may be an indirect reference to the array
    for annot_ref in annots.get_object() if annots is not None else ():
        annot = annot_ref.get_object()
        if annot.get("/Subtype") != "/Widget":
            continue
        parent = annot.get("/Parent")
        ft = annot.get("/FT") or (parent.get_object().get("/FT") if parent is not None else None)
        if ft != "/Sig" or "/Rect" not in annot:
            continue
        ax0, ay0, ax1, ay1 = (float(v) for v in annot["/Rect"])
        if ax0 == ax1 or ay0 == ay1:
            continue  # invisible (document time-stamps)
        rects.append((min(ax0, ax1), min(ay0, ay1), max(ax0, ax1), max(ay0, ay1)))
    return rects


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _rounded(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x0, y0, x1, _y1 = (round(v) for v in box)
    return (x0, y0, x1, y0 + STAMP_HEIGHT)


# --- Time-stamps and revocation data -------------------------------------------------------


def timestamper() -> TimeStamper:
    """THUDO_TSA_URL's RFC 3161 service, or the city's own TSA in-process."""
    url = getattr(settings, "THUDO_TSA_URL", "")
    if url:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        return HTTPTimeStamper(url, timeout=10)
    return pki.city_timestamper()


def _validation_context(credential: pki.SigningCredential) -> ValidationContext:
    from pyhanko_certvalidator import ValidationContext

    roots = [pki.to_asn1_cert(c) for c in pki.root_certificates()]
    external_tsa = bool(getattr(settings, "THUDO_TSA_URL", ""))
    if credential.issued_by_city and not external_tsa:
        crls, ocsps = pki.revocation_material(credential.cert)
        return ValidationContext(
            trust_roots=roots,
            crls=crls,
            ocsps=ocsps,
            allow_fetching=False,
            revocation_mode="hard-fail",
        )
    # An imported certificate or an external TSA: their CAs' CRL / OCSP must be fetched.
    crls, _ocsps = pki.revocation_material(credential.cert)
    extra = [pki.to_asn1_cert(c) for c in credential.chain[-1:]]
    return ValidationContext(
        extra_trust_roots=roots + extra,
        crls=crls,
        allow_fetching=True,
        revocation_mode="hard-fail",
    )


# --- Signing -------------------------------------------------------------------------------


def sign_pdf(
    *,
    pdf: bytes,
    agency: Agency,
    signer_label: str,
    verify_url: str,
    field_name: str | None = None,
    level: str = "B-LTA",
) -> bytes:
    """Sign ``pdf`` for ``agency``; returns the new bytes (the old ones plus one update).

    Raises ``pki.CredentialError`` (``no_credential`` / ``credential_revoked`` /
    ``credential_expired``) when the agency cannot sign, ``ValidationFailed`` for a bad level,
    ``SigningFailed`` when the PDF cannot be read or the time-stamp cannot be had.
    """
    if level not in LEVELS:
        raise ValidationFailed(fields={"level": _("Choose B-T, B-LT or B-LTA.")})
    credential = pki.credential_for(agency)
    kwargs: dict[str, Any] = {
        "pdf": pdf,
        "credential": credential,
        "organisation": agency.name,
        "signer_label": signer_label,
        "verify_url": verify_url,
        "field_name": field_name,
        "level": level,
    }
    if _loop_running():
        # pyHanko drives its own event loop (asyncio.run), which cannot start inside a running
        # one (an async view, a test driving a browser): sign on a worker thread instead.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(sign_pdf_with_credential, **kwargs).result()
    return sign_pdf_with_credential(**kwargs)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def sign_pdf_with_credential(
    *,
    pdf: bytes,
    credential: pki.SigningCredential,
    organisation: str,
    signer_label: str,
    verify_url: str,
    field_name: str | None = None,
    level: str = "B-LTA",
    stamper: TimeStamper | None = None,
) -> bytes:
    """The signing itself, for a credential already checked by ``credential_for``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
    from pyhanko.sign.timestamps import TimestampRequestError

    if level not in LEVELS:
        raise ValidationFailed(fields={"level": _("Choose B-T, B-LT or B-LTA.")})
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        if writer.prev.encrypted:
            raise SigningFailed(_("Encrypted PDFs cannot be signed."), code="pdf_encrypted")
        existing = _existing_signature_names(writer)
        box = stamp_box(writer)
    except (PdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SigningFailed(_("The PDF could not be read."), code="pdf_unreadable") from exc
    if field_name is None:
        number = len(existing) + 1
        while f"Signature{number}" in existing:
            number += 1
        field_name = f"Signature{number}"
    elif field_name in existing:
        raise ValidationFailed(fields={"field_name": _("This signature field is already used.")})

    long_term = level in ("B-LT", "B-LTA")
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=signer_label[:200],
        location=str(getattr(settings, "THUDO_CITY", {}).get("NAME", "")) or None,
        embed_validation_info=long_term,
        use_pades_lta=level == "B-LTA",
        validation_context=_validation_context(credential) if long_term else None,
        signer_key_usage={"non_repudiation"},
        # The revocation data goes into the signature's own revision (no VRI, deprecated), so a
        # B-LT signature covers the whole file and B-LTA ends with the document time-stamp.
        dss_settings=DSSContentSettings(
            include_vri=False,
            placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE,
        ),
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=credential.pyhanko_signer(),
        timestamper=stamper or timestamper(),
        stamp_style=_stamp_style(),
        new_field_spec=fields.SigFieldSpec(sig_field_name=field_name, on_page=0, box=box),
    )
    signed_at = signing_time_text(timezone.now())
    params = {
        "url": verify_url,
        "organisation": unicodedata.normalize("NFC", organisation),
        "label": unicodedata.normalize("NFC", signer_label),
        "signed_at": signed_at,
    }
    try:
        try:
            out = pdf_signer.sign_pdf(
                writer, appearance_text_params=params, bytes_reserved=_reserve(credential)
            )
        except (SigningError, PdfError, ValueError):
            # The reservation was too small (an unusual chain): let pyHanko measure instead,
            # on the original bytes.
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
            out = pdf_signer.sign_pdf(writer, appearance_text_params=params)
    except TimestampRequestError as exc:
        raise SigningFailed(
            _("The time-stamping authority did not answer."), code="timestamp_unavailable"
        ) from exc
    except (SigningError, PdfError) as exc:
        raise SigningFailed() from exc
    return bytes(out.getbuffer())
