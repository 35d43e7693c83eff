"""Protocol r1 through Django's test client and in process: a signed exchange end to end, every
error code (each logged, stored, and never reaching the provider), client assertions (EdDSA and
ES256, replayed jti), idempotent retries, and signatures checked with joserfc alone.

The fixtures here (`exchange`, `assertion`, `call_http`, `Counter`) are shared with the other
test_protocol*.py, test_grants*.py and test_metrics*.py modules."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from joserfc import jws
from joserfc.jwk import ECKey, KeySet, OKPKey

from thudo.exchange import handlers, keys, node
from thudo.exchange.client import ExchangeError, ExchangeResult, call
from thudo.exchange.handlers import ProviderRequest, ProviderResponse
from thudo.exchange.models import Grant, LogEntry, Member, Message, Node, Service, System

pytestmark = pytest.mark.django_db

AUD = "http://testserver"
PID = "001090123456"
PURPOSE = "1.001193 Đăng ký khai sinh; Nghị định 47/2020/NĐ-CP"
PORTAL = "VN/GOV/HN-UBND/PORTAL"
CLIENT = "VN/GOV/HN-UBND/APP"
ES_CLIENT = "VN/GOV/HN-UBND/KIOSK"
PERSON = "VN/GOV/BCA/CSDLQGDC/person"
ECHO = "VN/GOV/BCA/CSDLQGDC/echo"


def b64url_sha256(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@dataclass
class Counter:
    """The test provider: counts how often each handler ran, with what."""

    calls: list[ProviderRequest] = field(default_factory=list)

    def person(self, request: ProviderRequest) -> ProviderResponse:
        self.calls.append(request)
        if request.path != f"person/{PID}":
            return ProviderResponse(404, {"error": {"code": "person_not_found"}})
        return ProviderResponse(200, {"personal_id": PID, "full_name": "Nguyễn Văn An"})

    def echo(self, request: ProviderRequest) -> ProviderResponse:
        self.calls.append(request)
        body = json.loads(request.body) if request.body else None
        return ProviderResponse(
            201 if request.method == "POST" else 200,
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "body": body,
                "purpose": request.purpose,
                "dossier": request.dossier_code,
                "user": request.end_user,
            },
        )


@dataclass
class Exchange:
    node: Node
    portal: System
    client: System
    client_key: OKPKey
    es_client: System
    es_key: ECKey
    provider: System
    person: Service
    echo: Service
    counter: Counter


@pytest.fixture(autouse=True)
def node_key(tmp_path: Path, settings: Any) -> Iterator[None]:
    settings.EXCHANGE_NODE_KEY_FILE = str(tmp_path / "node-key.json")
    settings.EXCHANGE_NODE_CODE = "hanoi"
    settings.EXCHANGE_RETRIES = 2
    keys.reset_cache()
    yield
    keys.reset_cache()


def make_grant(service: Service, client: System, **extra: Any) -> Grant:
    return Grant.objects.create(
        service=service, client=client, legal_basis="Nghị định 47/2020/NĐ-CP", **extra
    )


@pytest.fixture
def exchange(db: Any) -> Iterator[Exchange]:
    """Node hanoi (the test server) hosting the city's member with three client systems and
    the population database with two services answered by counting test handlers."""
    counter = Counter()
    handlers.register("exchange-test.person", counter.person)
    handlers.register("exchange-test.echo", counter.echo)
    hanoi = Node.objects.create(
        code="hanoi", name="Hà Nội", base_url=AUD, public_jwk=keys.node_public_jwk()
    )
    city = Member.objects.create(code="HN-UBND", name="UBND thành phố Hà Nội")
    bca = Member.objects.create(code="BCA", name="Bộ Công an")
    client_key = OKPKey.generate_key("Ed25519")
    es_key = ECKey.generate_key("P-256")
    portal = System.objects.create(member=city, code="PORTAL", name="Cổng DVC", node=hanoi)
    app = System.objects.create(
        member=city, code="APP", name="iHanoi", node=hanoi, public_jwk=keys.public_jwk(client_key)
    )
    kiosk = System.objects.create(
        member=city, code="KIOSK", name="Kiosk", node=hanoi, public_jwk=keys.public_jwk(es_key)
    )
    provider = System.objects.create(member=bca, code="CSDLQGDC", name="CSDLQG DC", node=hanoi)
    person = Service.objects.create(
        system=provider,
        code="person",
        name="Thông tin công dân",
        target="handler:exchange-test.person",
        personal_data=True,
        openapi={"openapi": "3.1.0", "paths": {"/person/{personal_id}": {"get": {}}}},
    )
    echo = Service.objects.create(
        system=provider, code="echo", name="Echo", target="handler:exchange-test.echo"
    )
    for service in (person, echo):
        for client in (portal, app, kiosk):
            make_grant(service, client)
    yield Exchange(hanoi, portal, app, client_key, kiosk, es_key, provider, person, echo, counter)
    handlers._HANDLERS.pop("exchange-test.person", None)
    handlers._HANDLERS.pop("exchange-test.echo", None)


def assertion(key: Any, iss: str = CLIENT, *, aud: str | None = AUD, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": iss,
        "sub": iss,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    payload.update(claims)
    for name in [k for k, v in payload.items() if v is None]:
        del payload[name]
    return keys.sign(payload, key=key)


def headers_for(
    token: str | None,
    *,
    mid: str | None = None,
    purpose: str | None = PURPOSE,
    subject: str | None = PID,
    **extra: str,
) -> dict[str, str]:
    headers: dict[str, str] = {"Thudo-Message-Id": mid or uuid.uuid4().hex}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if purpose is not None:
        headers["Thudo-Purpose"] = node.p.encode_header(purpose)
    if subject:
        headers["Thudo-Subject"] = subject
    headers.update(extra)
    return headers


def call_http(
    client: Client,
    ex: Exchange,
    target: str = f"{PERSON}/person/{PID}",
    *,
    method: str = "get",
    token: str | None = "",
    body: Any = None,
    content_type: str = "application/json",
    **header_args: Any,
) -> Any:
    if token == "":
        token = assertion(ex.client_key)
    headers = headers_for(token, **header_args)
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["data"] = body if isinstance(body, bytes | str) else json.dumps(body)
        kwargs["content_type"] = content_type
    return getattr(client, method)(f"/exchange/r1/{target}", **kwargs)


def error_of(response: Any) -> dict[str, Any]:
    error = response.json()["error"]
    assert set(error) == {"code", "message", "message_vi", "message_en", "message_id"}
    assert error["message_en"]
    return error


def entries() -> list[dict[str, Any]]:
    return [json.loads(e.entry) for e in LogEntry.objects.order_by("index")]


def verify_with_jwks(client: Client, token: str) -> dict[str, Any]:
    """Only joserfc and the node's published JWKS: what another agency would do."""
    key_set = KeySet.import_key_set(client.get("/exchange/r1/.well-known/jwks.json").json())
    obj = jws.deserialize_compact(token, key_set, algorithms=["EdDSA", "ES256"])
    return json.loads(obj.payload)


# --- a signed exchange, end to end ---------------------------------------------------------------


def test_http_client_gets_the_providers_answer_signed_and_logged_on_both_sides(
    client: Client, exchange: Exchange
) -> None:
    response = call_http(client, exchange, mid="msg-0001-abc", **{"Thudo-Dossier": "HS-001"})

    assert response.status_code == 200
    assert response.json() == {"personal_id": PID, "full_name": "Nguyễn Văn An"}
    assert response["Thudo-Message-Id"] == "msg-0001-abc"
    [seen] = exchange.counter.calls
    assert (seen.client, seen.service, seen.path, seen.subject, seen.purpose) == (
        CLIENT,
        PERSON,
        f"person/{PID}",
        PID,
        PURPOSE,
    )
    assert seen.dossier_code == "HS-001"

    rows = {m.side: m for m in Message.objects.exclude(side="jti")}
    assert set(rows) == {"client", "provider"}
    assert rows["client"].log_index == int(response["Thudo-Log-Index"])
    assert rows["provider"].log_index == int(response["Thudo-Provider-Log-Index"])
    assert rows["client"].status == rows["provider"].status == 200
    assert rows["client"].subject == PID and rows["client"].purpose == PURPOSE
    logged = entries()
    assert [(e["side"], e["status"], e["error"]) for e in logged] == [
        ("provider", 200, ""),
        ("client", 200, ""),
    ]
    client_entry = logged[1]
    assert client_entry["mid"] == "msg-0001-abc"
    assert client_entry["client"] == CLIENT and client_entry["service"] == PERSON
    assert client_entry["dossier"] == "HS-001" and client_entry["subject"] == PID
    assert client_entry["response_sha256"] == b64url_sha256(response.content)
    assert client_entry["response_signature"] == response["Thudo-Signature"]
    assert client_entry["request_signature"] == response["Thudo-Request-Signature"]
    assert client_entry["time"].endswith("Z")
    assert LogEntry.objects.get(index=rows["client"].log_index).kind == "exchange"


def test_answer_and_request_signatures_verify_with_joserfc_and_the_jwks_alone(
    client: Client, exchange: Exchange
) -> None:
    response = call_http(client, exchange, target=f"{ECHO}/things/1?b=2&a=x%20y", subject=None)
    assert response.status_code == 200

    answer = verify_with_jwks(client, response["Thudo-Signature"])
    assert answer["typ"] == "thudo-response"
    assert answer["mid"] == response["Thudo-Message-Id"]
    assert answer["node"] == "hanoi" and answer["service"] == ECHO
    assert answer["status"] == 200
    assert answer["body_sha256"] == b64url_sha256(response.content)
    assert answer["request_sha256"] == b64url_sha256(response["Thudo-Request-Signature"])
    assert abs(answer["iat"] - time.time()) < 60

    request = verify_with_jwks(client, response["Thudo-Request-Signature"])
    assert request == {
        "typ": "thudo-request",
        "mid": response["Thudo-Message-Id"],
        "node": "hanoi",
        "client": CLIENT,
        "service": ECHO,
        "method": "GET",
        "path": "things/1",
        "query": "b=2&a=x%20y",
        "purpose": PURPOSE,
        "dossier": "",
        "user": "",
        "subject": "",
        "iat": request["iat"],
        "body_sha256": b64url_sha256(b""),
    }
    assert response.json()["query"] == {"b": "2", "a": "x y"}
    # A changed byte of the body no longer matches the signed digest.
    assert answer["body_sha256"] != b64url_sha256(response.content + b" ")


def test_es256_client_keys_are_accepted(client: Client, exchange: Exchange) -> None:
    token = assertion(exchange.es_key, ES_CLIENT)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "ES256"
    response = call_http(client, exchange, token=token)
    assert response.status_code == 200
    assert exchange.counter.calls[0].client == ES_CLIENT


def test_post_body_and_end_user_reach_the_provider(client: Client, exchange: Exchange) -> None:
    response = call_http(
        client,
        exchange,
        target=f"{ECHO}/verify",
        method="post",
        body={"personal_id": PID, "full_name": "Nguyễn Văn An"},
        subject=None,
        **{"Thudo-End-User": "official:xuly.hoankiem"},
    )
    assert response.status_code == 201
    data = response.json()
    assert data["body"] == {"personal_id": PID, "full_name": "Nguyễn Văn An"}
    assert data["user"] == "official:xuly.hoankiem"
    assert Message.objects.get(side="client").end_user == "official:xuly.hoankiem"


def test_the_providers_own_4xx_passes_through_signed(client: Client, exchange: Exchange) -> None:
    response = call_http(client, exchange, target=f"{PERSON}/person/001099999999")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "person_not_found"}}
    assert "Thudo-Error" not in response
    answer = verify_with_jwks(client, response["Thudo-Signature"])
    assert answer["status"] == 404
    assert Message.objects.get(side="client").error_code == ""
    assert [e["kind"] for e in LogEntry.objects.values("kind")] == ["exchange", "exchange"]


# --- error codes: each has its status, is logged and stored, and reaches no provider -------------


def assert_refused(
    response: Any, code: str, status: int, ex: Exchange, *, calls_before: int = 0
) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = error_of(response)
    assert error["code"] == code
    assert response["Thudo-Error"] == code
    mid = response["Thudo-Message-Id"]
    assert error["message_id"] == mid
    assert len(ex.counter.calls) == calls_before  # nothing reached the provider
    assert not Message.objects.filter(side="provider", message_id=mid).exists()
    logged = LogEntry.objects.get(index=int(response["Thudo-Log-Index"]))
    assert logged.kind == "error" and logged.message_id == mid
    content = json.loads(logged.entry)
    assert (content["error"], content["status"], content["side"]) == (code, status, "client")
    msg = Message.objects.get(side="client", message_id=mid)
    assert (msg.error_code, msg.status, msg.log_index) == (code, status, logged.index)
    # The error answer is signed by this node too.
    answer = keys.verify(response["Thudo-Signature"], keys.node_public_jwk())
    assert answer["status"] == status and answer["body_sha256"] == b64url_sha256(response.content)
    return error


@pytest.mark.parametrize(
    ("target", "header_args", "detail"),
    [
        (f"{PERSON}/person/{PID}", {"mid": "short"}, "Thudo-Message-Id"),
        (f"{PERSON}/person/{PID}", {"mid": "bad id with spaces"}, "Thudo-Message-Id"),
        (f"{PERSON}/person/{PID}", {"purpose": None}, "Thudo-Purpose"),
        (f"{PERSON}/person/{PID}", {"subject": "12345"}, "Thudo-Subject"),
        ("VN/GOV/BCA/CSDLQGDC", {}, "instance/class/member/system/service"),
        ("VN/GOV/BCA/CSDL QGDC/person", {}, "instance/class/member/system/service"),
    ],
)
def test_malformed_headers_and_identifiers(
    client: Client, exchange: Exchange, target: str, header_args: dict[str, Any], detail: str
) -> None:
    response = call_http(client, exchange, target=target, **header_args)
    error = assert_refused(response, "malformed_request", 400, exchange)
    assert detail in error["message_en"]


def test_a_body_that_is_not_json_is_malformed(client: Client, exchange: Exchange) -> None:
    response = call_http(
        client, exchange, target=f"{ECHO}/x", method="post", body="{not json", subject=None
    )
    error = assert_refused(response, "malformed_request", 400, exchange)
    assert "JSON" in error["message_en"]


def test_a_body_over_the_limit_is_malformed(
    client: Client, exchange: Exchange, settings: Any
) -> None:
    settings.EXCHANGE_MAX_BODY_BYTES = 100
    response = call_http(
        client, exchange, target=f"{ECHO}/x", method="post", body={"a": "x" * 200}, subject=None
    )
    error = assert_refused(response, "malformed_request", 400, exchange)
    assert "100 bytes" in error["message_en"]


def test_personal_data_needs_the_subject(client: Client, exchange: Exchange) -> None:
    response = call_http(client, exchange, subject=None)
    assert_refused(response, "subject_required", 400, exchange)


def test_unknown_client_system(client: Client, exchange: Exchange) -> None:
    token = assertion(exchange.client_key, "VN/GOV/HN-UBND/NOBODY")
    assert_refused(call_http(client, exchange, token=token), "unknown_client", 401, exchange)


def test_inactive_client_system_is_unknown(client: Client, exchange: Exchange) -> None:
    System.objects.filter(pk=exchange.client.pk).update(is_active=False)
    assert_refused(call_http(client, exchange), "unknown_client", 401, exchange)


def test_a_client_hosted_on_another_node_is_unknown_here(
    client: Client, exchange: Exchange
) -> None:
    other = Node.objects.create(code="ndxp", name="NDXP", base_url="http://127.0.0.1:9")
    System.objects.filter(pk=exchange.client.pk).update(node=other)
    assert_refused(call_http(client, exchange), "unknown_client", 401, exchange)


@pytest.mark.parametrize(
    ("make_token", "detail"),
    [
        (lambda ex: assertion(OKPKey.generate_key("Ed25519")), "signature"),
        (lambda ex: assertion(ex.client_key, aud="http://other.example"), "aud"),
        (lambda ex: assertion(ex.client_key, aud=None), "aud"),
        (
            lambda ex: assertion(
                ex.client_key, iat=int(time.time()) - 1000, exp=int(time.time()) - 700
            ),
            "expired",
        ),
        (lambda ex: assertion(ex.client_key, exp=int(time.time()) + 301), "300"),
        (
            lambda ex: assertion(
                ex.client_key, iat=int(time.time()) + 3600, exp=int(time.time()) + 3650
            ),
            "future",
        ),
        (lambda ex: assertion(ex.client_key, sub="VN/GOV/HN-UBND/PORTAL"), "sub"),
        (lambda ex: assertion(ex.client_key, jti=None), "jti"),
        (lambda ex: assertion(ex.es_key), "signature"),  # APP's iss, KIOSK's key
        (lambda ex: "not-a-jwt", "JWS"),
        (lambda ex: None, "Bearer"),
    ],
)
def test_bad_client_assertions(
    client: Client, exchange: Exchange, make_token: Any, detail: str
) -> None:
    response = call_http(client, exchange, token=make_token(exchange))
    error = assert_refused(response, "bad_client_assertion", 401, exchange)
    assert detail in error["message_en"]


def test_a_reused_assertion_is_refused(client: Client, exchange: Exchange) -> None:
    token = assertion(exchange.client_key)
    assert call_http(client, exchange, token=token).status_code == 200
    response = call_http(client, exchange, token=token)
    assert_refused(response, "replayed_assertion", 401, exchange, calls_before=1)


def test_no_grant_an_expired_grant_and_a_revoked_grant_have_their_own_codes(
    client: Client, exchange: Exchange
) -> None:
    Grant.objects.filter(client=exchange.client, service=exchange.person).delete()
    assert_refused(call_http(client, exchange), "access_denied", 403, exchange)

    make_grant(exchange.person, exchange.client, expires_at=timezone.now() - timedelta(days=1))
    assert_refused(call_http(client, exchange), "grant_expired", 403, exchange)

    make_grant(
        exchange.person,
        exchange.client,
        revoked_at=timezone.now(),
        revoke_reason="hết nhu cầu",
    )
    assert_refused(call_http(client, exchange), "grant_revoked", 403, exchange)

    # A newer valid grant opens it again.
    make_grant(exchange.person, exchange.client)
    assert call_http(client, exchange).status_code == 200


def test_unknown_or_inactive_service(client: Client, exchange: Exchange) -> None:
    response = call_http(client, exchange, target="VN/GOV/BCA/CSDLQGDC/nothing/x")
    assert_refused(response, "unknown_service", 404, exchange)
    Service.objects.filter(pk=exchange.person.pk).update(is_active=False)
    assert_refused(call_http(client, exchange), "unknown_service", 404, exchange)


def test_a_missing_handler_is_provider_unreachable(client: Client, exchange: Exchange) -> None:
    Service.objects.filter(pk=exchange.echo.pk).update(target="handler:exchange-test.missing")
    response = call_http(client, exchange, target=f"{ECHO}/x", subject=None)
    assert response.status_code == 502
    assert error_of(response)["code"] == "provider_unreachable"
    # The provider node refused it (signed, logged on both sides) and the client node relays it.
    assert Message.objects.get(side="provider").error_code == "provider_unreachable"
    assert Message.objects.get(side="client").error_code == "provider_unreachable"
    assert [e["kind"] for e in LogEntry.objects.values("kind")] == ["error", "error"]


def test_a_failing_handler_leaves_no_writes_and_answers_502(
    client: Client, exchange: Exchange
) -> None:
    def broken(request: ProviderRequest) -> ProviderResponse:
        Member.objects.create(code="SHOULD-VANISH", name="x")
        raise RuntimeError("boom")

    handlers.register("exchange-test.broken", broken)
    try:
        Service.objects.filter(pk=exchange.echo.pk).update(target="handler:exchange-test.broken")
        response = call_http(
            client, exchange, target=f"{ECHO}/x", method="post", body={}, subject=None
        )
    finally:
        handlers._HANDLERS.pop("exchange-test.broken", None)
    assert response.status_code == 502
    assert not Member.objects.filter(code="SHOULD-VANISH").exists()


# --- idempotency ------------------------------------------------------------------------------


def test_an_identical_retry_gets_the_stored_answer_and_the_handler_runs_once(
    client: Client, exchange: Exchange
) -> None:
    body = {"n": 1}
    first = call_http(
        client,
        exchange,
        target=f"{ECHO}/do",
        method="post",
        body=body,
        mid="retry-0001",
        subject=None,
    )
    again = call_http(
        client,
        exchange,
        target=f"{ECHO}/do",
        method="post",
        body=body,
        mid="retry-0001",
        subject=None,
    )  # a new assertion, the same request
    assert first.status_code == again.status_code == 201
    assert first.content == again.content
    assert first["Thudo-Signature"] == again["Thudo-Signature"]
    assert first["Thudo-Log-Index"] == again["Thudo-Log-Index"]
    assert len(exchange.counter.calls) == 1
    assert LogEntry.objects.count() == 2  # no new exchange was logged


def test_the_same_message_id_for_another_request_is_replayed_message(
    client: Client, exchange: Exchange
) -> None:
    call_http(
        client,
        exchange,
        target=f"{ECHO}/do",
        method="post",
        body={"n": 1},
        mid="retry-0002",
        subject=None,
    )
    response = call_http(
        client,
        exchange,
        target=f"{ECHO}/do",
        method="post",
        body={"n": 2},
        mid="retry-0002",
        subject=None,
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "replayed_message"
    assert len(exchange.counter.calls) == 1
    kinds = list(LogEntry.objects.order_by("index").values_list("kind", flat=True))
    assert kinds == ["exchange", "exchange", "error"]
    # The finished exchange keeps its row.
    assert Message.objects.get(side="client", message_id="retry-0002").status == 201


def test_a_message_id_that_failed_may_be_retried(client: Client, exchange: Exchange) -> None:
    Grant.objects.filter(client=exchange.client, service=exchange.person).delete()
    assert call_http(client, exchange, mid="retry-0003").status_code == 403
    make_grant(exchange.person, exchange.client)
    response = call_http(client, exchange, mid="retry-0003")
    assert response.status_code == 200
    msg = Message.objects.get(side="client", message_id="retry-0003")
    assert (msg.status, msg.error_code) == (200, "")
    assert msg.log_index == int(response["Thudo-Log-Index"])


def test_the_provider_side_answers_a_repeated_signed_request_from_its_store(
    exchange: Exchange,
) -> None:
    """A client node's retry carries the same message id and signature: the handler runs once."""
    signed: list[node.Incoming] = []
    real = node.handle_provider

    def capture(req: node.Incoming, **kwargs: Any) -> node.Outcome:
        signed.append(req)
        return real(req, **kwargs)

    from unittest import mock

    with mock.patch.object(node, "handle_provider", capture):
        first = call(
            system=PORTAL, service=ECHO, path="do", method="POST", body={"x": 1}, purpose=PURPOSE
        )
    again = node.handle_provider(signed[0])
    assert again.status == first.status == 201
    assert again.signature == first.signature
    assert len(exchange.counter.calls) == 1
    # A different request under the same message id and signature fails the signature check.
    tampered = node.Incoming(**{**signed[0].__dict__, "body": b'{"x":2}'})
    refused = node.handle_provider(tampered)
    assert (refused.status, refused.error_code) == (401, "bad_signature")
    assert len(exchange.counter.calls) == 1


# --- the provider side's own checks ---------------------------------------------------------


def provider_request(
    ex: Exchange, *, key: Any = None, node_code: str = "hanoi", **claims: Any
) -> node.Incoming:
    body = b""
    base = {
        "typ": "thudo-request",
        "mid": "prov-0001",
        "node": node_code,
        "client": PORTAL,
        "service": ECHO,
        "method": "GET",
        "path": "x",
        "query": "",
        "purpose": PURPOSE,
        "dossier": "",
        "user": "",
        "subject": "",
        "iat": int(time.time()),
        "body_sha256": b64url_sha256(body),
    }
    base.update(claims)
    token = keys.sign(base, key=key) if key is not None else keys.sign(base)
    return node.Incoming(
        method="GET",
        target=f"{ECHO}/x",
        body=body,
        headers={
            "thudo-message-id": "prov-0001",
            "thudo-client": PORTAL,
            "thudo-purpose": node.p.encode_header(PURPOSE),
            "thudo-signature": token,
        },
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, None),
        ({"key": OKPKey.generate_key("Ed25519")}, "bad_signature"),  # not hanoi's key
        ({"node_code": "elsewhere"}, "bad_signature"),  # an unknown node
        ({"path": "y"}, "bad_signature"),  # a claim that differs from the request
        ({"iat": int(time.time()) - 3600}, "bad_signature"),  # outside the time window
        ({"client": "VN/GOV/HN-UBND/NOBODY"}, "bad_signature"),
    ],
)
def test_provider_checks_the_node_signature(
    client: Client, exchange: Exchange, kwargs: dict[str, Any], code: str | None
) -> None:
    req = provider_request(exchange, **kwargs)
    # The same through HTTP, as another node would send it.
    response = client.get(
        f"/exchange/r1/{req.target}", headers={k: v for k, v in req.headers.items()}
    )
    if code is None:
        assert response.status_code == 200
        return
    assert response.status_code == 401
    assert error_of(response)["code"] == code
    assert exchange.counter.calls == []
    assert Message.objects.get(side="provider").error_code == code


def test_provider_refuses_a_client_system_its_signing_node_does_not_host(
    client: Client, exchange: Exchange
) -> None:
    other_key = OKPKey.generate_key("Ed25519")
    Node.objects.create(
        code="ndxp",
        name="NDXP",
        base_url="http://127.0.0.1:9",
        public_jwk=keys.public_jwk(other_key),
    )
    req = provider_request(exchange, key=other_key, node_code="ndxp")  # PORTAL is on hanoi
    response = client.get(f"/exchange/r1/{req.target}", headers=dict(req.headers))
    assert response.status_code == 401
    assert "does not host" in error_of(response)["message_en"]


# --- the in-process client (the portal) -----------------------------------------------------------


def test_call_from_the_portal_goes_through_both_sides_in_process(
    exchange: Exchange, monkeypatch: Any
) -> None:
    from thudo.exchange import tracker

    told: list[Message] = []
    monkeypatch.setattr(tracker, "on_exchange", told.append)
    result = call(
        system=PORTAL,
        service=PERSON,
        path=f"person/{PID}",
        purpose=PURPOSE,
        dossier_code="HS-9",
        end_user=PID,
        subject=PID,
    )

    assert isinstance(result, ExchangeResult)
    assert (result.status, result.data["full_name"]) == (200, "Nguyễn Văn An")
    assert result.ok
    rows = {m.side: m for m in Message.objects.exclude(side="jti")}
    assert rows["client"].log_index == result.log_index
    assert rows["provider"].log_index == result.provider_log_index
    assert rows["client"].client == PORTAL and rows["client"].dossier_code == "HS-9"
    answer = keys.verify(result.signature, keys.node_public_jwk())
    assert answer["mid"] == result.message_id
    [msg] = told
    assert msg.side == "client" and msg.subject == PID and msg.log_index == result.log_index


def test_call_returns_provider_4xx_and_raises_exchange_errors(exchange: Exchange) -> None:
    missing = call(
        system=PORTAL,
        service=PERSON,
        path="person/001099999999",
        purpose=PURPOSE,
        subject="001099999999",
    )
    assert missing.status == 404 and not missing.ok

    with pytest.raises(ExchangeError) as caught:
        call(system=PORTAL, service=PERSON, path=f"person/{PID}", purpose=PURPOSE)
    assert (caught.value.code, caught.value.status) == ("subject_required", 400)
    assert caught.value.message_id
    assert "subject_required" in str(caught.value)

    with pytest.raises(ExchangeError) as caught:
        call(
            system="VN/GOV/HN-UBND/NOBODY",
            service=PERSON,
            path=f"person/{PID}",
            purpose=PURPOSE,
            subject=PID,
        )
    assert caught.value.code == "unknown_client"

    Grant.objects.filter(client=exchange.portal, service=exchange.person).update(
        revoked_at=timezone.now()
    )
    with pytest.raises(ExchangeError) as caught:
        call(system=PORTAL, service=PERSON, path=f"person/{PID}", purpose=PURPOSE, subject=PID)
    assert (caught.value.code, caught.value.status) == ("grant_revoked", 403)
    assert exchange.counter.calls[-1].path == "person/001099999999"  # nothing after it


def test_call_with_query_and_a_retry_by_message_id(exchange: Exchange) -> None:
    first = call(
        system=PORTAL,
        service=ECHO,
        path="parcels?owner=001",
        query={"page": "2"},
        purpose=PURPOSE,
        message_id="portal-0001",
    )
    again = call(
        system=PORTAL,
        service=ECHO,
        path="parcels?owner=001",
        query={"page": "2"},
        purpose=PURPOSE,
        message_id="portal-0001",
    )
    assert first.data["query"] == {"owner": "001", "page": "2"}
    assert again.data == first.data and again.log_index == first.log_index
    assert len(exchange.counter.calls) == 1
    with pytest.raises(ExchangeError) as caught:
        call(system=PORTAL, service=ECHO, path="other", purpose=PURPOSE, message_id="portal-0001")
    assert (caught.value.code, caught.value.status) == ("replayed_message", 409)


def test_error_messages_come_in_both_languages(client: Client, exchange: Exchange) -> None:
    response = call_http(client, exchange, subject=None, **{"Accept-Language": "en"})
    error = error_of(response)
    assert error["message"] == error["message_en"]
    assert error["message_vi"]


def test_jwks_publishes_this_nodes_public_key_only(client: Client, exchange: Exchange) -> None:
    data = client.get("/exchange/r1/.well-known/jwks.json").json()
    [key] = data["keys"]
    assert key == keys.node_public_jwk()
    assert "d" not in key
    nodes = client.get("/exchange/r1/.well-known/nodes.json").json()
    assert nodes["node"] == "hanoi"
    assert [n["code"] for n in nodes["nodes"]] == ["hanoi"]


def test_a_client_built_from_the_documentation(client: Client, exchange: Exchange) -> None:
    """docs/exchange.md's Python example: plain joserfc (no canonical JSON, no kid), the
    purpose percent-encoded with urllib, the answer checked against nodes.json."""
    from urllib.parse import quote

    now = int(time.time())
    claims = {
        "iss": CLIENT,
        "sub": CLIENT,
        "aud": AUD,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    token = jws.serialize_compact(
        {"alg": "EdDSA"}, json.dumps(claims), exchange.client_key, algorithms=["EdDSA"]
    )
    response = client.get(
        f"/exchange/r1/{PERSON}/person/{PID}",
        headers={
            "Authorization": f"Bearer {token}",
            "Thudo-Message-Id": "app-20261123-000001",
            "Thudo-Purpose": quote("1.001193 Đăng ký khai sinh"),
            "Thudo-Subject": PID,
        },
    )
    assert response.status_code == 200
    nodes = client.get("/exchange/r1/.well-known/nodes.json").json()["nodes"]
    key_set = KeySet.import_key_set({"keys": [n["public_jwk"] for n in nodes]})
    answer = json.loads(
        jws.deserialize_compact(
            response["Thudo-Signature"], key_set, algorithms=["EdDSA", "ES256"]
        ).payload
    )
    assert answer["status"] == 200 and answer["mid"] == "app-20261123-000001"
    assert answer["body_sha256"] == b64url_sha256(response.content)
    assert answer["request_sha256"] == b64url_sha256(response["Thudo-Request-Signature"])
    assert exchange.counter.calls[0].purpose == "1.001193 Đăng ký khai sinh"


def test_used_assertion_ids_are_forgotten_once_they_could_not_be_valid(
    client: Client, exchange: Exchange, monkeypatch: Any
) -> None:
    old = Message.objects.create(
        side="jti", client=CLIENT, message_id="old-jti", method="", request_digest=""
    )
    Message.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(hours=1))
    recent = Message.objects.create(
        side="jti", client=CLIENT, message_id="recent-jti", method="", request_digest=""
    )
    monkeypatch.setattr(node, "_purged_at", 0.0)
    assert call_http(client, exchange).status_code == 200
    remaining = set(Message.objects.filter(side="jti").values_list("message_id", flat=True))
    assert "old-jti" not in remaining and "recent-jti" in remaining
    assert len(remaining) == 2  # the recent one and the call's own
    assert recent.pk
