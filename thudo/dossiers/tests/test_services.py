"""The dossier services end to end: submission, the one-stop workflow, documents, clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import translation

from thudo.core.errors import InvalidTransition, PermissionDenied
from thudo.core.models import AuditEvent
from thudo.documents.models import Document
from thudo.dossiers import selectors, services
from thudo.dossiers.models import Channel, DossierEvent, DossierFile, Rating, Status
from thudo.notifications.models import Notification

from .factories import HCM, MONDAY_10, submit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=HCM)


def test_submission_gets_a_code_clock_files_event_audit_and_notification(
    procedure: Any, applicant: Any, ward_agency: Any, media_root: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    assert dossier.code == "HN-00070-260615-0001"
    assert dossier.status == Status.SUBMITTED
    assert dossier.channel == Channel.ONLINE
    assert dossier.receiving_agency == ward_agency == dossier.agency
    assert dossier.unit_id == ward_agency.admin_unit_id
    # 3 working days from Monday 10:00 = Thursday 10:00.
    assert dossier.received_at == MONDAY_10
    assert dossier.due_at == at(18, 10)
    assert dossier.appointment_at == dossier.due_at
    assert dossier.data["child_name"] == "Nguyễn Minh Anh"
    files = list(DossierFile.objects.filter(dossier=dossier))
    assert {f.paper_code for f in files} == {"to-khai", "giay-chung-sinh"}
    assert all((media_root / f.file.name).exists() for f in files)
    assert {f.content_type for f in files} == {"image/png", "application/pdf"}
    event = DossierEvent.objects.get(dossier=dossier)
    assert (event.action, event.from_status, event.to_status) == ("submit", "draft", "submitted")
    assert AuditEvent.objects.filter(action="dossier.submit", object_id=str(dossier.pk)).exists()
    note = Notification.objects.get(user=applicant)
    assert dossier.code in note.title and note.emailed_to == "an@example.vn"


def test_codes_count_per_agency_and_day(procedure: Any, applicant: Any) -> None:
    first = submit(procedure=procedure, applicant=applicant)
    second = submit(procedure=procedure, applicant=applicant)
    # 23:30 local on the 15th is still the 15th; 00:10 on the 16th starts a new day.
    third = submit(procedure=procedure, applicant=applicant, now=at(15, 23, 30))
    fourth = submit(procedure=procedure, applicant=applicant, now=at(16, 0, 10))
    assert [d.code[-11:] for d in (first, second, third, fourth)] == [
        "260615-0001",
        "260615-0002",
        "260615-0003",
        "260616-0001",
    ]


def _pdf_of(document: Document) -> bytes:
    version = document.versions.order_by("-number").first()
    assert version is not None
    with version.file.open("rb") as fh:
        return fh.read()


def test_happy_path_from_submission_to_rating(
    procedure: Any,
    applicant: Any,
    staff: Any,
    signing: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        dossier = submit(procedure=procedure, applicant=applicant)
    # The receipt is made and signed when first asked for (ADR 0010), not by the submission.
    assert selectors.dossier_document(dossier, Document.Kind.RECEIPT) is None
    receipt = services.dossier_receipt_issue(dossier=dossier)
    assert receipt is not None and receipt.reference == dossier.code
    assert receipt.subject == applicant and receipt.agency.code == "HN-00070"
    assert receipt.versions.filter(signatures=1).exists()
    assert _pdf_of(receipt).startswith(b"%PDF-")
    # Asking again returns the same receipt, signed once.
    assert services.dossier_receipt_issue(dossier=dossier) == receipt
    assert receipt.versions.count() == 2
    assert len(mail.outbox) == 1 and dossier.code in mail.outbox[0].subject

    t = at(15, 11)
    dossier = services.dossier_receive(dossier=dossier, actor=staff.receiving, now=t)
    assert dossier.status == Status.RECEIVED and dossier.holder == staff.receiving
    dossier = services.dossier_start_processing(
        dossier=dossier, actor=staff.processing, now=t + timedelta(minutes=5)
    )
    assert dossier.status == Status.PROCESSING and dossier.step == 1
    # The processing officer cannot approve at the review step; the approver neither.
    with pytest.raises(InvalidTransition):
        services.dossier_approve(dossier=dossier, actor=staff.approver)
    dossier = services.dossier_forward(dossier=dossier, actor=staff.processing, note="OK")
    assert dossier.step == 2 and dossier.holder is None
    with pytest.raises(InvalidTransition):  # no step after the approver's
        services.dossier_forward(dossier=dossier, actor=staff.processing)
    dossier = services.dossier_approve(dossier=dossier, actor=staff.approver, now=at(16, 9))
    assert dossier.status == Status.APPROVED
    result = selectors.dossier_document(dossier, Document.Kind.RESULT)
    assert result is not None and not result.versions.filter(signatures__gt=0).exists()

    dossier = services.dossier_sign_result(dossier=dossier, actor=staff.approver, now=at(16, 10))
    assert dossier.status == Status.SIGNED
    assert dossier.settled_at == at(16, 10) and dossier.on_time is True
    assert result.versions.filter(signatures=1).exists()
    assert Notification.objects.filter(user=applicant, title__contains="đã có kết quả").exists()

    # Someone else's download changes nothing; the applicant's first one returns the result.
    assert services.dossier_result_downloaded(dossier=dossier, user=staff.approver).status == (
        Status.SIGNED
    )
    dossier = services.dossier_result_downloaded(dossier=dossier, user=applicant, now=at(16, 11))
    assert dossier.status == Status.RETURNED and dossier.returned_at == at(16, 11)

    with pytest.raises(PermissionDenied):
        services.dossier_rate(
            dossier=dossier,
            applicant=staff.receiving,
            attitude=5,
            timeliness=5,
            contacts=5,
            clarity=5,
        )
    rating = services.dossier_rate(
        dossier=dossier,
        applicant=applicant,
        attitude=5,
        timeliness=4,
        contacts=5,
        clarity=4,
        comment="Nhanh",
    )
    assert rating.score == 4.5
    with pytest.raises(InvalidTransition):
        services.dossier_rate(
            dossier=dossier, applicant=applicant, attitude=1, timeliness=1, contacts=1, clarity=1
        )
    assert Rating.objects.count() == 1
    dossier = services.dossier_close(dossier=dossier, actor=staff.receiving)
    assert dossier.status == Status.CLOSED

    actions = list(
        DossierEvent.objects.filter(dossier=dossier).order_by("pk").values_list("action", flat=True)
    )
    assert actions == [
        "submit",
        "receive",
        "start_processing",
        "forward",
        "approve",
        "sign_result",
        "return_result",
        "rate",
        "close",
    ]
    audited = set(
        AuditEvent.objects.filter(
            object_id=str(dossier.pk), action__startswith="dossier."
        ).values_list("action", flat=True)
    )
    assert {f"dossier.{a}" for a in actions} <= audited

    slip = services.dossier_control_slip(dossier=dossier, actor=staff.receiving)
    assert slip.kind == Document.Kind.CONTROL_SLIP and _pdf_of(slip).startswith(b"%PDF-")
