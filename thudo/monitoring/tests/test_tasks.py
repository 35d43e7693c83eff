"""Tasks: completing and updating them; the daily reminders and escalations (each once); the
background jobs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from thudo.accounts.roles import Role
from thudo.core.errors import InvalidTransition, PermissionDenied
from thudo.core.models import AuditEvent
from thudo.monitoring import services, sources, tasks
from thudo.monitoring.models import Reminder, ReportedValue, Snapshot, Task
from thudo.monitoring.tests import factories
from thudo.monitoring.tests.factories import make_period, make_task
from thudo.notifications.models import Notification

pytestmark = pytest.mark.django_db
# The fixtures (pytest finds them by name in this module).
mon = factories.mon
media_root = factories.media_root


def _titles(user: Any) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("title", flat=True))


# --- tasks -------------------------------------------------------------------------------------


def test_the_agency_completes_its_task(mon: Any) -> None:
    task = make_task(mon.online, agency=mon.dept, due=mon.today + timedelta(days=10))
    done = services.task_complete(user=mon.reporter, task=task, note=" Đã triển khai ")
    assert done.state == Task.State.DONE
    assert done.done_at is not None
    assert done.note == "Đã triển khai"
    task.refresh_from_db()
    assert task.state == Task.State.DONE
    assert AuditEvent.objects.filter(action="monitoring.task_complete", to_state="done").exists()
    with pytest.raises(InvalidTransition):
        services.task_complete(user=mon.reporter, task=task)


def test_the_person_in_charge_and_the_office_complete_too(mon: Any, make_official: Any) -> None:
    owner = make_official(Role.PROCESSING_OFFICER, mon.dept, username="phutrach")
    mine = make_task(mon.online, agency=mon.dept, due=mon.today, owner=owner)
    assert services.task_complete(user=owner, task=mine).state == Task.State.DONE
    other = make_task(mon.online, agency=mon.other, due=mon.today)
    assert services.task_complete(user=mon.office, task=other).state == Task.State.DONE


@pytest.mark.parametrize("who", ["other_reporter", "outsider", "leader"])
def test_others_do_not_complete_the_task(mon: Any, who: str) -> None:
    task = make_task(mon.online, agency=mon.dept, due=mon.today)
    with pytest.raises(PermissionDenied):
        services.task_complete(user=getattr(mon, who), task=task)
    task.refresh_from_db()
    assert task.state == Task.State.OPEN


def test_task_update(mon: Any) -> None:
    task = make_task(mon.online, agency=mon.dept, due=mon.today + timedelta(days=3))
    updated = services.task_update(user=mon.reporter, task=task, note="Đang đấu thầu")
    assert updated.note == "Đang đấu thầu"
    # The agency may not move its own deadline, nor change the person in charge.
    with pytest.raises(PermissionDenied):
        services.task_update(user=mon.reporter, task=task, due=mon.today + timedelta(days=60))
    with pytest.raises(PermissionDenied):
        services.task_update(user=mon.reporter, task=task, owner=mon.reporter)
    with pytest.raises(PermissionDenied):
        services.task_update(user=mon.other_reporter, task=task, note="x")
    # The office moves it; the reminders of the new deadline will be sent again.
    Task.objects.filter(pk=task.pk).update(reminded_at=timezone.now())
    new_due = mon.today + timedelta(days=60)
    moved = services.task_update(user=mon.office, task=task, due=new_due, owner=mon.reporter)
    assert (moved.due, moved.owner, moved.reminded_at) == (new_due, mon.reporter, None)
    event = AuditEvent.objects.filter(action="monitoring.task_update").order_by("pk").last()
    assert event is not None
    assert event.data["due"] == [(mon.today + timedelta(days=3)).isoformat(), new_due.isoformat()]


# --- reminders ---------------------------------------------------------------------------------


def test_task_coming_due_reminds_the_agencys_monitoring_officers_once(mon: Any) -> None:
    task = make_task(mon.online, agency=mon.dept, due=mon.today + timedelta(days=7), title="Cổng")
    make_task(mon.online, agency=mon.dept, due=mon.today + timedelta(days=8), title="Sau")
    sent = services.reminders_send()
    assert sent == 2  # this task, and the report of the previous period (due today)
    titles = _titles(mon.reporter)
    assert any("Cổng" in t for t in titles)
    assert not any("Sau" in t for t in titles)
    assert _titles(mon.leader) == []
    task.refresh_from_db()
    assert task.reminded_at is not None
    assert Reminder.objects.filter(key=f"task:{task.pk}:remind:{task.due.isoformat()}").exists()
    assert services.reminders_send() == 0
    assert len(_titles(mon.reporter)) == 2


def test_overdue_task_is_escalated_to_the_agencys_leaders_once(mon: Any) -> None:
    task = make_task(mon.online, agency=mon.dept, due=mon.today - timedelta(days=1), title="Trễ")
    done = make_task(mon.online, agency=mon.dept, due=mon.today - timedelta(days=1), title="Xong")
    services.task_complete(user=mon.reporter, task=done)
    services.reminders_send()
    assert [t for t in _titles(mon.leader) if "Trễ" in t]
    assert not [t for t in _titles(mon.leader) if "Xong" in t]
    task.refresh_from_db()
    assert task.escalated_at is not None
    before = Notification.objects.count()
    services.reminders_send()
    assert Notification.objects.count() == before


def test_fallbacks_approvers_then_the_parents_leaders(
    mon: Any, make_agency: Any, make_official: Any
) -> None:
    bare = make_agency("HN-SXD", kind="department", parent=mon.city, name="Sở Xây dựng")
    boss = make_official(Role.APPROVER, bare, username="giamdocxd")
    make_task(mon.online, agency=bare, due=mon.today + timedelta(days=2), title="Nhắc")
    city_leader = make_official(Role.APPROVER, mon.city, username="chutich")
    lonely = make_agency("HN-SYT", kind="department", parent=mon.city, name="Sở Y tế")
    make_task(mon.online, agency=lonely, due=mon.today - timedelta(days=2), title="Quá hạn")
    services.reminders_send()
    # No monitoring officer: the agency's approvers are reminded.
    assert any("Nhắc" in t for t in _titles(boss))
    # No leader: the parent agency's leaders get the escalation.
    assert any("Quá hạn" in t for t in _titles(city_leader))


def test_reports_due_soon_are_reminded_and_past_due_escalated(mon: Any) -> None:
    assert services.reminders_send() == 1  # the previous period is due today
    [title] = _titles(mon.reporter)
    assert mon.broadband_ind.name in title
    assert Reminder.objects.filter(
        key=f"report:{mon.broadband_ind.pk}:{mon.previous.pk}:remind"
    ).exists()
    # Three days later nothing was reported: the leaders are told, once.
    later = mon.today + timedelta(days=3)
    assert services.reminders_send(today=later) == 1
    assert [t for t in _titles(mon.leader) if mon.broadband_ind.name in t]
    assert services.reminders_send(today=later) == 0


def test_no_reminder_once_reported_or_closed(mon: Any) -> None:
    ReportedValue.objects.create(
        indicator=mon.broadband_ind,
        period=mon.previous,
        value=Decimal(1),
        submitted_by=mon.reporter,
    )
    assert services.reminders_send() == 0
    # A period past its grace days (closed for reporting) is not escalated any more.
    old = make_period(
        mon.programme,
        start=mon.previous.start - timedelta(days=92),
        end=mon.previous.start - timedelta(days=1),
        due=mon.today - timedelta(days=40),
    )
    assert services.reminders_send() == 0
    assert not Reminder.objects.filter(key__contains=f":{old.pk}:").exists()


# --- background jobs ---------------------------------------------------------------------------


def test_jobs_call_the_services(mon: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "source_value", lambda code, *, at: Decimal("42"))
    assert tasks.take_snapshots() == 2
    assert Snapshot.objects.get(indicator=mon.online_ind).value == Decimal("42.00")
    assert tasks.send_reminders() == 1
    assert tasks.take_snapshots.name == "thudo.monitoring.tasks.take_snapshots"
    assert tasks.send_reminders.name == "thudo.monitoring.tasks.send_reminders"


def test_a_reminder_nobody_could_receive_goes_out_once_someone_holds_the_role(
    mon: Any, make_agency: Any, make_official: Any
) -> None:
    from thudo.accounts.roles import Role

    lonely = make_agency("HN-LONELY", kind="department", parent=mon.dept.parent)
    task = make_task(mon.online, agency=lonely, due=mon.today + timedelta(days=2), title="Lẻ")
    services.reminders_send()
    key = f"task:{task.pk}:remind:{task.due.isoformat()}"
    assert not Reminder.objects.filter(key=key).exists()  # nobody to tell: not marked sent
    officer = make_official(Role.MONITORING_OFFICER, lonely, username="giamsat.le")
    services.reminders_send()
    assert Reminder.objects.filter(key=key).exists()
    assert any("Lẻ" in t for t in _titles(officer))
