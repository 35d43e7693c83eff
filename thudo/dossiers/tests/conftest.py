"""Fixtures of the dossiers tests: a ward with its officials, a citizen living there, the
birth registration procedure. Stored files go to a temporary MEDIA_ROOT."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from .factories import make_procedure


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def ward_agency(make_agency: Any, ward: Any) -> Any:
    city = make_agency("HN", kind="city_committee", name="Ủy ban nhân dân thành phố Hà Nội")
    return make_agency("HN-00070", unit=ward, parent=city, name="Ủy ban nhân dân phường Hoàn Kiếm")


@pytest.fixture
def other_agency(make_agency: Any, hanoi: Any) -> Any:
    from thudo.core.models import AdminUnit

    unit = AdminUnit.objects.filter(parent=hanoi).exclude(code="00070").order_by("code").first()
    assert unit is not None
    return make_agency(f"HN-{unit.code}", unit=unit, name=f"Ủy ban nhân dân {unit.name}")


@pytest.fixture
def staff(ward_agency: Any, make_official: Any) -> Any:
    """The ward's receiving officer, processing officer and approver."""
    return SimpleNamespace(
        receiving=make_official("receiving_officer", ward_agency, username="tiepnhan"),
        processing=make_official("processing_officer", ward_agency, username="xuly"),
        approver=make_official("approver", ward_agency, username="pheduyet"),
    )


@pytest.fixture
def applicant(citizen: Any, ward: Any, ward_agency: Any) -> Any:
    """The citizen, living in the ward (whose committee receives their dossiers)."""
    citizen.home_unit = ward
    citizen.email = "an@example.vn"
    citizen.save(update_fields=["home_unit", "email"])
    return citizen


@pytest.fixture
def other_citizen(hanoi: Any, ward: Any) -> Any:
    from datetime import date

    from thudo.accounts import services

    return services.citizen_create(
        personal_id="001190123457",
        full_name="Trần Thị Bình",
        sex="female",
        birth_date=date(1990, 3, 2),
        home_unit=ward,
    )


@pytest.fixture
def procedure(db: Any) -> Any:
    return make_procedure()


@pytest.fixture
def signing(ward_agency: Any, monkeypatch: Any) -> Any:
    """Signing keys for the ward (and the root, TSA, OCSP), quickly."""
    from thudo.documents import pki

    monkeypatch.setattr(pki, "PKCS12_KDF_ROUNDS", 1_000)
    pki.pki_init(agencies=[ward_agency])
    return ward_agency


@pytest.fixture(autouse=True)
def empty_cache() -> Any:
    """The public look-up caches its answers: start and end every test with an empty cache."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def empty_process_caches() -> Any:
    """Procedure versions and agencies are kept per process; test databases reuse ids and
    codes, so every test starts without them."""
    from thudo.dossiers.services import _agencies
    from thudo.procedures.selectors import procedure_versions_forget

    _agencies.clear()
    procedure_versions_forget()
    yield
    _agencies.clear()
    procedure_versions_forget()
