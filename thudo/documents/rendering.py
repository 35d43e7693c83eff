"""The one-stop forms (01–05) and the result certificate as A4 PDFs.

``render_document(kind, context, lang="vi")`` validates ``context`` for ``kind`` (a
``Document.Kind`` other than "other"), then draws the form with fpdf2 in DejaVu Sans, the font
that ships with matplotlib and covers every Vietnamese letter. The output is deterministic: the
same input gives the same bytes (the PDF's creation date is ``created_at`` from the context, or
the document date at midnight in Hanoi).

Layout (points, A4 is 595.28 x 841.89; fpdf2 measures y from the top, PDF from the bottom):

* ``RESERVED_SIGNATURE_BOX`` — the top right of page one — stays empty: the agency's visible
  signature stamp goes there when the document is signed. The national header therefore begins
  below it, at ``HEADER_TOP``.
* The header in two columns, as in Vietnamese administrative documents: the issuing agency on the
  left (upper-case, bold, a short rule under it), the national name and motto on the right (the
  motto underlined); below them "Số: …" on the left and "<place>, ngày dd tháng mm năm yyyy" on
  the right.
* The title, the body of the form, and the signature blocks. Page numbers, from page two, stand
  at the top centre.

The wording of each form is data (``LABELS``: Vietnamese and English), not gettext: a form's
language is chosen per document, not by the reader's interface language, and its wording
follows the official templates. Error messages are gettext strings with English msgids.
"""

from __future__ import annotations

import atexit
import importlib.util
import io
import logging
import re
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed

# --- page geometry (points) -------------------------------------------------------------------

A4_WIDTH = 595.28
A4_HEIGHT = 841.89
SIGNATURE_BOX_WIDTH = 220.0
SIGNATURE_BOX_HEIGHT = 90.0
RESERVED_SIGNATURE_BOX: tuple[float, float, float, float] = (
    round(A4_WIDTH - SIGNATURE_BOX_WIDTH, 2),  # x0 = 375.28
    round(A4_HEIGHT - SIGNATURE_BOX_HEIGHT, 2),  # y0 = 751.89
    A4_WIDTH,  # x1 = 595.28
    A4_HEIGHT,  # y1 = 841.89
)
"""(x0, y0, x1, y1) in PDF points from the bottom-left of page one: nothing is drawn here."""

MARGIN_LEFT = 85.0  # 30 mm, as Decree 30/2020 sets for administrative documents
MARGIN_RIGHT = 57.0  # 20 mm
MARGIN_TOP = 57.0  # pages after the first
MARGIN_BOTTOM = 57.0
HEADER_TOP = SIGNATURE_BOX_HEIGHT + 12.0  # page one's header starts below the reserved box
LEFT_COLUMN = 190.0  # the agency's column; the national header takes the rest
BODY_SIZE = 10.5
LINE_FACTOR = 1.4  # line height over font size
QR_SIZE = 72.0

FONT = "DejaVuSans"

# fontTools reports every subset it makes at INFO, glyph lists included: one screenful per
# document. Quiet it unless the settings (LOGGING) have set a level for it.
if logging.getLogger("fontTools.subset").level == logging.NOTSET:
    logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

# --- the font -----------------------------------------------------------------------------------

# What the forms need: Latin with every Vietnamese letter (Ă Â Đ Ê Ô Ơ Ư and the tone marks,
# precomposed in Latin Extended Additional), the combining tone marks for text that arrives
# decomposed and is not normalised, punctuation, ₫ and €. Keeping only these glyphs makes the
# font load and subset five times faster than the whole of DejaVu Sans.
_COVERAGE = (
    *range(0x20, 0x7F),
    *range(0xA0, 0x180),
    0x1A0,
    0x1A1,
    0x1AF,
    0x1B0,
    *range(0x300, 0x304),
    0x309,
    0x323,
    *range(0x1EA0, 0x1EFA),
    *range(0x2010, 0x2028),
    0x2030,
    0x2039,
    0x203A,
    0x20AB,
    0x20AC,
    0x2116,
)


@dataclass(frozen=True)
class _Fonts:
    regular: Path
    bold: Path
    printable: frozenset[str]
    widths: tuple[dict[str, int], dict[str, int]]  # regular, bold: advance in 1/1000 em


_font_lock = threading.Lock()
_fonts_made: _Fonts | None = None


def font_source_dir() -> Path:
    """matplotlib's bundled fonts, found without importing matplotlib."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib is not installed; it provides the DejaVu Sans font")
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


def _flatten_composites(font: Any) -> None:
    """Draw every composite glyph (most Vietnamese letters: a base and its marks) as a simple
    one. fpdf2 subsets the font again for each document; simple glyphs are copied as they are,
    where composites would be decompiled and compiled again, which costs most of the time."""
    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    glyf = font["glyf"]
    glyph_set = font.getGlyphSet()
    flat = {}
    for name in font.getGlyphOrder():
        if glyf[name].isComposite():
            recording = DecomposingRecordingPen(glyph_set)
            glyph_set[name].draw(recording)
            pen = TTGlyphPen(None)
            recording.replay(pen)
            flat[name] = pen.glyph()
    for name, glyph in flat.items():
        glyf[name] = glyph


def _fonts() -> _Fonts:
    """DejaVu Sans and DejaVu Sans Bold cut down to ``_COVERAGE``, made once per process into a
    private temporary folder (fpdf2 loads fonts from files)."""
    global _fonts_made
    with _font_lock:
        if _fonts_made is None:
            from fontTools import subset as ftsubset
            from fontTools.ttLib import TTFont

            folder = Path(tempfile.mkdtemp(prefix="thudo-fonts-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            paths = []
            widths: list[dict[str, int]] = []
            printable: set[str] | None = None
            for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
                font = TTFont(font_source_dir() / name, recalcTimestamp=False)
                options = ftsubset.Options()
                options.notdef_outline = True
                options.recommended_glyphs = True
                options.hinting = False
                options.layout_features = []
                options.name_IDs = [0, 1, 2, 3, 4, 5, 6]  # copyright and names
                options.drop_tables += ["GPOS", "GSUB", "GDEF", "kern", "FFTM", "gasp", "MATH"]
                subsetter = ftsubset.Subsetter(options)
                subsetter.populate(unicodes=_COVERAGE)
                subsetter.subset(font)
                _flatten_composites(font)
                path = folder / name
                font.save(path)
                best = font.getBestCmap()
                scale = 1000 / font["head"].unitsPerEm
                advances = font["hmtx"].metrics
                # Rounded as fpdf2 rounds its own widths, so lines measure the same to both.
                widths.append(
                    {
                        chr(code): round(scale * advances[glyph][0] + 0.001)
                        for code, glyph in best.items()
                    }
                )
                cmap = set(widths[-1])
                printable = cmap if printable is None else printable & cmap
                paths.append(path)
            _fonts_made = _Fonts(
                paths[0], paths[1], frozenset(printable or ()), (widths[0], widths[1])
            )
        return _fonts_made


# --- labels -------------------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "republic": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "motto": "Độc lập - Tự do - Hạnh phúc",
        "number": "Số: {number}",
        "place_date": "{place}, ngày {day:02d} tháng {month:02d} năm {year}",
        "date": "ngày {day:02d} tháng {month:02d} năm {year}",
        "datetime": "{hour:02d} giờ {minute:02d} phút, ngày {day:02d} tháng {month:02d} năm {year}",
        "form_number": "Mẫu số {number}",
        "page": "Trang {page}",
        "title_receipt": "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        "title_supplement_request": "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
        "title_refusal": "PHIẾU TỪ CHỐI TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ",
        "title_apology": "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
        "title_control_slip": "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
        "dossier_code": "Mã hồ sơ: ",
        "received_from": "Tiếp nhận hồ sơ của: ",
        "dossier_of": "Hồ sơ của: ",
        "personal_id": "Số định danh cá nhân: ",
        "address": "Địa chỉ: ",
        "phone": "Số điện thoại: ",
        "email": "Thư điện tử: ",
        "procedure": "Nội dung yêu cầu giải quyết: ",
        "papers": "Thành phần hồ sơ nộp gồm:",
        "col_no": "STT",
        "col_paper": "Tên giấy tờ",
        "col_count": "Số lượng (bản)",
        "sets": "Số lượng hồ sơ: {sets} (bộ)",
        "processing_days": "Thời gian giải quyết hồ sơ theo quy định: {days} ngày làm việc",
        "received_at": "Thời gian nhận hồ sơ: ",
        "due_at": "Thời gian trả kết quả giải quyết hồ sơ: ",
        "delivery": "Đăng ký nhận kết quả tại: ",
        "lookup": "Tra cứu tình trạng hồ sơ tại {url} bằng mã hồ sơ nêu trên.",
        "applicant_sign": "NGƯỜI NỘP HỒ SƠ",
        "officer_sign": "NGƯỜI TIẾP NHẬN HỒ SƠ",
        "guide_sign": "NGƯỜI HƯỚNG DẪN",
        "head_sign": "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ",
        "sign_hint": "(Ký và ghi rõ họ tên)",
        "sign_seal_hint": "(Ký, ghi rõ họ tên và đóng dấu)",
        "supplement_intro": (
            "Sau khi xem xét, hồ sơ cần được bổ sung, hoàn thiện những nội dung sau:"
        ),
        "reason": "Lý do: ",
        "deadline": "Thời hạn bổ sung, hoàn thiện hồ sơ: ",
        "deadline_value": "trước {moment}",
        "contact": (
            "Trong quá trình bổ sung, hoàn thiện hồ sơ, nếu có vướng mắc, Ông/Bà liên hệ "
            "{contact} để được hướng dẫn."
        ),
        "refusal_intro": (
            "Sau khi nghiên cứu, đối chiếu với các quy định hiện hành, {agency} từ chối tiếp "
            "nhận, giải quyết hồ sơ này với lý do cụ thể như sau:"
        ),
        "refusal_close": "Xin thông báo để Ông/Bà được biết và thực hiện./.",
        "apology_received": (
            "Ngày {day:02d} tháng {month:02d} năm {year}, {agency} tiếp nhận, giải quyết hồ sơ "
            "của Ông/Bà {name}."
        ),
        "original_due": "Thời hạn trả kết quả ghi trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả: ",
        "apology_late": (
            "Tuy nhiên, đến nay {agency} chưa trả được kết quả giải quyết hồ sơ cho Ông/Bà "
            "đúng hạn."
        ),
        "apology_sorry": (
            "Sự chậm trễ này đã gây phiền hà cho Ông/Bà. {agency} xin lỗi Ông/Bà và hẹn trả "
            "kết quả giải quyết hồ sơ vào: "
        ),
        "thanks": "Xin trân trọng cảm ơn./.",
        "handling_agency": "Cơ quan (bộ phận) giải quyết hồ sơ: ",
        "coordinating": "Cơ quan phối hợp giải quyết hồ sơ: ",
        "col_handed_over_by": "Bên giao",
        "col_received_by": "Bên nhận",
        "col_at": "Thời gian giao, nhận",
        "col_result": "Kết quả giải quyết",
        "issued_to": "Cấp cho: ",
    },
    "en": {
        "republic": "SOCIALIST REPUBLIC OF VIET NAM",
        "motto": "Independence - Freedom - Happiness",
        "number": "No.: {number}",
        "place_date": "{place}, {day} {month_name} {year}",
        "date": "{day} {month_name} {year}",
        "datetime": "{hour:02d}:{minute:02d}, {day} {month_name} {year}",
        "form_number": "Form {number}",
        "page": "Page {page}",
        "title_receipt": "RECEIPT AND APPOINTMENT FOR RESULTS",
        "title_supplement_request": "REQUEST TO SUPPLEMENT THE DOSSIER",
        "title_refusal": "REFUSAL TO ACCEPT THE DOSSIER",
        "title_apology": "APOLOGY AND NEW APPOINTMENT FOR RESULTS",
        "title_control_slip": "PROCESSING-CONTROL SLIP",
        "dossier_code": "Dossier code: ",
        "received_from": "Dossier received from: ",
        "dossier_of": "Dossier of: ",
        "personal_id": "Personal identification number: ",
        "address": "Address: ",
        "phone": "Telephone: ",
        "email": "Email: ",
        "procedure": "Request: ",
        "papers": "Papers received:",
        "col_no": "No.",
        "col_paper": "Paper",
        "col_count": "Copies",
        "sets": "Number of dossier sets: {sets}",
        "processing_days": "Time allowed by the rules: {days} working days",
        "received_at": "Received at: ",
        "due_at": "Results due at: ",
        "delivery": "Results to be collected at: ",
        "lookup": "Track this dossier at {url} with the dossier code above.",
        "applicant_sign": "APPLICANT",
        "officer_sign": "RECEIVING OFFICER",
        "guide_sign": "GUIDING OFFICER",
        "head_sign": "HEAD OF THE AGENCY",
        "sign_hint": "(Signature and full name)",
        "sign_seal_hint": "(Signature, full name and seal)",
        "supplement_intro": "Having examined it, the dossier needs the following to be complete:",
        "reason": "Reason: ",
        "deadline": "Supplement the dossier by: ",
        "deadline_value": "{moment}",
        "contact": "If anything is unclear, please contact {contact} for guidance.",
        "refusal_intro": (
            "Having examined the dossier against the regulations in force, {agency} refuses to "
            "accept and process it, for the following reasons:"
        ),
        "refusal_close": "We inform you of this decision accordingly.",
        "apology_received": (
            "On {day} {month_name} {year}, {agency} received the dossier of {name} for processing."
        ),
        "original_due": "Results were promised by the receipt for: ",
        "apology_late": "However, {agency} has not been able to return the results on time.",
        "apology_sorry": (
            "We apologise for the inconvenience this delay causes. {agency} will return the "
            "results on: "
        ),
        "thanks": "Thank you for your understanding.",
        "handling_agency": "Agency (unit) processing the dossier: ",
        "coordinating": "Coordinating agencies: ",
        "col_handed_over_by": "Handed over by",
        "col_received_by": "Received by",
        "col_at": "Time",
        "col_result": "Result",
        "issued_to": "Issued to: ",
    },
}

MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

FORM_NUMBERS = {
    "receipt": "01",
    "supplement_request": "02",
    "refusal": "03",
    "apology": "04",
    "control_slip": "05",
}

# --- messages -----------------------------------------------------------------------------------

MSG_UNKNOWN_KIND = _("Documents of this type cannot be generated: {kind}.")
MSG_UNKNOWN_LANG = _("Documents cannot be generated in this language: {lang}.")
MSG_REQUIRED = _("This value is required for the document.")
MSG_TEXT = _("Enter a text.")
MSG_TOO_LONG = _("Enter at most {limit} characters.")
MSG_NUMBER = _("Enter a whole number of at least 1.")
MSG_DATE = _("Enter a date (YYYY-MM-DD).")
MSG_DATETIME = _("Enter a date and time with its time zone, e.g. 2026-01-15T09:30:00+07:00.")
MSG_MOMENT = _("Enter a date, or a date and time with its time zone.")
MSG_LIST = _("Enter a list of 1 to {limit} items.")
MSG_PAPERS = _("Enter each paper as a name and a count of at least 1.")
MSG_MISSING = _("Enter each missing item as a text, or as an item and a reason.")
MSG_STEPS = _("Enter each step with who handed over, who received, the time and the result.")
MSG_FIELDS = _("Enter each field as a label and a value.")
MSG_DOSSIER_CODE = _("Enter a dossier code of the form <unit code>-YYMMDD-XXXX.")
MSG_UNPRINTABLE = _("Contains characters the document font cannot print: {chars}")

MAX_TEXT = 2000
MAX_ITEMS = 200

# --- context validation -------------------------------------------------------------------------


class _Invalid(Exception):
    """A bad value. ``specific`` errors (too long, unprintable) survive inside a list; the
    others are replaced by the list's own message, which says what each entry should be."""

    def __init__(self, message: str | Promise, *, specific: bool = False) -> None:
        super().__init__(str(message))
        self.message = message
        self.specific = specific


def _clean_text(value: Any, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise _Invalid(MSG_TEXT)
    text = unicodedata.normalize("NFC", value)
    if multiline:
        text = "\n".join(" ".join(line.split()) for line in text.strip().splitlines())
    else:
        text = " ".join(text.split())
    if not text:
        raise _Invalid(MSG_REQUIRED)
    if len(text) > MAX_TEXT:
        raise _Invalid(format_lazy(MSG_TOO_LONG, limit=MAX_TEXT), specific=True)
    missing = sorted({c for c in text if c != "\n" and c not in _fonts().printable})
    if missing:
        chars = " ".join(missing[:10])
        raise _Invalid(format_lazy(MSG_UNPRINTABLE, chars=chars), specific=True)
    return text


def _text(value: Any) -> str:
    return _clean_text(value)


def _paragraph(value: Any) -> str:
    return _clean_text(value, multiline=True)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid(MSG_NUMBER)
    try:
        number = int(value)
    except ValueError:
        raise _Invalid(MSG_NUMBER) from None
    if not 1 <= number <= 1_000_000:
        raise _Invalid(MSG_NUMBER)
    return number


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise _Invalid(MSG_DATETIME)
        return value.astimezone(_zone()).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid(MSG_DATE)


def _datetime(value: Any) -> datetime:
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Invalid(MSG_DATETIME) from None
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise _Invalid(MSG_DATETIME)
    return moment.astimezone(_zone())


def _moment(value: Any) -> date | datetime:
    """A date, or an aware date and time (a deadline may be either)."""
    if isinstance(value, str) and len(value.strip()) == 10:
        return _date(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return _datetime(value)
    except _Invalid:
        raise _Invalid(MSG_MOMENT) from None


_DOSSIER_CODE = re.compile(r"^\S{1,40}-\d{6}-\d{4}$")


def _dossier_code(value: Any) -> str:
    code = _text(value)
    if not _DOSSIER_CODE.match(code):
        raise _Invalid(MSG_DOSSIER_CODE)
    return code


def _list(value: Any, item: Callable[[Any], Any], message: str | Promise) -> list[Any]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise _Invalid(format_lazy(MSG_LIST, limit=MAX_ITEMS))
    if not 1 <= len(value) <= MAX_ITEMS:
        raise _Invalid(format_lazy(MSG_LIST, limit=MAX_ITEMS))
    cleaned = []
    for entry in value:
        try:
            cleaned.append(item(entry))
        except _Invalid as exc:
            if exc.specific:
                raise
            raise _Invalid(message) from None
    return cleaned


def _texts(value: Any) -> list[str]:
    return _list(value, _text, MSG_TEXT)


def _require_mapping(entry: Any, message: str | Promise) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise _Invalid(message)
    return entry


def _paper(entry: Any) -> tuple[str, int]:
    paper = _require_mapping(entry, MSG_PAPERS)
    if "name" not in paper or "count" not in paper:
        raise _Invalid(MSG_PAPERS)
    return _text(paper["name"]), _count(paper["count"])


def _missing_item(entry: Any) -> tuple[str, str | None]:
    if isinstance(entry, str):
        return _text(entry), None
    item = _require_mapping(entry, MSG_MISSING)
    if "item" not in item:
        raise _Invalid(MSG_MISSING)
    reason = item.get("reason")
    return _text(item["item"]), (_text(reason) if reason not in (None, "") else None)


def _step(entry: Any) -> tuple[str, str, datetime, str]:
    step = _require_mapping(entry, MSG_STEPS)
    keys = ("handed_over_by", "received_by", "at", "result")
    if any(key not in step for key in keys):
        raise _Invalid(MSG_STEPS)
    return (
        _text(step["handed_over_by"]),
        _text(step["received_by"]),
        _datetime(step["at"]),
        _text(step["result"]),
    )


def _field(entry: Any) -> tuple[str, str] | None:
    """(label, value); None for a field without a value, which is left out."""
    if isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2:
        label, value = entry
    else:
        field = _require_mapping(entry, MSG_FIELDS)
        if "label" not in field or "value" not in field:
            raise _Invalid(MSG_FIELDS)
        label, value = field["label"], field["value"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _text(label), _paragraph(value)


def _fields(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        value = list(value.items())
    fields = [field for field in _list(value, _field, MSG_FIELDS) if field is not None]
    if not fields:
        raise _Invalid(MSG_REQUIRED)
    return fields


Clean = Callable[[Any], Any]
_COMMON: dict[str, tuple[Clean, bool]] = {
    "agency": (_text, True),
    "parent_agency": (_text, False),
    "place": (_text, True),
    "date": (_date, True),
    "number": (_text, False),
    "created_at": (_datetime, False),
}
_DOSSIER: dict[str, tuple[Clean, bool]] = {
    "dossier_code": (_dossier_code, True),
    "applicant_name": (_text, True),
    "procedure": (_text, True),
}
SCHEMAS: dict[str, dict[str, tuple[Clean, bool]]] = {
    "receipt": {
        **_COMMON,
        **_DOSSIER,
        "applicant_id": (_text, True),
        "applicant_address": (_text, False),
        "applicant_phone": (_text, False),
        "applicant_email": (_text, False),
        "papers": (lambda v: _list(v, _paper, MSG_PAPERS), True),
        "sets": (_count, False),
        "processing_days": (_count, False),
        "received_at": (_datetime, True),
        "due_at": (_moment, True),
        "result_delivery": (_text, False),
        "officer": (_text, True),
        "lookup_url": (_text, False),
    },
    "supplement_request": {
        **_COMMON,
        **_DOSSIER,
        "received_at": (_datetime, True),
        "missing": (lambda v: _list(v, _missing_item, MSG_MISSING), True),
        "deadline": (_moment, True),
        "contact": (_text, False),
        "officer": (_text, True),
    },
    "refusal": {
        **_COMMON,
        **_DOSSIER,
        "received_at": (_datetime, True),
        "reasons": (_texts, True),
        "officer": (_text, True),
    },
    "apology": {
        **_COMMON,
        **_DOSSIER,
        "received_at": (_datetime, True),
        "original_due": (_moment, True),
        "new_due": (_moment, True),
        "reason": (_paragraph, True),
        "signer": (_text, True),
        "signer_title": (_text, False),
    },
    "control_slip": {
        **_COMMON,
        **_DOSSIER,
        "handling_agency": (_text, False),
        "coordinating_agencies": (_text, False),
        "steps": (lambda v: _list(v, _step, MSG_STEPS), True),
    },
    "result": {
        **_COMMON,
        "number": (_text, True),
        "title": (_text, True),
        "body": (_paragraph, False),
        "issued_to": (_text, True),
        "fields": (_fields, True),
        "dossier_code": (_dossier_code, False),
        "signer": (_text, True),
        "signer_title": (_text, True),
        "signer_on_behalf": (_text, False),
    },
}
"""For each kind, each context key: (cleaner, required). Other keys are ignored."""


def validate_context(kind: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned context, or ValidationFailed naming every bad or missing key."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ValidationFailed(fields={"kind": format_lazy(MSG_UNKNOWN_KIND, kind=kind)})
    cleaned: dict[str, Any] = {}
    errors: dict[str, str | Promise] = {}
    for key, (clean, required) in schema.items():
        value = context.get(key)
        if value is None or value == "" or value == []:
            if required:
                errors[key] = MSG_REQUIRED
            continue
        try:
            cleaned[key] = clean(value)
        except _Invalid as exc:
            errors[key] = exc.message
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


# --- formatting ---------------------------------------------------------------------------------


def _date_parts(moment: date | datetime, lang: str) -> dict[str, Any]:
    parts: dict[str, Any] = {"day": moment.day, "month": moment.month, "year": moment.year}
    parts["month_name"] = MONTHS_EN[moment.month - 1]
    if isinstance(moment, datetime):
        parts.update(hour=moment.hour, minute=moment.minute)
    return parts


def format_moment(moment: date | datetime, lang: str = "vi") -> str:
    """A moment as the forms write it: "09 giờ 30 phút, ngày 15 tháng 01 năm 2026" or
    "09:30, 15 January 2026"; a date alone as "ngày 15 tháng 01 năm 2026"."""
    template = LABELS[lang]["datetime" if isinstance(moment, datetime) else "date"]
    return template.format(**_date_parts(moment, lang))


# --- drawing ------------------------------------------------------------------------------------
#
# Text is wrapped here, with the fonts' width tables, and placed line by line with fpdf2's
# ``text()``: fpdf2's own ``multi_cell`` measures character by character and costs about a
# millisecond and a half per line, forty times more. Lines are set flush left.

Run = tuple[str, bool]  # a piece of text and whether it is bold
PAGE_BOTTOM = A4_HEIGHT - MARGIN_BOTTOM


def _fpdf_class() -> type:
    from fpdf import FPDF

    class FormPDF(FPDF):  # type: ignore[misc]
        page_label = "{page}"

        def header(self) -> None:
            if self.page_no() > 1:  # page numbers from page two, at the top centre
                self.set_font(FONT, "", 9)
                label = self.page_label.format(page=self.page_no())
                self.text((self.w - self.get_string_width(label)) / 2, 36, label)

    return FormPDF


_form_class: type | None = None


class _Form:
    """One document being drawn: fpdf2 with the fonts, the labels, the cleaned context, and
    ``y``, the top of the next line in points from the top of the page."""

    def __init__(self, kind: str, data: dict[str, Any], lang: str) -> None:
        global _form_class
        if _form_class is None:
            _form_class = _fpdf_class()
        self.kind = kind
        self.data = data
        self.lang = lang
        self.labels = LABELS[lang]
        fonts = _fonts()
        self.widths = fonts.widths
        pdf = _form_class(orientation="P", unit="pt", format="A4")
        pdf.page_label = self.labels["page"]
        pdf.set_margins(MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT)
        pdf.set_auto_page_break(False)  # the breaks are made here, line by line
        pdf.add_font(FONT, "", fonts.regular)
        pdf.add_font(FONT, "B", fonts.bold)
        for loaded in pdf.fonts.values():
            # The prepared fonts' bounding boxes are right already (subsetting keeps outlines):
            # without this, fontTools decompiles and recompiles every glyph when fpdf2 saves
            # the subset, which is most of the time a document takes.
            if hasattr(loaded, "ttfont"):
                loaded.ttfont.recalcBBoxes = False
        pdf.set_creation_date(
            data.get("created_at") or datetime.combine(data["date"], time(0), tzinfo=_zone())
        )
        pdf.set_creator("Thudo")
        pdf.set_producer("Thudo")
        pdf.set_lang(lang)
        pdf.set_author(data["agency"])
        pdf.set_line_width(0.5)
        self.pdf = pdf
        self.left = MARGIN_LEFT
        self.width = A4_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        self.y = 0.0
        self._font: tuple[bool, float] | None = None

    # measuring and wrapping

    def measure(self, text: str, size: float, bold: bool = False) -> float:
        table = self.widths[bold]
        return sum(table.get(char, 0) for char in text) * size / 1000

    def wrap(self, runs: Sequence[Run], width: float, size: float) -> list[list[Run]]:
        """Greedy word wrap of styled runs into lines of runs; a word longer than a line is
        cut; a newline starts a new line."""
        lines: list[list[Run]] = [[]]
        used = 0.0
        for text, bold in runs:
            for number, part in enumerate(text.split("\n")):
                if number:
                    lines.append([])
                    used = 0.0
                for word in part.split():
                    space = self.measure(" ", size, bold) if lines[-1] else 0.0
                    wide = self.measure(word, size, bold)
                    if lines[-1] and used + space + wide > width:
                        lines.append([])
                        used, space = 0.0, 0.0
                    while wide > width and len(word) > 1:  # cut what cannot fit on any line
                        cut = len(word) - 1
                        while cut > 1 and self.measure(word[:cut], size, bold) > width - used:
                            cut -= 1
                        lines[-1].append((word[:cut], bold))
                        lines.append([])
                        used, word = 0.0, word[cut:]
                        wide = self.measure(word, size, bold)
                    lines[-1].append(((" " if space else "") + word, bold))
                    used += space + wide
        return [_merge(line) for line in lines if line] or [[]]

    # drawing

    def set_font(self, size: float, bold: bool) -> None:
        if self._font != (bold, size):
            self.pdf.set_font(FONT, "B" if bold else "", size)
            self._font = (bold, size)

    def new_page(self) -> None:
        self.pdf.add_page()
        self._font = None  # fpdf2 sets the font again on a new page
        self.y = MARGIN_TOP

    def room_for(self, height: float) -> None:
        if self.y + height > PAGE_BOTTOM:
            self.new_page()

    def line(self, runs: Sequence[Run], x: float, width: float, size: float, align: str) -> None:
        """One line at ``self.y`` (its top), runs one after another."""
        total = sum(self.measure(text, size, bold) for text, bold in runs)
        if align == "C":
            x += (width - total) / 2
        elif align == "R":
            x += width - total
        baseline = self.y + 0.5 * LINE_FACTOR * size + 0.3 * size  # as fpdf2's cell() places it
        for text, bold in runs:
            self.set_font(size, bold)
            self.pdf.text(x, baseline, text)
            x += self.measure(text, size, bold)

    def block(
        self,
        runs: Sequence[Run],
        *,
        x: float | None = None,
        width: float | None = None,
        size: float = BODY_SIZE,
        align: str = "L",
        indent: float = 0.0,
        after: float = 2.0,
    ) -> float:
        """Wrapped lines from ``self.y`` down, breaking pages as needed; returns the bottom."""
        x = (self.left if x is None else x) + indent
        width = (self.width if width is None else width) - indent
        height = LINE_FACTOR * size
        for line in self.wrap(runs, width, size):
            self.room_for(height)
            self.line(line, x, width, size, align)
            self.y += height
        bottom = self.y
        self.y += after
        return bottom

    def centered(self, text: str, x: float, width: float, size: float, bold: bool) -> float:
        """Centred lines in a column from ``self.y``; returns the bottom."""
        return self.block([(text, bold)], x=x, width=width, size=size, align="C", after=0)

    def labelled(self, label: str, value: str, bold_value: bool = True) -> None:
        """'Label: value' with the value in bold."""
        self.block([(label, False), (value, bold_value)])

    def paragraph(self, text: str, bold: bool = False, indent: float = 0.0) -> None:
        self.block([(text, bold)], indent=indent)

    def numbered(self, items: Sequence[str]) -> None:
        for number, text in enumerate(items, start=1):
            self.paragraph(f"{number}. {text}", indent=14)

    def table(
        self,
        columns: Sequence[tuple[float, str]],
        heading: Sequence[str],
        rows: Sequence[Sequence[str]],
        size: float,
    ) -> None:
        """A ruled table: ``columns`` are (share of the width, alignment); the heading row is
        bold and comes again at the top of each new page."""
        pad = 3.0
        total = sum(share for share, _align in columns)
        widths = [self.width * share / total for share, _align in columns]
        height = LINE_FACTOR * size

        def draw(cells: Sequence[str], bold: bool) -> None:
            wrapped = [
                self.wrap([(text, bold)], w - 2 * pad, size)
                for text, w in zip(cells, widths, strict=True)
            ]
            row_height = max(len(lines) for lines in wrapped) * height + 2 * pad
            if self.y + row_height > PAGE_BOTTOM:
                self.new_page()
                if not bold:
                    draw(heading, True)
            top, x = self.y, self.left
            for lines, w, (_share, align) in zip(wrapped, widths, columns, strict=True):
                self.pdf.rect(x, top, w, row_height)
                self.y = top + (row_height - len(lines) * height) / 2
                for line in lines:
                    self.line(line, x + pad, w - 2 * pad, size, "C" if bold else align)
                    self.y += height
                x += w
            self.y = top + row_height

        draw(heading, True)
        for row in rows:
            draw(row, False)
        self.y += 6

    # the parts of a form

    def header(self) -> None:
        pdf, data, labels = self.pdf, self.data, self.labels
        pdf.add_page()
        left_x, right_x = self.left, self.left + LEFT_COLUMN
        right_width = self.width - LEFT_COLUMN
        number = FORM_NUMBERS.get(self.kind)
        if number:  # the form's number, small, at the top left (outside the reserved box)
            self.y = HEADER_TOP - 40
            self.block([(labels["form_number"].format(number=number), False)], size=8)
        # left: the issuing agency, a short rule under it
        self.y = HEADER_TOP
        if data.get("parent_agency"):
            self.centered(data["parent_agency"].upper(), left_x, LEFT_COLUMN, 10, False)
        left_bottom = self.centered(data["agency"].upper(), left_x, LEFT_COLUMN, 10, True)
        rule = LEFT_COLUMN / 3
        pdf.line(left_x + rule, left_bottom + 2, left_x + 2 * rule, left_bottom + 2)
        # right: the national name, and the motto underlined
        self.y = HEADER_TOP
        self.centered(labels["republic"], right_x, right_width, 10, True)
        motto_bottom = self.centered(labels["motto"], right_x, right_width, 11, True)
        motto_width = self.measure(labels["motto"], 11, True)
        motto_x = right_x + (right_width - motto_width) / 2
        pdf.line(motto_x, motto_bottom + 1, motto_x + motto_width, motto_bottom + 1)
        # "Số: …" under the agency, "<place>, ngày … tháng … năm …" under the motto
        row = max(left_bottom, motto_bottom) + 12
        reference = data.get("number") or data.get("dossier_code") or ""
        self.y = row
        number_bottom = self.centered(
            labels["number"].format(number=reference), left_x, LEFT_COLUMN, 10, False
        )
        self.y = row
        place_date = labels["place_date"].format(
            place=data["place"], **_date_parts(data["date"], self.lang)
        )
        date_bottom = self.centered(place_date, right_x, right_width, 10, False)
        self.y = max(number_bottom, date_bottom) + 22

    def title(self, text: str) -> None:
        self.pdf.set_title(text)
        self.block([(text, True)], size=13, align="C", after=4)

    def dossier_code_line(self) -> None:
        code = self.data.get("dossier_code")
        if code:
            self.block([(self.labels["dossier_code"], False), (code, True)], align="C", after=8)

    def signatures(self, blocks: Sequence[tuple[str, str, str]]) -> None:
        """Signature blocks (title, hint, name): one on the right, or two side by side."""
        self.room_for(120)
        top = self.y + 10
        if len(blocks) == 1:
            columns = [(self.left + LEFT_COLUMN, self.width - LEFT_COLUMN)]
        else:
            half = self.width / 2
            columns = [(self.left, half), (self.left + half, half)]
        bottom = top
        for (heading, hint, name), (x, width) in zip(blocks, columns, strict=False):
            self.y = top
            self.centered(heading, x, width, 10.5, True)
            self.centered(hint, x, width, 9, False)
            self.y += 48
            bottom = max(bottom, self.centered(name, x, width, 10.5, True))
        self.y = bottom

    def qr(self, code: str, x: float, y: float) -> None:
        import segno

        buffer = io.BytesIO()
        segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=4, border=4)
        buffer.seek(0)
        self.pdf.image(buffer, x=x, y=y, w=QR_SIZE, h=QR_SIZE)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _merge(line: list[Run]) -> list[Run]:
    """Neighbouring runs of the same weight as one."""
    merged: list[Run] = []
    for text, bold in line:
        if merged and merged[-1][1] == bold:
            merged[-1] = (merged[-1][0] + text, bold)
        else:
            merged.append((text, bold))
    return merged


def _draw_receipt(form: _Form) -> None:
    data, labels = form.data, form.labels
    form.title(labels["title_receipt"])
    form.dossier_code_line()
    # The QR of the dossier code sits to the right of the applicant's details.
    top = form.y
    form.qr(data["dossier_code"], A4_WIDTH - MARGIN_RIGHT - QR_SIZE + 4, top - 4)
    form.width -= QR_SIZE + 8
    form.labelled(labels["received_from"], data["applicant_name"])
    form.labelled(labels["personal_id"], data["applicant_id"])
    for key, label in (
        ("applicant_address", "address"),
        ("applicant_phone", "phone"),
        ("applicant_email", "email"),
    ):
        if data.get(key):
            form.labelled(labels[label], data[key], bold_value=False)
    form.labelled(labels["procedure"], data["procedure"])
    form.width += QR_SIZE + 8
    form.y = max(form.y, top + QR_SIZE)
    steps: list[Callable[[str], None]] = [lambda n: _papers_table(form, n)]
    if data.get("sets"):
        steps.append(lambda n: form.paragraph(n + labels["sets"].format(sets=data["sets"])))
    if data.get("processing_days"):
        days = labels["processing_days"].format(days=data["processing_days"])
        steps.append(lambda n: form.paragraph(n + days))
    received = format_moment(data["received_at"], form.lang)
    steps.append(lambda n: form.labelled(n + labels["received_at"], received))
    due = format_moment(data["due_at"], form.lang)
    steps.append(lambda n: form.labelled(n + labels["due_at"], due))
    if data.get("result_delivery"):
        steps.append(lambda n: form.labelled(n + labels["delivery"], data["result_delivery"]))
    for number, step in enumerate(steps, start=1):
        step(f"{number}. ")
    url = data.get("lookup_url") or settings.THUDO_PUBLIC_URL
    form.paragraph(labels["lookup"].format(url=url))
    form.signatures(
        [
            (labels["applicant_sign"], labels["sign_hint"], data["applicant_name"]),
            (labels["officer_sign"], labels["sign_hint"], data["officer"]),
        ]
    )


def _papers_table(form: _Form, prefix: str) -> None:
    labels = form.labels
    form.paragraph(prefix + labels["papers"])
    form.table(
        [(10, "C"), (70, "L"), (20, "C")],
        [labels["col_no"], labels["col_paper"], labels["col_count"]],
        [
            (str(number), name, str(count))
            for number, (name, count) in enumerate(form.data["papers"], start=1)
        ],
        size=10,
    )


def _dossier_lines(form: _Form, with_received: bool = True) -> None:
    data, labels = form.data, form.labels
    form.labelled(labels["dossier_of"], data["applicant_name"])
    form.labelled(labels["procedure"], data["procedure"])
    if with_received and data.get("received_at"):
        form.labelled(labels["received_at"], format_moment(data["received_at"], form.lang))


def _draw_supplement_request(form: _Form) -> None:
    data, labels = form.data, form.labels
    form.title(labels["title_supplement_request"])
    form.dossier_code_line()
    _dossier_lines(form)
    form.paragraph(labels["supplement_intro"])
    for number, (item, reason) in enumerate(data["missing"], start=1):
        form.paragraph(f"{number}. {item}", bold=True, indent=14)
        if reason:
            form.paragraph(labels["reason"] + reason, indent=28)
    deadline = format_moment(data["deadline"], form.lang)
    form.labelled(labels["deadline"], labels["deadline_value"].format(moment=deadline))
    if data.get("contact"):
        form.paragraph(labels["contact"].format(contact=data["contact"]))
    form.signatures([(labels["guide_sign"], labels["sign_hint"], data["officer"])])


def _draw_refusal(form: _Form) -> None:
    data, labels = form.data, form.labels
    form.title(labels["title_refusal"])
    form.dossier_code_line()
    _dossier_lines(form)
    form.paragraph(labels["refusal_intro"].format(agency=data["agency"]))
    form.numbered(data["reasons"])
    form.paragraph(labels["refusal_close"])
    form.signatures([(labels["officer_sign"], labels["sign_hint"], data["officer"])])


def _draw_apology(form: _Form) -> None:
    data, labels, lang = form.data, form.labels, form.lang
    form.title(labels["title_apology"])
    form.dossier_code_line()
    form.paragraph(
        labels["apology_received"].format(
            agency=data["agency"],
            name=data["applicant_name"],
            **_date_parts(data["received_at"], lang),
        )
    )
    form.labelled(labels["procedure"], data["procedure"])
    form.labelled(labels["original_due"], format_moment(data["original_due"], lang))
    form.paragraph(labels["apology_late"].format(agency=data["agency"]))
    form.labelled(labels["reason"], data["reason"], bold_value=False)
    form.labelled(
        labels["apology_sorry"].format(agency=data["agency"]),
        format_moment(data["new_due"], lang),
    )
    form.paragraph(labels["thanks"])
    title = (data.get("signer_title") or labels["head_sign"]).upper()
    form.signatures([(title, labels["sign_seal_hint"], data["signer"])])


def _draw_control_slip(form: _Form) -> None:
    data, labels = form.data, form.labels
    form.title(labels["title_control_slip"])
    form.dossier_code_line()
    _dossier_lines(form, with_received=False)
    if data.get("handling_agency"):
        form.labelled(labels["handling_agency"], data["handling_agency"])
    if data.get("coordinating_agencies"):
        form.labelled(labels["coordinating"], data["coordinating_agencies"])
    form.y += 4
    form.table(
        [(7, "C"), (22, "L"), (22, "L"), (27, "C"), (22, "L")],
        [
            labels[key]
            for key in ("col_no", "col_handed_over_by", "col_received_by", "col_at", "col_result")
        ],
        [
            (str(number), giver, receiver, format_moment(at, form.lang), result)
            for number, (giver, receiver, at, result) in enumerate(data["steps"], start=1)
        ],
        size=9.5,
    )


def _draw_result(form: _Form) -> None:
    data, labels = form.data, form.labels
    form.title(data["title"].upper())
    form.dossier_code_line()
    form.y += 4
    if data.get("body"):
        form.paragraph(data["body"])
    form.labelled(labels["issued_to"], data["issued_to"])
    for label, value in data["fields"]:
        form.labelled(label.rstrip(": ") + ": ", value)
    form.y += 6
    heading = data["signer_title"].upper()
    if data.get("signer_on_behalf"):  # e.g. "TM. ỦY BAN NHÂN DÂN" above "CHỦ TỊCH"
        heading = data["signer_on_behalf"].upper() + "\n" + heading
    form.signatures([(heading, labels["sign_seal_hint"], data["signer"])])


_DRAW: dict[str, Callable[[_Form], None]] = {
    "receipt": _draw_receipt,
    "supplement_request": _draw_supplement_request,
    "refusal": _draw_refusal,
    "apology": _draw_apology,
    "control_slip": _draw_control_slip,
    "result": _draw_result,
}


def render_document(kind: str, context: Mapping[str, Any], *, lang: str = "vi") -> bytes:
    """The PDF of a form of ``kind`` (``Document.Kind`` except "other"), in ``lang`` ("vi" or
    "en"). Raises ValidationFailed naming each missing or invalid context key (see
    ``SCHEMAS``; common keys: agency, place, date; optional parent_agency, number,
    created_at)."""
    if lang not in LABELS:
        raise ValidationFailed(fields={"lang": format_lazy(MSG_UNKNOWN_LANG, lang=lang)})
    data = validate_context(kind, context)
    form = _Form(kind, data, lang)
    form.header()
    _DRAW[kind](form)
    return form.output()
