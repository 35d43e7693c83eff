"""The log's public JSON API (signed tree heads, inclusion and consistency proofs, in the shape
of Certificate Transparency's) and the page that proves one entry to a citizen or an auditor.

    GET sth                                        the latest signed tree head
    GET sth/<size>                                 the signed head of that size, if one was signed
    GET proof/inclusion?index=N[&tree_size=M]      or ?hash=<base64 leaf hash>
    GET proof/consistency?first=A[&second=B]
    GET entries/<index>/proof/                     the HTML proof page

tree_size and second default to the latest signed head. Errors are JSON
{"error": {"code", "message", "field"}}: 400 bad_parameter, 404 unknown_index /
unknown_tree_size / no_tree_head / not_in_tree_head, 500 log_inconsistent."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from thudo.accounts.permissions import permissions
from thudo.accounts.roles import Perm
from thudo.web.access import can_use_workspace

from . import keys, log, merkle
from .models import LogEntry, TreeHead

JWKS_PATH = "/exchange/r1/.well-known/jwks.json"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def _json(data: dict[str, Any], status: int = 200, cache: str = "no-cache") -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = cache
    response["Access-Control-Allow-Origin"] = "*"  # public data, for verifiers in a browser
    return response


def _api(view: Callable[..., JsonResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ApiError as exc:
            body = {"code": exc.code, "message": exc.message, "field": exc.field}
            return _json({"error": body}, status=exc.status)
        except log.LogInconsistent as exc:
            return _json({"error": {"code": exc.code, "message": str(exc), "field": ""}}, 500)

    return require_GET(wrapped)


def _int(request: HttpRequest, name: str, *, required: bool = False) -> int | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        if required:
            raise ApiError(400, "bad_parameter", _("This parameter is required."), name)
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(400, "bad_parameter", _("Give a whole number from 0 (digits only)."), name)
    return int(raw)


def _signed_size() -> int:
    head = log.latest_tree_head()
    if head is None:
        raise ApiError(
            404,
            "no_tree_head",
            _("The log has no signed tree head yet; give the tree size, or try in a minute."),
        )
    return head.tree_size


def _size_in_log(size: int, field: str) -> None:
    current = log.tree_size()
    if size > current:
        raise ApiError(
            404,
            "unknown_tree_size",
            _("The log has %(current)s entries; there is no tree of size %(size)s.")
            % {"current": current, "size": size},
            field,
        )


@_api
def sth(request: HttpRequest) -> JsonResponse:
    head = log.latest_tree_head()
    if head is None:
        raise ApiError(404, "no_tree_head", _("The log has no signed tree head yet."))
    return _json(log.tree_head_json(head))


@_api
def sth_size(request: HttpRequest, size: int) -> JsonResponse:
    head = TreeHead.objects.filter(tree_size=size).first()
    if head is None:
        raise ApiError(
            404,
            "unknown_tree_size",
            _("No tree head of size %(size)s was signed.") % {"size": size},
            "size",
        )
    return _json(log.tree_head_json(head), cache="public, max-age=86400")


@_api
def inclusion(request: HttpRequest) -> JsonResponse:
    index = _int(request, "index")
    raw_hash = request.GET.get("hash", "").strip()
    if index is not None and raw_hash:
        raise ApiError(400, "bad_parameter", _("Give either index or hash, not both."), "hash")
    if raw_hash:
        try:
            leaf = log.b64decode(raw_hash)
        except ValueError:
            leaf = b""
        if len(leaf) != merkle.HASH_SIZE:
            raise ApiError(
                400, "bad_parameter", _("Give the leaf hash as 32 bytes in base64."), "hash"
            )
        index = log.entry_index_by_hash(leaf)
        if index is None:
            raise ApiError(404, "unknown_hash", _("No entry has this leaf hash."), "hash")
    if index is None:
        raise ApiError(400, "bad_parameter", _("Give the entry's index or its hash."), "index")
    size = _int(request, "tree_size")
    explicit = size is not None
    if size is None:
        size = _signed_size()
    else:
        _size_in_log(size, "tree_size")
    if index >= size:
        if index >= log.tree_size():
            raise ApiError(
                404, "unknown_index", _("The log has no entry %(index)s.") % {"index": index}
            )
        if explicit:
            raise ApiError(
                400,
                "bad_parameter",
                _("The index must be smaller than the tree size."),
                "index",
            )
        raise ApiError(
            404,
            "not_in_tree_head",
            _(
                "Entry %(index)s is newer than the latest signed tree head (size %(size)s); "
                "the node signs a new head every minute."
            )
            % {"index": index, "size": size},
            "index",
        )
    proof = log.inclusion_proof(index, size)
    return _json(proof.as_json(), cache="public, max-age=3600" if explicit else "no-cache")


@_api
def consistency(request: HttpRequest) -> JsonResponse:
    first = _int(request, "first", required=True)
    assert first is not None
    second = _int(request, "second")
    explicit = second is not None
    if second is None:
        second = _signed_size()
    else:
        _size_in_log(second, "second")
    if first > second:
        raise ApiError(400, "bad_parameter", _("first must not be larger than second."), "first")
    proof = log.consistency_proof(first, second)
    return _json(proof.as_json(), cache="public, max-age=3600" if explicit else "no-cache")


# --- The proof page -------------------------------------------------------------------------

FIELD_LABELS: dict[str, Any] = {
    "time": gettext_lazy("Time"),
    "node": gettext_lazy("Node"),
    "side": gettext_lazy("Side"),
    "mid": gettext_lazy("Message id"),
    "client": gettext_lazy("Client system"),
    "service": gettext_lazy("Service"),
    "method": gettext_lazy("Method"),
    "path": gettext_lazy("Path"),
    "purpose": gettext_lazy("Purpose (legal basis)"),
    "dossier": gettext_lazy("Dossier"),
    "user": gettext_lazy("End user"),
    "subject": gettext_lazy("Data subject (personal ID)"),
    "status": gettext_lazy("HTTP status"),
    "error": gettext_lazy("Error code"),
    "duration_ms": gettext_lazy("Duration (ms)"),
    "request_sha256": gettext_lazy("Request digest (SHA-256)"),
    "response_sha256": gettext_lazy("Response digest (SHA-256)"),
    "request_signature": gettext_lazy("Request signature (JWS)"),
    "response_signature": gettext_lazy("Response signature (JWS)"),
    "v": gettext_lazy("Entry format"),
}
SIDES = {"client": gettext_lazy("Client side"), "provider": gettext_lazy("Provider side")}
LONG_FIELDS = {"request_sha256", "response_sha256", "request_signature", "response_signature"}


def may_see_entry(user: Any, entry: LogEntry) -> bool:
    """The entry's data subject, or a verified official who operates the exchange."""
    if not getattr(user, "is_authenticated", False):
        return False
    personal_id = getattr(user, "personal_id", "") or ""
    if entry.subject and personal_id == entry.subject:
        return True
    return can_use_workspace(user) and Perm.EXCHANGE_OPERATE in permissions(user)


def _fields(entry: LogEntry) -> list[dict[str, Any]]:
    try:
        data = json.loads(entry.entry)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    order = list(FIELD_LABELS)
    rows = []
    for key in sorted(data, key=lambda k: (order.index(k) if k in order else len(order), k)):
        value = data[key]
        if value in ("", None):
            continue
        shown: Any = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if key == "side":
            shown = SIDES.get(str(value), shown)
        elif key == "time" and isinstance(value, str):
            shown = parse_datetime(value) or value
        rows.append(
            {
                "key": key,
                "label": FIELD_LABELS.get(key, key),
                "value": shown,
                "long": key in LONG_FIELDS,
            }
        )
    return rows


def _jwks_url(request: HttpRequest) -> str:
    for name in ("exchange:jwks", "exchange:well_known_jwks"):
        try:
            return request.build_absolute_uri(reverse(name))
        except NoReverseMatch:
            continue
    return request.build_absolute_uri(JWKS_PATH)


@require_GET
def proof_page(request: HttpRequest, index: int) -> HttpResponse:
    entry = LogEntry.objects.filter(index=index).first()
    if entry is None:
        raise Http404
    leaf = bytes(entry.leaf_hash)
    problems: list[str] = []
    if not entry.archived and merkle.leaf_hash(entry.entry.encode()) != leaf:
        problems.append(_("The entry's content no longer matches its leaf hash."))
    head = TreeHead.objects.filter(tree_size__gt=index).order_by("-tree_size").first()
    proof = None
    signature_ok = False
    if head is not None:
        signature_ok = log.verify_tree_head(head) is not None
        if not signature_ok:
            problems.append(_("The tree head's signature is not this node's valid signature."))
        try:
            proof = log.inclusion_proof(index, head.tree_size)
        except (log.LogInconsistent, log.OutOfRange):
            problems.append(_("The log's stored hashes are incomplete; the operators are told."))
        else:
            if proof.leaf_hash != leaf:
                problems.append(_("The tree holds a different hash at this entry's position."))
            if not merkle.verify_inclusion(
                leaf, index, head.tree_size, proof.audit_path, bytes(head.root_hash)
            ):
                problems.append(_("The audit path does not lead to the signed root hash."))
    verdict = "problem" if problems else ("ok" if head is not None else "pending")
    urls: dict[str, str] = {
        "sth_latest": request.build_absolute_uri(reverse("exchange_log:sth")),
        "jwks": _jwks_url(request),
    }
    if head is not None:
        urls["sth"] = request.build_absolute_uri(
            reverse("exchange_log:sth_size", args=[head.tree_size])
        )
        urls["inclusion"] = request.build_absolute_uri(
            f"{reverse('exchange_log:inclusion')}?index={index}&tree_size={head.tree_size}"
        )
    visible = may_see_entry(request.user, entry)
    context = {
        "entry": entry,
        "visible": visible,
        "fields": _fields(entry) if visible and not entry.archived else [],
        "leaf_hex": leaf.hex(),
        "leaf_b64": log.b64(leaf),
        "head": head,
        "head_json": log.tree_head_json(head) if head is not None else None,
        "root_b64": log.b64(bytes(head.root_hash)) if head is not None else "",
        "signature_ok": signature_ok,
        "path": [log.b64(h) for h in proof.audit_path] if proof is not None else [],
        "verdict": verdict,
        "problems": problems,
        "urls": urls,
        "node_jwk": json.dumps(keys.node_public_jwk(), indent=2),
    }
    response = render(request, "exchange/log_proof.html", context)
    response["Cache-Control"] = "private, no-cache"
    return response
