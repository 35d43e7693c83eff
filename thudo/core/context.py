"""Where a change came from: the request id and address, kept for the audit trail."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None


_EMPTY = RequestContext()
_current: ContextVar[RequestContext | None] = ContextVar("thudo_request", default=None)


def current() -> RequestContext:
    return _current.get() or _EMPTY


def set_current(ctx: RequestContext) -> object:
    return _current.set(ctx)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
