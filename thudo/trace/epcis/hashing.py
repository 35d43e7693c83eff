"""The GS1 CBV 2.0 "event hash ID" (CBV 2.0 §8.9; EPCIS 2.0 §7.4.2): a syntax-independent
SHA-256 over an event's canonical pre-hash string, written as an RFC 6920 ``ni`` URI::

    ni:///sha-256;<64 lower-case hex digits>?ver=CBV2.0

The pre-hash string is built as GS1's reference implementation (github.com/RalphTro/
epcis-event-hash-generator) builds it for EPCIS 2.0 JSON/JSON-LD:

1. ``eventType=<type>``, then the standard fields in CBV 2.0's prescribed order — eventTime,
   eventTimeZoneOffset, epcList, parentID, inputEPCList, childEPCs, quantityList,
   childQuantityList, inputQuantityList, outputEPCList, outputQuantityList, action,
   transformationID, bizStep, disposition, persistentDisposition, — each written ``name=value``
   (a structure: its name followed by its children), with no separators —
   readPoint, bizLocation, bizTransactionList, sourceList, destinationList, sensorElementList;
2. every other field (ilmd, certificationInfo, user extensions), each rendered the same way,
   sorted lexically and appended;
3. left out: ``eventID``, ``recordTime``, ``errorDeclaration``, ``@context`` (and ``type``,
   already written first).

Values are normalised first: surrounding white space trimmed; times converted to UTC at
millisecond precision (``2005-04-04T02:33:31.116Z``); numbers without trailing zeros; CBV terms
(short names, URNs or Web URIs) as their GS1 Web URI ``https://ref.gs1.org/cbv/BizStep-shipping``;
EPC URIs (``urn:epc:id:sgtin:…``, ``urn:epc:class:lgtin:…``, ``urn:epc:idpat:sgtin:…``, SSCC,
SGLN, PGLN, GRAI, GIAI, GSRN, GDTI…) and GS1 Digital Link URIs as canonical Digital Link URIs on
``https://id.gs1.org`` with only the finest identification level (``/01/<GTIN-14>/21/<serial>``,
no lot beside a serial, no query string); extension names as ``{namespace}localName`` using the
event's @context; members of a list sorted, so list order does not change the hash.

GS1's EPCIS 2.0 example documents carry eventIDs computed with an earlier draft of this
algorithm: identifiers and CBV values as written (EPC URNs, ``urn:epcglobal:cbv:bizstep:…``) and
extension names as ``namespace + localName`` without braces. `legacy_event_hash` computes that
form; capture accepts a supplied hash eventID when it equals either (docs/trace.md). Both forms
sort the members of every list (the reference implementation keeps bizTransactionList,
sourceList and destinationList in document order), so the order of a list never changes the
hash. Sensor report types written as bare words are expanded to ``https://gs1.org/voc/<Type>``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from . import vocab

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"
HASH_RE = re.compile(r"^ni:///sha-256;([0-9a-f]{64})\?ver=CBV2\.0$")

IGNORED = frozenset({"eventID", "recordTime", "errorDeclaration", "@context", "type"})

_QUANTITY_LISTS = (
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputQuantityList",
)
_EPC_LISTS = ("epcList", "inputEPCList", "childEPCs", "outputEPCList")

# Standard prefixes of the EPCIS 2.0 context (for CURIEs in extension names and values).
STANDARD_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "gs1": "https://gs1.org/voc/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
}

_SENSOR_METADATA_ORDER = (
    "time",
    "startTime",
    "endTime",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
)
_SENSOR_REPORT_ORDER = (
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
)


# --- public ---------------------------------------------------------------------------------


def event_hash(event: Mapping[str, Any], namespaces: Mapping[str, str] | None = None) -> str:
    """The canonical event hash of one EPCIS 2.0 JSON(-LD) event. Prefixes of extension names
    come from the event's own "@context" and from `namespaces` (the document's context)."""
    return _ni(prehash(event, namespaces))


def legacy_event_hash(event: Mapping[str, Any], namespaces: Mapping[str, str] | None = None) -> str:
    """The hash in the draft form GS1's EPCIS 2.0 examples use (see the module's docstring)."""
    return _ni(prehash(event, namespaces, legacy=True))


def _ni(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{HASH_PREFIX}{digest}{HASH_SUFFIX}"


def is_event_hash(value: str) -> bool:
    return bool(HASH_RE.match(value or ""))


def context_prefixes(context: Any) -> dict[str, str]:
    """Prefix → namespace IRI from a JSON-LD @context (a string, an object or a list of them)."""
    found: dict[str, str] = {}
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, Mapping):
            for key, value in item.items():
                if isinstance(value, str) and not key.startswith("@"):
                    found[key] = value
                elif isinstance(value, Mapping) and isinstance(value.get("@id"), str):
                    found[key] = value["@id"]
    return found


def prehash(
    event: Mapping[str, Any], namespaces: Mapping[str, str] | None = None, *, legacy: bool = False
) -> str:
    """The canonical pre-hash string of an event (what event_hash hashes)."""
    prefixes = dict(STANDARD_PREFIXES)
    if namespaces:
        prefixes.update(namespaces)
    prefixes.update(context_prefixes(event.get("@context")))
    return _Builder(prefixes, legacy=legacy).event(event)


# --- values ---------------------------------------------------------------------------------


def canonical_time(value: str) -> str:
    """UTC at millisecond precision with a Z (rounding, not truncating, the microseconds)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    millis = round(moment.microsecond / 1000)
    moment = moment.replace(microsecond=0) + timedelta(milliseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def canonical_number(value: Any) -> str:
    """A JSON number (or a numeric string) without trailing zeros: 200.0 → "200", "23.50" →
    "23.5"; anything else unchanged."""
    text = value if isinstance(value, str) else repr(value)
    if not _NUMBER.match(text):
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isnan(number) or math.isinf(number):
        return text
    if number == int(number):
        return str(int(number))
    return repr(number)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return canonical_number(value)
    return str(value)


def _gs1_check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


_DL_ENCODE = str.maketrans(
    {"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"}
)


def _enc(value: str) -> str:
    return value.translate(_DL_ENCODE)


_URN_ID = re.compile(r"^urn:epc:(id|class|idpat):([a-z]+):(.+)$")


def _split_cp(rest: str, parts: int) -> list[str] | None:
    pieces = rest.split(".", parts - 1)
    return pieces if len(pieces) == parts else None


def canonical_epc(uri: str) -> str | None:
    """The canonical GS1 Digital Link URI of an EPC URN, EPC class/pattern URN or Digital Link
    URI; None for anything else."""
    uri = uri.strip()
    m = _URN_ID.match(uri)
    if m:
        return _urn_to_dl(m.group(1), m.group(2), m.group(3))
    if uri.startswith(("http://", "https://")):
        return _dl_canonical(uri)
    return None


def _numeric(*values: str) -> bool:
    return all(v.isdigit() for v in values)


def _urn_to_dl(kind: str, scheme: str, rest: str) -> str | None:
    base = "https://id.gs1.org"
    if scheme in ("sgtin", "lgtin"):
        p = _split_cp(rest, 3)
        if not p or not _numeric(p[0], p[1]) or len(p[0]) + len(p[1]) != 13:
            return None
        body = p[1][:1] + p[0] + p[1][1:]
        gtin = body + _gs1_check_digit(body)
        if kind == "idpat":
            return f"{base}/01/{gtin}" if p[2] == "*" else None
        if kind == "class" and scheme == "lgtin":
            return f"{base}/01/{gtin}/10/{_enc(p[2])}"
        if kind == "id" and scheme == "sgtin":
            return f"{base}/01/{gtin}/21/{_enc(p[2])}"
        return None
    if kind != "id":
        return None
    if scheme == "sscc":
        p = _split_cp(rest, 2)
        if not p or not _numeric(*p) or len(p[0]) + len(p[1]) != 17:
            return None
        body = p[1][:1] + p[0] + p[1][1:]
        return f"{base}/00/{body}{_gs1_check_digit(body)}"
    if scheme in ("sgln", "pgln"):
        p = _split_cp(rest, 3 if scheme == "sgln" else 2)
        if not p or not _numeric(p[0], p[1]) or len(p[0]) + len(p[1]) != 12:
            return None
        body = p[0] + p[1]
        gln = body + _gs1_check_digit(body)
        if scheme == "pgln":
            return f"{base}/417/{gln}"
        return f"{base}/414/{gln}" + ("" if p[2] == "0" else f"/254/{_enc(p[2])}")
    if scheme == "grai":
        p = _split_cp(rest, 3)
        if not p or not _numeric(p[0], p[1]) or len(p[0]) + len(p[1]) != 12:
            return None
        body = "0" + p[0] + p[1]
        return f"{base}/8003/{body}{_gs1_check_digit(body)}{_enc(p[2])}"
    if scheme in ("giai", "ginc"):
        p = _split_cp(rest, 2)
        if not p or not p[0].isdigit():
            return None
        ai = "8004" if scheme == "giai" else "401"
        return f"{base}/{ai}/{p[0]}{_enc(p[1])}"
    if scheme in ("gsrn", "gsrnp", "gsin"):
        p = _split_cp(rest, 2)
        want = 17 if scheme != "gsin" else 16
        if not p or not _numeric(*p) or len(p[0]) + len(p[1]) != want:
            return None
        body = p[0] + p[1]
        ai = {"gsrn": "8018", "gsrnp": "8017", "gsin": "402"}[scheme]
        return f"{base}/{ai}/{body}{_gs1_check_digit(body)}"
    if scheme in ("gdti", "sgcn"):
        p = _split_cp(rest, 3)
        if not p or not _numeric(p[0], p[1]) or len(p[0]) + len(p[1]) != 12:
            return None
        body = p[0] + p[1]
        ai = "253" if scheme == "gdti" else "255"
        return f"{base}/{ai}/{body}{_gs1_check_digit(body)}{_enc(p[2])}"
    return None


_DL_SHORT = {
    "gtin": "01",
    "itip": "8006",
    "cpid": "8010",
    "gln": "414",
    "party": "417",
    "gsrnp": "8017",
    "gsrn": "8018",
    "gcn": "255",
    "sscc": "00",
    "gdti": "253",
    "ginc": "401",
    "gsin": "402",
    "grai": "8003",
    "giai": "8004",
    "cpv": "22",
    "lot": "10",
    "ser": "21",
}
_DL_PRIMARY = frozenset(
    {"01", "8006", "8010", "414", "417", "8017", "8018", "255", "00", "253", "401", "402"}
    | {"8003", "8004"}
)


def _dl_canonical(uri: str) -> str | None:
    """A GS1 Digital Link URI on id.gs1.org, primary key padded, CPV and lot-beside-serial and
    the query string removed; None when `uri` is not a Digital Link."""
    parts = urlsplit(uri)
    segments = [s for s in parts.path.split("/") if s]
    segments = [_DL_SHORT.get(s, s) if i % 2 == 0 else s for i, s in enumerate(segments)]
    start = next(
        (
            i
            for i in range(len(segments) - 1)
            if segments[i] in _DL_PRIMARY and segments[i + 1][:4].isdigit()
        ),
        None,
    )
    if start is None:
        return None
    segments = segments[start:]
    if len(segments) % 2:
        return None
    pairs = [(segments[i], segments[i + 1]) for i in range(0, len(segments), 2)]
    key, value = pairs[0]
    if key == "01":
        if not value.isdigit() or len(value) not in (8, 12, 13, 14):
            return None
        value = value.zfill(14)
    qualifiers = dict(pairs[1:])
    qualifiers.pop("22", None)
    if "21" in qualifiers:
        qualifiers.pop("10", None)
    out = f"https://id.gs1.org/{key}/{value}"
    for ai in ("10", "21", "235", "254", "8011"):
        if ai in qualifiers:
            out += f"/{ai}/{_enc(unquote(qualifiers[ai]))}"
    return out


def canonical_value(value: Any, *, legacy: bool = False) -> str:
    """A value as the pre-hash string writes it: trimmed, numbers without trailing zeros, CBV
    URNs as Web URIs, EPC/Digital Link URIs in canonical Digital Link form (legacy: identifiers
    and URNs as written)."""
    if not isinstance(value, str):
        return _scalar(value).strip()
    return _canonical_text(value, legacy)


@lru_cache(maxsize=100_000)  # places, classes and units repeat across events
def _canonical_text(value: str, legacy: bool) -> str:
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith("urn:epcglobal:cbv:") and not legacy:
        for voc in vocab.VOCABULARIES:
            if lowered.startswith(f"urn:epcglobal:cbv:{voc.urn}:"):
                return vocab.canonical_uri(voc, text)
    text = canonical_number(text)
    if legacy:
        return text
    return canonical_epc(text) or text


# --- the pre-hash string --------------------------------------------------------------------


# The standard fields in CBV 2.0's order: (field, _Builder method, leading arguments).
_ORDER: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("eventTime", "time", ()),
    ("eventTimeZoneOffset", "plain", ()),
    ("epcList", "epcs", ()),
    ("parentID", "plain", ()),
    ("inputEPCList", "epcs", ()),
    ("childEPCs", "epcs", ()),
    ("quantityList", "quantities", ()),
    ("childQuantityList", "quantities", ()),
    ("inputQuantityList", "quantities", ()),
    ("outputEPCList", "epcs", ()),
    ("outputQuantityList", "quantities", ()),
    ("action", "plain", ()),
    ("transformationID", "plain", ()),
    ("bizStep", "term", (vocab.BIZ_STEP,)),
    ("disposition", "term", (vocab.DISPOSITION,)),
    ("persistentDisposition", "persistent", ()),
    ("readPoint", "location", ()),
    ("bizLocation", "location", ()),
    ("bizTransactionList", "typed_list", ("bizTransaction", vocab.BIZ_TRANSACTION_TYPE)),
    ("sourceList", "typed_list", ("source", vocab.SOURCE_DEST_TYPE)),
    ("destinationList", "typed_list", ("destination", vocab.SOURCE_DEST_TYPE)),
    ("sensorElementList", "sensors", ()),
)
_ORDERED = frozenset(key for key, _m, _a in _ORDER) | IGNORED


class _Builder:
    def __init__(self, prefixes: Mapping[str, str], *, legacy: bool = False) -> None:
        self.prefixes = prefixes
        self.legacy = legacy

    def name(self, key: str) -> str:
        """An extension name as {namespace}localName when its prefix is known."""
        prefix, sep, local = key.partition(":")
        if sep and prefix in self.prefixes and not local.startswith("//"):
            if self.legacy:
                return self.prefixes[prefix] + local
            return "{" + self.prefixes[prefix] + "}" + local
        return key

    def value(self, value: Any) -> str:
        """A value; CURIEs of GS1's own vocabularies are expanded."""
        if isinstance(value, str):
            if not self.legacy and value.lstrip().startswith(("cbv:", "gs1:")):
                prefix, _sep, local = value.strip().partition(":")
                return _canonical_text(self.prefixes[prefix] + local, False)
            return _canonical_text(value, self.legacy)
        return _scalar(value).strip()

    def cbv(self, voc: vocab.Vocabulary, value: str) -> str:
        """A CBV term as its Web URI (legacy: as its URN); other values unchanged."""
        try:
            term = vocab.normalize(voc, value)
        except vocab.UnknownTerm:
            return value
        if term not in voc.terms:
            return term
        return f"urn:epcglobal:cbv:{voc.urn}:{term}" if self.legacy else voc.uri(term)

    def event(self, event: Mapping[str, Any]) -> str:
        out = [f"eventType={_scalar(event.get('type', '')).strip()}"]
        for key, method, extra in _ORDER:
            value = event.get(key)
            if value is None:
                continue
            writer = getattr(self, method)
            text = writer(*extra, value) if extra else writer(value)
            if text:
                out.append(key + text)
        rest: list[str] = []
        for key, value in event.items():
            if key not in _ORDERED and value is not None:
                rest.extend(self.generic(self.name(key), value))
        out.extend(sorted(rest))
        return "".join(out)

    # ordered parts: each returns what follows the field's name ("=value" or children)

    def plain(self, value: Any) -> str:
        text = self.value(value)
        return f"={text}" if text else ""

    def time(self, value: Any) -> str:
        return f"={canonical_time(str(value))}" if str(value).strip() else ""

    def term(self, voc: vocab.Vocabulary, value: Any) -> str:
        text = str(value).strip()
        return f"={self.cbv(voc, text)}" if text else ""

    def epcs(self, value: Any) -> str:
        items = value if isinstance(value, list) else [value]
        return "".join(sorted(f"epc={self.value(v)}" for v in items if _scalar(v).strip()))

    def quantities(self, value: Any) -> str:
        items = value if isinstance(value, list) else [value]
        parts = []
        for item in items:
            if not isinstance(item, Mapping):
                continue
            text = ""
            for key in ("epcClass", "quantity", "uom"):
                if item.get(key) is not None and _scalar(item[key]).strip():
                    text += f"{key}={self.value(item[key])}"
            extra = {k: v for k, v in item.items() if k not in ("epcClass", "quantity", "uom")}
            text += "".join(sorted(self.children(extra)))
            if text:
                parts.append("quantityElement" + text)
        return "".join(sorted(parts))

    def persistent(self, value: Any) -> str:
        if not isinstance(value, Mapping):
            return ""
        text = ""
        for key in ("set", "unset"):
            items = value.get(key) or []
            items = items if isinstance(items, list) else [items]
            text += "".join(
                sorted(f"{key}={self.cbv(vocab.DISPOSITION, str(v).strip())}" for v in items)
            )
        return text

    def location(self, value: Any) -> str:
        if isinstance(value, str):
            return f"id={self.value(value)}"
        if not isinstance(value, Mapping):
            return ""
        text = f"id={self.value(value['id'])}" if value.get("id") else ""
        extra = {k: v for k, v in value.items() if k != "id"}
        return text + "".join(sorted(self.children(extra)))

    def sensors(self, value: Any) -> str:
        items = value if isinstance(value, list) else [value]
        parts = []
        for element in items:
            if not isinstance(element, Mapping):
                continue
            text = ""
            meta = element.get("sensorMetadata")
            if isinstance(meta, Mapping):
                body = self.ordered(meta, _SENSOR_METADATA_ORDER)
                if body:
                    text += "sensorMetadata" + body
            reports = element.get("sensorReport") or []
            reports = reports if isinstance(reports, list) else [reports]
            text += "".join(
                sorted(
                    "sensorReport" + body
                    for r in reports
                    if isinstance(r, Mapping) and (body := self.ordered(r, _SENSOR_REPORT_ORDER))
                )
            )
            extra = {
                k: v for k, v in element.items() if k not in ("sensorMetadata", "sensorReport")
            }
            text += "".join(sorted(self.children(extra)))
            if text:
                parts.append("sensorElement" + text)
        return "".join(sorted(parts))

    def ordered(self, data: Mapping[str, Any], order: tuple[str, ...]) -> str:
        text = ""
        for key in order:
            value = data.get(key)
            if value is None or not _scalar(value).strip():
                continue
            if "time" in key.lower() and isinstance(value, str):
                text += f"{key}={canonical_time(str(value))}"
            elif (
                key == "type"
                and isinstance(value, str)
                and not vocab.is_absolute_uri(value)
                and not self.legacy
            ):
                text += f"{key}=https://gs1.org/voc/{value.strip()}"
            else:
                text += f"{key}={self.value(value)}"
        extra = {k: v for k, v in data.items() if k not in order}
        return text + "".join(sorted(self.children(extra)))

    def typed_list(self, member: str, voc: vocab.Vocabulary, value: Any) -> str:
        items = value if isinstance(value, list) else [value]
        parts = []
        for item in items:
            if not isinstance(item, Mapping):
                continue
            text = f"{member}={self.value(item[member])}" if item.get(member) else ""
            if item.get("type"):
                text += f"type={self.cbv(voc, str(item['type']).strip())}"
            parts.append(text)
        return "".join(sorted(parts))

    # generic: extensions, ilmd, certificationInfo

    def generic(self, name: str, value: Any) -> list[str]:
        """One element per list member (as the XML form has), each name=value + children."""
        if isinstance(value, list):
            return [s for item in value for s in self.generic(name, item)]
        if isinstance(value, Mapping):
            return [name + "".join(sorted(self.children(value)))]
        text = self.value(value)
        return [f"{name}={text}" if text else name]

    def children(self, data: Mapping[str, Any]) -> list[str]:
        found: list[str] = []
        for key, value in data.items():
            if value is None or key.startswith("@"):
                continue
            found.extend(self.generic(self.name(key), value))
        return found
