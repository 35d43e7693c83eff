"""Writes and checks of e-ID sign-in: the demo provider's password check, and the portal's
citizen account made or brought up to date from the provider's claims."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from thudo.accounts import services as accounts_services
from thudo.accounts.models import User
from thudo.core.audit import audit_record
from thudo.core.errors import AuthenticationFailed, PermissionDenied, ValidationFailed

from . import selectors

WRONG_CREDENTIALS = _("The personal ID number or password is not correct.")


def provider_sign_in(*, personal_id: str, password: str, ip: str | None) -> User:
    """The demo VNeID provider's check: a living resident of the population registry with an
    activated e-ID (level 1 or 2) whose citizen account has this password. Failures count in
    the accounts throttle (ADR 0006) under the personal ID. Does not start a session."""
    personal_id = "".join((personal_id or "").split())
    if not personal_id or not password:
        fields: dict[str, Any] = {}
        if not personal_id:
            fields["personal_id"] = _("Enter your personal ID number.")
        if not password:
            fields["password"] = _("Enter your password.")
        raise ValidationFailed(fields=fields)
    accounts_services.login_check_allowed(username=personal_id, ip=ip)
    user = selectors.provider_account(personal_id)
    if user is None:
        make_password(password)  # the same work as a real check, so timing tells nothing
        ok = False
    else:
        ok = user.check_password(password)
    if user is None or not ok:
        accounts_services.login_failed(username=personal_id, ip=ip)
        raise AuthenticationFailed(
            WRONG_CREDENTIALS, fields={"password": WRONG_CREDENTIALS}, code="invalid_credentials"
        )
    if selectors.eligible_person(personal_id) is None:
        raise AuthenticationFailed(
            _(
                "This resident has no activated e-ID account (level 1 or 2) in the national "
                "population database. Activate it in the VNeID app or at the police."
            ),
            code="eid_not_activated",
        )
    accounts_services.login_succeeded(user=user, ip=ip)
    return user


def _parse_birthdate(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


@transaction.atomic
def citizen_from_claims(*, claims: dict[str, Any]) -> User:
    """The portal's citizen account for the provider's verified claims: found by personal ID
    (`sub`) and brought up to date (name, date of birth, sex), or created without a password.

    An official's account is never signed into this way (officials use their password and
    authenticator, ADR 0006); nothing is written when the claims are refused.
    """
    personal_id = str(claims.get("sub") or "")
    full_name = str(claims.get("name") or "").strip()
    sex = str(claims.get("gender") or "")
    birth_date = _parse_birthdate(claims.get("birthdate"))
    user = User.objects.select_for_update().filter(personal_id=personal_id).first()
    if user is None:
        if birth_date is None:
            raise ValidationFailed(fields={"birthdate": _("The date of birth is missing.")})
        return accounts_services.citizen_create(
            personal_id=personal_id,
            full_name=full_name,
            sex=sex,
            birth_date=birth_date,
            password=None,
        )
    if user.kind != User.Kind.CITIZEN:
        raise PermissionDenied(
            _(
                "This personal ID belongs to an official's account. Officials sign in with "
                "their password and authenticator code."
            ),
            code="not_a_citizen",
        )
    if not user.is_active:
        raise PermissionDenied(_("This account is disabled."), code="account_disabled")
    changes: dict[str, list[str]] = {}
    for field, value in (("full_name", full_name), ("sex", sex), ("birth_date", birth_date)):
        if not value or (field == "sex" and value not in User.Sex.values):
            continue
        if getattr(user, field) != value:
            changes[field] = [str(getattr(user, field) or ""), str(value)]
            setattr(user, field, value)
    if changes:
        user.save(update_fields=list(changes))
        audit_record(actor=user, action="citizen.update_from_eid", obj=user, data=changes)
    return user
