from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors
from .errors import PermissionDenied


@login_required
def audit_view(request: HttpRequest) -> HttpResponse:
    """The audit trail for auditors, filtered by object and actor."""
    filters = {
        k: request.GET.get(k, "").strip() or None
        for k in ("object_type", "object_id", "actor", "action")
    }
    try:
        events = selectors.audit_events(user=request.user, **filters)
    except PermissionDenied:
        raise DjangoPermissionDenied from None  # the shell's 403 page
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "core/audit.html", {"page": page, "filters": filters})
