"""Recalls: propagation downstream through transformations and aggregations (and not upstream
or sideways), set-based queries, notifications once per person, permissions, lifting."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from thudo.accounts.roles import Role
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.notifications.models import Notification
from thudo.trace import recalls
from thudo.trace.models import Batch, Recall, RecallFlag
from thudo.trace.recalls import derived_batches, lift_recall, recall_batch

from .test_consumer_factories import (
    Chain,
    aggregation_event,
    build_chain,
    capture,
    make_batch,
    make_place,
    make_producer,
    make_product,
    make_user,
    transformation_event,
    when,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(ward: Any) -> Chain:
    return build_chain(ward)


@pytest.fixture
def snnmt(make_agency: Any) -> Any:
    return make_agency("HN-SNNMT", kind="department", name="Sở Nông nghiệp và Môi trường")


@pytest.fixture
def officer(snnmt: Any, make_official: Any) -> Any:
    return make_official(Role.FOOD_SAFETY_OFFICER, snnmt)


def flags(recall: Recall) -> dict[str, tuple[int, int | None]]:
    return {
        f.batch.lot: (f.depth, f.via_event_id)
        for f in RecallFlag.objects.filter(recall=recall).select_related("batch")
    }


# --- propagation -----------------------------------------------------------------------------


def test_recall_follows_transformations_and_aggregations(chain: Chain, officer: Any) -> None:
    recall = recall_batch(batch=chain.r1, reason="Nhiễm khuẩn", user=officer)
    e = chain.events
    assert flags(recall) == {
        "R1": (0, None),
        "F1": (1, e["transform_f1"].pk),  # R1 was an input of F1
        "N1": (2, e["transform_n1"].pk),  # F1 was an input of N1
        "P1": (2, e["pack_p1"].pk),  # F1 was packed into P1
    }
    assert recall.agency.code == "HN-SNNMT"
    assert recall.decided_by == officer


def test_not_upstream_nor_sideways(chain: Chain, officer: Any) -> None:
    recall = recall_batch(batch=chain.f1, reason="Nấm mốc", user=officer)
    assert set(flags(recall)) == {"F1", "N1", "P1"}  # not its inputs R1 and B0, nor R2


def test_a_batch_with_nothing_derived(chain: Chain, officer: Any) -> None:
    recall = recall_batch(batch=chain.r2, reason="Sai nhãn", user=officer)
    assert flags(recall) == {"R2": (0, None)}


def test_levels_cost_two_queries_each_whatever_their_width(
    ward: Any, django_assert_max_num_queries: Any
) -> None:
    """One root → 60 outputs (one transformation) → 60 boxes (60 aggregations)."""
    producer = make_producer(ward, "Nhà máy chế biến")
    plant = make_place(producer, "HN-P-60", "plant")
    user = make_user("factory")
    root = make_batch(make_product(producer, 600, "Gạo"), "ROOT", place=plant)
    flour = make_product(producer, 601, "Bột")
    boxed = make_product(producer, 602, "Hộp")
    outputs = [make_batch(flour, f"F{n}", place=plant) for n in range(60)]
    boxes = [make_batch(boxed, f"B{n}", place=plant) for n in range(60)]
    capture(producer, user, transformation_event([root], outputs, place=plant, at=when(3)))
    capture(
        producer,
        user,
        *[
            aggregation_event(b, [o], place=plant, at=when(2))
            for o, b in zip(outputs, boxes, strict=True)
        ],
    )
    unrelated = make_batch(flour, "LONE", place=plant)
    with django_assert_max_num_queries(7):  # 3 levels x 2 queries + the empty frontier's one
        found = derived_batches(root.pk)
    assert len(found) == 121
    assert {found[b.pk].depth for b in boxes} == {2}
    assert unrelated.pk not in found


def test_cycles_end(ward: Any) -> None:
    producer = make_producer(ward, "Xưởng tái chế")
    plant = make_place(producer, "HN-P-70", "plant")
    user = make_user("cycler")
    product = make_product(producer, 700, "Phụ phẩm")
    a, b = make_batch(product, "A", place=plant), make_batch(product, "B", place=plant)
    capture(producer, user, transformation_event([a], [b], place=plant, at=when(3)))
    capture(producer, user, transformation_event([b], [a], place=plant, at=when(2)))
    found = derived_batches(a.pk)
    assert {pk: f.depth for pk, f in found.items()} == {a.pk: 0, b.pk: 1}


# --- notifications ---------------------------------------------------------------------------


def _notified(recall_title: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for username in Notification.objects.filter(title=recall_title).values_list(
        "user__username", flat=True
    ):
        counts[username] = counts.get(username, 0) + 1
    return counts


def test_producers_and_sellers_downstream_are_told_once(
    chain: Chain, officer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        recall_batch(batch=chain.r1, reason="Nhiễm khuẩn", user=officer)
    notes = Notification.objects.filter(title__contains="R1")
    by_user = {n.user.username: n for n in notes}
    # the farm (owns R1), the mill's owner and staff (own F1, N1, P1; received R1),
    # the shop (received and sold P1); once each, and nobody else
    assert sorted(by_user) == ["farmer", "mill.staff", "miller", "seller"]
    assert notes.count() == 4
    assert _notified(notes.first().title) == {  # type: ignore[union-attr]
        "farmer": 1,
        "mill.staff": 1,
        "miller": 1,
        "seller": 1,
    }
    assert by_user["miller"].url == f"/01/{chain.r1.product.gtin}/10/R1"
    mill_body = by_user["miller"].body
    for lot in ("R1", "F1", "N1", "P1"):
        assert f"/{lot}" in mill_body
    seller_body = by_user["seller"].body
    assert "(1):" in seller_body and "/P1" in seller_body  # only the box it received and sold
    assert "/F1" not in seller_body and "/R1" not in seller_body
    assert "(4):" in mill_body
    assert "Nhiễm khuẩn" in by_user["seller"].body
    # The e-mails go after commit, one per person.
    assert sorted(m.to[0] for m in mail.outbox) == [
        "farmer@example.vn",
        "mill.staff@example.vn",
        "miller@example.vn",
        "seller@example.vn",
    ]


def test_many_people_are_told_in_bulk(
    chain: Chain,
    officer: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(recalls, "NOTIFY_EACH_MAX", 1)
    with django_capture_on_commit_callbacks(execute=True):
        recall_batch(batch=chain.f1, reason="Nấm mốc", user=officer)
    notes = Notification.objects.filter(title__contains="F1")
    assert sorted(notes.values_list("user__username", flat=True)) == [
        "mill.staff",
        "miller",
        "seller",
    ]
    assert len(mail.outbox) == 3


def test_a_failed_recall_tells_nobody(chain: Chain, officer: Any) -> None:
    recall_batch(batch=chain.r1, reason="Lần đầu", user=officer)
    before = Notification.objects.count()
    with pytest.raises(InvalidTransition):
        recall_batch(batch=chain.r1, reason="Lần hai", user=officer)
    assert Notification.objects.count() == before
    assert Recall.objects.count() == 1


# --- rules -----------------------------------------------------------------------------------


def test_only_food_safety_officers_recall(
    chain: Chain, make_official: Any, make_agency: Any, snnmt: Any
) -> None:
    auditor = make_official(Role.AUDITOR, snnmt)
    for user in (chain.farm_user, auditor):
        with pytest.raises(PermissionDenied):
            recall_batch(batch=chain.r1, reason="x", user=user)
    assert not Recall.objects.exists() and not RecallFlag.objects.exists()
    assert not Notification.objects.exists()


def test_reason_is_required(chain: Chain, officer: Any) -> None:
    with pytest.raises(ValidationFailed) as error:
        recall_batch(batch=chain.r1, reason="   ", user=officer)
    assert "reason" in error.value.fields
    with pytest.raises(ValidationFailed) as error:
        recall_batch(batch=chain.r1, reason="x" * 2001, user=officer)
    assert "reason" in error.value.fields
    assert not Recall.objects.exists()


def test_audit_rows_and_lifting_keeps_the_history(chain: Chain, officer: Any) -> None:
    recall = recall_batch(batch=chain.r1, reason="Nhiễm khuẩn", user=officer)
    row = AuditEvent.objects.get(action="trace.recall")
    assert row.actor == officer and row.object_id == str(recall.pk)
    assert row.data["flagged"] == 4 and row.data["depth"] == 2
    with pytest.raises(InvalidTransition):  # already under its own recall
        recall_batch(batch=chain.r1, reason="Lại", user=officer)
    with pytest.raises(ValidationFailed):
        lift_recall(recall=recall, reason="", user=officer)
    with pytest.raises(PermissionDenied):
        lift_recall(recall=recall, reason="Đạt", user=chain.farm_user)

    told = Notification.objects.count()
    lifted = lift_recall(recall=recall, reason="Kiểm nghiệm lại đạt", user=officer)
    assert lifted.lifted_at is not None and lifted.lifted_by == officer
    assert lifted.lift_reason == "Kiểm nghiệm lại đạt"
    assert RecallFlag.objects.filter(recall=recall).count() == 4  # history kept
    assert AuditEvent.objects.filter(action="trace.recall_lift", object_id=str(recall.pk)).exists()
    assert Notification.objects.count() == told + 4  # the same four people hear of it
    assert Notification.objects.filter(body__contains="Kiểm nghiệm lại đạt").count() == 4
    with pytest.raises(InvalidTransition):
        lift_recall(recall=recall, reason="Lại", user=officer)
    # Lifted: the batch may be recalled again.
    again = recall_batch(batch=chain.r1, reason="Tái nhiễm", user=officer)
    assert again.pk != recall.pk
    assert recalls.active_recall_of(chain.r1) == again


def test_derived_batch_may_get_its_own_recall(chain: Chain, officer: Any) -> None:
    recall_batch(batch=chain.r1, reason="Nhiễm khuẩn", user=officer)
    own = recall_batch(batch=chain.p1, reason="Bao bì hỏng", user=officer)
    assert flags(own) == {"P1": (0, None)}
    assert Batch.objects.get(pk=chain.p1.pk).recall_flags.count() == 2
