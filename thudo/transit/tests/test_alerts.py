"""Service alerts: validation naming every bad field, ids checked against the active timetable,
permissions, audit rows, updates and ending, and which alerts are in force for riders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from thudo.accounts.roles import Role
from thudo.core.errors import InvalidTransition, PermissionDenied, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.transit import alerts
from thudo.transit.models import Feed, Route, ServiceAlert, Stop

pytestmark = pytest.mark.django_db


@pytest.fixture
def timetable() -> Feed:
    feed = Feed.objects.create(name="Hà Nội thử", version=1, status=Feed.Status.ACTIVE)
    for route_id, number in (("R32", "32"), ("R09", "09")):
        Route.objects.create(feed=feed, route_id=route_id, short_name=number)
    for stop_id, name in (("S1", "Cầu Giấy"), ("S2", "Chùa Láng")):
        Stop.objects.create(feed=feed, stop_id=stop_id, name=name, lat=21.03, lon=105.80)
    # an older version's route is not a route of the active timetable
    old = Feed.objects.create(name="cũ", version=0, status=Feed.Status.REPLACED)
    Route.objects.create(feed=old, route_id="R99", short_name="99")
    return feed


@pytest.fixture
def operator(make_agency: Any, make_official: Any) -> Any:
    agency = make_agency("HN-SXD", kind="department", name="Sở Xây dựng")
    return make_official(Role.TRANSIT_OPERATOR, agency)


def create(actor: Any, **values: Any) -> ServiceAlert:
    defaults: dict[str, Any] = {
        "header": "Tuyến 32 đi vòng do thi công",
        "cause": "CONSTRUCTION",
        "effect": "DETOUR",
        "severity": "WARNING",
    }
    return alerts.alert_create(actor=actor, **{**defaults, **values})


def fields_of(excinfo: Any) -> dict[str, list[str]]:
    return dict(excinfo.value.as_dict()["fields"])


def test_create(timetable: Feed, operator: Any) -> None:
    until = timezone.now() + timedelta(days=3)
    alert = create(
        operator,
        header="  Tuyến 32 đi vòng  ",
        header_en="Route 32 detours",
        description="Không dừng tại Chùa Láng.",
        url="https://transerco.vn/tb/32",
        route_ids=["R32", "R32", " R09 "],
        stop_ids=("S2",),
        cause="construction",
        active_until=until,
    )
    alert.refresh_from_db()
    assert alert.header == "Tuyến 32 đi vòng"
    assert alert.route_ids == ["R32", "R09"]
    assert alert.stop_ids == ["S2"]
    assert alert.cause == "CONSTRUCTION"
    assert alert.created_by == operator
    assert alert.active_until == until
    assert alerts.alert_state(alert) == "active"
    event = AuditEvent.objects.get(action="transit.alert.create")
    assert event.object_id == str(alert.pk)
    assert event.actor == operator
    assert event.to_state == "active"
    assert event.data["route_ids"] == ["R32", "R09"]


def test_create_reports_every_bad_field(timetable: Feed, operator: Any) -> None:
    now = timezone.now()
    with pytest.raises(ValidationFailed) as excinfo:
        alerts.alert_create(
            actor=operator,
            header="   ",
            header_en="x" * 201,
            url="ftp://example.org/x",
            cause="ALIENS",
            effect="DETOUR",
            severity="LOUD",
            route_ids=["R32", "R99", "R404"],
            stop_ids=["S1", "S404"],
            active_from=now,
            active_until=now - timedelta(hours=1),
        )
    errors = fields_of(excinfo)
    assert set(errors) == {
        "header",
        "header_en",
        "url",
        "cause",
        "severity",
        "route_ids",
        "stop_ids",
        "active_until",
    }
    assert "R99" in errors["route_ids"][0] and "R404" in errors["route_ids"][0]
    assert "R32" not in errors["route_ids"][0]
    assert "S404" in errors["stop_ids"][0]
    assert "200" in errors["header_en"][0]
    assert ServiceAlert.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="transit.alert").exists()


def test_create_checks_times(timetable: Feed) -> None:
    now = timezone.now()
    with pytest.raises(ValidationFailed) as excinfo:
        create(None, active_until=now - timedelta(minutes=1), active_from=now - timedelta(hours=2))
    assert list(fields_of(excinfo)) == ["active_until"]
    with pytest.raises(ValidationFailed) as excinfo:
        create(None, active_from=datetime(2030, 1, 1, 8, 0))  # noqa: DTZ001 — the point
    assert list(fields_of(excinfo)) == ["active_from"]
    later = create(None, active_from=now + timedelta(days=1))
    assert alerts.alert_state(later) == "scheduled"


def test_ids_need_an_active_timetable() -> None:
    with pytest.raises(ValidationFailed) as excinfo:
        create(None, route_ids=["R32"])
    assert list(fields_of(excinfo)) == ["route_ids"]
    # a network-wide alert needs no timetable
    assert create(None).route_ids == []


def test_permission(timetable: Feed, make_official: Any) -> None:
    stranger = make_official()
    with pytest.raises(PermissionDenied):
        create(stranger)
    assert ServiceAlert.objects.count() == 0


def test_update(timetable: Feed, operator: Any) -> None:
    alert = create(operator, route_ids=["R32"])
    updated = alerts.alert_update(
        actor=operator,
        alert=alert,
        header_en="Route 32 detours",
        stop_ids=["S1"],
        effect="NO_SERVICE",
    )
    assert updated.header_en == "Route 32 detours"
    assert updated.stop_ids == ["S1"]
    assert updated.route_ids == ["R32"]
    event = AuditEvent.objects.get(action="transit.alert.update")
    assert event.data["changed"] == ["effect", "header_en", "stop_ids"]
    # nothing changed: no audit row
    alerts.alert_update(actor=operator, alert=updated, header_en="Route 32 detours")
    assert AuditEvent.objects.filter(action="transit.alert.update").count() == 1

    with pytest.raises(ValidationFailed) as excinfo:
        alerts.alert_update(actor=operator, alert=alert, stop_ids=["S404"], created_by=None)
    assert set(fields_of(excinfo)) == {"created_by"}
    with pytest.raises(ValidationFailed) as excinfo:
        alerts.alert_update(actor=operator, alert=alert, stop_ids=["S404"])
    assert set(fields_of(excinfo)) == {"stop_ids"}


def test_update_keeps_ids_of_an_older_timetable(timetable: Feed) -> None:
    alert = create(None, route_ids=["R32"])
    Route.objects.filter(route_id="R32").delete()  # the timetable changed since
    alerts.alert_update(actor=None, alert=alert, header="Đã sửa")  # ids not given: not checked
    alert.refresh_from_db()
    assert alert.header == "Đã sửa" and alert.route_ids == ["R32"]


def test_end(timetable: Feed, operator: Any) -> None:
    alert = create(operator, route_ids=["R32"])
    assert alerts.active_alerts(route_ids=["R32"]) == [alert]
    ended = alerts.alert_end(actor=operator, alert=alert)
    assert ended.ended_at is not None
    assert ended.active_until is not None and ended.active_until <= timezone.now()
    assert alerts.alert_state(ended) == "ended"
    assert alerts.active_alerts(route_ids=["R32"]) == []
    assert alerts.published_alerts() == []
    event = AuditEvent.objects.get(action="transit.alert.end")
    assert (event.from_state, event.to_state) == ("active", "ended")
    with pytest.raises(InvalidTransition):
        alerts.alert_end(actor=operator, alert=alert)
    with pytest.raises(InvalidTransition):
        alerts.alert_update(actor=operator, alert=alert, header="Lại")


def test_active_alerts(timetable: Feed) -> None:
    now = timezone.now()
    route = create(None, header="Tuyến 32", route_ids=["R32"], severity="INFO")
    stop = create(None, header="Điểm Chùa Láng", stop_ids=["S2"], severity="SEVERE")
    network = create(None, header="Toàn mạng", severity="WARNING")
    future = create(None, header="Ngày mai", route_ids=["R32"], active_from=now + timedelta(days=1))
    expired = ServiceAlert.objects.create(
        header="Hết hạn",
        route_ids=["R32"],
        active_from=now - timedelta(days=2),
        active_until=now - timedelta(days=1),
    )

    assert alerts.active_alerts() == [stop, network, route]  # most severe first
    assert alerts.active_alerts(route_ids=["R32"]) == [network, route]
    assert alerts.active_alerts(stop_ids=["S2"]) == [stop, network]
    assert alerts.active_alerts(route_ids=["R09"], stop_ids=["S2"]) == [stop, network]
    assert alerts.active_alerts(route_ids=[]) == [network]
    assert future in alerts.published_alerts()  # announced in the feed
    assert expired not in alerts.published_alerts()
    assert alerts.alert_state(expired) == "expired"
    assert future in alerts.active_alerts(now=now + timedelta(days=2))
