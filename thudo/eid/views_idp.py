"""The demo VNeID identity provider (/eid/): its own sign-in page and session, and
django-oauth-toolkit's OpenID Connect endpoints (authorization code with PKCE only).

Under /eid/ `request.user` is the person signed in at the provider (thudo.eid.middleware keeps
that session apart from the portal's).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider import views as dot
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauthlib.openid import Server

from thudo.accounts.forms import apply_error
from thudo.core.errors import Throttled, ThudoError
from thudo.core.middleware import client_ip

from . import conf, selectors, services
from .forms import ProviderLoginForm
from .keys import ensure_provider_key
from .middleware import PROVIDER_MARK
from .validators import VNeIDValidator, issuer_for

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
SCOPES = ["openid", "profile", "address"]
CLAIMS = ["sub", "name", "birthdate", "gender", "address", "vneid_level", "acr"]


# --- The provider's own pages ------------------------------------------------------------


def _authorize_request(next_url: str) -> dict[str, str] | None:
    """The parameters of an authorization request that `next` points back to, if it does."""
    parts = urlsplit(next_url)
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.view_name != "eid:authorize":
        return None
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def _client(params: dict[str, str] | None) -> Any:
    if not params or not params.get("client_id"):
        return None
    return get_application_model().objects.filter(client_id=params["client_id"]).first()


def _next_url(request: HttpRequest) -> str:
    """Only a page of the provider: the sign-in never sends anyone elsewhere by itself."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if (
        candidate
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and urlsplit(candidate).path.startswith(reverse("eid:index"))
        and not urlsplit(candidate).netloc
    ):
        return candidate
    return reverse("eid:index")


def _cancel(request: HttpRequest, next_url: str) -> HttpResponse:
    """The person declined: tell the client so (error=access_denied) at its registered
    redirect URI, or go to the provider's home when the request names no valid client."""
    params = _authorize_request(next_url)
    client = _client(params)
    redirect_uri = (params or {}).get("redirect_uri", "")
    if params is None or client is None or not client.redirect_uri_allowed(redirect_uri):
        return redirect("eid:index")
    answer = {"error": "access_denied", "error_description": "The person cancelled."}
    if params.get("state"):
        answer["state"] = params["state"]
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return OAuth2ResponseRedirect(
        f"{redirect_uri}{separator}{urlencode(answer)}", client.get_allowed_schemes()
    )


@never_cache
def index_view(request: HttpRequest) -> HttpResponse:
    person = None
    if request.user.is_authenticated:
        person = selectors.eligible_person(request.user.personal_id or "")  # type: ignore[union-attr]
    return render(request, "eid/index.html", {"person": person, "issuer": issuer_for(request)})


@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    if request.method == "POST" and "cancel" in request.POST:
        return _cancel(request, next_url)
    form = ProviderLoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.provider_sign_in(
                personal_id=form.cleaned_data["personal_id"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
            )
        except ThudoError as exc:
            apply_error(form, exc)
            status = 429 if isinstance(exc, Throttled) else 200
        else:
            login(request, user, backend=MODEL_BACKEND)  # the provider's session only
            request.session[PROVIDER_MARK] = True
            request.session.set_expiry(conf.session_seconds())
            return HttpResponseRedirect(next_url)
    params = _authorize_request(next_url)
    context = {
        "form": form,
        "next": next_url,
        "client": _client(params),
        "can_cancel": params is not None,
    }
    return render(request, "eid/login.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("eid:index")


# --- django-oauth-toolkit's endpoints, with the provider's key and validator -------------


class CodeFlowServer(Server):
    """oauthlib's OpenID Connect server reduced to the authorization code flow: no implicit or
    hybrid response types, no password, client-credentials, device or refresh-token grants, and
    no refresh tokens issued (the portal signs in; it keeps no access to the provider)."""

    def __init__(self, request_validator: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, **kwargs)
        self.auth_grant.refresh_token = False
        self.openid_connect_auth.refresh_token = False  # set on its proxied OAuth2 grant
        self._response_types = {"code": self.auth_grant_choice}
        self._grant_types = {"authorization_code": self.token_grant_choice}


class _Provider:
    """Every endpoint: the signing key is loaded first (created on first use), and the
    code-flow OpenID server with the VNeID validator is used whatever the toolkit's defaults."""

    server_class = CodeFlowServer
    validator_class = VNeIDValidator
    _oauthlib_core: Any

    @classmethod
    def get_oauthlib_core(cls) -> Any:
        if "_oauthlib_core" not in cls.__dict__ or oauth2_settings.ALWAYS_RELOAD_OAUTHLIB_CORE:
            server = cls.server_class(cls.validator_class(), **oauth2_settings.server_kwargs)
            cls._oauthlib_core = oauth2_settings.OAUTH2_BACKEND_CLASS(server)
        return cls.__dict__["_oauthlib_core"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        ensure_provider_key()
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


@method_decorator(never_cache, name="dispatch")
class AuthorizeView(_Provider, dot.AuthorizationView):
    template_name = "eid/authorize.html"

    def get_login_url(self) -> str:
        return reverse("eid:login")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if user.is_authenticated and selectors.eligible_person(user.personal_id or "") is None:  # type: ignore[union-attr]
            logout(request)  # no longer eligible (e-ID withdrawn, died): sign in again
        return super().dispatch(request, *args, **kwargs)


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(_Provider, dot.TokenView):
    """Called by clients' servers (client authentication, no browser): no CSRF check."""


@method_decorator(csrf_exempt, name="dispatch")
class UserInfoView(_Provider, dot.UserInfoView):
    """Called with a bearer token: no CSRF check."""


class JwksView(_Provider, dot.JwksInfoView):
    pass


def _endpoint(request: HttpRequest, name: str) -> str:
    """An endpoint's URL on the issuer's host (OIDC_ISS_ENDPOINT when set, else this one)."""
    path = reverse(name)
    if oauth2_settings.OIDC_ISS_ENDPOINT:
        issuer = urlsplit(str(oauth2_settings.OIDC_ISS_ENDPOINT))
        return f"{issuer.scheme}://{issuer.netloc}{path}"
    return request.build_absolute_uri(path)


class DiscoveryView(_Provider, dot.ConnectDiscoveryInfoView):
    """OpenID Provider Metadata for what this provider does: code flow, PKCE S256, RS256."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        data = {
            "issuer": issuer_for(request),
            "authorization_endpoint": _endpoint(request, "eid:authorize"),
            "token_endpoint": _endpoint(request, "eid:token"),
            "userinfo_endpoint": _endpoint(request, "eid:userinfo"),
            "jwks_uri": _endpoint(request, "eid:jwks"),
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": CLAIMS,
            "acr_values_supported": [selectors.acr_for(level) for level in selectors.LEVELS],
            "ui_locales_supported": ["vi", "en"],
            "prompt_values_supported": ["none", "login"],
        }
        response = JsonResponse(data)
        response["Access-Control-Allow-Origin"] = "*"
        return response
