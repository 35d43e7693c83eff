"""The exchange protocol r1: identifiers, headers, error codes, digests and signed claims.

Pure functions and constants shared by the node (thudo.exchange.node), the in-process client
(thudo.exchange.client) and the views; docs/exchange.md states the same rules for other agencies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from . import keys

VERSION = "r1"

# Request headers (client system → its node, and node → provider node).
H_AUTHORIZATION = "Authorization"
H_MESSAGE_ID = "Thudo-Message-Id"
H_PURPOSE = "Thudo-Purpose"
H_DOSSIER = "Thudo-Dossier"
H_END_USER = "Thudo-End-User"
H_SUBJECT = "Thudo-Subject"
H_CLIENT = "Thudo-Client"  # node → node: the client system's identifier
H_SIGNATURE = "Thudo-Signature"  # node → node (request) and every answer (response)
H_REQUEST_SIGNATURE = "Thudo-Request-Signature"  # client node's answers: its request signature
H_LOG_INDEX = "Thudo-Log-Index"  # in answers: the answering node's log entry
H_PROVIDER_LOG_INDEX = "Thudo-Provider-Log-Index"  # client node's answers: the provider's entry
H_ERROR = "Thudo-Error"  # in answers that a node (not the provider system) produced

TYP_REQUEST = "thudo-request"
TYP_RESPONSE = "thudo-response"
ASSERTION_MAX_LIFETIME_S = 300

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MESSAGE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")
SUBJECT_RE = re.compile(r"^(\d{9}|\d{12})$")
MAX_PURPOSE = 500
MAX_DOSSIER = 40
MAX_END_USER = 100


@dataclass(frozen=True)
class ErrorKind:
    status: int
    message: str | Promise


ERRORS: dict[str, ErrorKind] = {
    "malformed_request": ErrorKind(400, _("The request is malformed.")),
    "subject_required": ErrorKind(
        400,
        _(
            "This service returns personal data: the Thudo-Subject header must give the "
            "personal ID the call is about."
        ),
    ),
    "unknown_client": ErrorKind(
        401, _("The client system is not known on this node, or it is not active.")
    ),
    "bad_client_assertion": ErrorKind(401, _("The client assertion is not valid.")),
    "replayed_assertion": ErrorKind(
        401, _("This client assertion was already used: sign a new one with a new jti.")
    ),
    "bad_signature": ErrorKind(401, _("The node signature is not valid.")),
    "access_denied": ErrorKind(403, _("The client system has no access right to this service.")),
    "grant_expired": ErrorKind(403, _("The client system's access right to this service expired.")),
    "grant_revoked": ErrorKind(
        403, _("The client system's access right to this service was revoked.")
    ),
    "unknown_service": ErrorKind(404, _("There is no such active service on the exchange.")),
    "replayed_message": ErrorKind(
        409,
        _(
            "This message id was already used for a different request: use a new message id "
            "for a new request."
        ),
    ),
    "provider_unreachable": ErrorKind(502, _("The provider could not be reached.")),
    "provider_timeout": ErrorKind(504, _("The provider did not answer in time.")),
}


class ExchangeError(Exception):
    """An exchange that failed with one of the protocol's error codes (docs/exchange.md).

    `code` and `status` come from the error table; `detail` says which header or field and why.
    """

    def __init__(
        self,
        code: str,
        detail: str | Promise = "",
        *,
        message_id: str = "",
        status: int | None = None,
        text: Mapping[str, str] | None = None,
    ) -> None:
        kind = ERRORS[code]
        self.code = code
        self.status = status or kind.status
        self.detail = detail
        self.message_id = message_id
        self.text = dict(text or {})  # messages by language from another node, when relayed
        super().__init__(code)

    def message(self, language: str | None = None) -> str:
        """The message in `language` (the active one when None)."""
        if language:
            with translation.override(language):
                return self._text()
        return self._text()

    def _text(self) -> str:
        language = (translation.get_language() or "vi")[:2]
        if language in self.text:
            return self.text[language]
        base = str(ERRORS[self.code].message)
        return f"{base} {self.detail}" if self.detail else base

    def __str__(self) -> str:
        return f"{self.code} ({self.status}): {self.message()}"

    def as_body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message(),
                "message_vi": self.message("vi"),
                "message_en": self.message("en"),
                "message_id": self.message_id,
            }
        }


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sha256_b64url(data: bytes | str) -> str:
    """base64url (no padding) of SHA-256: `body_sha256`, `request_sha256` in signed claims."""
    if isinstance(data, str):
        data = data.encode()
    return b64url(hashlib.sha256(data).digest())


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS without checking it (to find who says they signed it)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(claims, dict):
        raise ValueError("the payload is not a JSON object")
    return claims


def canonical_query(raw: str) -> str:
    """The query string as the signature states it: each name and value percent-decoded
    (UTF-8), re-encoded with only RFC 3986 unreserved characters left as they are (space is
    %20), joined with & in the order sent. Both nodes compute it from what they see."""
    if not raw:
        return ""
    pairs = parse_qsl(raw, keep_blank_values=True, errors="strict")
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def query_dict(canonical: str) -> dict[str, str]:
    return dict(parse_qsl(canonical, keep_blank_values=True))


@dataclass(frozen=True)
class Identifier:
    instance: str
    member_class: str
    member: str
    system: str
    service: str = ""

    @property
    def system_identifier(self) -> str:
        return f"{self.instance}/{self.member_class}/{self.member}/{self.system}"

    @property
    def service_identifier(self) -> str:
        return f"{self.system_identifier}/{self.service}"


def parse_target(rest: str) -> tuple[Identifier, str]:
    """`VN/GOV/BCA/CSDLQGDC/person/person/0010...` → (the service identifier, "person/0010...").

    The first five segments name the service; the rest (without a leading slash) is the path.
    Raises ValueError for a bad identifier."""
    parts = rest.split("/", 5)
    if len(parts) < 5 or not all(SEGMENT_RE.match(p) for p in parts[:5]):
        raise ValueError(rest)
    path = parts[5] if len(parts) > 5 else ""
    return Identifier(*parts[:5]), path


def parse_system(identifier: str) -> Identifier:
    parts = identifier.split("/")
    if len(parts) != 4 or not all(SEGMENT_RE.match(p) for p in parts):
        raise ValueError(identifier)
    return Identifier(*parts)


def parse_service(identifier: str) -> Identifier:
    ident, path = parse_target(identifier)
    if path:
        raise ValueError(identifier)
    return ident


def request_claims(
    *,
    mid: str,
    node: str,
    client: str,
    service: str,
    method: str,
    path: str,
    query: str,
    purpose: str,
    dossier: str,
    user: str,
    subject: str,
    iat: int,
    body_sha256: str,
) -> dict[str, Any]:
    return {
        "typ": TYP_REQUEST,
        "mid": mid,
        "node": node,
        "client": client,
        "service": service,
        "method": method,
        "path": path,
        "query": query,
        "purpose": purpose,
        "dossier": dossier,
        "user": user,
        "subject": subject,
        "iat": iat,
        "body_sha256": body_sha256,
    }


def request_digest(claims: Mapping[str, Any]) -> str:
    """What makes two requests "the same" for idempotency: every signed claim except iat (and
    the signing node), hex SHA-256 of their canonical JSON."""
    same = {k: v for k, v in claims.items() if k not in {"iat", "node"}}
    return hashlib.sha256(keys.canonical_json(same)).hexdigest()


def response_claims(
    *,
    mid: str,
    node: str,
    service: str,
    status: int,
    iat: int,
    body_sha256: str,
    request_sha256: str,
) -> dict[str, Any]:
    return {
        "typ": TYP_RESPONSE,
        "mid": mid,
        "node": node,
        "service": service,
        "status": status,
        "iat": iat,
        "body_sha256": body_sha256,
        "request_sha256": request_sha256,
    }


def decode_header(value: str) -> str:
    return unquote(value, errors="strict")


def encode_header(value: str) -> str:
    """Percent-encode a header value (UTF-8), leaving printable ASCII but % readable."""
    return quote(value, safe=" !#$&'()*+,-./:;<=>?@[]^_`{|}~")
