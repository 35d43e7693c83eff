"""Writes of the exchange's configuration by people: access rights (grants).

The provider's agency decides who may call its services: an official holding
Perm.EXCHANGE_MANAGE in the agency of the service's member (Member.agency, or an agency above
it) grants a client system access on a legal basis, until a date or without end, and revokes it
with a reason. Each change is one transaction with its audit row; the node reads grants on every
call, so a revocation takes effect at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.accounts.permissions import can
from thudo.accounts.roles import Perm
from thudo.core.audit import audit_record
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed

from .models import Grant, Service, System

LEGAL_BASIS_MAX = 500
REASON_MAX = 500


def can_manage_service(user: Any, service: Service) -> bool:
    """Whether `user` may grant and revoke access to `service` (its member's agency)."""
    agency = service.system.member.agency
    if agency is None:
        return bool(getattr(user, "is_superuser", False) and user.is_active)
    return can(user, Perm.EXCHANGE_MANAGE, agency)


def _require_manager(actor: Any, service: Service) -> None:
    if not can_manage_service(actor, service):
        raise PermissionDenied(
            _("Only the data steward of the provider's agency may change access to this service.")
        )


@transaction.atomic
def grant_create(
    *,
    actor: Any,
    service: Service,
    client: System,
    legal_basis: str,
    expires_at: datetime | None = None,
    now: datetime | None = None,
    check_permission: bool = True,
) -> Grant:
    """Let `client` call `service` on `legal_basis` until `expires_at` (None: no end).

    `check_permission=False` is for the configuration import and the demo (the actor is then a
    label such as "config import")."""
    now = now or timezone.now()
    service = Service.objects.select_related("system__member__agency").get(pk=service.pk)
    if check_permission:
        _require_manager(actor, service)
    legal_basis = (legal_basis or "").strip()
    errors: dict[str, Any] = {}
    if not legal_basis:
        errors["legal_basis"] = _("Give the legal basis (law, decree or decision) for the access.")
    elif len(legal_basis) > LEGAL_BASIS_MAX:
        errors["legal_basis"] = _("Use at most 500 characters.")
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = _("The expiry must be in the future.")
    if not client.is_active:
        errors["client"] = _("This client system is not active.")
    elif client.pk == service.system_id:
        errors["client"] = _("A system does not need access to its own service.")
    if not service.is_active:
        errors["service"] = _("This service is not active.")
    if not errors and any(
        g.is_valid(now) for g in Grant.objects.filter(service=service, client=client)
    ):
        errors["client"] = _("This system already has a valid access right to this service.")
    if errors:
        raise ValidationFailed(fields=errors)
    grant = Grant.objects.create(
        service=service,
        client=client,
        legal_basis=legal_basis,
        granted_by=actor if getattr(actor, "is_authenticated", False) else None,
        granted_at=now,
        expires_at=expires_at,
    )
    audit_record(
        actor=actor,
        action="exchange.grant.create",
        obj=grant,
        to_state="valid",
        data={
            "service": service.identifier,
            "client": client.identifier,
            "legal_basis": legal_basis,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return grant


@transaction.atomic
def grant_revoke(
    *,
    actor: Any,
    grant: Grant,
    reason: str,
    now: datetime | None = None,
    check_permission: bool = True,
) -> Grant:
    """End an access right now, with the reason; calls are refused from this moment."""
    now = now or timezone.now()
    grant = (
        Grant.objects.select_for_update(of=("self",))
        .select_related("service__system__member__agency", "client__member")
        .get(pk=grant.pk)
    )
    if check_permission:
        _require_manager(actor, grant.service)
    if grant.revoked_at is not None:
        raise InvalidTransition(_("This access right was already revoked."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(fields={"reason": _("Say why the access right is revoked.")})
    if len(reason) > REASON_MAX:
        raise ValidationFailed(fields={"reason": _("Use at most 500 characters.")})
    state = "valid" if grant.is_valid(now) else "expired"
    grant.revoked_at = now
    grant.revoked_by = actor if getattr(actor, "is_authenticated", False) else None
    grant.revoke_reason = reason
    grant.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit_record(
        actor=actor,
        action="exchange.grant.revoke",
        obj=grant,
        from_state=state,
        to_state="revoked",
        data={
            "service": grant.service.identifier,
            "client": grant.client.identifier,
            "reason": reason,
        },
    )
    return grant
