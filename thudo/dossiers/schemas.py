"""The dossiers API's request and response bodies (OpenAPI at /api/docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Field, Schema

DeliveryIn = Literal["online", "counter", "post"]


class SubmitIn(Schema):
    """The JSON of the `payload` part of a submission (the papers are the other parts)."""

    procedure: str = Field(description="The procedure's code, e.g. 1.001193.", max_length=40)
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="The procedure's form: see /api/procedures/{code}/schema for its JSON Schema.",
    )
    receiving_agency: str | None = Field(
        default=None,
        max_length=32,
        description=(
            "Code of the ward/commune agency that receives the dossier (procedures settled by a "
            "ward or commune only); default: the applicant's ward of residence."
        ),
    )
    delivery: DeliveryIn = "online"
    draft: UUID | None = Field(default=None, description="A draft of the caller's to submit.")


class DraftIn(Schema):
    procedure: str = Field(max_length=40)
    data: dict[str, Any] = Field(default_factory=dict)
    draft: UUID | None = Field(default=None, description="Update this draft instead of a new one.")


class RatingIn(Schema):
    attitude: int = Field(ge=1, le=5, description="Officials' attitude, 1 (poor) to 5.")
    timeliness: int = Field(ge=1, le=5)
    contacts: int = Field(ge=1, le=5, description="5: no extra contact or trip was needed.")
    clarity: int = Field(ge=1, le=5, description="Clarity of the guidance.")
    comment: str = Field(default="", max_length=2000)


class RatingOut(Schema):
    attitude: int
    timeliness: int
    contacts: int
    clarity: int
    comment: str
    score: float
    created_at: datetime


class DocumentLinkOut(Schema):
    id: UUID
    kind: str
    title: str
    created_at: datetime
    url: str = Field(description="Where the caller downloads the PDF.")
    verify_url: str


class FileOut(Schema):
    paper: str
    name: str
    size: int
    round: int
    uploaded_at: datetime


class EventOut(Schema):
    at: datetime
    action: str
    label: str
    from_status: str
    to_status: str
    note: str


class DossierSummaryOut(Schema):
    id: UUID
    code: str | None
    procedure: str
    procedure_name: str
    status: str
    status_label: str
    channel: str
    created_at: datetime
    submitted_at: datetime | None
    due_at: datetime | None
    appointment_at: datetime | None


class DossierPageOut(Schema):
    count: int
    items: list[DossierSummaryOut]


class DossierOut(DossierSummaryOut):
    version: int
    receiving_agency: str
    agency: str
    delivery: str
    received_at: datetime | None
    settled_at: datetime | None
    on_time: bool | None
    returned_at: datetime | None
    data: dict[str, Any]
    files: list[FileOut]
    documents: list[DocumentLinkOut]
    timeline: list[EventOut]
    rating: RatingOut | None
    actions: list[str] = Field(description="What the caller may do now (workflow actions).")


class PublicEventOut(Schema):
    at: datetime
    action: str
    label: str
    status: str


class PublicStatusOut(Schema):
    """What anyone holding the code sees; `applicant_name` only with the matching personal ID
    (`proven`)."""

    code: str
    status: str
    status_label: str
    procedure: str = Field(description="The procedure's name in the request's language.")
    procedure_code: str
    receiving_agency: str
    agency: str
    submitted_at: datetime | None
    due_at: datetime | None = Field(description="The legal deadline; empty while paused.")
    appointment_at: datetime | None
    settled_at: datetime | None
    on_time: bool | None
    settled: bool
    timeline: list[PublicEventOut]
    proven: bool
    applicant_name: str | None = None


def multipart_doc(payload_schema: str = "", *, papers: str = "A paper's file") -> dict:
    """The OpenAPI request body of a multipart endpoint: an optional `payload` part holding the
    JSON of `payload_schema`, and one file part per paper, named by the paper's code."""
    schema: dict = {
        "type": "object",
        "additionalProperties": {
            "type": "string",
            "format": "binary",
            "description": f"{papers}; the part is named by the paper's code "
            "(repeat the part for several files).",
        },
    }
    if payload_schema:
        schema["required"] = ["payload"]
        schema["properties"] = {
            "payload": {
                "type": "string",
                "contentMediaType": "application/json",
                "description": f"The JSON of {payload_schema}.",
            }
        }
    else:
        schema["properties"] = {"note": {"type": "string"}}
    return {"requestBody": {"content": {"multipart/form-data": {"schema": schema}}}}
