"""GS1 identifiers: GTINs (check digit, Vietnam's prefix 893), EPC URIs in both the URN form
(urn:epc:id:sgtin:…, urn:epc:class:lgtin:…) and the GS1 Digital Link form EPCIS 2.0 prefers
(https://id.gs1.org/01/…), location URIs, and the Digital Link printed on our labels.

GTIN parsing and Digital Link parsing come from biip; this module only adapts them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gtin import Gtin
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed

VIETNAM_PREFIX = "893"
GS1_RESOLVER = "https://id.gs1.org"
_LOT_RE = re.compile(r"^[!-~]{1,20}$")  # GS1 AI (10)/(21): up to 20 printable ASCII characters

MSG_GTIN_DIGITS = _("A GTIN has 8, 12, 13 or 14 digits.")
MSG_GTIN_CHECK = _("The GTIN's check digit is wrong.")
MSG_GTIN_PREFIX = _("A GTIN registered here must start with Vietnam's GS1 prefix 893.")
MSG_LOT = _("A lot or serial number has 1 to 20 characters: letters, digits and - . / _ only.")


def normalize_gtin(value: str) -> str | None:
    """The 14-digit GTIN if `value` is a valid GTIN-8/12/13/14, else None."""
    value = (value or "").strip()
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        return None
    try:
        return Gtin.parse(value).as_gtin_14()
    except ParseError:
        return None


def validate_gtin(value: str, *, field: str = "gtin", require_vietnam: bool = True) -> str:
    """The 14-digit GTIN, or ValidationFailed naming `field` and why."""
    value = (value or "").strip()
    if not value.isdigit() or len(value) not in (8, 12, 13, 14):
        raise ValidationFailed(fields={field: [MSG_GTIN_DIGITS]})
    gtin = normalize_gtin(value)
    if gtin is None:
        raise ValidationFailed(fields={field: [MSG_GTIN_CHECK]})
    if require_vietnam and not gtin.lstrip("0").startswith(VIETNAM_PREFIX):
        raise ValidationFailed(fields={field: [MSG_GTIN_PREFIX]})
    return gtin


def lot_ok(value: str) -> bool:
    return bool(_LOT_RE.match(value or ""))


@dataclass(frozen=True)
class Epc:
    """What an EPC or EPC class names: a GTIN with a lot and/or serial (either may be empty)."""

    gtin: str
    lot: str = ""
    serial: str = ""


def item_uri(gtin: str, serial: str) -> str:
    """An instance-level EPC (an item) as a GS1 Digital Link URI."""
    return f"{GS1_RESOLVER}/01/{gtin}/21/{quote(serial, safe='')}"


def lot_uri(gtin: str, lot: str) -> str:
    """A class-level EPC (a batch/lot) as a GS1 Digital Link URI, for quantityList."""
    return f"{GS1_RESOLVER}/01/{gtin}/10/{quote(lot, safe='')}"


def parse_epc(uri: str) -> Epc | None:
    """GTIN/lot/serial from an sgtin/lgtin/idpat URN or a Digital Link URI; None for anything
    else (SSCCs, GRAIs, private URIs…)."""
    uri = (uri or "").strip()
    if uri.startswith("urn:epc:"):
        return _parse_urn(uri)
    if uri.startswith(("http://", "https://")):
        path = urlsplit(uri).path
        if "/01/" not in f"{path}/" and not path.startswith("/01/"):
            return None
        try:
            dl = GS1DigitalLinkURI.parse(uri)
        except (ParseError, ValueError):
            return None
        values = {e.ai.ai: e.value for e in dl.element_strings}
        gtin = values.get("01")
        if not gtin:
            return None
        return Epc(gtin=gtin, lot=values.get("10", ""), serial=values.get("21", ""))
    return None


def _urn_gtin(company: str, item: str) -> str | None:
    """GTIN-14 from an EPC URN's company prefix and indicator+item reference."""
    if not (company.isdigit() and item.isdigit()) or len(company) + len(item) != 13:
        return None
    body = item[0] + company + item[1:]
    digits = [int(c) for c in body]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits))
    return body + str((10 - total % 10) % 10)


def _parse_urn(uri: str) -> Epc | None:
    for prefix, kind in (
        ("urn:epc:id:sgtin:", "serial"),
        ("urn:epc:class:lgtin:", "lot"),
        ("urn:epc:idpat:sgtin:", "pattern"),
    ):
        if uri.startswith(prefix):
            parts = uri[len(prefix) :].split(".")
            if len(parts) != 3:
                return None
            gtin = _urn_gtin(parts[0], parts[1])
            if gtin is None:
                return None
            rest = unquote(parts[2])
            if kind == "serial":
                return Epc(gtin=gtin, serial=rest)
            if kind == "lot":
                return Epc(gtin=gtin, lot=rest)
            return Epc(gtin=gtin)
    return None


def location_uri(*, gln: str = "", code: str = "") -> str:
    """A place as an EPCIS read point / business location: its GLN as a Digital Link, else a
    private URN with its internal location code."""
    if gln:
        return f"{GS1_RESOLVER}/414/{gln}"
    return f"urn:thudo:loc:{code}"


def digital_link(gtin: str, lot: str = "", serial: str = "") -> str:
    """The URI printed in a label's QR code, on our own resolver's domain."""
    base = getattr(settings, "TRACE_DIGITAL_LINK_BASE", "http://127.0.0.1:8000").rstrip("/")
    uri = f"{base}/01/{gtin}"
    if lot:
        uri += f"/10/{quote(lot, safe='')}"
    if serial:
        uri += f"/21/{quote(serial, safe='')}"
    return uri
