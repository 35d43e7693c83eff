"""The monitoring API: who may read (dashboard readers with the second factor), the programme
tree in a fixed number of queries, a target with its series, snapshots, the headline, reported
values filtered by who asks, and submissions with their errors field by field."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import path, reverse
from django.utils import timezone, translation

from thudo.accounts import services as account_services
from thudo.accounts.roles import Role
from thudo.accounts.testing import login_verified
from thudo.core.registry import registry
from thudo.monitoring import selectors, services
from thudo.monitoring.models import Indicator, ReportedValue, Snapshot, Target

from . import factories, programme_fixtures
from .factories import pdf_bytes

media_root = factories.media_root
hn_agencies = programme_fixtures.hn_agencies
programme = programme_fixtures.programme

ROUTER = "thudo.monitoring.api.router"

# Until the manifest mounts the router at /api/monitoring/, the tests mount it themselves, on
# an API with the platform's error handlers, under the same URL names.
pytestmark: list[Any] = [pytest.mark.django_db]
if not any(m.router == ROUTER for m in registry.api_mounts()):
    from ninja import NinjaAPI

    from thudo.api.api import api as platform_api
    from thudo.monitoring.api import router as monitoring_router

    _test_api = NinjaAPI(urls_namespace="api", docs_url=None)
    for _exc, _handler in platform_api._exception_handlers.items():
        _test_api.add_exception_handler(_exc, _handler)
    _test_api.add_router("monitoring/", monitoring_router)
    urlpatterns = [path("api/", _test_api.urls)]
    pytestmark.append(pytest.mark.urls(__name__))


@pytest.fixture(autouse=True)
def english() -> Any:
    with translation.override("en"):
        yield


@pytest.fixture
def people(hn_agencies: dict[str, Any], make_official: Any) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(
        office=make_official(Role.MONITORING_OFFICER, hn_agencies["HN"], username="gs.tp"),
        skhcn=make_official(Role.MONITORING_OFFICER, hn_agencies["HN-SKHCN"], username="gs.kh"),
        stc=make_official(Role.MONITORING_OFFICER, hn_agencies["HN-STC"], username="gs.tc"),
        leader=make_official(Role.APPROVER, hn_agencies["HN"], username="lanhdao"),
        clerk=make_official(Role.RECEIVING_OFFICER, hn_agencies["HN-STP"], username="tiepnhan"),
    )


def _as(client: Any, user: Any) -> Any:
    login_verified(client, user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _open_period(code: str) -> Any:
    indicator = Indicator.objects.get(code=code)
    return selectors.periods_open(indicator=indicator).order_by("-start").first()


def _upload(name: str = "bao-cao.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf")


# --- who may read ------------------------------------------------------------------------------


def test_reads_need_the_second_factor_and_dashboard_view(
    client: Any, programme: Any, people: Any
) -> None:
    url = reverse("api:monitoring_programmes")
    assert client.get(url).status_code == 401
    client.force_login(people.office)  # no second factor
    assert client.get(url).status_code == 401
    response = _as(client, people.clerk).get(url)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert _as(client, people.leader).get(url).status_code == 200
    _token, raw = account_services.api_token_create(user=people.office, name="dashboards")
    client.logout()
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


# --- the programme tree, a target, snapshots, the headline -------------------------------------


def test_the_programme_tree_with_latest_snapshots(
    client: Any, programme: Any, people: Any, django_assert_max_num_queries: Any
) -> None:
    today = timezone.localdate()
    indicator = Indicator.objects.get(code="xhs-cap-quang-ho-gia-dinh")
    Snapshot.objects.create(indicator=indicator, date=today - timedelta(days=1), value=80)
    Snapshot.objects.create(
        indicator=indicator, date=today, value=Decimal("85.5"), status="achieved"
    )
    c = _as(client, people.leader)
    with django_assert_max_num_queries(15):
        body = c.get(reverse("api:monitoring_programmes")).json()
    assert [p["code"] for p in body] == ["nq-18-nq-tu-2022", "kh-239-kh-ubnd-2023"]
    resolution, plan = body
    assert plan["parent"] == "nq-18-nq-tu-2022" and plan["pillars"] == []
    assert resolution["monitoring_office"] == "HN"
    assert [p["name_en"] for p in resolution["pillars"]] == [
        "Digital government",
        "Digital economy",
        "Digital society",
        "Digitisation",
    ]
    targets = {t["code"]: t for p in resolution["pillars"] for t in p["targets"]}
    assert len(targets) == 19
    broadband = targets["xhs-cap-quang-ho-gia-dinh-2025"]
    assert broadband["target_value"] == 80.0 and broadband["agency"] == "HN-SKHCN"
    (ind,) = broadband["indicators"]
    assert ind["kind"] == "reported" and ind["frequency"] == "quarterly"
    assert ind["latest"] == {
        "date": today.isoformat(),
        "value": 85.5,
        "status": "achieved",
        "forecast_value": None,
    }
    live = targets["cqs-ho-so-truc-tuyen-2026"]["indicators"][0]
    assert live["source"] == "dossiers.online_rate" and live["latest"] is None


def test_one_target_with_its_series_tasks_and_values(
    client: Any, programme: Any, people: Any
) -> None:
    today = timezone.localdate()
    indicator = Indicator.objects.get(code="cqs-thanh-tra-so")
    for n in range(3):
        Snapshot.objects.create(indicator=indicator, date=today - timedelta(days=n), value=30 + n)
    period = _open_period("cqs-thanh-tra-so")
    snv = people.stc  # (HN-STC does not report this one; the office may, from HN above it)
    assert snv is not None
    services.reported_value_submit(
        user=people.office,
        indicator=indicator,
        period=period,
        value="41",
        unit="%",
        evidence=_upload(),
    )
    c = _as(client, people.leader)
    body = c.get(reverse("api:monitoring_target", args=["cqs-thanh-tra-so-2025"])).json()
    assert body["pillar"] == "chinh-quyen-so" and body["programme"] == "nq-18-nq-tu-2022"
    assert body["unit"] == "%" and body["deadline"] == "2025-12-31"
    assert [p["value"] for p in body["series"][0]["points"]] == [32.0, 31.0, 30.0]
    assert len(body["tasks"]) == 2 and all(t["agency"] == "HN-SNV" for t in body["tasks"])
    assert body["reported"] == []  # waiting: not for a leader outside the agency and office
    office = _as(client, people.office).get(
        reverse("api:monitoring_target", args=["cqs-thanh-tra-so-2025"]), {"days": 2}
    )
    data = office.json()
    assert [r["value"] for r in data["reported"]] == [41.0]
    assert len(data["series"][0]["points"]) == 2
    assert c.get(reverse("api:monitoring_target", args=["nope"])).status_code == 404


def test_snapshots_and_headline(client: Any, programme: Any, people: Any) -> None:
    today = timezone.localdate()
    indicator = Indicator.objects.get(code="xhs-cap-quang-phuong-xa")
    for n in range(5):
        Snapshot.objects.create(indicator=indicator, date=today - timedelta(days=n), value=96 + n)
    c = _as(client, people.office)
    url = reverse("api:monitoring_snapshots", args=["xhs-cap-quang-phuong-xa"])
    assert [s["value"] for s in c.get(url).json()] == [100.0, 99.0, 98.0, 97.0, 96.0]
    assert len(c.get(url, {"days": 2}).json()) == 2
    assert c.get(url, {"days": 0}).status_code == 422
    missing = reverse("api:monitoring_snapshots", args=["nope"])
    assert c.get(missing).status_code == 404

    Target.objects.filter(code="xhs-cap-quang-phuong-xa-2025").update(status="achieved")
    Target.objects.filter(code="kts-ty-trong-grdp-2030").update(status="at_risk")
    body = c.get(reverse("api:monitoring_headline")).json()
    assert body["programme"] == "nq-18-nq-tu-2022"
    assert body["total"] == 19
    assert sum(body["by_status"].values()) == 19
    assert body["achieved"] == body["by_status"]["achieved"] == 1
    assert body["by_status"]["at_risk"] == 1 and body["by_status"]["no_data"] == 17
    assert body["text"] == "1 of 19 targets achieved"


# --- reported values ---------------------------------------------------------------------------


def test_reported_values_are_filtered_by_who_asks(client: Any, programme: Any, people: Any) -> None:
    broadband = Indicator.objects.get(code="xhs-cap-quang-ho-gia-dinh")
    grdp = Indicator.objects.get(code="kts-ty-trong-grdp-uoc-quy")
    period = _open_period(broadband.code)
    waiting = services.reported_value_submit(
        user=people.skhcn,
        indicator=broadband,
        period=period,
        value="84",
        unit="%",
        evidence=_upload(),
    )
    estimate = services.reported_value_submit(
        user=people.stc,
        indicator=grdp,
        period=_open_period(grdp.code),
        value="27.5",
        unit="%",
        evidence=_upload(),
    )
    services.reported_value_approve(user=people.office, reported=estimate)
    url = reverse("api:monitoring_reported")

    def ids(user: Any, **params: Any) -> set[int]:
        body = _as(client, user).get(url, params).json()
        assert body["count"] == len(body["items"])
        return {r["id"] for r in body["items"]}

    assert ids(people.leader) == {estimate.pk}
    assert ids(people.stc) == {estimate.pk}
    assert ids(people.skhcn) == {estimate.pk, waiting.pk}
    assert ids(people.office) == {estimate.pk, waiting.pk}
    assert ids(people.office, state="submitted") == {waiting.pk}
    assert ids(people.office, indicator=grdp.code) == {estimate.pk}
    assert ids(people.office, agency="HN-SKHCN") == {waiting.pk}
    assert ids(people.skhcn, mine="true") == {waiting.pk}
    item = _as(client, people.skhcn).get(url, {"state": "submitted"}).json()["items"][0]
    assert item["indicator"] == broadband.code and item["agency"] == "HN-SKHCN"
    assert item["period"]["id"] == period.pk and item["state_label"] == "Waiting for approval"
    assert item["evidence_name"] == "bao-cao.pdf" and item["value"] == 84.0
    assert _as(client, people.office).get(url, {"state": "bad"}).status_code == 422


def test_an_agency_submits_a_value_with_evidence(client: Any, programme: Any, people: Any) -> None:
    period = _open_period("xhs-cap-quang-ho-gia-dinh")
    c = _as(client, people.skhcn)
    response = c.post(
        reverse("api:monitoring_report_submit"),
        {
            "indicator": "xhs-cap-quang-ho-gia-dinh",
            "period": str(period.pk),
            "value": "86,5",
            "unit": " % ",
            "note": "Số ước tính.",
            "evidence": _upload("so-lieu.pdf"),
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "submitted" and body["value"] == 86.5
    assert body["submitted_by"] == "Cán bộ Thử" and body["note"] == "Số ước tính."
    stored = ReportedValue.objects.get(pk=body["id"])
    assert stored.evidence.name and stored.evidence_name == "so-lieu.pdf"
    again = c.post(
        reverse("api:monitoring_report_submit"),
        {
            "indicator": "xhs-cap-quang-ho-gia-dinh",
            "period": str(period.pk),
            "value": "87",
            "unit": "%",
            "evidence": _upload(),
        },
    )
    assert again.status_code == 422
    assert set(again.json()["fields"]) == {"period"}  # one is waiting already


def test_submission_errors_field_by_field(client: Any, programme: Any, people: Any) -> None:
    url = reverse("api:monitoring_report_submit")
    c = _as(client, people.skhcn)
    empty = c.post(url, {})
    assert empty.status_code == 422
    assert set(empty.json()["fields"]) == {"indicator", "period", "value"}
    unknown = c.post(url, {"indicator": "nope", "period": "x", "value": "1"})
    assert set(unknown.json()["fields"]) == {"indicator", "period"}
    period = _open_period("xhs-cap-quang-ho-gia-dinh")
    computed = c.post(
        url, {"indicator": "cqs-ho-so-truc-tuyen", "period": str(period.pk), "value": "1"}
    )
    assert set(computed.json()["fields"]) == {"indicator"}  # computed, never reported
    yearly = programme.periods.filter(frequency="yearly").order_by("start").first()
    bad = c.post(
        url,
        {
            "indicator": "xhs-cap-quang-ho-gia-dinh",
            "period": str(yearly.pk),
            "value": "120",
            "unit": "hộ",
        },
    )
    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {"period", "value", "unit", "evidence"}
    extra = c.post(
        url,
        {
            "indicator": "xhs-cap-quang-ho-gia-dinh",
            "period": str(period.pk),
            "value": "80",
            "unit": "%",
            "other": _upload(),
        },
    )
    assert set(extra.json()["fields"]) == {"other"}
    assert not ReportedValue.objects.exists()


def test_a_period_that_is_not_a_plain_number_is_refused(
    client: Any, programme: Any, people: Any
) -> None:
    url = reverse("api:monitoring_report_submit")
    c = _as(client, people.skhcn)
    form = {"indicator": "xhs-cap-quang-ho-gia-dinh", "value": "80", "unit": "%"}
    for bad in ("²", "9" * 30):  # digits to str.isdigit, not to int() or the database
        answer = c.post(url, {**form, "period": bad, "evidence": _upload()})
        assert answer.status_code == 422
        assert set(answer.json()["fields"]) == {"period"}
    assert not ReportedValue.objects.exists()


def test_only_the_indicators_agency_submits(client: Any, programme: Any, people: Any) -> None:
    url = reverse("api:monitoring_report_submit")
    period = _open_period("xhs-cap-quang-ho-gia-dinh")
    form = {
        "indicator": "xhs-cap-quang-ho-gia-dinh",
        "period": str(period.pk),
        "value": "80",
        "unit": "%",
    }
    other = _as(client, people.stc).post(url, {**form, "evidence": _upload()})
    assert other.status_code == 403
    leader = _as(client, people.leader).post(url, {**form, "evidence": _upload()})
    assert leader.status_code == 403  # reads dashboards, reports nothing
    assert not ReportedValue.objects.exists()
