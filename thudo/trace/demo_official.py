"""The demo city's food-safety officer (a DemoStep after the accounts demo): ``attp.snnmt``,
Role.FOOD_SAFETY_OFFICER at the Department of Agriculture and Environment (HN-SNNMT), with the
published demo password and authenticator key (`accounts.demo`). Idempotent; nothing else."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from thudo.accounts.demo import DEMO_PASSWORD, demo_totp_key
from thudo.accounts.models import Agency, Membership, User
from thudo.accounts.roles import Role

USERNAME = "attp.snnmt"
FULL_NAME = "Lương Thị Minh Thu"
AGENCY_CODE = "HN-SNNMT"


@transaction.atomic
def demo_load(stdout: Any = None) -> None:
    agency = Agency.objects.filter(code=AGENCY_CODE).first()
    if agency is None:
        if stdout:
            stdout.write(f"  trace officer: agency {AGENCY_CODE} missing (load the accounts demo)")
        return
    user, created = User.objects.get_or_create(
        username=USERNAME,
        defaults={
            "full_name": FULL_NAME,
            "kind": User.Kind.OFFICIAL,
            "password": make_password(DEMO_PASSWORD),
            "email": f"{USERNAME}@demo.thudo.vn",
        },
    )
    Membership.objects.get_or_create(user=user, agency=agency, role=Role.FOOD_SAFETY_OFFICER)
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        TOTPDevice.objects.create(
            user=user, name="demo", confirmed=True, key=demo_totp_key(USERNAME)
        )
    if stdout:
        stdout.write(f"  trace officer: {USERNAME} ({'new' if created else 'kept'})")
