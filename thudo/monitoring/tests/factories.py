"""Test data for the monitoring domain: the city's monitoring office and a department with their
officials, a programme with a pillar, a computed and a reported target, reporting periods around
today, evidence files that pass (or fail) the checks.

Fixtures are defined here and imported by the test modules that use them."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from thudo.accounts.roles import Role
from thudo.monitoring.models import (
    Indicator,
    Pillar,
    Programme,
    ReportedValue,
    ReportingPeriod,
    Snapshot,
    Target,
    Task,
)


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


# --- files -----------------------------------------------------------------------------------


def pdf_bytes(text: str = "Báo cáo — Thudo") -> bytes:
    from thudo.documents.tests.pdfs import one_page_pdf

    return one_page_pdf(text)


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int] = (16, 16)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 30, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Chỉ tiêu", "Giá trị"])
    sheet.append(["Hộ gia đình có cáp quang", 82.5])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    """A ZIP archive that is not a spreadsheet."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> Any:
    return SimpleUploadedFile(name, content, content_type=content_type)


def evidence(name: str = "bao-cao.pdf") -> Any:
    return upload(name, pdf_bytes(), "application/pdf")


# --- the programme ---------------------------------------------------------------------------


def make_programme(
    *, agency: Any, code: str = "nq18", start: date | None = None, parent: Any = None
) -> Programme:
    today = timezone.localdate()
    return Programme.objects.create(
        code=code,
        name="Nghị quyết 18-NQ/TU về chuyển đổi số",
        name_en="Resolution 18-NQ/TU on digital transformation",
        legal_basis="18-NQ/TU",
        parent=parent,
        start=start or date(today.year - 1, 1, 1),
        end=date(today.year + 4, 12, 31),
        agency=agency,
    )


def make_target(
    pillar: Pillar,
    *,
    code: str,
    agency: Any,
    target_value: Decimal | str = "100",
    baseline: Decimal | str | None = "40",
    baseline_date: date | None = None,
    deadline: date | None = None,
    direction: str = "up",
    unit: str = "%",
    order: int = 100,
) -> Target:
    today = timezone.localdate()
    return Target.objects.create(
        pillar=pillar,
        code=code,
        name=f"Chỉ tiêu {code}",
        name_en=f"Target {code}",
        unit=unit,
        direction=direction,
        baseline=Decimal(baseline) if baseline is not None else None,
        baseline_date=baseline_date or (today - timedelta(days=365) if baseline else None),
        target_value=Decimal(target_value),
        deadline=deadline or today + timedelta(days=365),
        agency=agency,
        order=order,
    )


def make_indicator(
    target: Target,
    *,
    code: str,
    agency: Any,
    kind: str = Indicator.Kind.COMPUTED,
    source: str = "",
    unit: str = "%",
    frequency: str = Indicator.Frequency.QUARTERLY,
    min_value: Decimal | str | None = "0",
    max_value: Decimal | str | None = "100",
    evidence_required: bool = True,
    is_primary: bool = True,
) -> Indicator:
    return Indicator.objects.create(
        target=target,
        code=code,
        name=f"Chỉ số {code}",
        name_en=f"Indicator {code}",
        kind=kind,
        source=source,
        unit=unit,
        frequency=frequency,
        min_value=Decimal(min_value) if min_value is not None else None,
        max_value=Decimal(max_value) if max_value is not None else None,
        evidence_required=evidence_required,
        agency=agency,
        is_primary=is_primary,
    )


def make_period(
    programme: Programme,
    *,
    start: date,
    end: date,
    due: date | None = None,
    frequency: str = Indicator.Frequency.QUARTERLY,
) -> ReportingPeriod:
    return ReportingPeriod.objects.create(
        programme=programme,
        frequency=frequency,
        start=start,
        end=end,
        due=due or end + timedelta(days=10),
    )


def snap(indicator: Indicator, day: date, value: Decimal | str | float | None) -> Snapshot:
    return Snapshot.objects.create(
        indicator=indicator,
        date=day,
        value=Decimal(str(value)) if value is not None else None,
    )


def approved(
    indicator: Indicator, period: ReportingPeriod, value: str, *, by: Any, reviewer: Any = None
) -> ReportedValue:
    """An approved value (built with the ORM, for selector and snapshot tests)."""
    return ReportedValue.objects.create(
        indicator=indicator,
        period=period,
        value=Decimal(value),
        state=ReportedValue.State.APPROVED,
        submitted_by=by,
        reviewed_by=reviewer,
        reviewed_at=timezone.now(),
    )


@pytest.fixture
def mon(make_agency: Any, make_official: Any) -> Any:
    """The city committee "HN" (the monitoring office) with a department under it, their
    officials, a programme with a pillar, a computed target (online rate) and a reported target
    (household broadband), the quarterly periods around today."""
    today = timezone.localdate()
    city = make_agency("HN", kind="city_committee", name="Ủy ban nhân dân thành phố Hà Nội")
    dept = make_agency("HN-SKHCN", kind="department", parent=city, name="Sở Khoa học và Công nghệ")
    other = make_agency("HN-STC", kind="department", parent=city, name="Sở Tài chính")
    office = make_official(Role.MONITORING_OFFICER, city, username="giamsat")
    office2 = make_official(Role.MONITORING_OFFICER, city, username="giamsat2")
    reporter = make_official(Role.MONITORING_OFFICER, dept, username="baocao")
    leader = make_official(Role.APPROVER, dept, username="giamdoc")
    other_reporter = make_official(Role.MONITORING_OFFICER, other, username="taichinh")
    outsider = make_official(Role.RECEIVING_OFFICER, dept, username="tiepnhan")
    programme = make_programme(agency=city)
    pillar = Pillar.objects.create(
        programme=programme, code="chinh-quyen-so", name="Chính quyền số", order=1
    )
    online = make_target(pillar, code="dvc-truc-tuyen", agency=dept, order=1)
    online_ind = make_indicator(
        online, code="ty-le-truc-tuyen", agency=dept, source="dossiers.online_rate"
    )
    broadband = make_target(pillar, code="cap-quang", agency=dept, order=2, target_value="80")
    broadband_ind = make_indicator(
        broadband,
        code="ho-cap-quang",
        agency=dept,
        kind=Indicator.Kind.REPORTED,
        unit="%",
    )
    # This quarter (open, due after its end) and the last one (ended, its due date just past or
    # near, depending on the day).
    q_first_month = 3 * ((today.month - 1) // 3) + 1
    this_start = date(today.year, q_first_month, 1)
    this_end = (this_start + timedelta(days=95)).replace(day=1) - timedelta(days=1)
    last_end = this_start - timedelta(days=1)
    last_start = (last_end - timedelta(days=80)).replace(day=1)
    current = make_period(programme, start=this_start, end=this_end)
    previous = make_period(programme, start=last_start, end=last_end, due=today)
    return SimpleNamespace(
        today=today,
        city=city,
        dept=dept,
        other=other,
        office=office,
        office2=office2,
        reporter=reporter,
        leader=leader,
        other_reporter=other_reporter,
        outsider=outsider,
        programme=programme,
        pillar=pillar,
        online=online,
        online_ind=online_ind,
        broadband=broadband,
        broadband_ind=broadband_ind,
        current=current,
        previous=previous,
    )


def make_task(
    target: Target, *, agency: Any, due: date, title: str = "", owner: Any = None
) -> Task:
    return Task.objects.create(
        target=target,
        title=title or f"Nhiệm vụ của {target.code}",
        agency=agency,
        owner=owner,
        due=due,
    )
