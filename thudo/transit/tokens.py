"""Device tokens: random secrets shown once; only their SHA-256 is stored (Device.token_hash).
The demo's devices get tokens derived from SECRET_KEY, so that the simulator on the same
deployment can sign in as them without a file of secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def demo_device_token(device_id: str) -> str:
    """The demo device's token (HMAC of its id under SECRET_KEY)."""
    mac = hmac.new(
        settings.SECRET_KEY.encode(), b"transit-demo-device:" + device_id.encode(), "sha256"
    )
    return mac.hexdigest()[:40]
