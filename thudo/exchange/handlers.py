"""Providers implemented inside Thudo (the base registries): a service whose target is
"handler:<key>" is answered by the function registered here under <key>, on the provider's node,
after the node has checked the caller, the grant and the signature.

A handler gets a ProviderRequest and returns a ProviderResponse; it must not write anything for
a GET, and must be safe to call again with the same message id for anything else (the node
answers a retried message id from its store, so a handler runs once per message)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProviderRequest:
    method: str
    path: str  # the part after the service identifier, without a leading slash ("" for none)
    query: Mapping[str, str]
    body: bytes
    message_id: str
    client: str  # the client system's identifier, e.g. VN/GOV/HN-UBND/PORTAL
    service: str  # the service identifier
    purpose: str
    dossier_code: str = ""
    end_user: str = ""
    subject: str = ""  # the personal ID the call is about ("" when none)


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    data: Any = None  # JSON-able; sent as application/json
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[ProviderRequest], ProviderResponse]

_HANDLERS: dict[str, Handler] = {}


def register(key: str, handler: Handler) -> None:
    _HANDLERS[key] = handler


def get(key: str) -> Handler | None:
    return _HANDLERS.get(key)


def keys() -> list[str]:
    return sorted(_HANDLERS)
