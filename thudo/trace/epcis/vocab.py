"""GS1 Core Business Vocabulary (CBV 2.0): the standard business steps, dispositions, business
transaction types, source/destination types and error reasons, and their normalisation.

Every CBV value is accepted in three spellings and stored as its short name, the form EPCIS 2.0
JSON-LD prefers ("shipping"):

- the short name itself: ``shipping``;
- the GS1 Web URI: ``https://ref.gs1.org/cbv/BizStep-shipping`` (``http://`` and the older
  ``https://gs1.org/voc/`` / ``https://ns.gs1.org/voc/`` hosts too);
- the EPCIS 1.x URN: ``urn:epcglobal:cbv:bizstep:shipping``.

Any other absolute URI (``https://example.org/steps/sorting``, ``urn:acme:step:sorting``) is a
user vocabulary and kept as it is. A bare word that is not a CBV short name is an error: it is
either a typo or a private value that must be written as a URI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BIZ_STEPS: frozenset[str] = frozenset(
    {
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    }
)

DISPOSITIONS: frozenset[str] = frozenset(
    {
        "active",
        "available",
        "completeness_inferred",
        "completeness_verified",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_class",
        "mismatch_instance",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    }
)

BIZ_TRANSACTION_TYPES: frozenset[str] = frozenset(
    {
        "bol",
        "cert",
        "desadv",
        "inv",
        "pedigree",
        "po",
        "poc",
        "prodorder",
        "recadv",
        "rma",
        "testprd",
        "testres",
        "upevt",
    }
)

SOURCE_DEST_TYPES: frozenset[str] = frozenset({"owning_party", "possessing_party", "location"})

ERROR_REASONS: frozenset[str] = frozenset({"did_not_occur", "incorrect_data"})


@dataclass(frozen=True)
class Vocabulary:
    """One CBV vocabulary: its short names, the Web URI prefix (…/cbv/<web>-) and the URN."""

    name: str
    terms: frozenset[str]
    web: str  # "BizStep" → https://ref.gs1.org/cbv/BizStep-<term>
    urn: str  # "bizstep" → urn:epcglobal:cbv:bizstep:<term>

    def uri(self, term: str) -> str:
        """The canonical GS1 Web URI of a short name (used by the event hash)."""
        return f"https://ref.gs1.org/cbv/{self.web}-{term}"


BIZ_STEP = Vocabulary("bizStep", BIZ_STEPS, "BizStep", "bizstep")
DISPOSITION = Vocabulary("disposition", DISPOSITIONS, "Disp", "disp")
BIZ_TRANSACTION_TYPE = Vocabulary("bizTransactionType", BIZ_TRANSACTION_TYPES, "BTT", "btt")
SOURCE_DEST_TYPE = Vocabulary("sourceDestType", SOURCE_DEST_TYPES, "SDT", "sdt")
ERROR_REASON = Vocabulary("errorReason", ERROR_REASONS, "ER", "er")

VOCABULARIES = (BIZ_STEP, DISPOSITION, BIZ_TRANSACTION_TYPE, SOURCE_DEST_TYPE, ERROR_REASON)

_WEB_HOSTS = (
    "https://ref.gs1.org/cbv/",
    "http://ref.gs1.org/cbv/",
    "https://gs1.org/voc/",
    "http://gs1.org/voc/",
    "https://ns.gs1.org/voc/",
    "http://ns.gs1.org/voc/",
    "https://ns.gs1.org/cbv/",
    "http://ns.gs1.org/cbv/",
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


class UnknownTerm(ValueError):
    """A value that is neither a CBV term (in any spelling) nor an absolute URI."""

    def __init__(self, vocabulary: Vocabulary, value: str, *, cbv_form: bool) -> None:
        self.vocabulary = vocabulary
        self.value = value
        self.cbv_form = cbv_form  # True: written as a CBV URI/URN but the term does not exist
        super().__init__(f"{vocabulary.name}: {value!r}")


def is_absolute_uri(value: str) -> bool:
    return bool(_SCHEME.match(value or ""))


def normalize(vocabulary: Vocabulary, value: str) -> str:
    """The short name of a CBV term in any of its spellings; another absolute URI unchanged;
    UnknownTerm for anything else (an unknown short name, an unknown term under a CBV URI)."""
    value = (value or "").strip()
    if value in vocabulary.terms:
        return value
    term = _cbv_term(vocabulary, value)
    if term is not None:
        if term in vocabulary.terms:
            return term
        raise UnknownTerm(vocabulary, value, cbv_form=True)
    if is_absolute_uri(value):
        return value
    raise UnknownTerm(vocabulary, value, cbv_form=False)


def _cbv_term(vocabulary: Vocabulary, value: str) -> str | None:
    """The term inside a CBV Web URI or URN of this vocabulary, else None."""
    lowered = value.lower()
    urn = f"urn:epcglobal:cbv:{vocabulary.urn}:"
    if lowered.startswith(urn):
        return value[len(urn) :]
    for host in _WEB_HOSTS:
        if lowered.startswith(host.lower()):
            rest = value[len(host) :]
            prefix, sep, term = rest.partition("-")
            if sep and prefix.lower() == vocabulary.web.lower():
                return term
    return None


def canonical_uri(vocabulary: Vocabulary, value: str) -> str:
    """The GS1 Web URI of a CBV term in any spelling (for hashing); other values unchanged."""
    try:
        normal = normalize(vocabulary, value)
    except UnknownTerm:
        return value
    return vocabulary.uri(normal) if normal in vocabulary.terms else normal
