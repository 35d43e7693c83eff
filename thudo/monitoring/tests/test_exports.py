"""Exports: CSV for Excel (BOM, no formulas), XLSX read back with openpyxl, and the monthly
report's PDF read back with pypdf — Vietnamese text, the headline, the pillars' tables, the
overdue work by agency and the month's service figures."""

from __future__ import annotations

import io
import unicodedata
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from thudo.core.errors import ValidationFailed
from thudo.monitoring import exports
from thudo.monitoring.models import Indicator, Programme, Snapshot, Status, Target, Task

from . import programme_fixtures

hn_agencies = programme_fixtures.hn_agencies
programme = programme_fixtures.programme

HEADERS = ["Chỉ tiêu", "Giá trị", "Thời hạn", "Ghi chú"]
ROWS: list[list[Any]] = [
    ["Tỷ lệ hộ gia đình có cáp quang", Decimal("85.5"), date(2025, 12, 31), None],
    ['=HYPERLINK("http://x")', -5, date(2026, 1, 10), "+1 ghi chú"],
    ["@SUM(A1)", 3.25, None, "-12,5"],
]


# --- CSV and XLSX -----------------------------------------------------------------------------


def test_csv_has_a_bom_vietnamese_text_and_no_formulas() -> None:
    import csv

    data = exports.table_csv(HEADERS, ROWS)
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADERS
    assert rows[1] == ["Tỷ lệ hộ gia đình có cáp quang", "85.5", "31/12/2025", ""]
    assert rows[2][0] == '\'=HYPERLINK("http://x")'
    assert rows[2][1] == "-5"  # a number stays a number
    assert rows[2][3] == "'+1 ghi chú"
    assert rows[3][0] == "'@SUM(A1)"
    assert rows[3][3] == "-12,5"  # text that is a number is not touched


def test_xlsx_reads_back_with_numbers_dates_and_text_never_formulas() -> None:
    from openpyxl import load_workbook

    data = exports.table_xlsx("Chỉ tiêu: tổng hợp/2026 [quý]", HEADERS, ROWS)
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet is not None
    assert sheet.title == "Chỉ tiêu  tổng hợp 2026  quý"[:31]
    assert [c.value for c in sheet[1]] == HEADERS
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet["A2"].value == "Tỷ lệ hộ gia đình có cáp quang"
    assert sheet["B2"].value == pytest.approx(85.5)
    assert sheet["C2"].value.date() == date(2025, 12, 31)
    assert sheet["C2"].number_format == "DD/MM/YYYY"
    assert sheet["D2"].value is None
    assert sheet["A3"].value == '=HYPERLINK("http://x")' and sheet["A3"].data_type == "s"
    assert sheet["B3"].value == -5
    assert sheet.max_row == 4


def test_numbers_are_written_the_vietnamese_way() -> None:
    assert exports.number_vi(Decimal("1234.50")) == "1.234,5"
    assert exports.number_vi(Decimal("85.00")) == "85"
    assert exports.number_vi(7, 0) == "7"
    assert exports.with_unit(Decimal("27.8"), "%") == "27,8%"
    assert exports.with_unit(4, "hạng") == "4 hạng"
    assert exports.with_unit(None, "%") == "—"


# --- the monthly report -----------------------------------------------------------------------


def _text(pdf: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return unicodedata.normalize("NFC", " ".join(text.split()))


def _snapshot(code: str, day: date, value: str | None, status: str) -> None:
    indicator = Indicator.objects.get(code=code)
    Snapshot.objects.update_or_create(
        indicator=indicator,
        date=day,
        defaults={"value": Decimal(value) if value is not None else None, "status": status},
    )


@pytest.mark.django_db
def test_monthly_report_of_a_past_month(programme: Programme) -> None:
    today = timezone.localdate()
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # last month
    end = today.replace(day=1) - timedelta(days=1)
    # as the daily job left them: the month's last snapshot counts, a later one does not
    _snapshot("cqs-dvc-toan-trinh", end - timedelta(days=3), "98", Status.AT_RISK)
    _snapshot("cqs-dvc-toan-trinh", end, "100", Status.ACHIEVED)
    _snapshot("xhs-cap-quang-ho-gia-dinh", end, "85.5", Status.ACHIEVED)
    _snapshot("kts-ty-trong-grdp", end, "26.5", Status.OFF_TRACK)
    _snapshot("xhs-cap-quang-phuong-xa", end + timedelta(days=1), "100", Status.ACHIEVED)
    task = Task.objects.get(title__startswith="Xây dựng phần mềm quản lý hoạt động thanh tra")
    Task.objects.filter(pk=task.pk).update(due=end - timedelta(days=10))

    pdf = exports.monthly_report_pdf(programme=programme, month=month)
    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI" in text
    assert f"Tình hình thực hiện chuyển đổi số tháng {month.month:02d}/{month.year}" in text
    assert f"Số liệu tính đến ngày {end:%d/%m/%Y}" in text
    assert "2 trên 19 chỉ tiêu đã đạt" in text
    assert "chưa có số liệu: 16" in text
    for pillar in ("Chính quyền số", "Kinh tế số", "Xã hội số", "Số hóa"):
        assert pillar in text
    assert "85,5%" in text and "26,5%" in text and "Chậm tiến độ" in text
    assert "NHIỆM VỤ QUÁ HẠN VÀ BÁO CÁO CÒN THIẾU" in text
    assert "Sở Nội vụ" in text and "Xây dựng phần mềm quản lý hoạt động thanh tra" in text
    assert "Quyết định 766/QĐ-TTg" in text
    assert "PHẢN ÁNH, KIẾN NGHỊ CỦA NGƯỜI DÂN" in text


@pytest.mark.django_db
def test_monthly_report_of_this_month_falls_back_to_the_targets(programme: Programme) -> None:
    Target.objects.filter(code="kts-nang-suat-lao-dong-2025").update(
        status=Status.ACHIEVED, current_value=Decimal("7.2")
    )
    text = _text(exports.monthly_report_pdf(programme=programme, month=timezone.localdate()))
    assert "1 trên 19 chỉ tiêu đã đạt" in text
    assert "7,2%" in text


@pytest.mark.django_db
def test_no_report_for_a_month_to_come(programme: Programme) -> None:
    next_month = (timezone.localdate().replace(day=28) + timedelta(days=5)).replace(day=1)
    with pytest.raises(ValidationFailed) as caught:
        exports.monthly_report_pdf(programme=programme, month=next_month)
    assert "month" in caught.value.fields
