"""The public procedure catalog over the API (read-only; no sign-in needed)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from . import selectors
from .models import Procedure
from .schemas import LifeEventOut, ProcedureDetailOut, ProcedureOut, SectorOut
from .specs import json_schema

router = Router(tags=["procedures"])


def _out(p: Procedure) -> ProcedureOut:
    return ProcedureOut(
        code=p.code,
        name=p.name,
        name_en=p.name_en,
        sector=p.sector.code,
        life_events=[e.code for e in p.life_events.all()],  # prefetched
        agency_kind=p.agency_kind,
        department_code=p.department_code,
        online_level=p.online_level,
        deadline_days=str(p.deadline_days),
        fee=p.fee,
        fee_waived_online=p.fee_waived_online,
        is_active=p.is_active,
    )


@router.get(
    "/",
    auth=None,
    response=list[ProcedureOut],
    summary="Search the catalog (diacritics optional), by sector and life event",
)
def procedures(
    request: HttpRequest, q: str = "", sector: str = "", event: str = ""
) -> list[ProcedureOut]:
    qs = selectors.procedure_search(
        q=q[:200], sector=sector or None, life_event=event or None
    ).prefetch_related("life_events")
    return [_out(p) for p in qs[:500]]


@router.get("/sectors", auth=None, response=list[SectorOut], summary="Sectors and counts")
def sectors(request: HttpRequest) -> list[SectorOut]:
    return [
        SectorOut(code=s.code, name=s.name, name_en=s.name_en, procedures=s.procedure_count)
        for s in selectors.sectors_with_counts()
    ]


@router.get(
    "/life-events", auth=None, response=list[LifeEventOut], summary="Life events and counts"
)
def life_events(request: HttpRequest) -> list[LifeEventOut]:
    return [
        LifeEventOut(
            code=e.code, name=e.name, name_en=e.name_en, icon=e.icon, procedures=e.procedure_count
        )
        for e in selectors.life_events_with_counts()
    ]


@router.get(
    "/{code}",
    auth=None,
    response=ProcedureDetailOut,
    summary="A procedure's current rules (the spec dossiers are checked against)",
)
def procedure(request: HttpRequest, code: str) -> ProcedureDetailOut:
    version = selectors.procedure_current_version(selectors.procedure_get(code=code))
    return ProcedureDetailOut(
        version=version.number, published_at=version.created_at, spec=version.spec
    )


@router.get("/{code}/schema", auth=None, summary="The procedure's form as JSON Schema 2020-12")
def procedure_schema(request: HttpRequest, code: str) -> dict[str, Any]:
    version = selectors.procedure_current_version(selectors.procedure_get(code=code))
    return json_schema(version.spec)
