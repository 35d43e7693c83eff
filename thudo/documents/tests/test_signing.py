"""PAdES signing and verification: levels, the stamp, two signatures, tampering, trust,
revocation, and hostile input."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from django.utils import timezone

from thudo.core.errors import ValidationFailed
from thudo.core.testing import require_program
from thudo.documents import pki, signing, verification
from thudo.documents.models import PkiObject
from thudo.documents.tests.foreign import foreign_certificate
from thudo.documents.tests.pdfs import one_page_pdf

AGENCY_NAME = "Ủy ban nhân dân phường Hoàn Kiếm"
VERIFY_URL = "http://127.0.0.1:8000/verify/8c1e3b9e-2f0a-4a57-9d0e-1b2c3d4e5f60/"


@pytest.fixture(autouse=True)
def _quick_kdf(monkeypatch: Any) -> None:
    monkeypatch.setattr(pki, "PKCS12_KDF_ROUNDS", 1_000)  # test_pki checks the real count


@pytest.fixture
def city(make_agency: Any) -> Any:
    agency = make_agency("HN-00070", name=AGENCY_NAME)
    pki.pki_init(agencies=[agency])
    return agency


def sign(pdf: bytes, agency: Any, level: str = "B-LTA", label: str = "Đóng dấu cơ quan") -> bytes:
    return signing.sign_pdf(
        pdf=pdf, agency=agency, signer_label=label, verify_url=VERIFY_URL, level=level
    )


def pyhanko_statuses(data: bytes) -> list[Any]:
    """pyHanko's own validator with the same trust (the city root) and the current CRL."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    def context() -> ValidationContext:
        return ValidationContext(
            trust_roots=[pki.to_asn1_cert(pki.root_certificate())],
            crls=[pki.crl_der()],
            allow_fetching=False,
        )

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    return [
        validate_pdf_signature(sig, context(), ts_validation_context=context())
        for sig in reader.embedded_signatures
        if sig.sig_object_type == "/Sig"
    ]


def signature_widgets(data: bytes) -> list[tuple[str, list[float]]]:
    from pypdf import PdfReader

    page = PdfReader(io.BytesIO(data)).pages[0]
    found = []
    for ref in page.get("/Annots") or []:
        annot = ref.get_object()
        rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
        visible = rect[2] != rect[0] and rect[3] != rect[1]  # document time-stamps have none
        if annot.get("/Subtype") == "/Widget" and annot.get("/FT") == "/Sig" and visible:
            found.append((str(annot["/T"]), rect))
    return found


def pdftotext(data: bytes, tmp_path: Any) -> str:
    program = require_program("pdftotext", "poppler-utils extracts the stamp's text")
    path = tmp_path / "signed.pdf"
    path.write_bytes(data)
    return subprocess.run(
        [program, "-q", str(path), "-"], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def throwaway_credential() -> tuple[pki.SigningCredential, x509.Certificate]:
    """A credential from a CA that is not the city's (made here, trusted by nobody)."""
    ca, key, cert = foreign_certificate("CA lạ — không tin cậy")
    record = PkiObject(role="agency", subject="throwaway", serial=pki._serial_hex(cert))
    return pki.SigningCredential(record=record, cert=cert, key=key, chain=(ca,)), ca


# --- signing and verifying -------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_b_lta_then_verify(city: Any) -> None:
    pdf = one_page_pdf()
    signed = sign(pdf, city)
    assert signed.startswith(pdf)  # an incremental update: the original bytes stay as they were

    report = verification.verify_pdf(signed)
    assert report.verdict == "valid", report.as_dict()
    assert report.sha256 == hashlib.sha256(signed).hexdigest()
    json.dumps(report.as_dict(), ensure_ascii=False)
    signature, doc_ts = report.signatures
    assert signature.kind == "signature" and doc_ts.kind == "document_timestamp"
    assert signature.signer == AGENCY_NAME and signature.signer_organisation == AGENCY_NAME
    assert signature.pades_level == "B-LTA"
    assert signature.intact and signature.valid and signature.trusted and not signature.revoked
    assert signature.timestamp_trusted and signature.signed_at_source == "timestamp"
    assert signature.signed_at is not None and signature.signed_at.endswith("+07:00")
    signed_at = dt.datetime.fromisoformat(signature.signed_at)
    assert abs(signed_at - timezone.now()) < dt.timedelta(minutes=1)
    assert signature.coverage == "entire revision"
    assert signature.modified_after_signing == "lta_updates"
    assert doc_ts.ok and doc_ts.coverage == "entire document"
    assert doc_ts.signer.startswith("Thudo TSA")
    assert all(s.bottom_line for s in pyhanko_statuses(signed))


@pytest.mark.django_db
@pytest.mark.parametrize("level", ["B-T", "B-LT"])
def test_levels(city: Any, level: str) -> None:
    report = verification.verify_pdf(sign(one_page_pdf(), city, level=level))
    assert report.verdict == "valid"
    (signature,) = report.signatures
    # B-LT keeps its revocation data inside the signed revision: the whole file is covered
    assert signature.pades_level == level and signature.coverage == "entire document"


@pytest.mark.django_db
def test_two_signatures_stay_valid_side_by_side_at_the_top(city: Any, tmp_path: Any) -> None:
    approved = sign(one_page_pdf(), city, level="B-T", label="Phê duyệt: Nguyễn Văn An")
    sealed = sign(approved, city, level="B-LTA", label="Đóng dấu cơ quan")
    assert sealed.startswith(approved)

    report = verification.verify_pdf(sealed)
    assert report.verdict == "valid", report.as_dict()
    kinds = [(s.field_name, s.kind, s.ok) for s in report.signatures]
    assert [k for _n, k, _ok in kinds] == ["signature", "signature", "document_timestamp"]
    assert all(ok for _n, _k, ok in kinds)
    first, second = report.signatures[:2]
    # Levels describe the document as it is now: the seal's revocation data (same CA) and
    # document time-stamp augment the approver's B-T signature to B-LTA as well.
    assert first.pades_level == second.pades_level == "B-LTA"
    assert first.modified_after_signing == "form_filling"  # a signature added: allowed
    assert all(s.bottom_line for s in pyhanko_statuses(sealed))

    (_n1, first_box), (_n2, second_box) = signature_widgets(sealed)
    # Side by side in the top band, above the national header; the second left of the first.
    assert second_box[1] == first_box[1] and second_box[3] == first_box[3]
    assert second_box[2] == first_box[0] - signing.STAMP_GAP
    text = pdftotext(sealed, tmp_path)
    assert "Phê duyệt: Nguyễn Văn An" in text and "Đóng dấu cơ quan" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("width", "height"),
    [(210, 297), (297, 210), (215.9, 279.4)],
    ids=["A4", "A4-landscape", "Letter"],
)
def test_stamp_is_top_right_of_page_one_with_diacritics(
    city: Any, tmp_path: Any, width: float, height: float
) -> None:
    from pypdf import PdfReader

    signed = sign(one_page_pdf(width=width, height=height), city, level="B-T")
    media = [float(v) for v in PdfReader(io.BytesIO(signed)).pages[0].mediabox]
    ((name, rect),) = signature_widgets(signed)
    assert name == "Signature1"
    x0, y0, x1, y1 = rect
    assert (x1 - x0, y1 - y0) == (signing.STAMP_WIDTH, signing.STAMP_HEIGHT)
    assert abs(x1 - (media[2] - signing.STAMP_MARGIN)) <= 1
    assert abs(y1 - (media[3] - signing.STAMP_MARGIN)) <= 1

    text = pdftotext(signed, tmp_path)
    assert AGENCY_NAME in text
    assert re.search(r"Ký ngày / Signed: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", text)


@pytest.mark.django_db
def test_the_qr_code_encodes_the_verification_url(city: Any) -> None:
    import segno
    from pyhanko.pdf_utils.reader import PdfFileReader

    signed = sign(one_page_pdf(), city, level="B-T")
    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    widget = reader.embedded_signatures[0].sig_field
    widget = widget["/Kids"][0] if "/Kids" in widget else widget

    def find_qr(xobject: Any) -> Any:
        resources = xobject.get("/Resources", {}).get("/XObject", {})
        for name, ref in resources.items():
            if name == "/QR":
                return ref.get_object()
            found = find_qr(ref.get_object())
            if found is not None:
                return found
        return None

    qr = find_qr(widget["/AP"]["/N"])
    assert qr is not None
    expected = segno.make(VERIFY_URL, error="m", micro=False)
    size = expected.symbol_size(border=2)[0]
    dark = set()
    for x, y, w in re.findall(rb"(\d+) (\d+) (\d+) 1 re", qr.data):
        for dx in range(int(w)):
            dark.add((int(x) + dx - 2, size - 2 - 1 - int(y)))
    wanted = {(x, y) for y, row in enumerate(expected.matrix) for x, v in enumerate(row) if v}
    assert dark == wanted


# --- what must fail ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_flipped_byte_breaks_the_signature(city: Any) -> None:
    signed = bytearray(sign(one_page_pdf(), city, level="B-T"))
    where = signed.index(b"/Producer") + 12  # inside the signed range, in a string
    signed[where] ^= 0x01
    report = verification.verify_pdf(bytes(signed))
    assert report.verdict == "invalid"
    (signature,) = report.signatures
    assert not signature.intact and not signature.ok
    assert any("changed" in e for e in signature.errors)
    assert not any(s.intact for s in pyhanko_statuses(bytes(signed)))


@pytest.mark.django_db
def test_a_signature_from_an_unknown_ca_is_not_trusted(city: Any) -> None:
    credential, ca = throwaway_credential()
    signed = signing.sign_pdf_with_credential(
        pdf=one_page_pdf(),
        credential=credential,
        organisation=AGENCY_NAME,
        signer_label="Giả mạo",
        verify_url=VERIFY_URL,
        level="B-T",
    )
    report = verification.verify_pdf(signed)
    assert report.verdict == "invalid"
    (signature,) = report.signatures
    assert signature.intact and signature.valid and not signature.trusted
    assert any("trusted root" in e for e in signature.errors)
    # an operator may add another root (a national CA): then it verifies
    assert verification.verify_pdf(signed, extra_roots=[ca]).verdict == "valid"


@pytest.mark.django_db
def test_signing_refuses_revoked_expired_or_missing_credentials(
    city: Any, make_agency: Any
) -> None:
    record = PkiObject.objects.get(role="agency", agency=city)
    pki.credential_revoke(credential=record, reason="key_compromise", actor="test")
    with pytest.raises(pki.CredentialError) as caught:
        sign(one_page_pdf(), city)
    assert caught.value.code == "credential_revoked" and caught.value.status == 409

    past = timezone.now() - dt.timedelta(days=3 * 365)
    other = make_agency("HN-00073", name="Ủy ban nhân dân phường Hàng Bạc")
    pki._issue_agency_credential(other, actor="test", now=past, action="pki.credential_issue")
    with pytest.raises(pki.CredentialError) as caught:
        sign(one_page_pdf(), other)
    assert caught.value.code == "credential_expired"

    with pytest.raises(pki.CredentialError) as caught:
        sign(one_page_pdf(), make_agency("HN-00076", name="Phường Lý Thái Tổ"))
    assert caught.value.code == "no_credential"


@pytest.mark.django_db
def test_signing_refuses_bad_input(city: Any) -> None:
    with pytest.raises(ValidationFailed):
        sign(one_page_pdf(), city, level="B-B")
    with pytest.raises(signing.SigningFailed) as caught:
        sign(b"%PDF-1.7 this is not a pdf", city)
    assert caught.value.code == "pdf_unreadable"
    with pytest.raises(ValidationFailed):
        signing.sign_pdf(
            pdf=sign(one_page_pdf(), city, level="B-T"),
            agency=city,
            signer_label="x",
            verify_url=VERIFY_URL,
            field_name="Signature1",
            level="B-T",
        )


# --- revocation and time ----------------------------------------------------------------------


def _wait_for_next_second() -> None:
    # The CRL's revocation time has one-second precision; make it strictly later.
    time.sleep(1.02 - (time.time() % 1.0))


@pytest.mark.django_db
def test_revoked_after_signing_stays_valid_thanks_to_the_time_stamp(city: Any) -> None:
    """Chosen behaviour (docs/signatures.md): the ETSI EN 319 102-1 rule. A signature whose
    trusted time-stamp predates the revocation stays valid; the report still says the
    certificate is revoked now, and when. pyHanko's plain validator, which judges the
    certificate at the present moment, says REVOKED_NO_POE (no proof of existence considered);
    pyHanko's AdES long-term validation, which uses the time-stamp as proof, says PASSED."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.ades.report import AdESPassed
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        LocalKnowledge,
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager
    from pyhanko_certvalidator.revinfo.archival import CRLContainer

    signed = sign(one_page_pdf(), city, level="B-LTA")
    _wait_for_next_second()
    record = PkiObject.objects.get(role="agency", agency=city)
    pki.credential_revoke(credential=record, reason="key_compromise", actor="test")

    report = verification.verify_pdf(signed)
    assert report.verdict == "valid", report.as_dict()
    signature = report.signatures[0]
    assert signature.ok and signature.revoked and signature.revoked_at is not None
    assert signature.revocation_reason == "key_compromise"
    assert signature.revoked_at > (signature.signed_at or "")
    assert signature.notes and not signature.errors

    (plain,) = pyhanko_statuses(signed)
    assert not plain.bottom_line and plain.revoked
    assert plain.trust_problem_indic.name == "REVOKED_NO_POE"

    from asn1crypto import crl as asn1_crl

    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(
            trust_roots=[pki.to_asn1_cert(pki.root_certificate())]
        ),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy("hard-fail")),
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
            local_knowledge=LocalKnowledge(
                known_crls=[CRLContainer(asn1_crl.CertificateList.load(pki.crl_der()))]
            ),
        )
    )
    sig = PdfFileReader(io.BytesIO(signed), strict=False).embedded_signatures[0]
    ades = asyncio.run(ades_lta_validation(sig, spec))
    assert ades.ades_subindic == AdESPassed.OK


@pytest.mark.django_db
def test_a_signature_made_after_revocation_is_invalid(city: Any) -> None:
    """A leaked key used after revocation: sign_pdf refuses, so sign with the key directly."""
    credential = pki.credential_for(city)
    pki.credential_revoke(credential=credential.record, reason="key_compromise", actor="test")
    _wait_for_next_second()
    signed = signing.sign_pdf_with_credential(
        pdf=one_page_pdf(),
        credential=credential,
        organisation=AGENCY_NAME,
        signer_label="Kẻ gian",
        verify_url=VERIFY_URL,
        level="B-T",
    )
    report = verification.verify_pdf(signed)
    assert report.verdict == "invalid"
    (signature,) = report.signatures
    assert signature.revoked and not signature.trusted and not signature.ok
    assert any("revoked" in e for e in signature.errors)
    (plain,) = pyhanko_statuses(signed)
    assert not plain.bottom_line


# --- time-stamps from an RFC 3161 service over HTTP -------------------------------------------


@pytest.mark.django_db
def test_signing_with_an_external_tsa_over_http(city: Any, settings: Any) -> None:
    """THUDO_TSA_URL: pyHanko's HTTP client asks an RFC 3161 server (here a local one that
    answers with the city TSA; the same code serves /pki/tsa)."""
    stamper = pki.city_timestamper()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            from asn1crypto import tsp

            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["Content-Type"])
            reply = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.THUDO_TSA_URL = f"http://127.0.0.1:{server.server_address[1]}/tsa"
        signed = sign(one_page_pdf(), city, level="B-T")
    finally:
        server.shutdown()
        server.server_close()
    assert seen and set(seen) == {"application/timestamp-query"}
    report = verification.verify_pdf(signed)
    assert report.verdict == "valid" and report.signatures[0].timestamp_trusted


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_never_raises_on_hostile_input(city: Any, settings: Any) -> None:
    plain = one_page_pdf()
    signed = sign(plain, city, level="B-T")
    cases = {
        b"": "not_a_pdf",
        b"hello world": "not_a_pdf",
        b"%PDF-1.7\n" + b"\x00\xff" * 500: "unreadable",
        plain: "no_signatures",
        signed[: len(signed) // 2]: None,  # truncated: unreadable or invalid, never valid
        signed.replace(b"/ByteRange", b"/ByteRangX"): None,
        signed.replace(b"/Contents <", b"/Contents (", 1): None,
    }
    for data, expected in cases.items():
        report = verification.verify_pdf(data)
        assert report.verdict in verification.VERDICTS
        if expected is None:
            assert report.verdict != "valid", data[:40]
        else:
            assert report.verdict == expected, (data[:40], report.as_dict())
        json.dumps(report.as_dict())
    # random damage anywhere: any verdict but "valid", and no exception
    rng = __import__("random").Random(7)
    for _ in range(15):
        damaged = bytearray(signed)
        for _ in range(3):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if bytes(damaged) != signed:
            assert verification.verify_pdf(bytes(damaged)).verdict != "valid"

    settings.DOCUMENT_MAX_UPLOAD_BYTES = 1000
    report = verification.verify_pdf(signed)
    assert report.verdict == "unreadable" and "larger" in report.errors[0]


def test_verify_gives_up_after_the_time_limit(monkeypatch: Any) -> None:
    release = threading.Event()

    def slow(*args: Any) -> Any:
        release.wait(5)
        raise RuntimeError("stopped")

    monkeypatch.setattr(verification, "_trust_material", lambda extra: ([], []))
    monkeypatch.setattr(verification, "_analyse", slow)
    started = time.monotonic()
    report = verification.verify_pdf(one_page_pdf(), timeout=0.2)
    release.set()
    assert time.monotonic() - started < 2
    assert report.verdict == "unreadable" and "too long" in report.errors[0]
