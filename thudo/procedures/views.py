"""The public catalog: search and filters, a procedure's page, its form as JSON Schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.formats import number_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from thudo.accounts.models import Agency
from thudo.core.errors import NotFound

from . import selectors
from .specs import json_schema, spec_display, spec_label

PAGE_SIZE = 30


def deadline_text(days: Decimal | str) -> str:
    """ "Same day", "1 working day", "15 working days" in the active language."""
    value = Decimal(days)
    if value <= Decimal("0.5"):
        return str(_("Same day"))
    whole = value == value.to_integral()
    shown = number_format(int(value) if whole else value)
    count = int(value) if whole else 2
    return ngettext("%(days)s working day", "%(days)s working days", count) % {"days": shown}


def fee_text(fee: int, *, waived_online: bool) -> str:
    if not fee:
        return str(_("Free"))
    amount = number_format(fee, force_grouping=True)
    if waived_online:
        return str(_("%(fee)s VND, waived when you apply online") % {"fee": amount})
    return str(_("%(fee)s VND") % {"fee": amount})


def catalog(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    sector = request.GET.get("sector", "").strip()[:40]
    event = request.GET.get("event", "").strip()[:40]
    results = selectors.procedure_search(q=q, sector=sector or None, life_event=event or None)
    page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    lang = get_language()
    sectors = [
        {
            "code": s.code,
            "label": spec_label({"name": s.name, "name_en": s.name_en}, lang),
            "count": s.procedure_count,
        }
        for s in selectors.sectors_with_counts()
        if s.procedure_count
    ]
    events = [
        {
            "code": e.code,
            "label": spec_label({"name": e.name, "name_en": e.name_en}, lang),
            "icon": e.icon or "dot",
            "count": e.procedure_count,
        }
        for e in selectors.life_events_with_counts()
        if e.procedure_count
    ]
    items = [
        {
            "code": p.code,
            "name": spec_label({"name": p.name, "name_en": p.name_en}, lang),
            "sector": spec_label({"name": p.sector.name, "name_en": p.sector.name_en}, lang),
            "deadline_text": deadline_text(p.deadline_days),
            "fee_text": fee_text(p.fee, waived_online=p.fee_waived_online),
            "online_level": p.online_level,
            "online_level_label": p.get_online_level_display(),
        }
        for p in page.object_list
    ]
    context: dict[str, Any] = {
        "q": q,
        "sector": sector,
        "event": event,
        "sectors": sectors,
        "events": events,
        "items": items,
        "page": page,
        "filtered": bool(q or sector or event),
    }
    return render(request, "procedures/list.html", context)


def _apply_url(code: str) -> str | None:
    try:
        return reverse("dossiers:apply", args=[code])
    except NoReverseMatch:
        return None


def detail(request: HttpRequest, code: str) -> HttpResponse:
    try:
        procedure = selectors.procedure_get(code=code)
    except NotFound:
        raise Http404 from None
    version = selectors.procedure_current_version(procedure)
    spec = spec_display(version.spec)
    agency = None
    if spec["department_code"]:
        agency = Agency.objects.filter(code=spec["department_code"]).first()
    context = {
        "procedure": procedure,
        "version": version,
        "spec": spec,
        "description": spec_label(
            {"description": procedure.description, "description_en": procedure.description_en},
            key="description",
        ),
        "agency_kind_label": Agency.Kind(spec["agency_kind"]).label
        if spec["agency_kind"] in Agency.Kind.values
        else spec["agency_kind"],
        "agency_name": spec_label({"name": agency.name, "name_en": agency.name_en})
        if agency
        else "",
        "online_level_label": dict(procedure.OnlineLevel.choices).get(spec["online_level"], ""),
        "deadline_text": deadline_text(spec["deadline_days"]),
        "fee_text": fee_text(spec["fee"], waived_online=spec["fee_waived_online"]),
        "apply_url": _apply_url(procedure.code) if procedure.is_active else None,
    }
    return render(request, "procedures/detail.html", context)


def schema(request: HttpRequest, code: str) -> JsonResponse:
    try:
        procedure = selectors.procedure_get(code=code)
    except NotFound:
        raise Http404 from None
    version = selectors.procedure_current_version(procedure)
    response = JsonResponse(
        json_schema(version.spec), json_dumps_params={"ensure_ascii": False, "indent": 2}
    )
    response["Content-Type"] = "application/schema+json; charset=utf-8"
    return response
