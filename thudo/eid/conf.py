"""The e-ID settings, each read when used (so tests and deployments can change them) with the
embedded demo's defaults. docs/eid.md lists them."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

DEMO_CLIENT_ID = "thudo-portal"
DEMO_CLIENT_SECRET = "thudo-portal-demo-secret-2026"  # noqa: S105 — published demo credential


def _base() -> str:
    return str(getattr(settings, "THUDO_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")


def issuer() -> str:
    """The identity provider the portal trusts (its `iss`), e.g. https://vneid.gov.vn/oidc."""
    return str(getattr(settings, "EID_ISSUER", "http://127.0.0.1:8000/eid")).rstrip("/")


def client_id() -> str:
    return str(getattr(settings, "EID_CLIENT_ID", DEMO_CLIENT_ID))


def client_secret() -> str:
    return str(getattr(settings, "EID_CLIENT_SECRET", DEMO_CLIENT_SECRET))


def portal_base() -> str:
    """Where citizens reach the portal; the demo registers <base>/accounts/vneid/callback/."""
    return str(getattr(settings, "EID_PORTAL_BASE", "") or _base()).rstrip("/")


def discovery() -> bool:
    """Read the provider's endpoints from <issuer>/.well-known/openid-configuration (cached)
    instead of deriving them from the issuer as the demo provider lays them out."""
    return bool(getattr(settings, "EID_DISCOVERY", False))


def timeout() -> tuple[float, float]:
    """Connect and read timeouts of the portal's calls to the provider, in seconds."""
    return (3.0, float(getattr(settings, "EID_TIMEOUT", 10)))


# --- The demo identity provider ---------------------------------------------------------


def key_file() -> Path:
    """The provider's RS256 private key (PEM), created on first use when missing."""
    default = Path(getattr(settings, "VAR_DIR", Path(settings.BASE_DIR) / "var"))
    return Path(getattr(settings, "EID_OIDC_KEY_FILE", "") or default / "eid-oidc-key.pem")


def session_cookie_name() -> str:
    """The provider's own session cookie (the portal keeps SESSION_COOKIE_NAME)."""
    return str(getattr(settings, "EID_SESSION_COOKIE_NAME", "vneid_session"))


def session_path() -> str:
    """Requests under this path belong to the provider and use its session."""
    path = str(getattr(settings, "EID_SESSION_PATH", "/eid/"))
    return path if path.endswith("/") else path + "/"


def session_seconds() -> int:
    """How long a sign-in at the provider lasts (single sign-on for the portal meanwhile)."""
    return int(getattr(settings, "EID_SESSION_SECONDS", 30 * 60))
