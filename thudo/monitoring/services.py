"""Every write of the monitoring domain: daily snapshots and the targets' evaluation, reported
values and their review, tasks, reminders, the DTI self-assessment.

Each state change runs in one transaction with its audit row; notifications are recorded in that
transaction and e-mailed after commit (`notifications.services.notify`), in Vietnamese.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from thudo.accounts.models import Agency, User
from thudo.accounts.permissions import agencies_where, can
from thudo.accounts.roles import Perm, Role
from thudo.core.audit import audit_record
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed

from . import selectors, sources, status
from .models import (
    DtiComponent,
    Indicator,
    Programme,
    Reminder,
    ReportedValue,
    ReportingPeriod,
    Snapshot,
    Target,
    Task,
)
from .uploads import MSG_REQUIRED, evidence_delete, evidence_problem, evidence_write

logger = logging.getLogger(__name__)

LANG = "vi"
MAX_ABS_VALUE = Decimal("999999999999.99")  # 14 digits, 2 of them decimals
MAX_NOTE = 4000

MSG_NOT_REPORTED = _("This indicator is computed from the platform's data; it is not reported.")
MSG_NOT_YOUR_AGENCY = _("This is not your agency's indicator.")
MSG_PERIOD_OTHER = _("This period does not belong to the indicator's programme and frequency.")
MSG_PERIOD_CLOSED = _("This period is closed for reporting.")
MSG_PERIOD_NOT_STARTED = _("This period has not started yet.")
MSG_PERIOD_WAITING = _("A value for this period is already waiting for approval.")
MSG_UNIT = _("The unit must be {unit}.")
MSG_VALUE_NUMBER = _("Enter a number.")
MSG_VALUE_MIN = _("The value must be at least {min}.")
MSG_VALUE_MAX = _("The value must be at most {max}.")
MSG_NOTE_REQUIRED = _("Say why the value is returned.")
MSG_NOT_REVIEWER = _("Only the programme's monitoring office reviews reported values.")
MSG_OWN_SUBMISSION = _("You may not review a value you submitted yourself.")
MSG_NOT_WAITING = _("This value is not waiting for approval.")
MSG_TASK_DONE = _("This task is already done.")
MSG_TASK_NOT_YOURS = _("This task belongs to another agency.")
MSG_TASK_DUE = _("Only the monitoring office changes a task's deadline or owner.")
MSG_POINTS_RANGE = _("The points must be between 0 and {max}.")
MSG_POINTS_COMPUTED = _("These points are computed from an indicator.")
MSG_DTI_OFFICE = _("Only the monitoring office scores the DTI.")

T_APPROVED = _("Reported value approved: {indicator}")
B_APPROVED = _("Your value {value} {unit} for {period} was approved. {note}")
T_REJECTED = _("Reported value returned: {indicator}")
B_REJECTED = _("Your value {value} {unit} for {period} was returned: {note}")
T_TASK_REMIND = _("Task due on {due}: {task}")
B_TASK_REMIND = _('The task "{task}" of {agency} is due on {due}.')
T_TASK_ESCALATE = _("Task overdue: {task}")
B_TASK_ESCALATE = _('The task "{task}" of {agency} was due on {due} and is not done.')
T_REPORT_REMIND = _("Report due on {due}: {indicator}")
B_REPORT_REMIND = _('Report the value of "{indicator}" for {period} by {due}.')
T_REPORT_ESCALATE = _("Report overdue: {indicator}")
B_REPORT_ESCALATE = _(
    '{agency} has not reported the value of "{indicator}" for {period}, due on {due}.'
)


# --- Helpers ---------------------------------------------------------------------------------


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _text(template: str | Promise, **values: Any) -> str:
    return str(template).format(**values)


def _notify(user: Any, title: Any, body: Any, *, url: str = "", **values: Any) -> None:
    """A notification rendered in Vietnamese."""
    from thudo.notifications.services import notify

    with translation.override(LANG):
        rendered = {k: (str(v) if isinstance(v, Promise) else v) for k, v in values.items()}
        notify(
            user=user,
            title=_text(title, **rendered).strip(),
            body=_text(body, **rendered).strip(),
            url=url,
        )


def _date_text(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def _members(agency: Agency, role: str) -> list[User]:
    return list(
        User.objects.filter(memberships__agency=agency, memberships__role=role, is_active=True)
        .distinct()
        .order_by("pk")
    )


def monitoring_officers(agency: Agency) -> list[User]:
    """The agency's monitoring officers, else its approvers."""
    return _members(agency, Role.MONITORING_OFFICER) or _members(agency, Role.APPROVER)


def leaders(agency: Agency) -> list[User]:
    """The agency's approvers (its leaders), else its parent agency's."""
    found = _members(agency, Role.APPROVER)
    if not found and agency.parent_id is not None:
        parent = Agency.objects.filter(pk=agency.parent_id).first()
        if parent is not None:
            found = _members(parent, Role.APPROVER)
    return found


def _moment(day: date) -> datetime:
    """The moment a day's snapshot stands for: now for today, the day's last instant before."""
    now = timezone.now()
    zone = timezone.get_current_timezone()
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone) - timedelta(
        microseconds=1
    )
    return min(now, end)


def _decimal(raw: Any) -> Decimal | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return value if value.is_finite() else None


# --- Snapshots and evaluation ----------------------------------------------------------------


def reported_value_at(indicator: Indicator, day: date) -> Decimal | None:
    """The latest approved value whose period ended on or before `day`."""
    return _reported_values_at([indicator.pk], day).get(indicator.pk)


def _reported_values_at(indicator_ids: list[int], day: date) -> dict[int, Decimal]:
    """Per reported indicator, the latest approved value whose period ended by `day`."""
    values: dict[int, Decimal] = {}
    if not indicator_ids:
        return values
    for indicator_id, value in (
        ReportedValue.objects.filter(
            indicator_id__in=indicator_ids,
            state=ReportedValue.State.APPROVED,
            period__end__lte=day,
        )
        .order_by("indicator_id", "-period__end", "-reviewed_at", "-pk")
        .values_list("indicator_id", "value")
    ):
        values.setdefault(indicator_id, value)
    return values


def indicator_values(indicators: list[Indicator], day: date) -> dict[int, Decimal | None]:
    """Each indicator's value on `day` (None: no data). A computed indicator asks its source
    (each source once); a reported one takes the latest approved value (one query for all)."""
    reported = _reported_values_at(
        [i.pk for i in indicators if i.kind == Indicator.Kind.REPORTED], day
    )
    asked: dict[str, Decimal | None] = {}
    values: dict[int, Decimal | None] = {}
    at = _moment(day)  # one moment for every source, so sources share their counts
    for indicator in indicators:
        if indicator.kind == Indicator.Kind.REPORTED:
            values[indicator.pk] = status.quantize(reported.get(indicator.pk))
        elif not indicator.source:
            values[indicator.pk] = None
        else:
            if indicator.source not in asked:
                asked[indicator.source] = sources.source_value(indicator.source, at=at)
            values[indicator.pk] = asked[indicator.source]
    return values


def indicator_value(indicator: Indicator, day: date) -> Decimal | None:
    """The indicator's value on `day` (None: no data)."""
    return indicator_values([indicator], day)[indicator.pk]


def _upsert(day: date, values: dict[int, Decimal | None]) -> None:
    """Write the day's snapshot of each indicator, replacing one taken before (one query)."""
    now = timezone.now()
    Snapshot.objects.bulk_create(
        [
            Snapshot(indicator_id=pk, date=day, value=value, taken_at=now)
            for pk, value in values.items()
        ],
        update_conflicts=True,
        unique_fields=["indicator", "date"],
        update_fields=["value", "taken_at"],
    )


def targets_evaluate(
    *, day: date | None = None, targets: list[Target] | None = None
) -> dict[int, status.Assessment]:
    """Evaluate the targets (default: all) on `day` from their primary indicator's snapshots;
    store each result on that day's snapshot and, when the indicator has no later snapshot, on
    the target. Targets without an indicator are left alone. A fixed number of queries."""
    today = day or timezone.localdate()
    chosen = list(targets) if targets is not None else list(Target.objects.order_by("pk"))
    primaries: dict[int, Indicator] = {}
    for indicator in Indicator.objects.filter(target__in=chosen).order_by(
        "target_id", "-is_primary", "order", "code"
    ):
        primaries.setdefault(indicator.target_id, indicator)
    ids = [i.pk for i in primaries.values()]
    since = today - timedelta(days=status.WINDOW_DAYS)
    points: dict[int, list[tuple[date, Decimal | None]]] = defaultdict(list)
    for indicator_id, when, value in (
        Snapshot.objects.filter(indicator_id__in=ids, date__gte=since, date__lte=today)
        .order_by("indicator_id", "date")
        .values_list("indicator_id", "date", "value")
    ):
        points[indicator_id].append((when, value))
    later = set(
        Snapshot.objects.filter(indicator_id__in=ids, date__gt=today)
        .values_list("indicator_id", flat=True)
        .distinct()
    )
    of_day = {s.indicator_id: s for s in Snapshot.objects.filter(indicator_id__in=ids, date=today)}
    now = timezone.now()
    results: dict[int, status.Assessment] = {}
    changed_snapshots: list[Snapshot] = []
    changed_targets: list[Target] = []
    for target in chosen:
        primary = primaries.get(target.pk)
        if primary is None:
            continue
        assessment = status.assess(target, points.get(primary.pk, []), today)
        results[target.pk] = assessment
        snapshot = of_day.get(primary.pk)
        if snapshot is not None:
            snapshot.status = assessment.status
            snapshot.forecast_value = assessment.forecast
            changed_snapshots.append(snapshot)
        if primary.pk not in later:
            target.status = assessment.status
            target.current_value = assessment.value
            target.forecast_value = assessment.forecast
            target.evaluated_at = now
            changed_targets.append(target)
    Snapshot.objects.bulk_update(changed_snapshots, ["status", "forecast_value"])
    Target.objects.bulk_update(
        changed_targets, ["status", "current_value", "forecast_value", "evaluated_at"]
    )
    return results


def target_evaluate(*, target: Target, day: date | None = None) -> status.Assessment | None:
    """`targets_evaluate` for one target; None when it has no indicator."""
    return targets_evaluate(day=day, targets=[target]).get(target.pk)


def _dti_refresh(year: int, day: date) -> int:
    """Store the points of the year's components computed from an indicator (as `dti_scores`
    computes them). Returns how many changed."""
    stored = dict(
        DtiComponent.objects.filter(year=year, indicator__isnull=False).values_list("pk", "points")
    )
    if not stored:
        return 0
    scores = selectors.dti_scores(year=year, today=day)
    changed = 0
    for group in scores.groups:
        for component in group.components:
            if component.pk in stored and stored[component.pk] != component.points:
                DtiComponent.objects.filter(pk=component.pk).update(
                    points=component.points, updated_at=timezone.now()
                )
                changed += 1
    return changed


def snapshots_take(*, day: date | None = None) -> int:
    """Take every indicator's snapshot of `day` (default today; taking it again replaces it),
    then evaluate every target and the DTI components computed from an indicator. Returns the
    number of snapshots written. A fixed number of queries besides the sources'."""
    today = day or timezone.localdate()
    if today > timezone.localdate():
        raise ValidationFailed(fields={"day": _("A snapshot cannot be taken for a future day.")})
    indicators = list(Indicator.objects.order_by("pk"))
    # The sources are read outside the transaction (they may be slow); the writes are quick.
    values = indicator_values(indicators, today)
    with transaction.atomic():
        _upsert(today, values)
        targets_evaluate(day=today)
        for year in (today.year - 1, today.year):
            _dti_refresh(year, today)
    return len(values)


def snapshots_backfill(*, start: date, end: date) -> int:
    """Take the snapshots of every day from `start` to `end` (inclusive) in order, from the
    sources' history (`compute_at`). Returns the number of snapshots written."""
    if end < start:
        raise ValidationFailed(fields={"end": _("The end is before the start.")})
    written = 0
    day = start
    last = min(end, timezone.localdate())
    while day <= last:
        written += snapshots_take(day=day)
        day += timedelta(days=1)
    return written


def indicator_refresh(*, indicator: Indicator, day: date | None = None) -> Snapshot:
    """Re-take one indicator's snapshot of `day` (default today) and re-evaluate its target."""
    today = day or timezone.localdate()
    with transaction.atomic():
        _upsert(today, {indicator.pk: indicator_value(indicator, today)})
        target_evaluate(target=indicator.target, day=today)
    return Snapshot.objects.get(indicator=indicator, date=today)


# --- Reported values -------------------------------------------------------------------------


def _period_problem(
    indicator: Indicator, period: ReportingPeriod, today: date
) -> str | Promise | None:
    if (
        period.programme_id != indicator.target.pillar.programme_id
        or period.frequency != indicator.frequency
    ):
        return MSG_PERIOD_OTHER
    if period.start > today:
        return MSG_PERIOD_NOT_STARTED
    if not selectors.period_is_open(period, today):
        return MSG_PERIOD_CLOSED
    return None


def _value_problem(indicator: Indicator, value: Decimal | None) -> str | Promise | None:
    if value is None or abs(value) > MAX_ABS_VALUE:
        return MSG_VALUE_NUMBER
    if indicator.min_value is not None and value < indicator.min_value:
        return _text(MSG_VALUE_MIN, min=status.quantize(indicator.min_value))
    if indicator.max_value is not None and value > indicator.max_value:
        return _text(MSG_VALUE_MAX, max=status.quantize(indicator.max_value))
    return None


def _run_with_files(stored: list[str], work: Callable[[], Any]) -> Any:
    try:
        with transaction.atomic():
            return work()
    except BaseException:
        evidence_delete(stored)
        raise


def reported_value_submit(
    *,
    user: Any,
    indicator: Indicator,
    period: ReportingPeriod,
    value: Any,
    unit: str,
    evidence: Any,
    note: str = "",
) -> ReportedValue:
    """An agency reports its value for a period, with its evidence, for the monitoring office
    to approve. Every check runs first (each failing field is named); the file is written only
    then, and removed if the transaction fails."""
    if indicator.kind != Indicator.Kind.REPORTED:
        raise ValidationFailed(fields={"indicator": MSG_NOT_REPORTED})
    if not can(user, Perm.MONITORING_REPORT, indicator.agency):
        raise PermissionDenied(MSG_NOT_YOUR_AGENCY)
    today = timezone.localdate()
    errors: dict[str, str | Promise] = {}
    problem = _period_problem(indicator, period, today)
    if problem:
        errors["period"] = problem
    if (unit or "").strip().casefold() != indicator.unit.strip().casefold():
        errors["unit"] = _text(MSG_UNIT, unit=indicator.unit)
    number = _decimal(value)
    problem = _value_problem(indicator, number)
    if problem:
        errors["value"] = problem
    checked = None
    if evidence is not None and evidence != b"":
        checked, refused = evidence_problem(evidence)
        if refused is not None:
            errors["evidence"] = refused
    elif indicator.evidence_required:
        errors["evidence"] = MSG_REQUIRED
    if errors:
        raise ValidationFailed(fields=errors)
    assert number is not None
    stored: list[str] = []

    def work() -> ReportedValue:
        # One submission at a time per indicator: lock it, then look for a waiting value.
        Indicator.objects.select_for_update().filter(pk=indicator.pk).first()
        states = set(
            ReportedValue.objects.filter(indicator=indicator, period=period).values_list(
                "state", flat=True
            )
        )
        if ReportedValue.State.SUBMITTED in states:
            raise ValidationFailed(fields={"period": MSG_PERIOD_WAITING})
        reported = ReportedValue(
            indicator=indicator,
            period=period,
            value=number.quantize(status.TWO_PLACES),
            note=(note or "").strip()[:MAX_NOTE],
            submitted_by=user,
            submitted_at=timezone.now(),
        )
        if checked is not None:
            evidence_write(reported.evidence, checked, stored)
            reported.evidence_name = checked.original_name
        reported.save()
        audit_record(
            actor=user,
            action="monitoring.value_submit",
            obj=reported,
            to_state=ReportedValue.State.SUBMITTED,
            data={
                "indicator": indicator.code,
                "period": str(period),
                "value": str(reported.value),
                "evidence": bool(checked),
            },
        )
        return reported

    return _run_with_files(stored, work)  # type: ignore[no-any-return]


def _review_checks(user: Any, reported: ReportedValue) -> Programme:
    programme = reported.indicator.target.pillar.programme
    if not can(user, Perm.MONITORING_REPORT, programme.agency):
        raise PermissionDenied(MSG_NOT_REVIEWER)
    if reported.submitted_by_id == getattr(user, "pk", None):
        raise PermissionDenied(MSG_OWN_SUBMISSION)
    return programme


def _review(*, user: Any, reported: ReportedValue, to_state: str, note: str) -> ReportedValue:
    _review_checks(user, reported)
    with transaction.atomic():
        locked = (
            ReportedValue.objects.select_for_update(of=("self",))
            .select_related("indicator", "indicator__target", "period", "submitted_by")
            .get(pk=reported.pk)
        )
        if locked.state != ReportedValue.State.SUBMITTED:
            raise InvalidTransition(MSG_NOT_WAITING)
        before = locked.state
        locked.state = to_state
        locked.reviewed_by = user
        locked.reviewed_at = timezone.now()
        locked.review_note = note
        locked.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_note"])
        audit_record(
            actor=user,
            action=(
                "monitoring.value_approve"
                if to_state == ReportedValue.State.APPROVED
                else "monitoring.value_reject"
            ),
            obj=locked,
            from_state=before,
            to_state=to_state,
            data={"indicator": locked.indicator.code, "note": note[:500]},
        )
        approved = to_state == ReportedValue.State.APPROVED
        _notify(
            locked.submitted_by,
            T_APPROVED if approved else T_REJECTED,
            B_APPROVED if approved else B_REJECTED,
            url=_url("monitoring:report"),
            indicator=locked.indicator.name,
            value=locked.value,
            unit=locked.indicator.unit,
            period=str(locked.period),
            note=note,
        )
        if approved:
            indicator_refresh(indicator=locked.indicator)
    reported.refresh_from_db()
    return locked


def reported_value_approve(*, user: Any, reported: ReportedValue, note: str = "") -> ReportedValue:
    """The monitoring office approves a waiting value (not its own); the submitter is told and
    the indicator's snapshot of today is taken again."""
    return _review(
        user=user,
        reported=reported,
        to_state=ReportedValue.State.APPROVED,
        note=(note or "").strip()[:MAX_NOTE],
    )


def reported_value_reject(*, user: Any, reported: ReportedValue, note: str) -> ReportedValue:
    """The monitoring office returns a waiting value with the reason; the agency may submit
    again."""
    text = (note or "").strip()[:MAX_NOTE]
    if not text:
        _review_checks(user, reported)
        raise ValidationFailed(fields={"note": MSG_NOTE_REQUIRED})
    return _review(user=user, reported=reported, to_state=ReportedValue.State.REJECTED, note=text)


# --- Tasks -----------------------------------------------------------------------------------


def _office(user: Any, task: Task) -> bool:
    return can(user, Perm.MONITORING_REPORT, task.target.pillar.programme.agency)


def _may_work_on(user: Any, task: Task) -> bool:
    if getattr(user, "pk", None) is not None and task.owner_id == user.pk:
        return True
    return can(user, Perm.MONITORING_REPORT, task.agency) or _office(user, task)


def task_complete(*, user: Any, task: Task, note: str = "") -> Task:
    """The owner, the agency's monitoring officer or the monitoring office marks a task done."""
    if not _may_work_on(user, task):
        raise PermissionDenied(MSG_TASK_NOT_YOURS)
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.state == Task.State.DONE:
            raise InvalidTransition(MSG_TASK_DONE)
        locked.state = Task.State.DONE
        locked.done_at = timezone.now()
        text = (note or "").strip()[:MAX_NOTE]
        if text:
            locked.note = text
        locked.save(update_fields=["state", "done_at", "note"])
        audit_record(
            actor=user,
            action="monitoring.task_complete",
            obj=locked,
            from_state=Task.State.OPEN,
            to_state=Task.State.DONE,
            data={"note": text[:500]},
        )
    task.refresh_from_db()
    return locked


_UNSET: Any = object()


def task_update(
    *,
    user: Any,
    task: Task,
    note: str | None = None,
    due: date | None = None,
    owner: Any = _UNSET,
) -> Task:
    """Record progress (`note`: the owner or the agency) or move the deadline / change the person
    in charge (the monitoring office only). A new deadline gets its own reminders."""
    if not _may_work_on(user, task):
        raise PermissionDenied(MSG_TASK_NOT_YOURS)
    if (due is not None or owner is not _UNSET) and not _office(user, task):
        raise PermissionDenied(MSG_TASK_DUE)
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        changes: dict[str, Any] = {}
        if note is not None:
            locked.note = note.strip()[:MAX_NOTE]
            changes["note"] = locked.note[:500]
        if due is not None and due != locked.due:
            changes["due"] = [locked.due.isoformat(), due.isoformat()]
            locked.due = due
            locked.reminded_at = None
            locked.escalated_at = None
        if owner is not _UNSET:
            changes["owner"] = getattr(owner, "pk", None)
            locked.owner = owner
        if changes:
            locked.save()
            audit_record(actor=user, action="monitoring.task_update", obj=locked, data=changes)
    task.refresh_from_db()
    return locked


# --- Reminders -------------------------------------------------------------------------------


def _send_once(key: str, recipients: list[User], send: Callable[[User], None]) -> bool:
    """Send to every recipient unless `key` was sent already; True when sent now. With
    nobody to send to, nothing is recorded, so the reminder goes out once someone holds the
    role."""
    if not recipients or Reminder.objects.filter(key=key).exists():
        return False
    try:
        with transaction.atomic():
            Reminder.objects.create(key=key[:120], recipients=len(recipients))
            for user in recipients:
                send(user)
    except IntegrityError:  # sent by a concurrent run
        return False
    return True


def _task_reminders(today: date, horizon: date) -> int:
    sent = 0
    tasks = Task.objects.filter(state=Task.State.OPEN, due__lte=horizon).select_related(
        "agency", "agency__parent", "target"
    )
    for task in tasks.order_by("due", "pk"):
        overdue = task.due < today
        kind = "escalate" if overdue else "remind"
        key = f"task:{task.pk}:{kind}:{task.due.isoformat()}"
        recipients = leaders(task.agency) if overdue else monitoring_officers(task.agency)
        if overdue:
            recipients = list({u.pk: u for u in recipients}.values())
        url = _url("monitoring:target", task.target.code)

        def send(user: User, task: Task = task, overdue: bool = overdue, url: str = url) -> None:
            _notify(
                user,
                T_TASK_ESCALATE if overdue else T_TASK_REMIND,
                B_TASK_ESCALATE if overdue else B_TASK_REMIND,
                url=url,
                task=task.title,
                agency=task.agency.name,
                due=_date_text(task.due),
            )

        if _send_once(key, recipients, send):
            field = "escalated_at" if overdue else "reminded_at"
            Task.objects.filter(pk=task.pk).update(**{field: timezone.now()})
            sent += 1
    return sent


def _report_reminders(today: date, horizon: date) -> int:
    sent = 0
    grace = timedelta(days=selectors.grace_days())
    for item in selectors.missing_reports(due_before=horizon + timedelta(days=1)):
        indicator, period = item.indicator, item.period
        if period.start > today or today > period.due + grace:
            continue  # not started yet, or closed: nothing can be reported any more
        overdue = period.due < today
        kind = "escalate" if overdue else "remind"
        key = f"report:{indicator.pk}:{period.pk}:{kind}"
        agency = indicator.agency
        recipients = leaders(agency) if overdue else monitoring_officers(agency)

        def send(
            user: User,
            indicator: Indicator = indicator,
            period: ReportingPeriod = period,
            overdue: bool = overdue,
        ) -> None:
            _notify(
                user,
                T_REPORT_ESCALATE if overdue else T_REPORT_REMIND,
                B_REPORT_ESCALATE if overdue else B_REPORT_REMIND,
                url=_url("monitoring:report"),
                indicator=indicator.name,
                agency=indicator.agency.name,
                period=str(period),
                due=_date_text(period.due),
            )

        if _send_once(key, recipients, send):
            sent += 1
    return sent


def reminders_send(*, today: date | None = None) -> int:
    """Remind agencies of tasks and reports due within MONITORING_REMIND_DAYS (their monitoring
    officers), escalate overdue ones (their leaders); each once. Returns how many were sent."""
    day = today or timezone.localdate()
    horizon = day + timedelta(days=selectors.remind_days())
    return _task_reminders(day, horizon) + _report_reminders(day, horizon)


# --- DTI -------------------------------------------------------------------------------------


def _dti_office(user: Any) -> bool:
    offices = Programme.objects.values_list("agency_id", flat=True).distinct()
    allowed = set(agencies_where(user, Perm.MONITORING_REPORT))
    return any(pk in allowed for pk in offices)


def dti_component_set(*, user: Any, component: DtiComponent, points: Any) -> DtiComponent:
    """The monitoring office enters a component's points (0 to its maximum); components
    computed from an indicator are not entered."""
    if not _dti_office(user):
        raise PermissionDenied(MSG_DTI_OFFICE)
    if component.indicator_id is not None:
        raise ValidationFailed(fields={"points": MSG_POINTS_COMPUTED})
    value = _decimal(points)
    if value is None or value < 0 or value > component.max_points:
        raise ValidationFailed(
            fields={"points": _text(MSG_POINTS_RANGE, max=status.quantize(component.max_points))}
        )
    with transaction.atomic():
        locked = DtiComponent.objects.select_for_update().get(pk=component.pk)
        before = locked.points
        locked.points = status.quantize(value)
        locked.entered_by = user
        locked.updated_at = timezone.now()
        locked.save(update_fields=["points", "entered_by", "updated_at"])
        audit_record(
            actor=user,
            action="monitoring.dti_set",
            obj=locked,
            data={"from": str(before) if before is not None else None, "to": str(locked.points)},
        )
    component.refresh_from_db()
    return locked
