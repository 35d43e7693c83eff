"""Reads of the core domain, filtered by who asks."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm

from .errors import PermissionDenied
from .models import AdminUnit, AuditEvent


def unit_list(*, parent: str | None = None, level: str | None = None) -> QuerySet[AdminUnit]:
    qs = AdminUnit.objects.select_related("parent")
    if parent:
        qs = qs.filter(parent__code=parent)
    if level:
        qs = qs.filter(level=level)
    return qs


def audit_events(
    *,
    user: Any,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> QuerySet[AuditEvent]:
    """The audit trail, for auditors only, filtered by object and actor."""
    if not can(user, Perm.AUDIT_VIEW):
        raise PermissionDenied()
    qs = AuditEvent.objects.select_related("actor")
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    if actor:
        qs = qs.filter(actor_label=actor)
    if action:
        qs = qs.filter(action=action)
    return qs
