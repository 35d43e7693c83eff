"""Thudo's signatures as independent tools see them: poppler's pdfsig (NSS) and pyHanko's own
validator, against Thudo's verify_pdf, on four cases: valid, tampered, untrusted, revoked.

pdfsig checks revocation online only, through the OCSP address in the certificate: the tests
point THUDO_PUBLIC_URL at a local HTTP server that serves the answers of the city's OCSP
responder (computed by ``pki.ocsp_response_der``), so nothing leaves the machine.
"""

from __future__ import annotations

import base64
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from thudo.core.testing import require_program
from thudo.documents import pki, signing, verification
from thudo.documents.models import PkiObject
from thudo.documents.tests.pdfs import one_page_pdf
from thudo.documents.tests.test_signing import (
    AGENCY_NAME,
    VERIFY_URL,
    pyhanko_statuses,
    throwaway_credential,
)

CASES = ["valid", "tampered", "untrusted", "revoked"]


@pytest.fixture(autouse=True)
def _quick_kdf(monkeypatch: Any) -> None:
    monkeypatch.setattr(pki, "PKCS12_KDF_ROUNDS", 1_000)  # test_pki checks the real count


@pytest.fixture
def ocsp_answers(settings: Any) -> Iterator[dict[int, bytes]]:
    """A local stand-in for {THUDO_PUBLIC_URL}/pki/ocsp: serial number -> DER response."""
    answers: dict[int, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, request_der: bytes) -> None:
            try:
                serial = ocsp.load_der_ocsp_request(request_der).serial_number
                body = answers[serial]
            except (ValueError, KeyError):
                body = ocsp.OCSPResponseBuilder.build_unsuccessful(
                    ocsp.OCSPResponseStatus.UNAUTHORIZED
                ).public_bytes(serialization.Encoding.DER)
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def do_GET(self) -> None:
            # RFC 6960 A.1: GET {url}/{url-encoding of base64 of the DER request}; the base64
            # may itself hold "/", so take everything after the responder's path
            encoded = self.path.partition("/pki/ocsp/")[2]
            self._answer(base64.b64decode(unquote(encoded)))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.THUDO_PUBLIC_URL = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield answers
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def city(ocsp_answers: dict[int, bytes], make_agency: Any) -> Any:
    agency = make_agency("HN-00070", name=AGENCY_NAME)
    pki.pki_init(agencies=[agency])  # certificates now point at the local OCSP server
    return agency


def publish_ocsp(answers: dict[int, bytes]) -> None:
    """What the city's responder says right now about every certificate it issued."""
    root = pki.root_certificate()
    for obj in PkiObject.objects.exclude(role="root"):
        cert = pki._cert_of(obj)
        answers[cert.serial_number] = pki.ocsp_response_der(pki.ocsp_request_der(cert, root))


def nss_db(tmp_path: Path) -> str:
    """A throwaway NSS database trusting the city root (its certificate only, no key)."""
    certutil = require_program("certutil", "NSS tools build pdfsig's trust store")
    db = tmp_path / "nss"
    db.mkdir()
    root = tmp_path / "root.crt"
    root.write_bytes(pki.certificate_der(pki.root_certificate()))
    run = {"check": True, "capture_output": True, "timeout": 30}
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], **run)  # type: ignore[call-overload]
    subprocess.run(  # type: ignore[call-overload]
        [certutil, "-A", "-d", f"sql:{db}", "-n", "thudo-root", "-t", "CT,C,C", "-i", str(root)],
        **run,
    )
    return f"sql:{db}"


def pdfsig(data: bytes, tmp_path: Path, nssdir: str) -> list[dict[str, str]]:
    """pdfsig's report, one dict per signature: its lines as "key: value" pairs."""
    program = require_program("/usr/bin/pdfsig", "poppler's pdfsig checks signatures")
    path = tmp_path / f"doc-{time.monotonic_ns()}.pdf"
    path.write_bytes(data)
    result = subprocess.run(
        [program, "-nssdir", nssdir, str(path)], capture_output=True, text=True, timeout=60
    )
    blocks = re.split(r"^Signature #\d+:\n", result.stdout, flags=re.MULTILINE)[1:]
    found = []
    for block in blocks:
        entry: dict[str, str] = {"raw": block}
        for line in block.splitlines():
            key, _sep, value = line.strip().lstrip("- ").partition(": ")
            entry[key] = value
        found.append(entry)
    return found


def make_case(case: str, agency: Any, answers: dict[int, bytes]) -> bytes:
    """One document per case, each with the facts a verifier must find."""
    pdf = one_page_pdf()
    if case == "untrusted":
        credential, _ca = throwaway_credential()
        return signing.sign_pdf_with_credential(
            pdf=pdf,
            credential=credential,
            organisation=AGENCY_NAME,
            signer_label="Giả mạo",
            verify_url=VERIFY_URL,
            level="B-T",
        )
    if case == "revoked":
        credential = pki.credential_for(agency)
        pki.credential_revoke(credential=credential.record, reason="key_compromise", actor="t")
        time.sleep(1.02 - (time.time() % 1.0))  # the CRL's times have one-second precision
        signed = signing.sign_pdf_with_credential(  # a leaked key, used after revocation
            pdf=pdf,
            credential=credential,
            organisation=AGENCY_NAME,
            signer_label="Kẻ gian",
            verify_url=VERIFY_URL,
            level="B-T",
        )
        publish_ocsp(answers)
        return signed
    approved = signing.sign_pdf(
        pdf=pdf, agency=agency, signer_label="Phê duyệt", verify_url=VERIFY_URL, level="B-T"
    )
    signed = signing.sign_pdf(
        pdf=approved, agency=agency, signer_label="Đóng dấu", verify_url=VERIFY_URL, level="B-LT"
    )
    publish_ocsp(answers)
    if case == "tampered":
        damaged = bytearray(signed)
        damaged[damaged.index(b"/Producer") + 12] ^= 0x01  # inside both signed ranges
        return bytes(damaged)
    return signed


def pyhanko_says_valid(data: bytes) -> bool:
    return all(status.bottom_line for status in pyhanko_statuses(data))


@pytest.mark.django_db
def test_pdfsig_accepts_valid_documents(
    city: Any, ocsp_answers: dict[int, bytes], tmp_path: Path
) -> None:
    nssdir = nss_db(tmp_path)

    def seal(pdf: bytes, level: str, label: str = "Đóng dấu") -> bytes:
        return signing.sign_pdf(
            pdf=pdf, agency=city, signer_label=label, verify_url=VERIFY_URL, level=level
        )

    # B-LT: the revocation data sits inside the signed revision, the whole file is covered
    lt = seal(one_page_pdf(), "B-LT")
    publish_ocsp(ocsp_answers)
    (entry,) = pdfsig(lt, tmp_path, nssdir)
    assert entry["Signer Certificate Common Name"] == AGENCY_NAME
    assert entry["Signature Type"] == "ETSI.CAdES.detached"
    assert entry["Signature Validation"] == "Signature is Valid."
    assert entry["Certificate Validation"] == "Certificate is Trusted."
    assert "Total document signed" in entry["raw"]

    # B-LTA: the signature is valid and trusted; the document time-stamp, which pdfsig lists
    # but does not validate, closes the file
    signature, doc_ts = pdfsig(seal(one_page_pdf(), "B-LTA"), tmp_path, nssdir)
    assert signature["Signature Validation"] == "Signature is Valid."
    assert signature["Certificate Validation"] == "Certificate is Trusted."
    assert "Not total document signed" in signature["raw"]
    assert doc_ts["Signer Certificate Common Name"].startswith("Thudo TSA")
    assert "Total document signed" in doc_ts["raw"]

    # Approver then seal, by two certificates (the agency's key was rotated in between)
    approved = seal(one_page_pdf(), "B-T", "Phê duyệt")
    pki.credential_rotate(agency=city, actor="test")
    publish_ocsp(ocsp_answers)
    first, second = pdfsig(seal(approved, "B-LT"), tmp_path, nssdir)
    for entry in (first, second):
        assert entry["Signature Validation"] == "Signature is Valid."
        assert entry["Certificate Validation"] == "Certificate is Trusted."
    assert "Not total document signed" in first["raw"]
    assert "Total document signed" in second["raw"]

    # Approver then seal by the same certificate: both signatures are valid; poppler 22.12 /
    # NSS, having checked that certificate online once, reports the second time as "Unknown
    # issue with Certificate or corrupted data." (its OCSP cache; whatever the response's
    # form, and not with two certificates, as above). pyHanko and verify_pdf say valid.
    twice = seal(seal(one_page_pdf(), "B-T", "Phê duyệt"), "B-LT")
    publish_ocsp(ocsp_answers)
    first, second = pdfsig(twice, tmp_path, nssdir)
    assert (
        first["Signature Validation"] == second["Signature Validation"] == ("Signature is Valid.")
    )
    assert first["Certificate Validation"] == "Certificate is Trusted."
    assert second["Certificate Validation"] in {
        "Certificate is Trusted.",
        "Unknown issue with Certificate or corrupted data.",
    }
    assert "Total document signed" in second["raw"]
    assert verification.verify_pdf(twice).verdict == "valid" and pyhanko_says_valid(twice)


@pytest.mark.django_db
def test_pdfsig_and_pyhanko_reject_a_tampered_document(
    city: Any, ocsp_answers: dict[int, bytes], tmp_path: Path
) -> None:
    tampered = make_case("tampered", city, ocsp_answers)
    report = pdfsig(tampered, tmp_path, nss_db(tmp_path))
    assert report and all(e["Signature Validation"] != "Signature is Valid." for e in report)
    assert all(not status.intact for status in pyhanko_statuses(tampered))
    thudo = verification.verify_pdf(tampered)
    assert thudo.verdict == "invalid" and not any(s.intact for s in thudo.signatures)


@pytest.mark.django_db
def test_pdfsig_does_not_trust_an_unknown_ca(
    city: Any, ocsp_answers: dict[int, bytes], tmp_path: Path
) -> None:
    untrusted = make_case("untrusted", city, ocsp_answers)
    (entry,) = pdfsig(untrusted, tmp_path, nss_db(tmp_path))
    assert entry["Signature Validation"] == "Signature is Valid."  # the maths hold
    assert entry["Certificate Validation"] == "Certificate issuer isn't Trusted."
    thudo = verification.verify_pdf(untrusted)
    assert thudo.verdict == "invalid" and not thudo.signatures[0].trusted


@pytest.mark.django_db
def test_pdfsig_reports_a_revoked_certificate_through_ocsp(
    city: Any, ocsp_answers: dict[int, bytes], tmp_path: Path
) -> None:
    revoked = make_case("revoked", city, ocsp_answers)
    (entry,) = pdfsig(revoked, tmp_path, nss_db(tmp_path))
    assert entry["Signature Validation"] == "Signature is Valid."
    assert entry["Certificate Validation"] == "Certificate has been Revoked."
    thudo = verification.verify_pdf(revoked)
    assert thudo.verdict == "invalid" and thudo.signatures[0].revoked


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
def test_thudo_agrees_with_pyhanko(case: str, city: Any, ocsp_answers: dict[int, bytes]) -> None:
    data = make_case(case, city, ocsp_answers)
    thudo = verification.verify_pdf(data).verdict
    assert thudo in ("valid", "invalid")
    assert (thudo == "valid") == pyhanko_says_valid(data) == (case == "valid")
