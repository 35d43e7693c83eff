"""Reads of the exchange's configuration, filtered by who asks.

The catalogue (services, their providers and who may call them) is public: X-Road publishes the
same. Grant management shows an official only the services of members whose agency they hold
Perm.EXCHANGE_MANAGE in (or below); operations figures are the node's own (metrics.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from thudo.accounts.permissions import agencies_where
from thudo.accounts.roles import Perm
from thudo.core.errors import NotFound

from .models import Grant, Node, Service, System


def valid_grants_q(now: datetime | None = None, prefix: str = "") -> Q:
    now = now or timezone.now()
    return Q(**{f"{prefix}revoked_at__isnull": True}) & (
        Q(**{f"{prefix}expires_at__isnull": True}) | Q(**{f"{prefix}expires_at__gt": now})
    )


def grant_state(grant: Grant, now: datetime | None = None) -> str:
    """ "valid", "expired" or "revoked"."""
    if grant.revoked_at is not None:
        return "revoked"
    return "valid" if grant.is_valid(now) else "expired"


def services_catalogue() -> QuerySet[Service]:
    """Every active service with its provider, node, and the grants valid now (`valid_grants`)."""
    valid = (
        Grant.objects.filter(valid_grants_q())
        .select_related("client__member")
        .order_by("client__member__code", "client__code")
    )
    return (
        Service.objects.filter(is_active=True, system__is_active=True)
        .select_related("system__member__agency", "system__node")
        .prefetch_related(Prefetch("grants", queryset=valid, to_attr="valid_grants"))
        .order_by("system__member__code", "system__code", "code")
    )


def service_get(pk: int) -> Service:
    service = services_catalogue().filter(pk=pk).first()
    if service is None:
        raise NotFound()
    return service


def services_managed_by(user: Any) -> QuerySet[Service]:
    """Services whose access rights `user` may change."""
    qs = Service.objects.filter(is_active=True).select_related("system__member", "system__node")
    if getattr(user, "is_superuser", False) and user.is_active:
        return qs.order_by("system__member__code", "system__code", "code")
    agencies = agencies_where(user, Perm.EXCHANGE_MANAGE)
    return qs.filter(system__member__agency_id__in=agencies).order_by(
        "system__member__code", "system__code", "code"
    )


def grants_managed_by(user: Any) -> QuerySet[Grant]:
    """Every grant (valid, expired or revoked) of the services `user` manages, newest first."""
    return (
        Grant.objects.filter(service__in=services_managed_by(user).values("pk"))
        .select_related(
            "service__system__member",
            "client__member",
            "granted_by",
            "revoked_by",
        )
        .order_by("service__system__member__code", "service__code", "-granted_at")
    )


def client_systems() -> QuerySet[System]:
    """Systems that can be given access (active, of active members)."""
    return (
        System.objects.filter(is_active=True, member__is_active=True)
        .select_related("member", "node")
        .order_by("member__code", "code")
    )


def nodes_active() -> QuerySet[Node]:
    return Node.objects.filter(is_active=True).order_by("code")
