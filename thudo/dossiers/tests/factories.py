"""Test data for the dossiers domain: procedures published through the procedures app, files
that pass (or fail) the paper checks, and a submitted dossier in one call."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile

from thudo.accounts.roles import Role
from thudo.procedures.models import FormField, Procedure, ProcessingStep, RequiredPaper, Sector

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
# A Monday in an ordinary week (no holiday nearby), in office hours.
MONDAY_10 = datetime(2026, 6, 15, 10, 0, tzinfo=HCM)

BIRTH_FIELDS: list[dict[str, Any]] = [
    {
        "name": "child_name",
        "label": "Họ, chữ đệm, tên người được khai sinh",
        "label_en": "Child's full name",
        "type": "text",
        "required": True,
        "max_length": 100,
    },
    {
        "name": "birth_date",
        "label": "Ngày, tháng, năm sinh",
        "label_en": "Date of birth",
        "type": "date",
        "required": True,
    },
    {
        "name": "sex",
        "label": "Giới tính",
        "label_en": "Sex",
        "type": "choice",
        "required": True,
        "choices": [["male", "Nam", "Male"], ["female", "Nữ", "Female"]],
    },
    {
        "name": "mother_name",
        "label": "Họ tên người mẹ",
        "label_en": "Mother's name",
        "type": "text",
        "required": False,
        "max_length": 100,
    },
]
BIRTH_PAPERS: list[dict[str, Any]] = [
    {
        "code": "to-khai",
        "name": "Tờ khai đăng ký khai sinh",
        "name_en": "Registration form",
        "required": True,
        "file_types": "pdf,jpg,png",
        "max_mb": 5,
    },
    {
        "code": "giay-chung-sinh",
        "name": "Giấy chứng sinh",
        "name_en": "Birth certificate",
        "required": True,
        "file_types": "pdf",
        "max_mb": 2,
    },
    {
        "code": "uy-quyen",
        "name": "Văn bản ủy quyền",
        "name_en": "Power of attorney",
        "required": False,
        "file_types": "pdf,png",
        "max_mb": 2,
    },
]
STANDARD_STEPS = [
    ("Tiếp nhận", "Reception", Role.RECEIVING_OFFICER, 10),
    ("Thẩm định", "Review", Role.PROCESSING_OFFICER, 60),
    ("Phê duyệt", "Approval", Role.APPROVER, 30),
]
BIRTH_DATA = {"child_name": "Nguyễn Minh Anh", "birth_date": "2026-06-01", "sex": "female"}


def make_procedure(
    *,
    code: str = "1.001193",
    name: str = "Đăng ký khai sinh",
    name_en: str = "Birth registration",
    agency_kind: str = "commune_committee",
    department_code: str = "",
    deadline_days: str = "3.0",
    cutoff: Any = None,
    fields: Iterable[dict[str, Any]] = BIRTH_FIELDS,
    papers: Iterable[dict[str, Any]] = BIRTH_PAPERS,
    steps: Iterable[tuple[str, str, str, int]] = STANDARD_STEPS,
    result_fields: list[str] | None = None,
) -> Procedure:
    """A procedure with its papers, form and steps, and its first published version."""
    from thudo.procedures.services import procedure_publish

    sector, _ = Sector.objects.get_or_create(
        code="ho-tich", defaults={"name": "Hộ tịch", "name_en": "Civil status"}
    )
    procedure = Procedure.objects.create(
        code=code,
        name=name,
        name_en=name_en,
        sector=sector,
        agency_kind=agency_kind,
        department_code=department_code,
        deadline_days=Decimal(deadline_days),
        cutoff=cutoff,
        result_title="Giấy khai sinh",
        result_title_en="Birth certificate",
        result_body="Ủy ban nhân dân chứng nhận việc khai sinh của {child_name}.",
        result_fields=result_fields if result_fields is not None else ["child_name", "birth_date"],
    )
    for order, paper in enumerate(papers):
        RequiredPaper.objects.create(procedure=procedure, order=order, **paper)
    for order, field in enumerate(fields):
        FormField.objects.create(procedure=procedure, order=order, **field)
    for order, (step_name, step_en, role, share) in enumerate(steps):
        ProcessingStep.objects.create(
            procedure=procedure,
            name=step_name,
            name_en=step_en,
            role=role,
            share=share,
            order=order,
        )
    procedure_publish(procedure=procedure)
    return procedure


# --- files ---------------------------------------------------------------------------------


def pdf_bytes(text: str = "Tờ khai — Thudo") -> bytes:
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


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> Any:
    return SimpleUploadedFile(name, content, content_type=content_type)


def good_files() -> dict[str, list[Any]]:
    """Files for every required paper of the birth registration."""
    return {
        "to-khai": [upload("to-khai.png", png_bytes(), "image/png")],
        "giay-chung-sinh": [upload("chung-sinh.pdf", pdf_bytes(), "application/pdf")],
    }


def submit(
    *,
    procedure: Procedure,
    applicant: Any,
    data: dict[str, Any] | None = None,
    files: dict[str, list[Any]] | None = None,
    now: datetime = MONDAY_10,
    **kwargs: Any,
) -> Any:
    from thudo.dossiers.services import dossier_submit

    return dossier_submit(
        procedure=procedure,
        applicant=applicant,
        data=dict(BIRTH_DATA) if data is None else data,
        files=good_files() if files is None else files,
        now=now,
        **kwargs,
    )
