"""The operator's control snapshot (operations.py) and the vehicle and device services
(devices.py): late, early and bunched buses, headways against the timetable and at stops,
ghosts, silent devices, rejected reports per device, a bounded number of queries; vehicle and
device registration with field errors, tokens shown once and stored hashed, rotation,
switching off, audit rows."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.translation import override

from thudo.core.errors import InvalidTransition, ValidationFailed
from thudo.core.models import AuditEvent
from thudo.transit import devices, operations
from thudo.transit.engine.types import TZ
from thudo.transit.models import (
    Calendar,
    Device,
    Feed,
    IngestCounter,
    Route,
    Shape,
    Stop,
    StopArrival,
    StopTime,
    Trip,
    Vehicle,
    VehicleState,
)
from thudo.transit.tokens import hash_token

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 10)  # a Tuesday
NOW = datetime.combine(TODAY, time(10, 0), tzinfo=TZ)
SOD = 10 * 3600  # seconds of the service day at NOW
STOP_DISTS = (0.0, 1000.0, 2000.0, 3000.0)  # four stops 1 km apart, 3 minutes each


def build_feed(trips: int = 10) -> Feed:
    """Route R1 ("32"): a trip every 10 minutes from 09:00; route R2 ("09"): every 15 minutes,
    no bus on the road."""
    feed = Feed.objects.create(name="Hà Nội thử", version=1, status=Feed.Status.ACTIVE)
    Calendar.objects.create(
        feed=feed,
        service_id="ALL",
        **{d: True for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
        saturday=True,
        sunday=True,
        start_date=TODAY - timedelta(days=30),
        end_date=TODAY + timedelta(days=30),
    )
    stops = [
        Stop.objects.create(
            feed=feed, stop_id=f"S{i}", name=f"Điểm dừng {i}", lat=21.0 + i / 100, lon=105.8
        )
        for i in range(4)
    ]
    points = [[21.0 + i * 0.0009, 105.8, i * 100.0] for i in range(31)]  # 3 km north, 100 m apart
    shape = Shape.objects.create(feed=feed, shape_id="SH1", points=points, length_m=3000)
    for route_id, number, every in (("R1", "32", 600), ("R2", "09", 900)):
        route = Route.objects.create(
            feed=feed, route_id=route_id, short_name=number, long_name=f"Tuyến {number}"
        )
        for i in range(trips):
            start = SOD - 3600 + i * every
            trip = Trip.objects.create(
                feed=feed,
                trip_id=f"{route_id}-T{i}",
                route=route,
                service_id="ALL",
                headsign="Bến xe Giáp Bát",
                direction_id=0,
                block_id=f"B{i}",
                shape=shape,
                start_s=start,
                end_s=start + 540,
            )
            StopTime.objects.bulk_create(
                StopTime(
                    trip=trip,
                    stop=stop,
                    stop_sequence=seq + 1,
                    arrival_s=start + seq * 180,
                    departure_s=start + seq * 180,
                    dist_m=STOP_DISTS[seq],
                )
                for seq, stop in enumerate(stops)
            )
    return feed


def bus(
    code: str,
    *,
    status: str = "in_service",
    trip: str = "",
    dist: float | None = None,
    deviation: int | None = 0,
    age_s: float = 10,
    next_stop: str = "S2",
    plate: str = "",
) -> Vehicle:
    vehicle = Vehicle.objects.create(code=code, label=code, license_plate=plate)
    VehicleState.objects.create(
        vehicle=vehicle,
        recorded_at=NOW - timedelta(seconds=age_s),
        lat=21.01,
        lon=105.8,
        status=status,
        trip_id=trip,
        route_id="R1" if trip else "",
        direction_id=0 if trip else None,
        dist_m=dist,
        deviation_s=deviation,
        next_stop_id=next_stop if trip else "",
    )
    return vehicle


@pytest.fixture
def fleet() -> dict[str, Vehicle]:
    build_feed()
    return {
        "A": bus("HN-A", trip="R1-T5", dist=2500, deviation=400, plate="29B-111.11"),
        "B": bus("HN-B", trip="R1-T6", dist=2400, deviation=30),
        "C": bus("HN-C", trip="R1-T7", dist=500, deviation=-200),
        "D": bus("HN-D", status="layover", trip="R1-T8", dist=0, deviation=0),
        "E": bus("HN-E", trip="R1-T4", dist=2900, age_s=600),  # silent: a ghost
        "G": bus("HN-G", status="ghost", age_s=2 * 86400),  # off the road since yesterday
        "F": Vehicle.objects.create(code="HN-F"),  # never reported
    }


def test_snapshot_vehicles_late_early_and_ghosts(fleet: dict[str, Vehicle]) -> None:
    snap = operations.control_snapshot(now=NOW)
    codes = {v["code"]: v for v in snap["vehicles"]}
    assert set(codes) == {"HN-A", "HN-B", "HN-C", "HN-D", "HN-E"}  # on the road
    assert snap["counts"]["never_reported"] == 1 and snap["counts"]["off_road"] == 1
    assert codes["HN-E"]["status"] == "ghost"  # silent for 600 s > TRANSIT_GHOST_AFTER_S
    assert [v["code"] for v in snap["ghosts"]] == ["HN-E"]
    assert [v["code"] for v in snap["late"]] == ["HN-A"]
    assert [v["code"] for v in snap["early"]] == ["HN-C"]
    a = codes["HN-A"]
    assert a["route_short_name"] == "32" and a["headsign"] == "Bến xe Giáp Bát"
    assert a["next_stop_name"] == "Điểm dừng 2"
    assert a["delay_text"].startswith("+") and a["age_s"] == 10
    assert datetime.fromisoformat(a["recorded_at"]) == NOW - timedelta(seconds=10)
    counts = snap["counts"]
    assert (counts["in_service"], counts["layover"], counts["ghost"]) == (3, 1, 1)
    assert (counts["late"], counts["early"]) == (1, 1)
    assert snap["feed"] == {"name": "Hà Nội thử", "version": 1}


def test_headways_and_bunching(fleet: dict[str, Vehicle]) -> None:
    snap = operations.control_snapshot(now=NOW)
    codes = {v["code"]: v for v in snap["vehicles"]}
    # B is 100 m behind A: 18 s on B's timetable; C is 1,900 m behind B: 342 s
    assert codes["HN-B"]["headway_s"] == 18 and codes["HN-C"]["headway_s"] == 342
    assert codes["HN-A"]["headway_s"] is None  # the first bus: nobody ahead on the road
    assert codes["HN-A"]["bunched"] and codes["HN-B"]["bunched"]
    assert not codes["HN-C"]["bunched"]
    assert len(snap["bunching"]) == 1
    pair = snap["bunching"][0]
    assert (pair["ahead"]["code"], pair["behind"]["code"]) == ("HN-A", "HN-B")
    assert pair["headway_s"] == 18 and pair["scheduled_headway_s"] == 600
    routes = {(r["route_id"], r["direction_id"]): r for r in snap["routes"]}
    r1 = routes[("R1", 0)]
    assert r1["vehicles"] == 4  # in service and at the terminus, not the ghost
    assert r1["scheduled_headway_s"] == 600
    assert r1["headway_s"] == 180 and r1["min_headway_s"] == 18  # median of 18 and 342
    assert (r1["late"], r1["early"], r1["bunching"]) == (1, 1, 1)
    # a route scheduled now with no bus on the road is listed, with its timetable headway
    r2 = routes[("R2", 0)]
    assert r2["vehicles"] == 0 and r2["scheduled_headway_s"] == 900 and r2["headway_s"] is None
    assert [r["short_name"] for r in snap["routes"]] == ["09", "32"]


def test_observed_headway_at_stops(fleet: dict[str, Vehicle]) -> None:
    for key, ago in (("A", 1000), ("B", 700), ("C", 300), ("D", 5000)):  # D: over an hour
        StopArrival.objects.create(
            vehicle=fleet[key],
            trip_id=f"trip-{key}",
            route_id="R1",
            direction_id=0,
            service_date=TODAY,
            stop_id="S2",
            stop_sequence=3,
            arrived_at=NOW - timedelta(seconds=ago),
        )
    snap = operations.control_snapshot(now=NOW)
    r1 = next(r for r in snap["routes"] if r["route_id"] == "R1")
    assert r1["stop_headway_s"] == 350  # gaps of 300 s and 400 s


def test_silent_devices_and_rejects(fleet: dict[str, Vehicle]) -> None:
    recent = Device.objects.create(
        vehicle=fleet["A"], device_id="GPS-A", token_hash="x", last_seen_at=NOW
    )
    Device.objects.create(
        vehicle=fleet["E"], device_id="GPS-E", token_hash="x", last_seen_at=NOW - timedelta(hours=1)
    )
    Device.objects.create(
        vehicle=fleet["B"],
        device_id="GPS-B",
        token_hash="x",
        last_seen_at=NOW - timedelta(minutes=10),
    )
    Device.objects.create(vehicle=fleet["F"], device_id="GPS-F", token_hash="x")  # never
    Device.objects.create(
        vehicle=fleet["G"], device_id="GPS-G", token_hash="x", last_seen_at=NOW - timedelta(days=2)
    )  # off duty since the day before yesterday
    Device.objects.create(
        vehicle=fleet["C"], device_id="GPS-OFF", token_hash="x", is_active=False
    )  # switched off: not silent, just off
    for key, outcome, n in (
        ("GPS-A", "accepted", 500),
        ("GPS-A", "duplicate", 4),
        ("GPS-A", "too_old", 2),
        ("GPS-A", "bad_token", 5),
        ("GPS-X", "bad_token", 9),  # a device we do not know
        ("GPS-B", "accepted", 10),
    ):
        IngestCounter.objects.create(
            device_key=key, outcome=outcome, count=n, last_at=NOW, last_detail=f"{outcome} detail"
        )
    snap = operations.control_snapshot(now=NOW)
    silent = [d["device_id"] for d in snap["silent_devices"]]
    assert silent == ["GPS-B", "GPS-E", "GPS-G", "GPS-F"]
    never = snap["silent_devices"][-1]
    assert never["age_s"] is None and never["last_seen_at"] is None
    assert snap["counts"]["silent_devices"] == 4
    assert snap["counts"]["silent_recent"] == 2  # B and E went silent today
    assert [(r["device_key"], r["rejected"]) for r in snap["rejects"]] == [
        ("GPS-X", 9),
        ("GPS-A", 7),
    ]
    gps_a = snap["rejects"][1]
    assert gps_a["accepted"] == 500 and gps_a["outcomes"] == {"bad_token": 5, "too_old": 2}
    assert gps_a["outcomes_text"].index("5") < gps_a["outcomes_text"].index("2")
    assert snap["counts"]["rejected"] == 16
    assert recent.device_id not in {d["device_id"] for d in snap["silent_devices"]}


def test_route_lines_and_bounds() -> None:
    feed = build_feed()
    lines = operations.route_lines(feed, step_m=250)
    assert [(line["route_id"], line["short_name"]) for line in lines] == [
        ("R1", "32"),
        ("R2", "09"),
    ]
    points = lines[0]["points"]
    assert points[0] == [21.0, 105.8] and points[-1] == [21.027, 105.8]  # the ends are kept
    assert len(points) == 11  # 0, 300, 600 … 3,000 m: the next point 250 m or more on
    assert operations.map_bounds(feed) == [[21.0, 105.8], [21.03, 105.8]]


def test_snapshot_without_a_timetable() -> None:
    bus("HN-Z", status="unassigned")
    snap = operations.control_snapshot(now=NOW)
    assert snap["feed"] is None and snap["routes"] == []
    assert [v["code"] for v in snap["vehicles"]] == ["HN-Z"]
    assert operations.map_bounds(None) is None


def test_snapshot_queries_do_not_grow_with_the_fleet() -> None:
    build_feed()

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            operations.control_snapshot(now=NOW)
        return len(ctx.captured_queries)

    for i in range(3):
        v = bus(f"HN-{i}", trip=f"R1-T{i}", dist=100.0 * i)
        Device.objects.create(vehicle=v, device_id=f"GPS-{i}", token_hash="x")
    few = queries()
    for i in range(3, 30):
        v = bus(f"HN-{i}", trip=f"R1-T{i % 10}", dist=100.0 * i)
        Device.objects.create(vehicle=v, device_id=f"GPS-{i}", token_hash="x")
        IngestCounter.objects.create(device_key=f"GPS-{i}", outcome="too_old", count=1)
    assert queries() == few <= 14


@override("en")
def test_format_helpers() -> None:
    assert operations.format_duration(None) == "—"
    assert operations.format_duration(45) == "45 s"
    assert operations.format_duration(600) == "10 min"
    assert operations.format_duration(3900) == "1 h 05 min"
    assert operations.format_delay(30) == "on schedule"
    assert operations.format_delay(400) == "+7 min"
    assert operations.format_delay(-130) == "−2 min"


# --- vehicles and devices ---------------------------------------------------------------------


def test_vehicle_create(operator: Any) -> None:
    vehicle = devices.vehicle_create(
        actor=operator,
        code=" HN-B01 ",
        label="B01",
        license_plate="29b-123.45",
        operator="Transerco",
    )
    assert vehicle.code == "HN-B01" and vehicle.license_plate == "29B-123.45"
    assert VehicleState.objects.filter(vehicle=vehicle).exists()
    event = AuditEvent.objects.get(action="transit.vehicle.create")
    assert event.actor == operator and event.object_id == str(vehicle.pk)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "HN B01"}, "code"),
        ({"code": "-HN"}, "code"),
        ({"code": "x" * 65}, "code"),
        ({"code": "hn-b01"}, "code"),  # taken (ids are compared without case)
        ({"code": "HN-B02", "license_plate": "2" * 21}, "license_plate"),
    ],
)
def test_vehicle_create_field_errors(operator: Any, values: dict[str, str], field: str) -> None:
    devices.vehicle_create(actor=operator, code="HN-B01")
    with pytest.raises(ValidationFailed) as excinfo:
        devices.vehicle_create(actor=operator, **values)  # type: ignore[arg-type]
    assert list(excinfo.value.fields) == [field]
    assert Vehicle.objects.count() == 1


def test_device_register_rotate_deactivate(operator: Any) -> None:
    vehicle = devices.vehicle_create(actor=operator, code="HN-B01")
    device, token = devices.device_register(actor=operator, vehicle=vehicle, device_id="GPS-B01")
    assert len(token) >= 32 and device.token_hash == hash_token(token)
    assert device.token_hint == token[-4:] and token not in str(
        list(AuditEvent.objects.values_list("data", flat=True))
    )
    with pytest.raises(ValidationFailed) as excinfo:
        devices.device_register(actor=operator, vehicle=vehicle, device_id="gps-b01")
    assert list(excinfo.value.fields) == ["device_id"]
    with pytest.raises(ValidationFailed) as excinfo:
        devices.device_register(actor=operator, vehicle=vehicle, device_id="GPS/1")
    assert list(excinfo.value.fields) == ["device_id"]

    new = devices.device_rotate_token(actor=operator, device=device)
    device.refresh_from_db()
    assert new != token and device.token_hash == hash_token(new)

    devices.device_deactivate(actor=operator, device=device)
    device.refresh_from_db()
    assert not device.is_active
    with pytest.raises(InvalidTransition):
        devices.device_deactivate(actor=operator, device=device)
    again = devices.device_rotate_token(actor=operator, device=device)  # switches it on again
    device.refresh_from_db()
    assert device.is_active and device.token_hash == hash_token(again)
    actions = list(
        AuditEvent.objects.filter(object_id=str(device.pk), action__startswith="transit.device")
        .order_by("pk")
        .values_list("action", "from_state", "to_state")
    )
    assert actions == [
        ("transit.device.register", "", "active"),
        ("transit.device.rotate_token", "active", "active"),
        ("transit.device.deactivate", "active", "inactive"),
        ("transit.device.rotate_token", "inactive", "active"),
    ]


def test_device_on_a_vehicle_out_of_service(operator: Any) -> None:
    vehicle = Vehicle.objects.create(code="HN-OLD", is_active=False)
    with pytest.raises(ValidationFailed) as excinfo:
        devices.device_register(actor=operator, vehicle=vehicle, device_id="GPS-OLD")
    assert list(excinfo.value.fields) == ["vehicle"]


@pytest.fixture
def operator(make_agency: Any, make_official: Any) -> Any:
    from thudo.accounts.roles import Role

    agency = make_agency("HN-SXD", kind="department", name="Sở Xây dựng")
    return make_official(Role.TRANSIT_OPERATOR, agency)
