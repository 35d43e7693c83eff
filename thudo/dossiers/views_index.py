"""The public service index page (Decision 766): the city's figures over a period, per agency or
per ward; `?format=json` gives the same as JSON (the API has it too: /api/dossiers/index)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from thudo.core.models import AdminUnit

from .index import (
    IndexFigures,
    IndexRow,
    preset_period,
    service_index,
    service_index_rows,
    this_year,
)

CACHE_SECONDS = 60  # the figures of one period and filter, per process


def city_unit() -> AdminUnit | None:
    return AdminUnit.objects.filter(code=f"{settings.THUDO_CITY['PROVINCE_CODE']:02d}").first()


class IndexFilterForm(forms.Form):
    """The period (local dates, default this year), a ward, and how to split the rows. The
    presets (this month, quarter, year) are links that fill the dates (`preset_links`)."""

    start = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    unit = forms.ModelChoiceField(
        label=_("Ward or commune"),
        required=False,
        queryset=AdminUnit.objects.none(),
        to_field_name="code",
        empty_label=_("The whole city"),
    )
    group = forms.ChoiceField(
        label=_("Rows"),
        required=False,
        choices=[("agency", _("By agency")), ("unit", _("By ward or commune"))],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        city = city_unit()
        field = self.fields["unit"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            AdminUnit.objects.filter(parent=city).order_by("name").only("pk", "code", "name")
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        year = timezone.localdate().year
        start, end = data.get("start"), data.get("end")
        data["start"] = start or date(year, 1, 1)
        data["end"] = end or date(year, 12, 31)
        if data["start"] > data["end"]:
            self.add_error("end", _("The end date must not be before the start date."))
        data["group"] = data.get("group") or "agency"
        return data


PRESETS = [("month", _("This month")), ("quarter", _("This quarter")), ("year", _("This year"))]


def preset_links(query: QueryDict, start: date, end: date) -> list[dict[str, Any]]:
    """Links that keep the ward and grouping and set the period to a preset."""
    links = []
    for name, label in PRESETS:
        first, last = preset_period(name) or (start, end)
        params = query.copy()
        for key in ("start", "end", "preset", "format"):
            params.pop(key, None)
        params["preset"] = name
        links.append(
            {"label": label, "query": params.urlencode(), "current": (first, last) == (start, end)}
        )
    return links


def _computed(start: date, end: date, unit: AdminUnit | None, group: str) -> tuple[Any, Any]:
    key = f"dossiers:index:{start}:{end}:{unit.pk if unit else ''}:{group}"
    hit = cache.get(key)
    if hit is not None:
        return hit
    totals = service_index(start=start, end=end, unit=unit)
    if group == "unit":
        rows = service_index_rows(start=start, end=end, group="unit", parent=unit)
    else:
        rows = service_index_rows(start=start, end=end, group="agency", unit=unit)
    cache.set(key, (totals, rows), CACHE_SECONDS)
    return totals, rows


def _row_json(row: IndexRow) -> dict[str, Any]:
    return {"code": row.code, "name": row.label, **row.figures.as_dict()}


@require_GET
def service_index_page(request: HttpRequest) -> HttpResponse:
    data = request.GET.copy()
    period = preset_period(data.pop("preset", [""])[-1])
    if period:  # a preset link: its dates fill the form
        data["start"], data["end"] = (d.isoformat() for d in period)
    first, last = this_year()
    form = IndexFilterForm(data or None, initial={"start": first, "end": last})
    if data and form.is_valid():
        params = form.cleaned_data
    else:
        fallback = IndexFilterForm({})
        fallback.is_valid()
        params = fallback.cleaned_data
        if data and "unit" not in form.errors:  # keep a valid ward when the dates are wrong
            params = {**params, "unit": form.cleaned_data.get("unit")}
    start, end, unit, group = params["start"], params["end"], params["unit"], params["group"]
    totals: IndexFigures
    rows: list[IndexRow]
    totals, rows = _computed(start, end, unit, group)
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "unit": unit.code if unit else None,
                "group": group,
                "totals": totals.as_dict(),
                "rows": [_row_json(r) for r in rows],
            },
            json_dumps_params={"ensure_ascii": False},
        )
    context = {
        "form": form,
        "start": start,
        "end": end,
        "unit": unit,
        "group": group,
        "figures": totals,
        "rows": rows,
        "city": settings.THUDO_CITY["NAME"],
        "presets": preset_links(request.GET, start, end),
    }
    return render(request, "dossiers/index.html", context)
