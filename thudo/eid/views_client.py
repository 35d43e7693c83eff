"""The portal's side of VNeID sign-in (/accounts/vneid/): start (authorization request with
state, nonce and PKCE) and callback (code exchange over the back channel, then the session).

Every failure ends on the portal's sign-in page with a message and nothing signed in.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from thudo.core.audit import audit_record

from . import client, conf
from .backends import EidSignInRefused, VNeIDBackend
from .session import EID_LEVEL, EID_SUB

logger = logging.getLogger(__name__)

BACKEND = "thudo.eid.backends.VNeIDBackend"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"

CANCELLED = _("You cancelled the sign-in with VNeID. Try again, or sign in with your password.")
PROVIDER_ERROR = _("VNeID did not sign you in (%(error)s). Please try again.")
BAD_STATE = _(
    "The sign-in with VNeID could not be completed: its answer does not belong to a sign-in "
    "started in this browser (it expired, was used already or was altered). Please start again."
)
UNVERIFIED = _(
    "The answer from VNeID could not be verified, so you were not signed in. Please try again "
    "later or sign in with your password."
)
UNREACHABLE = _("VNeID cannot be reached at the moment. Please try again later.")


def _fail(
    request: HttpRequest, message: str | Promise, next_url: str | None = None
) -> HttpResponse:
    messages.error(request, str(message))
    target = reverse("accounts:login")
    if next_url:
        target += "?" + urlencode({"next": next_url})
    return HttpResponseRedirect(target)


@method_decorator(never_cache, name="dispatch")
class StartView(OIDCAuthenticationRequestView):
    """Redirects to the provider's authorization endpoint; `next` is where to come back."""

    get_settings = staticmethod(client.get_setting)  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)  # settings: in get

    def get(self, request: HttpRequest) -> HttpResponse:  # type: ignore[override]
        try:
            self.OIDC_OP_AUTH_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
            self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        except (requests.RequestException, ImproperlyConfigured, ValueError, KeyError):
            logger.exception("VNeID discovery failed")
            return _fail(request, UNREACHABLE)
        return super().get(request)  # type: ignore[no-any-return]

    def get_extra_params(self, request: HttpRequest) -> dict[str, str]:
        params = {"ui_locales": get_language() or settings.LANGUAGE_CODE}
        if request.GET.get("prompt") == "login":
            params["prompt"] = "login"
        return params


@method_decorator(never_cache, name="dispatch")
class CallbackView(OIDCAuthenticationCallbackView):
    """Checks the state, exchanges the code, signs the citizen in with the e-ID level."""

    get_settings = staticmethod(client.get_setting)  # type: ignore[assignment]

    def get(self, request: HttpRequest) -> HttpResponse:  # type: ignore[override]
        next_url = request.session.get("oidc_login_next") or None
        state = request.GET.get("state", "")
        states = request.session.get("oidc_states")
        entry = None
        if isinstance(states, dict) and state in states:
            entry = states.pop(state)  # one use only, whatever the outcome
            request.session.modified = True
            request.session.save()
        error = request.GET.get("error")
        if error:
            if error == "access_denied":
                return _fail(request, CANCELLED, next_url)
            return _fail(request, PROVIDER_ERROR % {"error": error[:60]}, next_url)
        if entry is None or not request.GET.get("code"):
            logger.warning("VNeID callback with an unknown state")
            return _fail(request, BAD_STATE, next_url)
        try:
            user = VNeIDBackend().authenticate(
                request,
                vneid=True,
                nonce=entry.get("nonce"),
                code_verifier=entry.get("code_verifier"),
            )
        except EidSignInRefused as exc:
            return _fail(request, exc.message, next_url)
        except (SuspiciousOperation, requests.RequestException, ValueError, KeyError):
            logger.warning("VNeID sign-in could not be verified", exc_info=True)
            return _fail(request, UNVERIFIED, next_url)
        if user is None or not user.is_active:
            return _fail(request, UNVERIFIED, next_url)
        return self._signed_in(request, user, next_url)

    def _signed_in(self, request: HttpRequest, user: Any, next_url: str | None) -> HttpResponse:
        backend = BACKEND if BACKEND in settings.AUTHENTICATION_BACKENDS else MODEL_BACKEND
        login(request, user, backend=backend)  # a new session key (or a fresh session)
        request.session[EID_LEVEL] = int(user.eid_level)
        request.session[EID_SUB] = user.eid_sub
        audit_record(
            actor=user,
            action="eid.sign_in",
            obj=user,
            data={"level": int(user.eid_level), "issuer": conf.issuer()},
        )
        target = next_url or resolve_url(settings.LOGIN_REDIRECT_URL)
        return HttpResponseRedirect(target)
