"""Request context for the audit trail, and the Vietnamese-first language choice."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from . import context

_ALLOWED = {code for code, _name in settings.LANGUAGES}


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Behind a proxy set TRUSTED_PROXY_HEADER (README)."""
    header = getattr(settings, "TRUSTED_PROXY_HEADER", "")
    if header and (value := request.META.get(header)):
        return value.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming[:64] if incoming.isascii() and incoming else uuid.uuid4().hex
        token = context.set_current(context.RequestContext(request_id, client_ip(request)))
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class LanguageMiddleware:
    """Vietnamese unless the visitor chose otherwise (ADR 0005).

    Pages follow the language cookie set by the switcher and nothing else, so a new visitor
    always sees Vietnamese. The API also honours Accept-Language, which other systems send.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        lang = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if lang not in _ALLOWED:
            lang = ""
        if not lang and request.path.startswith("/api/"):
            accepted = translation.get_language_from_request(request)
            lang = accepted if accepted in _ALLOWED else ""
        lang = lang or settings.LANGUAGE_CODE
        translation.activate(lang)
        request.LANGUAGE_CODE = lang  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", lang)
        patch = response.headers.get("Vary", "")
        if "Cookie" not in patch:
            response["Vary"] = f"{patch}, Cookie" if patch else "Cookie"
        translation.deactivate()
        return response


class RequestSizeLimitMiddleware:
    """Refuse a request body larger than MAX_REQUEST_BYTES before Django reads it.

    Django streams uploaded files to a temporary file before any view can check them, so
    without this a multi-gigabyte POST would fill the disk first. The proxy in front should
    enforce the same limit (docs/operations.md); this guards the embedded set-up too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.MAX_REQUEST_BYTES
        if length.isdigit() and int(length) > limit:
            return _too_large(request, limit)
        return self.get_response(request)


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    from django.http import JsonResponse
    from django.template.defaultfilters import filesizeformat
    from django.utils.translation import gettext as _

    message = _("The request is too large: the limit is %(limit)s.") % {
        "limit": filesizeformat(limit)
    }
    if request.path.startswith("/api/"):
        body = {"code": "request_too_large", "message": message, "fields": {"file": [message]}}
        return JsonResponse(body, status=413)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
