"""The demo city's dossiers: about 60, mostly at Phường Hoàn Kiếm's committee (where the demo
officials work), in every state of the workflow, made through the services with past `now=`
moments so their codes, clocks, events, audit rows and documents are real.

Idempotent: each dossier has a fixed idempotency key (`demo-<n>`) and is made, with its whole
story, in one transaction; dossiers already there are skipped. Only a handful of results are
signed (a signature costs tens of milliseconds).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from thudo.accounts.models import Agency, Membership, User
from thudo.accounts.roles import Role
from thudo.core.calendar import get_calendar
from thudo.procedures.models import Procedure
from thudo.procedures.selectors import procedure_current_version

from .models import Dossier

WARD = "HN-00070"  # Ủy ban nhân dân Phường Hoàn Kiếm (accounts/demo.py: DEMO_WARD)
DEPARTMENT = "HN-STP"  # the department with demo officials
KEY = "demo-{n}"
OTHER_WARDS = 3  # wards without demo officials: dossiers there wait for reception


# --- Sample inputs -----------------------------------------------------------------------------


@cache
def demo_pdf(title: str = "Thudo demo paper") -> bytes:
    """A small valid one-page PDF (about 1 KB), as a scanned paper would be."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.cell(text=title)
    return bytes(pdf.output())


def demo_files(spec: Mapping[str, Any], *, all_papers: bool = False) -> dict[str, list[Any]]:
    """A PDF for each required paper (each optional one too with ``all_papers``)."""
    files: dict[str, list[Any]] = {}
    for paper in spec.get("papers", []):
        if not (paper.get("required") or all_papers):
            continue
        types = paper.get("file_types") or ["pdf"]
        if "pdf" not in types:  # an image-only paper: a tiny PNG
            files[paper["code"]] = [
                SimpleUploadedFile(f"{paper['code']}.png", demo_png(), "image/png")
            ]
        else:
            files[paper["code"]] = [
                SimpleUploadedFile(f"{paper['code']}.pdf", demo_pdf(), "application/pdf")
            ]
    return files


@cache
def demo_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


NAMES = ["Nguyễn Minh Anh", "Trần Gia Bảo", "Lê Khánh Linh", "Phạm Đức Huy", "Vũ Ngọc Hân"]


def demo_form_data(
    spec: Mapping[str, Any], applicant: Any = None, rng: random.Random | None = None
) -> dict[str, Any]:
    """Plausible valid values for a procedure's form, field by field from its type."""
    rng = rng or random.Random(0)  # noqa: S311 — demo data
    today = timezone.localdate()
    data: dict[str, Any] = {}
    for f in spec.get("fields", []):
        kind, name = f.get("type", "text"), f["name"]
        value: Any
        if kind == "integer":
            low = f.get("min_value") if f.get("min_value") is not None else 1
            high = f.get("max_value") if f.get("max_value") is not None else max(low, 5)
            value = rng.randint(low, max(low, min(high, low + 4)))
        elif kind == "date":
            value = (today - timedelta(days=rng.randint(10, 60))).isoformat()
        elif kind == "choice":
            value = f["choices"][0][0] if f.get("choices") else ""
        elif kind == "boolean":
            value = True
        elif kind == "personal_id":
            value = getattr(applicant, "personal_id", None) or "001090123456"
        elif kind == "phone":
            value = getattr(applicant, "phone", "") or "0912345678"
        elif kind == "email":
            value = "demo@example.org"
        elif kind == "textarea":
            value = "Đề nghị cơ quan xem xét, giải quyết."
        elif "name" in name:
            value = rng.choice(NAMES)
        elif "address" in name or "place" in name or "noi" in name:
            value = "Số 1 Đinh Tiên Hoàng, Phường Hoàn Kiếm, Hà Nội"
        else:
            value = "Hà Nội"
        if isinstance(value, str) and f.get("max_length"):
            value = value[: f["max_length"]]
        data[name] = value
    return data


# --- The stories ------------------------------------------------------------------------------


@dataclass
class Cast:
    receiver: User
    processor: User
    approver: User


def _cast(agency: Agency) -> Cast | None:
    people: dict[str, User] = {}
    for m in Membership.objects.select_related("user").filter(agency=agency).order_by("pk"):
        people.setdefault(m.role, m.user)
    try:
        return Cast(
            people[Role.RECEIVING_OFFICER], people[Role.PROCESSING_OFFICER], people[Role.APPROVER]
        )
    except KeyError:
        return None


# Each story: the transitions after submission, as far as the wanted state.
STORIES: list[tuple[str, int]] = [
    ("submitted", 5),
    ("received", 4),
    ("processing", 5),
    ("supplement_requested", 4),
    ("supplemented", 2),
    ("approved", 3),
    ("signed", 2),
    ("returned", 4),
    ("closed", 2),
    ("refused", 2),
    ("rejected", 1),
    ("late_apology", 2),
    ("late_returned", 2),
    ("counter_processing", 3),
]
DEPARTMENT_STORIES: list[tuple[str, int]] = [
    ("submitted", 2),
    ("received", 2),
    ("processing", 3),
    ("returned", 1),
]


class _Timeline:
    """Moments that move forward in working hours from the submission, never past now."""

    def __init__(self, start: datetime) -> None:
        self.calendar = get_calendar()
        self.moment = start
        self.limit = timezone.now() - timedelta(minutes=5)

    def after(self, hours: float) -> datetime:
        self.moment = min(self.calendar.add_working_hours(self.moment, hours), self.limit)
        return self.moment

    def at_least(self, moment: datetime) -> datetime:
        self.moment = min(max(self.moment, moment), self.limit)
        return self.moment


def _to_approval(dossier: Dossier, cast: Cast, t: _Timeline) -> Dossier:
    """Forward through the procedure's processing steps to the approver's."""
    from . import permissions, services

    for _ in range(8):
        if permissions.step_allows(dossier, "approve"):
            break
        role = permissions.current_role(dossier)
        actor = cast.approver if role == Role.APPROVER else cast.processor
        if role == Role.RECEIVING_OFFICER:
            actor = cast.receiver
        dossier = services.dossier_forward(dossier=dossier, actor=actor, now=t.after(3))
    return dossier


def _story(
    story: str,
    *,
    n: int,
    procedure: Procedure,
    applicant: User,
    agency: Agency,
    cast: Cast | None,
    submitted_at: datetime,
    rng: random.Random,
) -> Dossier:
    from . import services

    spec = procedure_current_version(procedure).spec
    data = demo_form_data(spec, applicant, rng)
    t = _Timeline(submitted_at)
    if story.startswith("counter_"):
        assert cast is not None
        dossier = services.dossier_intake(
            officer=cast.receiver,
            procedure=procedure,
            applicant={
                "name": applicant.full_name,
                "personal_id": applicant.personal_id,
                "phone": applicant.phone,
                "email": applicant.email,
                "address": "Số 1 Đinh Tiên Hoàng, Hà Nội",
            },
            data=data,
            files=demo_files(spec),
            delivery="counter",
            now=submitted_at,
        )
        story = story.removeprefix("counter_")
    else:
        receiving = agency if spec.get("agency_kind") == "commune_committee" else None
        dossier = services.dossier_submit(
            procedure=procedure,
            applicant=applicant,
            data=data,
            files=demo_files(spec, all_papers=rng.random() < 0.5),
            receiving_agency=receiving,
            idempotency_key=KEY.format(n=n),
            now=submitted_at,
        )
        if story == "submitted" or cast is None:
            return dossier
        if story == "refused":
            return services.dossier_refuse(
                dossier=dossier,
                actor=cast.receiver,
                reasons=["Hồ sơ không thuộc thẩm quyền giải quyết của Ủy ban nhân dân phường."],
                now=t.after(2),
            )
        dossier = services.dossier_receive(dossier=dossier, actor=cast.receiver, now=t.after(1))
    if story == "received":
        return dossier
    if story in ("supplement_requested", "supplemented"):
        dossier = services.dossier_request_supplement(
            dossier=dossier,
            actor=cast.receiver,
            missing=[
                {
                    "name": "Bản sao giấy chứng nhận kết hôn",
                    "note": "Bản chụp chưa rõ, đề nghị tải lại bản rõ nét.",
                }
            ],
            note="Đề nghị bổ sung trong 5 ngày làm việc.",
            now=t.after(3),
        )
        if story == "supplement_requested":
            return dossier
        dossier = services.dossier_supplement(
            dossier=dossier,
            actor=applicant,
            files=demo_files(spec),
            note="Đã bổ sung bản rõ nét.",
            now=t.after(16),
        )
    dossier = services.dossier_start_processing(
        dossier=dossier, actor=cast.processor, now=t.after(2)
    )
    if story in ("processing", "supplemented"):
        return dossier
    if story == "late_apology":
        due = dossier.due_at or t.moment
        return services.dossier_apologise(
            dossier=dossier,
            actor=cast.approver,
            new_appointment=t.calendar.add_working_days(due, 3),
            reason="Cần xác minh thêm thông tin với cơ quan liên quan.",
            now=t.at_least(due - timedelta(hours=2)),
        )
    if story == "late_returned":
        due = dossier.due_at or t.moment
        dossier = services.dossier_apologise(
            dossier=dossier,
            actor=cast.approver,
            new_appointment=t.calendar.add_working_days(due, 2),
            reason="Cần xác minh thêm thông tin với cơ quan liên quan.",
            now=t.at_least(due - timedelta(hours=2)),
        )
        t.at_least(due + timedelta(days=1))
    dossier = _to_approval(dossier, cast, t)
    if story == "rejected":
        dossier = services.dossier_reject(
            dossier=dossier,
            actor=cast.approver,
            reasons=["Thông tin trong tờ khai không khớp với cơ sở dữ liệu dân cư."],
            now=t.after(4),
        )
        return services.dossier_return_result(dossier=dossier, actor=cast.receiver, now=t.after(1))
    dossier = services.dossier_approve(
        dossier=dossier, actor=cast.approver, note="Đồng ý.", now=t.after(4)
    )
    if story == "approved":
        return dossier
    dossier = services.dossier_sign_result(dossier=dossier, actor=cast.approver, now=t.after(1))
    if story == "signed":
        return dossier
    dossier = services.dossier_return_result(dossier=dossier, actor=cast.receiver, now=t.after(1))
    if story == "closed":
        dossier = services.dossier_close(dossier=dossier, actor=cast.receiver, now=t.after(8))
    if rng.random() < 0.85:
        good = story != "late_returned"
        services.dossier_rate(
            dossier=dossier,
            applicant=applicant,
            attitude=rng.choice([4, 5, 5]),
            timeliness=rng.choice([4, 5]) if good else rng.choice([2, 3]),
            contacts=rng.choice([4, 5]),
            clarity=rng.choice([3, 4, 5]),
            comment="Cán bộ hướng dẫn tận tình." if good else "Trả kết quả chậm hơn hẹn.",
        )
    return dossier


def _plan(rng: random.Random) -> list[tuple[str, str, str]]:
    """(story, agency code, procedure kind) in a fixed order."""
    plan = [(story, WARD, "commune") for story, count in STORIES for _ in range(count)]
    plan += [
        (story, DEPARTMENT, "department")
        for story, count in DEPARTMENT_STORIES
        for _ in range(count)
    ]
    plan += [("submitted", "other", "commune") for _ in range(OTHER_WARDS * 2)]
    rng.shuffle(plan)
    # Late stories first: their deadlines must have passed before today.
    return sorted(plan, key=lambda item: not item[0].startswith("late_"))


def _submitted_moments(count: int, rng: random.Random) -> list[datetime]:
    """Working-hour moments spread over the last ~40 working days, in order."""
    calendar = get_calendar()
    today = timezone.localdate()
    days: list[date] = []
    d = today - timedelta(days=1)
    while len(days) < 40:
        if calendar.is_working_day(d):
            days.append(d)
        d -= timedelta(days=1)
    days.reverse()
    zone = timezone.get_current_timezone()
    moments = []
    for i in range(count):
        day = days[min(len(days) - 1, i * len(days) // count)]
        hour = time(rng.choice([8, 9, 10, 14, 15]), rng.randrange(0, 60, 5))
        moments.append(datetime.combine(day, hour, tzinfo=zone))
    return sorted(moments)


def demo_load(stdout: Any = None, *, log: Callable[[str], None] | None = None) -> None:
    from thudo.accounts.demo import DEMO_WARD

    rng = random.Random(766)  # noqa: S311 — reproducible demo data
    ward = Agency.objects.filter(code=WARD).first()
    if ward is None or DEMO_WARD not in WARD:
        if stdout:
            stdout.write("  dossiers: skipped (no demo agencies)")
        return
    procedures = list(Procedure.objects.filter(is_active=True).order_by("code"))
    commune = [p for p in procedures if p.agency_kind == Agency.Kind.COMMUNE_COMMITTEE]
    department = [p for p in procedures if p.department_code == DEPARTMENT]
    if not commune:
        if stdout:
            stdout.write("  dossiers: skipped (no procedures)")
        return
    casts = {WARD: _cast(ward)}
    dept = Agency.objects.filter(code=DEPARTMENT).first()
    if dept is not None:
        casts[DEPARTMENT] = _cast(dept)
    others = list(
        Agency.objects.filter(kind=Agency.Kind.COMMUNE_COMMITTEE)
        .exclude(code=WARD)
        .order_by("code")[:OTHER_WARDS]
    )
    citizens = list(
        User.objects.filter(kind=User.Kind.CITIZEN).exclude(personal_id=None).order_by("pk")[:200]
    )
    if not citizens:
        if stdout:
            stdout.write("  dossiers: skipped (no citizens)")
        return
    plan = _plan(rng)
    moments = _submitted_moments(len(plan), rng)
    have = set(
        Dossier.objects.filter(idempotency_key__startswith="demo-").values_list(
            "idempotency_key", flat=True
        )
    )
    made = 0
    for n, ((story, where, kind), moment) in enumerate(zip(plan, moments, strict=True), 1):
        applicant = citizens[(n * 7) % len(citizens)]
        if KEY.format(n=n) in have:
            continue
        if kind == "department":
            if not department or casts.get(DEPARTMENT) is None or dept is None:
                continue
            agency, procedure = dept, department[n % len(department)]
        else:
            agency = others[n % len(others)] if where == "other" and others else ward
            procedure = commune[n % len(commune)]
        cast = casts.get(agency.code)
        if story.startswith("counter_") and cast is None:
            continue
        with transaction.atomic():
            dossier = _story(
                story,
                n=n,
                procedure=procedure,
                applicant=applicant,
                agency=agency,
                cast=cast,
                submitted_at=moment,
                rng=rng,
            )
            if dossier.idempotency_key != KEY.format(n=n):  # counter intake: no key given
                Dossier.objects.filter(pk=dossier.pk).update(idempotency_key=KEY.format(n=n))
        made += 1
    if stdout:
        stdout.write(f"  dossiers: {made} new ({len(have)} were there)")
