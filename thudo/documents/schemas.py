from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from ninja import Schema


class DocumentOut(Schema):
    id: UUID
    kind: str
    title: str
    agency: str
    reference: str
    access: str
    created_at: datetime
    retain_until: date | None
    version: int | None
    sha256: str | None
    signatures: int
    verify_url: str


class SignJobIn(Schema):
    agency: str
    documents: list[UUID]


class SignJobOut(Schema):
    id: int
    status: str
    total: int
    done: int
    failed: int
    errors: list[dict[str, Any]]
