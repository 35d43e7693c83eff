"""Validation of EPCIS 2.0 JSON-LD: documents and single events, with precise errors.

Every problem is reported as ``{"event": <index or None>, "field": <path>, "message": <why>}``
(the message translatable, vi/en), all of them at once, so a capturer can fix a document in one
round. `validate_document` / `validate_events` return the events *normalised*: CBV values as
short names, readPoint/bizLocation as ``{"id": …}``, ``recordTime`` removed (we set our own),
white space trimmed, and the event's JSON-LD ``@context`` attached, so a stored event is a
complete JSON-LD object whose hash can be recomputed from it alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed
from thudo.trace.identifiers import Epc, normalize_gtin
from thudo.trace.identifiers import parse_epc as _parse_epc

from . import hashing, vocab

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
THUDO_PREFIX = "thudo"
THUDO_NAMESPACE = "https://thudo.hanoi.gov.vn/epcis/"
MAX_EVENTS = 10_000
MAX_BYTES = 5 * 1024 * 1024
MAX_ERRORS = 200
FUTURE_TOLERANCE = timedelta(minutes=5)

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransformationEvent",
    "TransactionEvent",
    "AssociationEvent",
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")

_COMMON = {
    "@context",
    "type",
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "certificationInfo",
    "errorDeclaration",
}
_WHAT_WHERE_WHY = {
    "bizStep",
    "disposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
}
FIELDS: dict[str, set[str]] = {
    "ObjectEvent": _COMMON
    | _WHAT_WHERE_WHY
    | {"action", "epcList", "quantityList", "persistentDisposition", "ilmd"},
    "AggregationEvent": _COMMON
    | _WHAT_WHERE_WHY
    | {"action", "parentID", "childEPCs", "childQuantityList"},
    "AssociationEvent": _COMMON
    | _WHAT_WHERE_WHY
    | {"action", "parentID", "childEPCs", "childQuantityList"},
    "TransactionEvent": _COMMON
    | _WHAT_WHERE_WHY
    | {"action", "parentID", "epcList", "quantityList"},
    "TransformationEvent": _COMMON
    | _WHAT_WHERE_WHY
    | {
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "persistentDisposition",
        "ilmd",
    },
}
EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")

_OFFSET = re.compile(r"^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$")
_UOM = re.compile(r"^[A-Z0-9]{2,3}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}:\d{2})$")
_DL_GTIN = re.compile(r"/(01|gtin)/(\d+)(/|$)")
_MAX_URI = 300
_MAX_VOCAB = 200
_MAX_ID = 200


@lru_cache(maxsize=100_000)  # the same lots and items recur in a document and across captures
def parse_epc(uri: str) -> Epc | None:
    """identifiers.parse_epc, cached (parsing a Digital Link costs ~0.1 ms)."""
    return _parse_epc(uri)


# --- messages -------------------------------------------------------------------------------

MSG_NOT_OBJECT = _("must be a JSON object.")
MSG_NOT_LIST = _("must be a JSON array.")
MSG_REQUIRED = _("is required.")
MSG_REQUIRED_TZ = _("is required: the time zone offset of the event's place, e.g. +07:00.")
MSG_TYPE = _(
    "is not an EPCIS event type (ObjectEvent, AggregationEvent, TransformationEvent, "
    "TransactionEvent or AssociationEvent)."
)
MSG_UNKNOWN_FIELD = _(
    "is not a field of this event type; extensions need a prefix declared in @context "
    "(e.g. thudo:stage)."
)
MSG_UNKNOWN_PREFIX = _("uses a prefix that @context does not declare.")
MSG_TIME = _("is not a date and time with a time zone (e.g. 2024-05-01T08:30:00+07:00).")
MSG_FUTURE = _("is more than 5 minutes in the future.")
MSG_OFFSET = _("must be a time zone offset from -14:00 to +14:00, e.g. +07:00.")
MSG_ACTION = _("must be ADD, OBSERVE or DELETE.")
MSG_NO_ACTION = _("TransformationEvent has no action.")
MSG_URI = _("must be an absolute URI.")
MSG_TOO_LONG = _("is too long.")
MSG_EPC = _("is not a valid EPC: use a GS1 Digital Link URI or an EPC URN.")
MSG_GTIN_CHECK = _("The GTIN's check digit is wrong.")
MSG_GTIN_DIGITS = _("A GTIN has 8, 12, 13 or 14 digits.")
MSG_CLASS_IN_EPC_LIST = _(
    "names a class (a GTIN or a lot), not one item: put it in a quantity list as epcClass."
)
MSG_ITEM_IN_CLASS = _("names one item (with a serial number): put it in an EPC list.")
MSG_LOT_LONG = _("has a lot or serial number longer than 20 characters.")
MSG_QUANTITY = _("must be a number greater than 0.")
MSG_UOM = _("must be a UN/ECE Recommendation 20 unit code of 2-3 capitals, e.g. KGM.")
MSG_DUPLICATE_EPC = _("repeats an identifier already in this list.")
MSG_WHAT = _("The event names no objects: give an EPC list or a quantity list.")
MSG_CHILDREN = _("The event names no children: give childEPCs or childQuantityList.")
MSG_PARENT = _("is required for this action.")
MSG_TRANSFORMATION = _("A TransformationEvent needs inputs and outputs, or a transformationID.")
MSG_TRANSACTION = _("A TransactionEvent needs at least one business transaction.")
MSG_ILMD = _("is only allowed when action is ADD.")
MSG_UNKNOWN_BIZSTEP = _(
    "is not a CBV 2.0 business step; use a standard one (e.g. shipping) or a full URI of your "
    "own vocabulary."
)
MSG_UNKNOWN_DISPOSITION = _(
    "is not a CBV 2.0 disposition; use a standard one (e.g. in_transit) or a full URI of your "
    "own vocabulary."
)
MSG_UNKNOWN_TERM = _("is not a term of the CBV 2.0 vocabulary; use a standard one or a full URI.")
MSG_SENSOR = _("must be a list of sensor elements, each with a sensorReport list.")
MSG_DECLARATION = _("needs a declarationTime.")
MSG_DOC_TYPE = _("must be EPCISDocument.")
MSG_CONTEXT = _("is required and must include the EPCIS 2.0 context.")
MSG_SCHEMA_VERSION = _("must be 2.0.")
MSG_NO_EVENTS = _("The document contains no events.")
MSG_TOO_MANY = format_lazy(_("A document may contain at most {} events."), MAX_EVENTS)
MSG_EVENT_ID = _("must be a URI (an ni:///sha-256 event hash or another URI).")


# --- errors ---------------------------------------------------------------------------------


def _interpolate(message: str | Promise, params: Mapping[str, Any]) -> str:
    return str(message) % dict(params)


_lazy_interpolate = lazy(_interpolate, str)


def interpolate(message: str | Promise, **params: Any) -> Promise:
    """`message % params`, translated when rendered (not when the error is raised)."""
    return cast(Promise, _lazy_interpolate(message, params))


class EpcisValidationError(ValidationFailed):
    """What is wrong with an EPCIS document: ``errors`` lists every problem as
    ``{"event": index | None, "field": "epcList[0]", "message": why}``."""

    code = "epcis_invalid"
    status = 400
    default_message = _("The EPCIS document is not valid.")

    def __init__(self, errors: list[dict[str, Any]], message: str | Promise | None = None) -> None:
        self.errors = errors
        fields: dict[str, list[str | Promise]] = {}
        for error in errors:
            fields.setdefault(error_path(error), []).append(error["message"])
        super().__init__(message, fields=fields)

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["errors"] = rendered_errors(self.errors)
        return data


def error_path(error: Mapping[str, Any]) -> str:
    index = error.get("event")
    field = error.get("field") or ""
    if index is None:
        return field or "document"
    return f"eventList[{index}]" + (f".{field}" if field else "")


def rendered_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The errors with their messages in the active language."""
    return [
        {"event": e.get("event"), "field": e.get("field", ""), "message": str(e["message"])}
        for e in errors
    ]


class _Collector:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, event: int | None, field: str, message: str | Promise) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"event": event, "field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.errors:
            raise EpcisValidationError(self.errors)


# --- documents ------------------------------------------------------------------------------


def standard_context(extra: Mapping[str, str] | None = None) -> list[Any]:
    """The @context we store and emit: GS1's EPCIS 2.0 context + our prefix + others declared."""
    prefixes = {THUDO_PREFIX: THUDO_NAMESPACE}
    for key, value in (extra or {}).items():
        if key not in hashing.STANDARD_PREFIXES:
            prefixes.setdefault(key, value)
    return [EPCIS_CONTEXT, dict(sorted(prefixes.items()))]


def _has_epcis_context(context: Any) -> bool:
    items = context if isinstance(context, list) else [context]
    return any(isinstance(i, str) and "epcis-context" in i for i in items)


def validate_document(document: Any, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The normalised events of an EPCISDocument, or EpcisValidationError listing every
    problem."""
    errors = _Collector()
    if not isinstance(document, Mapping):
        errors.add(None, "document", MSG_NOT_OBJECT)
        errors.raise_if_any()
        raise AssertionError  # unreachable
    if document.get("type") != "EPCISDocument":
        errors.add(None, "type", MSG_DOC_TYPE)
    context = document.get("@context")
    if context is None or not _has_epcis_context(context):
        errors.add(None, "@context", MSG_CONTEXT)
    version = str(document.get("schemaVersion", ""))
    if not version.startswith("2"):
        errors.add(None, "schemaVersion", MSG_SCHEMA_VERSION)
    created = document.get("creationDate")
    if created is None:
        errors.add(None, "creationDate", MSG_REQUIRED)
    elif _parse_time(created) is None:
        errors.add(None, "creationDate", MSG_TIME)
    body = document.get("epcisBody")
    events: Any = body.get("eventList") if isinstance(body, Mapping) else None
    if not isinstance(body, Mapping):
        errors.add(None, "epcisBody", MSG_NOT_OBJECT)
    elif not isinstance(events, list):
        errors.add(None, "epcisBody.eventList", MSG_NOT_LIST)
    errors.raise_if_any()
    prefixes = hashing.context_prefixes(context)
    return _validate_list(events, prefixes, errors, now=now)


def validate_events(
    events: Any, *, context: Any = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The normalised events of a bare list (each may carry its own @context)."""
    errors = _Collector()
    if not isinstance(events, list):
        errors.add(None, "eventList", MSG_NOT_LIST)
        errors.raise_if_any()
    return _validate_list(events, hashing.context_prefixes(context), errors, now=now)


def _validate_list(
    events: list[Any], prefixes: Mapping[str, str], errors: _Collector, *, now: datetime | None
) -> list[dict[str, Any]]:
    if not events:
        errors.add(None, "epcisBody.eventList", MSG_NO_EVENTS)
    elif len(events) > MAX_EVENTS:
        errors.add(None, "epcisBody.eventList", MSG_TOO_MANY)
    errors.raise_if_any()
    now = now or timezone.now()
    out = [_EventChecker(i, e, prefixes, errors, now).run() for i, e in enumerate(events)]
    errors.raise_if_any()
    return out


# --- one event ------------------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _TIME.match(value.strip()):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def event_time(event: Mapping[str, Any]) -> datetime:
    """The (validated) eventTime of a normalised event as an aware datetime."""
    moment = _parse_time(event["eventTime"])
    assert moment is not None
    return moment


class _EventChecker:
    def __init__(
        self,
        index: int,
        event: Any,
        prefixes: Mapping[str, str],
        errors: _Collector,
        now: datetime,
    ) -> None:
        self.i = index
        self.raw = event
        self.errors = errors
        self.now = now
        own = hashing.context_prefixes(event.get("@context")) if isinstance(event, dict) else {}
        self.prefixes = {**hashing.STANDARD_PREFIXES, **prefixes, **own}
        self.prefixes.setdefault(THUDO_PREFIX, THUDO_NAMESPACE)

    def err(self, field: str, message: str | Promise) -> None:
        self.errors.add(self.i, field, message)

    def run(self) -> dict[str, Any]:
        event = self.raw
        if not isinstance(event, Mapping):
            self.err("", MSG_NOT_OBJECT)
            return {}
        kind = event.get("type")
        if kind not in EVENT_TYPES:
            self.err("type", MSG_TYPE)
            return {}
        out: dict[str, Any] = {"@context": standard_context(self._declared(event))}
        allowed = FIELDS[kind]
        for key, value in event.items():
            if key in ("@context", "recordTime"):
                continue
            if key not in allowed:
                if not self._extension_ok(key):
                    continue
                out[key] = value
                continue
            normalised = self.field(kind, key, value)
            if normalised is not None:
                out[key] = normalised
        self.required(kind, out)
        return out

    def _declared(self, event: Mapping[str, Any]) -> dict[str, str]:
        return {k: v for k, v in self.prefixes.items() if k not in hashing.STANDARD_PREFIXES}

    def _extension_ok(self, key: str) -> bool:
        prefix, sep, local = key.partition(":")
        if not sep or not local:
            self.err(key, MSG_UNKNOWN_FIELD)
            return False
        if local.startswith("//") or prefix in self.prefixes or prefix in ("urn",):
            return True
        self.err(key, MSG_UNKNOWN_PREFIX)
        return False

    # fields

    def field(self, kind: str, key: str, value: Any) -> Any:
        if key == "type":
            return value
        if key == "eventTime":
            moment = _parse_time(value)
            if moment is None:
                self.err(key, MSG_TIME)
            elif moment > self.now + FUTURE_TOLERANCE:
                self.err(key, MSG_FUTURE)
            return value.strip() if isinstance(value, str) else value
        if key == "eventTimeZoneOffset":
            if not isinstance(value, str) or not _OFFSET.match(value.strip()):
                self.err(key, MSG_OFFSET)
                return value
            return value.strip()
        if key == "eventID":
            if not isinstance(value, str) or not vocab.is_absolute_uri(value.strip()):
                self.err(key, MSG_EVENT_ID)
            elif len(value.strip()) > _MAX_ID:
                self.err(key, MSG_TOO_LONG)
            return value.strip() if isinstance(value, str) else value
        if key == "action":
            if value not in ACTIONS:
                self.err(key, MSG_ACTION)
            return value
        if key in EPC_LISTS:
            return self.epc_list(key, value)
        if key in QUANTITY_LISTS:
            return self.quantity_list(key, value)
        if key in ("parentID", "transformationID"):
            return self.uri(key, value, epc=key == "parentID")
        if key == "bizStep":
            return self.term(key, value, vocab.BIZ_STEP, MSG_UNKNOWN_BIZSTEP)
        if key == "disposition":
            return self.term(key, value, vocab.DISPOSITION, MSG_UNKNOWN_DISPOSITION)
        if key == "persistentDisposition":
            return self.persistent(key, value)
        if key in ("readPoint", "bizLocation"):
            return self.location(key, value)
        if key == "bizTransactionList":
            return self.typed_list(key, value, "bizTransaction", vocab.BIZ_TRANSACTION_TYPE, False)
        if key == "sourceList":
            return self.typed_list(key, value, "source", vocab.SOURCE_DEST_TYPE, True)
        if key == "destinationList":
            return self.typed_list(key, value, "destination", vocab.SOURCE_DEST_TYPE, True)
        if key == "sensorElementList":
            return self.sensors(key, value)
        if key == "ilmd":
            if not isinstance(value, Mapping):
                self.err(key, MSG_NOT_OBJECT)
            return value
        if key == "certificationInfo":
            items = value if isinstance(value, list) else [value]
            for n, item in enumerate(items):
                field = f"{key}[{n}]" if isinstance(value, list) else key
                if not isinstance(item, str) or not vocab.is_absolute_uri(item):
                    self.err(field, MSG_URI)
            return value
        if key == "errorDeclaration":
            return self.declaration(key, value)
        return value

    def uri(self, field: str, value: Any, *, epc: bool = False) -> Any:
        if not isinstance(value, str) or not vocab.is_absolute_uri(value.strip()):
            self.err(field, MSG_URI)
            return value
        value = value.strip()
        if len(value) > _MAX_URI:
            self.err(field, MSG_TOO_LONG)
        elif epc:
            self.check_epc(field, value, instance=None)
        return value

    def check_epc(self, field: str, value: str, *, instance: bool | None) -> None:
        """EPC syntax; GTIN check digits; instance (serial) vs class (lot/GTIN) level."""
        dl = _DL_GTIN.search(value) if value.startswith(("http://", "https://")) else None
        if value.startswith("urn:epc:"):
            if hashing.canonical_epc(value) is None:
                self.err(field, MSG_EPC)
                return
        elif dl:
            digits = dl.group(2)
            if len(digits) not in (8, 12, 13, 14):
                self.err(field, MSG_GTIN_DIGITS)
                return
            if normalize_gtin(digits) is None:
                self.err(field, MSG_GTIN_CHECK)
                return
            if parse_epc(value) is None:
                self.err(field, MSG_EPC)
                return
        else:
            return  # another identifier scheme (a private URI): accepted as it is
        parsed = parse_epc(value)
        if parsed is None:
            return  # an SSCC, SGLN, GRAI…: syntax checked above
        if len(parsed.lot) > 20 or len(parsed.serial) > 20:
            self.err(field, MSG_LOT_LONG)
        if instance is True and not parsed.serial:
            self.err(field, MSG_CLASS_IN_EPC_LIST)
        if instance is False and parsed.serial:
            self.err(field, MSG_ITEM_IN_CLASS)

    def epc_list(self, key: str, value: Any) -> Any:
        if not isinstance(value, list):
            self.err(key, MSG_NOT_LIST)
            return value
        seen: set[str] = set()
        out = []
        for n, item in enumerate(value):
            field = f"{key}[{n}]"
            if not isinstance(item, str) or not vocab.is_absolute_uri(item.strip()):
                self.err(field, MSG_URI)
                continue
            item = item.strip()
            if len(item) > _MAX_URI:
                self.err(field, MSG_TOO_LONG)
                continue
            if item in seen:
                self.err(field, MSG_DUPLICATE_EPC)
            seen.add(item)
            self.check_epc(field, item, instance=True)
            out.append(item)
        return out

    def quantity_list(self, key: str, value: Any) -> Any:
        if not isinstance(value, list):
            self.err(key, MSG_NOT_LIST)
            return value
        out = []
        for n, item in enumerate(value):
            field = f"{key}[{n}]"
            if not isinstance(item, Mapping):
                self.err(field, MSG_NOT_OBJECT)
                continue
            element = dict(item)
            cls = item.get("epcClass")
            if cls is None:
                self.err(f"{field}.epcClass", MSG_REQUIRED)
            elif not isinstance(cls, str) or not vocab.is_absolute_uri(cls.strip()):
                self.err(f"{field}.epcClass", MSG_URI)
            elif len(cls.strip()) > _MAX_URI:
                self.err(f"{field}.epcClass", MSG_TOO_LONG)
            else:
                element["epcClass"] = cls.strip()
                self.check_epc(f"{field}.epcClass", cls.strip(), instance=False)
            if "quantity" in item:
                q = item["quantity"]
                if (
                    isinstance(q, bool)
                    or not isinstance(q, int | float)
                    or not math.isfinite(q)
                    or q <= 0
                ):
                    self.err(f"{field}.quantity", MSG_QUANTITY)
            if "uom" in item:
                uom = item["uom"]
                if not isinstance(uom, str) or not _UOM.match(uom):
                    self.err(f"{field}.uom", MSG_UOM)
            for extra in item:
                if extra not in ("epcClass", "quantity", "uom"):
                    self.err(f"{field}.{extra}", MSG_UNKNOWN_FIELD)
            out.append(element)
        return out

    def term(self, key: str, value: Any, voc: vocab.Vocabulary, unknown: str | Promise) -> Any:
        if not isinstance(value, str):
            self.err(key, unknown)
            return value
        try:
            normal = vocab.normalize(voc, value)
        except vocab.UnknownTerm:
            self.err(key, unknown)
            return value
        if len(normal) > _MAX_VOCAB:
            self.err(key, MSG_TOO_LONG)
        return normal

    def persistent(self, key: str, value: Any) -> Any:
        if not isinstance(value, Mapping) or not (value.get("set") or value.get("unset")):
            self.err(key, MSG_NOT_OBJECT)
            return value
        out: dict[str, Any] = {}
        for part in ("set", "unset"):
            if part not in value:
                continue
            items = value[part]
            if not isinstance(items, list):
                self.err(f"{key}.{part}", MSG_NOT_LIST)
                continue
            out[part] = [
                self.term(f"{key}.{part}[{n}]", v, vocab.DISPOSITION, MSG_UNKNOWN_DISPOSITION)
                for n, v in enumerate(items)
            ]
        for extra in value:
            if extra not in ("set", "unset"):
                self.err(f"{key}.{extra}", MSG_UNKNOWN_FIELD)
        return out

    def location(self, key: str, value: Any) -> Any:
        if isinstance(value, str):
            value = {"id": value}
        if not isinstance(value, Mapping):
            self.err(key, MSG_NOT_OBJECT)
            return value
        if value.get("id") is None:
            self.err(f"{key}.id", MSG_REQUIRED)
            return value
        out = dict(value)
        out["id"] = self.uri(f"{key}.id", value["id"])
        return out

    def typed_list(
        self, key: str, value: Any, member: str, voc: vocab.Vocabulary, type_required: bool
    ) -> Any:
        if not isinstance(value, list):
            self.err(key, MSG_NOT_LIST)
            return value
        out = []
        for n, item in enumerate(value):
            field = f"{key}[{n}]"
            if not isinstance(item, Mapping):
                self.err(field, MSG_NOT_OBJECT)
                continue
            element: dict[str, Any] = {}
            if "type" in item:
                element["type"] = self.term(f"{field}.type", item["type"], voc, MSG_UNKNOWN_TERM)
            elif type_required:
                self.err(f"{field}.type", MSG_REQUIRED)
            if item.get(member) is None:
                self.err(f"{field}.{member}", MSG_REQUIRED)
            else:
                element[member] = self.uri(f"{field}.{member}", item[member])
            for extra in item:
                if extra not in ("type", member):
                    self.err(f"{field}.{extra}", MSG_UNKNOWN_FIELD)
            out.append(element)
        return out

    def sensors(self, key: str, value: Any) -> Any:
        """Passed through as given, after a structural check."""
        if not isinstance(value, list):
            self.err(key, MSG_SENSOR)
            return value
        for n, element in enumerate(value):
            if not isinstance(element, Mapping) or not isinstance(
                element.get("sensorReport"), list
            ):
                self.err(f"{key}[{n}]", MSG_SENSOR)
        return value

    def declaration(self, key: str, value: Any) -> Any:
        if not isinstance(value, Mapping):
            self.err(key, MSG_NOT_OBJECT)
            return value
        out = dict(value)
        if value.get("declarationTime") is None:
            self.err(f"{key}.declarationTime", MSG_DECLARATION)
        elif _parse_time(value["declarationTime"]) is None:
            self.err(f"{key}.declarationTime", MSG_TIME)
        if "reason" in value:
            out["reason"] = self.term(
                f"{key}.reason", value["reason"], vocab.ERROR_REASON, MSG_UNKNOWN_TERM
            )
        ids = value.get("correctiveEventIDs", [])
        if not isinstance(ids, list):
            self.err(f"{key}.correctiveEventIDs", MSG_NOT_LIST)
        else:
            for n, item in enumerate(ids):
                if not isinstance(item, str) or not vocab.is_absolute_uri(item):
                    self.err(f"{key}.correctiveEventIDs[{n}]", MSG_URI)
        return out

    # required fields per type and action

    def required(self, kind: str, event: Mapping[str, Any]) -> None:
        if "eventTime" not in event:
            self.err("eventTime", MSG_REQUIRED)
        if "eventTimeZoneOffset" not in event:
            self.err("eventTimeZoneOffset", MSG_REQUIRED_TZ)
        action = event.get("action")
        if kind == "TransformationEvent":
            if "action" in event:
                self.err("action", MSG_NO_ACTION)
            has_in = bool(event.get("inputEPCList") or event.get("inputQuantityList"))
            has_out = bool(event.get("outputEPCList") or event.get("outputQuantityList"))
            if not ((has_in and has_out) or event.get("transformationID")):
                self.err("", MSG_TRANSFORMATION)
            return
        if "action" not in event:
            self.err("action", MSG_REQUIRED)
        if kind == "ObjectEvent":
            if (
                "epcList" not in event
                and not event.get("quantityList")
                and not (event.get("sensorElementList") and event.get("readPoint"))
            ):
                self.err("", MSG_WHAT)
            if "ilmd" in event and action != "ADD":
                self.err("ilmd", MSG_ILMD)
        elif kind in ("AggregationEvent", "AssociationEvent"):
            if (kind == "AssociationEvent" or action in ("ADD", "DELETE")) and not event.get(
                "parentID"
            ):
                self.err("parentID", MSG_PARENT)
            if action != "DELETE" and not (
                event.get("childEPCs") or event.get("childQuantityList")
            ):
                self.err("", MSG_CHILDREN)
        elif kind == "TransactionEvent":
            if not event.get("bizTransactionList"):
                self.err("bizTransactionList", MSG_TRANSACTION)
            if action != "DELETE" and "epcList" not in event and not event.get("quantityList"):
                self.err("", MSG_WHAT)
