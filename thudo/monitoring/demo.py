"""The demo city's digital-transformation monitoring (DemoStep order 80, after the dossiers and
the citizen feedback, whose figures the live indicators read).

What it loads (each part idempotent):

* the programme (`programme.programme_load`: Resolution 18-NQ/TU with Plan 239/KH-UBND, the
  pillars, targets, indicators, reporting periods, tasks and the 2025 DTI components);
* a monitoring officer (Role.MONITORING_OFFICER) in every agency the programme names, as
  ``giamsat.<agency>`` — ``giamsat.skhcn``, ``giamsat.snv``, ``giamsat.stc``, ``giamsat.sct``,
  ``giamsat.ttpvhcc``, ``giamsat.stp``, ``giamsat.syt``, ``giamsat.sgddt``, ``giamsat.snnmt`` —
  with the demo password and the published authenticator key (`accounts.demo`); the city's
  ``giamsat.thanhpho`` (accounts demo) is the monitoring office and reviews the values;
* each task gets its agency's officer as the person in charge; the tasks flagged done in
  `programme.TASKS` are completed through `task_complete` and dated before their deadline; the
  others stay open — those past their deadline are overdue;
* the reported values of every period that has ended (quarters, and the year 2025), approved by
  ``giamsat.thanhpho``, each with a small generated PDF as evidence. Those periods are closed
  for reporting now, so these rows are written as the office left them (the services refuse a
  closed period; their audit rows would carry today's date anyway). Two reports are left out on
  purpose (the inspections and the lowest ward's rate for the last quarter), so they show as
  missing; in the current quarter, one value waits for approval and one was returned, both made
  through `reported_value_submit` / `reported_value_reject`;
* the 2025 DTI points, entered through `dti_component_set` (the infrastructure component is
  computed from the household broadband indicator);
* the snapshots of the last 90 days (`snapshots_backfill`, only for the days without one; today
  is always taken again) so the charts have a history and the targets a status.

The figures are demo assumptions, chosen so that every status shows: targets achieved (online
procedures, documents at the departments, broadband, DTI rank, productivity), off track (the
wards' documents, inspections, the 2025 digital-economy share), on track (the 2030 share, from
its quarterly estimates), no data (the e-payment and database-connection sources Thudo does not
have yet), and the live ones as the dossiers and feedback demos leave them.
"""

from __future__ import annotations

import logging
import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.accounts.models import Agency, Membership, User
from thudo.accounts.roles import Role

from . import programme as data
from .models import DtiComponent, Indicator, ReportedValue, ReportingPeriod, Snapshot, Task

OFFICE_USERNAME = "giamsat.thanhpho"
BACKFILL_DAYS = 90

# The officers of the responsible agencies (agency code → full name).
OFFICER_NAMES = {
    "HN-SKHCN": "Trịnh Quang Hải",
    "HN-SNV": "Phan Thu Trang",
    "HN-STC": "Lý Minh Khánh",
    "HN-SCT": "Dương Thị Ngân",
    "HN-TTPVHCC": "Tạ Hữu Long",
    "HN-STP": "Mai Thanh Vy",
    "HN-SYT": "Đinh Công Nam",
    "HN-SGDDT": "Hồ Ngọc Quỳnh",
    "HN-SNNMT": "Võ Xuân Phong",
}


def officer_username(agency_code: str) -> str:
    """ "HN-SKHCN" → "giamsat.skhcn"."""
    return "giamsat." + agency_code.removeprefix("HN-").lower()


@dataclass(frozen=True)
class Series:
    """A reported indicator's demo values: `first` for the first period, then `step` per
    period, never above `cap` (nor below `floor`)."""

    first: Decimal
    step: Decimal
    cap: Decimal = Decimal(100)
    floor: Decimal = Decimal(0)

    def value(self, n: int) -> Decimal:
        return max(self.floor, min(self.cap, self.first + self.step * n))


def _s(first: str, step: str, cap: str = "100", floor: str = "0") -> Series:
    return Series(Decimal(first), Decimal(step), Decimal(cap), Decimal(floor))


VALUES: dict[str, Series] = {
    # quarterly, from 2025 Q1
    "cqs-dvc-toan-trinh": _s("78", "4"),  # 100 in 2026 Q3: achieved (late)
    "cqs-dvc-di-dong": _s("70", "4.5", cap="97"),
    "cqs-van-ban-so-thanh-pho": _s("82", "1.8"),  # 87.4 in 2025 Q4, 92.8 now: achieved
    "cqs-van-ban-so-phuong-xa": _s("55", "3"),  # 73 in 2026 Q3: off track
    "cqs-van-ban-so-thap-nhat": _s("20", "4"),  # 40 (last quarter missing): off track
    "cqs-thanh-tra-so": _s("20", "4"),  # 40 (last quarter missing): off track
    "kts-ty-trong-grdp-uoc-quy": _s("23", "0.8", cap="60"),  # rising: on track for 2030
    "xhs-cap-quang-ho-gia-dinh": _s("76", "1.5"),  # above 80 from 2025 Q3: achieved
    "xhs-cap-quang-phuong-xa": _s("92", "1.5"),  # 100 in 2026 Q3: achieved
    # yearly, from 2025
    "cqs-xep-hang-dti": _s("4", "0", cap="63", floor="1"),  # 4th: achieved (top five)
    "kts-ty-trong-grdp": _s("26.5", "1"),  # below 30: off track
    "kts-nang-suat-lao-dong": _s("7.2", "0", cap="50", floor="-50"),  # achieved
}
# Reports left out on purpose (the latest ended period of these): "missing reports".
MISSING = ("cqs-thanh-tra-so", "cqs-van-ban-so-thap-nhat")
# In the current period: one value waiting for the office, one returned to the agency.
WAITING = ("xhs-cap-quang-ho-gia-dinh", "86.5", "Số ước tính quý hiện tại.")
RETURNED = (
    "cqs-van-ban-so-phuong-xa",
    "95",
    "Số liệu gồm cả văn bản giấy đã scan.",
    "Đề nghị tính lại: văn bản giấy được scan không tính là xử lý trên môi trường số.",
)
DTI_POINTS = {
    "nhan-thuc-so": "52",
    "the-che-so": "55",
    "nhan-luc-so": "61.5",
    "an-toan-thong-tin": "66",
    "hoat-dong-chinh-quyen-so": "248",
    "hoat-dong-kinh-te-so": "101",
    "hoat-dong-xa-hoi-so": "118.5",
}


# --- people ------------------------------------------------------------------------------------


def _officers(agencies: dict[str, Agency]) -> tuple[dict[str, User], int]:
    """The monitoring officer of each responsible agency (made when missing)."""
    from thudo.accounts.demo import DEMO_PASSWORD, demo_totp_key

    password_hash: str | None = None
    officers: dict[str, User] = {}
    made = 0
    for code in data.responsible_agency_codes():
        username = officer_username(code)
        user = User.objects.filter(username=username).first()
        if user is None:
            password_hash = password_hash or make_password(DEMO_PASSWORD)
            user = User.objects.create(
                username=username,
                full_name=OFFICER_NAMES.get(code, "Cán bộ giám sát"),
                kind=User.Kind.OFFICIAL,
                password=password_hash,
                email=f"{username}@demo.thudo.vn",
            )
            made += 1
        Membership.objects.get_or_create(
            user=user, agency=agencies[code], role=Role.MONITORING_OFFICER
        )
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.create(
                user=user, name="demo", confirmed=True, key=demo_totp_key(username)
            )
        officers[code] = user
    return officers, made


# --- evidence ----------------------------------------------------------------------------------


_next_line: dict[str, Any] = {"new_x": "LMARGIN", "new_y": "NEXT"}


@cache
def evidence_pdf(title: str, subtitle: str = "") -> bytes:
    """A small one-page PDF in Vietnamese (the documents app's DejaVu Sans), as a scanned
    report would be."""
    from fpdf import FPDF

    from .exports import pdf_fonts

    fonts = pdf_fonts()
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=timezone.get_current_timezone()))
    pdf.set_creator("Thudo")
    pdf.add_font("DejaVu", fname=str(fonts.regular))
    for loaded in pdf.fonts.values():
        if hasattr(loaded, "ttfont"):
            loaded.ttfont.recalcBBoxes = False
    pdf.add_page()
    pdf.set_font("DejaVu", size=13)
    pdf.multi_cell(0, 8, text="BÁO CÁO SỐ LIỆU CHỈ TIÊU CHUYỂN ĐỔI SỐ (TÀI LIỆU MẪU)", **_next_line)
    pdf.ln(4)
    pdf.set_font("DejaVu", size=11)
    pdf.multi_cell(0, 7, text=title, **_next_line)
    if subtitle:
        pdf.multi_cell(0, 7, text=subtitle, **_next_line)
    return bytes(pdf.output())


def _evidence_upload(indicator: Indicator) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        f"minh-chung-{indicator.code}.pdf",
        evidence_pdf(indicator.name, indicator.agency.name),
        content_type="application/pdf",
    )


# --- reported values ---------------------------------------------------------------------------


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_current_timezone())


def _history(
    indicators: dict[str, Indicator],
    periods: dict[str, list[ReportingPeriod]],
    officers: dict[str, User],
    office: User,
    today: date,
) -> int:
    """Approved values for every ended period, except the reports left missing."""
    have = set(
        ReportedValue.objects.filter(indicator__in=indicators.values()).values_list(
            "indicator_id", "period_id"
        )
    )
    made = 0
    for code, series in VALUES.items():
        indicator = indicators.get(code)
        if indicator is None:
            continue
        ended = [p for p in periods.get(indicator.frequency, []) if p.end < today]
        skip = ended[-1].pk if code in MISSING and ended else None
        for n, period in enumerate(ended):
            if period.pk == skip or (indicator.pk, period.pk) in have:
                continue
            submitted = _at(min(period.due - timedelta(days=2), today), 10)
            reviewed = _at(min(period.due + timedelta(days=3), today), 15)
            value = ReportedValue(
                indicator=indicator,
                period=period,
                value=series.value(n),
                note="Số liệu chính thức của kỳ báo cáo.",
                state=ReportedValue.State.APPROVED,
                submitted_by=officers.get(indicator.agency.code, office),
                submitted_at=submitted,
                reviewed_by=office,
                reviewed_at=reviewed,
                evidence_name=f"minh-chung-{indicator.code}.pdf",
            )
            value.evidence.save(
                "evidence.pdf",
                ContentFile(evidence_pdf(indicator.name, indicator.agency.name)),
                save=False,
            )
            value.save()
            made += 1
    return made


def _current(
    indicators: dict[str, Indicator], officers: dict[str, User], office: User, today: date
) -> int:
    """The waiting value and the returned one, in the indicator's current open period."""
    from . import selectors, services

    made = 0
    waiting_code, waiting_value, waiting_note = WAITING
    returned_code, returned_value, returned_note, review_note = RETURNED
    for code, value, note, rejection in (
        (waiting_code, waiting_value, waiting_note, ""),
        (returned_code, returned_value, returned_note, review_note),
    ):
        indicator = indicators.get(code)
        submitter = officers.get(indicator.agency.code) if indicator else None
        if indicator is None or submitter is None:
            continue
        period = selectors.periods_open(indicator=indicator, today=today).order_by("-start").first()
        if (
            period is None
            or ReportedValue.objects.filter(indicator=indicator, period=period).exists()
        ):
            continue
        reported = services.reported_value_submit(
            user=submitter,
            indicator=indicator,
            period=period,
            value=value,
            unit=indicator.unit,
            evidence=_evidence_upload(indicator),
            note=note,
        )
        if rejection:
            services.reported_value_reject(user=office, reported=reported, note=rejection)
        made += 1
    return made


# --- tasks and the DTI -------------------------------------------------------------------------


def _tasks(officers: dict[str, User], office: User) -> int:
    """Owners for every task; the tasks flagged done completed before their deadline."""
    from . import services

    done = {(t.target, t.title) for t in data.TASKS if t.done}
    completed = 0
    for task in Task.objects.filter(target__code__in={t.target for t in data.TASKS}).select_related(
        "target", "target__pillar__programme__agency", "agency"
    ):
        officer = officers.get(task.agency.code)
        if task.owner_id is None and officer is not None:
            Task.objects.filter(pk=task.pk).update(owner=officer)
            task.owner = officer
        if task.state == Task.State.OPEN and (task.target.code, task.title) in done:
            services.task_complete(
                user=officer or office, task=task, note="Đã hoàn thành (dữ liệu mẫu)."
            )
            finished = _at(task.due - timedelta(days=5 + task.pk % 20), 16)
            Task.objects.filter(pk=task.pk).update(done_at=min(finished, timezone.now()))
            completed += 1
    return completed


def _dti(office: User) -> int:
    from . import services

    entered = 0
    for component in DtiComponent.objects.filter(
        year=data.DTI_YEAR, code__in=DTI_POINTS, points__isnull=True, indicator__isnull=True
    ):
        services.dti_component_set(
            user=office, component=component, points=DTI_POINTS[component.code]
        )
        entered += 1
    return entered


def _backfill(today: date) -> int:
    """Snapshots for the days of the last BACKFILL_DAYS that have none, and today's again."""
    from . import services

    start = today - timedelta(days=BACKFILL_DAYS - 1)
    have = set(
        Snapshot.objects.filter(date__gte=start, date__lt=today)
        .values_list("date", flat=True)
        .distinct()
    )
    days = [start + timedelta(days=n) for n in range(BACKFILL_DAYS)]
    first = next((day for day in days if day not in have), today)
    # The sources Thudo does not have yet answer "no data" every day: not a warning a day.
    quiet = logging.getLogger("thudo.monitoring.sources")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return services.snapshots_backfill(start=first, end=today)
    finally:
        quiet.setLevel(level)


# --- the step ----------------------------------------------------------------------------------


def demo_load(stdout: Any = None) -> None:
    began = clock.monotonic()
    codes = data.agency_codes()
    agencies = {a.code: a for a in Agency.objects.filter(code__in=codes)}
    office = User.objects.filter(username=OFFICE_USERNAME).first()
    if len(agencies) < len(codes) or office is None:
        if stdout:
            stdout.write("  monitoring: skipped (no demo agencies or no giamsat.thanhpho)")
        return
    today = timezone.localdate()
    with transaction.atomic():
        loaded = data.programme_load_counted(today=today)
        officers, new_officers = _officers(agencies)
        indicators = {
            i.code: i
            for i in Indicator.objects.filter(
                kind=Indicator.Kind.REPORTED, target__pillar__programme=loaded.programme
            ).select_related("agency", "target__pillar")
        }
        periods: dict[str, list[ReportingPeriod]] = {}
        for period in ReportingPeriod.objects.filter(programme=loaded.programme).order_by("start"):
            periods.setdefault(period.frequency, []).append(period)
        history = _history(indicators, periods, officers, office, today)
        completed = _tasks(officers, office)
        dti = _dti(office)
    current = _current(indicators, officers, office, today)
    snapshots = _backfill(today)
    if stdout:
        from .sources import source_get

        absent = sorted(
            {
                i.source
                for i in Indicator.objects.filter(kind=Indicator.Kind.COMPUTED).exclude(source="")
                if source_get(i.source) is None
            }
        )
        made = ", ".join(f"{k} {v}" for k, v in loaded.created.items() if v) or "nothing new"
        stdout.write(
            f"  monitoring: programme ({made}); new officers {new_officers}; "
            f"approved values {history}; current values {current}; tasks done {completed}; "
            f'DTI points {dti}; snapshots {snapshots} (no source yet, "no data": '
            f"{', '.join(absent) or 'none'}); "
            f"{clock.monotonic() - began:.1f} s"
        )
