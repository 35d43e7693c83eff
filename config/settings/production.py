"""Production settings: base plus the hardening a public deployment needs."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env.str("SECRET_KEY")  # required: no fallback in production
DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
THUDO_KEY_PASSPHRASE = env.str("THUDO_KEY_PASSPHRASE")  # required: keys are encrypted with it
if len(THUDO_KEY_PASSPHRASE) < 16:
    raise ImproperlyConfigured("THUDO_KEY_PASSPHRASE must be set (16 characters or more)")
# The portal's e-ID client secret is issued by the provider; the demo's published one won't do.
EID_CLIENT_SECRET = env.str("EID_CLIENT_SECRET")
if EID_CLIENT_SECRET == "thudo-portal-demo-secret-2026":  # noqa: S105 — refusing the demo value
    raise ImproperlyConfigured("EID_CLIENT_SECRET must be the secret the e-ID provider issued")
