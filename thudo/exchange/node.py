"""The exchange node ("security server"): both sides of protocol r1 (docs/exchange.md).

Client side (`handle_client`): a client system hosted on this node calls
`/exchange/r1/<service identifier>/<path>` with a client assertion (or, for systems inside Thudo,
`thudo.exchange.client.call`). The node authenticates the system, checks the headers, the
service and the grant, signs the request with the node key and sends it to the provider's node —
over HTTP with retries, or in this process when the provider is hosted here — verifies the
signed answer, logs it and returns it.

Provider side (`handle_provider`): a request signed by another node (or by this one, in
process). The node checks the signing node, every signed claim against the request, the time,
the client system, the service, the grant, answers a retried message id from its store, calls
the service's target (a registered handler or an http(s) URL), signs the answer and logs it.

Each side writes one Message row (the idempotency store, what metrics and the tracker read) and
one entry in this node's Merkle log (thudo.exchange.log) per finished exchange, errors included.

The hot path is kept cheap (benchmarks/bench_exchange.py): the configuration rows a call reads
(the client system, the service, the signing node, the grants) are cached per process for
EXCHANGE_CONFIG_CACHE_S seconds (default 5; 0 turns the cache off). A change saved in this
process (a grant revoked on the grants page, an edit in the admin) clears the cache at once; a
change made by another process (another server process, `thudo exchange config import`)
reaches this one within that time. Inside a transaction the caller opened (tests, a service that
changes the configuration and then calls), the node reads the database, never the cache. The
Message rows are read and written with plain SQL statements (the ORM's query compilation cost
more than the statements themselves). Parsed public keys are cached by the key itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from joserfc import jws
from joserfc.errors import JoseError

from . import handlers, keys
from . import protocol as p
from .models import Grant, Member, Message, Node, Service, System
from .protocol import ExchangeError

logger = logging.getLogger(__name__)

# joserfc warns on every EdDSA use that RFC 9864 prefers the fully specified "Ed25519" name;
# r1 signs with "EdDSA", which every JOSE library verifies today.
try:
    from joserfc.errors import SecurityWarning

    warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)
except ImportError:  # pragma: no cover — older joserfc
    pass

JSON = "application/json"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
JTI_SIDE = "jti"  # Message rows that remember used client-assertion ids (side "jti")


# --- settings -----------------------------------------------------------------------------


def node_code() -> str:
    return str(getattr(settings, "EXCHANGE_NODE_CODE", "hanoi"))


def _retries() -> int:
    return int(getattr(settings, "EXCHANGE_RETRIES", 2))


def max_body_bytes() -> int:
    return int(getattr(settings, "EXCHANGE_MAX_BODY_BYTES", 1024 * 1024))


def _skew() -> int:
    return int(getattr(settings, "EXCHANGE_CLOCK_SKEW_S", 300))


def _cache_ttl() -> float:
    return float(getattr(settings, "EXCHANGE_CONFIG_CACHE_S", 5))


# --- requests and answers, independent of HTTP ----------------------------------------------


@dataclass
class Incoming:
    """A request as a node receives it (from Django, or built in process)."""

    method: str
    target: str  # after /exchange/r1/: "<service identifier>/<path>"
    query: str = ""  # the raw query string
    body: bytes | None = b""  # None: longer than EXCHANGE_MAX_BODY_BYTES (not read)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    content_type: str = ""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Outcome:
    """A node's answer, independent of HTTP."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]
    message_id: str = ""
    error_code: str = ""
    log_index: int | None = None
    provider_log_index: int | None = None
    signature: str = ""


@dataclass
class _Ctx:
    """What one side knows about one exchange while handling it."""

    side: str
    method: str
    started_at: datetime = field(default_factory=timezone.now)
    t0: float = field(default_factory=time.perf_counter)
    mid: str = ""
    client: str = ""
    service: str = ""
    path: str = ""  # after the service identifier, with "?query" when there is one
    purpose: str = ""
    dossier: str = ""
    user: str = ""
    subject: str = ""
    request_sha256: str = ""
    request_signature: str = ""
    digest: str = ""
    existing: Message | None = None  # this side's earlier row for (client, message id)
    claimed: Message | None = None  # the row this request claimed before calling a back-end


class _Duplicate(Exception):
    """Another request with the same (side, client, message id) finished first."""


# --- keys -----------------------------------------------------------------------------------


@lru_cache(maxsize=2048)
def _import_key(serialized: str) -> keys.Key:
    return keys.import_jwk(json.loads(serialized))


def _key_for(jwk: Mapping[str, Any]) -> keys.Key:
    """The parsed key, cached by its content (a changed key is a new cache entry)."""
    return _import_key(json.dumps(jwk, sort_keys=True))


def _node_key(node: Node) -> keys.Key:
    """A node's verification key; this node's own comes from its key file, never the network."""
    if node.code == node_code():
        return keys.node_key()
    if not node.public_jwk:
        raise ValueError("no key")
    return _key_for(node.public_jwk)


def _verify(token: str, key: keys.Key) -> dict[str, Any]:
    obj = jws.deserialize_compact(token, key, algorithms=keys.ALGORITHMS)
    claims = json.loads(obj.payload)
    if not isinstance(claims, dict):
        raise ValueError("payload")
    return claims


def _interpolate_now(message: str | Promise, params: dict[str, Any]) -> str:
    return str(message) % params


# `message % params`, translated when it is shown: an error body carries the message in the
# active language and in Vietnamese and English, so nothing may be translated when raised.
_fmt = lazy(_interpolate_now, str)


def _joined(problems: Sequence[str | Promise]) -> str | Promise:
    return format_lazy(" ".join(["{}"] * len(problems)), *problems)


def _now_s() -> int:
    return int(time.time())


def _one(qs: Any) -> Any:
    """The first row of an unordered query (no ORDER BY to compile or run), or None."""
    rows = list(qs.order_by()[:1])
    return rows[0] if rows else None


# --- the configuration cache ----------------------------------------------------------------

_CACHE_MAX = 4096  # entries; the cache is emptied when full (unknown identifiers are cached too)
_config_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
_config_generation = 0


def _cached(key: tuple[Any, ...], load: Any) -> Any:
    """`load()`, kept for EXCHANGE_CONFIG_CACHE_S seconds — except inside a transaction the
    caller opened, which may have changed the rows itself."""
    ttl = _cache_ttl()
    if ttl <= 0 or connection.in_atomic_block:
        return load()
    now = time.monotonic()
    hit = _config_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    generation = _config_generation
    value = load()
    if generation == _config_generation:  # nothing changed while it was read
        if len(_config_cache) >= _CACHE_MAX:
            _config_cache.clear()
        _config_cache[key] = (now + ttl, value)
    return value


def clear_config_cache(**_kwargs: Any) -> None:
    """Forget the cached configuration rows of this process."""
    global _config_generation
    _config_generation += 1
    _config_cache.clear()


def _config_changed(**_kwargs: Any) -> None:
    """A node, member, system, service or grant was saved or deleted in this process: forget
    the cache now, and again when the change commits (a call between the two may have read
    the old row)."""
    clear_config_cache()
    transaction.on_commit(clear_config_cache)


for _model in (Node, Member, System, Service, Grant):
    post_save.connect(_config_changed, sender=_model, dispatch_uid=f"exchange-cache-{_model}")
    post_delete.connect(_config_changed, sender=_model, dispatch_uid=f"exchange-cache-d-{_model}")


# --- look-ups (one query each, joined; cached) ------------------------------------------------


def _system(identifier: str) -> System | None:
    try:
        ident = p.parse_system(identifier)
    except ValueError:
        return None
    return _cached(
        ("system", identifier),
        lambda: _one(
            System.objects.select_related("member", "node").filter(
                member__instance=ident.instance,
                member__member_class=ident.member_class,
                member__code=ident.member,
                code=ident.system,
            )
        ),
    )


def _service(ident: p.Identifier) -> Service | None:
    return _cached(
        ("service", ident.service_identifier),
        lambda: _one(
            Service.objects.select_related("system__member", "system__node")
            .defer("openapi")
            .filter(
                system__member__instance=ident.instance,
                system__member__member_class=ident.member_class,
                system__member__code=ident.member,
                system__code=ident.system,
                code=ident.service,
            )
        ),
    )


def _active_node(code: str) -> Node | None:
    return _cached(("node", code), lambda: _one(Node.objects.filter(code=code, is_active=True)))


def _grants(service: Service, client: System) -> list[Grant]:
    """The client's grants for the service, the latest first."""
    return _cached(
        ("grants", service.pk, client.pk),
        lambda: sorted(
            Grant.objects.filter(service=service, client=client)
            .order_by()
            .only("revoked_at", "expires_at", "granted_at"),
            key=lambda g: g.granted_at,
            reverse=True,
        ),
    )


def _check_grant(service: Service, client: System) -> None:
    now = timezone.now()
    grants = _grants(service, client)
    if any(g.is_valid(now) for g in grants):
        return
    if not grants:
        raise ExchangeError("access_denied")
    latest = grants[0]
    raise ExchangeError("grant_revoked" if latest.revoked_at else "grant_expired")


# --- parsing the request ----------------------------------------------------------------------


def _begin(ctx: _Ctx, req: Incoming) -> list[str | Promise]:
    """Fill the context from the headers, leniently (errors are logged with what was sent);
    returns what is wrong with them."""
    problems: list[str | Promise] = []
    mid = req.header(p.H_MESSAGE_ID)
    if p.MESSAGE_ID_RE.match(mid):
        ctx.mid = mid
    else:
        ctx.mid = f"node-{uuid.uuid4().hex}"
        problems.append(_("Thudo-Message-Id is missing or not 8–64 letters, digits, '-' or '_'."))
    ctx.service = req.target.strip("/")[:300]
    fields = [
        ("purpose", p.H_PURPOSE, p.MAX_PURPOSE, True),
        ("dossier", p.H_DOSSIER, p.MAX_DOSSIER, False),
        ("user", p.H_END_USER, p.MAX_END_USER, False),
        ("subject", p.H_SUBJECT, 12, False),
    ]
    for attr, name, limit, required in fields:
        raw = req.header(name)
        try:
            value = p.decode_header(raw).strip()
        except UnicodeDecodeError:
            problems.append(_fmt(_("%(header)s is not percent-encoded UTF-8."), {"header": name}))
            continue
        if required and not value:
            problems.append(_fmt(_("%(header)s is required."), {"header": name}))
        elif len(value) > limit or any(ord(c) < 32 for c in value):
            problems.append(
                _fmt(
                    _("%(header)s is longer than %(limit)s characters or has control characters."),
                    {"header": name, "limit": limit},
                )
            )
            continue
        setattr(ctx, attr, value)
    if ctx.subject and not p.SUBJECT_RE.match(ctx.subject):
        problems.append(_("Thudo-Subject must be a personal ID of 12 (or 9) digits."))
        ctx.subject = ""
    return problems


def _parse_target(ctx: _Ctx, req: Incoming) -> tuple[p.Identifier, str, str]:
    """(service identifier, path, canonical query), or malformed_request."""
    try:
        ident, path = p.parse_target(req.target)
    except ValueError:
        raise ExchangeError(
            "malformed_request",
            _("The service identifier must be instance/class/member/system/service."),
        ) from None
    ctx.service = ident.service_identifier
    try:
        query = p.canonical_query(req.query)
    except (UnicodeDecodeError, ValueError):
        raise ExchangeError("malformed_request", _("The query string is not valid.")) from None
    ctx.path = path + (f"?{query}" if query else "")
    if req.method not in p.METHODS:
        raise ExchangeError("malformed_request", _("This HTTP method is not supported."))
    return ident, path, query


def _check_body(req: Incoming) -> bytes:
    if req.body is None or len(req.body) > max_body_bytes():
        raise ExchangeError(
            "malformed_request",
            _fmt(_("The body is larger than %(limit)s bytes."), {"limit": max_body_bytes()}),
        )
    body = req.body
    if body:
        ctype = req.content_type.split(";")[0].strip().lower()
        if ctype and ctype != JSON and not ctype.endswith("+json"):
            raise ExchangeError("malformed_request", _("The body must be JSON (application/json)."))
        try:
            json.loads(body)
        except ValueError:
            raise ExchangeError("malformed_request", _("The body is not valid JSON.")) from None
    return body


# --- the client side ----------------------------------------------------------------------------


def handle_client(
    req: Incoming, *, assertion: str | None = None, system_identifier: str | None = None
) -> Outcome:
    """A client system's call. `assertion` is the bearer token of an HTTP client; in-process
    clients (thudo.exchange.client) pass `system_identifier` instead."""
    ctx = _Ctx(side=Message.Side.CLIENT, method=req.method.upper()[:8])
    problems = _begin(ctx, req)
    try:
        ident, path, query = _parse_target(ctx, req)
        if system_identifier is not None:
            system = _local_system(ctx, system_identifier)
        else:
            system = _authenticate(ctx, assertion or "")
        ctx.client = system.identifier
        if problems:
            raise ExchangeError("malformed_request", _joined(problems))
        body = _check_body(req)
        ctx.request_sha256 = p.sha256_b64url(body)
        service = _service(ident)
        if service is None or not service.is_active or not service.system.is_active:
            raise ExchangeError("unknown_service")
        if service.personal_data and not ctx.subject:
            raise ExchangeError("subject_required")
        _check_grant(service, system)
        claims = p.request_claims(
            mid=ctx.mid,
            node=node_code(),
            client=ctx.client,
            service=ctx.service,
            method=ctx.method,
            path=path,
            query=query,
            purpose=ctx.purpose,
            dossier=ctx.dossier,
            user=ctx.user,
            subject=ctx.subject,
            iat=_now_s(),
            body_sha256=ctx.request_sha256,
        )
        ctx.digest = p.request_digest(claims)
        stored = _idempotent(ctx)
        if stored is not None:
            return stored
        ctx.request_signature = keys.sign(claims)
        return _dispatch(ctx, system, service, path, query, body, req.content_type)
    except ExchangeError as err:
        return _fail(ctx, err)
    except _Duplicate:
        return _after_duplicate(ctx)


def _local_system(ctx: _Ctx, identifier: str) -> System:
    ctx.client = identifier[:200]
    system = _system(identifier)
    if (
        system is None
        or not system.is_active
        or not system.member.is_active
        or system.node.code != node_code()
    ):
        raise ExchangeError("unknown_client")
    return system


def _authenticate(ctx: _Ctx, token: str) -> System:
    """The client system that signed the assertion, or unknown_client / bad_client_assertion /
    replayed_assertion."""
    if not token:
        raise ExchangeError(
            "bad_client_assertion", _("Send Authorization: Bearer <client assertion>.")
        )
    try:
        unverified = p.unverified_claims(token)
    except (ValueError, UnicodeDecodeError):
        raise ExchangeError("bad_client_assertion", _("It is not a compact JWS.")) from None
    iss = unverified.get("iss")
    if not isinstance(iss, str) or not iss:
        raise ExchangeError("bad_client_assertion", _("The iss claim is missing."))
    ctx.client = iss[:200]
    system = _system(iss)
    if (
        system is None
        or not system.is_active
        or not system.member.is_active
        or system.node.code != node_code()
    ):
        raise ExchangeError("unknown_client")
    if not system.public_jwk:
        raise ExchangeError("bad_client_assertion", _("The system has no registered key."))
    try:
        claims = _verify(token, _key_for(system.public_jwk))
    except (JoseError, ValueError, TypeError):
        raise ExchangeError("bad_client_assertion", _("The signature does not verify.")) from None
    now = _now_s()
    skew = _skew()
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    base = system.node.base_url.rstrip("/")
    iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
    if claims.get("sub") != iss:
        raise ExchangeError("bad_client_assertion", _("sub must equal iss."))
    if not any(isinstance(a, str) and a.rstrip("/") == base for a in audiences):
        raise ExchangeError("bad_client_assertion", _("aud must be this node's address."))
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise ExchangeError("bad_client_assertion", _("iat and exp are required (seconds)."))
    if exp - iat > p.ASSERTION_MAX_LIFETIME_S or exp < iat:
        raise ExchangeError("bad_client_assertion", _("exp may be at most 300 s after iat."))
    if iat > now + skew:
        raise ExchangeError("bad_client_assertion", _("iat is in the future."))
    if now > exp + skew:
        raise ExchangeError("bad_client_assertion", _("The assertion expired."))
    if not isinstance(jti, str) or not 1 <= len(jti) <= 64:
        raise ExchangeError("bad_client_assertion", _("jti is required (at most 64 characters)."))
    _use_jti(system.identifier, jti)
    return system


_purged_at = 0.0
_purge_lock = threading.Lock()


def _use_jti(client: str, jti: str) -> None:
    """Remember a used assertion id in the database (shared by every process of this node);
    a second use is replayed_assertion. Ids older than any assertion could live are purged."""
    global _purged_at
    used = Message(side=JTI_SIDE, client=client[:200], message_id=jti, method="", request_digest="")
    if not _insert_message(used):
        raise ExchangeError("replayed_assertion")
    now = time.monotonic()
    if now - _purged_at > 60:
        with _purge_lock:
            if now - _purged_at > 60:
                _purged_at = now
                keep = p.ASSERTION_MAX_LIFETIME_S + 2 * _skew() + 60
                cutoff = timezone.now() - timedelta(seconds=keep)
                # One DELETE statement (no objection can point at a jti row).
                old = Message.objects.filter(side=JTI_SIDE, started_at__lt=cutoff)
                old._raw_delete(old.db)


def _idempotent(ctx: _Ctx) -> Outcome | None:
    """A finished earlier exchange with this message id: the same request gets its stored
    answer, a different one replayed_message. An earlier failure may be retried."""
    existing = _find_message(ctx)
    ctx.existing = existing
    if existing is None or existing.error_code:
        return None
    if existing.request_digest != ctx.digest or existing.status is None:
        raise ExchangeError("replayed_message")
    return _stored(existing)


def _stored(msg: Message) -> Outcome:
    headers = {
        p.H_MESSAGE_ID: msg.message_id,
        p.H_SIGNATURE: msg.response_signature,
    }
    if msg.log_index is not None:
        headers[p.H_LOG_INDEX] = str(msg.log_index)
    if msg.side == Message.Side.CLIENT and msg.request_signature:
        headers[p.H_REQUEST_SIGNATURE] = msg.request_signature
    return Outcome(
        status=msg.status or 200,
        body=bytes(msg.response_body or b""),
        content_type=msg.response_content_type or JSON,
        headers=headers,
        message_id=msg.message_id,
        log_index=msg.log_index,
        signature=msg.response_signature,
    )


def _after_duplicate(ctx: _Ctx) -> Outcome:
    """A concurrent request with the same message id finished first."""
    msg = _find_message(ctx)
    if msg is not None and msg.status is not None and msg.request_digest == ctx.digest:
        return _stored(msg)
    ctx.existing = msg
    return _fail(ctx, ExchangeError("replayed_message"))


def _provider_headers(ctx: _Ctx, content_type: str) -> dict[str, str]:
    headers = {
        p.H_CLIENT: ctx.client,
        p.H_MESSAGE_ID: ctx.mid,
        p.H_PURPOSE: p.encode_header(ctx.purpose),
        p.H_SIGNATURE: ctx.request_signature,
    }
    if ctx.dossier:
        headers[p.H_DOSSIER] = p.encode_header(ctx.dossier)
    if ctx.user:
        headers[p.H_END_USER] = p.encode_header(ctx.user)
    if ctx.subject:
        headers[p.H_SUBJECT] = ctx.subject
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _dispatch(
    ctx: _Ctx,
    client: System,
    service: Service,
    path: str,
    query: str,
    body: bytes,
    content_type: str,
) -> Outcome:
    provider = service.system.node
    headers = _provider_headers(ctx, content_type)
    target = f"{ctx.service}/{path}" if path else ctx.service
    if provider.code == node_code():
        answer = handle_provider(
            Incoming(
                method=ctx.method,
                target=target,
                query=query,
                body=body,
                headers={k.lower(): v for k, v in headers.items()},
                content_type=content_type,
            ),
            local=(client, service),
        )
        status, rbody, rtype, rheaders = (
            answer.status,
            answer.body,
            answer.content_type,
            {k.lower(): v for k, v in answer.headers.items()},
        )
        claims = _verify_answer(ctx, provider, status, rbody, rheaders)
        if claims is None:
            raise ExchangeError("bad_signature", _("The provider's answer is not signed."))
    else:
        if not provider.is_active:
            raise ExchangeError("provider_unreachable", _("The provider's node is not active."))
        status, rbody, rtype, rheaders = _forward(
            ctx, service, provider, target, query, body, headers
        )
    return _finish_client(ctx, status, rbody, rtype, rheaders)


_http_lock = threading.Lock()
_http_client: httpx.Client | None = None


def _http() -> httpx.Client:
    """One pooled HTTP client per process (keep-alive connections to the other nodes)."""
    global _http_client
    if _http_client is None:
        with _http_lock:
            if _http_client is None:
                _http_client = httpx.Client(
                    limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
                    follow_redirects=False,
                    trust_env=False,
                )
    return _http_client


def _forward(
    ctx: _Ctx,
    service: Service,
    provider: Node,
    target: str,
    query: str,
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, bytes, str, dict[str, str]]:
    url = f"{provider.base_url.rstrip('/')}/exchange/{p.VERSION}/{quote(target, safe='/')}"
    if query:
        url = f"{url}?{query}"
    timeout = httpx.Timeout(service.timeout_s)
    failure = "provider_unreachable"
    attempts = _retries() + 1
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(0.1 * 2 ** (attempt - 1), 1.0))
        try:
            response = _http().request(
                ctx.method, url, content=body, headers=headers, timeout=timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            logger.warning("exchange %s: %s unreachable (%s)", ctx.mid, provider.code, exc)
            failure = "provider_unreachable"
            continue
        except (httpx.ReadError, httpx.WriteError) as exc:
            logger.warning("exchange %s: connection to %s broke (%s)", ctx.mid, provider.code, exc)
            failure = "provider_unreachable"
            continue
        except httpx.TimeoutException:
            raise ExchangeError("provider_timeout") from None
        except httpx.HTTPError as exc:
            logger.warning("exchange %s: %s failed (%s)", ctx.mid, provider.code, exc)
            raise ExchangeError("provider_unreachable") from None
        rheaders = {k.lower(): v for k, v in response.headers.items()}
        status, rbody = response.status_code, response.content
        try:
            claims = _verify_answer(ctx, provider, status, rbody, rheaders)
        except ExchangeError:
            if status in RETRY_STATUSES:  # a proxy's or a dying server's answer: retry
                failure = "provider_timeout" if status == 504 else "provider_unreachable"
                continue
            raise
        if claims is None:
            if status in RETRY_STATUSES:
                failure = "provider_timeout" if status == 504 else "provider_unreachable"
                continue
            raise ExchangeError("bad_signature", _("The provider's answer is not signed."))
        ctype = response.headers.get("content-type", "")
        return status, rbody, ctype, rheaders
    raise ExchangeError(failure)


def _verify_answer(
    ctx: _Ctx, provider: Node, status: int, body: bytes, headers: Mapping[str, str]
) -> dict[str, Any] | None:
    """The provider node's signed claims, checked against the answer; None when unsigned."""
    token = headers.get(p.H_SIGNATURE.lower(), "")
    if not token:
        return None
    try:
        claims = _verify(token, _node_key(provider))
    except (JoseError, ValueError, TypeError):
        raise ExchangeError(
            "bad_signature", _("The provider's answer signature does not verify.")
        ) from None
    expected = {
        "typ": p.TYP_RESPONSE,
        "mid": ctx.mid,
        "node": provider.code,
        "service": ctx.service,
        "status": status,
        "body_sha256": p.sha256_b64url(body),
        "request_sha256": p.sha256_b64url(ctx.request_signature),
    }
    wrong = [k for k, v in expected.items() if claims.get(k) != v]
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or abs(_now_s() - iat) > _skew():
        wrong.append("iat")
    if wrong:
        raise ExchangeError(
            "bad_signature",
            _fmt(
                _("The provider's answer does not match its signature (%(claims)s)."),
                {"claims": ", ".join(wrong)},
            ),
        )
    return claims


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name.lower(), "")
    return int(value) if value.isdigit() else None


def _finish_client(
    ctx: _Ctx, status: int, body: bytes, content_type: str, headers: Mapping[str, str]
) -> Outcome:
    signature = headers.get(p.H_SIGNATURE.lower(), "")
    error = ""
    if headers.get(p.H_ERROR.lower()):
        error = _error_code_of(body)
    msg, index = _record(
        ctx,
        status=status,
        body=body,
        content_type=content_type or JSON,
        response_signature=signature,
        error=error,
    )
    out_headers = {
        p.H_MESSAGE_ID: ctx.mid,
        p.H_SIGNATURE: signature,
        p.H_REQUEST_SIGNATURE: ctx.request_signature,
        p.H_LOG_INDEX: str(index),
    }
    provider_index = _int_header(headers, p.H_LOG_INDEX)
    if provider_index is not None:
        out_headers[p.H_PROVIDER_LOG_INDEX] = str(provider_index)
    if error:
        out_headers[p.H_ERROR] = error
    _tracker(msg)
    return Outcome(
        status=status,
        body=body,
        content_type=content_type or JSON,
        headers=out_headers,
        message_id=ctx.mid,
        error_code=error,
        log_index=index,
        provider_log_index=provider_index,
        signature=signature,
    )


def _error_code_of(body: bytes) -> str:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return code if isinstance(code, str) and code in p.ERRORS else ""


def _tracker(msg: Message | None) -> None:
    """Tell the citizen's data tracker (thudo.exchange.tracker, when installed)."""
    if msg is None or msg.side != Message.Side.CLIENT:
        return
    try:
        from thudo.exchange import tracker

        on_exchange = tracker.on_exchange
    except (ImportError, AttributeError):
        return
    try:
        on_exchange(msg)
    except Exception:  # the exchange is done and logged; a tracker failure must not undo it
        logger.exception("exchange %s: the data tracker failed", msg.message_id)


# --- the provider side -------------------------------------------------------------------------


def handle_provider(req: Incoming, *, local: tuple[System, Service] | None = None) -> Outcome:
    """A request another node (or this one, in process) signed for a service hosted here.

    `local` is the client system and service the client side of this node already looked up
    (in-process dispatch); the signature is checked all the same."""
    ctx = _Ctx(side=Message.Side.PROVIDER, method=req.method.upper()[:8])
    problems = _begin(ctx, req)
    ctx.client = req.header(p.H_CLIENT)[:200]
    token = req.header(p.H_SIGNATURE)
    ctx.request_signature = token
    try:
        ident, path, query = _parse_target(ctx, req)
        if problems:
            raise ExchangeError("malformed_request", _joined(problems))
        if not ctx.client:
            raise ExchangeError("malformed_request", _("Thudo-Client is required."))
        if req.body is None or len(req.body) > max_body_bytes():
            raise ExchangeError("malformed_request", _("The body is too large."))
        body = req.body
        ctx.request_sha256 = p.sha256_b64url(body)
        claims = _verify_request(ctx, token, path, query)
        if local is not None and (
            local[0].identifier == ctx.client and local[1].identifier == ctx.service
        ):
            # In process, this node's client side has just looked up and checked the same
            # rows in the same database (system, service, subject, grant).
            service = local[1]
        else:
            service = _provider_checks(ctx, ident, claims)
        ctx.digest = p.request_digest(claims)
        stored = _idempotent(ctx)
        if stored is not None:
            return _resign(ctx, stored)
        return _serve(ctx, service, path, query, body, req.content_type)
    except ExchangeError as err:
        return _fail(ctx, err)
    except _Duplicate:
        msg = _find_message(ctx)
        ctx.existing, ctx.claimed = msg, None
        if msg is not None and msg.status is not None and msg.request_digest == ctx.digest:
            return _resign(ctx, _stored(msg))
        return _fail(ctx, ExchangeError("replayed_message"))


def _provider_checks(ctx: _Ctx, ident: p.Identifier, claims: Mapping[str, Any]) -> Service:
    client = _system(ctx.client)
    if client is None or not client.is_active or not client.member.is_active:
        raise ExchangeError("unknown_client")
    if client.node.code != claims["node"]:
        raise ExchangeError("bad_signature", _("The signing node does not host the client system."))
    service = _service(ident)
    if (
        service is None
        or not service.is_active
        or not service.system.is_active
        or service.system.node.code != node_code()
    ):
        raise ExchangeError("unknown_service")
    if service.personal_data and not ctx.subject:
        raise ExchangeError("subject_required")
    _check_grant(service, client)
    return service


def _verify_request(ctx: _Ctx, token: str, path: str, query: str) -> dict[str, Any]:
    if not token:
        raise ExchangeError("bad_signature", _("Thudo-Signature is required."))
    try:
        node_claimed = p.unverified_claims(token).get("node")
    except (ValueError, UnicodeDecodeError):
        raise ExchangeError("bad_signature", _("It is not a compact JWS.")) from None
    if node_claimed == node_code():
        key = keys.node_key()  # this node: its own key file, no look-up, no network
    else:
        node = _active_node(str(node_claimed))
        if node is None:
            raise ExchangeError("bad_signature", _("The signing node is not known."))
        try:
            key = _node_key(node)
        except (JoseError, ValueError, TypeError):
            raise ExchangeError("bad_signature", _("The signing node has no valid key.")) from None
    try:
        claims = _verify(token, key)
    except (JoseError, ValueError, TypeError):
        raise ExchangeError("bad_signature", _("The signature does not verify.")) from None
    expected = {
        "typ": p.TYP_REQUEST,
        "mid": ctx.mid,
        "client": ctx.client,
        "service": ctx.service,
        "method": ctx.method,
        "path": path,
        "query": query,
        "purpose": ctx.purpose,
        "dossier": ctx.dossier,
        "user": ctx.user,
        "subject": ctx.subject,
        "body_sha256": ctx.request_sha256,
    }
    wrong = [k for k, v in expected.items() if claims.get(k) != v]
    if wrong:
        raise ExchangeError(
            "bad_signature",
            _fmt(
                _("The request does not match its signature (%(claims)s)."),
                {"claims": ", ".join(wrong)},
            ),
        )
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or abs(_now_s() - iat) > _skew():
        raise ExchangeError("bad_signature", _("The signature's iat is outside the time window."))
    return claims


def _resign(ctx: _Ctx, stored: Outcome) -> Outcome:
    """A stored answer for a retried request: re-signed when the request signature is new, so
    that the answer's request_sha256 binds this request."""
    if ctx.existing is not None and ctx.existing.request_signature == ctx.request_signature:
        return stored
    signature = _sign_response(ctx, stored.status, stored.body)
    stored.headers[p.H_SIGNATURE] = signature
    stored.signature = signature
    return stored


def _sign_response(ctx: _Ctx, status: int, body: bytes) -> str:
    return keys.sign(
        p.response_claims(
            mid=ctx.mid,
            node=node_code(),
            service=ctx.service,
            status=status,
            iat=_now_s(),
            body_sha256=p.sha256_b64url(body),
            request_sha256=p.sha256_b64url(ctx.request_signature) if ctx.request_signature else "",
        )
    )


def _serve(
    ctx: _Ctx, service: Service, path: str, query: str, body: bytes, content_type: str
) -> Outcome:
    target = service.target
    if target.startswith("handler:"):
        # One transaction: the message id is claimed, the handler's writes (if any), the log
        # entry and the answer commit together, so a handler runs once per message id.
        with transaction.atomic():
            msg = _upsert_message(ctx, _message_values(ctx))
            status, rbody = _call_handler(ctx, target.removeprefix("handler:"), path, query, body)
            signature = _sign_response(ctx, status, rbody)
            index = _complete(
                ctx,
                msg,
                status=status,
                body=rbody,
                content_type=JSON,
                response_signature=signature,
                error="",
            )
        rtype = JSON
    elif target.startswith(("http://", "https://")):
        # Claim the message id first (no transaction is held while the back-end answers); the
        # claim is one statement, so it needs no transaction of its own.
        msg = _upsert_message(ctx, _message_values(ctx))
        ctx.claimed = msg
        status, rbody, rtype = _call_http(ctx, service, path, query, body, content_type)
        signature = _sign_response(ctx, status, rbody)
        with transaction.atomic():
            index = _complete(
                ctx,
                msg,
                status=status,
                body=rbody,
                content_type=rtype,
                response_signature=signature,
                error="",
            )
    else:
        raise ExchangeError("provider_unreachable", _("The service has no valid target."))
    return Outcome(
        status=status,
        body=rbody,
        content_type=rtype,
        headers={
            p.H_MESSAGE_ID: ctx.mid,
            p.H_SIGNATURE: signature,
            p.H_LOG_INDEX: str(index),
        },
        message_id=ctx.mid,
        log_index=index,
        signature=signature,
    )


def _call_handler(ctx: _Ctx, key: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
    handler = handlers.get(key)
    if handler is None:
        raise ExchangeError("provider_unreachable", _("The provider's handler is not installed."))
    request = handlers.ProviderRequest(
        method=ctx.method,
        path=path,
        query=p.query_dict(query),
        body=body,
        message_id=ctx.mid,
        client=ctx.client,
        service=ctx.service,
        purpose=ctx.purpose,
        dossier_code=ctx.dossier,
        end_user=ctx.user,
        subject=ctx.subject,
    )
    try:
        if ctx.method in SAFE_METHODS:
            response = handler(request)
        else:
            with transaction.atomic():  # a failing handler leaves none of its writes
                response = handler(request)
    except Exception:
        logger.exception("exchange %s: handler %s failed", ctx.mid, key)
        raise ExchangeError(
            "provider_unreachable", _("The provider failed while answering.")
        ) from None
    data = b"" if response.data is None else _json_bytes(response.data)
    return int(response.status), data


def _call_http(
    ctx: _Ctx, service: Service, path: str, query: str, body: bytes, content_type: str
) -> tuple[int, bytes, str]:
    url = service.target.rstrip("/") + ("/" + quote(path, safe="/") if path else "")
    if query:
        url = f"{url}?{query}"
    headers = {
        p.H_MESSAGE_ID: ctx.mid,
        p.H_CLIENT: ctx.client,
        "Thudo-Service": ctx.service,
        p.H_PURPOSE: p.encode_header(ctx.purpose),
    }
    if ctx.dossier:
        headers[p.H_DOSSIER] = p.encode_header(ctx.dossier)
    if ctx.user:
        headers[p.H_END_USER] = p.encode_header(ctx.user)
    if ctx.subject:
        headers[p.H_SUBJECT] = ctx.subject
    if content_type:
        headers["Content-Type"] = content_type
    try:
        response = _http().request(
            ctx.method,
            url,
            content=body,
            headers=headers,
            timeout=httpx.Timeout(service.timeout_s),
        )
    except httpx.TimeoutException:
        raise ExchangeError("provider_timeout") from None
    except httpx.HTTPError as exc:
        logger.warning("exchange %s: provider back-end %s failed (%s)", ctx.mid, url, exc)
        raise ExchangeError("provider_unreachable") from None
    return response.status_code, response.content, response.headers.get("content-type", JSON)


# --- the message store: plain SQL on the hot path ---------------------------------------------
# One indexed look-up, one INSERT ... ON CONFLICT DO NOTHING, one UPDATE by primary key: the
# statements the ORM would send, without compiling them on every call. The rare paths (a retry,
# a duplicate, an earlier failure taken over) use the ORM.

_MESSAGE_FIELDS = [f for f in Message._meta.concrete_fields if not f.primary_key]
_MESSAGE_FIELD = {f.name: f for f in _MESSAGE_FIELDS}


def _plain_sql() -> bool:
    return connection.vendor in ("sqlite", "postgresql") and bool(
        connection.features.can_return_columns_from_insert
    )


@lru_cache(maxsize=8)
def _message_sql(vendor: str, statement: str, names: tuple[str, ...] = ()) -> str:
    qn = connection.ops.quote_name
    table, pk = qn(Message._meta.db_table), qn(Message._meta.pk.column)  # type: ignore[union-attr]
    if statement == "find":
        where = " AND ".join(f"{qn(c)} = %s" for c in ("side", "client", "message_id"))
        return f"SELECT {pk} FROM {table} WHERE {where}"  # noqa: S608 — names from the model
    if statement == "insert":
        columns = ", ".join(qn(f.column) for f in _MESSAGE_FIELDS)
        marks = ", ".join(["%s"] * len(_MESSAGE_FIELDS))
        unique = ", ".join(qn(c) for c in ("side", "client", "message_id"))
        return (
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) "  # noqa: S608
            f"ON CONFLICT ({unique}) DO NOTHING RETURNING {pk}"
        )
    assignments = ", ".join(f"{qn(_MESSAGE_FIELD[n].column)} = %s" for n in names)
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608


def _find_message(ctx: _Ctx) -> Message | None:
    """This side's row for (client, message id), or None."""
    if not _plain_sql():
        return _one(Message.objects.filter(side=ctx.side, client=ctx.client, message_id=ctx.mid))
    with connection.cursor() as cursor:
        cursor.execute(
            _message_sql(connection.vendor, "find"), [str(ctx.side), ctx.client, ctx.mid]
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Message.objects.filter(pk=row[0]).first()  # a retry or a duplicate: the whole row


def _insert_message(msg: Message) -> bool:
    """Insert the row unless its (side, client, message id) is taken (then False)."""
    if not _plain_sql():
        try:
            with transaction.atomic():
                msg.save(force_insert=True)
        except IntegrityError:
            return False
        return True
    params = [f.get_db_prep_save(f.pre_save(msg, True), connection) for f in _MESSAGE_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_message_sql(connection.vendor, "insert"), params)
        row = cursor.fetchone()
    if row is None:
        return False
    msg.pk = row[0]
    msg._state.adding = False
    msg._state.db = connection.alias
    return True


def _update_message(pk: int, values: Mapping[str, Any]) -> None:
    if not _plain_sql():
        Message.objects.filter(pk=pk).update(**values)
        return
    names = tuple(values)
    params = [_MESSAGE_FIELD[n].get_db_prep_save(values[n], connection) for n in names]
    with connection.cursor() as cursor:
        cursor.execute(_message_sql(connection.vendor, "update", names), [*params, pk])


# --- recording: the Message row and the log entry, in one transaction -------------------------


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _message_values(ctx: _Ctx) -> dict[str, Any]:
    return {
        "service": ctx.service[:300],
        "method": ctx.method,
        "path": ctx.path[:500],
        "purpose": ctx.purpose[:500],
        "dossier_code": ctx.dossier[:40],
        "end_user": ctx.user[:100],
        "subject": ctx.subject[:12],
        "request_digest": ctx.digest,
        "request_signature": ctx.request_signature,
        "status": None,
        "error_code": "",
        "response_body": None,
        "response_content_type": "",
        "response_signature": "",
        "started_at": ctx.started_at,
        "duration_ms": None,
        "log_index": None,
    }


def _upsert_message(ctx: _Ctx, values: dict[str, Any]) -> Message:
    """Create this side's row for (client, message id), or take over the row of an earlier
    attempt that failed. Raises _Duplicate when a concurrent request got there first."""
    if ctx.claimed is not None:
        _update_message(ctx.claimed.pk, values)
        return Message(
            pk=ctx.claimed.pk, side=ctx.side, client=ctx.client, message_id=ctx.mid, **values
        )
    existing = ctx.existing
    if existing is not None and existing.error_code:
        updated = Message.objects.filter(pk=existing.pk).exclude(error_code="").update(**values)
        if not updated:
            raise _Duplicate
        return Message(
            pk=existing.pk, side=ctx.side, client=ctx.client, message_id=ctx.mid, **values
        )
    msg = Message(side=ctx.side, client=ctx.client, message_id=ctx.mid, **values)
    if not _insert_message(msg):
        raise _Duplicate
    return msg


def _entry(
    ctx: _Ctx, *, status: int, body: bytes, response_signature: str, error: str, ms: float
) -> dict[str, Any]:
    return {
        "v": 1,
        "node": node_code(),
        "side": ctx.side,
        "mid": ctx.mid,
        "client": ctx.client,
        "service": ctx.service,
        "method": ctx.method,
        "path": ctx.path,
        "purpose": ctx.purpose,
        "dossier": ctx.dossier,
        "user": ctx.user,
        "subject": ctx.subject,
        "time": ctx.started_at.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
        "status": status,
        "error": error,
        "request_sha256": ctx.request_sha256,
        "response_sha256": p.sha256_b64url(body),
        "request_signature": ctx.request_signature,
        "response_signature": response_signature,
        "duration_ms": round(ms, 3),
    }


def _append(ctx: _Ctx, entry: dict[str, Any], error: str) -> int:
    from thudo.exchange.log import append

    log_entry = append(
        message_id=ctx.mid,
        kind="error" if error else "exchange",
        subject=ctx.subject[:12],
        entry=entry,
    )
    return int(log_entry.index)


def _complete(
    ctx: _Ctx,
    msg: Message,
    *,
    status: int,
    body: bytes,
    content_type: str,
    response_signature: str,
    error: str,
) -> int:
    """Inside the caller's transaction: append the log entry, fill the row's answer."""
    ms = (time.perf_counter() - ctx.t0) * 1000
    entry = _entry(
        ctx, status=status, body=body, response_signature=response_signature, error=error, ms=ms
    )
    index = _append(ctx, entry, error)
    answer = {
        "status": status,
        "error_code": error,
        "response_body": body,
        "response_content_type": content_type[:100],
        "response_signature": response_signature,
        "duration_ms": ms,
        "log_index": index,
    }
    _update_message(msg.pk, answer)
    for name, value in answer.items():
        setattr(msg, name, value)
    return index


def _record(
    ctx: _Ctx,
    *,
    status: int,
    body: bytes,
    content_type: str,
    response_signature: str,
    error: str,
) -> tuple[Message | None, int]:
    """One transaction: this side's Message row and its log entry."""
    with transaction.atomic():
        values = _message_values(ctx)
        try:
            msg: Message | None = _upsert_message(ctx, values)
        except _Duplicate:
            if not error:
                raise
            msg = _take_over_failed(ctx, values)
        if msg is None:
            ms = (time.perf_counter() - ctx.t0) * 1000
            entry = _entry(
                ctx,
                status=status,
                body=body,
                response_signature=response_signature,
                error=error,
                ms=ms,
            )
            return None, _append(ctx, entry, error)
        index = _complete(
            ctx,
            msg,
            status=status,
            body=body,
            content_type=content_type,
            response_signature=response_signature,
            error=error,
        )
    return msg, index


def _take_over_failed(ctx: _Ctx, values: dict[str, Any]) -> Message | None:
    """An error for a message id that has a row: it replaces an earlier failure; a finished
    exchange keeps its row (the error is only logged)."""
    other = (
        Message.objects.filter(side=ctx.side, client=ctx.client, message_id=ctx.mid)
        .only("pk", "error_code")
        .first()
    )
    if other is None or not other.error_code:
        return None
    ctx.existing = other
    try:
        return _upsert_message(ctx, values)
    except _Duplicate:
        return None


def _fail(ctx: _Ctx, err: ExchangeError) -> Outcome:
    """An error answer from this node: signed, logged, stored (when the message id is free or
    held by an earlier failure)."""
    err.message_id = ctx.mid
    body = _json_bytes(err.as_body())
    signature = _sign_response(ctx, err.status, body)
    if ctx.existing is not None and not ctx.existing.error_code:
        ctx.existing = None  # a finished exchange holds the id: it keeps its row
    msg, index = _record(
        ctx,
        status=err.status,
        body=body,
        content_type=JSON,
        response_signature=signature,
        error=err.code,
    )
    _tracker(msg)
    headers = {
        p.H_MESSAGE_ID: ctx.mid,
        p.H_SIGNATURE: signature,
        p.H_ERROR: err.code,
        p.H_LOG_INDEX: str(index),
    }
    if ctx.side == Message.Side.CLIENT and ctx.request_signature:
        headers[p.H_REQUEST_SIGNATURE] = ctx.request_signature
    return Outcome(
        status=err.status,
        body=body,
        content_type=JSON,
        headers=headers,
        message_id=ctx.mid,
        error_code=err.code,
        log_index=index,
        signature=signature,
    )
