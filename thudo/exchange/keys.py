"""This node's signing key and JWS helpers (joserfc).

The node signs with Ed25519 (JWS alg "EdDSA") or P-256 ("ES256"); the private key is a JWK file
(settings.EXCHANGE_NODE_KEY_FILE), created on first use in the embedded set-up. Anything signed
here verifies with any JOSE library against the node's public JWK (published at
/exchange/r1/.well-known/jwks.json)."""

from __future__ import annotations

import json
import os
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey

ALGORITHMS = ["EdDSA", "ES256"]

# RFC 9864 (2025) names Ed25519 signatures "Ed25519" and deprecates "EdDSA"; we still sign with
# "EdDSA" because most JOSE libraries in the field know only that name (ADR 0017).
warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")

Key = OKPKey | ECKey


def key_alg(key: Key) -> str:
    return "EdDSA" if isinstance(key, OKPKey) else "ES256"


def generate_key(kind: str = "Ed25519") -> Key:
    if kind == "ES256":
        return ECKey.generate_key("P-256")
    return OKPKey.generate_key("Ed25519")


def import_jwk(data: dict[str, Any]) -> Key:
    if data.get("kty") == "OKP":
        return OKPKey.import_key(data)
    if data.get("kty") == "EC":
        return ECKey.import_key(data)
    raise ValueError(f"unsupported key type {data.get('kty')!r}")


def public_jwk(key: Key) -> dict[str, Any]:
    data = dict(key.as_dict(private=False))
    data.setdefault("kid", key.thumbprint())
    data["alg"] = key_alg(key)
    data["use"] = "sig"
    return data


@cache
def node_key() -> Key:
    """This node's private key, read from (or, the first time, written to) its key file."""
    path = Path(settings.EXCHANGE_NODE_KEY_FILE)
    if path.exists():
        return import_jwk(json.loads(path.read_text()))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    data = dict(key.as_dict(private=True))
    data["kid"] = key.thumbprint()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return key


def node_public_jwk() -> dict[str, Any]:
    return public_jwk(node_key())


def canonical_json(data: Any) -> bytes:
    """The one JSON encoding we sign and hash: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(claims: dict[str, Any], key: Key | None = None, typ: str = "JWT") -> str:
    """A compact JWS over the canonical JSON of `claims`, with the key's kid in the header."""
    key = key or node_key()
    header = {"alg": key_alg(key), "kid": public_jwk(key)["kid"], "typ": typ}
    return jws.serialize_compact(header, canonical_json(claims), key, algorithms=ALGORITHMS)


def verify(token: str, jwk: dict[str, Any] | Key) -> dict[str, Any]:
    """The claims of a compact JWS if `jwk` signed it; raises joserfc.errors.JoseError (or
    ValueError for a payload that is not a JSON object) otherwise."""
    key = import_jwk(jwk) if isinstance(jwk, dict) else jwk
    obj = jws.deserialize_compact(token, key, algorithms=ALGORITHMS)
    claims = json.loads(obj.payload)
    if not isinstance(claims, dict):
        raise ValueError("the signed payload is not a JSON object")
    return claims


def reset_cache() -> None:
    """Forget the cached key (tests switch key files)."""
    node_key.cache_clear()
