"""API models of the procedure catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class SectorOut(Schema):
    code: str
    name: str
    name_en: str
    procedures: int


class LifeEventOut(Schema):
    code: str
    name: str
    name_en: str
    icon: str
    procedures: int


class ProcedureOut(Schema):
    code: str
    name: str
    name_en: str
    sector: str
    life_events: list[str]
    agency_kind: str
    department_code: str
    online_level: str
    deadline_days: str
    fee: int
    fee_waived_online: bool
    is_active: bool


class ProcedureDetailOut(Schema):
    version: int
    published_at: datetime
    spec: dict[str, Any]
