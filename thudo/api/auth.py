"""API authentication: the page session (with CSRF) for people, bearer tokens for systems."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from thudo.accounts import services as account_services
from thudo.core.errors import AuthenticationFailed


class TokenAuth(HttpBearer):
    """`Authorization: Bearer thd_<prefix>_<secret>`; a malformed or revoked token is a 401."""

    openapi_description = "A revocable system token: `Authorization: Bearer thd_…`"

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get(self.header, "")
        if header and not header.lower().startswith("bearer "):
            raise AuthenticationFailed(
                code="malformed_token",
                fields={"Authorization": "Expected 'Bearer <token>'."},
            )
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = account_services.api_token_authenticate(raw=token)
        request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The signed-in page session; unsafe methods need the CSRF token as pages do."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


token_auth = TokenAuth()
session_auth = SessionAuth()
default_auth = [token_auth, session_auth]
