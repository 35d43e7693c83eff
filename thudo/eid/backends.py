"""The portal's authentication backend for VNeID sign-in (mozilla-django-oidc's, stricter).

It acts only when the e-ID callback calls it (`vneid=True`), so a password sign-in never
reaches the provider. The ID token must be signed by the provider's key (RS256, from its
JWKS), issued by EID_ISSUER for EID_CLIENT_ID, unexpired, with the nonce of this browser's
request; the userinfo's `sub` must be the ID token's. The level comes from the ID token's
`acr` ("urn:vn:vneid:loa:1|2", or `vneid_level` when a provider sends only that).
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
from django.core.exceptions import SuspiciousOperation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from thudo.accounts.models import User
from thudo.core.errors import ThudoError

from . import client, conf, selectors, services

logger = logging.getLogger(__name__)
LEEWAY_SECONDS = 30


class EidSignInRefused(Exception):
    """The provider answered, but this sign-in is refused; `message` says why."""

    def __init__(self, code: str, message: str | Promise) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def token_level(payload: dict[str, Any]) -> int:
    level = selectors.level_from_acr(payload.get("acr"))
    declared = payload.get("vneid_level")
    if "acr" not in payload and declared in selectors.LEVELS:
        return int(declared)
    if declared is not None and declared != level:
        return 0  # the two claims disagree: trust neither
    return level


class VNeIDBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(client.get_setting)  # type: ignore[assignment]

    def authenticate(self, request: Any, **kwargs: Any) -> User | None:  # type: ignore[override]
        if not kwargs.pop("vneid", False):
            return None
        return super().authenticate(request, **kwargs)  # type: ignore[no-any-return]

    def _verify_jws(self, payload: Any, key: Any) -> dict[str, Any]:
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"The ID token is signed with {header.get('alg')!r}.")
        try:
            return jwt.decode(  # type: ignore[no-any-return]
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=conf.issuer(),
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"The ID token is not valid: {exc}") from exc

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo is about someone else than the ID token.")
        level = token_level(payload)
        if level not in selectors.LEVELS:
            raise EidSignInRefused(
                "not_activated",
                _(
                    "Your VNeID account is not activated (level 1 or 2), so you cannot sign in "
                    "with it. Activate it in the VNeID app or at the police."
                ),
            )
        try:
            user = services.citizen_from_claims(claims={**userinfo, "sub": payload["sub"]})
        except ThudoError as exc:
            raise EidSignInRefused(exc.code, exc.message) from exc
        user.eid_level = level  # type: ignore[attr-defined]
        user.eid_sub = payload["sub"]  # type: ignore[attr-defined]
        return user
