"""Verification of the signatures in a PDF, for anyone, on any input (docs/signatures.md).

``verify_pdf`` never raises and never hangs: the file is refused above
``DOCUMENT_MAX_UPLOAD_BYTES``; parsing is non-strict and every exception is caught; pyHanko's
stream-decoding limits apply; the analysis runs in a worker thread that is abandoned after
``VERIFY_TIMEOUT_SECONDS``, and at most ``MAX_WORKERS`` such threads run at once.

Trust: the city's roots (every root this deployment has had) plus any extra roots given;
revocation: the city's current CRL, made in-process (no network). A signature whose signer
certificate was revoked or has expired since stays valid when a trusted signature time-stamp
proves it was made before (the ETSI EN 319 102-1 rule, which pyHanko's AdES validation also
applies); one made after the revocation is invalid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from . import pki

if TYPE_CHECKING:
    from pyhanko_certvalidator import ValidationContext

logger = logging.getLogger(__name__)

VERIFY_TIMEOUT_SECONDS = 20.0
MAX_WORKERS = 4
MAX_SIGNATURES = 50
VERDICTS = ("valid", "invalid", "no_signatures", "not_a_pdf", "unreadable")
# pyHanko's indications that a certificate is revoked or expired *now*; a trusted time-stamp
# from before the event is then proof of existence (POE) and the signature is judged then.
_POE_RESCUABLE = {
    "REVOKED_NO_POE",
    "REVOKED_CA_NO_POE",
    "OUT_OF_BOUNDS_NO_POE",
    "OUT_OF_BOUNDS_NOT_REVOKED",
    "EXPIRED",
}
_COVERAGE = {"ENTIRE_FILE": "entire document", "ENTIRE_REVISION": "entire revision"}

_slots = threading.BoundedSemaphore(MAX_WORKERS)


@dataclass
class SignatureReport:
    field_name: str
    kind: str  # "signature" | "document_timestamp"
    signer: str  # the certificate's common name
    signer_organisation: str
    signer_subject: str
    signed_at: str | None  # ISO 8601, +07:00
    signed_at_source: str | None  # "timestamp" (trusted TSA) | "claimed" (signer's clock)
    intact: bool
    valid: bool  # the signature value matches the certificate's key
    trusted: bool  # chains to the city root (or an extra root) and is not revoked now
    revoked: bool
    revoked_at: str | None
    revocation_reason: str | None
    coverage: str  # "entire document" | "entire revision" | "partial"
    modified_after_signing: str  # none | lta_updates | form_filling | annotations | other | …
    modifications_allowed: bool | None
    pades_level: str | None  # B-B | B-T | B-LT | B-LTA (None: not a PAdES signature)
    timestamp_trusted: bool | None
    ok: bool
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class VerificationReport:
    verdict: str
    sha256: str
    size: int
    signatures: list[SignatureReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- What the worker thread computes (no database, no translation: plain facts) -------------


@dataclass
class _Facts:
    field_name: str = ""
    kind: str = "signature"
    signer: str = ""
    organisation: str = ""
    subject: str = ""
    signed_at: dt.datetime | None = None
    signed_at_source: str | None = None
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    revoked: bool = False
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None
    coverage: str = "partial"
    modification: str = "unknown"
    modifications_allowed: bool | None = None
    pades_level: str | None = None
    timestamp_trusted: bool | None = None
    trust_problem: str | None = None
    rescued_at: dt.datetime | None = None  # judged at this time-stamp (POE)
    bottom_line: bool = False
    failure: str | None = None  # the signature could not be analysed at all
    revision: int | None = None


@dataclass
class _Outcome:
    readable: bool = True
    signatures: list[_Facts] = field(default_factory=list)
    too_many: bool = False


def _name_parts(cert: Any) -> tuple[str, str, str]:
    try:
        native = cert.subject.native
        return (
            str(native.get("common_name", "")),
            str(native.get("organization_name", "")),
            str(cert.subject.human_friendly),
        )
    except Exception:
        return "", "", ""


def _validation_context(
    roots: list[Any], crls: list[bytes], moment: dt.datetime | None = None
) -> ValidationContext:
    from pyhanko_certvalidator import ValidationContext

    if moment is not None:
        return ValidationContext(
            trust_roots=roots,
            crls=crls,
            allow_fetching=False,
            revocation_mode="soft-fail",
            moment=moment,
            retroactive_revinfo=True,
        )
    return ValidationContext(
        trust_roots=roots, crls=crls, allow_fetching=False, revocation_mode="soft-fail"
    )


def _dss_covers(reader: Any, cert: Any) -> bool:
    """Whether the document's DSS holds revocation data for ``cert``: a CRL from its issuer, or
    an OCSP response about its serial number."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.pdf_utils.decode_limits import DecodePurpose

    try:
        dss = reader.root["/DSS"]
    except Exception:
        return False
    for ref in list(dss.get("/CRLs") or ())[:MAX_SIGNATURES]:
        try:
            data = ref.get_object().read_data(DecodePurpose.CRL)
            if asn1_crl.CertificateList.load(data)["tbs_cert_list"]["issuer"] == cert.issuer:
                return True
        except Exception:  # a damaged entry proves nothing
            logger.debug("unreadable CRL in the DSS")
    for ref in list(dss.get("/OCSPs") or ())[:MAX_SIGNATURES]:
        try:
            data = ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE)
            basic = asn1_ocsp.OCSPResponse.load(data)["response_bytes"]["response"].parsed
            for single in basic["tbs_response_data"]["responses"]:
                if single["cert_id"]["serial_number"].native == cert.serial_number:
                    return True
        except Exception:
            logger.debug("unreadable OCSP response in the DSS")
    return False


def _analyse(data: bytes, roots: list[Any], crls: list[bytes]) -> _Outcome:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception:
        return _Outcome(readable=False)
    outcome = _Outcome(too_many=len(embedded) > MAX_SIGNATURES)
    doc_ts_revisions: list[int] = []
    for sig in embedded[:MAX_SIGNATURES]:
        facts = _Facts()
        outcome.signatures.append(facts)
        try:
            facts.field_name = str(sig.field_name)
            facts.kind = (
                "document_timestamp" if sig.sig_object_type == "/DocTimeStamp" else "signature"
            )
            facts.signer, facts.organisation, facts.subject = _name_parts(sig.signer_cert)
            if facts.kind == "document_timestamp":
                ts_status = validate_pdf_timestamp(
                    sig, validation_context=_validation_context(roots, crls)
                )
                facts.signed_at, facts.signed_at_source = ts_status.timestamp, "timestamp"
                facts.intact, facts.valid = ts_status.intact, ts_status.valid
                facts.trusted = ts_status.trusted
                facts.bottom_line = ts_status.intact and ts_status.valid and ts_status.trusted
                facts.timestamp_trusted = ts_status.trusted
                _modification_facts(facts, ts_status)
                facts.trust_problem = _indication(ts_status.trust_problem_indic)
                if facts.bottom_line:
                    doc_ts_revisions.append(sig.signed_revision)
                continue
            status = validate_pdf_signature(
                sig,
                signer_validation_context=_validation_context(roots, crls),
                ts_validation_context=_validation_context(roots, crls),
            )
            _signature_facts(facts, status)
            if not status.bottom_line and facts.trust_problem in _POE_RESCUABLE:
                _try_point_in_time(facts, sig, status, roots, crls)
            facts.pades_level = _pades_level(sig, reader, facts)
            facts.revision = sig.signed_revision
        except Exception as exc:  # a damaged or exotic signature: report it, go on
            logger.info("signature could not be analysed: %s", type(exc).__name__)
            facts.failure = type(exc).__name__
            facts.bottom_line = False
    for facts in outcome.signatures:
        revision = facts.revision
        if (
            facts.pades_level == "B-LT"
            and revision is not None
            and any(r > revision for r in doc_ts_revisions)
        ):
            facts.pades_level = "B-LTA"
    return outcome


def _indication(indic: Any) -> str | None:
    return None if indic is None else str(getattr(indic, "name", indic))


def _modification_facts(facts: _Facts, status: Any) -> None:
    coverage = getattr(status.coverage, "name", None)
    facts.coverage = _COVERAGE.get(str(coverage), "partial")
    level = status.modification_level
    facts.modification = level.name.lower() if level is not None else "unknown"
    facts.modifications_allowed = status.docmdp_ok


def _signature_facts(facts: _Facts, status: Any) -> None:
    facts.intact, facts.valid, facts.trusted = status.intact, status.valid, status.trusted
    facts.trust_problem = _indication(status.trust_problem_indic)
    details = status.revocation_details
    if details is not None:
        facts.revoked = True
        facts.revoked_at = details.revocation_date
        reason = getattr(details.revocation_reason, "native", None)
        facts.revocation_reason = str(reason) if reason else None
    ts = status.timestamp_validity
    if ts is not None:
        facts.timestamp_trusted = bool(ts.intact and ts.valid and ts.trusted)
        facts.signed_at, facts.signed_at_source = ts.timestamp, "timestamp"
    elif status.signer_reported_dt is not None:
        facts.signed_at, facts.signed_at_source = status.signer_reported_dt, "claimed"
    _modification_facts(facts, status)
    facts.bottom_line = bool(status.bottom_line)


def _try_point_in_time(
    facts: _Facts, sig: Any, status: Any, roots: list[Any], crls: list[bytes]
) -> None:
    """Judge the signature at its trusted time-stamp (the proof that it existed then)."""
    from pyhanko.sign.validation import validate_pdf_signature

    ts = status.timestamp_validity
    if ts is None or not (ts.intact and ts.valid and ts.trusted):
        return
    when = ts.timestamp
    if facts.revoked_at is not None and facts.revoked_at <= when:
        return  # revoked before the time-stamp: no proof it was signed in time
    past = validate_pdf_signature(
        sig,
        signer_validation_context=_validation_context(roots, crls, moment=when),
        ts_validation_context=_validation_context(roots, crls),
    )
    if past.bottom_line:
        facts.rescued_at = when
        facts.bottom_line = True


def _pades_level(sig: Any, reader: Any, facts: _Facts) -> str | None:
    subfilter = str(sig.sig_object.get("/SubFilter", ""))
    if subfilter != "/ETSI.CAdES.detached":
        return None
    if facts.signed_at_source != "timestamp":
        return "B-B"
    if _dss_covers(reader, sig.signer_cert):
        return "B-LT"
    return "B-T"


# --- Rendering (in the caller's thread, in the caller's language) ----------------------------


def _iso(moment: dt.datetime | None) -> str | None:
    from .signing import signing_time_text

    return signing_time_text(moment) if moment is not None else None


def _render(facts: _Facts) -> SignatureReport:
    errors: list[str] = []
    notes: list[str] = []
    if facts.failure:
        errors.append(
            str(
                _(
                    "The signature could not be checked: it is damaged or uses an "
                    "unsupported format."
                )
            )
        )
    else:
        if not facts.intact:
            errors.append(str(_("The signed content has been changed since it was signed.")))
        elif not facts.valid:
            errors.append(str(_("The signature value does not match the signer's certificate.")))
        if facts.revoked:
            params = {"date": _iso(facts.revoked_at), "reason": facts.revocation_reason or "-"}
            if facts.rescued_at is not None:
                notes.append(
                    str(
                        _(
                            "The signer's certificate was revoked on %(date)s "
                            "(%(reason)s), after this signature's time-stamp; the "
                            "signature remains valid."
                        )
                        % params
                    )
                )
            else:
                errors.append(
                    str(
                        _(
                            "The signer's certificate was revoked on %(date)s "
                            "(%(reason)s), and nothing proves the signature was made "
                            "before that."
                        )
                        % params
                    )
                )
        elif facts.trust_problem in _POE_RESCUABLE:
            if facts.rescued_at is not None:
                notes.append(
                    str(
                        _(
                            "The signer's certificate is no longer valid, but a "
                            "time-stamp proves the signature was made while it was."
                        )
                    )
                )
            else:
                errors.append(
                    str(_("The signer's certificate was not valid at the time of signing."))
                )
        elif facts.intact and facts.valid and not facts.trusted:
            errors.append(
                str(_("The signer's certificate does not lead to a trusted root certificate."))
            )
        if facts.timestamp_trusted is False:
            errors.append(
                str(
                    _(
                        "The signature's time-stamp is not valid or does not come "
                        "from a trusted time-stamping authority."
                    )
                )
            )
        if facts.modifications_allowed is False:
            errors.append(
                str(_("The document was changed after signing in a way that is not allowed."))
            )
        if facts.coverage == "partial":
            errors.append(str(_("The signature does not cover the document as a whole.")))
        if not facts.bottom_line and not errors:
            errors.append(str(_("The signature is not valid.")))
    ok = facts.bottom_line and not facts.failure and not errors
    return SignatureReport(
        field_name=facts.field_name,
        kind=facts.kind,
        signer=facts.signer,
        signer_organisation=facts.organisation,
        signer_subject=facts.subject,
        signed_at=_iso(facts.signed_at),
        signed_at_source=facts.signed_at_source,
        intact=facts.intact,
        valid=facts.valid,
        trusted=facts.trusted,
        revoked=facts.revoked,
        revoked_at=_iso(facts.revoked_at),
        revocation_reason=facts.revocation_reason,
        coverage=facts.coverage,
        modified_after_signing=facts.modification,
        modifications_allowed=facts.modifications_allowed,
        pades_level=facts.pades_level,
        timestamp_trusted=facts.timestamp_trusted,
        ok=ok,
        errors=errors,
        notes=notes,
    )


# --- Entry point ----------------------------------------------------------------------------


def _trust_material(extra_roots: Sequence[x509.Certificate]) -> tuple[list[Any], list[bytes]]:
    """The roots and the CRL, read from the database in the caller's thread."""
    roots: list[Any] = []
    crls: list[bytes] = []
    try:
        roots = [pki.to_asn1_cert(c) for c in pki.root_certificates()]
        if roots:
            crls = [pki.crl_der()]
    except pki.PkiNotInitialised:
        pass
    roots += [pki.to_asn1_cert(c) for c in extra_roots]
    return roots, crls


def verify_pdf(
    data: bytes,
    *,
    extra_roots: Sequence[x509.Certificate] = (),
    timeout: float | None = None,
) -> VerificationReport:
    """Check every signature and document time-stamp in ``data``. Never raises."""
    digest = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else ""
    report = VerificationReport(verdict="unreadable", sha256=digest, size=len(data or b""))
    try:
        _verify_into(report, data, extra_roots, timeout)
    except Exception:  # the last guard: a report, never an exception
        logger.exception("verification failed unexpectedly")
        report.verdict = "unreadable"
        report.signatures = []
        report.errors = [str(_("The file could not be checked."))]
    return report


def _verify_into(
    report: VerificationReport,
    data: bytes,
    extra_roots: Sequence[x509.Certificate],
    timeout: float | None,
) -> None:
    limit = int(getattr(settings, "DOCUMENT_MAX_UPLOAD_BYTES", 20 * 1024 * 1024))
    if not isinstance(data, bytes):
        report.errors.append(str(_("The file could not be checked.")))
        return
    if len(data) > limit:
        report.errors.append(
            str(_("The file is larger than %(limit)d MB.") % {"limit": limit // (1024 * 1024)})
        )
        return
    if b"%PDF-" not in data[:1024]:
        report.verdict = "not_a_pdf"
        report.errors.append(str(_("The file is not a PDF.")))
        return
    roots, crls = _trust_material(extra_roots)
    wait = VERIFY_TIMEOUT_SECONDS if timeout is None else timeout
    if not _slots.acquire(timeout=wait):
        report.errors.append(str(_("The server is busy checking other files; try again.")))
        return
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["outcome"] = _analyse(data, roots, crls)
        except BaseException as exc:
            box["error"] = exc
        finally:
            _slots.release()

    worker = threading.Thread(target=work, name="thudo-verify", daemon=True)
    try:
        worker.start()
    except Exception:
        _slots.release()
        raise
    worker.join(wait)
    if worker.is_alive():
        logger.warning("verification abandoned after %.1f s (sha256 %s)", wait, report.sha256)
        report.errors.append(str(_("Checking this file took too long and was stopped.")))
        return
    outcome: _Outcome | None = box.get("outcome")
    if outcome is None or not outcome.readable:
        if "error" in box:
            logger.info("unreadable PDF: %s", type(box["error"]).__name__)
        report.errors.append(str(_("The PDF could not be read.")))
        return
    if not outcome.signatures:
        report.verdict = "no_signatures"
        return
    report.signatures = [_render(f) for f in outcome.signatures]
    if outcome.too_many:
        report.errors.append(
            str(
                _("The file holds more than %(count)d signatures; the rest were not checked.")
                % {"count": MAX_SIGNATURES}
            )
        )
    valid = all(s.ok for s in report.signatures) and not outcome.too_many
    report.verdict = "valid" if valid else "invalid"


def certificate_from_pem(pem: bytes) -> x509.Certificate:
    """Load an extra trusted root (PEM or DER) given by an operator."""
    if b"-----BEGIN" in pem:
        return x509.load_pem_x509_certificate(pem)
    return x509.load_der_x509_certificate(pem)


__all__ = [
    "VERDICTS",
    "SignatureReport",
    "VerificationReport",
    "certificate_from_pem",
    "verify_pdf",
]
