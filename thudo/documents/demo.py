"""The demo city's PKI, and the results it issues — every one signed by its agency."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from thudo.accounts.models import Agency, Membership, User
from thudo.accounts.roles import Role
from thudo.core.calendar import get_calendar

from . import pki, services
from .models import Document
from .rendering import render_document

WARD = "HN-00070"  # Ủy ban nhân dân Phường Hoàn Kiếm (accounts/demo.py)


def _approver(agency: Agency) -> User:
    membership = (
        Membership.objects.select_related("user").filter(agency=agency, role=Role.APPROVER).first()
    )
    if membership is None:
        raise RuntimeError(f"the demo has no approver in {agency.code}")
    return membership.user


def _issue(*, agency: Agency, citizen: User, n: int, approver: User) -> None:
    now = timezone.localtime()
    code = f"00070-{now:%y%m%d}-{n:04d}"
    due = get_calendar().add_working_days(now, 3)
    common = {
        "agency": agency.name,
        "parent_agency": "ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI",
        "place": "Hà Nội",
        "date": now.date(),
        "dossier_code": code,
        "applicant_name": citizen.full_name,
        "procedure": "Cấp Giấy xác nhận tình trạng hôn nhân",
    }
    receipt = render_document(
        "receipt",
        {
            **common,
            "number": f"{n}/TNHS",
            "applicant_id": citizen.personal_id,
            "papers": [{"name": "Tờ khai cấp Giấy xác nhận tình trạng hôn nhân", "count": 1}],
            "received_at": now,
            "due_at": due,
            "officer": "Nguyễn Thu Hà",
        },
    )
    doc = services.document_create(
        kind=Document.Kind.RECEIPT,
        agency=agency,
        pdf=receipt,
        title=f"Giấy tiếp nhận hồ sơ {code}",
        subject=citizen,
        reference=code,
    )
    services.document_sign(document=doc, actor=approver, check_permission=False, level="B-T")
    birth = citizen.birth_date
    result = render_document(
        "result",
        {
            **common,
            "number": f"{n}/GXNTTHN",
            "title": "GIẤY XÁC NHẬN TÌNH TRẠNG HÔN NHÂN",
            "issued_to": citizen.full_name,
            "fields": [
                ["Số định danh cá nhân", citizen.personal_id or ""],
                ["Ngày sinh", f"{birth:%d/%m/%Y}" if birth else ""],
                ["Tình trạng hôn nhân", "Hiện tại chưa đăng ký kết hôn với ai"],
                ["Mục đích sử dụng", "Đăng ký kết hôn"],
            ],
            "signer": approver.full_name,
            "signer_title": "CHỦ TỊCH",
            "signer_on_behalf": "TM. ỦY BAN NHÂN DÂN",
        },
    )
    doc = services.document_create(
        kind=Document.Kind.RESULT,
        agency=agency,
        pdf=result,
        title=f"Giấy xác nhận tình trạng hôn nhân — {citizen}",
        subject=citizen,
        reference=code,
    )
    services.document_sign(document=doc, actor=approver, check_permission=False)


def demo_load(stdout: Any = None) -> None:
    summary = pki.pki_init(agencies=Agency.objects.filter(is_active=True))
    if stdout:
        stdout.write(
            f"  keys: {len(summary.created)} authorities created, "
            f"{len(summary.issued)} agency certificates issued, "
            f"{len(summary.skipped)} kept"
        )
    agency = Agency.objects.get(code=WARD)
    if Document.objects.filter(agency=agency).exists():
        return
    approver = _approver(agency)
    citizens = list(User.objects.filter(kind=User.Kind.CITIZEN).order_by("id")[:3])
    for n, citizen in enumerate(citizens, 1):
        _issue(agency=agency, citizen=citizen, n=n, approver=approver)
    if stdout:
        stdout.write(
            f"  documents: {2 * len(citizens)} issued and signed by {agency.name} "
            f"(verify at /verify/)"
        )
