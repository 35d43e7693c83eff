"""The OpenAPI root at /api/. Each domain mounts its router through the registry."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from thudo.core.errors import AuthenticationFailed, NotFound, Throttled, ThudoError
from thudo.core.registry import registry

from .auth import default_auth

api = NinjaAPI(
    title="Thudo API",
    version="1",
    description=(
        "The Digital Capital platform. Errors share one body: "
        "`{code, message, fields}`; messages follow Accept-Language (vi, en)."
    ),
    auth=default_auth,
    urls_namespace="api",
)


def _error(request: HttpRequest, exc: ThudoError) -> HttpResponse:
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    if isinstance(exc, Throttled) and exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="thudo"'
    return response


@api.exception_handler(ThudoError)
def _thudo_error(request: HttpRequest, exc: ThudoError) -> HttpResponse:
    return _error(request, exc)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload")]
        fields.setdefault(".".join(loc) or "request", []).append(str(err.get("msg", "")))
    body = {
        "code": "validation_failed",
        "message": _("Some fields are not valid."),
        "fields": fields,
    }
    return api.create_response(request, body, status=422)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, AuthenticationFailed())


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 404:
        return _error(request, NotFound())
    body = {"code": "http_error", "message": str(exc), "fields": {}}
    return api.create_response(request, body, status=exc.status_code)


@api.get("/health", auth=None, tags=["platform"], summary="Liveness: the app answers")
def health(request: HttpRequest) -> dict[str, str]:
    return {"status": "ok", "city": settings.THUDO_CITY["NAME"]}


for mount in registry.api_mounts():
    api.add_router(mount.prefix, import_string(mount.router))
