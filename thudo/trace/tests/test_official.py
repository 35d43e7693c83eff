"""The agriculture department's view at /workspace/trace/: who may open it, the overview's
figures (per ward, OCOP, scans, stale batches, recalls), the CSV, the producer list's filters,
the batch page with the recall and lift forms, the indicators, the menu entry and the demo."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from thudo.accounts.models import Membership, User
from thudo.accounts.roles import ROLE_PERMISSIONS, Perm, Role
from thudo.accounts.testing import login_verified
from thudo.core.models import AdminUnit
from thudo.trace import indicators
from thudo.trace.models import Batch, Recall, ScanDay
from thudo.trace.recalls import recall_batch

from .test_consumer_factories import (
    Chain,
    build_chain,
    make_batch,
    make_producer,
    make_product,
)

pytestmark = pytest.mark.django_db

OVERVIEW = "/workspace/trace/"


@pytest.fixture
def snnmt(make_agency: Any) -> Any:
    return make_agency("HN-SNNMT", kind="department", name="Sở Nông nghiệp và Môi trường")


@pytest.fixture
def officer(snnmt: Any, make_official: Any) -> Any:
    return make_official(Role.FOOD_SAFETY_OFFICER, snnmt, username="attp")


@pytest.fixture
def chain(ward: Any) -> Chain:
    return build_chain(ward)


def signed_in(client: Any, user: Any) -> Any:
    login_verified(client, user)
    client.cookies["thudo_language"] = "en"
    return client


# --- access ----------------------------------------------------------------------------------


def test_who_may_open_the_view(client: Any, officer: Any, snnmt: Any, make_official: Any,
                               citizen: Any) -> None:  # fmt: skip
    assert client.get(OVERVIEW).status_code == 302  # to the sign-in page
    signed_in(client, citizen)
    assert client.get(OVERVIEW).status_code == 403
    auditor = make_official(Role.AUDITOR, snnmt)
    signed_in(client, auditor)
    assert client.get(OVERVIEW).status_code == 403
    assert client.get(reverse("trace_official:producers")).status_code == 403
    signed_in(client, officer)
    assert client.get(OVERVIEW).status_code == 200


# --- the overview ----------------------------------------------------------------------------


def test_overview_figures(client: Any, chain: Chain, officer: Any, ward: Any) -> None:
    other_ward = AdminUnit.objects.filter(parent=ward.parent).exclude(pk=ward.pk).first()
    assert other_ward is not None
    village = make_producer(other_ward, "Làng nghề Bát Tràng")
    make_product(village, 90, "Chè sen", ocop_stars=5)
    make_product(village, 91, "Mứt sen", ocop_stars=3)
    chain.f1.product.ocop_stars = 4
    chain.f1.product.save(update_fields=["ocop_stars"])
    today = timezone.localdate()
    ScanDay.objects.create(product=chain.p1.product, day=today, count=7)
    ScanDay.objects.create(product=chain.p1.product, day=today - timedelta(days=29), count=3)
    ScanDay.objects.create(product=chain.p1.product, day=today - timedelta(days=30), count=100)
    stale = make_batch(chain.r1.product, "OLD")
    Batch.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(days=60),
        last_event_at=timezone.now() - timedelta(days=40),
    )
    recall = recall_batch(batch=chain.r1, reason="Nhiễm khuẩn", user=officer)
    lifted = recall_batch(batch=chain.r2, reason="Sai nhãn", user=officer)
    from thudo.trace.recalls import lift_recall

    lift_recall(recall=lifted, reason="Đã sửa nhãn", user=officer)

    response = signed_in(client, officer).get(OVERVIEW)
    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals.producers == 5 and totals.products == 7
    assert totals.ocop == {3: 1, 4: 1, 5: 1}
    assert totals.scans == 10  # the 30 days to today, not the 31st day back
    assert totals.active_recalls == 1 and totals.lifted_recalls == 1
    wards = {r.ward: r for r in response.context["wards"]}
    assert wards[ward.name].producers == 4 and wards[ward.name].products == 5
    assert wards[ward.name].scans == 10 and wards[ward.name].ocop4 == 1
    assert wards[other_ward.name].producers == 1
    assert (wards[other_ward.name].ocop3, wards[other_ward.name].ocop5) == (1, 1)
    assert [t.scans for t in response.context["top"]] == [10]
    stale_lots = {b.lot for b in response.context["stale"]}
    assert "OLD" in stale_lots and "P1" not in stale_lots
    assert [r.pk for r in response.context["active"]] == [recall.pk]
    assert [r.pk for r in response.context["lifted"]] == [lifted.pk]
    assert response.context["active"][0].flagged == 4
    html = response.content.decode()
    assert ward.name in html and other_ward.name in html and "Bát Tràng" not in html
    assert reverse("trace_official:recall", args=[recall.pk]) in html


def test_ward_table_as_csv(client: Any, chain: Chain, officer: Any, ward: Any) -> None:
    response = signed_in(client, officer).get(OVERVIEW, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Ward / commune"
    assert rows[1][:3] == [ward.name, "4", "5"]


def test_producer_list_filters(client: Any, chain: Chain, officer: Any, ward: Any) -> None:
    other_ward = AdminUnit.objects.filter(parent=ward.parent).exclude(pk=ward.pk).first()
    assert other_ward is not None
    make_product(make_producer(other_ward, "Hộ Lê Văn Cường", kind="household"), 95, "Mật ong",
                 ocop_stars=3)  # fmt: skip
    signed_in(client, officer)
    url = reverse("trace_official:producers")

    def names(**query: Any) -> list[str]:
        response = client.get(url, query)
        assert response.status_code == 200
        return [p.name for p in response.context["rows"]]

    assert len(names()) == 5
    assert names(q="Xưởng") == ["Xưởng bột Đông Anh"]
    assert names(ward=other_ward.pk) == ["Hộ Lê Văn Cường"]
    assert names(kind="household") == ["Hộ Lê Văn Cường"]
    assert names(ocop="on") == ["Hộ Lê Văn Cường"]
    mill = client.get(url, {"q": "Xưởng"}).context["rows"][0]
    assert mill.products_count == 4


def test_producer_page(client: Any, chain: Chain, officer: Any) -> None:
    recall_batch(batch=chain.r1, reason="Nhiễm khuẩn", user=officer)
    response = signed_in(client, officer).get(
        reverse("trace_official:producer", args=[chain.mill.pk])
    )
    assert response.status_code == 200
    recalled = {b.lot: b.recalled for b in response.context["batches"]}
    assert recalled == {"B0": False, "F1": True, "N1": True, "P1": True}
    html = response.content.decode()
    assert reverse("trace_official:batch", args=[chain.f1.pk]) in html


# --- the batch page, recalls -----------------------------------------------------------------


def test_batch_find(client: Any, chain: Chain, officer: Any) -> None:
    signed_in(client, officer)
    url = reverse("trace_official:batch_find")
    found = client.get(url, {"gtin": chain.f1.product.gtin[1:], "lot": "F1"})
    assert found.status_code == 302
    assert found["Location"] == reverse("trace_official:batch", args=[chain.f1.pk])
    missing = client.get(url, {"gtin": chain.f1.product.gtin, "lot": "NOPE"})
    assert missing.status_code == 404
    assert "No batch has this GTIN and lot." in missing.content.decode()
    gtin = chain.f1.product.gtin
    bad = client.get(url, {"gtin": gtin[:-1] + str((int(gtin[-1]) + 1) % 10), "lot": "F1"})
    assert "check digit is wrong" in bad.content.decode()


def test_recall_from_the_batch_page(client: Any, chain: Chain, officer: Any) -> None:
    signed_in(client, officer)
    page = client.get(reverse("trace_official:batch", args=[chain.r1.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("trace_official:batch_recall", args=[chain.r1.pk]) in html
    assert 'for="id_reason"' in html
    assert 'data-stage="processing"' in html  # the journey is there

    empty = client.post(reverse("trace_official:batch_recall", args=[chain.r1.pk]), {"reason": ""})
    assert empty.status_code == 422
    assert "This field is required." in empty.content.decode()
    assert not Recall.objects.exists()

    done = client.post(
        reverse("trace_official:batch_recall", args=[chain.r1.pk]),
        {"reason": "Nhiễm khuẩn E. coli", "reason_en": "E. coli"},
    )
    recall = Recall.objects.get()
    assert done.status_code == 302
    assert done["Location"] == reverse("trace_official:recall", args=[recall.pk])
    detail = client.get(done["Location"])
    assert detail.status_code == 200
    assert detail.context["flag_count"] == 4
    assert "4 batches are flagged" in detail.content.decode()
    # The consumer page is red now.
    assert (
        'data-recalled="true"' in client.get(f"/01/{chain.f1.product.gtin}/10/F1").content.decode()
    )
    # Again: 409 with the reason.
    again = client.post(
        reverse("trace_official:batch_recall", args=[chain.r1.pk]), {"reason": "Lại"}
    )
    assert again.status_code == 409
    assert "already recalled" in again.content.decode()
    page = client.get(reverse("trace_official:batch", args=[chain.r1.pk])).content.decode()
    assert reverse("trace_official:recall_lift", args=[recall.pk]) in page  # the lift form now

    lift = client.post(reverse("trace_official:recall_lift", args=[recall.pk]), {"reason": "Đạt"})
    assert lift.status_code == 302
    recall.refresh_from_db()
    assert recall.lifted_at is not None and recall.lift_reason == "Đạt"
    twice = client.post(reverse("trace_official:recall_lift", args=[recall.pk]), {"reason": "x"})
    assert twice.status_code == 409
    assert "already lifted" in twice.content.decode()


def test_recall_needs_the_recall_permission(
    client: Any, chain: Chain, snnmt: Any, make_official: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An official who may look (TRACE_VIEW) but not recall gets a 403 and no form."""
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.AUDITOR, frozenset({Perm.WORKSPACE, Perm.TRACE_VIEW})
    )
    viewer = make_official(Role.AUDITOR, snnmt)
    signed_in(client, viewer)
    page = client.get(reverse("trace_official:batch", args=[chain.r1.pk]))
    assert page.status_code == 200
    assert reverse("trace_official:batch_recall", args=[chain.r1.pk]) not in page.content.decode()
    refused = client.post(
        reverse("trace_official:batch_recall", args=[chain.r1.pk]), {"reason": "Nhiễm khuẩn"}
    )
    assert refused.status_code == 403
    assert not Recall.objects.exists()
    assert (
        client.post(
            reverse("trace_official:batch_recall", args=[chain.r1.pk]), {"reason": ""}
        ).status_code
        == 403
    )


def test_recall_list(client: Any, chain: Chain, officer: Any) -> None:
    active = recall_batch(batch=chain.r1, reason="A", user=officer)
    signed_in(client, officer)
    response = client.get(reverse("trace_official:recalls"))
    assert [r.pk for r in response.context["rows"]] == [active.pk]
    assert client.get(reverse("trace_official:recalls"), {"state": "lifted"}).context["rows"] == []


# --- indicators, menu, demo ------------------------------------------------------------------


def test_indicators(chain: Chain, officer: Any) -> None:
    from django.core.cache import cache

    cache.clear()
    chain.p1.product.ocop_stars = 4
    chain.p1.product.save(update_fields=["ocop_stars"])
    ScanDay.objects.create(product=chain.p1.product, day=timezone.localdate(), count=5)
    recall = recall_batch(batch=chain.r1, reason="A", user=officer)
    codes = {i.code: i for i in indicators.INDICATORS}
    assert set(codes) == {
        "trace.producers",
        "trace.ocop_products",
        "trace.scans_30d",
        "trace.active_recalls",
    }
    assert codes["trace.producers"].compute() == 4
    assert codes["trace.ocop_products"].compute() == 1
    assert codes["trace.scans_30d"].compute() == 5
    assert codes["trace.active_recalls"].compute() == 1
    before = recall.decided_at - timedelta(seconds=1)
    assert codes["trace.active_recalls"].compute_at(before) == 0  # type: ignore[misc]
    long_ago = timezone.now() - timedelta(days=400)
    assert codes["trace.producers"].compute_at(long_ago) == 0  # type: ignore[misc]
    assert codes["trace.scans_30d"].compute_at(long_ago) == 0  # type: ignore[misc]
    assert all(i.compute_at is not None for i in indicators.INDICATORS)


def test_menu_entry() -> None:
    from thudo.trace.menus_official import OFFICIAL_MENU

    (entry,) = OFFICIAL_MENU
    assert entry.permission == Perm.TRACE_VIEW and entry.audience == "official"
    assert reverse(entry.url_name) == OVERVIEW


def test_demo_officer(snnmt: Any) -> None:
    from thudo.trace.demo_official import demo_load

    out = io.StringIO()
    demo_load(stdout=out)
    demo_load(stdout=out)
    user = User.objects.get(username="attp.snnmt")
    assert user.kind == User.Kind.OFFICIAL
    assert list(Membership.objects.filter(user=user).values_list("agency__code", "role")) == [
        ("HN-SNNMT", Role.FOOD_SAFETY_OFFICER)
    ]
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from thudo.accounts.demo import DEMO_PASSWORD, demo_totp_key

    devices = TOTPDevice.objects.filter(user=user, confirmed=True)
    assert [d.key for d in devices] == [demo_totp_key("attp.snnmt")]
    assert user.check_password(DEMO_PASSWORD)


def test_demo_officer_without_the_agency(db: Any) -> None:
    from thudo.trace.demo_official import demo_load

    out = io.StringIO()
    demo_load(stdout=out)
    assert "missing" in out.getvalue()
    assert not User.objects.filter(username="attp.snnmt").exists()
