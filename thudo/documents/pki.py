"""The city's PKI: a root CA, a time-stamping authority, an OCSP responder and one signing
certificate per agency (docs/signatures.md).

Keys are ECDSA P-256 (small, fast, accepted by pyHanko, poppler/NSS and Adobe), except the
TSA's, which is RSA-2048: pyHanko's in-process RFC 3161 signer is RSA-only and RSA time-stamp
tokens are what most RFC 3161 clients expect.

Private keys are stored only as PKCS#12 (PBES2, AES-256-CBC, PBKDF2-HMAC-SHA256) encrypted
with ``THUDO_KEY_PASSPHRASE`` — or, when that is empty (the embedded demo only), with a
passphrase derived from ``SECRET_KEY`` by HKDF. They are never written unencrypted, not even
to a temporary file. A credential may instead live in a PKCS#11 token (``PkiObject.pkcs11``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.audit import audit_record
from thudo.core.errors import ThudoError, ValidationFailed

from .models import PkiObject

if TYPE_CHECKING:
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.signers import Signer
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    from thudo.accounts.models import Agency

Role = PkiObject.Role

ROOT_LIFETIME = dt.timedelta(days=20 * 365 + 5)
TSA_LIFETIME = dt.timedelta(days=10 * 365 + 2)
OCSP_LIFETIME = dt.timedelta(days=2 * 365)
AGENCY_LIFETIME = dt.timedelta(days=2 * 365)
# Certificates start a little in the past so that a verifier whose clock lags is not confused.
BACKDATE = dt.timedelta(minutes=5)
CRL_LIFETIME = dt.timedelta(days=1)
OCSP_LIFETIME_RESPONSE = dt.timedelta(days=1)
PKCS12_KDF_ROUNDS = 200_000
# The city TSA's policy: an OID under 2.25 (a UUID as an OID; ITU-T X.667) needs no registration.
TSA_POLICY_OID = "2.25.208969131880530386187385938427003935633"

REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
}

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CredentialError(ThudoError):
    """An agency cannot sign: no credential, or its certificate is revoked or expired."""

    code = "no_credential"
    status = 409
    default_message = _("This agency has no signing certificate.")


class PkiNotInitialised(ThudoError):
    code = "pki_not_initialised"
    status = 503
    default_message = _("The city's certification authority has not been set up yet.")


# --- Passphrase and encrypted storage ------------------------------------------------------


def _passphrase() -> bytes:
    """THUDO_KEY_PASSPHRASE, or (embedded demo only) one derived from SECRET_KEY with HKDF."""
    configured = getattr(settings, "THUDO_KEY_PASSPHRASE", "")
    if configured:
        return str(configured).encode()
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"thudo-pki", info=b"pkcs12 passphrase v1"
    ).derive(str(settings.SECRET_KEY).encode())
    return base64.urlsafe_b64encode(derived)


def _encrypt(key: PrivateKey, cert: x509.Certificate, chain: Sequence[x509.Certificate]) -> bytes:
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(PKCS12_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(_passphrase())
    )
    return pkcs12.serialize_key_and_certificates(
        b"thudo", key, cert, list(chain) or None, encryption
    )


@functools.lru_cache(maxsize=64)
def _decrypt(blob_digest: str, blob: bytes, passphrase: bytes) -> PrivateKey:
    # Cached by the blob's digest and the passphrase: PBKDF2 costs tens of milliseconds and a
    # signing service keeps its keys in memory anyway. A changed blob or passphrase reloads.
    key, _cert, _extra = pkcs12.load_key_and_certificates(blob, passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("unsupported key type")
    return key


def _load_key(obj: PkiObject) -> PrivateKey:
    if not obj.key_pkcs12:
        raise PkiNotInitialised(
            _("The private key of this certificate is not stored here."), code="no_private_key"
        )
    blob = bytes(obj.key_pkcs12)
    return _decrypt(hashlib.sha256(blob).hexdigest(), blob, _passphrase())


# --- Certificates --------------------------------------------------------------------------


def _now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


def _pem_to_certs(pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem.encode()) if pem.strip() else []


def _cert_of(obj: PkiObject) -> x509.Certificate:
    return _pem_to_certs(obj.certificate_pem)[0]


def _chain_of(obj: PkiObject) -> list[x509.Certificate]:
    """The issuers stored after the leaf (imported credentials), or the city root."""
    certs = _pem_to_certs(obj.certificate_pem)
    if certs[1:]:
        return certs[1:]
    root = _active(Role.ROOT)
    if root is None:
        return []
    root_cert = _cert_of(root)
    # Only a certificate the city's root issued gets the city's root as its chain.
    return [root_cert] if certs and certs[0].issuer == root_cert.subject else []


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _name(common_name: str, organisation: str | None = None) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, (organisation or common_name)[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _key_usage(
    *, sign: bool = False, commit: bool = False, cert_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=commit,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _public_url(path: str) -> str:
    return f"{settings.THUDO_PUBLIC_URL.rstrip('/')}/pki/{path}"


def _issue(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: tuple[x509.Certificate, PrivateKey] | None,
    lifetime: dt.timedelta,
    extensions: Iterable[tuple[x509.ExtensionType, bool]],
    now: dt.datetime | None = None,
) -> x509.Certificate:
    start = (now or _now()) - BACKDATE
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + lifetime)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),  # type: ignore[arg-type]
            False,
        )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _revocation_pointers() -> list[tuple[x509.ExtensionType, bool]]:
    return [
        (
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(_public_url("ocsp")),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(_public_url("root.crt")),
                    ),
                ]
            ),
            False,
        ),
        (
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(_public_url("root.crl"))],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            False,
        ),
    ]


def _store(
    *,
    role: str,
    cert: x509.Certificate,
    key: PrivateKey | None,
    agency: Agency | None = None,
    chain: Sequence[x509.Certificate] = (),
    pkcs11: dict[str, Any] | None = None,
) -> PkiObject:
    return PkiObject.objects.create(
        role=role,
        agency=agency,
        subject=cert.subject.rfc4514_string()[:255],
        serial=_serial_hex(cert),
        certificate_pem=_pem(cert) + "".join(_pem(c) for c in chain),
        key_pkcs12=_encrypt(key, cert, chain) if key is not None else None,
        pkcs11=pkcs11,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_active=True,
    )


def _active(role: str, agency: Agency | None = None) -> PkiObject | None:
    qs = PkiObject.objects.filter(role=role, is_active=True, revoked_at__isnull=True)
    if agency is not None:
        qs = qs.filter(agency=agency)
    return qs.order_by("-created_at", "-pk").first()


def _usable(obj: PkiObject | None, *, margin: dt.timedelta = dt.timedelta(0)) -> bool:
    return obj is not None and obj.not_after > timezone.now() + margin


def _root_pair() -> tuple[PkiObject, x509.Certificate, PrivateKey]:
    root = _active(Role.ROOT)
    if root is None:
        raise PkiNotInitialised()
    return root, _cert_of(root), _load_key(root)


def _city_name() -> str:
    return str(getattr(settings, "THUDO_CITY", {}).get("NAME", "")) or "Thudo"


def _create_root(actor: Any) -> PkiObject:
    key = ec.generate_private_key(ec.SECP256R1())
    city = _city_name()
    cert = _issue(
        subject=_name(f"Thudo Root CA — {city}", f"Thudo — {city}"),
        key=key,
        issuer=None,
        lifetime=ROOT_LIFETIME,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (_key_usage(cert_sign=True), True),
        ],
    )
    obj = _store(role=Role.ROOT, cert=cert, key=key)
    audit_record(actor=actor, action="pki.root_create", obj=obj, to_state="active")
    return obj


def _create_tsa(actor: Any) -> PkiObject:
    _root, root_cert, root_key = _root_pair()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    city = _city_name()
    cert = _issue(
        subject=_name(f"Thudo TSA — {city}", f"Thudo — {city}"),
        key=key,
        issuer=(root_cert, root_key),
        lifetime=TSA_LIFETIME,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(sign=True, commit=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True),
            *_revocation_pointers(),
        ],
    )
    PkiObject.objects.filter(role=Role.TSA, is_active=True).update(is_active=False)
    obj = _store(role=Role.TSA, cert=cert, key=key)
    audit_record(actor=actor, action="pki.tsa_create", obj=obj, to_state="active")
    return obj


def _create_ocsp(actor: Any) -> PkiObject:
    _root, root_cert, root_key = _root_pair()
    key = ec.generate_private_key(ec.SECP256R1())
    city = _city_name()
    cert = _issue(
        subject=_name(f"Thudo OCSP — {city}", f"Thudo — {city}"),
        key=key,
        issuer=(root_cert, root_key),
        lifetime=OCSP_LIFETIME,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(sign=True), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False),
            (x509.OCSPNoCheck(), False),
        ],
    )
    PkiObject.objects.filter(role=Role.OCSP, is_active=True).update(is_active=False)
    obj = _store(role=Role.OCSP, cert=cert, key=key)
    audit_record(actor=actor, action="pki.ocsp_create", obj=obj, to_state="active")
    return obj


def _retire_active(agency: Agency, actor: Any) -> None:
    """The agency's active credential goes out of use (not revoked: what it signed stays)."""
    for old in PkiObject.objects.select_for_update().filter(
        role=Role.AGENCY, agency=agency, is_active=True
    ):
        old.is_active = False
        old.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action="pki.credential_retire",
            obj=old,
            from_state="active",
            to_state="retired",
        )


def _issue_agency_credential(
    agency: Agency, *, actor: Any, now: dt.datetime | None = None, action: str
) -> PkiObject:
    """Issue a new credential for the agency; the previous active one is retired (not revoked)."""
    _root, root_cert, root_key = _root_pair()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(
        subject=_name(agency.name),
        key=key,
        issuer=(root_cert, root_key),
        lifetime=AGENCY_LIFETIME,
        now=now,
        extensions=[
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(sign=True, commit=True), True),
            *_revocation_pointers(),
        ],
    )
    _retire_active(agency, actor)
    obj = _store(role=Role.AGENCY, cert=cert, key=key, agency=agency)
    audit_record(
        actor=actor,
        action=action,
        obj=obj,
        to_state="active",
        data={"agency": agency.code, "serial": obj.serial},
    )
    return obj


# --- Public API ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PkiSummary:
    root_serial: str
    created: list[str] = field(default_factory=list)  # roles and agency codes created now
    issued: list[str] = field(default_factory=list)  # agency codes given a new credential
    skipped: list[str] = field(default_factory=list)  # agency codes left as they were


@dataclass(frozen=True)
class SigningCredential:
    """What signing needs: the certificate, the key in memory (or a PKCS#11 reference) and the
    chain up to the root (issuers only, leaf excluded)."""

    record: PkiObject
    cert: x509.Certificate
    key: PrivateKey | None
    chain: tuple[x509.Certificate, ...]
    pkcs11: dict[str, Any] | None = None

    @property
    def issued_by_city(self) -> bool:
        root = _active(Role.ROOT)
        return root is not None and self.cert.issuer == _cert_of(root).subject

    def pyhanko_signer(self) -> Signer:
        """A pyHanko signer for this credential: in memory, or in a PKCS#11 token."""
        from pyhanko.sign.signers import SimpleSigner
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        cert = to_asn1_cert(self.cert)
        chain = [to_asn1_cert(c) for c in self.chain]
        if self.pkcs11:
            return _pkcs11_signer(self.pkcs11, cert, chain)
        if self.key is None:
            raise CredentialError(code="no_credential")
        return SimpleSigner(
            signing_cert=cert,
            signing_key=to_asn1_key(self.key),
            cert_registry=SimpleCertificateStore.from_certs(chain),
        )


def _pkcs11_signer(
    ref: dict[str, Any], cert: asn1_x509.Certificate, chain: list[asn1_x509.Certificate]
) -> Signer:
    """Open the token named by ``ref`` and return a pyHanko PKCS11Signer.

    ``ref`` = {"module": "/usr/lib/.../opensc-pkcs11.so", "slot": 0 | null,
    "token_label": "...", "key_label": "...", "pin_env": "THUDO_PKCS11_PIN"}. The PIN is read
    from the named environment variable, never stored. Not exercised by the test suite (no token
    here): see docs/signatures.md.
    """
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
    except ImportError as exc:  # python-pkcs11 (pyHanko[pkcs11]) is not installed
        raise CredentialError(
            _("PKCS#11 support is not installed on this server."), code="pkcs11_unavailable"
        ) from exc
    pin_env = str(ref.get("pin_env") or "THUDO_PKCS11_PIN")
    try:
        session = open_pkcs11_session(
            str(ref["module"]),
            slot_no=ref.get("slot"),
            token_criteria=TokenCriteria(label=ref.get("token_label")),
            user_pin=os.environ.get(pin_env) or None,
        )
    except Exception as exc:
        raise CredentialError(
            _("The PKCS#11 token could not be opened."), code="pkcs11_unavailable"
        ) from exc
    return PKCS11Signer(
        session,
        key_label=ref.get("key_label"),
        signing_cert=cert,
        ca_chain=chain,
    )


def to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def to_asn1_key(key: PrivateKey) -> asn1_keys.PrivateKeyInfo:
    """The key as asn1crypto wants it, in memory only."""
    from asn1crypto import keys as asn1_keys

    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@transaction.atomic
def pki_init(
    *, agencies: Iterable[Agency], force: bool = False, actor: Any = "pki_init"
) -> PkiSummary:
    """Create what is missing: the root, the TSA, the OCSP responder, a credential per agency.

    Idempotent. An agency is skipped when its latest credential is active and unexpired, or was
    revoked (a revoked agency is re-keyed on purpose, with ``credential_rotate``); ``force``
    issues new credentials for the given agencies anyway. The root is never replaced here.
    """
    created: list[str] = []
    root = _active(Role.ROOT)
    if root is None:
        root = _create_root(actor)
        created.append(Role.ROOT)
    if not _usable(_active(Role.TSA), margin=dt.timedelta(days=30)):
        _create_tsa(actor)
        created.append(Role.TSA)
    if not _usable(_active(Role.OCSP), margin=dt.timedelta(days=7)):
        _create_ocsp(actor)
        created.append(Role.OCSP)
    issued: list[str] = []
    skipped: list[str] = []
    for agency in agencies:
        latest = (
            PkiObject.objects.filter(role=Role.AGENCY, agency=agency)
            .order_by("-created_at", "-pk")
            .first()
        )
        keep = latest is not None and (
            latest.revoked_at is not None or (latest.is_active and _usable(latest))
        )
        if keep and not force:
            skipped.append(agency.code)
            continue
        _issue_agency_credential(agency, actor=actor, action="pki.credential_issue")
        issued.append(agency.code)
    return PkiSummary(root_serial=root.serial, created=created, issued=issued, skipped=skipped)


def credential_for(agency: Agency) -> SigningCredential:
    """The agency's current signing credential, or a CredentialError saying why there is none."""
    latest = (
        PkiObject.objects.filter(role=Role.AGENCY, agency=agency)
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is None or (not latest.is_active and latest.revoked_at is None):
        raise CredentialError(_("This agency has no signing certificate."), code="no_credential")
    if latest.revoked_at is not None:
        raise CredentialError(
            _("This agency's signing certificate has been revoked."), code="credential_revoked"
        )
    now = timezone.now()
    if latest.not_after <= now:
        raise CredentialError(
            _("This agency's signing certificate has expired."), code="credential_expired"
        )
    if latest.not_before > now:
        raise CredentialError(
            _("This agency's signing certificate is not valid yet."),
            code="credential_not_yet_valid",
        )
    return SigningCredential(
        record=latest,
        cert=_cert_of(latest),
        key=None if latest.pkcs11 else _load_key(latest),
        chain=tuple(_chain_of(latest)),
        pkcs11=latest.pkcs11,
    )


@transaction.atomic
def credential_import_pkcs12(
    *, agency: Agency, data: bytes, password: bytes, actor: Any
) -> PkiObject:
    """Store an agency's own certificate (e.g. from a licensed provider), re-encrypted with the
    city's passphrase. The previous active credential is retired."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password or None)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            _(
                "The PKCS#12 file could not be opened: the password is wrong or the file is "
                "damaged."
            ),
            fields={"password": _("Wrong password, or not a PKCS#12 file.")},
        ) from exc
    if cert is None or not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValidationFailed(
            fields={
                "data": _("The file must hold one private key (RSA or EC) and its certificate.")
            }
        )
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ValidationFailed(fields={"data": _("The key does not match the certificate.")})
    now = timezone.now()
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
        raise ValidationFailed(fields={"data": _("The certificate is not valid now.")})
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        can_sign = usage.digital_signature or usage.content_commitment
    except x509.ExtensionNotFound:
        can_sign = True
    if not can_sign:
        raise ValidationFailed(
            fields={"data": _("The certificate is not meant for signing documents.")}
        )
    if PkiObject.objects.filter(serial=_serial_hex(cert)).exists():
        raise ValidationFailed(fields={"data": _("This certificate is already stored.")})
    chain = [c for c in extra if c != cert]
    root = _active(Role.ROOT)
    if not chain and (root is None or cert.issuer != _cert_of(root).subject):
        raise ValidationFailed(
            fields={
                "data": _(
                    "The file must also hold the certificates of the issuing "
                    "authority (the chain up to its root)."
                )
            }
        )
    _retire_active(agency, actor)
    obj = _store(role=Role.AGENCY, cert=cert, key=key, agency=agency, chain=chain)
    audit_record(
        actor=actor,
        action="pki.credential_import",
        obj=obj,
        to_state="active",
        data={"agency": agency.code, "serial": obj.serial},
    )
    return obj


@transaction.atomic
def credential_register_pkcs11(
    *, agency: Agency, certificate_pem: str, token: dict[str, Any], actor: Any
) -> PkiObject:
    """Record a credential whose key stays in a PKCS#11 token: only the certificate and the
    token reference (module, slot, token_label, key_label, pin_env) are stored."""
    if not token.get("module") or not (token.get("key_label") or token.get("token_label")):
        raise ValidationFailed(fields={"token": _("Give the module and the key's label.")})
    try:
        certs = _pem_to_certs(certificate_pem)
    except ValueError as exc:
        raise ValidationFailed(fields={"certificate_pem": _("Not a PEM certificate.")}) from exc
    if not certs:
        raise ValidationFailed(fields={"certificate_pem": _("Not a PEM certificate.")})
    _retire_active(agency, actor)
    obj = _store(
        role=Role.AGENCY,
        cert=certs[0],
        key=None,
        agency=agency,
        chain=certs[1:],
        pkcs11=dict(token),
    )
    audit_record(
        actor=actor,
        action="pki.credential_pkcs11",
        obj=obj,
        to_state="active",
        data={"agency": agency.code, "serial": obj.serial},
    )
    return obj


@transaction.atomic
def credential_rotate(*, agency: Agency, actor: Any) -> PkiObject:
    """A new key and certificate for the agency; the old one is retired, not revoked, so the
    documents it signed stay valid."""
    return _issue_agency_credential(agency, actor=actor, action="pki.credential_rotate")


@transaction.atomic
def credential_revoke(*, credential: PkiObject, reason: str, actor: Any) -> PkiObject:
    """Revoke a certificate: it goes on the CRL, OCSP answers "revoked", and it signs no more."""
    if reason not in REVOCATION_REASONS:
        raise ValidationFailed(fields={"reason": _("Unknown revocation reason.")})
    obj = PkiObject.objects.select_for_update().get(pk=credential.pk)
    if obj.role == Role.ROOT:
        raise ValidationFailed(fields={"credential": _("The root cannot revoke itself.")})
    if obj.revoked_at is not None:
        raise ThudoError(_("This certificate is already revoked."), code="already_revoked")
    from_state = "active" if obj.is_active else "retired"
    obj.revoked_at = _now()
    obj.revocation_reason = reason
    obj.is_active = False
    obj.save(update_fields=["revoked_at", "revocation_reason", "is_active"])
    audit_record(
        actor=actor,
        action="pki.credential_revoke",
        obj=obj,
        from_state=from_state,
        to_state="revoked",
        data={"reason": reason, "serial": obj.serial},
    )
    credential.revoked_at, credential.revocation_reason = obj.revoked_at, reason
    credential.is_active = False
    return obj


def root_certificate() -> x509.Certificate:
    return _cert_of(_root_pair()[0])


def root_certificates() -> list[x509.Certificate]:
    """Every root this deployment has had: old signatures stay verifiable."""
    return [_cert_of(o) for o in PkiObject.objects.filter(role=Role.ROOT, revoked_at__isnull=True)]


def tsa_credential() -> SigningCredential:
    obj = _active(Role.TSA)
    if obj is None:
        raise PkiNotInitialised()
    return SigningCredential(
        record=obj, cert=_cert_of(obj), key=_load_key(obj), chain=tuple(_chain_of(obj))
    )


def _revoked_by_root(root_cert: x509.Certificate) -> list[tuple[PkiObject, x509.Certificate]]:
    found = []
    for obj in PkiObject.objects.filter(revoked_at__isnull=False).exclude(role=Role.ROOT):
        cert = _cert_of(obj)
        if cert.issuer == root_cert.subject:
            found.append((obj, cert))
    return found


def crl_der() -> bytes:
    """The current CRL, signed by the root: every revoked certificate it issued."""
    _root, root_cert, root_key = _root_pair()
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(now)
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(int(timezone.now().timestamp() * 1000)), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
    )
    for obj, cert in _revoked_by_root(root_cert):
        assert obj.revoked_at is not None
        entry = x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
        entry = entry.revocation_date(obj.revoked_at)
        flag = REVOCATION_REASONS.get(obj.revocation_reason, x509.ReasonFlags.unspecified)
        if flag != x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(flag), False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(root_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def ocsp_response_der(request_der: bytes) -> bytes:
    """Answer one RFC 6960 OCSP request: good, revoked or unknown, signed by the responder.
    A request that cannot be parsed gets the unsigned "malformedRequest" response."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        serial = request.serial_number
    except Exception:  # hostile input: any parse failure is a malformed request
        return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    responder = _active(Role.OCSP)
    root = _active(Role.ROOT)
    if responder is None or root is None:
        return _unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    root_cert = _cert_of(root)
    responder_cert = _cert_of(responder)

    def digest(data: bytes) -> bytes:
        h = hashes.Hash(algorithm)
        h.update(data)
        return h.finalize()

    ours = (
        digest(root_cert.subject.public_bytes()) == request.issuer_name_hash
        and digest(_key_bits(root_cert)) == request.issuer_key_hash
    )
    now = _now()
    status = ocsp.OCSPCertStatus.UNKNOWN
    revoked_at: dt.datetime | None = None
    reason: x509.ReasonFlags | None = None
    if ours:
        obj = PkiObject.objects.filter(serial=format(serial, "x")).exclude(role=Role.ROOT).first()
        if obj is not None and _cert_of(obj).issuer == root_cert.subject:
            if obj.revoked_at is not None:
                status = ocsp.OCSPCertStatus.REVOKED
                revoked_at = obj.revoked_at
                reason = REVOCATION_REASONS.get(obj.revocation_reason)
            else:
                status = ocsp.OCSPCertStatus.GOOD
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + OCSP_LIFETIME_RESPONSE,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder_cert)
        .certificates([responder_cert])
    )
    for extension in request.extensions:
        if isinstance(extension.value, x509.OCSPNonce):
            builder = builder.add_extension(extension.value, critical=False)
    return builder.sign(_load_key(responder), hashes.SHA256()).public_bytes(
        serialization.Encoding.DER
    )


def _key_bits(cert: x509.Certificate) -> bytes:
    """The contents of the certificate's subjectPublicKey BIT STRING (what OCSP CertIDs hash)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def ocsp_request_der(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """An OCSP request for ``cert`` (SHA-1 CertID, as RFC 6960 clients send)."""
    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 — CertID, not a signature
        .build()
        .public_bytes(serialization.Encoding.DER)
    )


def revocation_material(cert: x509.Certificate) -> tuple[list[bytes], list[bytes]]:
    """(CRLs, OCSP responses) that prove the status of a city-issued ``cert`` right now."""
    _root, root_cert, _key = _root_pair()
    ocsps = []
    if cert.issuer == root_cert.subject:
        ocsps.append(ocsp_response_der(ocsp_request_der(cert, root_cert)))
    return [crl_der()], ocsps


# --- The city's time-stamping authority (RFC 3161) ------------------------------------------


def city_timestamper() -> DummyTimeStamper:
    """An RFC 3161 time-stamper signing with the city TSA's key in-process."""
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    class CityTimeStamper(DummyTimeStamper):
        # pyHanko's in-process TSA produces genuine RFC 3161 tokens; this one states the city's
        # policy and an accuracy, takes the time from our clock (UTC), and signs with the key
        # already in memory (pyHanko's re-parses the RSA key for every token: ~80 ms).
        def __init__(self, *, signing_key: rsa.RSAPrivateKey, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._signing_key = signing_key

        def _build_tst_info(self, message_imprint: Any, when: Any, req: Any) -> Any:
            from asn1crypto import tsp

            info = super()._build_tst_info(message_imprint, when, req)
            fields = {key: info[key] for key in info if info[key].native is not None}
            fields["policy"] = tsp.ObjectIdentifier(TSA_POLICY_OID)
            fields["accuracy"] = tsp.Accuracy({"seconds": 1})
            return tsp.TSTInfo(fields)

        def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, dt_: Any) -> Any:
            from asn1crypto import cms, core
            from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
            from pyhanko.sign import general
            from pyhanko_certvalidator.util import get_pyca_cryptography_hash

            digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
            digest.update(tst_info_data)
            signed_attrs = cms.CMSAttributes(
                [
                    general.simple_cms_attribute("content_type", "tst_info"),
                    general.simple_cms_attribute(
                        "signing_time", cms.Time({"utc_time": core.UTCTime(dt_)})
                    ),
                    general.simple_cms_attribute(
                        "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                    ),
                    general.simple_cms_attribute("message_digest", digest.finalize()),
                ]
            )
            signature = self._signing_key.sign(
                signed_attrs.dump(), PKCS1v15(), get_pyca_cryptography_hash(md_algorithm)
            )
            return signature, signed_attrs

        def request_tsa_response(self, req: Any) -> Any:
            self.fixed_dt = dt.datetime.now(dt.UTC)
            return super().request_tsa_response(req)

    credential = tsa_credential()
    if not isinstance(credential.key, rsa.RSAPrivateKey):
        raise PkiNotInitialised(_("The time-stamping key must be RSA."), code="tsa_key_type")
    return CityTimeStamper(
        signing_key=credential.key,
        tsa_cert=to_asn1_cert(credential.cert),
        tsa_key=to_asn1_key(credential.key),
        certs_to_embed=SimpleCertificateStore.from_certs(
            [to_asn1_cert(c) for c in credential.chain]
        ),
    )


TSA_DIGESTS = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32, "sha3_512": 64}


class MalformedRequest(ValueError):
    """A request that is not a well-formed RFC 3161 / RFC 6960 request."""


def tsa_response_der(request_der: bytes) -> bytes:
    """Answer an RFC 3161 TimeStampReq with a granted TimeStampResp from the city TSA.

    Raises ``MalformedRequest`` for anything that is not a v1 request with a SHA-2/SHA-3
    message imprint of the right length.
    """
    from asn1crypto import tsp

    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        native = request.native  # asn1crypto parses lazily: force it inside the try
        algorithm = native["message_imprint"]["hash_algorithm"]["algorithm"]
        digest = native["message_imprint"]["hashed_message"]
        version = native["version"]
    except Exception as exc:  # hostile input: anything that does not parse
        raise MalformedRequest("not a TimeStampReq") from exc
    if version != "v1" or TSA_DIGESTS.get(algorithm) != len(digest or b""):
        raise MalformedRequest("unsupported request")
    return city_timestamper().request_tsa_response(request).dump()


def certificate_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)
