"""The client node forwarding to another node over HTTP (httpx, mocked transport or real
sockets): retries with the same message id and signature, timeouts, answers that are unsigned or
signed wrongly, relayed provider errors; and a provider whose target is an http(s) back-end."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from joserfc.jwk import OKPKey

from thudo.exchange import keys, node
from thudo.exchange.client import ExchangeError, call
from thudo.exchange.models import Message, Node, Service, System

from .test_protocol import (
    ECHO,
    PERSON,
    PID,
    PORTAL,
    PURPOSE,
    Exchange,
    b64url_sha256,
    exchange,
    node_key,
)

__all__ = ["exchange", "node_key"]  # fixtures

pytestmark = pytest.mark.django_db

NDXP_URL = "http://ndxp.test"


@pytest.fixture
def remote(exchange: Exchange, monkeypatch: Any) -> Iterator[dict[str, Any]]:
    """The population database moved to node "ndxp" (another process, here a mock transport
    that answers as ndxp would: signed with ndxp's key)."""
    key = OKPKey.generate_key("Ed25519")
    ndxp = Node.objects.create(
        code="ndxp", name="NDXP", base_url=NDXP_URL, public_jwk=keys.public_jwk(key)
    )
    System.objects.filter(pk=exchange.provider.pk).update(node=ndxp)
    state: dict[str, Any] = {"key": key, "requests": [], "script": []}

    def answer(request: httpx.Request) -> httpx.Response:
        state["requests"].append(request)
        step: Callable[[httpx.Request], httpx.Response] | None = (
            state["script"].pop(0) if state["script"] else None
        )
        if step is not None:
            return step(request)
        return signed(request, 200, {"ok": True}, key=key)

    transport = httpx.MockTransport(answer)
    monkeypatch.setattr(node, "_http_client", httpx.Client(transport=transport))
    yield state
    monkeypatch.setattr(node, "_http_client", None)


def signed(
    request: httpx.Request,
    status: int,
    data: Any,
    *,
    key: Any,
    node_code: str = "ndxp",
    tamper: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = json.dumps(data).encode()
    token = request.headers["Thudo-Signature"]
    claims = keys.verify(token, keys.node_public_jwk())  # hanoi signed the request
    answer = {
        "typ": "thudo-response",
        "mid": claims["mid"],
        "node": node_code,
        "service": claims["service"],
        "status": status,
        "iat": int(time.time()),
        "body_sha256": b64url_sha256(body),
        "request_sha256": b64url_sha256(token),
    }
    return httpx.Response(
        status,
        content=body + (b" " if tamper else b""),
        headers={
            "Content-Type": "application/json",
            "Thudo-Signature": keys.sign(answer, key=key),
            "Thudo-Log-Index": "7",
            **(headers or {}),
        },
    )


def person() -> Any:
    return call(system=PORTAL, service=PERSON, path=f"person/{PID}", purpose=PURPOSE, subject=PID)


def connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def test_the_request_is_forwarded_signed_to_the_providers_node(
    exchange: Exchange, remote: dict[str, Any]
) -> None:
    result = call(
        system=PORTAL,
        service=PERSON,
        path=f"person/{PID}",
        query={"v": "a b"},
        purpose=PURPOSE,
        subject=PID,
        dossier_code="HS-1",
        end_user=PID,
    )
    assert (result.status, result.data) == (200, {"ok": True})
    assert result.provider_log_index == 7
    [request] = remote["requests"]
    assert str(request.url) == f"{NDXP_URL}/exchange/r1/{PERSON}/person/{PID}?v=a%20b"
    assert "authorization" not in request.headers
    assert request.headers["Thudo-Client"] == PORTAL
    assert request.headers["Thudo-Subject"] == PID
    assert request.headers["Thudo-Dossier"] == "HS-1"
    assert node.p.decode_header(request.headers["Thudo-Purpose"]) == PURPOSE
    claims = keys.verify(request.headers["Thudo-Signature"], keys.node_public_jwk())
    assert claims["node"] == "hanoi" and claims["query"] == "v=a%20b"
    assert request.extensions["timeout"]["read"] == exchange.person.timeout_s
    # Only the client side is on this node: one row, one log entry.
    assert list(Message.objects.exclude(side="jti").values_list("side", flat=True)) == ["client"]
    assert exchange.counter.calls == []


def test_connection_errors_are_retried_with_the_same_message_id_and_signature(
    exchange: Exchange, remote: dict[str, Any]
) -> None:
    remote["script"] = [connect_error, connect_error]
    result = person()
    assert result.status == 200
    requests = remote["requests"]
    assert len(requests) == 3
    assert len({r.headers["Thudo-Message-Id"] for r in requests}) == 1
    assert len({r.headers["Thudo-Signature"] for r in requests}) == 1


def test_a_provider_that_stays_down_is_provider_unreachable(
    exchange: Exchange, remote: dict[str, Any]
) -> None:
    remote["script"] = [connect_error] * 3
    with pytest.raises(ExchangeError) as caught:
        person()
    assert (caught.value.code, caught.value.status) == ("provider_unreachable", 502)
    assert len(remote["requests"]) == 3
    msg = Message.objects.get(side="client")
    assert (msg.status, msg.error_code) == (502, "provider_unreachable")


def test_unsigned_502_503_504_are_retried(exchange: Exchange, remote: dict[str, Any]) -> None:
    def gateway(status: int) -> Callable[[httpx.Request], httpx.Response]:
        return lambda request: httpx.Response(status, text="Bad gateway")

    remote["script"] = [gateway(503), gateway(502)]
    assert person().status == 200
    assert len(remote["requests"]) == 3

    remote["requests"].clear()
    remote["script"] = [gateway(503), gateway(503), gateway(504)]
    with pytest.raises(ExchangeError) as caught:
        call(system=PORTAL, service=ECHO, purpose=PURPOSE)
    assert (caught.value.code, caught.value.status) == ("provider_timeout", 504)
    assert len(remote["requests"]) == 3


def test_retries_follow_the_setting(
    exchange: Exchange, remote: dict[str, Any], settings: Any
) -> None:
    settings.EXCHANGE_RETRIES = 0
    remote["script"] = [connect_error]
    with pytest.raises(ExchangeError):
        person()
    assert len(remote["requests"]) == 1


def test_a_read_timeout_is_provider_timeout_without_a_retry(
    exchange: Exchange, remote: dict[str, Any]
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    remote["script"] = [slow]
    with pytest.raises(ExchangeError) as caught:
        person()
    assert (caught.value.code, caught.value.status) == ("provider_timeout", 504)
    assert len(remote["requests"]) == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda state: lambda r: httpx.Response(200, json={"ok": True}),  # unsigned
        lambda state: lambda r: signed(r, 200, {}, key=OKPKey.generate_key("Ed25519")),
        lambda state: lambda r: signed(r, 200, {}, key=state["key"], tamper=True),
        lambda state: lambda r: signed(r, 200, {}, key=state["key"], node_code="hanoi"),
    ],
)
def test_an_answer_that_is_not_signed_by_the_providers_node_is_bad_signature(
    exchange: Exchange, remote: dict[str, Any], make: Any
) -> None:
    remote["script"] = [make(remote)]
    with pytest.raises(ExchangeError) as caught:
        person()
    assert (caught.value.code, caught.value.status) == ("bad_signature", 401)
    assert len(remote["requests"]) == 1
    assert Message.objects.get(side="client").error_code == "bad_signature"


def test_the_provider_nodes_own_refusal_is_relayed(
    exchange: Exchange, remote: dict[str, Any]
) -> None:
    refusal = {
        "error": {
            "code": "grant_revoked",
            "message": "Quyền truy cập đã bị thu hồi.",
            "message_vi": "Quyền truy cập đã bị thu hồi.",
            "message_en": "The access right was revoked.",
            "message_id": "x",
        }
    }
    remote["script"] = [
        lambda r: signed(
            r, 403, refusal, key=remote["key"], headers={"Thudo-Error": "grant_revoked"}
        )
    ]
    with pytest.raises(ExchangeError) as caught:
        person()
    assert (caught.value.code, caught.value.status) == ("grant_revoked", 403)
    assert str(caught.value.message("en")) == "The access right was revoked."
    msg = Message.objects.get(side="client")
    assert (msg.status, msg.error_code) == (403, "grant_revoked")


def test_an_inactive_provider_node_is_unreachable(
    exchange: Exchange, remote: dict[str, Any]
) -> None:
    Node.objects.filter(code="ndxp").update(is_active=False)
    with pytest.raises(ExchangeError) as caught:
        person()
    assert caught.value.code == "provider_unreachable"
    assert remote["requests"] == []


# --- real sockets -------------------------------------------------------------------------------


def test_a_node_that_accepts_but_never_answers_times_out(exchange: Exchange) -> None:
    """A listening socket that nobody reads: httpx's read timeout is Service.timeout_s."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        ndxp = Node.objects.create(
            code="ndxp",
            name="NDXP",
            base_url=f"http://127.0.0.1:{port}",
            public_jwk=keys.public_jwk(OKPKey.generate_key("Ed25519")),
        )
        System.objects.filter(pk=exchange.provider.pk).update(node=ndxp)
        Service.objects.filter(pk=exchange.person.pk).update(timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(ExchangeError) as caught:
            person()
    assert (caught.value.code, caught.value.status) == ("provider_timeout", 504)
    assert time.monotonic() - started < 5


def test_a_node_nobody_listens_on_is_unreachable(exchange: Exchange) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ndxp = Node.objects.create(
        code="ndxp",
        name="NDXP",
        base_url=f"http://127.0.0.1:{port}",
        public_jwk=keys.public_jwk(OKPKey.generate_key("Ed25519")),
    )
    System.objects.filter(pk=exchange.provider.pk).update(node=ndxp)
    with pytest.raises(ExchangeError) as caught:
        person()
    assert (caught.value.code, caught.value.status) == ("provider_unreachable", 502)


class _Backend(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, "headers": dict(self.headers)})
        if "/slow" in self.path:
            time.sleep(1.0)
        body = json.dumps({"backend": self.path}).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Backend.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_a_provider_with_an_http_back_end(exchange: Exchange, backend: str) -> None:
    Service.objects.filter(pk=exchange.echo.pk).update(target=backend, timeout_s=0.3)
    result = call(
        system=PORTAL,
        service=ECHO,
        path="items/7",
        query={"q": "x"},
        purpose=PURPOSE,
        message_id="backend-0001",
    )
    assert (result.status, result.data) == (200, {"backend": "/api/items/7?q=x"})
    [seen] = _Backend.seen
    assert seen["headers"]["Thudo-Client"] == PORTAL
    assert seen["headers"]["Thudo-Message-Id"] == "backend-0001"
    provider = Message.objects.get(side="provider")
    assert (provider.status, provider.error_code) == (200, "")
    # A retry is answered from the provider side's store: the back-end is not called again.
    again = call(
        system=PORTAL,
        service=ECHO,
        path="items/7",
        query={"q": "x"},
        purpose=PURPOSE,
        message_id="backend-0001",
    )
    assert again.data == result.data and len(_Backend.seen) == 1

    with pytest.raises(ExchangeError) as caught:
        call(system=PORTAL, service=ECHO, path="slow", purpose=PURPOSE)
    assert (caught.value.code, caught.value.status) == ("provider_timeout", 504)
    assert Message.objects.filter(side="provider", error_code="provider_timeout").count() == 1


def test_a_provider_whose_back_end_is_down(exchange: Exchange) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    Service.objects.filter(pk=exchange.echo.pk).update(target=f"http://127.0.0.1:{port}/api")
    with pytest.raises(ExchangeError) as caught:
        call(system=PORTAL, service=ECHO, purpose=PURPOSE, message_id="backend-0002")
    assert (caught.value.code, caught.value.status) == ("provider_unreachable", 502)
    rows = {m.side: m for m in Message.objects.filter(message_id="backend-0002")}
    assert rows["provider"].error_code == rows["client"].error_code == "provider_unreachable"
