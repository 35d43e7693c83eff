"""Two sessions in one process: the portal's and the demo identity provider's.

The demo serves the VNeID provider (under EID_SESSION_PATH, "/eid/") beside the portal, but a
sign-in at the provider must not sign the browser into the portal, nor the other way round, as
if they were two sites. This middleware replaces Django's SessionMiddleware: under the
provider's path the session comes from its own cookie (EID_SESSION_COOKIE_NAME,
"vneid_session", sent by the browser only to that path); everywhere else from
SESSION_COOKIE_NAME, as before. Each side's sessions are also marked, so a session key copied
from one cookie into the other opens an empty session, not the other side's.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.urls import get_script_prefix
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date

from . import conf

#: Present (True) in every session of the identity provider, never in the portal's.
PROVIDER_MARK = "_vneid_provider"


def _guarded(store: type[SessionBase], *, provider: bool) -> type[SessionBase]:
    class GuardedSessionStore(store):  # type: ignore[valid-type,misc]
        """Refuses the other side's sessions: they load as a new, empty session."""

        @property
        def key_salt(self) -> str:
            # The engine's own salt, so sessions stay readable by its plain SessionStore
            # (Django's test client, `manage.py clearsessions`, other tools).
            return "django.contrib.sessions." + store.__qualname__

        def load(self) -> dict[str, Any]:
            data = super().load()
            if data and bool(data.get(PROVIDER_MARK)) != provider:
                self._session_key = None  # a new key on save; the other row is untouched
                return {}
            return data

        def save(self, must_create: bool = False) -> None:
            if provider:
                self._get_session(no_load=must_create)[PROVIDER_MARK] = True
            super().save(must_create=must_create)

    name = "ProviderSessionStore" if provider else "PortalSessionStore"
    GuardedSessionStore.__name__ = GuardedSessionStore.__qualname__ = name
    return GuardedSessionStore


def is_provider_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(conf.session_path())


class SessionMiddleware(DjangoSessionMiddleware):
    """django.contrib.sessions' middleware with a separate session for the identity provider."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        self.PortalStore = _guarded(self.SessionStore, provider=False)
        self.ProviderStore = _guarded(self.SessionStore, provider=True)

    def _cookie(self, request: HttpRequest) -> tuple[str, str]:
        if is_provider_path(request):
            path = get_script_prefix().rstrip("/") + conf.session_path()
            return conf.session_cookie_name(), path
        return settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_PATH

    def process_request(self, request: HttpRequest) -> None:
        name, path = self._cookie(request)
        store = self.ProviderStore if is_provider_path(request) else self.PortalStore
        request._session_cookie = (name, path)  # type: ignore[attr-defined]
        request.session = store(request.COOKIES.get(name))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Django's, with the cookie's name and path of the side that served the request."""
        try:
            accessed = request.session.accessed
            modified = request.session.modified
            empty = request.session.is_empty()
        except AttributeError:
            return response
        name, path = getattr(request, "_session_cookie", self._cookie(request))
        samesite: Any = settings.SESSION_COOKIE_SAMESITE
        if name in request.COOKIES and empty:
            response.delete_cookie(
                name,
                path=path,
                domain=settings.SESSION_COOKIE_DOMAIN,
                samesite=samesite,
            )
            need_vary_cookie = True
        else:
            need_vary_cookie = accessed
            if (modified or settings.SESSION_SAVE_EVERY_REQUEST) and not empty:
                if request.session.get_expire_at_browser_close():
                    max_age = None
                    expires = None
                else:
                    max_age = request.session.get_expiry_age()
                    expires = http_date(time.time() + max_age)
                if response.status_code < 500:
                    try:
                        request.session.save()
                    except UpdateError:
                        raise SessionInterrupted(
                            "The request's session was deleted before the request completed."
                        ) from None
                    response.set_cookie(
                        name,
                        request.session.session_key or "",
                        max_age=max_age,
                        expires=expires,
                        domain=settings.SESSION_COOKIE_DOMAIN,
                        path=path,
                        secure=bool(settings.SESSION_COOKIE_SECURE),
                        httponly=bool(settings.SESSION_COOKIE_HTTPONLY),
                        samesite=samesite,
                    )
                    need_vary_cookie = True
        if need_vary_cookie:
            patch_vary_headers(response, ("Cookie",))
        return response
