"""The procedure spec: the rules of one procedure version as plain JSON data.

`procedure_spec` builds it from the catalog rows; a `ProcedureVersion` stores it; the dossiers
domain reads only the spec, so a dossier keeps the rules it was submitted under. `form_validate`
checks a form against a spec field by field, `json_schema` exports the same form as JSON Schema.

Once-only (docs/once-only.md): a field may carry `source`, "<service identifier>#<JSON pointer>"
(the registry service that fills it and where its value is in the answer); the spec carries
`eid_level_required` when the procedure demands an e-ID sign-in. Both keys appear only when set,
so the spec of a procedure that uses neither is unchanged (no new version).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from thudo.accounts.personal_id import parse_personal_id
from thudo.core.errors import ValidationFailed

if TYPE_CHECKING:
    from .models import Procedure

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

FIELD_TYPES = (
    "text",
    "textarea",
    "integer",
    "date",
    "choice",
    "boolean",
    "personal_id",
    "phone",
    "email",
)

# Default upper bounds when a field names none, so no form accepts unbounded text.
DEFAULT_MAX_LENGTH = {"text": 500, "textarea": 5000, "email": 254}

# Vietnamese numbers: mobiles 0[35789]x xxx xxxx (10 digits), landlines 02xx xxxx xxxx (11).
PHONE_RE = re.compile(r"^0(?:[35789]\d{8}|2\d{9})$")
PHONE_SCHEMA_PATTERN = r"^(?:\+84|84|0)(?:[35789][0-9]{8}|2[0-9]{9})$"
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")

MSG_REQUIRED = _("This field is required.")
MSG_TOO_LONG = _("Use at most {limit} characters.")
MSG_PATTERN = _("The value does not have the expected format.")
MSG_INTEGER = _("Enter a whole number.")
MSG_TOO_SMALL = _("Enter a number of at least {limit}.")
MSG_TOO_LARGE = _("Enter a number of at most {limit}.")
MSG_DATE = _("Enter a date as YYYY-MM-DD.")
MSG_CHOICE = _("Choose one of the listed options.")
MSG_BOOLEAN = _("Answer yes or no.")
MSG_MUST_ACCEPT = _("Tick this box to continue.")
MSG_PHONE = _("Enter a Vietnamese phone number, e.g. 0912 345 678 or 024 3825 1234.")
MSG_EMAIL = _("Enter a valid e-mail address.")
MSG_TEXT = _("Enter text.")


# --- building the spec -------------------------------------------------------------------------


def procedure_spec(procedure: Procedure) -> dict[str, Any]:
    """The procedure's current rules as a JSON-safe dict (the contract with dossiers)."""
    sector = procedure.sector
    spec: dict[str, Any] = {
        "code": procedure.code,
        "name": procedure.name,
        "name_en": procedure.name_en,
        "sector": {"code": sector.code, "name": sector.name, "name_en": sector.name_en},
        "agency_kind": procedure.agency_kind,
        "department_code": procedure.department_code,
        "online_level": procedure.online_level,
        "deadline_days": str(Decimal(procedure.deadline_days).quantize(Decimal("0.1"))),
        "fee": int(procedure.fee),
        "fee_waived_online": bool(procedure.fee_waived_online),
        "cutoff": procedure.cutoff.strftime("%H:%M") if procedure.cutoff else None,
        "papers": [
            {
                "code": p.code,
                "name": p.name,
                "name_en": p.name_en,
                "required": p.required,
                "file_types": _file_types(p.file_types),
                "max_mb": int(p.max_mb),
            }
            for p in procedure.papers.all()
        ],
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "label_en": f.label_en,
                "help_text": f.help_text,
                "help_text_en": f.help_text_en,
                "type": f.type,
                "required": f.required,
                "choices": [list(c) for c in (f.choices or [])],
                "pattern": f.pattern,
                "max_length": f.max_length,
                "min_value": f.min_value,
                "max_value": f.max_value,
                **({"source": f.source.strip()} if (f.source or "").strip() else {}),
            }
            for f in procedure.fields.all()
        ],
        "steps": [
            {"name": s.name, "name_en": s.name_en, "role": s.role, "share": int(s.share)}
            for s in procedure.steps.all()
        ],
        "result": {
            "title": procedure.result_title,
            "title_en": procedure.result_title_en,
            "body": procedure.result_body,
            "fields": list(procedure.result_fields or []),
        },
    }
    level = int(getattr(procedure, "eid_level_required", 0) or 0)
    if level:
        spec["eid_level_required"] = level
    return spec


# --- once-only sources --------------------------------------------------------------------------

# A service identifier has exactly five segments: instance/class/member/system/service.
SERVICE_ID_RE = re.compile(
    r"^[A-Za-z0-9-]+/[A-Z]{2,4}/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"
)


def source_parse(source: str) -> tuple[str, str] | None:
    """("<service identifier>", "<JSON pointer>") of a field's `source`, or None when it is
    not one (a pointer is "" for the whole answer or starts with "/", RFC 6901)."""
    service, sep, pointer = (source or "").strip().partition("#")
    if not sep or not SERVICE_ID_RE.fullmatch(service):
        return None
    if pointer and not pointer.startswith("/"):
        return None
    return service, pointer


def sourced_fields(spec: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """{field name: (service identifier, pointer)} of the spec's fields filled from registries."""
    found: dict[str, tuple[str, str]] = {}
    for field in spec.get("fields", []):
        parsed = source_parse(str(field.get("source") or ""))
        if parsed is not None:
            found[field["name"]] = parsed
    return found


def _file_types(value: str) -> list[str]:
    types = []
    for part in (value or "").split(","):
        t = part.strip().lower().lstrip(".")
        if t == "jpeg":
            t = "jpg"
        if t and t not in types:
            types.append(t)
    return types


# --- labels in the active language ------------------------------------------------------------


def _is_english(lang: str | None) -> bool:
    return (lang or get_language() or "vi").lower().startswith("en")


def spec_label(item: Mapping[str, Any], lang: str | None = None, *, key: str | None = None) -> str:
    """The item's name/label/title (or `key`) in the active language, Vietnamese as fallback."""
    if key is None:
        key = next((k for k in ("name", "label", "title") if k in item), "name")
    vi = str(item.get(key) or "")
    if _is_english(lang):
        return str(item.get(f"{key}_en") or "") or vi
    return vi


def choice_label(choice: list[Any], lang: str | None = None) -> str:
    """A choice is [value, Vietnamese label, English label]; missing labels fall back."""
    value = str(choice[0])
    vi = str(choice[1]) if len(choice) > 1 and choice[1] else value
    if _is_english(lang) and len(choice) > 2 and choice[2]:
        return str(choice[2])
    return vi


# --- validating a form ------------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, message: str | Promise) -> None:
        self.message = message
        super().__init__(str(message))


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def form_validate(spec: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Check `data` against the spec's form; return the cleaned JSON-safe values of every field
    the spec names (absent optional fields are "" / None / False), or raise ValidationFailed with
    one message for each wrong field."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str | Promise] = {}
    for field in spec.get("fields", []):
        name = field["name"]
        value = data.get(name)
        if isinstance(value, list | tuple) and field["type"] != "choice":
            value = value[-1] if value else None  # a QueryDict-like list: the last value wins
        try:
            cleaned[name] = _clean_value(field, value)
        except _Invalid as exc:
            errors[name] = exc.message
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _clean_value(field: Mapping[str, Any], value: Any) -> Any:
    kind = field["type"]
    required = bool(field.get("required"))
    if kind == "boolean":
        result = _clean_boolean(value)
        if required and not result:
            raise _Invalid(MSG_MUST_ACCEPT)
        return result
    if _is_empty(value):
        if required:
            raise _Invalid(MSG_REQUIRED)
        return None if kind in ("integer", "date") else ""
    if kind in ("text", "textarea"):
        return _clean_text(field, value)
    if kind == "integer":
        return _clean_integer(field, value)
    if kind == "date":
        return _clean_date(value)
    if kind == "choice":
        return _clean_choice(field, value)
    if kind == "personal_id":
        text = _as_text(value).replace(" ", "")
        try:
            return parse_personal_id(text, field="value").number
        except ValidationFailed as exc:
            raise _Invalid(_first_message(exc)) from None
    if kind == "phone":
        return _clean_phone(value)
    if kind == "email":
        return _clean_email(field, value)
    raise _Invalid(MSG_PATTERN)  # an unknown type never validates


def _first_message(exc: ValidationFailed) -> str | Promise:
    for message in exc.fields.values():
        return message[0] if isinstance(message, list) else message
    return exc.message


def _as_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid(MSG_TEXT)
    return str(value).strip()


def _clean_text(field: Mapping[str, Any], value: Any) -> str:
    text = _as_text(value)
    if field["type"] == "text":
        text = " ".join(text.split())  # one line, single spaces
    limit = field.get("max_length") or DEFAULT_MAX_LENGTH[field["type"]]
    if len(text) > limit:
        raise _Invalid(format_lazy(MSG_TOO_LONG, limit=limit))
    pattern = field.get("pattern")
    if pattern and not re.fullmatch(pattern, text):
        raise _Invalid(MSG_PATTERN)
    return text


def _clean_integer(field: Mapping[str, Any], value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid(MSG_INTEGER)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,15}", value.strip()):
        number = int(value.strip())
    else:
        raise _Invalid(MSG_INTEGER)
    low, high = field.get("min_value"), field.get("max_value")
    if low is not None and number < low:
        raise _Invalid(format_lazy(MSG_TOO_SMALL, limit=low))
    if high is not None and number > high:
        raise _Invalid(format_lazy(MSG_TOO_LARGE, limit=high))
    return number


def _clean_date(value: Any) -> str:
    if isinstance(value, datetime):
        raise _Invalid(MSG_DATE)
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise _Invalid(MSG_DATE)
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise _Invalid(MSG_DATE) from None


def _clean_choice(field: Mapping[str, Any], value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Invalid(MSG_CHOICE)
    text = str(value).strip()
    allowed = {str(c[0]) for c in field.get("choices") or []}
    if text not in allowed:
        raise _Invalid(MSG_CHOICE)
    return text


_TRUE = {"true", "1", "on", "yes", "y"}
_FALSE = {"false", "0", "off", "no", "n", ""}


def _clean_boolean(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _Invalid(MSG_BOOLEAN)


def phone_normalise(value: str) -> str | None:
    """A Vietnamese number in its national form (0xxxxxxxxx), or None when it is not one."""
    text = _PHONE_SEPARATORS.sub("", value or "")
    if text.startswith("+84"):
        text = "0" + text[3:]
    elif text.startswith("84") and len(text) in (11, 12):
        text = "0" + text[2:]
    return text if PHONE_RE.fullmatch(text) else None


def _clean_phone(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(MSG_PHONE)
    number = phone_normalise(value)
    if number is None:
        raise _Invalid(MSG_PHONE)
    return number


def _clean_email(field: Mapping[str, Any], value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(MSG_EMAIL)
    text = value.strip()
    limit = field.get("max_length") or DEFAULT_MAX_LENGTH["email"]
    if len(text) > limit:
        raise _Invalid(format_lazy(MSG_TOO_LONG, limit=limit))
    try:
        validate_email(text)
    except DjangoValidationError:
        raise _Invalid(MSG_EMAIL) from None
    local, _at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


# --- JSON Schema --------------------------------------------------------------------------------


def json_schema(spec: Mapping[str, Any], lang: str | None = None) -> dict[str, Any]:
    """The spec's form as a JSON Schema (draft 2020-12), titles in the active language."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in spec.get("fields", []):
        prop = _field_schema(field, lang)
        title = spec_label(field, lang, key="label")
        if title:
            prop["title"] = title
        help_text = spec_label(field, lang, key="help_text")
        if help_text:
            prop["description"] = help_text
        if source_parse(str(field.get("source") or "")) is not None:
            # Filled from a registry through the exchange: the applicant does not send it.
            prop["readOnly"] = True
            prop["x-thudo-source"] = str(field["source"]).strip()
        properties[field["name"]] = prop
        if field.get("required"):
            required.append(field["name"])
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:thudo:procedure:{spec.get('code', '')}",
        "title": spec_label(spec, lang),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return schema


def _field_schema(field: Mapping[str, Any], lang: str | None) -> dict[str, Any]:
    kind = field["type"]
    required = bool(field.get("required"))
    prop: dict[str, Any]
    if kind in ("text", "textarea"):
        prop = {
            "type": "string",
            "maxLength": field.get("max_length") or DEFAULT_MAX_LENGTH[kind],
        }
        if required:
            prop["minLength"] = 1
        if field.get("pattern"):
            prop["pattern"] = f"^(?:{field['pattern']})$"
    elif kind == "integer":
        prop = {"type": "integer"}
        if field.get("min_value") is not None:
            prop["minimum"] = field["min_value"]
        if field.get("max_value") is not None:
            prop["maximum"] = field["max_value"]
    elif kind == "date":
        prop = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    elif kind == "choice":
        prop = {
            "type": "string",
            "enum": [str(c[0]) for c in field.get("choices") or []],
            "oneOf": [
                {"const": str(c[0]), "title": choice_label(c, lang)}
                for c in field.get("choices") or []
            ],
        }
    elif kind == "boolean":
        prop = {"type": "boolean"}
        if required:
            prop["const"] = True
    elif kind == "personal_id":
        prop = {"type": "string", "pattern": r"^[0-9]{12}$"}
    elif kind == "phone":
        prop = {"type": "string", "pattern": PHONE_SCHEMA_PATTERN}
    elif kind == "email":
        prop = {"type": "string", "format": "email", "maxLength": DEFAULT_MAX_LENGTH["email"]}
    else:
        prop = {}
    return prop


# --- display ------------------------------------------------------------------------------------


def spec_display(spec: Mapping[str, Any], lang: str | None = None) -> dict[str, Any]:
    """The spec with every label picked in the active language, for pages and documents."""
    return {
        "code": spec["code"],
        "name": spec_label(spec, lang),
        "sector": spec_label(spec["sector"], lang),
        "sector_code": spec["sector"]["code"],
        "agency_kind": spec["agency_kind"],
        "department_code": spec.get("department_code", ""),
        "online_level": spec["online_level"],
        "deadline_days": Decimal(spec["deadline_days"]),
        "fee": spec["fee"],
        "fee_waived_online": spec["fee_waived_online"],
        "cutoff": spec.get("cutoff"),
        "papers": [
            {**p, "label": spec_label(p, lang), "file_types_text": ", ".join(p["file_types"])}
            for p in spec.get("papers", [])
        ],
        "fields": [
            {
                **f,
                "display_label": spec_label(f, lang, key="label"),
                "display_help": spec_label(f, lang, key="help_text"),
            }
            for f in spec.get("fields", [])
        ],
        "steps": [{**s, "label": spec_label(s, lang)} for s in spec.get("steps", [])],
        "result_title": spec_label(spec.get("result", {}), lang, key="title"),
        "eid_level_required": int(spec.get("eid_level_required") or 0),
    }
