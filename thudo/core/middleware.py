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
