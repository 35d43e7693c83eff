"""The EPCIS 2.0 REST binding: capture and query (docs/trace.md).

Authentication: the page session (unsafe methods then need the CSRF token, as pages do) or
``Authorization: Bearer thd_…`` (an API token; no CSRF). Producers' members capture for their
producer — the one named by the ``Thudo-Producer: <id>`` header, or their only one. Queries
return the events of the caller's producers; officials holding trace.view see every event.

Errors are RFC 7807 problem details (application/problem+json) with EPCIS 2.0's exception types
and our ``errors`` list: ``[{"event": 1, "field": "epcList[0]", "message": "…"}]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, urlencode

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt

from thudo.accounts import services as account_services
from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.errors import ThudoError

from .epcis import query as epcis_query
from .epcis import serialize
from .epcis.capture import capture_document, capture_events
from .epcis.validate import (
    EPCIS_CONTEXT,
    EVENT_TYPES,
    MAX_BYTES,
    EpcisValidationError,
    rendered_errors,
)
from .identifiers import parse_epc
from .models import Event, EventEpc, Producer

JSON_TYPES = ("application/json", "application/ld+json")
PROBLEM = "application/problem+json"

EXC_VALIDATION = "epcisException:ValidationException"
EXC_QUERY = "epcisException:QueryParameterException"
EXC_NOT_FOUND = "epcisException:NoSuchResourceException"
EXC_SECURITY = "epcisException:SecurityException"
EXC_TOO_LARGE = "epcisException:CaptureLimitExceededException"
EXC_MEDIA = "epcisException:UnsupportedMediaTypeException"
EXC_NOT_ACCEPTABLE = "epcisException:NotAcceptableException"
EXC_METHOD = "epcisException:MethodNotAllowedException"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        kind: str,
        title: Any,
        detail: Any = "",
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.errors = errors or []
        super().__init__(str(title))


def problem_response(problem: Problem, request: HttpRequest | None = None) -> HttpResponse:
    body: dict[str, Any] = {
        "type": problem.kind,
        "title": str(problem.title),
        "status": problem.status,
        "detail": str(problem.detail or problem.title),
        "errors": rendered_errors(problem.errors),
    }
    if request is not None:
        body["instance"] = request.get_full_path()
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=problem.status, content_type=PROBLEM
    )
    if problem.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="epcis"'
    return response


def _json_response(data: Any, request: HttpRequest, status: int = 200) -> HttpResponse:
    accept = request.headers.get("Accept", "")
    kind = "application/json" if _prefers_plain_json(accept) else "application/ld+json"
    return HttpResponse(
        json.dumps(data, ensure_ascii=False), status=status, content_type=f"{kind}; charset=utf-8"
    )


def _prefers_plain_json(accept: str) -> bool:
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    for kind in kinds:
        if kind == "application/ld+json":
            return False
        if kind == "application/json":
            return True
    return False


def _check_accept(request: HttpRequest) -> None:
    accept = request.headers.get("Accept", "")
    if not accept.strip():
        return
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()]
    if not any(k in (*JSON_TYPES, "*/*", "application/*") for k in kinds):
        raise Problem(
            406,
            EXC_NOT_ACCEPTABLE,
            _("This resource is served as application/ld+json or application/json."),
        )


# --- authentication ---------------------------------------------------------------------------


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:  # type: ignore[override]
        raise Problem(403, EXC_SECURITY, _("CSRF check failed."), reason)


def _authenticate(request: HttpRequest) -> Any:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise Problem(401, EXC_SECURITY, _("Expected 'Authorization: Bearer <token>'."), "")
        try:
            user = account_services.api_token_authenticate(raw=raw.strip())
        except ThudoError as error:
            raise Problem(401, EXC_SECURITY, error.message) from None
        request.user = user  # type: ignore[assignment]
        return user
    session_user = getattr(request, "user", None)
    if session_user is None or not session_user.is_authenticated or not session_user.is_active:
        raise Problem(
            401,
            EXC_SECURITY,
            _("Authentication is required: sign in, or send an API token as Bearer."),
        )
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        checker = _CsrfCheck(lambda r: HttpResponse())
        checker.process_request(request)
        checker.process_view(request, lambda r: HttpResponse(), (), {})
    return session_user


def endpoint(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., Any]]:
    """Authenticate, check the method and turn Problems into problem+json responses."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., Any]:
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in methods:
                    response = problem_response(
                        Problem(405, EXC_METHOD, _("This method is not allowed here.")), request
                    )
                    response["Allow"] = ", ".join(methods)
                    return response
                user = _authenticate(request)
                return view(request, user, *args, **kwargs)
            except Problem as problem:
                return problem_response(problem, request)

        wrapper.__name__ = view.__name__
        wrapper.__doc__ = view.__doc__
        return csrf_exempt(wrapper)

    return decorate


# --- who may do what ----------------------------------------------------------------------------


def visible_events(user: Any) -> QuerySet[Event]:
    """Every event for officials with trace.view; else the events of the user's producers."""
    if can(user, Perm.TRACE_VIEW):
        return Event.objects.all()
    return Event.objects.filter(producer__members__user=user)


def _capturing_producer(request: HttpRequest, user: Any) -> Producer:
    memberships = Producer.objects.filter(members__user=user, is_active=True)
    wanted = request.headers.get("Thudo-Producer", "").strip()
    if wanted:
        producer = memberships.filter(pk=wanted).first() if wanted.isdigit() else None
        if producer is None:
            raise Problem(
                403,
                EXC_SECURITY,
                _("You may not record events for this producer."),
                _("The Thudo-Producer header names a producer you are not a member of."),
            )
        return producer
    producers = list(memberships[:2])
    if not producers:
        raise Problem(403, EXC_SECURITY, _("Only the members of a producer may record its events."))
    if len(producers) > 1:
        raise Problem(
            400,
            EXC_VALIDATION,
            _("You belong to several producers: name one in the Thudo-Producer header."),
        )
    return producers[0]


def _read_json(request: HttpRequest) -> Any:
    kind = request.content_type.lower() if request.content_type else ""
    if kind not in JSON_TYPES:
        raise Problem(
            415,
            EXC_MEDIA,
            _("Send the EPCIS document as application/ld+json or application/json."),
        )
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > MAX_BYTES:
        raise _too_large()
    data = request.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _too_large()
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Problem(
            400,
            EXC_VALIDATION,
            _("The body is not valid JSON."),
            str(error),
            [{"event": None, "field": "document", "message": _("The body is not valid JSON.")}],
        ) from None


def _too_large() -> Problem:
    return Problem(
        413,
        EXC_TOO_LARGE,
        _("The document is larger than 5 MB: split it into several captures."),
    )


def _invalid(error: EpcisValidationError) -> Problem:
    return Problem(400, EXC_VALIDATION, error.message, "", error.errors)


def _event_url(event_id: str) -> str:
    """The event's URL with its id fully percent-encoded (ids hold ":", "/", ";" and "?")."""
    return reverse("epcis:events") + "/" + quote(event_id, safe="")


# --- capture ------------------------------------------------------------------------------------


@endpoint("POST")
def capture(request: HttpRequest, user: Any) -> HttpResponse:
    """POST /epcis/capture — an EPCISDocument; 202 and the capture's Location."""
    document = _read_json(request)
    producer = _capturing_producer(request, user)
    try:
        result = capture_document(document=document, producer=producer, user=user)
    except EpcisValidationError as error:
        raise _invalid(error) from None
    location = reverse("epcis:capture_status", kwargs={"capture_id": result.capture_id})
    response = _json_response(_capture_status(result.capture_id, result.events), request, 202)
    response["Location"] = location
    return response


def _capture_status(capture_id: str, events: list[Event]) -> dict[str, Any]:
    return {
        "captureID": capture_id,
        "createdAt": serialize.iso(events[0].record_time) if events else None,
        "finishedAt": serialize.iso(events[0].record_time) if events else None,
        "running": False,
        "success": True,
        "captureErrorBehaviour": "rollback",
        "errors": [],
        "eventCount": len(events),
        "eventIDs": [e.event_id for e in events],
    }


@endpoint("GET")
def capture_status(request: HttpRequest, user: Any, capture_id: str) -> HttpResponse:
    """GET /epcis/capture/<id> — captures are synchronous: this reports the finished job."""
    _check_accept(request)
    events = list(
        visible_events(user).filter(capture_id=capture_id).order_by("pk").only("event_id")
    )
    if not events:
        raise Problem(404, EXC_NOT_FOUND, _("There is no capture with this id."))
    events = list(Event.objects.filter(pk__in=[e.pk for e in events]).order_by("pk"))
    return _json_response(_capture_status(capture_id, events), request)


# --- events -------------------------------------------------------------------------------------


@endpoint("GET", "POST")
def events(request: HttpRequest, user: Any) -> HttpResponse:
    """GET /epcis/events — query; POST /epcis/events — capture one event (201)."""
    if request.method == "POST":
        event = _read_json(request)
        producer = _capturing_producer(request, user)
        context = event.get("@context") if isinstance(event, dict) else None
        try:
            result = capture_events(events=[event], producer=producer, user=user, context=context)
        except EpcisValidationError as error:
            raise _invalid(error) from None
        stored = result.events[0]
        response = _json_response(serialize.single_event(stored), request, 201)
        response["Location"] = _event_url(stored.event_id)
        return response
    return _query(request, visible_events(user), request.GET)


def _query(request: HttpRequest, queryset: QuerySet[Event], params: Any) -> HttpResponse:
    _check_accept(request)
    try:
        page = epcis_query.query_events(queryset, params)
    except epcis_query.QueryParameterError as error:
        raise Problem(
            400, EXC_QUERY, _("Some query parameters are not valid."), "", error.errors
        ) from None
    response = _json_response(serialize.query_document(page.events), request)
    if page.next_token:
        query = request.GET.copy()
        query["nextPageToken"] = page.next_token
        query["perPage"] = str(page.per_page)
        link = request.build_absolute_uri(f"{request.path}?{urlencode(query, doseq=True)}")
        response["Link"] = f'<{link}>; rel="next"'
    return response


@endpoint("GET")
def event_detail(request: HttpRequest, user: Any, event_id: str) -> HttpResponse:
    """GET /epcis/events/<eventID> (the id URL-encoded)."""
    _check_accept(request)
    wanted = {event_id, unquote(event_id)}
    event = visible_events(user).filter(event_id__in=wanted).first()
    if event is None:
        raise Problem(404, EXC_NOT_FOUND, _("There is no event with this id."))
    return _json_response(serialize.single_event(event), request)


@endpoint("GET")
def event_types(request: HttpRequest, user: Any) -> HttpResponse:
    """GET /epcis/eventTypes — the event types this repository holds."""
    _check_accept(request)
    return _json_response(
        {"@context": EPCIS_CONTEXT, "type": "Collection", "member": list(EVENT_TYPES)}, request
    )


@endpoint("GET")
def event_type_events(request: HttpRequest, user: Any, event_type: str) -> HttpResponse:
    """GET /epcis/eventTypes/<type>/events"""
    if event_type not in EVENT_TYPES:
        raise Problem(404, EXC_NOT_FOUND, _("There is no such event type."))
    params = request.GET.copy()
    params.setlist("eventType", [event_type])
    return _query(request, visible_events(user), params)


@endpoint("GET")
def epc_events(request: HttpRequest, user: Any, epc: str) -> HttpResponse:
    """GET /epcis/epcs/<epc>/events — events naming the EPC (or, for a class, the class)."""
    epc = unquote(epc)
    match = epcis_query.epc_q([epc], epcis_query.INSTANCE_ROLES["MATCH_anyEPC"], classes=False)
    parsed = parse_epc(epc)
    if parsed is not None and not parsed.serial:
        match |= epcis_query.epc_q(
            [epc], epcis_query.CLASS_ROLES["MATCH_anyEPCClass"], classes=True
        )
    rows = EventEpc.objects.filter(match)
    queryset = visible_events(user).filter(pk__in=rows.values("event_id"))
    return _query(request, queryset, request.GET)
