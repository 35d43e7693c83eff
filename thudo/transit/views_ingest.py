"""`POST /transit/ingest/v1/positions`: GPS devices post their positions (docs/transit-devices.md).

A thin edge over `ingest.ingest_positions`: the bearer token names the device, the body is
`{"positions": [record, ...]}` or one record object (optionally gzip-compressed), parsed once
with `json.loads`. The answer is 200 `{"accepted", "duplicates", "rejected": [...]}` — a refused
record never fails the request — or an error `{"code", "message", "fields"}` in the language of
Accept-Language (Vietnamese by default): 400 malformed, 401 bad_token, 405, 413 too_many,
415 unsupported_encoding, 503 unavailable (retry later). Refusals of whole requests are counted
per device like refused records (`IngestCounter`).
"""

from __future__ import annotations

import json
import logging
import zlib
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt

from thudo.core.errors import AuthenticationFailed, ThudoError

from . import ingest

log = logging.getLogger(__name__)

MAX_INFLATED_BYTES = 16 * 1024 * 1024  # a gzip body may not inflate beyond this


class BadToken(AuthenticationFailed):
    code = "bad_token"
    default_message = gettext_lazy(
        "The device token is missing or not valid: send 'Authorization: Bearer <token>' with "
        "the token issued for this device."
    )


class Malformed(ThudoError):
    code = "malformed"
    status = 400
    default_message = gettext_lazy("The request body is not a valid batch of positions.")


class TooMany(ThudoError):
    code = "too_many"
    status = 413
    default_message = gettext_lazy("Too many positions in one request.")


class UnsupportedEncoding(ThudoError):
    code = "unsupported_encoding"
    status = 415
    default_message = gettext_lazy("Only gzip (or no) Content-Encoding is accepted.")


class MethodNotAllowed(ThudoError):
    code = "method_not_allowed"
    status = 405
    default_message = gettext_lazy("Only POST is allowed here.")


class Unavailable(ThudoError):
    code = "unavailable"
    status = 503
    default_message = gettext_lazy(
        "The server cannot store positions right now; keep them and send them again shortly."
    )


def _json(data: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    return response


def _error(error: ThudoError) -> HttpResponse:
    response = _json(error.as_dict(), error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="thudo-transit"'
    elif error.status == 405:
        response["Allow"] = "POST"
    elif error.status == 503:
        response["Retry-After"] = "10"
    return response


def _bearer(request: HttpRequest) -> str:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _raw_body(request: HttpRequest) -> bytes:
    body = request.body
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedEncoding()
    inflater = zlib.decompressobj(wbits=31)
    try:
        raw = inflater.decompress(body, MAX_INFLATED_BYTES)
    except zlib.error:
        raise Malformed(fields={"body": _("The body is not valid gzip.")}) from None
    if inflater.unconsumed_tail:
        raise TooMany(
            _("The body inflates beyond %(mb)d MB.") % {"mb": MAX_INFLATED_BYTES // 2**20},
            fields={"body": _("Too large once decompressed.")},
        )
    return raw


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are both
        raise Malformed(fields={"body": _("The body is not valid JSON (UTF-8).")}) from None


def _named_device(request: HttpRequest) -> str:
    """The device id a refused request names in its body, for the counters (best effort)."""
    try:
        body = json.loads(_raw_body(request))
    except (ThudoError, ValueError, RecursionError):
        return ""
    named = body.get("device_id") if isinstance(body, dict) else None
    return named if isinstance(named, str) else ""


def _language(request: HttpRequest) -> str:
    """Accept-Language is honoured here (devices send no language cookie); Vietnamese first."""
    if request.headers.get("Accept-Language") and not request.COOKIES.get(
        settings.LANGUAGE_COOKIE_NAME
    ):
        return translation.get_language_from_request(request)
    return translation.get_language() or settings.LANGUAGE_CODE


@csrf_exempt
def ingest_positions(request: HttpRequest) -> HttpResponse:
    """Store a device's positions; see the module's docstring and docs/transit-devices.md."""
    with translation.override(_language(request)):
        try:
            return _ingest(request)
        except ThudoError as error:
            return _error(error)
        except DatabaseError:
            log.exception("transit ingest: the database refused a batch")
            return _error(Unavailable())


def _ingest(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        raise MethodNotAllowed()
    token = _bearer(request)
    device = ingest.authenticate(token) if token else None
    if device is None:
        ingest.count_rejection(
            _named_device(request) or "unknown",
            ingest.BAD_TOKEN,
            _("no token") if not token else _("unknown token ending %(end)s") % {"end": token[-4:]},
        )
        raise BadToken()
    key = device.device_id
    try:
        body = _parse(_raw_body(request))
        if not isinstance(body, dict):
            raise Malformed(
                fields={"body": _('Send a JSON object: {"positions": [...]} or one position.')}
            )
        named = body.get("device_id")
        if named is not None and named != key:
            ingest.count_rejection(
                str(named), ingest.BAD_TOKEN, _("token of device %(id)s") % {"id": key}
            )
            raise BadToken(_("This token belongs to another device than device_id names."))
        records = body.get("positions", [body])
        if not isinstance(records, list):
            raise Malformed(fields={"positions": _("Must be a list of positions.")})
    except (Malformed, TooMany, UnsupportedEncoding) as error:
        ingest.count_rejection(key, ingest.MALFORMED, str(error.message))
        raise
    limit = settings.TRANSIT_MAX_BATCH
    if len(records) > limit:
        ingest.count_rejection(
            key,
            ingest.TOO_MANY,
            _("%(n)d positions in one request") % {"n": len(records)},
            count=len(records),
        )
        message = _("At most %(max)d positions per request; send them in smaller batches.") % {
            "max": limit
        }
        raise TooMany(message, fields={"positions": message})
    result = ingest.ingest_positions(records=records, source="http", device=device, device_key=key)
    return _json(result.as_dict())
