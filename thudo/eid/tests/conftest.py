"""The e-ID tests' settings: the provider's OAUTH2_PROVIDER, the two-session middleware and the
VNeID backend (thudo.eid.testing.apply_settings), one signing key for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from thudo.eid import testing


@pytest.fixture(scope="session")
def eid_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from thudo.eid.keys import generate_pem

    path = tmp_path_factory.mktemp("eid") / "eid-oidc-key.pem"
    path.write_text(generate_pem())
    return path


@pytest.fixture(autouse=True)
def eid_settings(settings: Any, eid_key_file: Path) -> Any:
    testing.apply_settings(settings, key_file=eid_key_file)
    settings.EID_PORTAL_BASE = "http://testserver"
    settings.EID_ISSUER = "http://testserver/eid"
    return settings


@pytest.fixture(scope="session")
def base_middleware() -> list[str]:
    """MIDDLEWARE as the settings files have it (session fixtures come before the overrides)."""
    from django.conf import settings

    return list(settings.MIDDLEWARE)


@pytest.fixture
def eid_live(
    base_middleware: list[str], live_server: Any, eid_settings: Any, eid_key_file: Path
) -> Iterator[str]:
    """The live server serving the provider and the portal; yields its base URL."""
    testing.apply_settings(eid_settings, key_file=eid_key_file, base_url=live_server.url)
    testing.reload_server_middleware(live_server)
    try:
        yield str(live_server.url)
    finally:
        eid_settings.MIDDLEWARE = base_middleware
        testing.reload_server_middleware(live_server)


@pytest.fixture
def portal_client(hanoi: Any) -> Any:
    return testing.register_portal()


@pytest.fixture
def resident(ward: Any) -> Any:
    """Level 2: verified in person. Her citizen account still has an old spelling of her name."""
    person = testing.make_resident(
        ward=ward,
        personal_id="001185000111",
        full_name="Trần Thị Bích Ngọc",
        sex="female",
        birth_date=date(1985, 4, 2),
        eid_level=2,
    )
    from thudo.accounts.models import User

    User.objects.filter(personal_id=person.personal_id).update(full_name="Tran Thi Ngoc")
    return person
