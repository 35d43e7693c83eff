"""Certificates from a CA that is not the city's, for tests: a licensed provider's certificate
an agency brings, or a signer nobody trusts."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from thudo.documents import pki

AGENCY_NAME = "Ủy ban nhân dân phường Hoàn Kiếm"


def foreign_certificate(
    ca_name: str, *, subject: str = AGENCY_NAME, ca_days: int = 365
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """(the foreign CA's certificate, a signing key, its signing certificate)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = pki._issue(
        subject=pki._name(ca_name),
        key=ca_key,
        issuer=None,
        lifetime=dt.timedelta(days=ca_days),
        extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)],
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki._issue(
        subject=pki._name(subject),
        key=key,
        issuer=(ca_cert, ca_key),
        lifetime=dt.timedelta(days=365),
        extensions=[(pki._key_usage(sign=True, commit=True), True)],
    )
    return ca_cert, key, cert
