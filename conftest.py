"""Fixtures shared by every domain's tests. Data is built with the domains' own services."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest


@pytest.fixture
def hanoi(db: Any) -> Any:
    """Hanoi and its 126 wards and communes (the migration loads them; transactional tests
    flush tables, so reload when missing)."""
    from thudo.core.models import AdminUnit
    from thudo.core.units import units_load

    if not AdminUnit.objects.filter(code="01").exists():
        units_load(provinces=[1])
    return AdminUnit.objects.get(code="01")


@pytest.fixture
def ward(hanoi: Any) -> Any:
    from thudo.core.models import AdminUnit

    return AdminUnit.objects.get(code="00070")  # Phường Hoàn Kiếm


@pytest.fixture
def make_agency(hanoi: Any) -> Any:
    from thudo.accounts import services

    def make(
        code: str = "HN-TEST",
        kind: str = "commune_committee",
        unit: Any = None,
        parent: Any = None,
        name: str = "",
    ) -> Any:
        return services.agency_create(
            code=code,
            name=name or f"Agency {code}",
            kind=kind,
            admin_unit=unit or hanoi,
            parent=parent,
        )

    return make


@pytest.fixture
def make_official(db: Any) -> Any:
    from thudo.accounts import services

    counter = {"n": 0}

    def make(
        role: str | None = None,
        agency: Any = None,
        username: str = "",
        password: str = "s3cret-pass-1",
        totp_key: str | None = None,
    ) -> Any:
        counter["n"] += 1
        user = services.official_create(
            username=username or f"official{counter['n']}",
            full_name="Cán bộ Thử",
            password=password,
        )
        if role and agency:
            services.role_grant(user=user, agency=agency, role=role)
        if totp_key:
            services.totp_device_create(user=user, key=totp_key, confirmed=True)
        return user

    return make


@pytest.fixture
def citizen(hanoi: Any) -> Any:
    from thudo.accounts import services

    return services.citizen_create(
        personal_id="001090123456",
        full_name="Nguyễn Văn An",
        sex="male",
        birth_date=date(1990, 5, 17),
        password="citizen-pass-1",
    )


@pytest.fixture
def totp_code() -> Any:
    """The current code of a hex TOTP key, as an authenticator app would show it."""
    from binascii import unhexlify

    from django_otp.oath import totp

    def code(key: str, offset_steps: int = 0) -> str:

        return f"{totp(unhexlify(key), t0=0, step=30, digits=6, drift=offset_steps):06d}"

    return code
