"""Every write of the accounts domain: people, agencies, roles, tokens, sign-in, second factor."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.core.audit import audit_record
from thudo.core.errors import AuthenticationFailed, PermissionDenied, Throttled, ValidationFailed
from thudo.core.models import AdminUnit

from .models import Agency, ApiToken, LoginThrottle, Membership, User
from .personal_id import validate_personal_id
from .roles import Role

TOKEN_PREFIX = "thd"  # noqa: S105 — a label, not a secret

# --- People -----------------------------------------------------------------------------


@transaction.atomic
def citizen_create(
    *,
    personal_id: str,
    full_name: str,
    sex: str,
    birth_date: date,
    password: str | None = None,
    phone: str = "",
    home_unit: AdminUnit | None = None,
    actor: Any = None,
) -> User:
    """Register a citizen; the personal ID must be valid and agree with sex and birth year."""
    errors: dict[str, Any] = {}
    if not full_name.strip():
        errors["full_name"] = _("The full name is required.")
    if sex not in User.Sex.values:
        errors["sex"] = _("Sex must be 'male' or 'female'.")
    if errors:
        raise ValidationFailed(fields=errors)
    parsed = validate_personal_id(personal_id, sex=sex, birth_date=birth_date)
    if User.objects.filter(personal_id=parsed.number).exists():
        raise ValidationFailed(
            fields={"personal_id": _("An account with this personal ID already exists.")},
            code="duplicate_personal_id",
        )
    user = User(
        username=parsed.number,
        personal_id=parsed.number,
        full_name=full_name.strip(),
        sex=sex,
        birth_date=birth_date,
        phone=phone,
        home_unit=home_unit,
        kind=User.Kind.CITIZEN,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ValidationFailed(
            fields={"personal_id": _("An account with this personal ID already exists.")},
            code="duplicate_personal_id",
        ) from None
    audit_record(actor=actor, action="citizen.create", obj=user, to_state="active")
    return user


@transaction.atomic
def official_create(
    *, username: str, full_name: str, password: str, email: str = "", actor: Any = None
) -> User:
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(fields={"username": _("This username is taken.")})
    user = User(username=username, full_name=full_name, email=email, kind=User.Kind.OFFICIAL)
    user.set_password(password)
    user.save()
    audit_record(actor=actor, action="official.create", obj=user, to_state="active")
    return user


# --- Agencies and roles -----------------------------------------------------------------


@transaction.atomic
def agency_create(
    *,
    code: str,
    name: str,
    kind: str,
    admin_unit: AdminUnit,
    parent: Agency | None = None,
    name_en: str = "",
    actor: Any = None,
) -> Agency:
    if kind not in Agency.Kind.values:
        raise ValidationFailed(fields={"kind": _("Unknown agency kind.")})
    if Agency.objects.filter(code=code).exists():
        raise ValidationFailed(fields={"code": _("An agency with this code already exists.")})
    agency = Agency.objects.create(
        code=code, name=name, name_en=name_en, kind=kind, admin_unit=admin_unit, parent=parent
    )
    audit_record(actor=actor, action="agency.create", obj=agency, to_state="active")
    return agency


@transaction.atomic
def role_grant(*, user: User, agency: Agency, role: str, actor: Any = None) -> Membership:
    if role not in Role.values:
        raise ValidationFailed(fields={"role": _("Unknown role.")})
    if user.kind != User.Kind.OFFICIAL:
        raise ValidationFailed(fields={"user": _("Only officials hold roles in agencies.")})
    membership, created = Membership.objects.get_or_create(user=user, agency=agency, role=role)
    if created:
        audit_record(
            actor=actor,
            action="role.grant",
            obj=membership,
            data={"agency": agency.code, "role": role},
        )
    return membership


@transaction.atomic
def role_revoke(*, membership: Membership, actor: Any = None) -> None:
    audit_record(
        actor=actor,
        action="role.revoke",
        obj=membership,
        data={"agency": membership.agency.code, "role": membership.role},
    )
    membership.delete()


# --- API tokens -------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None, actor: Any = None
) -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and never stored."""
    if not name.strip():
        raise ValidationFailed(fields={"name": _("A token needs a name.")})
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip(), prefix=prefix, digest=_digest(secret), expires_at=expires_at
    )
    audit_record(actor=actor or user, action="api_token.create", obj=token, to_state="active")
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Any = None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="api_token.revoke",
            obj=token,
            from_state="active",
            to_state="revoked",
        )
    return token


def api_token_authenticate(*, raw: str) -> User:
    """The active user behind a raw token, or AuthenticationFailed with a stable code."""
    parts = raw.split("_", 2) if raw else []
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 8 or not parts[2]:
        raise AuthenticationFailed(
            _("The token is malformed."),
            fields={"Authorization": _("Expected 'Bearer thd_<prefix>_<secret>'.")},
            code="malformed_token",
        )
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.digest, _digest(parts[2])):
        raise AuthenticationFailed(_("The token is not valid."), code="invalid_token")
    if not token.is_usable():
        raise AuthenticationFailed(_("The token was revoked or has expired."), code="token_revoked")
    if not token.user.is_active:
        raise AuthenticationFailed(_("The token's owner is disabled."), code="invalid_token")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        # Coarse, so a busy system token costs one write per five minutes, not per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- Sign-in: slowed, then locked (ADR 0006) ---------------------------------------------


def _throttle_keys(username: str, ip: str | None) -> list[str]:
    keys = [f"user:{username.strip().lower()[:150]}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def _wait_seconds(failures: int) -> int:
    free = settings.LOGIN_THROTTLE_FREE
    if failures < free:
        return 0
    return int(min(2 ** (failures - free + 1), 60))


def login_check_allowed(*, username: str, ip: str | None) -> None:
    """Raise Throttled if this name or address must wait or is locked."""
    now = timezone.now()
    for row in LoginThrottle.objects.filter(key__in=_throttle_keys(username, ip)):
        if row.blocked_until and row.blocked_until > now:
            wait = int((row.blocked_until - now).total_seconds()) + 1
            locked = row.failures >= settings.LOGIN_THROTTLE_LOCK
            raise Throttled(
                _(
                    "This account is locked after too many failed attempts. Try again in "
                    "%(minutes)s minutes."
                )
                % {"minutes": max(1, wait // 60)}
                if locked
                else _("Too many failed attempts. Wait %(seconds)s seconds and try again.")
                % {"seconds": wait},
                retry_after=wait,
                code="account_locked" if locked else "throttled",
            )


def login_failed(*, username: str, ip: str | None) -> None:
    now = timezone.now()
    with transaction.atomic():
        for key in _throttle_keys(username, ip):
            row, _created = LoginThrottle.objects.select_for_update().get_or_create(key=key)
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= settings.LOGIN_THROTTLE_LOCK:
                row.blocked_until = now + timedelta(minutes=settings.LOGIN_THROTTLE_LOCK_MINUTES)
            elif (wait := _wait_seconds(row.failures)) > 0:
                row.blocked_until = now + timedelta(seconds=wait)
            row.save()
        audit_record(
            actor=username[:150] or "?",
            action="login.failed",
            object_type="accounts.user",
            object_id=username[:64],
        )


#: Sign-in throttles with no failure for this long, and no running lock, are forgotten.
LOGIN_THROTTLE_RETENTION = timedelta(hours=24)


def login_throttles_purge(*, now: datetime | None = None) -> int:
    """Delete throttles whose last failure is older than the retention and that lock nothing.

    A throttle whose lock still runs is kept, however old its last failure, so that purging
    never unlocks an account early. Returns the number of rows deleted.
    """
    now = now or timezone.now()
    stale = LoginThrottle.objects.filter(
        last_failure_at__lt=now - LOGIN_THROTTLE_RETENTION,
    ).filter(Q(blocked_until__isnull=True) | Q(blocked_until__lte=now))
    with transaction.atomic():
        deleted, _ = stale.delete()
    return deleted


def login_succeeded(*, user: User, ip: str | None) -> None:
    LoginThrottle.objects.filter(key__in=_throttle_keys(user.get_username(), None)).delete()


def password_login(*, request: HttpRequest, username: str, password: str, ip: str | None) -> User:
    """Check the password, honouring the throttle. Does not start a session."""
    if not username or not password:
        fields: dict[str, Any] = {}
        if not username:
            fields["username"] = _("Enter your username or personal ID.")
        if not password:
            fields["password"] = _("Enter your password.")
        raise ValidationFailed(fields=fields)
    login_check_allowed(username=username, ip=ip)
    user = authenticate(request, username=username, password=password)
    if user is None:
        login_failed(username=username, ip=ip)
        raise AuthenticationFailed(
            _("The username or password is not correct."),
            fields={"password": _("The username or password is not correct.")},
            code="invalid_credentials",
        )
    login_succeeded(user=user, ip=ip)  # type: ignore[arg-type]
    return user  # type: ignore[return-value]


# --- Second factor (TOTP) -----------------------------------------------------------------


def needs_second_factor(user: User) -> bool:
    """Officials and staff must use a second factor (a confirmed TOTP device)."""
    return user.kind == User.Kind.OFFICIAL or user.is_staff


@transaction.atomic
def totp_device_create(
    *,
    user: User,
    name: str = "authenticator",
    key: str | None = None,
    confirmed: bool = False,
    actor: Any = None,
) -> TOTPDevice:
    """A TOTP device; enrolment confirms it with totp_confirm. `key` is hex (demo: fixed)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    kwargs: dict[str, Any] = {"user": user, "name": name, "confirmed": confirmed}
    if key:
        kwargs["key"] = key
    device = TOTPDevice.objects.create(**kwargs)
    audit_record(
        actor=actor or user,
        action="totp.create",
        obj=device,
        to_state="confirmed" if confirmed else "pending",
    )
    return device


def totp_verify(*, user: User, code: str, ip: str | None) -> TOTPDevice:
    """Verify a 6-digit code against the user's confirmed devices; failures count as sign-in
    failures (the same throttle), so the second factor cannot be guessed."""
    code = (code or "").strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        raise ValidationFailed(
            fields={"otp_token": _("The code has 6 digits.")}, code="malformed_otp"
        )
    login_check_allowed(username=user.get_username(), ip=ip)
    for device in TOTPDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(code):
            return device
    login_failed(username=user.get_username(), ip=ip)
    raise AuthenticationFailed(
        _("The verification code is not correct or has expired."),
        fields={"otp_token": _("The verification code is not correct or has expired.")},
        code="invalid_otp",
    )


@transaction.atomic
def totp_confirm(*, user: User, code: str, ip: str | None) -> TOTPDevice:
    code = (code or "").strip()
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        raise PermissionDenied(_("There is no authenticator waiting for confirmation."))
    if not (len(code) == 6 and code.isdigit()) or not device.verify_token(code):
        raise ValidationFailed(fields={"otp_token": _("The verification code is not correct.")})
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(
        actor=user, action="totp.confirm", obj=device, from_state="pending", to_state="confirmed"
    )
    return device
