"""Test helpers of the e-ID domain: residents of the population registry with citizen accounts,
and the settings the provider and the portal need (until config/settings/base.py carries them,
the tests apply them; afterwards applying them again changes nothing)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings as django_settings

from thudo.eid.settings import OAUTH2_PROVIDER

MIDDLEWARE_PATH = "thudo.eid.middleware.SessionMiddleware"
DJANGO_SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
PASSWORD = "mat-khau-dan-1"  # noqa: S105 — a test credential


def apply_settings(settings: Any, *, key_file: Any, base_url: str = "") -> None:
    """Set what the e-ID needs on pytest-django's `settings` fixture (restored after the test).
    AUTHENTICATION_BACKENDS is left alone: the VNeID callback works with or without its backend
    listed there.

    `base_url`: the live server's URL, so the portal's issuer is the provider it serves.
    """
    settings.OAUTH2_PROVIDER = dict(OAUTH2_PROVIDER)
    settings.EID_OIDC_KEY_FILE = str(key_file)
    settings.MIDDLEWARE = [
        MIDDLEWARE_PATH if m == DJANGO_SESSIONS else m for m in django_settings.MIDDLEWARE
    ]
    if base_url:
        settings.EID_ISSUER = f"{base_url}/eid"
        settings.EID_PORTAL_BASE = base_url


def reload_server_middleware(live_server: Any) -> None:
    """Rebuild the running live server's middleware from the current MIDDLEWARE (the server is
    shared by the whole session and built its chain when it started)."""
    app = live_server.thread.httpd.get_app()
    while app is not None:
        if type(app).__name__ == "WSGIHandler":
            app.load_middleware()
        app = getattr(app, "application", None)


def make_resident(
    *,
    ward: Any,
    personal_id: str,
    full_name: str,
    sex: str,
    birth_date: date,
    eid_level: int,
    password: str | None = PASSWORD,
    household_code: str = "",
    address: str = "12 Hàng Bài",
) -> Any:
    """A resident in the population registry (with a household in `ward`) and, when `password`
    is given, the citizen account whose password the demo provider checks."""
    from thudo.accounts import services
    from thudo.registries.models import Household, Person

    household = Household.objects.create(
        code=household_code or f"HK{personal_id}", address=address, ward=ward
    )
    person = Person.objects.create(
        personal_id=personal_id,
        full_name=full_name,
        birth_date=birth_date,
        sex=sex,
        household=household,
        relation_to_head=Person.Relation.HEAD,
        eid_level=eid_level,
    )
    if password:
        services.citizen_create(
            personal_id=personal_id,
            full_name=full_name,
            sex=sex,
            birth_date=birth_date,
            password=password,
        )
    return person


def register_portal() -> Any:
    """The portal as a client of the provider (the demo step, with the current EID_* settings)."""
    from oauth2_provider.models import get_application_model

    from thudo.eid import conf, demo

    demo.demo_load()
    return get_application_model().objects.get(client_id=conf.client_id())
