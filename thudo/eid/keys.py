"""The demo identity provider's RS256 signing key: a PEM file (EID_OIDC_KEY_FILE), created on
first use when missing, like the exchange node's key."""

from __future__ import annotations

import os
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauth2_provider.settings import oauth2_settings

from . import conf

_lock = threading.Lock()


def generate_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def private_pem() -> str:
    """The key file's PEM; a new key is written (mode 0600) when there is none. Two processes
    starting together agree on one key: each writes a private temporary file and links it into
    place, which fails for the second, who then reads the first one's key."""
    path = conf.key_file()
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(generate_pem())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text()


def ensure_provider_key() -> None:
    """Give django-oauth-toolkit the signing key before it signs or publishes anything.

    OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"] wins when set (EID_OIDC_PRIVATE_KEY); otherwise the
    key file's PEM is put where the toolkit keeps its resolved settings (its settings object
    caches each value as an attribute and drops them all when OAUTH2_PROVIDER changes).
    """
    if oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        return
    oauth2_settings.OIDC_RSA_PRIVATE_KEY = private_pem()
    oauth2_settings._cached_attrs.add("OIDC_RSA_PRIVATE_KEY")


def load_existing_key() -> None:
    """At start-up: hand the key file to the toolkit when it exists (so the admin can validate
    RS256 clients before the provider's first request); never creates one."""
    try:
        if not oauth2_settings.OIDC_RSA_PRIVATE_KEY and conf.key_file().exists():
            ensure_provider_key()
    except OSError:
        pass
