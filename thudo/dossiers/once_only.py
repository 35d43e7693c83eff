"""Once-only forms: fields a procedure's form takes from the state's registries through the data
exchange, instead of asking the citizen (docs/once-only.md).

A spec field with `source` "<service identifier>#<JSON pointer>" is filled, when a signed-in
citizen with a personal ID opens the form, by one exchange call per service (not per field)
from the city portal's system, with the procedure as the purpose and the citizen as end user
and data subject. Its value is shown as verified, with its source, and cannot be edited: the
submission uses what was fetched (kept in the session for `prefill_seconds()`, then fetched
again), never what was posted. The dossier keeps, under the reserved key `SOURCES_KEY` of its
form data, each sourced field's service, message id and log index.

When a call fails (the exchange refuses it, the registry is unreachable, or it has no record),
the fields of that service are typed by the citizen and kept as "not verified".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_date
from django.utils.formats import date_format
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import ValidationFailed
from thudo.procedures.specs import choice_label, form_validate, sourced_fields, spec_label

logger = logging.getLogger(__name__)

SOURCES_KEY = "_sources"
"""The reserved key of `Dossier.data` holding the provenance of the sourced fields:
{field name: {"service", "pointer", "verified", "message_id", "log_index", "error"}}."""
SESSION_KEY = "once_only"
SESSION_MAX_PROCEDURES = 10
DEFAULT_CLIENT_SYSTEM = "VN/GOV/HN-UBND/PORTAL"
DEFAULT_PREFILL_SECONDS = 1800

# How each registry service is asked about a person: (path, query), {pid} is the personal ID.
SERVICE_REQUESTS: dict[str, tuple[str, dict[str, str]]] = {
    "person": ("person/{pid}", {}),
    "household": ("household/{pid}", {}),
    "insurance": ("insurance/{pid}", {}),
    "parcels": ("parcels", {"owner": "{pid}"}),
    "businesses": ("businesses", {"representative": "{pid}"}),
}

# Why a field is not verified (`SourcedValue.error`), for the citizen and the official.
ERROR_TEXT = {
    "no_personal_id": _("Your account has no personal ID number."),
    "unsupported": _("This registry service cannot be asked about a person."),
    "not_found": _("The registry has no record for you."),
    "missing": _("The registry's record has no value for this field."),
    "invalid": _("The registry's value does not fit this form."),
    "unavailable": _("The registry could not be reached."),
}


def client_system() -> str:
    return str(getattr(settings, "ONCE_ONLY_CLIENT_SYSTEM", DEFAULT_CLIENT_SYSTEM))


def prefill_seconds() -> int:
    return int(getattr(settings, "ONCE_ONLY_PREFILL_SECONDS", DEFAULT_PREFILL_SECONDS))


@dataclass
class SourcedValue:
    """One sourced field: its value when verified, and where it came from."""

    name: str
    service: str
    pointer: str
    verified: bool = False
    value: Any = None
    message_id: str = ""
    log_index: int | None = None
    error: str = ""  # why it is not verified (a key of ERROR_TEXT or an exchange error code)

    def provenance(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "service": self.service,
            "pointer": self.pointer,
            "verified": self.verified,
            "message_id": self.message_id,
            "log_index": self.log_index,
        }
        if self.verified:
            record["value"] = self.value
        else:
            record["error"] = self.error
        return record


@dataclass
class Prefill:
    """What one opening of a form fetched, kept in the session between page and submit."""

    code: str
    sources: dict[str, list[str]]  # the spec's sourced fields, to notice a changed spec
    fetched_at: float
    fields: dict[str, SourcedValue] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # service -> error

    @property
    def verified(self) -> dict[str, Any]:
        """{field name: value} of the verified fields."""
        return {n: v.value for n, v in self.fields.items() if v.verified}

    @property
    def complete(self) -> bool:
        return not self.failures and all(v.verified for v in self.fields.values())

    def sources_record(self) -> dict[str, dict[str, Any]]:
        """The provenance handed to `dossier_submit(sources=...)`."""
        return {n: v.provenance() for n, v in self.fields.items()}

    def as_session(self) -> dict[str, Any]:
        return {
            "sources": self.sources,
            "at": self.fetched_at,
            "fields": {n: v.__dict__ for n, v in self.fields.items()},
            "failures": self.failures,
        }

    @classmethod
    def from_session(cls, code: str, data: Mapping[str, Any]) -> Prefill:
        return cls(
            code=code,
            sources={k: list(v) for k, v in (data.get("sources") or {}).items()},
            fetched_at=float(data.get("at") or 0),
            fields={n: SourcedValue(**v) for n, v in (data.get("fields") or {}).items()},
            failures=dict(data.get("failures") or {}),
        )


def _sources_of(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    return {name: [service, pointer] for name, (service, pointer) in sourced_fields(spec).items()}


# --- JSON pointers (RFC 6901) ---------------------------------------------------------------


_MISSING = object()


def pointer_get(document: Any, pointer: str) -> Any:
    """The value at `pointer` in a JSON document, or `_MISSING`."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        return _MISSING
    node = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            if token not in node:
                return _MISSING
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
                return _MISSING
            index = int(token)
            if index >= len(node):
                return _MISSING
            node = node[index]
        else:
            return _MISSING
    return node


# --- fetching -------------------------------------------------------------------------------


def purpose_text(spec: Mapping[str, Any], *, service: str) -> str:
    """The purpose sent with the call: the procedure (code and name) and the legal basis of the
    portal's grant for the service. Kept in Vietnamese: it is the legal record of the call."""
    from thudo.exchange.tracker import legal_basis

    text = f"Thủ tục {spec.get('code', '')}: {spec.get('name', '')}"
    basis = legal_basis(client=client_system(), service=service)
    if basis:
        text = f"{text}. Căn cứ: {basis}"
    return text[:500]


def _clean(spec_field: Mapping[str, Any], value: Any) -> tuple[Any, str]:
    """(cleaned value, "") or (None, error) for a registry value of this field."""
    if value is _MISSING or value is None or (isinstance(value, str) and not value.strip()):
        return None, "missing"
    if isinstance(value, dict | list):
        return None, "invalid"
    check = {**spec_field, "required": spec_field.get("type") != "boolean"}
    try:
        cleaned = form_validate({"fields": [check]}, {spec_field["name"]: value})
    except ValidationFailed:
        return None, "invalid"
    return cleaned[spec_field["name"]], ""


def prefill_fetch(*, spec: Mapping[str, Any], user: Any) -> Prefill:
    """Call each source service of the spec once for the user and fill the sourced fields."""
    from thudo.exchange import client as exchange

    sources = _sources_of(spec)
    prefill = Prefill(code=str(spec.get("code", "")), sources=sources, fetched_at=time.time())
    by_name = {f["name"]: f for f in spec.get("fields", [])}
    services: dict[str, list[str]] = {}
    for name, (service, _pointer) in sources.items():
        services.setdefault(service, []).append(name)
    pid = str(getattr(user, "personal_id", "") or "")
    for service, names in services.items():
        fields = {n: SourcedValue(n, service, sources[n][1]) for n in names}
        prefill.fields.update(fields)
        request = SERVICE_REQUESTS.get(service.rsplit("/", 1)[-1])
        if not pid or request is None:
            error = "no_personal_id" if not pid else "unsupported"
            prefill.failures[service] = error
            for v in fields.values():
                v.error = error
            continue
        path, query = request
        try:
            result = exchange.call(
                system=client_system(),
                service=service,
                path=path.format(pid=pid),
                query={k: q.format(pid=pid) for k, q in query.items()} or None,
                purpose=purpose_text(spec, service=service),
                end_user=pid,
                subject=pid,
            )
        except exchange.ExchangeError as exc:
            code = str(getattr(exc, "code", "") or "unavailable")
            prefill.failures[service] = code
            for v in fields.values():
                v.error = code
                v.message_id = str(getattr(exc, "message_id", "") or "")
            continue
        except Exception:
            logger.exception("once-only: the call to %s failed", service)
            prefill.failures[service] = "unavailable"
            for v in fields.values():
                v.error = "unavailable"
            continue
        for v in fields.values():
            v.message_id = result.message_id
            v.log_index = result.log_index
        if not 200 <= int(result.status) < 300:
            error = "not_found" if int(result.status) == 404 else f"status_{result.status}"
            prefill.failures[service] = error
            for v in fields.values():
                v.error = error
            continue
        for v in fields.values():
            value, error = _clean(by_name[v.name], pointer_get(result.data, v.pointer))
            v.verified, v.value, v.error = not error, value, error
    return prefill


# --- the session ----------------------------------------------------------------------------


def prefill_load(session: MutableMapping[str, Any], *, spec: Mapping[str, Any]) -> Prefill | None:
    """The prefill kept for this procedure if it is fresh and made for the same sources."""
    code = str(spec.get("code", ""))
    data = (session.get(SESSION_KEY) or {}).get(code)
    if not data:
        return None
    try:
        prefill = Prefill.from_session(code, data)
    except (TypeError, ValueError):
        return None
    if prefill.sources != _sources_of(spec):
        return None
    if time.time() - prefill.fetched_at > prefill_seconds():
        return None
    return prefill


def prefill_store(session: MutableMapping[str, Any], prefill: Prefill) -> None:
    kept = dict(session.get(SESSION_KEY) or {})
    kept.pop(prefill.code, None)
    while len(kept) >= SESSION_MAX_PROCEDURES:
        oldest = min(kept, key=lambda c: float(kept[c].get("at") or 0))
        kept.pop(oldest)
    kept[prefill.code] = prefill.as_session()
    session[SESSION_KEY] = kept


def prefill_forget(session: MutableMapping[str, Any], code: str) -> None:
    kept = dict(session.get(SESSION_KEY) or {})
    if kept.pop(code, None) is not None:
        session[SESSION_KEY] = kept


def prefill_get(
    session: MutableMapping[str, Any], *, spec: Mapping[str, Any], user: Any, retry: bool
) -> Prefill | None:
    """The prefill for the form: None when the spec has no sourced field; the session's when
    fresh (and, with `retry`, complete); otherwise fetched now and kept in the session."""
    if not sourced_fields(spec):
        return None
    prefill = prefill_load(session, spec=spec)
    if prefill is None or (retry and not prefill.complete):
        prefill = prefill_fetch(spec=spec, user=user)
        prefill_store(session, prefill)
    return prefill


# --- the form and the dossier ----------------------------------------------------------------


def editable_spec(spec: Mapping[str, Any], prefill: Prefill | None) -> dict[str, Any]:
    """The spec without the verified fields: what the citizen's page form edits."""
    if prefill is None:
        return dict(spec)
    verified = prefill.verified
    return {**spec, "fields": [f for f in spec.get("fields", []) if f["name"] not in verified]}


def value_display(spec_field: Mapping[str, Any], value: Any) -> str:
    if value is None or value == "":
        return ""
    if spec_field.get("type") == "boolean":
        return str(_("Yes") if value else _("No"))
    if spec_field.get("type") == "choice":
        for choice in spec_field.get("choices") or []:
            if str(choice[0]) == str(value):
                return choice_label(choice)
    if spec_field.get("type") == "date":
        parsed = parse_date(str(value))
        if parsed:
            return date_format(parsed, "SHORT_DATE_FORMAT")
    return str(value)


def source_label(service: str) -> str:
    """ "<service> — <system>, <member>" in the active language."""
    from thudo.exchange.tracker import service_describe

    info = service_describe(service)
    return str(
        format_lazy(
            _("{service} — {system}, {member}"),
            service=info.name,
            system=info.provider.system,
            member=info.provider.member,
        )
    )


def error_text(error: str) -> str:
    if error in ERROR_TEXT:
        return str(ERROR_TEXT[error])
    return str(format_lazy(_("The exchange refused or failed the call ({code})."), code=error))


@dataclass
class VerifiedRow:
    name: str
    label: str
    value: str
    source: str
    note_id: str


def verified_rows(spec: Mapping[str, Any], prefill: Prefill | None) -> list[VerifiedRow]:
    """The verified fields, in form order, for the page's definition list."""
    if prefill is None:
        return []
    labels: dict[str, str] = {}
    rows = []
    for f in spec.get("fields", []):
        v = prefill.fields.get(f["name"])
        if v is None or not v.verified:
            continue
        if v.service not in labels:
            labels[v.service] = source_label(v.service)
        rows.append(
            VerifiedRow(
                name=f["name"],
                label=spec_label(f, key="label"),
                value=value_display(f, v.value),
                source=labels[v.service],
                note_id=f"source-{f['name']}",
            )
        )
    return rows


def failure_rows(prefill: Prefill | None) -> list[dict[str, str]]:
    """[{service, reason}] of the services that could not fill their fields."""
    if prefill is None:
        return []
    return [
        {"service": source_label(service), "reason": error_text(error)}
        for service, error in prefill.failures.items()
    ]


def unverified_names(prefill: Prefill | None) -> list[str]:
    if prefill is None:
        return []
    return [n for n, v in prefill.fields.items() if not v.verified]


def sources_clean(
    spec: Mapping[str, Any], sources: Mapping[str, Mapping[str, Any]] | None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """({field: verified value}, {field: provenance to store}) from what the view fetched, for
    the spec's sourced fields only (the stored provenance holds no value: the form has it)."""
    forced: dict[str, Any] = {}
    stored: dict[str, dict[str, Any]] = {}
    sourced = sourced_fields(spec)
    for name, record in (sources or {}).items():
        if name not in sourced or not isinstance(record, Mapping):
            continue
        verified = bool(record.get("verified")) and "value" in record
        if verified:
            forced[name] = record["value"]
        log_index = record.get("log_index")
        stored[name] = {
            "service": str(record.get("service") or sourced[name][0]),
            "pointer": str(record.get("pointer") or sourced[name][1]),
            "verified": verified,
            "message_id": str(record.get("message_id") or ""),
            "log_index": int(log_index) if isinstance(log_index, int) else None,
        }
        if not verified:
            stored[name]["error"] = str(record.get("error") or "")
    for name, (service, pointer) in sourced.items():
        if name not in stored:  # typed by the applicant, never asked of the registry
            stored[name] = {
                "service": service,
                "pointer": pointer,
                "verified": False,
                "message_id": "",
                "log_index": None,
                "error": "",
            }
    return forced, stored


def dossier_sources(dossier: Any) -> dict[str, dict[str, Any]]:
    """The stored provenance of a dossier's sourced fields ({} when none)."""
    found = (dossier.data or {}).get(SOURCES_KEY)
    return dict(found) if isinstance(found, dict) else {}


@dataclass
class AnswerSource:
    verified: bool
    label: str
    proof_url: str
    message_id: str
    reason: str


def answer_sources(dossier: Any) -> dict[str, AnswerSource]:
    """{field name: how the official should read it} for the dossier's sourced fields."""
    from thudo.exchange.tracker import proof_url

    labels: dict[str, str] = {}
    found: dict[str, AnswerSource] = {}
    spec = dossier.version.spec or {}
    sourced = sourced_fields(spec)
    stored = dossier_sources(dossier)
    for name, (service, _pointer) in sourced.items():
        record = stored.get(name) or {}
        service = str(record.get("service") or service)
        if service not in labels:
            labels[service] = source_label(service)
        verified = bool(record.get("verified"))
        log_index = record.get("log_index")
        found[name] = AnswerSource(
            verified=verified,
            label=labels[service],
            proof_url=proof_url(log_index if isinstance(log_index, int) else None),
            message_id=str(record.get("message_id") or ""),
            reason=""
            if verified
            else error_text(str(record.get("error") or ""))
            if record.get("error")
            else "",
        )
    return found
