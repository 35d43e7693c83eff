"""The e-ID level of the portal's session, for pages that require one (docs/eid.md).

A procedure with `eid_level_required` > 0 calls, at the top of its form's GET and POST:

    response = require_level(request, procedure.eid_level_required)
    if response is not None:
        return response
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

#: Session keys set by the VNeID callback; a password sign-in sets neither (level 0).
EID_LEVEL = "eid_level"
EID_SUB = "eid_sub"


def eid_level(request: HttpRequest) -> int:
    """0 unless the signed-in user signed in through VNeID in this session; then 1 or 2."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    session = request.session
    sub = session.get(EID_SUB)
    if not sub or sub != getattr(user, "personal_id", None):
        return 0
    try:
        level = int(session.get(EID_LEVEL, 0))
    except (TypeError, ValueError):
        return 0
    return level if level in (1, 2) else 0


def start_url(next_url: str, *, again: bool = False) -> str:
    """The VNeID sign-in that comes back to `next_url` (`again`: ask for the password again)."""
    query = {"next": next_url}
    if again:
        query["prompt"] = "login"
    return f"{reverse('eid_client:start')}?{urlencode(query)}"


def require_level(request: HttpRequest, level: int) -> HttpResponse | None:
    """None when the session's e-ID level is at least `level` (always for 0). Otherwise: with
    no VNeID sign-in yet, a redirect to it that comes back here; after a VNeID sign-in at too
    low a level (level 1 where 2 is needed), a page (403) that says how to reach level 2."""
    if level <= 0:
        return None
    current = eid_level(request)
    if current >= level:
        return None
    next_url = request.get_full_path()
    if current == 0:
        return HttpResponseRedirect(start_url(next_url))
    context = {"required": level, "current": current, "again_url": start_url(next_url, again=True)}
    return render(request, "eid/level_required.html", context, status=403)
