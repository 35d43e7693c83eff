from __future__ import annotations

from datetime import date, datetime

from ninja import Schema


class UnitOut(Schema):
    code: str
    name: str
    division_type: str
    level: str
    parent: str | None
    latitude: float | None
    longitude: float | None


class UnitAtOut(Schema):
    unit: UnitOut | None
    exact: bool


class AuditOut(Schema):
    id: int
    created_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    from_state: str
    to_state: str
    data: dict
    request_id: str
    ip_address: str | None


class WorkingDeadlineOut(Schema):
    received: datetime
    deadline: datetime


class DayOffOut(Schema):
    date: date
    name: str
