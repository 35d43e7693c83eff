"""The service index over the API: public figures, no sign-in.

Mounted by the manifest as ApiMount("dossiers/index", "thudo.dossiers.api_index.index_router"):
GET /api/dossiers/index?start&end&agency&unit&group.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema

from thudo.accounts.models import Agency
from thudo.core.errors import NotFound, ValidationFailed
from thudo.core.models import AdminUnit

from .index import IndexFigures, service_index, service_index_rows, this_year

index_router = Router(tags=["service index"])


class FiguresOut(Schema):
    received: int
    received_online: int
    received_counter: int
    digitised: int
    settled: int
    settled_on_time: int
    settled_late: int
    in_progress: int
    overdue: int
    ratings: int
    on_time_rate: float | None
    online_rate: float | None
    digitisation_rate: float | None
    avg_processing_days: float | None
    satisfaction: float | None


class RowOut(FiguresOut):
    code: str
    name: str


class IndexOut(Schema):
    start: date
    end: date
    agency: str | None
    unit: str | None
    group: str | None
    totals: FiguresOut
    rows: list[RowOut]


def _figures(f: IndexFigures) -> FiguresOut:
    return FiguresOut(**f.as_dict())


@index_router.get(
    "",
    response=IndexOut,
    auth=None,
    url_name="dossiers_index",
    summary="Service index (Decision 766): figures of the city, an agency or a ward",
    description=(
        "Period: local dates `start`..`end` inclusive (default: this year). `agency` (code) "
        "includes its sub-agencies; `unit` is a ward or commune code (or the province's). "
        "`group` adds rows: `agency` (the agencies under `agency`, default under the city) or "
        "`unit` (the wards). Rates are percentages, null when there is nothing to count."
    ),
)
def index(
    request: HttpRequest,
    start: date | None = None,
    end: date | None = None,
    agency: str | None = None,
    unit: str | None = None,
    group: Literal["agency", "unit"] | None = None,
) -> IndexOut:
    first, last = this_year()
    start, end = start or first, end or last
    if start > end:
        raise ValidationFailed(
            fields={"end": [_("The end date must not be before the start date.")]}
        )
    the_agency = None
    if agency:
        the_agency = Agency.objects.filter(code=agency).first()
        if the_agency is None:
            raise NotFound(code="unknown_agency")
    the_unit = None
    if unit:
        the_unit = AdminUnit.objects.filter(code=unit).first()
        if the_unit is None:
            raise NotFound(code="unknown_unit")
    totals = service_index(start=start, end=end, agency=the_agency, unit=the_unit)
    rows = []
    if group == "agency":
        rows = service_index_rows(
            start=start, end=end, group="agency", parent=the_agency, unit=the_unit
        )
    elif group == "unit":
        rows = service_index_rows(start=start, end=end, group="unit", parent=the_unit)
    return IndexOut(
        start=start,
        end=end,
        agency=agency,
        unit=unit,
        group=group,
        totals=_figures(totals),
        rows=[RowOut(code=r.code, name=r.label, **r.figures.as_dict()) for r in rows],
    )
