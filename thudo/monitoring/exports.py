"""Exports of the monitoring pages: any table as CSV or XLSX, and the monthly report for the
People's Committee as a PDF in Vietnamese.

* `table_csv(headers, rows)` — UTF-8 with a byte-order mark, so Excel opens Vietnamese text
  right; CRLF line ends; text that a spreadsheet would run as a formula (starting with = + - @,
  a tab or a carriage return, and not a number) is prefixed with an apostrophe.
* `table_xlsx(title, headers, rows)` — one sheet (openpyxl), bold header row frozen, numbers
  and dates kept as such; text is always stored as text (never a formula).
* `monthly_report_pdf(programme=, month=)` — drawn with the documents app's PDF machinery
  (`documents.rendering`: fpdf2, DejaVu Sans cut to the Vietnamese letters, the national
  header of administrative documents, ruled tables that break across pages). The wording is
  Vietnamese data here (`LABELS`), not gettext: the report goes to the People's Committee in
  Vietnamese whatever the reader's interface language, as the forms 01–05 do.

The report stands at the end of the month (or today, for the current month): each target's
value and status are those of its primary indicator's latest snapshot on or before that day
(a target with no snapshot yet shows the target's own latest evaluation when the day is today,
else "no data"); the headline counts those statuses; the overdue tasks and missing reports are
`selectors.overdue_by_agency(today=that day)`; the month's service figures are
`dossiers.index.service_index` and `feedback.stats.feedback_totals` over the month.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed

from .models import Indicator, Programme, Snapshot, Status, Target

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")
MSG_MONTH_FUTURE = _("The report of a month that has not begun cannot be made.")

# --- CSV and XLSX ------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        return Decimal(text.replace(",", ".")).is_finite()
    except ArithmeticError:  # decimal.InvalidOperation
        return False


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, bool):
        return "x" if value else ""
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return local.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _csv_cell(value: Any) -> str:
    text = _text(value)
    if (
        isinstance(value, str | Promise)
        and text.startswith(FORMULA_START)
        and not _is_number(text.strip())
    ):
        return "'" + text
    return text


def table_csv(headers: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """The table as CSV in UTF-8 with a byte-order mark (Excel), CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in headers])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _sheet_title(title: Any) -> str:
    text = SHEET_TITLE_BAD.sub(" ", _text(title)).strip().strip("'")
    return (text or "Sheet")[:31]


def _xlsx_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, date):
        return value
    return _text(value)


def table_xlsx(title: Any, headers: Sequence[Any], rows: Iterable[Sequence[Any]]) -> bytes:
    """The table as an XLSX workbook of one sheet named after `title`."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(title)
    book.properties.title = _text(title)[:255]
    book.properties.creator = "Thudo"
    widths = [len(_text(h)) for h in headers]
    bold = Font(bold=True)
    for column, header in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=column, value=_text(header))
        cell.font = bold
        cell.data_type = "s"
    for r, row in enumerate(rows, start=2):
        for column, raw in enumerate(row, start=1):
            value = _xlsx_value(raw)
            cell = sheet.cell(row=r, column=column, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula
            elif isinstance(value, datetime):
                cell.number_format = "DD/MM/YYYY HH:MM"
            elif isinstance(value, date):
                cell.number_format = "DD/MM/YYYY"
            if column > len(widths):
                widths.append(0)
            widths[column - 1] = max(widths[column - 1], len(_text(raw)))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = min(60, max(8, width + 2))
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- the PDF machinery (documents.rendering) ---------------------------------------------------


def pdf_fonts() -> Any:
    """DejaVu Sans (regular and bold) cut to the Vietnamese letters, made once per process by
    the documents app; `.regular`, `.bold`, `.printable`."""
    from thudo.documents.rendering import _fonts

    return _fonts()


# --- the monthly report ------------------------------------------------------------------------

LABELS: dict[str, str] = {
    "place": "Hà Nội",
    "number": "…/BC-CĐS",
    "title": "BÁO CÁO",
    "subtitle": "Tình hình thực hiện chuyển đổi số tháng {month:02d}/{year}",
    "programme": "Theo {name}",
    "as_of": "Số liệu tính đến ngày {day}.",
    "headline": "{achieved} trên {total} chỉ tiêu đã đạt",
    "counts": (
        "Đúng tiến độ: {on_track}; có nguy cơ chậm: {at_risk}; chậm tiến độ: "
        "{off_track}; chưa có số liệu: {no_data}."
    ),
    "section_targets": "I. KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU",
    "pillar": "{number}. {name}: {achieved} trên {total} chỉ tiêu đã đạt",
    "col_no": "STT",
    "col_target": "Chỉ tiêu",
    "col_value": "Giá trị",
    "col_goal": "Mục tiêu",
    "col_deadline": "Thời hạn",
    "col_status": "Tình trạng",
    "no_targets": "Chưa có chỉ tiêu.",
    "section_overdue": "II. NHIỆM VỤ QUÁ HẠN VÀ BÁO CÁO CÒN THIẾU",
    "col_agency": "Cơ quan",
    "col_tasks": "Nhiệm vụ quá hạn",
    "col_reports": "Báo cáo còn thiếu",
    "col_task": "Nhiệm vụ",
    "col_due": "Hạn",
    "col_indicator": "Chỉ số",
    "col_period": "Kỳ báo cáo",
    "overdue_tasks": "Các nhiệm vụ quá hạn:",
    "missing_reports": "Các báo cáo còn thiếu:",
    "nothing_overdue": "Không có nhiệm vụ quá hạn hoặc báo cáo còn thiếu.",
    "section_services": "III. CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP TRONG THÁNG",
    "services_note": "Theo Quyết định 766/QĐ-TTg, từ ngày {start} đến ngày {end}.",
    "col_figure": "Chỉ số",
    "col_amount": "Kết quả",
    "received": "Hồ sơ tiếp nhận",
    "received_online": "Trong đó nộp trực tuyến",
    "online_rate": "Tỷ lệ hồ sơ trực tuyến",
    "settled": "Hồ sơ đã giải quyết",
    "settled_on_time": "Trong đó đúng hạn",
    "on_time_rate": "Tỷ lệ giải quyết đúng hạn",
    "digitisation_rate": "Tỷ lệ số hóa hồ sơ",
    "overdue": "Hồ sơ đang giải quyết quá hạn (cuối kỳ)",
    "avg_days": "Thời gian giải quyết trung bình (ngày)",
    "satisfaction": "Mức độ hài lòng (thang 100)",
    "section_feedback": "IV. PHẢN ÁNH, KIẾN NGHỊ CỦA NGƯỜI DÂN TRONG THÁNG",
    "fb_received": "Phản ánh tiếp nhận",
    "fb_on_time": "Đã trả lời đúng hạn",
    "fb_late": "Đã trả lời trễ hạn",
    "fb_on_time_rate": "Tỷ lệ trả lời đúng hạn",
    "fb_rated": "Số lượt đánh giá",
    "fb_satisfaction": "Tỷ lệ hài lòng",
    "fb_backlog": "Đang chờ xử lý, đang xử lý (hiện nay)",
    "fb_overdue": "Quá hạn xử lý (hiện nay)",
    "signer": "ĐƠN VỊ THEO DÕI, GIÁM SÁT",
    "sign_hint": "(Ký, ghi rõ họ tên)",
    "none": "—",
}
STATUS_LABELS: dict[str, str] = {
    Status.ACHIEVED: "Đã đạt",
    Status.ON_TRACK: "Đúng tiến độ",
    Status.AT_RISK: "Có nguy cơ",
    Status.OFF_TRACK: "Chậm tiến độ",
    Status.NO_DATA: "Chưa có số liệu",
}


def number_vi(value: Any, places: int = 2) -> str:
    """A number as Vietnamese write it: 1.234,5 (no trailing zeros)."""
    if value is None:
        return LABELS["none"]
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    text = f"{number:,.{places}f}".rstrip("0").rstrip(".") if places else f"{number:,.0f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def with_unit(value: Any, unit: str, places: int = 2) -> str:
    if value is None:
        return LABELS["none"]
    text = number_vi(value, places)
    if not unit:
        return text
    return f"{text}%" if unit == "%" else f"{text} {unit}"


QUARTERS = ("I", "II", "III", "IV")


def period_vi(period: Any) -> str:
    """ "Quý III/2026", "Năm 2025", or the dates of another period."""
    if period.frequency == "quarterly":
        return f"Quý {QUARTERS[(period.start.month - 1) // 3]}/{period.start.year}"
    if period.frequency == "yearly":
        return f"Năm {period.start.year}"
    if period.frequency == "monthly":
        return f"Tháng {period.start.month:02d}/{period.start.year}"
    return str(period)


def _day(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def _month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last


class TargetState:
    """A target as it stood on the report's day."""

    def __init__(self, target: Target, value: Decimal | None, status: str) -> None:
        self.target = target
        self.value = value
        self.status = status


def target_states(*, programme: Programme, day: date) -> list[TargetState]:
    """Each target of the programme (and of its plans), pillar by pillar, with the value and
    status of its primary indicator's latest snapshot on or before `day`. Four queries."""
    from .selectors import programme_ids

    targets = list(
        Target.objects.filter(pillar__programme_id__in=programme_ids(programme))
        .select_related("pillar", "agency")
        .order_by("pillar__programme__start", "pillar__order", "pillar__code", "order", "code")
    )
    primary: dict[int, int] = {}
    for indicator_id, target_id in (
        Indicator.objects.filter(target__in=targets)
        .order_by("target_id", "-is_primary", "order", "code")
        .values_list("pk", "target_id")
    ):
        primary.setdefault(target_id, indicator_id)
    latest = {
        row["indicator_id"]: row["last"]
        for row in Snapshot.objects.filter(indicator_id__in=primary.values(), date__lte=day)
        .values("indicator_id")
        .annotate(last=Max("date"))
    }
    found: dict[int, tuple[Decimal | None, str]] = {}
    if latest:
        wanted = Q()
        for indicator_id, last in latest.items():
            wanted |= Q(indicator_id=indicator_id, date=last)
        for snapshot_of, value, status in Snapshot.objects.filter(wanted).values_list(
            "indicator_id", "value", "status"
        ):
            found[snapshot_of] = (value, status if value is not None else Status.NO_DATA)
    today = timezone.localdate()
    states = []
    for target in targets:
        measured_by = primary.get(target.pk)
        if measured_by is not None and measured_by in found:
            value, status = found[measured_by]
        elif day >= today:
            value, status = target.current_value, target.status
        else:
            value, status = None, Status.NO_DATA
        states.append(TargetState(target, value, status))
    return states


def _clean(text: Any, printable: frozenset[str]) -> str:
    normal = unicodedata.normalize("NFC", _text(text))
    normal = normal.replace("≥", ">=").replace("≤", "<=")
    return "".join(ch if ch in printable or ch == "\n" else "?" for ch in normal)


def monthly_report_pdf(*, programme: Programme, month: date) -> bytes:
    """The monthly report on the programme for the People's Committee (A4, Vietnamese)."""
    from thudo.documents.rendering import _Form
    from thudo.dossiers.index import service_index
    from thudo.feedback.stats import feedback_totals

    from .selectors import overdue_by_agency

    today = timezone.localdate()
    first, last = _month_bounds(month)
    if first > today:
        raise ValidationFailed(fields={"month": MSG_MONTH_FUTURE})
    day = min(last, today)
    printable = pdf_fonts().printable

    def c(text: Any) -> str:
        return _clean(text, printable)

    L = LABELS
    form = _Form(
        "monitoring_monthly",
        {
            "agency": c(programme.agency.name),
            "place": L["place"],
            "date": day,
            "number": L["number"],
            "created_at": datetime.combine(day, time(0), tzinfo=timezone.get_current_timezone()),
        },
        "vi",
    )
    form.header()
    form.title(L["title"])
    form.pdf.set_title(c(L["subtitle"].format(month=first.month, year=first.year)))
    form.block([(c(L["subtitle"].format(month=first.month, year=first.year)), True)], align="C")
    form.block([(c(L["programme"].format(name=programme.name)), False)], align="C", size=9.5)
    form.block([(L["as_of"].format(day=_day(day)), False)], align="C", size=9.5, after=10)

    states = target_states(programme=programme, day=day)
    counts = {s: 0 for s in Status.values}
    for state in states:
        counts[state.status] = counts.get(state.status, 0) + 1
    form.block(
        [(L["headline"].format(achieved=counts[Status.ACHIEVED], total=len(states)), True)],
        size=12,
    )
    form.paragraph(L["counts"].format(**counts))

    # I. the targets, pillar by pillar
    form.block([(L["section_targets"], True)], after=4)
    pillars: dict[int, list[TargetState]] = {}
    order: list[Any] = []
    for state in states:
        if state.target.pillar_id not in pillars:
            order.append(state.target.pillar)
        pillars.setdefault(state.target.pillar_id, []).append(state)
    if not order:
        form.paragraph(L["no_targets"])
    for number, pillar in enumerate(order, start=1):
        rows = pillars[pillar.pk]
        achieved = sum(1 for s in rows if s.status == Status.ACHIEVED)
        form.room_for(60)
        form.block(
            [
                (
                    c(
                        L["pillar"].format(
                            number=number, name=pillar.name, achieved=achieved, total=len(rows)
                        )
                    ),
                    True,
                )
            ]
        )
        form.table(
            [(5, "C"), (41, "L"), (12, "R"), (12, "R"), (14, "C"), (16, "C")],
            [
                L["col_no"],
                L["col_target"],
                L["col_value"],
                L["col_goal"],
                L["col_deadline"],
                L["col_status"],
            ],
            [
                (
                    str(n),
                    c(s.target.name),
                    c(with_unit(s.value, s.target.unit)),
                    c(
                        ("<= " if s.target.direction == "down" else "")
                        + with_unit(s.target.target_value, s.target.unit)
                    ),
                    _day(s.target.deadline),
                    STATUS_LABELS.get(s.status, s.status),
                )
                for n, s in enumerate(rows, start=1)
            ],
            size=8.5,
        )

    # II. overdue tasks and missing reports, by agency
    form.room_for(80)
    form.block([(L["section_overdue"], True)], after=4)
    overdue = overdue_by_agency(today=day)
    if not overdue:
        form.paragraph(L["nothing_overdue"])
    else:
        form.table(
            [(8, "C"), (56, "L"), (18, "C"), (18, "C")],
            [L["col_no"], L["col_agency"], L["col_tasks"], L["col_reports"]],
            [
                (str(n), c(row.agency.name), str(len(row.tasks)), str(len(row.reports)))
                for n, row in enumerate(overdue, start=1)
            ],
            size=9,
        )
        tasks = [(t, row.agency) for row in overdue for t in row.tasks]
        if tasks:
            form.room_for(60)
            form.paragraph(L["overdue_tasks"], bold=True)
            form.table(
                [(6, "C"), (52, "L"), (28, "L"), (14, "C")],
                [L["col_no"], L["col_task"], L["col_agency"], L["col_due"]],
                [
                    (str(n), c(task.title), c(agency.name), _day(task.due))
                    for n, (task, agency) in enumerate(tasks, start=1)
                ],
                size=8.5,
            )
        reports = [(r, row.agency) for row in overdue for r in row.reports]
        if reports:
            form.room_for(60)
            form.paragraph(L["missing_reports"], bold=True)
            form.table(
                [(6, "C"), (44, "L"), (24, "L"), (12, "C"), (14, "C")],
                [L["col_no"], L["col_indicator"], L["col_agency"], L["col_period"], L["col_due"]],
                [
                    (
                        str(n),
                        c(item.indicator.name),
                        c(agency.name),
                        period_vi(item.period),
                        _day(item.period.due),
                    )
                    for n, (item, agency) in enumerate(reports, start=1)
                ],
                size=8.5,
            )

    # III. the service index of the month
    figures = service_index(start=first, end=day)
    form.room_for(120)
    form.block([(L["section_services"], True)], after=2)
    form.paragraph(L["services_note"].format(start=_day(first), end=_day(day)))
    form.table(
        [(70, "L"), (30, "R")],
        [L["col_figure"], L["col_amount"]],
        [
            (L["received"], number_vi(figures.received, 0)),
            (L["received_online"], number_vi(figures.received_online, 0)),
            (L["online_rate"], with_unit(figures.online_rate, "%", 1)),
            (L["settled"], number_vi(figures.settled, 0)),
            (L["settled_on_time"], number_vi(figures.settled_on_time, 0)),
            (L["on_time_rate"], with_unit(figures.on_time_rate, "%", 1)),
            (L["digitisation_rate"], with_unit(figures.digitisation_rate, "%", 1)),
            (L["overdue"], number_vi(figures.overdue, 0)),
            (L["avg_days"], number_vi(figures.avg_processing_days, 1)),
            (L["satisfaction"], number_vi(figures.satisfaction, 1)),
        ],
        size=9,
    )

    # IV. citizen feedback of the month
    zone = timezone.get_current_timezone()
    since = datetime.combine(first, time.min, tzinfo=zone)
    until = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    moment = min(timezone.now(), until)
    fb = feedback_totals(start=since, end=until, now=moment)
    answered = fb.resolved_on_time + fb.resolved_late
    form.room_for(120)
    form.block([(L["section_feedback"], True)], after=4)
    form.table(
        [(70, "L"), (30, "R")],
        [L["col_figure"], L["col_amount"]],
        [
            (L["fb_received"], number_vi(fb.received, 0)),
            (L["fb_on_time"], number_vi(fb.resolved_on_time, 0)),
            (L["fb_late"], number_vi(fb.resolved_late, 0)),
            (
                L["fb_on_time_rate"],
                with_unit(100 * fb.resolved_on_time / answered if answered else None, "%", 1),
            ),
            (L["fb_rated"], number_vi(fb.rated, 0)),
            (
                L["fb_satisfaction"],
                with_unit(100 * fb.satisfied / fb.rated if fb.rated else None, "%", 1),
            ),
            (L["fb_backlog"], number_vi(fb.backlog, 0)),
            (L["fb_overdue"], number_vi(fb.overdue, 0)),
        ],
        size=9,
    )
    form.signatures([(L["signer"], L["sign_hint"], "")])
    return form.output()
