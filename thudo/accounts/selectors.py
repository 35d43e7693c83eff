"""Reads of the accounts domain, filtered by who asks."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from thudo.core.errors import NotFound

from .models import Agency, ApiToken, Membership


def agency_list(*, kind: str | None = None, unit_code: str | None = None) -> QuerySet[Agency]:
    """Agencies are public information."""
    qs = Agency.objects.filter(is_active=True).select_related("admin_unit", "parent")
    if kind:
        qs = qs.filter(kind=kind)
    if unit_code:
        qs = qs.filter(admin_unit__code=unit_code)
    return qs


def agency_get(*, code: str) -> Agency:
    agency = agency_list().filter(code=code).first()
    if agency is None:
        raise NotFound(fields={"code": "unknown agency"}, code="unknown_agency")
    return agency


def memberships_of(user: Any) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("agency").order_by("agency__code")


def tokens_of(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
