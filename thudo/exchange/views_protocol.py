"""The exchange's HTTP edges: the protocol endpoint (client systems and other nodes), the node's
public keys, the service catalogue, grant management, the operations page and the metrics.

Thin views: the protocol's rules are thudo.exchange.node's, the grant rules
thudo.exchange.services', the figures thudo.exchange.metrics'.
"""

from __future__ import annotations

import ipaddress
import json
import secrets

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.errors import NotFound, ThudoError
from thudo.core.registry import MenuEntry
from thudo.web.access import official_required

from . import keys, metrics, node, selectors, services
from . import protocol as p
from .forms import GrantForm, RevokeForm
from .models import Grant

PROTOCOL_MENU = [
    MenuEntry(
        gettext_lazy("Data exchange services"),
        "exchange:catalogue",
        "official",
        icon="globe",
        order=63,
    ),
    MenuEntry(
        gettext_lazy("Data access rights"),
        "exchange:grants",
        "official",
        icon="key",
        order=64,
        permission=Perm.EXCHANGE_MANAGE,
    ),
    MenuEntry(
        gettext_lazy("Data exchange operations"),
        "exchange:ops",
        "official",
        icon="chart",
        order=65,
        permission=Perm.EXCHANGE_OPERATE,
    ),
]
"""Menu entries for the exchange manifest (the integrator registers them)."""

# --- the protocol -----------------------------------------------------------------------------


def _incoming(request: HttpRequest, rest: str) -> node.Incoming:
    length = request.META.get("CONTENT_LENGTH") or "0"
    too_large = length.isdigit() and int(length) > node.max_body_bytes()
    body: bytes | None = None if too_large else request.body
    return node.Incoming(
        method=(request.method or "GET").upper(),
        target=rest,
        query=request.META.get("QUERY_STRING", ""),
        body=body,
        headers={k.lower(): v for k, v in request.headers.items()},
        content_type=request.META.get("CONTENT_TYPE", ""),
    )


def _response(outcome: node.Outcome) -> HttpResponse:
    response = HttpResponse(
        outcome.body, status=outcome.status, content_type=outcome.content_type or node.JSON
    )
    for name, value in outcome.headers.items():
        if value:
            response[name] = value
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
def protocol(request: HttpRequest, rest: str) -> HttpResponse:
    """`{METHOD} /exchange/r1/<service identifier>/<path>`: a client system's call (bearer
    client assertion) or, signed by another node (Thudo-Signature, Thudo-Client), a call to a
    service hosted here."""
    language = None
    if request.headers.get("Accept-Language") and not request.COOKIES.get(
        settings.LANGUAGE_COOKIE_NAME
    ):
        language = translation.get_language_from_request(request)
    with translation.override(language or translation.get_language()):
        incoming = _incoming(request, rest)
        auth = request.headers.get("Authorization", "")
        if not auth and request.headers.get(p.H_SIGNATURE):
            outcome = node.handle_provider(incoming)
        else:
            scheme, _sep, token = auth.partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else ""
            outcome = node.handle_client(incoming, assertion=token)
    return _response(outcome)


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    """This node's public signing key (JWK Set): it verifies every Thudo-Signature it made."""
    response = JsonResponse({"keys": [keys.node_public_jwk()]})
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def nodes(request: HttpRequest) -> HttpResponse:
    """The nodes this node knows (the shared configuration): code, address and public key, so
    that a client can verify a provider node's signature without reaching it."""
    data = [
        {
            "code": n.code,
            "name": n.name,
            "base_url": n.base_url,
            "public_jwk": keys.node_public_jwk() if n.code == node.node_code() else n.public_jwk,
        }
        for n in selectors.nodes_active()
    ]
    response = JsonResponse({"node": node.node_code(), "nodes": data})
    response["Cache-Control"] = "public, max-age=300"
    return response


# --- the catalogue ------------------------------------------------------------------------------


def catalogue(request: HttpRequest) -> HttpResponse:
    services_list = list(selectors.services_catalogue())
    return render(
        request,
        "exchange/catalogue.html",
        {"services": services_list, "english": translation.get_language() == "en"},
    )


def service_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        service = selectors.service_get(pk)
    except NotFound:
        raise Http404 from None
    paths = sorted((service.openapi or {}).get("paths", {}).items())
    operations = [
        {"method": method.upper(), "path": path, "summary": (op or {}).get("summary", "")}
        for path, item in paths
        for method, op in (item or {}).items()
        if method.lower() in {"get", "post", "put", "patch", "delete"}
    ]
    return render(
        request,
        "exchange/service.html",
        {
            "service": service,
            "operations": operations,
            "english": translation.get_language() == "en",
            "can_manage": services.can_manage_service(request.user, service),
            "node_base": (service.system.node.base_url or "").rstrip("/"),
        },
    )


def service_openapi(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        service = selectors.service_get(pk)
    except NotFound:
        raise Http404 from None
    return JsonResponse(
        service.openapi or {}, json_dumps_params={"ensure_ascii": False, "indent": 2}
    )


# --- grant management ---------------------------------------------------------------------------


def _apply_error(form: Form, exc: ThudoError) -> None:
    data = exc.as_dict()
    placed = False
    for name, texts in data["fields"].items():
        target = name if name in form.fields else None
        if name == "expires_at" and "expires_on" in form.fields:
            target = "expires_on"
        for text in texts:
            form.add_error(target, text)
            placed = True
    if not placed:
        form.add_error(None, data["message"])


def _error_summary(*forms: Form) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for form in forms:
        if not form.is_bound:
            continue
        for name, errors in form.errors.items():
            if name == NON_FIELD_ERRORS:
                out += [{"href": "", "label": "", "message": str(e)} for e in errors]
                continue
            bound = form[name]
            for error in errors:
                out.append(
                    {
                        "href": f"#{bound.id_for_label}",
                        "label": str(bound.label),
                        "message": str(error),
                    }
                )
    return out


def _require(request: HttpRequest, permission: str) -> None:
    if not can(request.user, permission):
        raise DjangoPermissionDenied


@never_cache
@official_required
def grants(request: HttpRequest) -> HttpResponse:
    """The access rights to the services of the agencies where the official is a data steward
    (Perm.EXCHANGE_MANAGE): grant one, revoke one."""
    _require(request, Perm.EXCHANGE_MANAGE)
    managed = selectors.services_managed_by(request.user)
    form = GrantForm(
        request.POST or None,
        services=managed,
        clients=selectors.client_systems(),
        initial={"service": request.GET.get("service")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            grant = services.grant_create(
                actor=request.user,
                service=form.cleaned_data["service"],
                client=form.cleaned_data["client"],
                legal_basis=form.cleaned_data["legal_basis"],
                expires_at=form.expires_at(),
            )
        except ThudoError as exc:
            _apply_error(form, exc)
        else:
            messages.success(
                request,
                _("%(client)s may now call %(service)s.")
                % {"client": grant.client.identifier, "service": grant.service.identifier},
            )
            return redirect("exchange:grants")
    status = 422 if form.is_bound and form.errors else 200
    return _grants_page(request, form, RevokeForm(), status=status)


def _grants_page(
    request: HttpRequest,
    form: GrantForm,
    revoke_form: RevokeForm,
    *,
    status: int = 200,
    revoking: int | None = None,
) -> HttpResponse:
    now = timezone.now()
    rows = [
        {"grant": g, "state": selectors.grant_state(g, now)}
        for g in selectors.grants_managed_by(request.user)
    ]
    return render(
        request,
        "exchange/grants.html",
        {
            "form": form,
            "revoke_form": revoke_form,
            "revoking": revoking,
            "rows": rows,
            "has_services": form.fields["service"].queryset.exists(),  # type: ignore[attr-defined]
            "errors": _error_summary(form, revoke_form),
        },
        status=status,
    )


@require_POST
@official_required
def grant_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, Perm.EXCHANGE_MANAGE)
    grant = selectors.grants_managed_by(request.user).filter(pk=pk).first()
    if grant is None:
        raise Http404
    revoke_form = RevokeForm(request.POST)
    if revoke_form.is_valid():
        try:
            services.grant_revoke(
                actor=request.user, grant=grant, reason=revoke_form.cleaned_data["reason"]
            )
        except ThudoError as exc:
            _apply_error(revoke_form, exc)
        else:
            messages.success(
                request,
                _("The access of %(client)s to %(service)s is revoked.")
                % {"client": grant.client.identifier, "service": grant.service.identifier},
            )
            return redirect("exchange:grants")
    form = GrantForm(
        services=selectors.services_managed_by(request.user),
        clients=selectors.client_systems(),
    )
    return _grants_page(request, form, revoke_form, status=422, revoking=grant.pk)


# --- operations -----------------------------------------------------------------------------------


@never_cache
@official_required
def ops(request: HttpRequest) -> HttpResponse:
    """Per service and side over the last 24 hours: calls, errors by code, p50 / p95 latency."""
    _require(request, Perm.EXCHANGE_OPERATE)
    rows = metrics.service_stats(hours=24)
    return render(
        request,
        "exchange/ops.html",
        {
            "rows": rows,
            "node_code": node.node_code(),
            "grants_count": Grant.objects.filter(selectors.valid_grants_q()).count(),
        },
    )


def _loopback(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. With EXCHANGE_METRICS_TOKEN set: `Authorization: Bearer <token>`
    (or an official with Perm.EXCHANGE_OPERATE); without it, loopback clients only."""
    token = str(getattr(settings, "EXCHANGE_METRICS_TOKEN", "") or "")
    auth = request.headers.get("Authorization", "")
    scheme, _sep, given = auth.partition(" ")
    allowed = (
        bool(token)
        and scheme.lower() == "bearer"
        and secrets.compare_digest(given.strip().encode(), token.encode())
    )
    if not token and _loopback(request):
        allowed = True
    if not allowed and can(request.user, Perm.EXCHANGE_OPERATE):
        allowed = True
    if not allowed:
        response = HttpResponse(
            json.dumps({"error": {"code": "unauthorized"}}),
            status=401,
            content_type="application/json",
        )
        response["WWW-Authenticate"] = 'Bearer realm="thudo-exchange-metrics"'
        return response
    return HttpResponse(
        metrics.prometheus_text(), content_type="text/plain; version=0.0.4; charset=utf-8"
    )
