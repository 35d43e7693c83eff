"""The monitoring services: snapshots and evaluation, reported values and their review, DTI."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.monitoring import services, sources
from thudo.monitoring.models import (
    DtiComponent,
    Indicator,
    ReportedValue,
    Snapshot,
    Status,
    Target,
)
from thudo.monitoring.tests import factories
from thudo.monitoring.tests.factories import (
    approved,
    evidence,
    jpeg_bytes,
    make_period,
    make_programme,
    pdf_bytes,
    png_bytes,
    snap,
    stored_files,
    upload,
    xlsx_bytes,
    zip_bytes,
)
from thudo.notifications.models import Notification

pytestmark = pytest.mark.django_db
# The fixtures (pytest finds them by name in this module).
mon = factories.mon
media_root = factories.media_root
D = Decimal


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Computed indicators read `values[code]` (a number, a function of the moment, or None);
    the moments asked for are recorded."""
    state: dict[str, Any] = {"values": {}, "asked": []}

    def fake(code: str, *, at: datetime) -> Decimal | None:
        state["asked"].append((code, at))
        value = state["values"].get(code)
        if callable(value):
            value = value(at)
        return None if value is None else D(str(value)).quantize(D("0.01"))

    monkeypatch.setattr(sources, "source_value", fake)
    return state


# --- snapshots ---------------------------------------------------------------------------------


def test_snapshot_of_today_for_every_indicator_and_idempotent(mon: Any, source: Any) -> None:
    source["values"]["dossiers.online_rate"] = 55.5
    assert services.snapshots_take() == 2
    assert Snapshot.objects.count() == 2
    online = Snapshot.objects.get(indicator=mon.online_ind, date=mon.today)
    assert online.value == D("55.50")
    # Taken again the same day: replaced, not added.
    source["values"]["dossiers.online_rate"] = 56
    assert services.snapshots_take() == 2
    assert Snapshot.objects.count() == 2
    online.refresh_from_db()
    assert online.value == D("56.00")


def test_no_data_stays_none_and_the_target_has_no_data(mon: Any, source: Any) -> None:
    services.snapshots_take()
    snapshot = Snapshot.objects.get(indicator=mon.online_ind, date=mon.today)
    assert snapshot.value is None
    assert snapshot.status == Status.NO_DATA
    mon.online.refresh_from_db()
    assert mon.online.status == Status.NO_DATA
    assert mon.online.current_value is None
    assert mon.online.evaluated_at is not None


def test_reported_value_is_the_latest_approved_whose_period_ended(mon: Any, source: Any) -> None:
    ind = mon.broadband_ind
    older = make_period(
        mon.programme,
        start=mon.previous.start - timedelta(days=92),
        end=mon.previous.start - timedelta(days=1),
    )
    approved(ind, older, "61", by=mon.reporter)
    approved(ind, mon.previous, "72.5", by=mon.reporter)
    # The current period has not ended: not counted yet; a waiting value never counts.
    approved(ind, mon.current, "99", by=mon.reporter)
    ReportedValue.objects.create(
        indicator=ind, period=mon.previous, value=D("10"), submitted_by=mon.reporter
    )
    services.snapshots_take()
    assert Snapshot.objects.get(indicator=ind, date=mon.today).value == D("72.50")
    # On a day before the previous period ended, the older value.
    day = mon.previous.end - timedelta(days=1)
    services.snapshots_take(day=day)
    assert Snapshot.objects.get(indicator=ind, date=day).value == D("61.00")


def test_reported_indicator_without_approved_values_has_no_data(mon: Any, source: Any) -> None:
    services.snapshots_take()
    assert Snapshot.objects.get(indicator=mon.broadband_ind, date=mon.today).value is None


def test_targets_are_evaluated_from_the_trend(mon: Any, source: Any) -> None:
    target = mon.online  # 40 → 100 by a year from today
    for days in range(30, 0, -1):
        snap(mon.online_ind, mon.today - timedelta(days=days), 60 + (30 - days) * 0.5)
    # Rising by 0.5 a day: far above 100 at the deadline → on track.
    source["values"]["dossiers.online_rate"] = 75
    services.snapshots_take()
    target.refresh_from_db()
    today_snap = Snapshot.objects.get(indicator=mon.online_ind, date=mon.today)
    assert target.status == today_snap.status == Status.ON_TRACK
    assert target.current_value == D("75.00")
    assert target.forecast_value == today_snap.forecast_value
    assert target.forecast_value is not None and target.forecast_value > 100


def test_a_falling_trend_is_off_track_and_reaching_the_target_achieved(
    mon: Any, source: Any
) -> None:
    for days in range(20, 0, -1):
        snap(mon.online_ind, mon.today - timedelta(days=days), 70 - (20 - days))
    source["values"]["dossiers.online_rate"] = 50
    services.snapshots_take()
    mon.online.refresh_from_db()
    assert mon.online.status == Status.OFF_TRACK
    source["values"]["dossiers.online_rate"] = 100
    services.snapshots_take()
    mon.online.refresh_from_db()
    assert mon.online.status == Status.ACHIEVED


def test_a_past_day_does_not_overwrite_the_targets_latest_evaluation(mon: Any, source: Any) -> None:
    source["values"]["dossiers.online_rate"] = 100
    services.snapshots_take()
    mon.online.refresh_from_db()
    assert mon.online.status == Status.ACHIEVED
    source["values"]["dossiers.online_rate"] = None
    services.snapshots_take(day=mon.today - timedelta(days=3))
    mon.online.refresh_from_db()
    assert mon.online.status == Status.ACHIEVED
    assert Snapshot.objects.get(
        indicator=mon.online_ind, date=mon.today - timedelta(days=3)
    ).status == (Status.NO_DATA)


def test_a_past_days_moment_is_the_end_of_that_day(mon: Any, source: Any) -> None:
    day = mon.today - timedelta(days=10)
    services.snapshots_take(day=day)
    (_code, moment) = source["asked"][0]
    local = timezone.localtime(moment)
    assert local.date() == day
    assert (local.hour, local.minute) == (23, 59)
    with pytest.raises(ValidationFailed) as caught:
        services.snapshots_take(day=mon.today + timedelta(days=1))
    assert "day" in caught.value.fields


def test_backfill_takes_every_day_from_the_history(mon: Any, source: Any) -> None:
    start = mon.today - timedelta(days=20)

    def history(moment: datetime) -> float:
        return 40 + (timezone.localdate(moment) - start).days

    source["values"]["dossiers.online_rate"] = history
    written = services.snapshots_backfill(start=start, end=mon.today)
    assert written == 21 * 2
    values = dict(Snapshot.objects.filter(indicator=mon.online_ind).values_list("date", "value"))
    assert values[start] == D("40.00")
    assert values[mon.today] == D("60.00")
    mon.online.refresh_from_db()
    assert mon.online.current_value == D("60.00")
    assert mon.online.status == Status.ON_TRACK  # +1 a day reaches 100 well before a year
    # Run again: same rows.
    services.snapshots_backfill(start=start, end=mon.today)
    assert Snapshot.objects.count() == 42
    with pytest.raises(ValidationFailed):
        services.snapshots_backfill(start=mon.today, end=start)


def test_sources_are_asked_once_per_code(mon: Any, source: Any) -> None:
    from thudo.monitoring.tests.factories import make_indicator

    make_indicator(
        mon.online, code="second", agency=mon.dept, source="dossiers.online_rate", is_primary=False
    )
    services.snapshots_take()
    assert [code for code, _at in source["asked"]] == ["dossiers.online_rate"]


def test_management_command(mon: Any, source: Any) -> None:
    from io import StringIO

    out = StringIO()
    call_command("monitoring", "snapshot", stdout=out)
    assert "2 snapshots taken" in out.getvalue()
    day = mon.today - timedelta(days=2)
    call_command("monitoring", "snapshot", "--day", day.isoformat(), stdout=out)
    assert Snapshot.objects.filter(date=day).count() == 2
    call_command(
        "monitoring",
        "backfill",
        "--start",
        (mon.today - timedelta(days=4)).isoformat(),
        "--end",
        mon.today.isoformat(),
        stdout=out,
    )
    assert Snapshot.objects.count() == 10
    call_command("monitoring", "remind", stdout=out)
    assert "reminders sent" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("monitoring", "snapshot", "--day", "yesterday")
    with pytest.raises(CommandError):
        call_command("monitoring", "snapshot", "--day", (mon.today + timedelta(days=1)).isoformat())


# --- reported values: submit -------------------------------------------------------------------


def _submit(mon: Any, **kwargs: Any) -> ReportedValue:
    values: dict[str, Any] = {
        "user": mon.reporter,
        "indicator": mon.broadband_ind,
        "period": mon.previous,
        "value": "78.4",
        "unit": "%",
        "evidence": evidence(),
    }
    values.update(kwargs)
    return services.reported_value_submit(**values)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bao-cao.pdf", pdf_bytes()),
        ("anh.jpg", jpeg_bytes()),
        ("anh.png", png_bytes()),
        ("so-lieu.xlsx", xlsx_bytes()),
    ],
)
def test_submit_with_evidence(mon: Any, media_root: Path, name: str, content: bytes) -> None:
    reported = _submit(mon, evidence=upload(name, content), note=" Số liệu quý ")
    assert reported.state == ReportedValue.State.SUBMITTED
    assert reported.value == D("78.40")
    assert reported.note == "Số liệu quý"
    assert reported.evidence_name == name
    assert reported.evidence.name.startswith("monitoring/")
    assert reported.evidence.name.endswith("." + name.rsplit(".", 1)[1].replace("jpg", "jpg"))
    assert len(stored_files(media_root)) == 1
    assert AuditEvent.objects.filter(
        action="monitoring.value_submit", object_id=str(reported.pk)
    ).exists()


def test_unit_is_compared_trimmed_and_case_insensitively(mon: Any) -> None:
    mon.broadband_ind.unit = "Hộ"
    mon.broadband_ind.save()
    assert _submit(mon, unit=" hộ ").pk


def test_evidence_may_be_left_out_when_not_required(mon: Any, media_root: Path) -> None:
    mon.broadband_ind.evidence_required = False
    mon.broadband_ind.save()
    reported = _submit(mon, evidence=None)
    assert not reported.evidence
    assert stored_files(media_root) == []


def test_a_computed_indicator_is_not_reported(mon: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _submit(mon, indicator=mon.online_ind)
    assert set(caught.value.fields) == {"indicator"}


@pytest.mark.parametrize("who", ["other_reporter", "outsider"])
def test_only_the_indicators_agency_reports(mon: Any, who: str) -> None:
    with pytest.raises(PermissionDenied) as caught:
        _submit(mon, user=getattr(mon, who))
    with translation.override("en"):
        assert "not your agency" in str(caught.value.message)


def _refused(mon: Any, media_root: Path, **kwargs: Any) -> dict[str, Any]:
    """The submission is refused; no row, no file is added."""
    rows, files = ReportedValue.objects.count(), stored_files(media_root)
    with pytest.raises(ValidationFailed) as caught:
        _submit(mon, **kwargs)
    assert ReportedValue.objects.count() == rows
    assert stored_files(media_root) == files
    return caught.value.fields


def test_period_of_another_frequency_or_programme(mon: Any, media_root: Path) -> None:
    monthly = make_period(
        mon.programme,
        start=mon.previous.start,
        end=mon.previous.start + timedelta(days=27),
        frequency=Indicator.Frequency.MONTHLY,
    )
    assert set(_refused(mon, media_root, period=monthly)) == {"period"}
    other = make_programme(agency=mon.city, code="kh239", parent=mon.programme)
    foreign = make_period(other, start=mon.previous.start, end=mon.previous.end)
    assert set(_refused(mon, media_root, period=foreign)) == {"period"}


def test_closed_or_late_periods(mon: Any, media_root: Path) -> None:
    mon.previous.closed_at = timezone.now()
    mon.previous.save()
    assert set(_refused(mon, media_root)) == {"period"}
    mon.previous.closed_at = None
    mon.previous.due = mon.today - timedelta(days=15)
    mon.previous.save()
    assert _submit(mon).pk  # the last day of grace
    ReportedValue.objects.all().delete()
    mon.previous.due = mon.today - timedelta(days=16)
    mon.previous.save()
    assert set(_refused(mon, media_root)) == {"period"}


def test_a_period_not_started(mon: Any, media_root: Path) -> None:
    later = make_period(
        mon.programme,
        start=mon.current.end + timedelta(days=1),
        end=mon.current.end + timedelta(days=90),
    )
    assert set(_refused(mon, media_root, period=later)) == {"period"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"unit": "điểm"}, "unit"),
        ({"unit": ""}, "unit"),
        ({"value": "abc"}, "value"),
        ({"value": None}, "value"),
        ({"value": "NaN"}, "value"),
        ({"value": "-0.01"}, "value"),
        ({"value": "100.01"}, "value"),
        ({"value": "1e20"}, "value"),
        ({"evidence": None}, "evidence"),
        ({"evidence": upload("x.pdf", b"")}, "evidence"),
        ({"evidence": upload("x.pdf", b"plain text, not a pdf")}, "evidence"),
        ({"evidence": upload("x.pdf", b"%PDF-1.7\n garbage")}, "evidence"),
        ({"evidence": upload("x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)}, "evidence"),
        ({"evidence": upload("x.xlsx", zip_bytes())}, "evidence"),
        ({"evidence": upload("x.xlsx", b"PK\x03\x04 truncated")}, "evidence"),
    ],
)
def test_bad_input_is_refused_with_the_field(
    mon: Any,
    media_root: Path,
    kwargs: dict[str, Any],
    field: str,
) -> None:
    assert set(_refused(mon, media_root, **kwargs)) == {field}


def test_value_accepts_a_comma_and_decimal_types(mon: Any) -> None:
    assert _submit(mon, value="78,45").value == D("78.45")
    ReportedValue.objects.all().delete()
    assert _submit(mon, value=D("80")).value == D("80.00")


def test_too_large_evidence(mon: Any, media_root: Path, settings: Any) -> None:
    settings.MONITORING_MAX_EVIDENCE_BYTES = 1000
    fields = _refused(mon, media_root, evidence=upload("big.png", png_bytes((400, 400))))
    assert "1000" not in str(fields["evidence"])  # said in MB
    assert "MB" in str(fields["evidence"])


def test_every_bad_field_is_named_at_once(mon: Any, media_root: Path) -> None:
    fields = _refused(mon, media_root, value="200", unit="kg", evidence=None)
    assert set(fields) == {"value", "unit", "evidence"}


def test_one_waiting_value_per_period_and_again_after_a_rejection(
    mon: Any,
    media_root: Path,
) -> None:
    first = _submit(mon)
    with pytest.raises(ValidationFailed) as caught:
        _submit(mon)
    assert set(caught.value.fields) == {"period"}
    assert ReportedValue.objects.count() == 1
    assert len(stored_files(media_root)) == 1  # the refused one's file was removed
    services.reported_value_reject(user=mon.office, reported=first, note="Thiếu biên bản")
    second = _submit(mon, value="79")
    assert second.pk != first.pk


def test_the_file_is_removed_when_the_transaction_fails(
    mon: Any,
    media_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(**_kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_record", broken)
    with pytest.raises(RuntimeError):
        _submit(mon)
    assert ReportedValue.objects.count() == 0
    assert stored_files(media_root) == []


# --- reported values: review -------------------------------------------------------------------


def test_approval_notifies_and_refreshes_todays_snapshot(mon: Any, source: Any) -> None:
    reported = _submit(mon, value="81")
    services.snapshots_take()
    assert Snapshot.objects.get(indicator=mon.broadband_ind, date=mon.today).value is None
    done = services.reported_value_approve(user=mon.office, reported=reported, note="Đạt")
    assert done.state == ReportedValue.State.APPROVED
    assert (done.reviewed_by, done.review_note) == (mon.office, "Đạt")
    assert done.reviewed_at is not None
    reported.refresh_from_db()
    assert reported.state == ReportedValue.State.APPROVED
    note = Notification.objects.get(user=mon.reporter)
    assert mon.broadband_ind.name in note.title
    snapshot = Snapshot.objects.get(indicator=mon.broadband_ind, date=mon.today)
    assert snapshot.value == D("81.00")
    mon.broadband.refresh_from_db()
    assert (mon.broadband.status, mon.broadband.current_value) == (Status.ACHIEVED, D("81.00"))
    assert AuditEvent.objects.filter(
        action="monitoring.value_approve", to_state="approved"
    ).exists()
    with pytest.raises(InvalidTransition):
        services.reported_value_approve(user=mon.office2, reported=reported)


def test_rejection_needs_a_note_and_notifies(mon: Any) -> None:
    reported = _submit(mon)
    with pytest.raises(ValidationFailed) as caught:
        services.reported_value_reject(user=mon.office, reported=reported, note="  ")
    assert set(caught.value.fields) == {"note"}
    done = services.reported_value_reject(
        user=mon.office, reported=reported, note="Số liệu không khớp biên bản"
    )
    assert done.state == ReportedValue.State.REJECTED
    assert done.review_note == "Số liệu không khớp biên bản"
    note = Notification.objects.get(user=mon.reporter)
    assert "Số liệu không khớp biên bản" in note.body
    with pytest.raises(InvalidTransition):
        services.reported_value_reject(user=mon.office, reported=reported, note="again")


def test_only_the_monitoring_office_reviews_and_never_its_own(mon: Any) -> None:
    reported = _submit(mon)
    for user in (mon.reporter, mon.leader, mon.other_reporter):
        with pytest.raises(PermissionDenied):
            services.reported_value_approve(user=user, reported=reported)
        with pytest.raises(PermissionDenied):
            services.reported_value_reject(user=user, reported=reported, note="x")
    # The office holds the permission in the department too (the city is above it): it may
    # report, but it may not approve what it submitted.
    ReportedValue.objects.all().delete()
    own = _submit(mon, user=mon.office)
    with pytest.raises(PermissionDenied) as caught:
        services.reported_value_approve(user=mon.office, reported=own)
    with translation.override("en"):
        assert "yourself" in str(caught.value.message)
    assert services.reported_value_approve(user=mon.office2, reported=own).state == "approved"


# --- DTI -----------------------------------------------------------------------------------


def _component(code: str = "ha-tang", **kwargs: Any) -> DtiComponent:
    values: dict[str, Any] = {
        "year": 2026,
        "group": DtiComponent.Group.FOUNDATION,
        "code": code,
        "name": "Hạ tầng số",
        "max_points": D("60"),
    }
    values.update(kwargs)
    return DtiComponent.objects.create(**values)


def test_dti_points_are_entered_by_the_monitoring_office(mon: Any) -> None:
    component = _component()
    done = services.dti_component_set(user=mon.office, component=component, points="45.5")
    assert done.points == D("45.50")
    assert done.entered_by == mon.office
    assert AuditEvent.objects.filter(action="monitoring.dti_set").exists()
    for bad in ("-1", "60.01", "abc", None):
        with pytest.raises(ValidationFailed) as caught:
            services.dti_component_set(user=mon.office, component=component, points=bad)
        assert set(caught.value.fields) == {"points"}
    assert services.dti_component_set(user=mon.office, component=component, points=60).points
    with pytest.raises(PermissionDenied):
        services.dti_component_set(user=mon.reporter, component=component, points=1)


def test_dti_components_from_an_indicator_are_computed(mon: Any, source: Any) -> None:
    linked = _component(
        "dvc",
        year=mon.today.year,
        group=DtiComponent.Group.GOVERNMENT,
        max_points=D("80"),
        indicator=mon.online_ind,
    )
    with pytest.raises(ValidationFailed):
        services.dti_component_set(user=mon.office, component=linked, points=10)
    source["values"]["dossiers.online_rate"] = 75  # 75% of the target 100
    services.snapshots_take()
    linked.refresh_from_db()
    assert linked.points == D("60.00")


def test_target_without_indicator_is_left_alone(mon: Any, source: Any) -> None:
    lonely = Target.objects.create(
        pillar=mon.pillar,
        code="khong-chi-so",
        name="Không chỉ số",
        unit="%",
        target_value=D("1"),
        deadline=date(2030, 1, 1),
        agency=mon.dept,
    )
    services.snapshots_take()
    lonely.refresh_from_db()
    assert lonely.status == Status.NO_DATA
    assert lonely.evaluated_at is None


def test_snapshots_take_a_fixed_number_of_queries(mon: Any, source: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from thudo.monitoring.tests.factories import make_indicator, make_target

    with CaptureQueriesContext(connection) as few:
        services.snapshots_take()
    for n in range(6):
        target = make_target(mon.pillar, code=f"them-{n}", agency=mon.dept)
        make_indicator(target, code=f"them-ind-{n}", agency=mon.dept, kind="reported")
        make_indicator(
            target, code=f"them-src-{n}", agency=mon.dept, source=f"src.{n}", is_primary=False
        )
    with CaptureQueriesContext(connection) as many:
        assert services.snapshots_take() == 14
    assert len(many) == len(few)
    assert Target.objects.filter(evaluated_at__isnull=False).count() == 8
