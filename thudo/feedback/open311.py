"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the feedback tables.

A category is a service, a report is a service request (ADR 0013). Plain Django views, because
the spec fixes the URL suffixes (`.xml`, `.json`), the XML element names and the error bodies:

- `discovery.{fmt}`: the Service Discovery document of this endpoint.
- `services.{fmt}`, `services/{service_code}.{fmt}`: the categories that can be reported, and a
  category's questions as the service definition's attributes.
- `requests.{fmt}` GET: public reports, newest first, filtered by `service_request_id` (comma
  separated; overrides the other filters), `service_code`, `status` (open, closed; comma
  separated), `start_date` / `end_date` (W3C dates). Without dates the last 90 days are listed;
  a range may not span more than 90 days; at most 1000 requests are returned (MAX_REQUESTS).
- `requests.{fmt}` POST (`api_key` = a Thudo API token of an information-system account): files
  a report synchronously, so the answer carries `service_request_id` (no token, as the spec
  asks). `lat` and `long` are required: the city does not geocode an `address_string` (it is
  kept as the address) and has no master address repository (`address_id` is refused).
  `media_url` is accepted and ignored: nothing is fetched from other servers and only files the
  city has checked and stripped are shown, so a photo must be sent as a multipart `media` file.
  `account_id` is not kept (the person has no account here), so the answer's is null. The
  `attribute[code]` answers are checked against the definition by services.attributes_check.
- `requests/{id}.{fmt}`: one public report as a one-element list.
- `tokens/{token}.{fmt}`: the report's number from its token.

Errors are the spec's bodies (`[{"code": 400, "description": "…"}]`, `<errors><error>…`) with the
same HTTP status: 400 (bad input), 403 (api_key), 404 (unknown service, request, token,
jurisdiction, format or path), 405 (method), 429 (the flood limit of one person through one
client, with Retry-After). Texts are English unless the client's Accept-Language prefers
Vietnamese. Dates are ISO 8601 with the city's offset (2026-11-23T09:15:00+07:00).
"""

from __future__ import annotations

import json
import math
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch, Q, prefetch_related_objects
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from thudo.accounts import services as account_services
from thudo.accounts.models import User
from thudo.core.errors import NotFound, Throttled, ThudoError, ValidationFailed

from . import selectors, services
from .models import Category, Report, ReportMedia, ReportStatus

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00+07:00"  # the last change to what this endpoint answers
MAX_REQUESTS = 1000  # the spec's default cap of GET requests
DEFAULT_DAYS = 90  # the spec's default (and longest) date range of GET requests
MAX_IDS = 1000
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
}
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
OPEN = (ReportStatus.SUBMITTED, ReportStatus.ACCEPTED)
CLOSED = (ReportStatus.ANSWERED, ReportStatus.CLOSED, ReportStatus.WITHDRAWN)
# Our field names in ValidationFailed → the names an Open311 client sent.
FIELD_NAMES = {
    "category": "service_code",
    "latitude": "lat",
    "longitude": "long",
    "position": "lat/long",
    "unit_code": "lat/long",
    "address": "address_string",
}
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# XML element of each item of a list, by the list's element name.
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


class Open311Error(Exception):
    """An error answered with the spec's body and the same HTTP status."""

    def __init__(self, status: int, *descriptions: str, retry_after: int = 0) -> None:
        self.status = status
        self.descriptions = list(descriptions) or [_("The request could not be completed.")]
        self.retry_after = retry_after
        super().__init__("; ".join(self.descriptions))


# --- Rendering ---------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return XML_ILLEGAL.sub("", str(value))  # control characters XML 1.0 cannot carry


def _xml_fill(parent: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _xml_fill(ET.SubElement(parent, key), item)
    elif isinstance(value, list):
        tag = XML_ITEMS[parent.tag]
        for item in value:
            _xml_fill(ET.SubElement(parent, tag), item)
    else:
        parent.text = _text(value)


def render(fmt: str, root: str, data: Any, *, status: int = 200) -> HttpResponse:
    """`data` as the spec's JSON, or as XML under `root` (lists get XML_ITEMS children)."""
    if fmt == "xml":
        element = ET.Element(root)
        _xml_fill(element, data)
        body = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")
    else:
        body = json.dumps(data, ensure_ascii=False)
    return HttpResponse(body.encode(), status=status, content_type=CONTENT_TYPES[fmt])


def error_response(fmt: str, error: Open311Error) -> HttpResponse:
    errors = [{"code": error.status, "description": d} for d in error.descriptions]
    response = render(fmt, "errors", errors, status=error.status)
    if error.retry_after:
        response["Retry-After"] = str(error.retry_after)
    return response


def _w3c(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    local = timezone.localtime(moment, ZoneInfo(settings.TIME_ZONE))
    return local.isoformat(timespec="seconds")


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _localised(vi: str, en: str) -> str:
    return (en or vi) if _english() else vi


# --- The decorator shared by every endpoint -------------------------------------------------


def _client_language(request: HttpRequest) -> str:
    """English unless Accept-Language prefers Vietnamese (Open311 clients are programs)."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = tag.strip().lower().split("-")[0]
        if code in {"vi", "en"} and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else "en"


def _format_of(request: HttpRequest, fmt: str | None) -> str:
    if fmt in CONTENT_TYPES:
        return str(fmt)
    return "json" if "json" in request.headers.get("Accept", "") else "xml"


def endpoint(*methods: str) -> Callable[..., Callable[..., HttpResponse]]:
    """Format suffix, method, jurisdiction and language checks; errors as the spec's bodies."""

    allowed = (*methods, "HEAD") if "GET" in methods else methods

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, fmt: str | None = None, **kwargs: Any) -> Any:
            with translation.override(_client_language(request)):
                answer_fmt = _format_of(request, fmt)
                try:
                    if fmt is None:
                        raise Open311Error(
                            400, _("Add the response format to the URL: .xml or .json.")
                        )
                    if fmt not in CONTENT_TYPES:
                        raise Open311Error(
                            404,
                            _("The format {format} is not supported: use .xml or .json.").format(
                                format=fmt
                            ),
                        )
                    if request.method not in allowed:
                        raise Open311Error(
                            405,
                            _("The method {method} is not allowed here.").format(
                                method=request.method
                            ),
                        )
                    _refuse_nul(request, kwargs)
                    _check_jurisdiction(request)
                    response = view(request, fmt, *args, **kwargs)
                except Open311Error as error:
                    response = error_response(answer_fmt, error)
                    if error.status == 405:
                        response["Allow"] = ", ".join(allowed)
                except ThudoError as error:
                    response = error_response(answer_fmt, _domain_error(error))
                response.headers.setdefault("Content-Language", translation.get_language())
                patch_vary_headers(response, ["Accept-Language", "Accept"])
                return response

        return csrf_exempt(wrapper)

    return decorate


def _refuse_nul(request: HttpRequest, path_values: dict[str, Any]) -> None:
    """NUL is no text (and PostgreSQL refuses it): a 400, not a database error."""
    values = [*path_values.values(), *request.GET.values()]
    if request.method == "POST":
        values += [v for _key, items in request.POST.lists() for v in items]
    if any("\x00" in str(value) for value in values):
        raise Open311Error(400, _("The request contains a NUL character."))


def _check_jurisdiction(request: HttpRequest) -> None:
    given = (request.POST.get("jurisdiction_id") if request.method == "POST" else None) or (
        request.GET.get("jurisdiction_id", "")
    )
    ours = getattr(settings, "OPEN311_JURISDICTION", "hanoi.gov.vn")
    if given.strip() and given.strip() != ours:
        raise Open311Error(
            404,
            _("jurisdiction_id {given} was not found: this endpoint serves {ours}.").format(
                given=given.strip(), ours=ours
            ),
        )


def _open311_field(name: str) -> str:
    if name.startswith("attribute:"):
        return f"attribute[{name.removeprefix('attribute:')}]"
    return FIELD_NAMES.get(name, name)


def _domain_error(error: ThudoError) -> Open311Error:
    """Our domain errors as Open311 ones: field errors become one error each."""
    if isinstance(error, Throttled):
        return Open311Error(429, str(error.message), retry_after=error.retry_after)
    if isinstance(error, NotFound):
        return Open311Error(404, str(error.message))
    status = 403 if error.status in (401, 403) else 400
    descriptions: list[str] = []
    for name, value in error.as_dict()["fields"].items():
        descriptions.extend(f"{_open311_field(name)}: {message}" for message in value)
    if not descriptions or not isinstance(error, ValidationFailed):
        descriptions.insert(0, str(error.message))
    return Open311Error(status, *descriptions)


# --- Services -------------------------------------------------------------------------------


def _service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": _localised(category.name, category.name_en),
        "description": _localised(category.description, category.description_en) or None,
        "metadata": bool(_questions(category)),
        "type": "realtime",
        "keywords": category.keywords or None,
        "group": category.group or None,
    }


def _datatype_description(datatype: str) -> str | None:
    if datatype == "number":
        return _("A number, e.g. 12 or 3.5.")
    if datatype == "datetime":
        return _("A date and time in ISO 8601, e.g. 2026-11-23T09:15:00+07:00.")
    if datatype == "singlevaluelist":
        return _("The key of one of the values.")
    if datatype == "multivaluelist":
        return _("Keys of the values, each sent as attribute[code][]=key.")
    return None


def _questions(category: Category) -> list[dict[str, Any]]:
    """The category's well-formed questions in their order."""
    questions = [q for q in category.questions or [] if isinstance(q, dict) and q.get("code")]
    numbered = [(int(q.get("order") or i), i, q) for i, q in enumerate(questions, start=1)]
    return [q for _order, _i, q in sorted(numbered, key=lambda t: (t[0], t[1]))]


def _attribute(question: dict[str, Any], order: int) -> dict[str, Any]:
    datatype = question.get("datatype") or "string"
    datatype = datatype if datatype in DATATYPES else "string"
    values = [
        {
            "key": str(value.get("key")),
            "name": _localised(str(value.get("name") or ""), str(value.get("name_en") or "")),
        }
        for value in question.get("values") or []
        if isinstance(value, dict)
    ]
    return {
        "variable": True,
        "code": str(question["code"]),
        "datatype": datatype,
        "required": bool(question.get("required")),
        "datatype_description": _datatype_description(datatype),
        "order": order,
        "description": _localised(
            str(question.get("label") or question["code"]), str(question.get("label_en") or "")
        ),
        "values": values,
    }


@endpoint("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    url = request.build_absolute_uri(reverse("open311:root", kwargs={"rest": ""}))
    contact = getattr(settings, "OPEN311_CONTACT", "") or _(
        "The city's Digital Transformation Centre; see the contact page of this site."
    )
    key_service = getattr(settings, "OPEN311_KEY_SERVICE", "") or _(
        "Ask the city for an API key: an API token of an information-system account."
    )
    data = {
        "changeset": CHANGESET,
        "contact": str(contact),
        "key_service": str(key_service),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", data)


@endpoint("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    # Categories answered by an emergency number take no reports, so they are not services.
    categories = selectors.categories_active().filter(redirect_phone="")
    return render(fmt, "services", [_service(category) for category in categories])


def _category(code: str) -> Category:
    try:
        return selectors.category_get(code=code)
    except NotFound:
        raise Open311Error(404, _("service_code {code} was not found.").format(code=code)) from None


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, service_code: str) -> HttpResponse:
    category = _category(service_code)
    attributes = [_attribute(q, i) for i, q in enumerate(_questions(category), start=1)]
    data = {"service_code": category.code, "attributes": attributes}
    return render(fmt, "service_definition", data)


# --- Requests -------------------------------------------------------------------------------


def _public_photos() -> Prefetch:
    # The photos of the problem as selectors.report_media_public shows them (never a video,
    # nothing of an internal event), for every report of a list in one query.
    photos = ReportMedia.objects.filter(
        Q(event__isnull=True) | Q(event__public=True),
        kind=ReportMedia.Kind.PHOTO,
        purpose=ReportMedia.Purpose.REPORT,
    ).order_by("pk")
    return Prefetch("media", queryset=photos, to_attr="open311_photos")


def _media_url(request: HttpRequest, report: Report) -> str | None:
    photos = report.open311_photos  # type: ignore[attr-defined]  # set by _public_photos()
    if not photos:
        return None
    try:
        return request.build_absolute_uri(reverse("feedback:media", args=[photos[0].pk]))
    except NoReverseMatch:
        return None


def _status_notes(report: Report) -> str | None:
    if report.status in (ReportStatus.ANSWERED, ReportStatus.CLOSED) and report.answer:
        return report.answer
    return str(report.get_status_display())


def _service_notice(report: Report) -> str | None:
    if report.status not in OPEN:
        return None
    due = timezone.localtime(report.resolve_due, ZoneInfo(settings.TIME_ZONE))
    return _("{agency} handles this report; it is due to be resolved by {due}.").format(
        agency=_agency_name(report), due=due.strftime("%Y-%m-%d %H:%M")
    )


def _agency_name(report: Report) -> str:
    agency = report.agency
    return _localised(agency.name, getattr(agency, "name_en", "") or "")


def _request(request: HttpRequest, report: Report) -> dict[str, Any]:
    category = report.category
    return {
        "service_request_id": report.pk,
        "status": "open" if report.status in OPEN else "closed",
        "status_notes": _status_notes(report),
        "service_name": _localised(category.name, category.name_en),
        "service_code": category.code,
        "description": report.description,
        "agency_responsible": _agency_name(report),
        "service_notice": _service_notice(report),
        "requested_datetime": _w3c(report.submitted_at),
        "updated_datetime": _w3c(report.updated_at),
        "expected_datetime": _w3c(report.resolve_due),
        "address": report.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": report.latitude,
        "long": report.longitude,
        "media_url": _media_url(request, report),
    }


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _moment(params: QueryDict, name: str) -> datetime | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    raw = raw.replace(" ", "+")  # an unencoded "+07:00" arrives as " 07:00"
    try:
        parsed = parse_datetime(raw)
        day = None if parsed else parse_date(raw)
    except ValueError:
        parsed = day = None
    if parsed is None and day is not None:
        parsed = datetime.combine(day, time.min)
    if parsed is None:
        raise Open311Error(
            400,
            _("{name} must be a W3C date and time, e.g. 2026-11-23T09:15:00+07:00.").format(
                name=name
            ),
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, ZoneInfo(settings.TIME_ZONE))
    return parsed


def _period(params: QueryDict) -> tuple[datetime, datetime]:
    """The spec's range: the last 90 days unless given; never longer than 90 days."""
    start, end = _moment(params, "start_date"), _moment(params, "end_date")
    span = timedelta(days=DEFAULT_DAYS)
    if start is None and end is None:
        end = timezone.now()
    if end is None:
        assert start is not None
        end = start + span
    if start is None:
        start = end - span
    if end < start:
        raise Open311Error(400, _("end_date must not be before start_date."))
    if end - start > span:
        raise Open311Error(
            400,
            _("start_date and end_date may not span more than {days} days.").format(
                days=DEFAULT_DAYS
            ),
        )
    return start, end


def _statuses(params: QueryDict) -> list[str] | None:
    wanted = {s.lower() for s in _split(params.get("status"))}
    unknown = wanted - {"open", "closed"}
    if unknown:
        raise Open311Error(
            400,
            _("status must be open or closed (comma separated), not {status}.").format(
                status=", ".join(sorted(unknown))
            ),
        )
    if not wanted or wanted == {"open", "closed"}:
        return None
    return [str(s) for s in (OPEN if "open" in wanted else CLOSED)]


def _ids(params: QueryDict) -> list[int]:
    ids: list[int] = []
    for part in _split(params.get("service_request_id")):
        if not part.isdigit():
            raise Open311Error(
                400,
                _("service_request_id must be numbers separated by commas, not {value}.").format(
                    value=part
                ),
            )
        ids.append(int(part))
    if len(ids) > MAX_IDS:
        raise Open311Error(
            400, _("At most {count} service_request_id at once.").format(count=MAX_IDS)
        )
    return ids


def _requests_list(request: HttpRequest, fmt: str) -> HttpResponse:
    params = request.GET
    every_status = [str(s) for s in (*OPEN, *CLOSED)]
    ids = _ids(params)
    if ids:  # "This overrides all other arguments."
        reports = selectors.reports_public(statuses=every_status, limit=None).filter(pk__in=ids)
    else:
        start, end = _period(params)
        reports = selectors.reports_public(
            category_codes=_split(params.get("service_code")) or None,
            statuses=_statuses(params) or every_status,
            start=start,
            end=end,
            limit=MAX_REQUESTS,
        )
    rows = list(reports.prefetch_related(_public_photos()))
    return render(fmt, "service_requests", [_request(request, r) for r in rows])


@endpoint("GET", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _requests_create(request, fmt)
    return _requests_list(request, fmt)


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    try:
        report = selectors.report_public_get(report_id=service_request_id)
    except NotFound:
        raise Open311Error(
            404, _("service_request_id {id} was not found.").format(id=service_request_id)
        ) from None
    prefetch_related_objects([report], _public_photos())
    return render(fmt, "service_requests", [_request(request, report)])


@endpoint("GET")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    report_id = _report_id_of_token(token)
    if report_id is None:
        raise Open311Error(404, _("token {token} was not found.").format(token=token))
    return render(fmt, "service_requests", [{"service_request_id": report_id, "token": token}])


def _report_id_of_token(token: str) -> int | None:
    try:
        value = uuid.UUID(token)
    except ValueError:
        return None
    # The token is known only to the client that filed the report; the number it gives away
    # is public anyway (GET requests/{id} still answers only for public reports).
    return Report.objects.filter(token=value).values_list("pk", flat=True).first()


# --- POST requests ---------------------------------------------------------------------------


def _param(request: HttpRequest, name: str) -> str:
    return (request.POST.get(name) or "").strip()


def _client(request: HttpRequest) -> User:
    raw = _param(request, "api_key") or (request.GET.get("api_key") or "").strip()
    if not raw:
        raise Open311Error(403, _("api_key was not provided."))
    try:
        user = account_services.api_token_authenticate(raw=raw)
    except ThudoError:
        raise Open311Error(403, _("api_key is not valid.")) from None
    if user.kind != User.Kind.SYSTEM:
        raise Open311Error(403, _("api_key does not belong to an information system."))
    return user


def _coordinate(request: HttpRequest, name: str, limit: float) -> float | None:
    raw = _param(request, name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        raise Open311Error(400, _("{name} must be a WGS84 number.").format(name=name))
    return value


def _position(request: HttpRequest) -> tuple[float, float]:
    lat, lng = _coordinate(request, "lat", 90), _coordinate(request, "long", 180)
    if lat is not None and lng is not None:
        return lat, lng
    if lat is not None or lng is not None:
        raise Open311Error(400, _("lat and long must be sent together."))
    if _param(request, "address_id"):
        raise Open311Error(400, _("address_id is not supported here: send lat and long (WGS84)."))
    raise Open311Error(
        400,
        _(
            "lat and long are required: this city places a report on the map and does not "
            "look up an address_string."
        ),
    )


def _attributes(request: HttpRequest, category: Category) -> dict[str, Any]:
    """The wire format's answers (attribute[code]=value, attribute[code][]=value for a
    multivaluelist) as {code: value}; the service checks them against the definition."""
    answers: dict[str, Any] = {}
    for question in _questions(category):
        code = str(question["code"])
        values = request.POST.getlist(f"attribute[{code}]") + request.POST.getlist(
            f"attribute[{code}][]"
        )
        values = [v.strip() for v in values if v.strip()]
        if question.get("datatype") == "multivaluelist":
            answers[code] = values
        elif len(values) > 1:
            raise Open311Error(400, _("attribute[{code}] takes one value.").format(code=code))
        elif values:
            answers[code] = values[0]
    return answers


def _contact(request: HttpRequest) -> dict[str, str]:
    name = " ".join(p for p in (_param(request, "first_name"), _param(request, "last_name")) if p)
    return {
        "name": name,
        "email": _param(request, "email"),
        "phone": _param(request, "phone"),
        "device_id": _param(request, "device_id"),
    }


def _requests_create(request: HttpRequest, fmt: str) -> HttpResponse:
    client = _client(request)
    code = _param(request, "service_code")
    if not code:
        raise Open311Error(400, _("service_code was not provided."))
    category = _category(code)
    latitude, longitude = _position(request)
    report = services.report_submit(
        reporter=None,
        category=category,
        description=request.POST.get("description") or "",
        latitude=latitude,
        longitude=longitude,
        address=_param(request, "address_string"),
        attributes=_attributes(request, category),
        media=request.FILES.getlist("media"),
        source=Report.Source.OPEN311,
        client=client,
        contact=_contact(request),
        require_media=False,
    )
    answer = {
        "service_request_id": report.pk,
        "service_notice": _service_notice(report),
        "account_id": None,
    }
    return render(fmt, "service_requests", [answer])


# --- Anything else under /open311/v2/ ----------------------------------------------------------


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    with translation.override(_client_language(request)):
        fmt = rest.rsplit(".", 1)[-1] if "." in rest else ""
        return error_response(
            _format_of(request, fmt),
            Open311Error(404, _("There is no Open311 resource at this address.")),
        )
