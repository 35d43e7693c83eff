"""django-oauth-toolkit's validator for the demo VNeID provider: the claims come from the
population registry, `sub` is the personal ID, `acr` and `vneid_level` carry the e-ID level."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request

from . import selectors


class _HeadersRequest(HttpRequest):
    secure = False

    def _get_scheme(self) -> str:
        return "https" if self.secure else "http"


def issuer_for(request: HttpRequest | Request) -> str:
    """The provider's issuer: OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"] when set, else where the
    request reached it (<scheme>://<host><prefix>/eid)."""
    if oauth2_settings.OIDC_ISS_ENDPOINT:
        return str(oauth2_settings.OIDC_ISS_ENDPOINT).rstrip("/")
    django_request: HttpRequest
    if isinstance(request, HttpRequest):
        django_request = request
    else:  # oauthlib's request carries the Django request's META as its headers
        headers_request = _HeadersRequest()
        headers_request.META = dict(request.headers)
        headers_request.secure = bool(request.headers.get("X_DJANGO_OAUTH_TOOLKIT_SECURE"))
        django_request = headers_request
    index = reverse("eid:index")  # "<prefix>/eid/"
    return django_request.build_absolute_uri(index).rstrip("/")


class VNeIDValidator(OAuth2Validator):
    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "sub": "openid",
        "acr": "openid",
        "vneid_level": "openid",
    }

    def _person(self, request: Request) -> Any:
        personal_id = getattr(request.user, "personal_id", None) or ""
        return selectors.eligible_person(personal_id)

    def get_claim_dict(self, request: Request) -> dict[str, Any]:
        claims = {"sub": request.user.personal_id}
        claims.update(self.get_additional_claims(request))
        return claims

    def get_additional_claims(self, request: Request) -> dict[str, Any]:
        person = self._person(request)
        if person is None:
            # No longer eligible since the code was issued: only the identifier, level 0,
            # which the portal refuses.
            return {"vneid_level": 0}
        return selectors.person_claims(person)

    def get_oidc_issuer_endpoint(self, request: Request) -> str:
        return issuer_for(request)

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Request, *args: Any, **kwargs: Any
    ) -> bool:
        """A code is exchanged only while its resident is still eligible."""
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        return self._person(request) is not None
