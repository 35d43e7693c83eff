"""The demo's e-ID: the portal registered as a client of the demo VNeID provider."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.urls import reverse
from oauth2_provider.models import get_application_model

from . import conf, keys

PORTAL_NAME = "Cổng dịch vụ công Hà Nội (Thudo)"


def portal_redirect_uris() -> list[str]:
    """<EID_PORTAL_BASE>/accounts/vneid/callback/, and the same on "localhost" when the base is
    127.0.0.1 (the demo is opened either way)."""
    base = conf.portal_base()
    callback = reverse("eid_client:callback")
    uris = [f"{base}{callback}"]
    parts = urlsplit(base)
    if parts.hostname == "127.0.0.1":
        port = f":{parts.port}" if parts.port else ""
        uris.append(f"{parts.scheme}://localhost{port}{parts.path}{callback}")
    return uris


@transaction.atomic
def demo_load(stdout: Any = None) -> None:
    """Register (or bring up to date) the portal as a confidential client, and make sure the
    provider has its signing key; idempotent."""
    keys.ensure_provider_key()
    Application = get_application_model()
    values = {
        "name": PORTAL_NAME,
        "client_type": Application.CLIENT_CONFIDENTIAL,
        "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
        "redirect_uris": " ".join(portal_redirect_uris()),
        "skip_authorization": True,
        "algorithm": Application.RS256_ALGORITHM,
    }
    app = Application.objects.filter(client_id=conf.client_id()).first()
    created = app is None
    if app is None:
        app = Application(client_id=conf.client_id(), client_secret=conf.client_secret(), **values)
        app.save()
    else:
        for field, value in values.items():
            setattr(app, field, value)
        if not check_password(conf.client_secret(), app.client_secret):
            app.client_secret = conf.client_secret()  # hashed on save
        app.save()
    if stdout:
        stdout.write(
            f"  VNeID demo provider: client {app.client_id} "
            f"{'registered' if created else 'up to date'}, redirect {values['redirect_uris']}"
        )
