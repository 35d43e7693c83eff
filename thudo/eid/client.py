"""The portal's OpenID Connect client settings, for mozilla-django-oidc, derived from the EID_*
settings (so the portal is pointed at a provider by its issuer alone)."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from django.core.exceptions import ImproperlyConfigured
from mozilla_django_oidc.utils import import_from_settings

from . import conf

SCOPES = "openid profile address"
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()
DISCOVERY_SECONDS = 3600


def _derived(issuer: str) -> dict[str, str]:
    """The endpoints as the demo provider (django-oauth-toolkit at /eid/) lays them out."""
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{issuer}/authorize/",
        "OIDC_OP_TOKEN_ENDPOINT": f"{issuer}/token/",
        "OIDC_OP_USER_ENDPOINT": f"{issuer}/userinfo/",
        "OIDC_OP_JWKS_ENDPOINT": f"{issuer}/.well-known/jwks.json",
    }


def _discover(issuer: str) -> dict[str, str]:
    """The endpoints from the provider's discovery document, kept for an hour per issuer."""
    now = time.monotonic()
    with _lock:
        cached = _discovered.get(issuer)
        if cached and now - cached[0] < DISCOVERY_SECONDS:
            document = cached[1]
        else:
            response = requests.get(
                f"{issuer}/.well-known/openid-configuration", timeout=conf.timeout()
            )
            response.raise_for_status()
            document = response.json()
            if str(document.get("issuer", "")).rstrip("/") != issuer:
                raise ImproperlyConfigured(
                    f"The provider at {issuer} calls itself {document.get('issuer')!r}."
                )
            _discovered[issuer] = (now, document)
    return {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": document["authorization_endpoint"],
        "OIDC_OP_TOKEN_ENDPOINT": document["token_endpoint"],
        "OIDC_OP_USER_ENDPOINT": document["userinfo_endpoint"],
        "OIDC_OP_JWKS_ENDPOINT": document["jwks_uri"],
    }


def oidc_settings() -> dict[str, Any]:
    issuer = conf.issuer()
    endpoints = _discover(issuer) if conf.discovery() else _derived(issuer)
    return {
        **endpoints,
        "OIDC_RP_CLIENT_ID": conf.client_id(),
        "OIDC_RP_CLIENT_SECRET": conf.client_secret(),
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_RP_SCOPES": SCOPES,
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_AUTHENTICATION_CALLBACK_URL": "eid_client:callback",
        "OIDC_TIMEOUT": conf.timeout(),
        "OIDC_CREATE_USER": True,
        "OIDC_STORE_ACCESS_TOKEN": False,
        "OIDC_STORE_ID_TOKEN": False,
        "OIDC_TOKEN_USE_BASIC_AUTH": True,
    }


def get_setting(attr: str, *args: Any) -> Any:
    """mozilla-django-oidc's `get_settings`: ours for OIDC_*, Django's for the rest."""
    if attr.startswith("OIDC_"):
        values = oidc_settings()
        if attr in values:
            return values[attr]
    return import_from_settings(attr, *args)
