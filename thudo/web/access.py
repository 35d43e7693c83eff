"""Who may open which part of the shell.

One place, so the views, the menus and the tests agree. For now the leaders' dashboards follow
the officials' rule; when leader roles exist, `can_view_dashboards` is the one line to change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from thudo.accounts.permissions import permissions


def can_use_workspace(user: Any) -> bool:
    """Officials and staff, signed in with their second factor (django-otp's is_verified)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if not (getattr(user, "is_official", False) or user.is_staff):
        return False
    return bool(getattr(user, "is_verified", lambda: False)())


def can_view_dashboards(user: Any) -> bool:
    return can_use_workspace(user)


def has_permission(request: HttpRequest, code: str) -> bool:
    """Whether the user's roles grant `code` (accounts.permissions, cached per user object)."""
    return not code or code in permissions(request.user)


View = Callable[..., HttpResponse]


def _guard(allowed: Callable[[Any], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


official_required = _guard(can_use_workspace)
leader_required = _guard(can_view_dashboards)
