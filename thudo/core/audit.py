"""The audit trail: one append-only row per state change, written in the change's transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from . import context
from .models import AuditEvent


def audit_record(
    *,
    actor: Any | None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    from_state: str = "",
    to_state: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record who did `action` to `obj`. Call it inside the transaction that makes the change.

    Outside a transaction it still writes, but a service that changes state must hold one, so
    that a rolled-back change leaves no audit row and a committed one always has its row.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:300]
    ctx = context.current()
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = ""
    if user is not None:
        label = user.get_username()
    elif isinstance(actor, str):
        label = actor
    return AuditEvent.objects.create(
        actor=user,
        actor_label=label[:200],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:300],
        from_state=from_state,
        to_state=to_state,
        data=data or {},
        request_id=ctx.request_id,
        ip_address=ctx.ip_address,
    )
