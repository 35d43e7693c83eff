"""The exchange for client systems hosted inside Thudo on this node (the portal).

`call(...)` takes the same node code path as an HTTP client of /exchange/r1/ (minus the client
assertion: the system is hosted here): the headers, the service, the grant and the subject are
checked, the request is signed with the node key, sent to the provider's node (or served in
process when the provider is hosted here), the signed answer is verified and both log entries
are written. Every protocol error raises ExchangeError; the provider's own answers, 4xx
included, come back as an ExchangeResult with their status.

    result = call(system="VN/GOV/HN-UBND/PORTAL", service="VN/GOV/BCA/CSDLQGDC/person",
                  path="person/001090123456", purpose="1.001234 Đăng ký khai sinh; ...",
                  end_user="001090123456", subject="001090123456")
    result.data["full_name"], result.message_id, result.log_index
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from . import keys
from . import protocol as p
from .protocol import ExchangeError

__all__ = ["ExchangeError", "ExchangeResult", "call"]


@dataclass
class ExchangeResult:
    status: int
    data: Any  # the answer's JSON (None when empty or not JSON)
    message_id: str
    log_index: int | None  # this node's client-side log entry
    signature: str  # the provider node's Thudo-Signature over the answer
    provider_log_index: int | None  # the provider node's log entry (None for a stored answer)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def call(
    *,
    system: str,
    service: str,
    path: str = "",
    method: str = "GET",
    query: Mapping[str, str] | None = None,
    body: Any = None,
    purpose: str,
    dossier_code: str = "",
    end_user: str = "",
    subject: str = "",
    message_id: str | None = None,
) -> ExchangeResult:
    """Call `service` (its identifier) as `system` (a client system hosted on this node).

    `path` may carry its own query string ("parcels?owner=0010..."); `query` adds parameters.
    A retry with the same `message_id` and the same request returns the stored answer."""
    from .node import Incoming, handle_client

    mid = message_id or uuid.uuid4().hex
    path, _sep, inline_query = path.lstrip("/").partition("?")
    raw_query = "&".join(
        q for q in (inline_query, urlencode(dict(query or {}), quote_via=quote)) if q
    )
    payload = b"" if body is None else keys.canonical_json(body)
    headers = {
        p.H_MESSAGE_ID.lower(): mid,
        p.H_PURPOSE.lower(): p.encode_header(purpose),
    }
    if dossier_code:
        headers[p.H_DOSSIER.lower()] = p.encode_header(dossier_code)
    if end_user:
        headers[p.H_END_USER.lower()] = p.encode_header(end_user)
    if subject:
        headers[p.H_SUBJECT.lower()] = subject
    target = f"{service.strip('/')}/{path}" if path else service.strip("/")
    outcome = handle_client(
        Incoming(
            method=method.upper(),
            target=target,
            query=raw_query,
            body=payload,
            headers=headers,
            content_type="application/json" if payload else "",
        ),
        system_identifier=system,
    )
    if outcome.error_code:
        raise ExchangeError(
            outcome.error_code,
            message_id=outcome.message_id,
            status=outcome.status,
            text=_messages(outcome.body),
        )
    data: Any = None
    if outcome.body and "json" in outcome.content_type:
        try:
            data = json.loads(outcome.body)
        except ValueError:
            data = None
    return ExchangeResult(
        status=outcome.status,
        data=data,
        message_id=outcome.message_id,
        log_index=outcome.log_index,
        signature=outcome.signature,
        provider_log_index=outcome.provider_log_index,
    )


def _messages(body: bytes) -> dict[str, str]:
    """The node's messages by language (they say which header or claim was wrong)."""
    try:
        error = json.loads(body)["error"]
        return {"vi": str(error["message_vi"]), "en": str(error["message_en"])}
    except (ValueError, KeyError, TypeError):
        return {}
