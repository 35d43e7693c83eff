"""The feedback API's request and response bodies (OpenAPI at /api/docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema


class QuestionValueOut(Schema):
    key: str
    name: str = Field(description="In the request's language.")


class QuestionOut(Schema):
    code: str = Field(description="The key of the answer in `attributes`.")
    label: str
    datatype: str = Field(
        description="string, text, number, datetime, singlevaluelist or multivaluelist."
    )
    required: bool
    order: int
    values: list[QuestionValueOut] = Field(description="The choices of a list question.")


class CategoryOut(Schema):
    code: str = Field(description="The category's code (the Open311 service_code).")
    name: str
    description: str
    group: str
    keywords: str
    handler: str = Field(description="commune (the ward of the place) or department.")
    default_urgency: str
    notice: str = Field(description="Shown to the resident before reporting.")
    redirect_phone: str = Field(
        description="When set, reports of this kind are not taken: call this number."
    )
    questions: list[QuestionOut]


class ReportSummaryOut(Schema):
    id: int
    category: str
    category_name: str
    status: str
    status_label: str
    description: str
    address: str
    latitude: float
    longitude: float
    ward: str = Field(description="Code of the ward / commune of the place.")
    ward_name: str
    agency: str = Field(description="Code of the handling unit.")
    agency_name: str
    urgency: str
    submitted_at: datetime
    accept_due: datetime
    resolve_due: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    url: str = Field(description="The report's page.")


class NearbyOut(ReportSummaryOut):
    distance_m: float


class ReportPageOut(Schema):
    count: int
    items: list[ReportSummaryOut]


class MediaOut(Schema):
    id: int
    kind: str = Field(description="photo or video (videos are never public).")
    purpose: str = Field(description="report (the problem) or evidence (the answer).")
    content_type: str
    width: int | None
    height: int | None
    url: str


class EventOut(Schema):
    at: datetime
    action: str
    label: str
    status: str = Field(description="The status the report went to, if it changed.")
    agency: str
    note: str
    media: list[MediaOut]


class ReportOut(ReportSummaryOut):
    reporter: str = Field(description="The reporter's name if they chose to show it.")
    attributes: dict[str, Any]
    visibility: str
    level: int = Field(description="0 first handling; 1 after the reporter reopened it.")
    answer: str
    resolution: str
    rating: int | None
    satisfied: bool | None
    follower_count: int
    media: list[MediaOut]
    timeline: list[EventOut]


class ReportIn(Schema):
    """The JSON of the `payload` part of a new report (the photos are `media` parts)."""

    category: str = Field(max_length=40, description="The category's code.")
    description: str = Field(max_length=4000)
    latitude: float | None = None
    longitude: float | None = None
    address: str = Field(default="", max_length=300)
    unit_code: str = Field(
        default="",
        max_length=8,
        description=(
            "The ward / commune the reporter confirmed (5 digits) when the position does not "
            "tell it for certain; default: found from the position."
        ),
    )
    urgent: bool = Field(default=False, description="Danger to people: 4 working hours.")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Answers to the category's questions, by code."
    )
    show_name: bool = Field(default=False, description="Show the reporter's name publicly.")


class StatRowOut(Schema):
    agency_id: int | None
    agency_name: str
    category_code: str
    category_name: str
    received: int
    accepted_on_time: int
    accepted_late: int
    resolved_on_time: int
    resolved_late: int
    backlog: int
    overdue: int
    avg_resolution_hours: float | None
    rated: int
    satisfied: int
    satisfaction_rate: float | None


def multipart_doc() -> dict[str, Any]:
    """The OpenAPI request body of a new report: a `payload` part holding the JSON of
    `ReportIn`, and 1–5 `media` parts (photos, at most one video)."""
    return {
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["payload", "media"],
                        "properties": {
                            "payload": {
                                "type": "string",
                                "contentMediaType": "application/json",
                                "description": "The JSON of ReportIn.",
                            },
                            "media": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "description": (
                                    "1 to 5 files: JPEG, PNG or WebP photos, at most one MP4 "
                                    "or WebM video (repeat the part)."
                                ),
                            },
                        },
                    }
                }
            }
        }
    }
