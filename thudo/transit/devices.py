"""Vehicles and their GPS devices: register, give a device its token, rotate it, switch it off.

Every write is a service here (keyword-only, one transaction, an audit row naming who did it).
A device's token is a random secret returned once by `device_register` and
`device_rotate_token`; only its SHA-256 and last four characters are stored (tokens.py). The
ingest (`ingest.authenticate`) keeps tokens it has checked for up to 30 seconds per process:
a rotated or deactivated token stops working at once in the process that made the change (its
cache is cleared after commit) and within 30 s in the others.

Rotating the token of a deactivated device switches it on again with the new token: the old
token is never valid again either way.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from thudo.core.audit import audit_record
from thudo.core.errors import InvalidTransition, ValidationFailed

from .models import Device, Vehicle, VehicleState
from .tokens import hash_token, new_token

# ids devices put in MQTT topics and HTTP bodies: letters, digits, ".", "_", "-"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ID_MAX = 64
LABEL_MAX = 64
PLATE_MAX = 20
OPERATOR_MAX = 200

MSG_REQUIRED = _("This field is required.")
MSG_ID_CHARS = _(
    "Use only letters, digits, dots, underscores and hyphens, starting with a letter or digit."
)
MSG_TOO_LONG = _("At most %(n)d characters.")
MSG_VEHICLE_TAKEN = _("A vehicle with this id is already registered.")
MSG_DEVICE_TAKEN = _("A device with this id is already registered.")
MSG_VEHICLE_INACTIVE = _("This vehicle is out of service: put it back in service first.")
MSG_DEVICE_INACTIVE = _("The device is already switched off.")


def _check_id(value: str, field: str, errors: dict[str, Any]) -> str:
    value = (value or "").strip()
    if not value:
        errors[field] = MSG_REQUIRED
    elif len(value) > ID_MAX:
        errors[field] = MSG_TOO_LONG % {"n": ID_MAX}
    elif not ID_RE.match(value):
        errors[field] = MSG_ID_CHARS
    return value


def _check_length(value: str, field: str, limit: int, errors: dict[str, Any]) -> str:
    value = " ".join((value or "").split())
    if len(value) > limit:
        errors[field] = MSG_TOO_LONG % {"n": limit}
    return value


@transaction.atomic
def vehicle_create(
    *, actor: Any, code: str, label: str = "", license_plate: str = "", operator: str = ""
) -> Vehicle:
    """A new vehicle (and its empty VehicleState row, which the ingest keeps up to date).
    `code` is the id its devices report (letters, digits, "._-"; unique)."""
    errors: dict[str, Any] = {}
    code = _check_id(code, "code", errors)
    label = _check_length(label, "label", LABEL_MAX, errors)
    license_plate = _check_length(license_plate, "license_plate", PLATE_MAX, errors).upper()
    operator = _check_length(operator, "operator", OPERATOR_MAX, errors)
    if "code" not in errors and Vehicle.objects.filter(code__iexact=code).exists():
        errors["code"] = MSG_VEHICLE_TAKEN
    if errors:
        raise ValidationFailed(fields=errors)
    vehicle = Vehicle.objects.create(
        code=code, label=label, license_plate=license_plate, operator=operator
    )
    VehicleState.objects.get_or_create(vehicle=vehicle)
    audit_record(
        actor=actor,
        action="transit.vehicle.create",
        obj=vehicle,
        to_state="active",
        data={"code": code, "label": label, "license_plate": license_plate, "operator": operator},
    )
    return vehicle


@transaction.atomic
def device_register(*, actor: Any, vehicle: Vehicle, device_id: str) -> tuple[Device, str]:
    """A GPS device fitted to `vehicle`; returns (device, token). The token is shown once."""
    errors: dict[str, Any] = {}
    device_id = _check_id(device_id, "device_id", errors)
    if "device_id" not in errors and Device.objects.filter(device_id__iexact=device_id).exists():
        errors["device_id"] = MSG_DEVICE_TAKEN
    if not vehicle.is_active:
        errors["vehicle"] = MSG_VEHICLE_INACTIVE
    if errors:
        raise ValidationFailed(fields=errors)
    token = new_token()
    device = Device.objects.create(
        vehicle=vehicle, device_id=device_id, token_hash=hash_token(token), token_hint=token[-4:]
    )
    audit_record(
        actor=actor,
        action="transit.device.register",
        obj=device,
        to_state="active",
        data={"vehicle": vehicle.code, "token_hint": device.token_hint},
    )
    return device, token


@transaction.atomic
def device_rotate_token(*, actor: Any, device: Device) -> str:
    """A new token for `device` (the old one stops working); a switched-off device is switched
    on again with it. Returns the token, shown once."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    was_active = device.is_active
    token = new_token()
    device.token_hash = hash_token(token)
    device.token_hint = token[-4:]
    device.is_active = True
    device.save(update_fields=["token_hash", "token_hint", "is_active"])
    audit_record(
        actor=actor,
        action="transit.device.rotate_token",
        obj=device,
        from_state="active" if was_active else "inactive",
        to_state="active",
        data={"token_hint": device.token_hint},
    )
    transaction.on_commit(_clear_auth_cache)
    return token


@transaction.atomic
def device_deactivate(*, actor: Any, device: Device) -> Device:
    """Switch a device off: its token is refused from now on (the ingest counts it as
    bad_token)."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if not device.is_active:
        raise InvalidTransition(MSG_DEVICE_INACTIVE)
    device.is_active = False
    device.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action="transit.device.deactivate",
        obj=device,
        from_state="active",
        to_state="inactive",
    )
    transaction.on_commit(_clear_auth_cache)
    return device


def _clear_auth_cache() -> None:
    from .ingest import clear_auth_cache

    clear_auth_cache()
