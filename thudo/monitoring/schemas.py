"""The monitoring API's output models (pydantic, via ninja). Values are JSON numbers (two
decimals at most), dates ISO 8601; codes, not database ids, name programmes, targets and
indicators."""

from __future__ import annotations

from datetime import date, datetime

from ninja import Schema


class SnapshotOut(Schema):
    date: date
    value: float | None
    status: str
    forecast_value: float | None


class IndicatorOut(Schema):
    code: str
    name: str
    name_en: str
    kind: str  # "computed" | "reported"
    source: str  # the registry indicator of a computed one
    unit: str
    frequency: str
    evidence_required: bool
    min_value: float | None
    max_value: float | None
    agency: str
    is_primary: bool
    latest: SnapshotOut | None


class TargetOut(Schema):
    code: str
    name: str
    name_en: str
    description: str
    unit: str
    direction: str  # "up" | "down"
    baseline: float | None
    baseline_date: date | None
    target_value: float
    deadline: date
    agency: str
    agency_name: str
    status: str
    status_label: str
    current_value: float | None
    forecast_value: float | None
    evaluated_at: datetime | None
    indicators: list[IndicatorOut]


class PillarOut(Schema):
    code: str
    name: str
    name_en: str
    targets: list[TargetOut]


class ProgrammeOut(Schema):
    code: str
    name: str
    name_en: str
    legal_basis: str
    parent: str | None
    start: date
    end: date
    monitoring_office: str
    pillars: list[PillarOut]


class PointOut(Schema):
    date: date
    value: float | None


class SeriesOut(Schema):
    indicator: str
    points: list[PointOut]


class PeriodOut(Schema):
    id: int
    frequency: str
    start: date
    end: date
    due: date


class TaskOut(Schema):
    id: int
    title: str
    agency: str
    owner: str | None
    due: date
    state: str
    done_at: datetime | None
    overdue: bool


class ReportedOut(Schema):
    id: int
    indicator: str
    target: str
    agency: str
    period: PeriodOut
    value: float
    unit: str
    note: str
    state: str
    state_label: str
    evidence_name: str
    submitted_by: str
    submitted_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str


class ReportedPageOut(Schema):
    count: int
    items: list[ReportedOut]


class TargetDetailOut(TargetOut):
    pillar: str
    programme: str
    series: list[SeriesOut]
    tasks: list[TaskOut]
    reported: list[ReportedOut]


class HeadlineOut(Schema):
    programme: str
    achieved: int
    total: int
    by_status: dict[str, int]
    text: str
