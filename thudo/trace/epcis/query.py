"""The EPCIS 2.0 query parameters (REST binding) over stored events, with keyset pagination.

Supported: eventType, GE_eventTime, LT_eventTime, GE_recordTime, LT_recordTime, EQ_bizStep,
EQ_disposition, EQ_bizLocation, EQ_readPoint, EQ_eventID, MATCH_epc, MATCH_parentID,
MATCH_inputEPC, MATCH_outputEPC, MATCH_anyEPC, MATCH_epcClass, MATCH_inputEPCClass,
MATCH_outputEPCClass, MATCH_anyEPCClass, and our conveniences gtin= and lot=. A parameter may
repeat or hold comma-separated values (OR); different parameters combine with AND. Results are
ordered by (eventTime, id); ``perPage`` (1–1000, default 100) and the opaque ``nextPageToken``
page through them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from thudo.trace.identifiers import normalize_gtin
from thudo.trace.models import Event, EventEpc

from . import vocab
from .validate import _parse_time, interpolate, parse_epc

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
_PAGE_SALT = "thudo.trace.epcis.page"

INSTANCE_ROLES = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "child", "parent", "input", "output"),
}
CLASS_ROLES = {
    "MATCH_epcClass": ("quantity", "childQuantity"),
    "MATCH_inputEPCClass": ("inputQuantity",),
    "MATCH_outputEPCClass": ("outputQuantity",),
    "MATCH_anyEPCClass": ("quantity", "childQuantity", "inputQuantity", "outputQuantity"),
}
KNOWN = (
    {
        "eventType",
        "GE_eventTime",
        "LT_eventTime",
        "GE_recordTime",
        "LT_recordTime",
        "EQ_bizStep",
        "EQ_disposition",
        "EQ_bizLocation",
        "EQ_readPoint",
        "EQ_eventID",
        "gtin",
        "lot",
        "perPage",
        "nextPageToken",
    }
    | set(INSTANCE_ROLES)
    | set(CLASS_ROLES)
)

MSG_UNKNOWN_PARAM = _("is not a query parameter this repository supports.")
MSG_TIME = _("is not a date and time with a time zone (e.g. 2024-05-01T08:30:00+07:00).")
MSG_EVENT_TYPE = _("is not an EPCIS event type.")
MSG_PER_PAGE = _("must be a whole number from 1 to %(max)s.")
MSG_TOKEN = _("is not a page token this repository gave out.")
MSG_GTIN = _("is not a valid GTIN (8, 12, 13 or 14 digits with a correct check digit).")
MSG_LOT = _("needs gtin too.")


class QueryParameterError(Exception):
    """EPCIS QueryParameterException: which parameters are wrong and why."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


@dataclass
class Page:
    events: list[Event]
    next_token: str | None
    per_page: int


def _values(params: Any, name: str) -> list[str]:
    raw = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
    if isinstance(raw, str):
        raw = [raw]
    return [v.strip() for item in raw for v in str(item).split(",") if v.strip()]


def epc_q(values: Iterable[str], roles: tuple[str, ...], *, classes: bool) -> Q:
    """EventEpc rows in `roles` naming any of `values` (any spelling: URN or Digital Link)."""
    match = Q()
    for value in values:
        parsed = parse_epc(value)
        if parsed is None:
            match |= Q(epc=value)
        elif classes:
            part = Q(gtin=parsed.gtin, serial="")
            if parsed.lot:
                part &= Q(lot=parsed.lot)
            match |= part
        elif parsed.serial:
            match |= Q(gtin=parsed.gtin, serial=parsed.serial)
        else:
            match |= Q(epc=value)
    return Q(role__in=roles) & match


def apply_filters(queryset: QuerySet[Event], params: Any) -> QuerySet[Event]:
    """`queryset` narrowed by the EPCIS query parameters in `params` (a QueryDict or a dict of
    lists); QueryParameterError lists every bad parameter."""
    errors: list[dict[str, Any]] = []

    def err(field: str, message: Any) -> None:
        errors.append({"event": None, "field": field, "message": message})

    keys = list(params.keys())
    for key in keys:
        if key not in KNOWN:
            err(key, MSG_UNKNOWN_PARAM)

    if types := _values(params, "eventType"):
        bad = [t for t in types if t not in Event.Type.values]
        if bad:
            err("eventType", MSG_EVENT_TYPE)
        queryset = queryset.filter(event_type__in=types)
    for name, lookup, column in (
        ("GE_eventTime", "gte", "event_time"),
        ("LT_eventTime", "lt", "event_time"),
        ("GE_recordTime", "gte", "record_time"),
        ("LT_recordTime", "lt", "record_time"),
    ):
        for value in _values(params, name):
            moment = _parse_time(value.replace(" ", "+"))  # a "+" that was not URL-encoded
            if moment is None:
                err(name, MSG_TIME)
            else:
                queryset = queryset.filter(**{f"{column}__{lookup}": moment})
    for name, column, voc in (
        ("EQ_bizStep", "biz_step", vocab.BIZ_STEP),
        ("EQ_disposition", "disposition", vocab.DISPOSITION),
    ):
        if values := _values(params, name):
            normal = []
            for value in values:
                try:
                    normal.append(vocab.normalize(voc, value))
                except vocab.UnknownTerm:
                    normal.append(value)  # matches nothing; not an error in a query
            queryset = queryset.filter(**{f"{column}__in": normal})
    for name, column in (("EQ_bizLocation", "biz_location"), ("EQ_readPoint", "read_point")):
        if values := _values(params, name):
            queryset = queryset.filter(**{f"{column}__in": values})
    if values := _values(params, "EQ_eventID"):
        queryset = queryset.filter(event_id__in=values)
    for name, roles in INSTANCE_ROLES.items():
        if values := _values(params, name):
            rows = EventEpc.objects.filter(epc_q(values, roles, classes=False))
            queryset = queryset.filter(pk__in=rows.values("event_id"))
    for name, roles in CLASS_ROLES.items():
        if values := _values(params, name):
            rows = EventEpc.objects.filter(epc_q(values, roles, classes=True))
            queryset = queryset.filter(pk__in=rows.values("event_id"))
    gtins = _values(params, "gtin")
    lots = _values(params, "lot")
    if gtins:
        valid = [g for g in (normalize_gtin(raw) for raw in gtins) if g is not None]
        if len(valid) != len(gtins):
            err("gtin", MSG_GTIN)
        rows = EventEpc.objects.filter(gtin__in=valid)
        if lots:
            rows = rows.filter(lot__in=lots)
        queryset = queryset.filter(pk__in=rows.values("event_id"))
    elif lots:
        err("lot", MSG_LOT)
    if errors:
        raise QueryParameterError(errors)
    return queryset


def page_token(event: Event) -> str:
    return signing.dumps([event.event_time.isoformat(), event.pk], salt=_PAGE_SALT)


def paginate(queryset: QuerySet[Event], params: Any) -> Page:
    """One page of `queryset` ordered by (eventTime, id), after `nextPageToken`."""
    errors: list[dict[str, Any]] = []
    per_page = DEFAULT_PER_PAGE
    raw = _values(params, "perPage")
    if raw:
        try:
            per_page = int(raw[0])
        except ValueError:
            per_page = 0
        if not 1 <= per_page <= MAX_PER_PAGE:
            errors.append(
                {
                    "event": None,
                    "field": "perPage",
                    "message": interpolate(MSG_PER_PAGE, max=MAX_PER_PAGE),
                }
            )
    token = _values(params, "nextPageToken")
    queryset = queryset.order_by("event_time", "pk")
    if token:
        try:
            moment_text, pk = signing.loads(token[0], salt=_PAGE_SALT)
            moment = datetime.fromisoformat(moment_text)
            queryset = queryset.filter(
                Q(event_time__gt=moment) | Q(event_time=moment, pk__gt=int(pk))
            )
        except (signing.BadSignature, ValueError, TypeError):
            errors.append({"event": None, "field": "nextPageToken", "message": MSG_TOKEN})
    if errors:
        raise QueryParameterError(errors)
    rows = list(queryset.select_related(None)[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    return Page(events=rows, next_token=page_token(rows[-1]) if more else None, per_page=per_page)


def query_events(queryset: QuerySet[Event], params: Any) -> Page:
    """Filter then paginate (the GET /epcis/events handler's work)."""
    return paginate(apply_filters(queryset, params), params)
