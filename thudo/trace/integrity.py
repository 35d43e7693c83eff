"""Integrity of the trace records: each batch's hash chain, the platform's signed anchors, and
the auditor's recomputation (docs/trace.md, "Integrity").

- Every event's canonical hash (epcis.hashing) is recomputed from its stored document; an event
  whose id is a hash must still have it.
- Each batch's links must run seq 1..n without gaps, and each ``chain_hash`` must equal
  ``sha256(previous chain_hash + event hash)`` recomputed from the documents.
- An anchor (hourly) takes the chain head of every batch whose chain moved since its last anchor
  as a leaf ``"<GTIN>|<lot>|<seq>|<chain_hash>"`` of an RFC 9162 Merkle tree (SHA-256) and signs
  ``{"typ": "thudo.trace.anchor", "created_at", "root", "items"}`` with the trace anchor key (JWS,
  EdDSA; settings.TRACE_ANCHOR_KEY_FILE). A batch is "nothing altered since <anchor time>" when
  its chain recomputes to the anchored head, the anchor's leaves give its root, and the
  signature over that root verifies.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from thudo.exchange import keys, merkle

from .epcis import hashing
from .epcis.capture import chain_next
from .epcis.serialize import iso
from .epcis.validate import interpolate
from .models import Anchor, AnchorItem, Batch, Event, EventLink

ANCHOR_TYPE = "thudo.trace.anchor"
ANCHOR_MARGIN = timedelta(minutes=10)


# --- the anchor key -------------------------------------------------------------------------


def _key_path() -> Path:
    default = Path(getattr(settings, "VAR_DIR", Path("var"))) / "trace-anchor-key.json"
    return Path(getattr(settings, "TRACE_ANCHOR_KEY_FILE", None) or default)


@cache
def _anchor_key(path: str) -> keys.Key:
    file = Path(path)
    if file.exists():
        return keys.import_jwk(json.loads(file.read_text()))
    file.parent.mkdir(parents=True, exist_ok=True)
    key = keys.generate_key()
    data = dict(key.as_dict(private=True))
    data["kid"] = key.thumbprint()
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first
        return keys.import_jwk(json.loads(file.read_text()))
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return key


def anchor_key() -> keys.Key:
    """The platform's trace anchor key (read from, or on first use written to, its file)."""
    return _anchor_key(str(_key_path()))


def anchor_public_jwk() -> dict[str, Any]:
    return keys.public_jwk(anchor_key())


def reset_key_cache() -> None:
    _anchor_key.cache_clear()
    _verified_anchors.clear()
    _signed_ok.clear()


# --- Merkle tree over anchor items ----------------------------------------------------------


def leaf_data(gtin: str, lot: str, seq: int, chain_hash: str) -> bytes:
    return f"{gtin}|{lot}|{seq}|{chain_hash}".encode()


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes (thudo.exchange.merkle's hashing)."""

    def mth(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaves[start]
        k = 1 << ((end - start - 1).bit_length() - 1)
        return merkle.node_hash(mth(start, start + k), mth(start + k, end))

    return mth(0, len(leaves)) if leaves else merkle.EMPTY_ROOT


def _anchor_leaves(anchor: Anchor) -> list[bytes]:
    rows = (
        AnchorItem.objects.filter(anchor=anchor)
        .order_by("position")
        .values_list("batch__product__gtin", "batch__lot", "seq", "chain_hash")
    )
    return [merkle.leaf_hash(leaf_data(*row)) for row in rows]


def anchor_claims(anchor: Anchor) -> dict[str, Any]:
    return {
        "typ": ANCHOR_TYPE,
        "created_at": iso(anchor.created_at),
        "root": anchor.root_hash,
        "items": anchor.item_count,
    }


MSG_BAD_SIGNATURE = _("The signature of the anchor of %(time)s does not verify.")

# Verified anchors: (pk, root, signature) → leaf hashes, so a page showing a batch's verdict
# re-reads only that batch's item. A few recent anchors are kept per process.
_verified_anchors: OrderedDict[tuple[int, str, str], list[bytes]] = OrderedDict()
_VERIFIED_MAX = 16
_cache_lock = threading.Lock()


MSG_ANCHOR_CHANGED = _("The anchor of %(time)s was changed after it was signed.")
MSG_ANCHOR_ROOT = _("The anchored chain heads of %(time)s no longer give the signed Merkle root.")

# Anchors whose signature verified: (pk, root, signature, claims) — a few hundred per process.
_signed_ok: OrderedDict[tuple[Any, ...], bool] = OrderedDict()


def verify_signature(anchor: Anchor) -> tuple[bool, Promise | str]:
    """The anchor key signed exactly this anchor's claims (time, root, number of items)."""
    claims = anchor_claims(anchor)
    cache_key = (anchor.pk, anchor.root_hash, anchor.signature, tuple(sorted(claims.items())))
    if _signed_ok.get(cache_key):
        return True, ""
    try:
        signed = keys.verify(anchor.signature, anchor_key())
    except Exception:  # joserfc raises several kinds; any failure means "not our signature"
        return False, interpolate(MSG_BAD_SIGNATURE, time=_when(anchor))
    if signed != claims:
        return False, interpolate(MSG_ANCHOR_CHANGED, time=_when(anchor))
    with _cache_lock:  # gunicorn runs threads
        _signed_ok[cache_key] = True
        while len(_signed_ok) > 512:
            _signed_ok.popitem(last=False)
    return True, ""


def verify_anchor(anchor: Anchor) -> tuple[bool, Promise | str, list[bytes]]:
    """(ok, problem, leaves): the signature verifies over the anchor's claims and the items'
    Merkle root equals the signed root."""
    cache_key = (anchor.pk, anchor.root_hash, anchor.signature)
    known = _verified_anchors.get(cache_key)
    if known is not None:
        return True, "", known
    ok, problem = verify_signature(anchor)
    if not ok:
        return False, problem, []
    leaves = _anchor_leaves(anchor)
    if len(leaves) != anchor.item_count or merkle_root(leaves).hex() != anchor.root_hash:
        return False, interpolate(MSG_ANCHOR_ROOT, time=_when(anchor)), []
    with _cache_lock:
        _verified_anchors[cache_key] = leaves
        while len(_verified_anchors) > _VERIFIED_MAX:
            _verified_anchors.popitem(last=False)
    return True, "", leaves


def full_check_limit() -> int:
    """Anchors up to this many items have their whole Merkle tree recomputed by
    batch_integrity (once per process, then cached); larger ones (the first anchor of a big
    history) only their signature and the batch's own item — `thudo trace audit` always
    recomputes every tree."""
    return int(getattr(settings, "TRACE_INTEGRITY_MERKLE_MAX", 50_000))


def _when(anchor: Anchor) -> str:
    return timezone.localtime(anchor.created_at).strftime("%Y-%m-%d %H:%M")


# --- one batch ------------------------------------------------------------------------------


@dataclass
class BatchIntegrity:
    ok: bool
    events: int
    anchored_events: int
    anchored_at: datetime | None
    problem: str | Promise = ""
    bad_event_id: str = ""  # the first event found altered or out of place, if any


def _event_ok(event_id: str, document: Any) -> tuple[bool, str]:
    """(unchanged, canonical hash) of a stored event."""
    if not isinstance(document, dict):
        return False, ""
    canonical = hashing.event_hash(document)
    if (
        hashing.is_event_hash(event_id)
        and event_id != canonical
        and event_id != hashing.legacy_event_hash(document)
    ):
        return False, canonical
    if document.get("eventID") not in (None, event_id):
        return False, canonical
    return True, canonical


MSG_EVENT_ALTERED = _("Event %(event)s was altered: its document no longer matches its hash.")
MSG_CHAIN_GAP = _("Link %(seq)s of the chain is missing (found %(found)s): a link was removed.")
MSG_CHAIN_BROKEN = _(
    "The chain breaks at link %(seq)s (event %(event)s): a link was removed, reordered or changed."
)
MSG_TRUNCATED = _(
    "The chain has %(count)s links but %(anchored)s were anchored: links were removed."
)
MSG_HEAD_CHANGED = _("The chain no longer matches its anchored head at link %(seq)s.")
MSG_LEAF_CHANGED = _("This batch's anchored chain head was changed after it was signed.")


def batch_integrity(batch: Batch, *, full: bool = False) -> BatchIntegrity:
    """Recompute the batch's event hashes and chain and check them against its latest anchor
    (its signature, and its Merkle root unless the anchor is larger than full_check_limit();
    `full` always recomputes the root, as the audit does)."""
    links = list(
        EventLink.objects.filter(batch=batch)
        .order_by("seq")
        .values_list("seq", "chain_hash", "event__event_id", "event__document")
    )
    count = len(links)
    chain_at: dict[int, str] = {}
    previous = ""
    for position, (seq, chain_hash, event_id, document) in enumerate(links, start=1):
        unchanged, canonical = _event_ok(event_id, document)
        if not unchanged:
            return BatchIntegrity(
                False, count, 0, None, interpolate(MSG_EVENT_ALTERED, event=event_id), event_id
            )
        if seq != position:
            return BatchIntegrity(
                False,
                count,
                0,
                None,
                interpolate(MSG_CHAIN_GAP, seq=position, found=seq),
                event_id,
            )
        previous = chain_next(previous, canonical)
        if previous != chain_hash:
            return BatchIntegrity(
                False,
                count,
                0,
                None,
                interpolate(MSG_CHAIN_BROKEN, seq=seq, event=event_id),
                event_id,
            )
        chain_at[seq] = chain_hash
    item = (
        AnchorItem.objects.filter(batch=batch)
        .select_related("anchor", "batch__product")
        .order_by("-anchor__created_at", "-anchor_id")
        .first()
    )
    if item is None:
        return BatchIntegrity(True, count, 0, None)
    anchor = item.anchor
    if item.seq > count:
        return BatchIntegrity(
            False,
            count,
            item.seq,
            anchor.created_at,
            interpolate(MSG_TRUNCATED, count=count, anchored=item.seq),
        )
    if chain_at.get(item.seq) != item.chain_hash:
        return BatchIntegrity(
            False,
            count,
            item.seq,
            anchor.created_at,
            interpolate(MSG_HEAD_CHANGED, seq=item.seq),
        )
    cached = (anchor.pk, anchor.root_hash, anchor.signature) in _verified_anchors
    if not full and not cached and anchor.item_count > full_check_limit():
        ok, problem = verify_signature(anchor)
        if not ok:
            return BatchIntegrity(False, count, item.seq, anchor.created_at, problem)
        return BatchIntegrity(True, count, item.seq, anchor.created_at)
    ok, problem, leaves = verify_anchor(anchor)
    if not ok:
        return BatchIntegrity(False, count, item.seq, anchor.created_at, problem)
    leaf = merkle.leaf_hash(leaf_data(batch.product.gtin, batch.lot, item.seq, item.chain_hash))
    if item.position >= len(leaves) or leaves[item.position] != leaf:
        return BatchIntegrity(False, count, item.seq, anchor.created_at, MSG_LEAF_CHANGED)
    return BatchIntegrity(True, count, item.seq, anchor.created_at)


# --- anchoring ------------------------------------------------------------------------------


def _moved_batches() -> list[tuple[int, str, str, int, str]]:
    """(batch pk, GTIN, lot, head seq, head chain hash) of every batch whose chain grew since
    its last anchor. Only batches linked to events recorded since shortly before the previous
    anchor can have moved (the margin covers captures still committing then)."""
    links = EventLink.objects.all()
    previous = Anchor.objects.order_by("-created_at").first()
    if previous is not None:
        since = previous.created_at - ANCHOR_MARGIN
        links = links.filter(event__record_time__gte=since)
    candidates = links.values("batch_id").distinct()
    head = EventLink.objects.filter(batch=OuterRef("pk")).order_by("-seq")
    last = AnchorItem.objects.filter(batch=OuterRef("pk")).order_by(
        "-anchor__created_at", "-anchor_id"
    )
    rows = (
        Batch.objects.filter(pk__in=candidates)
        .annotate(
            head_seq=Subquery(head.values("seq")[:1]),
            head_hash=Subquery(head.values("chain_hash")[:1]),
            anchored_seq=Subquery(last.values("seq")[:1]),
        )
        .order_by("pk")
        .values_list("pk", "product__gtin", "lot", "head_seq", "head_hash", "anchored_seq")
    )
    return [
        (pk, gtin, lot, seq, chain)
        for pk, gtin, lot, seq, chain, anchored in rows
        if seq is not None and (anchored is None or seq > anchored)
    ]


def anchor_now() -> Anchor | None:
    """Sign the chain head of every batch whose chain moved since its last anchor (one Anchor,
    one AnchorItem per batch); None when nothing moved."""
    with transaction.atomic():
        moved = _moved_batches()
        if not moved:
            return None
        anchor = Anchor.objects.create(
            created_at=timezone.now(), item_count=len(moved), root_hash="", signature=""
        )
        leaves = [merkle.leaf_hash(leaf_data(g, lot, s, h)) for _pk, g, lot, s, h in moved]
        AnchorItem.objects.bulk_create(
            AnchorItem(anchor=anchor, batch_id=pk, seq=s, chain_hash=h, position=n)
            for n, (pk, _g, _lot, s, h) in enumerate(moved)
        )
        anchor.root_hash = merkle_root(leaves).hex()
        anchor.signature = keys.sign(anchor_claims(anchor), key=anchor_key(), typ="JWT")
        anchor.save(update_fields=["root_hash", "signature"])
    return anchor


# --- the auditor's command ------------------------------------------------------------------


def _write(stdout: Any, line: str) -> None:
    if stdout is not None:
        stdout.write(line + "\n")


def _batch_label(batch: Batch) -> str:
    return f"{batch.product.gtin}/{batch.lot}"


def _batches(batch: Batch | None) -> Iterator[Batch]:
    if batch is not None:
        yield batch
        return
    ids = EventLink.objects.values("batch_id").distinct()
    yield from (
        Batch.objects.filter(pk__in=ids)
        .select_related("product")
        .order_by("pk")
        .iterator(chunk_size=500)
    )


def audit(*, batch: Batch | None = None, stdout: Any = None) -> int:
    """Recompute everything (or one batch): every event's hash, every batch chain, every
    anchor's signature and Merkle root. Writes what it finds; returns 0 when all is intact, 1
    naming the first problem of each kind otherwise."""
    failures = 0
    events = 0
    if batch is None:
        for event_id, document in Event.objects.values_list("event_id", "document").iterator(
            chunk_size=2000
        ):
            events += 1
            unchanged, _canonical = _event_ok(event_id, document)
            if not unchanged:
                failures += 1
                _write(stdout, "ALTERED " + str(interpolate(MSG_EVENT_ALTERED, event=event_id)))
                break
        anchors = 0
        for anchor in Anchor.objects.order_by("created_at").iterator(chunk_size=100):
            anchors += 1
            ok, problem, _leaves = verify_anchor(anchor)
            if not ok:
                failures += 1
                _write(stdout, f"ALTERED anchor {anchor.pk}: {problem}")
                break
    chains = 0
    for each in _batches(batch):
        chains += 1
        verdict = batch_integrity(each, full=True)
        if not verdict.ok:
            failures += 1
            _write(stdout, f"ALTERED batch {_batch_label(each)}: {verdict.problem}")
            if verdict.bad_event_id:
                _write(stdout, f"  first bad event: {verdict.bad_event_id}")
            break
    if failures:
        return 1
    if batch is None:
        _write(
            stdout,
            f"OK: {events} events, {chains} batch chains and {anchors} anchors verified.",
        )
    else:
        verdict = batch_integrity(batch)
        when = iso(verdict.anchored_at) if verdict.anchored_at else "never"
        _write(
            stdout,
            f"OK: batch {_batch_label(batch)}: {verdict.events} events, "
            f"{verdict.anchored_events} anchored (last anchor: {when}).",
        )
    return 0
