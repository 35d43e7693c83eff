"""The city PKI: init, key storage, import, rotation, revocation, CRL, OCSP, TSA and endpoints."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from django.urls import include, path
from django.utils import timezone

from thudo.core.errors import ValidationFailed
from thudo.core.models import AuditEvent
from thudo.documents import pki
from thudo.documents.models import PkiObject
from thudo.documents.tests.foreign import foreign_certificate

# The PKI endpoints under /pki/, as config/urls.py includes them (used with pytest.mark.urls).
urlpatterns = [path("pki/", include("thudo.documents.pki_urls"))]

AGENCY_NAME = "Ủy ban nhân dân phường Hoàn Kiếm"
REAL_KDF_ROUNDS = pki.PKCS12_KDF_ROUNDS


@pytest.fixture(autouse=True)
def _quick_kdf(monkeypatch: Any) -> None:
    """PBKDF2 at 1,000 rounds in tests (the real 200,000 cost ~35 ms a key); the storage test
    puts the real count back."""
    monkeypatch.setattr(pki, "PKCS12_KDF_ROUNDS", 1_000)


@pytest.fixture
def agency(make_agency: Any) -> Any:
    return make_agency("HN-00070", name=AGENCY_NAME)


@pytest.fixture
def city(agency: Any) -> Any:
    pki.pki_init(agencies=[agency])
    return agency


def _credential(agency: Any) -> PkiObject:
    return PkiObject.objects.get(role="agency", agency=agency, is_active=True)


def _ocsp_status(agency_cert: x509.Certificate, *, nonce: bytes | None = None) -> Any:
    # SHA-1 in an OCSP CertID is what RFC 6960 clients (NSS, OpenSSL) send
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        agency_cert,
        pki.root_certificate(),
        hashes.SHA1(),  # noqa: S303
    )
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    der = builder.build().public_bytes(serialization.Encoding.DER)
    return ocsp.load_der_ocsp_response(pki.ocsp_response_der(der))


# --- init and certificates ------------------------------------------------------------------


@pytest.mark.django_db
def test_init_creates_the_pki_once(agency: Any, make_agency: Any) -> None:
    first = pki.pki_init(agencies=[agency])
    assert set(first.created) == {"root", "tsa", "ocsp"}
    assert first.issued == ["HN-00070"]
    count = PkiObject.objects.count()

    other = make_agency("HN-00073", name="Ủy ban nhân dân phường Hàng Bạc")
    second = pki.pki_init(agencies=[agency, other])
    assert second.created == [] and second.root_serial == first.root_serial
    assert second.skipped == ["HN-00070"] and second.issued == ["HN-00073"]
    assert PkiObject.objects.count() == count + 1
    assert AuditEvent.objects.filter(action="pki.credential_issue").count() == 2

    forced = pki.pki_init(agencies=[agency], force=True)
    assert forced.issued == ["HN-00070"]
    assert PkiObject.objects.filter(role="agency", agency=agency, is_active=True).count() == 1
    assert PkiObject.objects.filter(role="root").count() == 1


@pytest.mark.django_db
def test_certificates_have_the_documented_profile(city: Any, settings: Any) -> None:
    base = settings.THUDO_PUBLIC_URL
    root = pki.root_certificate()
    cert = pki.credential_for(city).cert
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == AGENCY_NAME
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == AGENCY_NAME
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
    cert.verify_directly_issued_by(root)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    aia = {
        d.access_method: d.access_location.value
        for d in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    }
    assert aia[AuthorityInformationAccessOID.OCSP] == f"{base}/pki/ocsp"
    assert aia[AuthorityInformationAccessOID.CA_ISSUERS] == f"{base}/pki/root.crt"
    crldp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crldp[0].full_name[0].value == f"{base}/pki/root.crl"
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=725) < lifetime < dt.timedelta(days=735)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)

    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.not_valid_after_utc - root.not_valid_before_utc > dt.timedelta(days=20 * 365)

    tsa = pki.tsa_credential().cert
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert tsa.not_valid_after_utc - tsa.not_valid_before_utc > dt.timedelta(days=10 * 365)

    responder = pki._cert_of(PkiObject.objects.get(role="ocsp"))
    assert list(responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.OCSP_SIGNING
    ]
    responder.extensions.get_extension_for_class(x509.OCSPNoCheck)


# --- keys only encrypted --------------------------------------------------------------------


@pytest.mark.django_db
def test_private_keys_are_stored_only_as_encrypted_pkcs12(agency: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(pki, "PKCS12_KDF_ROUNDS", REAL_KDF_ROUNDS)
    assert REAL_KDF_ROUNDS >= 200_000
    pki.pki_init(agencies=[agency])
    objects = list(PkiObject.objects.all())
    assert {o.role for o in objects} == {"root", "tsa", "ocsp", "agency"}
    for obj in objects:
        blob = bytes(obj.key_pkcs12 or b"")
        assert "PRIVATE KEY" not in obj.certificate_pem
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(blob, None)
        with pytest.raises(ValueError):
            pkcs12.load_key_and_certificates(blob, b"not the passphrase")
        key, cert, _extra = pkcs12.load_key_and_certificates(blob, pki._passphrase())
        assert key is not None and cert is not None
        plain = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        assert plain not in blob  # the key's bytes appear nowhere in clear


@pytest.mark.django_db
def test_passphrase_is_the_setting_or_derived_from_secret_key(settings: Any) -> None:
    settings.THUDO_KEY_PASSPHRASE = ""
    settings.SECRET_KEY = "a" * 50
    derived = pki._passphrase()
    assert derived == pki._passphrase() and len(derived) >= 40
    settings.SECRET_KEY = "b" * 50
    assert pki._passphrase() != derived
    settings.THUDO_KEY_PASSPHRASE = "correct horse battery staple"
    assert pki._passphrase() == b"correct horse battery staple"


# --- import, rotate, revoke, expire ----------------------------------------------------------


def _foreign_pkcs12(password: bytes) -> tuple[bytes, x509.Certificate]:
    """A certificate from another CA (a licensed provider), as an agency would bring it."""
    ca_cert, key, cert = foreign_certificate("Nhà cung cấp chứng thư số thử", ca_days=3650)
    data = pkcs12.serialize_key_and_certificates(
        b"agency", key, cert, [ca_cert], serialization.BestAvailableEncryption(password)
    )
    return data, cert


@pytest.mark.django_db
def test_import_pkcs12_with_a_wrong_password_is_refused_clearly(city: Any) -> None:
    data, _cert = _foreign_pkcs12(b"right password")
    with pytest.raises(ValidationFailed) as caught:
        pki.credential_import_pkcs12(agency=city, data=data, password=b"wrong", actor="test")
    body = caught.value.as_dict()
    assert body["code"] == "validation_failed"
    assert "password" in body["fields"] and "PKCS#12" in body["message"]
    with pytest.raises(ValidationFailed):
        pki.credential_import_pkcs12(agency=city, data=b"garbage", password=b"x", actor="test")


@pytest.mark.django_db
def test_import_pkcs12_re_encrypts_with_our_passphrase(city: Any) -> None:
    data, cert = _foreign_pkcs12(b"right password")
    previous = _credential(city)
    obj = pki.credential_import_pkcs12(
        agency=city, data=data, password=b"right password", actor="test"
    )
    blob = bytes(obj.key_pkcs12 or b"")
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(blob, b"right password")
    pkcs12.load_key_and_certificates(blob, pki._passphrase())
    credential = pki.credential_for(city)
    assert credential.cert == cert and len(credential.chain) == 1  # the provider's CA
    assert not credential.issued_by_city
    previous.refresh_from_db()
    assert not previous.is_active and previous.revoked_at is None
    assert AuditEvent.objects.filter(action="pki.credential_import", object_id=str(obj.pk)).exists()


@pytest.mark.django_db
def test_rotation_retires_without_revoking(city: Any) -> None:
    old = _credential(city)
    new = pki.credential_rotate(agency=city, actor="test")
    old.refresh_from_db()
    assert new.pk != old.pk and new.is_active and not old.is_active and old.revoked_at is None
    assert pki.credential_for(city).record.pk == new.pk
    assert _ocsp_status(pki._cert_of(old)).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert AuditEvent.objects.filter(action="pki.credential_rotate").count() == 1


@pytest.mark.django_db
def test_revocation_reaches_the_crl_ocsp_and_signing(city: Any) -> None:
    obj = _credential(city)
    cert = pki._cert_of(obj)
    assert _ocsp_status(cert).certificate_status == ocsp.OCSPCertStatus.GOOD

    pki.credential_revoke(credential=obj, reason="key_compromise", actor="test")

    crl = x509.load_der_x509_crl(pki.crl_der())
    assert crl.is_signature_valid(pki.root_certificate().public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=1)

    response = _ocsp_status(cert)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.key_compromise

    with pytest.raises(pki.CredentialError) as caught:
        pki.credential_for(city)
    assert caught.value.code == "credential_revoked"
    assert "revoked" in str(caught.value.message)
    event = AuditEvent.objects.get(action="pki.credential_revoke")
    assert (event.from_state, event.to_state) == ("active", "revoked")
    # init does not silently re-key a revoked agency; rotation does
    assert pki.pki_init(agencies=[city]).skipped == ["HN-00070"]
    pki.credential_rotate(agency=city, actor="test")
    assert pki.credential_for(city).cert != cert
    with pytest.raises(ValidationFailed):
        pki.credential_revoke(credential=_credential(city), reason="bored", actor="test")


@pytest.mark.django_db
def test_expired_and_missing_credentials_are_refused(city: Any, make_agency: Any) -> None:
    past = timezone.now() - dt.timedelta(days=3 * 365)
    pki._issue_agency_credential(city, actor="test", now=past, action="pki.credential_issue")
    with pytest.raises(pki.CredentialError) as caught:
        pki.credential_for(city)
    assert caught.value.code == "credential_expired"
    # init renews an expired credential
    assert pki.pki_init(agencies=[city]).issued == ["HN-00070"]
    pki.credential_for(city)

    bare = make_agency("HN-00076", name="Ủy ban nhân dân phường Lý Thái Tổ")
    with pytest.raises(pki.CredentialError) as caught:
        pki.credential_for(bare)
    assert caught.value.code == "no_credential"


@pytest.mark.django_db
def test_a_pkcs11_credential_is_a_reference_without_a_key(city: Any) -> None:
    """Only the loading path is checked: there is no token here (docs/signatures.md)."""
    _data, cert = _foreign_pkcs12(b"x")
    token = {
        "module": "/nonexistent/libtoken.so",
        "token_label": "HK",
        "key_label": "seal",
        "pin_env": "THUDO_PKCS11_PIN",
    }
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    obj = pki.credential_register_pkcs11(
        agency=city, certificate_pem=pem, token=token, actor="test"
    )
    assert obj.key_pkcs12 is None and obj.pkcs11 == token
    credential = pki.credential_for(city)
    assert credential.key is None and credential.pkcs11 == token and credential.cert == cert
    with pytest.raises(pki.CredentialError) as caught:
        credential.pyhanko_signer()  # python-pkcs11 missing, or no such module: refused
    assert caught.value.code == "pkcs11_unavailable"
    with pytest.raises(ValidationFailed):
        pki.credential_register_pkcs11(agency=city, certificate_pem=pem, token={}, actor="t")


# --- OCSP and CRL details --------------------------------------------------------------------


@pytest.mark.django_db
def test_ocsp_answers_are_signed_by_the_responder(city: Any) -> None:
    cert = pki.credential_for(city).cert
    response = _ocsp_status(cert, nonce=b"0123456789abcdef")
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    responder = pki._cert_of(PkiObject.objects.get(role="ocsp"))
    assert response.certificates == [responder]
    assert response.responder_key_hash is not None
    responder.public_key().verify(  # type: ignore[union-attr,call-arg]
        response.signature,
        response.tbs_response_bytes,
        ec.ECDSA(hashes.SHA256()),  # type: ignore[arg-type]
    )
    nonce = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert nonce == b"0123456789abcdef"
    assert response.next_update_utc is not None

    # a certificate the city never issued: unknown
    _data, foreign = _foreign_pkcs12(b"x")
    der = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(foreign, foreign, hashes.SHA1())  # noqa: S303
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    unknown = ocsp.load_der_ocsp_response(pki.ocsp_response_der(der))
    assert unknown.certificate_status == ocsp.OCSPCertStatus.UNKNOWN

    malformed = ocsp.load_der_ocsp_response(pki.ocsp_response_der(b"\x30\x03junk"))
    assert malformed.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


# --- the endpoints ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_root_and_crl_endpoints(city: Any, client: Any) -> None:
    response = client.get("/pki/root.crt")
    assert response.status_code == 200 and response["Content-Type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(response.content) == pki.root_certificate()

    response = client.get("/pki/root.crl")
    assert response.status_code == 200 and response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.issuer == pki.root_certificate().subject


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_ocsp_endpoint_post_and_get(city: Any, client: Any) -> None:
    cert = pki.credential_for(city).cert
    der = pki.ocsp_request_der(cert, pki.root_certificate())
    response = client.post("/pki/ocsp", der, content_type="application/ocsp-request")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ocsp-response"
    answer = ocsp.load_der_ocsp_response(response.content)
    assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert answer.serial_number == cert.serial_number

    encoded = base64.b64encode(der).decode()
    response = client.get(f"/pki/ocsp/{encoded}")
    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == (
        ocsp.OCSPCertStatus.GOOD
    )
    response = client.post("/pki/ocsp", der, content_type="text/plain")
    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_tsa_endpoint_issues_rfc3161_tokens(city: Any, client: Any) -> None:
    from asn1crypto import tsp
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    digest = hashlib.sha256(b"a document").digest()
    _nonce, request = TimeStamper().request_cms(digest, "sha256")
    response = client.post("/pki/tsa", request.dump(), content_type="application/timestamp-query")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/timestamp-reply"
    reply = tsp.TimeStampResp.load(response.content)
    assert reply["status"]["status"].native == "granted"
    token = reply["time_stamp_token"]
    signed_data = token["content"]
    info = signed_data["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == request["nonce"].native
    assert info["policy"].dotted == pki.TSA_POLICY_OID
    gen_time = info["gen_time"].native
    assert abs(gen_time - timezone.now()) < dt.timedelta(minutes=1)

    context = ValidationContext(
        trust_roots=[pki.to_asn1_cert(pki.root_certificate())],
        crls=[pki.crl_der()],
        allow_fetching=False,
    )
    result = asyncio.run(validate_tst_signed_data(signed_data, context, lambda _algo: digest))
    status = TimestampSignatureStatus(**result)
    assert status.intact and status.valid and status.trusted
    assert status.timestamp == gen_time

    for body, kind in [
        (b"not asn.1", "application/timestamp-query"),
        (b"\x30\x00", "application/timestamp-query"),
        (TimeStamper().request_cms(b"short", "sha256")[1].dump(), "application/timestamp-query"),
        (request.dump(), "application/octet-stream"),
    ]:
        assert client.post("/pki/tsa", body, content_type=kind).status_code == 400
    assert client.get("/pki/tsa").status_code == 405


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_endpoints_before_init(client: Any) -> None:
    from pyhanko.sign.timestamps import TimeStamper

    assert client.get("/pki/root.crt").status_code == 503
    assert client.get("/pki/root.crl").status_code == 503
    request = TimeStamper().request_cms(hashlib.sha256(b"x").digest(), "sha256")[1].dump()
    response = client.post("/pki/tsa", request, content_type="application/timestamp-query")
    assert response.status_code == 503
