"""Integrity: chains recompute, anchors sign, and every kind of tampering is named."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import translation

from thudo.exchange import keys
from thudo.trace import integrity
from thudo.trace.epcis.capture import capture_events
from thudo.trace.models import Anchor, AnchorItem, Event, EventLink
from thudo.trace.tasks import anchor as anchor_task

from .test_epcis_support import *  # noqa: F403 — the shared fixtures
from .test_epcis_support import (
    GTIN_A,
    GTIN_B,
    make_batch,
    make_product,
    object_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> Any:
    """The problems are asserted in English (the catalogue would show them in Vietnamese)."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def anchor_key_file(tmp_path: Any, settings: Any) -> Any:
    settings.TRACE_ANCHOR_KEY_FILE = str(tmp_path / "trace-anchor-key.json")
    integrity.reset_key_cache()
    yield
    integrity.reset_key_cache()


@pytest.fixture
def history(coop: Any, farmer: Any, batch_a: Any, farm: Any) -> list[Event]:
    steps = ["commissioning", "inspecting", "packing", "shipping"]
    events = [
        object_event(
            GTIN_A,
            "L001",
            biz_step=step,
            action="ADD" if n == 0 else "OBSERVE",
            place=farm,
            minutes_ago=200 - n,
        )
        for n, step in enumerate(steps)
    ]
    return capture_events(events=events, producer=coop, user=farmer).events


def _audit(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("trace", "audit", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_clean_batch_verifies_and_anchors(batch_a: Any, history: list[Event]) -> None:
    before = integrity.batch_integrity(batch_a)
    assert before.ok and before.events == 4 and before.anchored_at is None
    anchor = integrity.anchor_now()
    assert anchor is not None and anchor.item_count == 1
    item = AnchorItem.objects.get(anchor=anchor)
    assert (
        item.seq == 4 and item.chain_hash == EventLink.objects.get(batch=batch_a, seq=4).chain_hash
    )
    claims = keys.verify(anchor.signature, integrity.anchor_public_jwk())
    assert claims["root"] == anchor.root_hash and claims["items"] == 1
    after = integrity.batch_integrity(batch_a)
    assert after.ok and after.anchored_events == 4 and after.anchored_at == anchor.created_at
    assert integrity.anchor_now() is None  # nothing moved
    code, out = _audit()
    assert code == 0 and "OK: 4 events, 1 batch chains and 1 anchors verified." in out
    code, out = _audit("--batch", f"{GTIN_A}/L001")
    assert code == 0 and "4 events, 4 anchored" in out


def test_anchor_again_after_new_events(
    coop: Any, farmer: Any, batch_a: Any, farm: Any, history: list[Event]
) -> None:
    integrity.anchor_now()
    other = make_batch(make_product(coop, GTIN_B, name="Dưa"), "P1", farm)
    capture_events(
        events=[
            object_event(GTIN_A, "L001", action="OBSERVE", biz_step="receiving", minutes_ago=10),
            object_event(GTIN_B, "P1", minutes_ago=9),
        ],
        producer=coop,
        user=farmer,
    )
    anchor = anchor_task()
    assert anchor == 2
    assert integrity.batch_integrity(batch_a).anchored_events == 5
    assert integrity.batch_integrity(other).anchored_events == 1
    assert integrity.batch_integrity(other).ok


def test_edited_document_is_caught(batch_a: Any, history: list[Event]) -> None:
    integrity.anchor_now()
    victim = history[1]
    document = dict(victim.document)
    document["bizStep"] = "destroying"
    Event.objects.filter(pk=victim.pk).update(document=document)
    verdict = integrity.batch_integrity(batch_a)
    assert not verdict.ok and verdict.bad_event_id == victim.event_id
    assert victim.event_id in str(verdict.problem)
    code, out = _audit()
    assert code == 1 and victim.event_id in out
    code, out = _audit("--batch", f"{GTIN_A}/L001")
    assert code == 1 and victim.event_id in out


def test_edit_with_recomputed_id_breaks_the_chain(batch_a: Any, history: list[Event]) -> None:
    """Even a forger who recomputes the event's hash cannot fix the chain links after it."""
    from thudo.trace.epcis import hashing

    victim = history[0]
    document = dict(victim.document)
    document["disposition"] = "destroyed"
    document["eventID"] = hashing.event_hash(document)
    Event.objects.filter(pk=victim.pk).update(document=document, event_id=document["eventID"])
    verdict = integrity.batch_integrity(batch_a)
    assert not verdict.ok and "link 1" in str(verdict.problem)


def test_removed_link_is_caught(batch_a: Any, history: list[Event]) -> None:
    EventLink.objects.filter(batch=batch_a, seq=2).delete()
    verdict = integrity.batch_integrity(batch_a)
    assert not verdict.ok and "removed" in str(verdict.problem)
    assert _audit()[0] == 1


def test_reordered_links_are_caught(batch_a: Any, history: list[Event]) -> None:
    links = {link.seq: link for link in EventLink.objects.filter(batch=batch_a)}
    EventLink.objects.filter(pk=links[2].pk).update(seq=100)
    EventLink.objects.filter(pk=links[3].pk).update(seq=2)
    EventLink.objects.filter(pk=links[2].pk).update(seq=3)
    verdict = integrity.batch_integrity(batch_a)
    assert not verdict.ok and verdict.bad_event_id == history[2].event_id


def test_truncated_chain_after_anchor_is_caught(batch_a: Any, history: list[Event]) -> None:
    integrity.anchor_now()
    EventLink.objects.filter(batch=batch_a, seq=4).delete()
    verdict = integrity.batch_integrity(batch_a)
    assert not verdict.ok and "anchored" in str(verdict.problem)


def test_forged_anchor_signature_is_caught(batch_a: Any, history: list[Event]) -> None:
    anchor = integrity.anchor_now()
    assert anchor is not None
    forger = keys.generate_key()
    forged = keys.sign(integrity.anchor_claims(anchor), key=forger)
    Anchor.objects.filter(pk=anchor.pk).update(signature=forged)
    verdict = integrity.batch_integrity(batch_a)
    assert not verdict.ok and "signature" in str(verdict.problem)
    code, out = _audit()
    assert code == 1 and f"anchor {anchor.pk}" in out


def test_changed_anchor_root_or_items_is_caught(batch_a: Any, history: list[Event]) -> None:
    anchor = integrity.anchor_now()
    assert anchor is not None
    Anchor.objects.filter(pk=anchor.pk).update(root_hash="0" * 64)
    assert not integrity.batch_integrity(batch_a).ok
    Anchor.objects.filter(pk=anchor.pk).update(root_hash=anchor.root_hash)
    integrity.reset_key_cache()
    assert integrity.batch_integrity(batch_a).ok
    # a consistent forgery of events and the anchored head fails the signed Merkle root
    third = EventLink.objects.get(batch=batch_a, seq=3)
    AnchorItem.objects.filter(anchor=anchor).update(seq=F("seq") - 1, chain_hash=third.chain_hash)
    EventLink.objects.filter(batch=batch_a, seq=4).delete()
    integrity.reset_key_cache()
    verdict = integrity.batch_integrity(batch_a)
    assert not verdict.ok and "Merkle" in str(verdict.problem)


def test_anchor_command(batch_a: Any, history: list[Event]) -> None:
    out = io.StringIO()
    call_command("trace", "anchor", stdout=out)
    assert "Anchored 1 batch chains" in out.getvalue()
    out = io.StringIO()
    call_command("trace", "anchor", stdout=out)
    assert "Nothing to anchor" in out.getvalue()


def test_large_anchors_are_checked_by_signature_on_pages(
    settings: Any, batch_a: Any, history: list[Event]
) -> None:
    settings.TRACE_INTEGRITY_MERKLE_MAX = 0  # every anchor counts as large
    anchor = integrity.anchor_now()
    assert anchor is not None
    assert integrity.batch_integrity(batch_a).ok
    Anchor.objects.filter(pk=anchor.pk).update(root_hash="0" * 64)
    integrity.reset_key_cache()
    assert not integrity.batch_integrity(batch_a).ok  # the signed root no longer matches
    Anchor.objects.filter(pk=anchor.pk).update(root_hash=anchor.root_hash)
    AnchorItem.objects.filter(anchor=anchor).update(position=7)
    integrity.reset_key_cache()
    assert integrity.batch_integrity(batch_a).ok  # the page's light check does not see this
    assert not integrity.batch_integrity(batch_a, full=True).ok
    assert _audit()[0] == 1  # the auditor does
