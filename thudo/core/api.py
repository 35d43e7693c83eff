from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Router

from . import selectors
from .calendar import get_calendar
from .errors import ValidationFailed
from .models import AdminUnit, AuditEvent
from .schemas import AuditOut, DayOffOut, UnitAtOut, UnitOut, WorkingDeadlineOut
from .units import unit_at, unit_get

router = Router(tags=["core"])


def _unit_out(u: AdminUnit, parent_code: str | None = None) -> UnitOut:
    return UnitOut(
        code=u.code,
        name=u.name,
        division_type=u.division_type,
        level=u.level,
        parent=parent_code
        if parent_code is not None
        else (u.parent.code if u.parent_id and u.parent else None),
        latitude=u.latitude,
        longitude=u.longitude,
    )


@router.get(
    "/units",
    response=list[UnitOut],
    auth=None,
    summary="Administrative units: provinces, or the communes of one (?parent=01)",
)
def units(
    request: HttpRequest, parent: str | None = None, level: str | None = None
) -> list[UnitOut]:
    qs = selectors.unit_list(parent=parent, level=level)
    if not parent and not level:
        qs = qs.filter(level=AdminUnit.Level.PROVINCE)
    return [_unit_out(u) for u in qs]


@router.get(
    "/units/at",
    response=UnitAtOut,
    auth=None,
    summary="The ward or commune at a point (exact with boundaries, else nearest)",
)
def units_at(
    request: HttpRequest, lat: float, lng: float, province: str | None = None
) -> UnitAtOut:
    unit, exact = unit_at(latitude=lat, longitude=lng, province=province)
    return UnitAtOut(unit=_unit_out(unit) if unit else None, exact=exact)


@router.get("/units/{code}", response=UnitOut, summary="One administrative unit (reads one row)")
def unit(request: HttpRequest, code: str) -> UnitOut:
    return _unit_out(unit_get(code))


def _audit_out(e: AuditEvent) -> AuditOut:
    return AuditOut(
        id=e.pk,
        created_at=e.created_at,
        actor=e.actor_label,
        action=e.action,
        object_type=e.object_type,
        object_id=e.object_id,
        object_repr=e.object_repr,
        from_state=e.from_state,
        to_state=e.to_state,
        data=e.data,
        request_id=e.request_id,
        ip_address=e.ip_address,
    )


@router.get("/audit", response=list[AuditOut], summary="The audit trail (auditors)")
def audit(
    request: HttpRequest,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    before: datetime | None = None,
    limit: int = 100,
) -> list[AuditOut]:
    qs = selectors.audit_events(
        user=request.user, object_type=object_type, object_id=object_id, actor=actor, action=action
    )
    if before:
        qs = qs.filter(created_at__lt=before)
    return [_audit_out(e) for e in qs[: max(1, min(limit, 500))]]


@router.get(
    "/calendar/deadline",
    response=WorkingDeadlineOut,
    auth=None,
    tags=["calendar"],
    summary="A deadline in working days or hours from a moment (the platform's rule)",
)
def calendar_deadline(
    request: HttpRequest,
    start: datetime,
    days: int = 0,
    hours: float = 0,
    cutoff: time | None = None,
) -> WorkingDeadlineOut:
    if start.tzinfo is None:
        raise ValidationFailed(
            fields={
                "start": _("Give the moment with its UTC offset, e.g. 2026-11-23T10:00:00+07:00.")
            }
        )
    if days < 0 or hours < 0 or days > 3650 or hours > 24 * 3650:
        raise ValidationFailed(
            fields={"days": _("Days and hours must be between 0 and ten years.")}
        )
    cal = get_calendar()
    received = cal.received_on(start, cutoff)
    deadline = cal.add_working_hours(received, timedelta(hours=hours) + days * cal.day_length)
    return WorkingDeadlineOut(received=received, deadline=deadline)


@router.get(
    "/calendar/days-off",
    response=list[DayOffOut],
    auth=None,
    tags=["calendar"],
    summary="Public holidays and extra days off on working weekdays of a year",
)
def calendar_days_off(request: HttpRequest, year: int) -> list[DayOffOut]:
    if not 2000 <= year <= 2100:
        raise ValidationFailed(fields={"year": _("The year must be between 2000 and 2100.")})
    cal = get_calendar()
    out = []
    day = date(year, 1, 1)
    while day.year == year:
        if day.weekday() < 5 and not cal.is_working_day(day):
            out.append(DayOffOut(date=day, name=cal.holiday_name(day) or ""))
        day += timedelta(days=1)
    return out
