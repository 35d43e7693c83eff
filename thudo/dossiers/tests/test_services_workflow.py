"""The workflow's branches: supplements and the clock, lateness and apology, refusal,
rejection, hand-off, the counter, drafts, reminders; and what is refused (409 / 403)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import translation

from thudo.core.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.documents.models import Document
from thudo.dossiers import selectors, services
from thudo.dossiers.models import Channel, Dossier, DossierEvent, DossierFile, Status
from thudo.dossiers.workflow import TRANSITIONS, actions_from
from thudo.notifications.models import Notification

from .factories import HCM, MONDAY_10, make_procedure, pdf_bytes, submit, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=HCM)


def processing(dossier: Dossier, staff: Any) -> Dossier:
    dossier = services.dossier_receive(dossier=dossier, actor=staff.receiving, now=at(15, 10, 30))
    return services.dossier_start_processing(
        dossier=dossier, actor=staff.processing, now=at(15, 10, 45)
    )


# --- supplements pause the clock -----------------------------------------------------------


def test_supplement_pauses_and_resumes_the_clock(
    procedure: Any, applicant: Any, staff: Any
) -> None:
    dossier = processing(submit(procedure=procedure, applicant=applicant), staff)
    assert dossier.due_at == at(18, 10)
    dossier = services.dossier_request_supplement(
        dossier=dossier,
        actor=staff.processing,
        missing=[{"name": "Giấy chứng sinh bản chính", "note": "Bản chụp bị mờ"}],
        note="Vui lòng bổ sung",
        now=at(15, 14),  # 3 working hours used: 10-12 and 13-14
    )
    assert dossier.status == Status.SUPPLEMENT_REQUESTED
    assert dossier.resume_status == Status.PROCESSING and dossier.due_at is None
    form = selectors.dossier_document(dossier, Document.Kind.SUPPLEMENT_REQUEST)
    assert form is not None and form.reference == dossier.code
    assert Notification.objects.filter(user=applicant, title__contains="đề nghị bổ sung").exists()

    # Nothing to add is refused; the applicant alone may supplement.
    with pytest.raises(ValidationFailed) as error:
        services.dossier_supplement(dossier=dossier, actor=applicant, files={}, now=at(17, 10))
    assert "files" in error.value.fields
    with pytest.raises(PermissionDenied):
        services.dossier_supplement(
            dossier=dossier,
            actor=staff.processing,
            files={"giay-chung-sinh": [upload("b.pdf", pdf_bytes())]},
        )
    dossier = services.dossier_supplement(
        dossier=dossier,
        actor=applicant,
        files={"giay-chung-sinh": [upload("ban-chinh.pdf", pdf_bytes("Bản chính"))]},
        data={"mother_name": "Lê Thị Hoa"},
        note="Đã bổ sung",
        now=at(17, 10),
    )
    assert dossier.status == Status.PROCESSING and dossier.resume_status == ""
    # 21 working hours were left: Wed 10-17 (6), Thu (8), Fri 8-12 and 13-16 (7).
    assert dossier.due_at == at(19, 16)
    assert dossier.appointment_at == dossier.due_at
    assert dossier.data["mother_name"] == "Lê Thị Hoa"
    assert DossierFile.objects.filter(dossier=dossier, round=1).count() == 1
    assert Notification.objects.filter(user=staff.processing).exists()  # the holder is told


def test_a_supplement_before_reception_returns_to_submitted(
    procedure: Any, applicant: Any, staff: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    dossier = services.dossier_request_supplement(
        dossier=dossier,
        actor=staff.receiving,
        missing=[{"name": "Tờ khai", "note": ""}],
        now=at(15, 11),
    )
    dossier = services.dossier_supplement(
        dossier=dossier,
        actor=applicant,
        files={"to-khai": [upload("t.pdf", pdf_bytes())]},
        now=at(15, 11, 30),
    )
    assert dossier.status == Status.SUBMITTED


def test_a_supplement_request_needs_the_missing_items(
    procedure: Any, applicant: Any, staff: Any
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    with pytest.raises(ValidationFailed) as error:
        services.dossier_request_supplement(dossier=dossier, actor=staff.receiving, missing=[])
    assert "missing" in error.value.fields
    assert Dossier.objects.get(pk=dossier.pk).status == Status.SUBMITTED


# --- lateness, apology, settlement ---------------------------------------------------------


def test_late_dossier_gets_an_apology_and_settles_late(
    procedure: Any, applicant: Any, staff: Any, signing: Any
) -> None:
    dossier = processing(submit(procedure=procedure, applicant=applicant), staff)
    with pytest.raises(ValidationFailed) as error:
        services.dossier_apologise(
            dossier=dossier,
            actor=staff.approver,
            new_appointment=at(17, 9),  # earlier than the current appointment
            reason="Chờ xác minh",
            now=at(17, 8),
        )
    assert "new_appointment" in error.value.fields
    dossier = services.dossier_apologise(
        dossier=dossier,
        actor=staff.approver,
        new_appointment=at(22, 10),
        reason="Chờ kết quả xác minh của cơ quan khác",
        now=at(17, 16),
    )
    assert dossier.appointment_at == at(22, 10) and dossier.apologised_at == at(17, 16)
    assert dossier.due_at == at(18, 10)  # the legal deadline does not move
    apology = selectors.dossier_document(dossier, Document.Kind.APOLOGY)
    assert apology is not None
    assert Notification.objects.filter(user=applicant, title__contains="hẹn lại ngày trả").exists()

    dossier = services.dossier_forward(dossier=dossier, actor=staff.processing, now=at(19, 9))
    dossier = services.dossier_approve(dossier=dossier, actor=staff.approver, now=at(19, 10))
    dossier = services.dossier_sign_result(dossier=dossier, actor=staff.approver, now=at(19, 11))
    assert dossier.status == Status.SIGNED and dossier.on_time is False


def test_refusal_at_reception(procedure: Any, applicant: Any, staff: Any) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    with pytest.raises(ValidationFailed):
        services.dossier_refuse(dossier=dossier, actor=staff.receiving, reasons=["  "])
    dossier = services.dossier_refuse(
        dossier=dossier,
        actor=staff.receiving,
        reasons=["Không thuộc thẩm quyền", "Thiếu giấy tờ"],
        now=at(15, 11),
    )
    assert dossier.status == Status.REFUSED
    assert dossier.settled_at == at(15, 11) and dossier.on_time is True
    assert selectors.dossier_document(dossier, Document.Kind.REFUSAL) is not None
    event = DossierEvent.objects.get(dossier=dossier, action="refuse")
    assert event.data["reasons"] == ["Không thuộc thẩm quyền", "Thiếu giấy tờ"]
    assert Notification.objects.filter(user=applicant, title__contains="từ chối tiếp nhận").exists()
    # A processing officer may not refuse (the desk does).
    other = submit(procedure=procedure, applicant=applicant)
    with pytest.raises(PermissionDenied):
        services.dossier_refuse(dossier=other, actor=staff.processing, reasons=["x"])


def test_rejection_is_settled_and_returned(procedure: Any, applicant: Any, staff: Any) -> None:
    dossier = processing(submit(procedure=procedure, applicant=applicant), staff)
    dossier = services.dossier_forward(dossier=dossier, actor=staff.processing, now=at(16, 9))
    with pytest.raises(PermissionDenied):
        services.dossier_reject(dossier=dossier, actor=staff.processing, reasons=["Sai"])
    dossier = services.dossier_reject(
        dossier=dossier, actor=staff.approver, reasons=["Thông tin không đúng"], now=at(16, 10)
    )
    assert dossier.status == Status.REJECTED and dossier.on_time is True
    assert Notification.objects.filter(
        user=applicant, title__contains="không được giải quyết"
    ).exists()
    dossier = services.dossier_return_result(
        dossier=dossier, actor=staff.receiving, delivery="counter", now=at(16, 15)
    )
    assert dossier.status == Status.RETURNED and dossier.delivery == "counter"


def test_hand_off_moves_the_dossier_to_another_agency(
    procedure: Any, applicant: Any, staff: Any, other_agency: Any, make_official: Any
) -> None:
    dossier = processing(submit(procedure=procedure, applicant=applicant), staff)
    with pytest.raises(ValidationFailed):
        services.dossier_hand_off(
            dossier=dossier, actor=staff.processing, to_agency=dossier.agency, note=""
        )
    dossier = services.dossier_hand_off(
        dossier=dossier, actor=staff.processing, to_agency=other_agency, note="Liên thông"
    )
    assert dossier.agency == other_agency and dossier.receiving_agency.code == "HN-00070"
    event = DossierEvent.objects.get(dossier=dossier, action="hand_off")
    assert event.data["from_agency"] == "HN-00070"
    assert event.data["to_agency"] == other_agency.code
    # The sending officer no longer acts on it; the other agency's officer does.
    with pytest.raises(PermissionDenied):
        services.dossier_forward(dossier=dossier, actor=staff.processing)
    theirs = make_official("processing_officer", other_agency)
    dossier = services.dossier_forward(dossier=dossier, actor=theirs)
    assert dossier.step == 2


# --- the counter and drafts ----------------------------------------------------------------


def test_intake_at_the_counter_creates_the_citizen_and_receives_at_once(
    procedure: Any, staff: Any, ward_agency: Any
) -> None:
    from thudo.accounts.models import User

    person = {
        "name": "Phạm Văn Cường",
        "personal_id": "001085000123",
        "phone": "0912345678",
        "email": "cuong@example.vn",
        "address": "12 Hàng Bài",
    }
    dossier = services.dossier_intake(
        officer=staff.receiving,
        procedure=procedure,
        applicant=person,
        data={"child_name": "Phạm Minh", "birth_date": "2026-06-01", "sex": "male"},
        files={},
        now=MONDAY_10,
    )
    assert dossier.status == Status.RECEIVED and dossier.channel == Channel.COUNTER
    assert dossier.code == "HN-00070-260615-0001" and dossier.holder == staff.receiving
    assert dossier.applicant.personal_id == "001085000123"
    assert dossier.applicant_address == "12 Hàng Bài" and not dossier.digitised
    assert [e.action for e in dossier.events.order_by("pk")] == ["submit", "receive"]
    # The same person again: the account is reused.
    again = services.dossier_intake(
        officer=staff.receiving,
        procedure=procedure,
        applicant=person,
        data={"child_name": "Phạm An", "birth_date": "2026-06-02", "sex": "male"},
        files={"giay-chung-sinh": [upload("cs.pdf", pdf_bytes())]},
        now=MONDAY_10,
    )
    assert again.applicant == dossier.applicant and again.digitised
    assert User.objects.filter(personal_id="001085000123").count() == 1
    # Only receiving officers take dossiers at the counter; bad details are reported.
    with pytest.raises(PermissionDenied):
        services.dossier_intake(
            officer=staff.processing, procedure=procedure, applicant=person, data={}, files={}
        )
    with pytest.raises(ValidationFailed) as error:
        services.dossier_intake(
            officer=staff.receiving,
            procedure=procedure,
            applicant={"name": "", "personal_id": "12"},
            data={},
            files={},
        )
    assert {"applicant.name", "applicant.personal_id", "child_name"} <= set(error.value.fields)


def test_drafts_are_saved_then_submitted(
    procedure: Any, applicant: Any, other_citizen: Any
) -> None:
    draft = services.dossier_draft_save(
        procedure=procedure, applicant=applicant, data={"child_name": "Nguyễn"}
    )
    assert draft.status == Status.DRAFT and draft.code is None
    draft = services.dossier_draft_save(
        procedure=procedure,
        applicant=applicant,
        data={"child_name": "Nguyễn Minh Anh"},
        dossier=draft,
    )
    assert draft.data == {"child_name": "Nguyễn Minh Anh"}
    with pytest.raises(PermissionDenied):
        services.dossier_draft_save(
            procedure=procedure, applicant=other_citizen, data={}, dossier=draft
        )
    dossier = submit(procedure=procedure, applicant=applicant, draft=draft)
    assert dossier.pk == draft.pk and dossier.status == Status.SUBMITTED and dossier.code
    with pytest.raises(InvalidTransition):
        services.dossier_draft_save(
            procedure=procedure, applicant=applicant, data={}, dossier=dossier
        )


def test_department_procedures_go_to_the_department(
    applicant: Any, make_agency: Any, make_official: Any
) -> None:
    department = make_agency("HN-STP", kind="department", name="Sở Tư pháp")
    proc = make_procedure(
        code="2.000908",
        name="Cấp phiếu lý lịch tư pháp",
        agency_kind="department",
        department_code="HN-STP",
        deadline_days="10.0",
    )
    dossier = submit(procedure=proc, applicant=applicant)
    assert dossier.receiving_agency == department
    assert dossier.code.startswith("HN-STP-260615-")
    assert dossier.due_at == datetime(2026, 6, 29, 10, 0, tzinfo=HCM)


def test_cutoff_counts_a_late_submission_from_the_next_working_day(
    applicant: Any, ward_agency: Any
) -> None:
    from datetime import time

    proc = make_procedure(code="1.000001", cutoff=time(15, 0), deadline_days="1.0")
    dossier = submit(procedure=proc, applicant=applicant, now=at(19, 15, 30))  # Friday
    assert dossier.code.endswith("260619-0001")
    assert dossier.received_at == at(22, 8)  # Monday morning
    assert dossier.due_at == at(22, 17)


# --- what is refused -----------------------------------------------------------------------


def _calls(other_agency: Any, applicant: Any) -> dict[str, Any]:
    files = {"to-khai": [upload("t.pdf", pdf_bytes())]}
    later = datetime(2030, 1, 1, 10, 0, tzinfo=HCM)
    return {
        "receive": lambda d, u: services.dossier_receive(dossier=d, actor=u),
        "refuse": lambda d, u: services.dossier_refuse(dossier=d, actor=u, reasons=["x"]),
        "request_supplement": lambda d, u: services.dossier_request_supplement(
            dossier=d, actor=u, missing=[{"name": "x", "note": ""}]
        ),
        "supplement": lambda d, u: services.dossier_supplement(
            dossier=d, actor=applicant, files=files
        ),
        "start_processing": lambda d, u: services.dossier_start_processing(dossier=d, actor=u),
        "forward": lambda d, u: services.dossier_forward(dossier=d, actor=u),
        "hand_off": lambda d, u: services.dossier_hand_off(
            dossier=d, actor=u, to_agency=other_agency, note=""
        ),
        "approve": lambda d, u: services.dossier_approve(dossier=d, actor=u),
        "reject": lambda d, u: services.dossier_reject(dossier=d, actor=u, reasons=["x"]),
        "sign_result": lambda d, u: services.dossier_sign_result(dossier=d, actor=u),
        "return_result": lambda d, u: services.dossier_return_result(dossier=d, actor=u),
        "apologise": lambda d, u: services.dossier_apologise(
            dossier=d, actor=u, new_appointment=later, reason="x"
        ),
        "close": lambda d, u: services.dossier_close(dossier=d, actor=u),
    }


def _snapshot(dossier: Dossier) -> tuple[Any, ...]:
    from thudo.documents.models import Document as Doc

    row = Dossier.objects.values().get(pk=dossier.pk)
    return (
        row,
        DossierEvent.objects.count(),
        AuditEvent.objects.count(),
        Notification.objects.count(),
        Doc.objects.count(),
        DossierFile.objects.count(),
    )


def test_every_forbidden_transition_is_409_and_writes_nothing(
    procedure: Any, applicant: Any, other_agency: Any, django_user_model: Any
) -> None:
    root = django_user_model.objects.create_superuser("root", "root@example.vn", "pw-123456")
    dossier = submit(procedure=procedure, applicant=applicant)
    calls = _calls(other_agency, applicant)
    assert set(calls) == set(TRANSITIONS) - {"submit"}
    checked = 0
    for status in Status.values:
        Dossier.objects.filter(pk=dossier.pk).update(status=status, step=1)
        allowed = {t.action for t in actions_from(status)}
        for action, call in calls.items():
            if action in allowed:
                continue
            before = _snapshot(dossier)
            with pytest.raises(InvalidTransition) as error:
                call(Dossier.objects.get(pk=dossier.pk), root)
            assert error.value.status == 409 and error.value.code == "invalid_transition"
            assert _snapshot(dossier) == before, (status, action)
            checked += 1
    assert checked > 80


def test_another_agency_and_another_citizen_cannot_see_or_act(
    procedure: Any,
    applicant: Any,
    staff: Any,
    other_agency: Any,
    other_citizen: Any,
    make_official: Any,
) -> None:
    dossier = submit(procedure=procedure, applicant=applicant)
    outsider = make_official("receiving_officer", other_agency)
    outsider_approver = make_official("approver", other_agency)
    for user in (outsider, other_citizen):
        assert not selectors.dossiers_visible_to(user).filter(pk=dossier.pk).exists()
        with pytest.raises(NotFound):
            selectors.dossier_for(user, public_id=dossier.public_id)
        with pytest.raises(NotFound):
            selectors.dossier_for(user, code=dossier.code)
        assert selectors.dossier_actions(user, dossier) == []
    before = _snapshot(dossier)
    with pytest.raises(PermissionDenied):
        services.dossier_receive(dossier=dossier, actor=outsider)
    with pytest.raises(PermissionDenied):
        services.dossier_refuse(dossier=dossier, actor=outsider, reasons=["x"])
    with pytest.raises(PermissionDenied):
        services.dossier_request_supplement(
            dossier=dossier, actor=outsider, missing=[{"name": "x", "note": ""}]
        )
    with pytest.raises(PermissionDenied):
        services.dossier_apologise(
            dossier=dossier,
            actor=outsider_approver,
            new_appointment=datetime(2030, 1, 1, tzinfo=HCM),
            reason="x",
        )
    with pytest.raises(PermissionDenied):
        services.dossier_receive(dossier=dossier, actor=other_citizen)
    with pytest.raises(PermissionDenied):
        services.dossier_control_slip(dossier=dossier, actor=outsider)
    assert _snapshot(dossier) == before
    # The ward's own staff see it and may act as their roles allow.
    assert selectors.dossier_for(staff.receiving, code=dossier.code) == dossier
    assert {t.action for t in selectors.dossier_actions(staff.receiving, dossier)} == {
        "receive",
        "refuse",
        "request_supplement",
        "apologise",
    }
    assert selectors.dossier_actions(staff.processing, dossier) == []
    assert selectors.dossier_actions(applicant, dossier) == []


def test_rating_only_by_the_applicant_after_return_and_once(
    procedure: Any, applicant: Any, staff: Any
) -> None:
    dossier = processing(submit(procedure=procedure, applicant=applicant), staff)
    scores: dict[str, Any] = {"attitude": 5, "timeliness": 5, "contacts": 4, "clarity": 5}
    with pytest.raises(InvalidTransition):  # not returned yet
        services.dossier_rate(dossier=dossier, applicant=applicant, **scores)
    dossier = services.dossier_forward(dossier=dossier, actor=staff.processing)
    dossier = services.dossier_reject(dossier=dossier, actor=staff.approver, reasons=["x"])
    dossier = services.dossier_return_result(dossier=dossier, actor=staff.receiving)
    with pytest.raises(ValidationFailed) as error:
        services.dossier_rate(dossier=dossier, applicant=applicant, **{**scores, "clarity": 6})
    assert set(error.value.fields) == {"clarity"}
    with pytest.raises(PermissionDenied):
        services.dossier_rate(dossier=dossier, applicant=staff.receiving, **scores)
    services.dossier_rate(dossier=dossier, applicant=applicant, **scores)
    with pytest.raises(InvalidTransition) as again:
        services.dossier_rate(dossier=dossier, applicant=applicant, **scores)
    assert again.value.code == "already_rated"


# --- reminders -----------------------------------------------------------------------------


def test_reminders_before_the_deadline_and_escalation_after_it(
    procedure: Any, applicant: Any, staff: Any, settings: Any
) -> None:
    settings.DOSSIER_REMIND_AT_SHARE = 0.2
    held = processing(submit(procedure=procedure, applicant=applicant), staff)  # due Thu 10:00
    queued = submit(procedure=procedure, applicant=applicant)  # nobody holds it yet
    # Wednesday 14:00: 5 of 24 working hours left (21%): not yet.
    assert services.dossiers_remind(now=at(17, 14)) == {"reminded": 0, "escalated": 0}
    # Wednesday 15:00: 4 of 24 working hours left (17%) -> reminded, once.
    result = services.dossiers_remind(now=at(17, 15))
    assert result == {"reminded": 2, "escalated": 0}
    assert (
        Notification.objects.filter(user=staff.processing, title__contains="sắp đến hạn").count()
        == 1
    )
    assert (
        Notification.objects.filter(user=staff.receiving, title__contains="sắp đến hạn").count()
        == 1
    )
    assert services.dossiers_remind(now=at(17, 16)) == {"reminded": 0, "escalated": 0}
    # Thursday 11:00: overdue -> escalated to the approver, once.
    assert services.dossiers_remind(now=at(18, 11)) == {"reminded": 0, "escalated": 2}
    assert (
        Notification.objects.filter(user=staff.approver, title__contains="đã quá hạn").count() == 2
    )
    assert services.dossiers_remind(now=at(18, 12)) == {"reminded": 0, "escalated": 0}
    assert DossierEvent.objects.filter(action="escalate").count() == 2
    assert Dossier.objects.get(pk=held.pk).escalated_at == at(18, 11)
    assert Dossier.objects.get(pk=queued.pk).reminded_at == at(17, 15)


def test_the_periodic_job_is_registered() -> None:
    from thudo.core.registry import registry

    jobs = {job.task: job for m in registry.manifests() for job in m.periodic}
    assert jobs["thudo.dossiers.tasks.remind"].every == timedelta(minutes=15)
