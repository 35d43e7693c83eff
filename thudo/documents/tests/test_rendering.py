"""The one-stop forms and the result certificate as PDFs (thudo/documents/rendering.py).

The text is read back with poppler's ``pdftotext`` and the fonts with ``pdffonts``; without
poppler these tests skip (and fail in CI, where THUDO_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import time
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from thudo.core.errors import ValidationFailed
from thudo.core.testing import require_program
from thudo.documents.models import Document
from thudo.documents.rendering import (
    A4_HEIGHT,
    A4_WIDTH,
    LABELS,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    RESERVED_SIGNATURE_BOX,
    SCHEMAS,
    render_document,
)

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
REPUBLIC = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
NAME = "Nguyễn Thị Hồng Nhung"
CODE = "000.00.01.H26-260115-0001"
KINDS = [kind for kind in Document.Kind.values if kind != Document.Kind.OTHER]

COMMON: dict[str, Any] = {
    "agency": "Ủy ban nhân dân phường Hoàn Kiếm",
    "parent_agency": "Thành phố Hà Nội",
    "place": "Hoàn Kiếm",
    "date": date(2026, 1, 15),
}
DOSSIER: dict[str, Any] = {
    **COMMON,
    "dossier_code": CODE,
    "applicant_name": NAME,
    "procedure": "Đăng ký khai sinh",
}
RECEIVED = datetime(2026, 1, 15, 9, 30, tzinfo=HANOI)
CONTEXTS: dict[str, dict[str, Any]] = {
    "receipt": {
        **DOSSIER,
        "applicant_id": "001301012345",
        "applicant_address": "Số 12 phố Hàng Bài, phường Hoàn Kiếm, Hà Nội",
        "applicant_phone": "0912 345 678",
        "papers": [
            {"name": "Tờ khai đăng ký khai sinh", "count": 1},
            {"name": "Giấy chứng sinh (bản chính)", "count": 1},
            {"name": "Giấy chứng nhận kết hôn của cha mẹ (bản sao)", "count": 2},
        ],
        "processing_days": 1,
        "received_at": RECEIVED,
        "due_at": datetime(2026, 1, 16, 16, 0, tzinfo=HANOI),
        "result_delivery": "Bộ phận Một cửa phường Hoàn Kiếm",
        "officer": "Trần Văn Đức",
    },
    "supplement_request": {
        **DOSSIER,
        "received_at": RECEIVED,
        "missing": [
            {"item": "Giấy chứng sinh (bản chính)", "reason": "Bản đã nộp là bản chụp, mờ"},
            "Giấy ủy quyền có chứng thực",
        ],
        "deadline": date(2026, 1, 20),
        "contact": "ông Trần Văn Đức, số điện thoại 024 3825 1234",
        "officer": "Trần Văn Đức",
    },
    "refusal": {
        **DOSSIER,
        "received_at": RECEIVED,
        "reasons": [
            "Thủ tục không thuộc thẩm quyền giải quyết của Ủy ban nhân dân phường.",
            "Người nộp không có giấy ủy quyền hợp lệ.",
        ],
        "officer": "Trần Văn Đức",
    },
    "apology": {
        **DOSSIER,
        "received_at": RECEIVED,
        "original_due": datetime(2026, 1, 16, 16, 0, tzinfo=HANOI),
        "new_due": datetime(2026, 1, 20, 10, 0, tzinfo=HANOI),
        "reason": "Cần xác minh thông tin với nơi đăng ký hộ tịch trước đây.",
        "signer": "Lê Thị Mai",
        "signer_title": "Chủ tịch",
    },
    "control_slip": {
        **DOSSIER,
        "handling_agency": "Công chức Tư pháp - Hộ tịch",
        "steps": [
            {
                "handed_over_by": "Bộ phận Một cửa (Trần Văn Đức)",
                "received_by": "Công chức Tư pháp - Hộ tịch",
                "at": datetime(2026, 1, 15, 10, 0, tzinfo=HANOI),
                "result": "Đúng hạn",
            },
            {
                "handed_over_by": "Công chức Tư pháp - Hộ tịch",
                "received_by": "Bộ phận Một cửa",
                "at": "2026-01-16T14:00:00+07:00",
                "result": "Trước hạn",
            },
        ],
    },
    "result": {
        **COMMON,
        "number": "15/2026/GCN-UBND",
        "title": "Giấy chứng nhận đăng ký hộ kinh doanh",
        "issued_to": NAME,
        "fields": [
            ["Tên hộ kinh doanh", "Cửa hàng Hồng Nhung"],
            {"label": "Địa điểm kinh doanh", "value": "Số 12 phố Hàng Bài, Hà Nội"},
            ["Ghi chú", ""],  # no value: left out
        ],
        "signer": "Lê Thị Mai",
        "signer_title": "Chủ tịch",
        "signer_on_behalf": "TM. Ủy ban nhân dân",
    },
}
TITLES = {
    "receipt": "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
    "supplement_request": "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
    "refusal": "PHIẾU TỪ CHỐI TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ",
    "apology": "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
    "control_slip": "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ",
    "result": "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
}
EXPECTED_TEXT = {
    "receipt": [
        "Tiếp nhận hồ sơ của: Nguyễn Thị Hồng Nhung",
        "Số định danh cá nhân: 001301012345",
        "Giấy chứng nhận kết hôn của cha mẹ (bản sao)",
        "Thời gian nhận hồ sơ: 09 giờ 30 phút, ngày 15 tháng 01 năm 2026",
        "16 giờ 00 phút, ngày 16 tháng 01 năm 2026",
        "NGƯỜI TIẾP NHẬN HỒ SƠ",
        "Trần Văn Đức",
    ],
    "supplement_request": [
        "Giấy ủy quyền có chứng thực",
        "Lý do: Bản đã nộp là bản chụp, mờ",
        "trước ngày 20 tháng 01 năm 2026",
    ],
    "refusal": ["Người nộp không có giấy ủy quyền hợp lệ.", "NGƯỜI TIẾP NHẬN HỒ SƠ"],
    "apology": [
        "Ngày 15 tháng 01 năm 2026, Ủy ban nhân dân phường Hoàn Kiếm tiếp nhận",
        "10 giờ 00 phút, ngày 20 tháng 01 năm 2026",
        "Lý do: Cần xác minh thông tin",
        "CHỦ TỊCH",
        "Lê Thị Mai",
    ],
    "control_slip": ["Bên giao", "Bên nhận", "Đúng hạn", "Trước hạn"],
    "result": [
        "Cấp cho: Nguyễn Thị Hồng Nhung",
        "Tên hộ kinh doanh: Cửa hàng Hồng Nhung",
        "TM. ỦY BAN NHÂN DÂN",
        "CHỦ TỊCH",
    ],
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    return {kind: render_document(kind, CONTEXTS[kind]) for kind in KINDS}


def pdftotext(pdf: bytes, *args: str) -> str:
    program = require_program("pdftotext", "poppler-utils reads the text back")
    done = subprocess.run(
        [program, *args, "-", "-"], input=pdf, capture_output=True, check=True, timeout=30
    )
    return done.stdout.decode("utf-8")


def flat(text: str) -> str:
    """pdftotext's lines joined: a phrase that wraps in the PDF still reads as one."""
    return " ".join(text.split())


# --- every kind -----------------------------------------------------------------------------


def test_every_kind_but_other_has_a_form() -> None:
    assert set(SCHEMAS) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_an_a4_pdf(kind: str, rendered: dict[str, bytes]) -> None:
    from pypdf import PdfReader

    pdf = rendered[kind]
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((A4_WIDTH, A4_HEIGHT))


@pytest.mark.parametrize("kind", KINDS)
def test_the_text_is_exact_vietnamese(kind: str, rendered: dict[str, bytes]) -> None:
    text = flat(pdftotext(rendered[kind]))
    for expected in [
        REPUBLIC,
        MOTTO,
        "THÀNH PHỐ HÀ NỘI",
        "ỦY BAN NHÂN DÂN PHƯỜNG HOÀN KIẾM",
        "Hoàn Kiếm, ngày 15 tháng 01 năm 2026",
        TITLES[kind],
        *EXPECTED_TEXT[kind],
    ]:
        assert expected in text, f"{expected!r} not in the {kind} text"
    if kind != "result":
        assert NAME in text
        assert f"Mã hồ sơ: {CODE}" in text
        assert f"Số: {CODE}" in text  # the dossier code stands in for a missing number
    else:
        assert "Số: 15/2026/GCN-UBND" in text
        assert "Ghi chú" not in text  # a field without a value is left out


def test_the_header_has_two_columns(rendered: dict[str, bytes]) -> None:
    """The agency on the left, the national header on the right, the number under the agency
    and the place and date under the motto."""
    words = page_words(rendered["receipt"])

    def left(word: str) -> float:
        return next(w[0] for w in words if w[4] == word)

    assert left("THÀNH") < left("CỘNG") and left("Số:") < left("Hoàn")
    top = {w[4]: w[1] for w in words}
    assert top["CỘNG"] < top["Độc"] < top["ngày"]


@pytest.mark.parametrize("kind", ["receipt", "result"])
def test_dejavu_sans_is_embedded(kind: str, rendered: dict[str, bytes], tmp_path: Path) -> None:
    program = require_program("pdffonts", "poppler-utils lists the fonts")
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(rendered[kind])
    lines = subprocess.run(
        [program, str(path)], capture_output=True, check=True, text=True, timeout=30
    ).stdout.splitlines()[2:]
    fonts = {line.split()[0].split("+")[-1]: line.split() for line in lines}
    assert set(fonts) == {"DejaVuSansBook", "DejaVuSansBold"}, lines
    for columns in fonts.values():
        assert columns[-5:-2] == ["yes", "yes", "yes"]  # embedded, subset, with a ToUnicode map


# --- the QR on the receipt --------------------------------------------------------------------


def test_the_receipt_qr_carries_the_dossier_code(rendered: dict[str, bytes]) -> None:
    """No QR decoder is installed, so read the image's modules and compare them with segno's
    encoding of the code: the same matrix means the same content."""
    import segno
    from pypdf import PdfReader

    images = list(PdfReader(io.BytesIO(rendered["receipt"])).pages[0].images)
    assert len(images) == 1
    assert images[0].image is not None
    image = images[0].image.convert("L")
    expected = segno.make(CODE, error="m", micro=False)
    width, _ = expected.symbol_size(scale=1, border=4)
    module = image.width / width
    assert module == int(module)  # whole pixels per module: nothing was resampled

    def dark(x: int, y: int) -> bool:
        value = image.getpixel((int((4 + x + 0.5) * module), int((4 + y + 0.5) * module)))
        assert isinstance(value, int)
        return value < 128

    found = [[dark(x, y) for x in range(len(row))] for y, row in enumerate(expected.matrix)]
    assert found == [[bool(v) for v in row] for row in expected.matrix]


def test_other_forms_have_no_image(rendered: dict[str, bytes]) -> None:
    from pypdf import PdfReader

    assert not list(PdfReader(io.BytesIO(rendered["refusal"])).pages[0].images)


# --- the reserved signature box --------------------------------------------------------------


def page_words(pdf: bytes, page: int = 1) -> list[tuple[float, float, float, float, str]]:
    """(xMin, yMin, xMax, yMax, word) in points from the top-left, as pdftotext -bbox gives."""
    html = pdftotext(pdf, "-bbox", "-f", str(page), "-l", str(page))
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<'
    return [
        (float(a), float(b), float(c), float(d), word)
        for a, b, c, d, word in re.findall(pattern, html)
    ]


def test_the_box_is_where_the_stamp_goes() -> None:
    x0, y0, x1, y1 = RESERVED_SIGNATURE_BOX
    assert (x1, y1) == (A4_WIDTH, A4_HEIGHT)  # the top-right corner of the page
    assert x1 - x0 >= 220 and y1 - y0 >= 90


@pytest.mark.parametrize("kind", KINDS)
def test_no_text_in_the_reserved_box(kind: str, rendered: dict[str, bytes]) -> None:
    x0, y0, x1, y1 = RESERVED_SIGNATURE_BOX
    top, bottom = A4_HEIGHT - y1, A4_HEIGHT - y0  # pdftotext measures from the top
    words = page_words(rendered[kind])
    assert words
    inside = [w for w in words if w[2] > x0 and w[0] < x1 and w[3] > top and w[1] < bottom]
    assert not inside


@pytest.mark.parametrize("kind", ["receipt", "result"])
def test_nothing_at_all_is_drawn_in_the_box(
    kind: str, rendered: dict[str, bytes], tmp_path: Path
) -> None:
    """Lines and images too: the box's pixels are all white."""
    from PIL import Image

    program = require_program("pdftoppm", "poppler-utils renders the page")
    subprocess.run(
        [program, "-r", "72", "-gray", "-singlefile", "-", str(tmp_path / "p")],
        input=rendered[kind],
        check=True,
        timeout=30,
    )
    page = Image.open(tmp_path / "p.pgm")
    x0, y0, x1, y1 = RESERVED_SIGNATURE_BOX
    scale = page.height / A4_HEIGHT
    left, top = int(x0 * scale), int((A4_HEIGHT - y1) * scale)
    box = page.crop((left, top, int(x1 * scale) - 1, int((A4_HEIGHT - y0) * scale)))
    assert box.getextrema() == (255, 255)
    darkest, _ = cast(tuple[int, int], page.getextrema())
    assert darkest < 64  # and the page itself is not blank


@pytest.mark.parametrize("kind", KINDS)
def test_text_stays_within_the_margins(kind: str, rendered: dict[str, bytes]) -> None:
    for x0, y0, x1, y1, word in page_words(rendered[kind]):
        assert x0 >= MARGIN_LEFT - 1 and x1 <= A4_WIDTH - MARGIN_RIGHT + 1, word
        assert y0 > 0 and y1 <= A4_HEIGHT - MARGIN_BOTTOM, word


def test_a_word_longer_than_a_line_is_cut() -> None:
    address = "https://example.vn/" + "a" * 300
    pdf = render_document("receipt", {**CONTEXTS["receipt"], "applicant_address": address})
    words = page_words(pdf)
    assert all(x1 <= A4_WIDTH - MARGIN_RIGHT + 1 for _x0, _y0, x1, _y1, _w in words)
    assert "".join(w[4] for w in words if "aaa" in w[4]).count("a") >= 300


def test_the_creation_date_is_fixed_by_the_context(rendered: dict[str, bytes]) -> None:
    from pypdf import PdfReader

    info = PdfReader(io.BytesIO(rendered["receipt"])).metadata
    assert info is not None and info.creation_date == datetime(2026, 1, 15, tzinfo=HANOI)
    assert info.title == TITLES["receipt"]
    moment = datetime(2026, 1, 15, 9, 31, 5, tzinfo=HANOI)
    pdf = render_document("receipt", {**CONTEXTS["receipt"], "created_at": moment})
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info is not None and info.creation_date == moment


def test_a_long_form_goes_on_to_numbered_pages() -> None:
    step = CONTEXTS["control_slip"]["steps"][0]
    pdf = render_document("control_slip", {**CONTEXTS["control_slip"], "steps": [step] * 60})
    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert pages >= 2
    assert "Trang 2" in pdftotext(pdf, "-f", "2", "-l", "2")
    assert "Trang" not in pdftotext(pdf, "-f", "1", "-l", "1")


# --- English ----------------------------------------------------------------------------------


def test_labels_exist_in_both_languages() -> None:
    assert set(LABELS["vi"]) == set(LABELS["en"])


@pytest.mark.parametrize("kind", KINDS)
def test_english_labels(kind: str) -> None:
    text = flat(pdftotext(render_document(kind, CONTEXTS[kind], lang="en")))
    assert "SOCIALIST REPUBLIC OF VIET NAM" in text
    assert "Independence - Freedom - Happiness" in text
    assert "Hoàn Kiếm, 15 January 2026" in text
    assert REPUBLIC not in text and "ngày 15 tháng" not in text
    if kind == "receipt":
        assert "RECEIPT AND APPOINTMENT FOR RESULTS" in text
        assert f"Dossier code: {CODE}" in text
        assert "Received at: 09:30, 15 January 2026" in text
        assert "Dossier received from: Nguyễn Thị Hồng Nhung" in text  # names stay as given


# --- validation -------------------------------------------------------------------------------

REQUIRED = [
    (kind, key) for kind, schema in SCHEMAS.items() for key, (_, needed) in schema.items() if needed
]


@pytest.mark.parametrize(("kind", "key"), REQUIRED)
def test_a_missing_key_is_named(kind: str, key: str) -> None:
    context = {k: v for k, v in CONTEXTS[kind].items() if k != key}
    with pytest.raises(ValidationFailed) as caught:
        render_document(kind, context)
    assert set(caught.value.fields) == {key}


@pytest.mark.parametrize(
    ("kind", "key", "value"),
    [
        ("receipt", "received_at", datetime(2026, 1, 15, 9, 30)),  # noqa: DTZ001 (naive)
        ("receipt", "received_at", "15/01/2026"),
        ("receipt", "due_at", "soon"),
        ("receipt", "dossier_code", "HS 15-01-2026"),
        ("receipt", "papers", [{"name": "Tờ khai", "count": 0}]),
        ("receipt", "papers", [{"name": "Tờ khai"}]),
        ("receipt", "papers", "Tờ khai"),
        ("receipt", "applicant_name", "王小明"),  # the font has no Han characters
        ("receipt", "applicant_name", "x" * 2001),
        ("refusal", "reasons", []),
        ("refusal", "reasons", ["ok", 7]),
        ("control_slip", "steps", [{"handed_over_by": "A", "received_by": "B"}]),
        ("result", "fields", [["Ghi chú", ""]]),
        ("result", "date", "2026-13-01"),
    ],
)
def test_a_bad_value_is_named(kind: str, key: str, value: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        render_document(kind, {**CONTEXTS[kind], key: value})
    assert set(caught.value.fields) == {key}
    assert str(caught.value.fields[key])


def test_several_problems_are_reported_together() -> None:
    context = {k: v for k, v in CONTEXTS["receipt"].items() if k not in {"agency", "papers"}}
    with pytest.raises(ValidationFailed) as caught:
        render_document("receipt", {**context, "received_at": "yesterday"})
    assert set(caught.value.fields) == {"agency", "papers", "received_at"}


def test_unprintable_characters_are_listed() -> None:
    with pytest.raises(ValidationFailed) as caught:
        render_document("receipt", {**CONTEXTS["receipt"], "applicant_name": "Lý 王"})
    assert "王" in str(caught.value.fields["applicant_name"])


@pytest.mark.parametrize("kind", ["other", "nonsense"])
def test_other_kinds_are_refused(kind: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        render_document(kind, CONTEXTS["receipt"])
    assert set(caught.value.fields) == {"kind"}


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        render_document("receipt", CONTEXTS["receipt"], lang="fr")
    assert set(caught.value.fields) == {"lang"}


def test_decomposed_input_comes_out_composed() -> None:
    """Text typed with combining marks (NFD) is printed, and extracted, as NFC."""
    decomposed = unicodedata.normalize("NFD", NAME)
    assert decomposed != NAME
    pdf = render_document("receipt", {**CONTEXTS["receipt"], "applicant_name": decomposed})
    assert f"Tiếp nhận hồ sơ của: {NAME}" in flat(pdftotext(pdf))


def test_dates_and_times_in_iso_form_are_accepted() -> None:
    context = {
        **CONTEXTS["receipt"],
        "date": "2026-01-15",
        "received_at": "2026-01-15T02:30:00+00:00",  # UTC, shown in Hanoi time
        "due_at": "2026-01-16",
    }
    text = flat(pdftotext(render_document("receipt", context)))
    assert "Thời gian nhận hồ sơ: 09 giờ 30 phút, ngày 15 tháng 01 năm 2026" in text
    assert "Thời gian trả kết quả giải quyết hồ sơ: ngày 16 tháng 01 năm 2026" in text


# --- determinism, speed, a look ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_input_gives_the_same_bytes(kind: str, rendered: dict[str, bytes]) -> None:
    again = render_document(kind, dict(CONTEXTS[kind]))
    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(rendered[kind]).hexdigest()


def test_a_different_input_gives_different_bytes(rendered: dict[str, bytes]) -> None:
    other = render_document("receipt", {**CONTEXTS["receipt"], "officer": "Phạm Minh Tuấn"})
    assert other != rendered["receipt"]


def test_rendering_is_quick(rendered: dict[str, bytes]) -> None:
    """A generous bound that catches a regression (e.g. glyph-by-glyph font recompiling),
    not a benchmark: a one-page form takes about 30 ms on a small two-core machine."""
    best = min(_timed(lambda: render_document("receipt", CONTEXTS["receipt"])) for _ in range(3))
    assert best < 0.5


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_screenshot_of_the_receipt(lang: str) -> None:
    """var/screenshots/receipt-<lang>-1.png, for a person to look at."""
    program = require_program("pdftoppm", "poppler-utils renders the page")
    folder = Path(settings.BASE_DIR) / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    pdf = render_document("receipt", CONTEXTS["receipt"], lang=lang)
    subprocess.run(
        [program, "-r", "60", "-png", "-f", "1", "-l", "1", "-", str(folder / f"receipt-{lang}")],
        input=pdf,
        check=True,
        timeout=30,
    )
    assert (folder / f"receipt-{lang}-1.png").stat().st_size > 1000
