"""The city PKI's public endpoints: the root certificate, the CRL, OCSP and the TSA.

No authentication and no CSRF: these are machine protocols (RFC 5280, 6960, 3161) that any
verifier reaches, as the URLs inside every certificate say.
"""

from __future__ import annotations

import base64
import binascii

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import pki

MAX_REQUEST_BYTES = 64 * 1024  # OCSP and time-stamp requests are a few hundred bytes
PKIX_CERT = "application/pkix-cert"
PKIX_CRL = "application/pkix-crl"
OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
TS_QUERY = "application/timestamp-query"
TS_REPLY = "application/timestamp-reply"


def _unavailable() -> HttpResponse:
    return HttpResponse("PKI not initialised\n", status=503, content_type="text/plain")


def _content_type(request: HttpRequest) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


def _body(request: HttpRequest) -> bytes | None:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_REQUEST_BYTES:
        return None
    return request.body


@require_GET
@cache_control(public=True, max_age=24 * 3600)
def root_certificate(request: HttpRequest) -> HttpResponse:
    try:
        cert = pki.root_certificate()
    except pki.PkiNotInitialised:
        return _unavailable()
    response = HttpResponse(pki.certificate_der(cert), content_type=PKIX_CERT)
    response["Content-Disposition"] = 'attachment; filename="thudo-root.crt"'
    return response


@require_GET
@cache_control(public=True, max_age=3600)
def crl(request: HttpRequest) -> HttpResponse:
    try:
        data = pki.crl_der()
    except pki.PkiNotInitialised:
        return _unavailable()
    return HttpResponse(data, content_type=PKIX_CRL)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def ocsp(request: HttpRequest, encoded: str = "") -> HttpResponse:
    """RFC 6960: POST the DER request, or GET /pki/ocsp/<base64 of the DER request>."""
    if request.method == "POST":
        if _content_type(request) != OCSP_REQUEST:
            return HttpResponseBadRequest("expected application/ocsp-request\n")
        body = _body(request)
        if body is None:
            return HttpResponseBadRequest("request too large\n")
    else:
        try:
            body = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=False)
        except (binascii.Error, ValueError):
            return HttpResponseBadRequest("not base64\n")
    return HttpResponse(pki.ocsp_response_der(body), content_type=OCSP_RESPONSE)


@csrf_exempt
@require_POST
def tsa(request: HttpRequest) -> HttpResponse:
    """RFC 3161 over HTTP: a TimeStampReq in, a TimeStampResp out; malformed requests get 400."""
    if _content_type(request) != TS_QUERY:
        return HttpResponseBadRequest("expected application/timestamp-query\n")
    body = _body(request)
    if body is None:
        return HttpResponseBadRequest("request too large\n")
    try:
        reply = pki.tsa_response_der(body)
    except pki.MalformedRequest:
        return HttpResponseBadRequest("malformed time-stamp request\n")
    except pki.PkiNotInitialised:
        return _unavailable()
    return HttpResponse(reply, content_type=TS_REPLY)
