from __future__ import annotations

from datetime import date

from ninja import Schema


class MembershipOut(Schema):
    agency: str
    agency_name: str
    role: str


class MeOut(Schema):
    username: str
    full_name: str
    kind: str
    personal_id: str | None
    birth_date: date | None
    roles: list[MembershipOut]
    permissions: list[str]


class AgencyOut(Schema):
    code: str
    name: str
    name_en: str
    kind: str
    parent: str | None
    admin_unit: str


class CitizenIn(Schema):
    personal_id: str
    full_name: str
    sex: str
    birth_date: date
    password: str | None = None
    home_unit: str | None = None


class CitizenOut(Schema):
    username: str
    full_name: str
    personal_id: str
