"""django-oauth-toolkit's settings for the demo VNeID identity provider (docs/eid.md).

config/settings/base.py takes them with `from thudo.eid.settings import OAUTH2_PROVIDER`. Only the
environment is read here (this module is imported while the settings are being built); the
signing key itself is read from EID_OIDC_KEY_FILE, or created there, on first use
(thudo.eid.keys), unless EID_OIDC_PRIVATE_KEY holds a PEM.
"""

from __future__ import annotations

from typing import Any

import environ
from django.utils.translation import gettext_lazy as _

env = environ.Env()

OAUTH2_PROVIDER: dict[str, Any] = {
    "OIDC_ENABLED": True,
    # Empty: the issuer is <scheme>://<host>/eid as the request reached the provider. Behind a
    # proxy that rewrites the host, set EID_IDP_ISSUER to the public issuer URL.
    "OIDC_ISS_ENDPOINT": env.str("EID_IDP_ISSUER", default=""),
    "OIDC_RSA_PRIVATE_KEY": env.str("EID_OIDC_PRIVATE_KEY", default=""),
    "OAUTH2_VALIDATOR_CLASS": "thudo.eid.validators.VNeIDValidator",
    "SCOPES": {
        "openid": _("Your personal ID number and e-ID level"),
        "profile": _("Your name, date of birth and sex"),
        "address": _("Your permanent residence address"),
    },
    "DEFAULT_SCOPES": ["openid"],
    # Authorization code with PKCE (S256), nothing else.
    "PKCE_REQUIRED": True,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # none are issued (views_idp.CodeFlowServer)
    # Production: "https" only (the demo's portal is on http://127.0.0.1:8000).
    "ALLOWED_REDIRECT_URI_SCHEMES": env.list("EID_REDIRECT_URI_SCHEMES", default=["http", "https"]),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("EID_ACCESS_TOKEN_SECONDS", default=300),
    "ID_TOKEN_EXPIRE_SECONDS": env.int("EID_ID_TOKEN_SECONDS", default=300),
    # Every client is registered by the data owner; no consent screen for the first-party
    # portal (Application.skip_authorization), a consent screen for any other.
    "REQUEST_APPROVAL_PROMPT": "force",
}
