"""GTFS-realtime feeds: every message is parsed back with gtfs_realtime_pb2 and checked against
the GTFS-realtime best practices (header, freshness, ghosts, descriptors, stop time updates in
order and increasing, uncertainty, pairing between feeds, alerts), then the HTTP endpoints
(content types, JSON, ETag/Last-Modified, 304) and the static GTFS re-export."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from google.transit import gtfs_realtime_pb2 as rt

from thudo.transit import feeds, views_feeds
from thudo.transit.engine.types import TZ
from thudo.transit.models import (
    Agency,
    Calendar,
    Feed,
    Prediction,
    RealtimeStamp,
    Route,
    ServiceAlert,
    Shape,
    Stop,
    StopArrival,
    StopTime,
    Trip,
    Vehicle,
    VehicleState,
)

pytestmark = pytest.mark.django_db

S = VehicleState.Status
# Stops along Đường Láng (roughly), 400-500 m apart; S2 is served twice by the loop trip.
STOPS = [
    ("S1", "Bến xe Mỹ Đình", 21.0285, 105.7785),
    ("S2", "Cầu Giấy", 21.0300, 105.7990),
    ("S3", "Chùa Láng", 21.0235, 105.8050),
    ("S4", "Láng Hạ", 21.0170, 105.8120),
    ("S5", "Ngã Tư Sở", 21.0030, 105.8200),
    ("S6", "Hồ Gươm", 21.0287, 105.8523),
]


@dataclass
class World:
    now: datetime
    feed: Feed
    vehicles: dict[str, Vehicle] = field(default_factory=dict)


def _vehicle(code: str, label: str = "", plate: str = "") -> Vehicle:
    return Vehicle.objects.create(code=code, label=label, license_plate=plate, operator="Transerco")


def _state(vehicle: Vehicle, **values: Any) -> VehicleState:
    return VehicleState.objects.create(vehicle=vehicle, **values)


def _predict(
    vehicle: Vehicle,
    trip_id: str,
    day: date,
    rows: list[tuple[int, str, datetime, datetime, int]],
    route_id: str = "R32",
) -> None:
    Prediction.objects.bulk_create(
        Prediction(
            vehicle=vehicle,
            trip_id=trip_id,
            route_id=route_id,
            direction_id=0,
            service_date=day,
            stop_id=stop_id,
            stop_sequence=seq,
            arrival=arr,
            departure=dep,
            uncertainty_s=unc,
        )
        for seq, stop_id, arr, dep, unc in rows
    )


def build_world(now: datetime | None = None) -> World:
    """A small active feed, and vehicles in every state the feeds must handle."""
    now = (now or timezone.now()).replace(microsecond=0)
    today = now.astimezone(TZ).date()
    feed = Feed.objects.create(
        name="Hà Nội thử", version=7, status=Feed.Status.ACTIVE, sha256="ab" * 32
    )
    agency = Agency.objects.create(
        feed=feed,
        agency_id="TRANSERCO",
        name="Tổng công ty Vận tải Hà Nội",
        url="https://transerco.vn",
        lang="vi",
    )
    route = Route.objects.create(
        feed=feed, route_id="R32", agency=agency, short_name="32", long_name="Giáp Bát – Nhổn"
    )
    Route.objects.create(feed=feed, route_id="R09", agency=agency, short_name="09")
    stops = {
        sid: Stop.objects.create(feed=feed, stop_id=sid, code=sid, name=name, lat=lat, lon=lon)
        for sid, name, lat, lon in STOPS
    }
    Calendar.objects.create(
        feed=feed,
        service_id="ALL",
        **dict.fromkeys(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], True
        ),
        start_date=date(2025, 1, 1),
        end_date=date(2030, 12, 31),
    )
    shape = Shape.objects.create(
        feed=feed,
        shape_id="SH32",
        points=[[lat, lon, i * 450.0] for i, (_s, _n, lat, lon) in enumerate(STOPS)],
        length_m=2250,
    )
    for trip_id, order in (("T1", ["S1", "S2", "S3", "S4", "S2", "S6"]), ("T2", STOPS)):
        trip = Trip.objects.create(
            feed=feed,
            trip_id=trip_id,
            route=route,
            service_id="ALL",
            headsign="Hồ Gươm",
            direction_id=0,
            block_id="B1",
            shape=shape,
            start_s=6 * 3600,
            end_s=6 * 3600 + 1500,
        )
        ids = [s if isinstance(s, str) else s[0] for s in order]
        StopTime.objects.bulk_create(
            StopTime(
                trip=trip,
                stop=stops[sid],
                stop_sequence=i + 1,
                arrival_s=6 * 3600 + i * 300,
                departure_s=6 * 3600 + i * 300 + 20,
                dist_m=i * 450.0,
            )
            for i, sid in enumerate(ids)
        )
    world = World(now=now, feed=feed)
    v = world.vehicles

    # In service on T1, next stop seq 3 (S3), 3 min late; predictions deliberately untidy.
    v["busy"] = _vehicle("HN-B01", "B01", "29B-123.45")
    _state(
        v["busy"],
        recorded_at=now - timedelta(seconds=20),
        tracked_at=now - timedelta(seconds=20),
        lat=21.0260,
        lon=105.8020,
        speed=7.5,
        bearing=370.0,
        status=S.IN_SERVICE,
        trip_id="T1",
        route_id="R32",
        direction_id=0,
        service_date=today,
        next_stop_sequence=3,
        next_stop_id="S3",
        deviation_s=180,
    )
    _predict(
        v["busy"],
        "T1",
        today,
        [
            (2, "S2", now - timedelta(seconds=200), now - timedelta(seconds=190), 20),  # left over
            (3, "S3", now - timedelta(seconds=5), now + timedelta(seconds=15), 30),  # in the past
            (4, "S4", now + timedelta(seconds=10), now + timedelta(seconds=30), 60),  # < dep of 3
            (5, "S2", now + timedelta(seconds=400), now + timedelta(seconds=400), 90),
            (6, "S6", now + timedelta(seconds=700.6), now + timedelta(seconds=700.6), 120),
        ],
    )
    # T1 seq 2 was passed ahead of its scheduled time (still to come): kept as observed.
    StopArrival.objects.create(
        vehicle=v["busy"],
        trip_id="T1",
        route_id="R32",
        direction_id=0,
        service_date=today,
        stop_id="S2",
        stop_sequence=2,
        arrived_at=now - timedelta(seconds=90),
        departed_at=now - timedelta(seconds=70),
        scheduled_arrival=now + timedelta(seconds=60),
    )
    # seq 1 passed after its scheduled time: dropped.
    StopArrival.objects.create(
        vehicle=v["busy"],
        trip_id="T1",
        route_id="R32",
        direction_id=0,
        service_date=today,
        stop_id="S1",
        stop_sequence=1,
        arrived_at=now - timedelta(seconds=400),
        departed_at=now - timedelta(seconds=380),
        scheduled_arrival=now - timedelta(seconds=500),
    )

    # Waiting at the terminus for T2 (layover), predictions for T2.
    v["layover"] = _vehicle("HN-B02", "B02")
    _state(
        v["layover"],
        recorded_at=now - timedelta(seconds=5),
        tracked_at=now - timedelta(seconds=5),
        lat=21.0285,
        lon=105.7785,
        speed=0.0,
        bearing=None,
        status=S.LAYOVER,
        trip_id="T2",
        route_id="R32",
        direction_id=0,
        service_date=today,
        next_stop_sequence=1,
        next_stop_id="S1",
        deviation_s=0,
    )
    _predict(
        v["layover"],
        "T2",
        today,
        [
            (
                i + 1,
                sid,
                now + timedelta(seconds=120 + 300 * i),
                now + timedelta(seconds=140 + 300 * i),
                30 + 10 * i,
            )
            for i, (sid, _n, _a, _o) in enumerate(STOPS)
        ],
    )
    # Claims T1 too (a wrong match elsewhere): T1 must stay with the bus running it.
    _predict(
        v["layover"],
        "T1",
        today,
        [(6, "S6", now + timedelta(seconds=650), now + timedelta(seconds=650), 40)],
    )

    # Reported 2 min ago: too old for the feeds (but not yet a ghost).
    v["stale"] = _vehicle("HN-B03")
    _state(
        v["stale"],
        recorded_at=now - timedelta(seconds=120),
        lat=21.02,
        lon=105.83,
        status=S.IN_SERVICE,
        trip_id="T9",
        route_id="R09",
        service_date=today,
        next_stop_sequence=2,
        next_stop_id="S4",
    )
    _predict(
        v["stale"],
        "T9",
        today,
        [(2, "S4", now + timedelta(seconds=60), now + timedelta(seconds=60), 30)],
        "R09",
    )

    # A ghost with a fresh-looking row (status says ghost): never in the feeds.
    v["ghost"] = _vehicle("HN-B04")
    _state(
        v["ghost"],
        recorded_at=now - timedelta(seconds=10),
        lat=21.02,
        lon=105.83,
        status=S.GHOST,
        trip_id="T8",
        route_id="R09",
        service_date=today,
    )
    _predict(
        v["ghost"],
        "T8",
        today,
        [(1, "S5", now + timedelta(seconds=60), now + timedelta(seconds=60), 30)],
        "R09",
    )

    # Reporting, not on a trip: a position without trip.
    v["free"] = _vehicle("HN-B05", plate="29B-999.99")
    _state(
        v["free"],
        recorded_at=now - timedelta(seconds=30),
        lat=21.0,
        lon=105.8,
        speed=None,
        bearing=45.0,
        status=S.UNASSIGNED,
    )
    # Never reported: no row in either feed.
    v["silent"] = _vehicle("HN-B06")
    _state(v["silent"], status=S.UNASSIGNED)
    return world


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture(autouse=True)
def _fresh_views() -> None:
    views_feeds._kept.clear()  # bodies kept by an earlier test in the same second


def parse(data: bytes) -> rt.FeedMessage:
    message = rt.FeedMessage()
    message.ParseFromString(data)
    return message


def check_header(message: rt.FeedMessage, now: datetime) -> None:
    header = message.header
    assert header.gtfs_realtime_version == "2.0"
    assert header.HasField("incrementality")
    assert header.incrementality == rt.FeedHeader.FULL_DATASET
    assert header.HasField("timestamp")
    assert header.timestamp >= int(now.timestamp())
    ids = [e.id for e in message.entity]
    assert len(ids) == len(set(ids)), "entity ids must be unique"


# --- header ----------------------------------------------------------------------------------


def test_header_timestamp_never_goes_backwards() -> None:
    now = timezone.now()
    first = feeds.header_timestamp("trip_updates", now)
    assert first == int(now.timestamp())
    assert feeds.header_timestamp("trip_updates", now - timedelta(minutes=5)) == first
    later = feeds.header_timestamp("trip_updates", now + timedelta(seconds=30))
    assert later == first + 30
    assert feeds.header_timestamp("trip_updates", now) == later
    # each feed keeps its own
    assert feeds.header_timestamp("vehicle_positions", now) == first
    assert RealtimeStamp.objects.get(feed="trip_updates").timestamp == later


def test_feed_header_best_practices(world: World) -> None:
    for build in (
        feeds.build_vehicle_positions,
        feeds.build_trip_updates,
        feeds.build_service_alerts,
    ):
        message = parse(feeds.to_protobuf(build(world.now)))
        check_header(message, world.now)
        assert message.header.feed_version == "7"
        # a process with a slower clock does not take the header back
        older = parse(feeds.to_protobuf(build(world.now - timedelta(seconds=40))))
        assert older.header.timestamp == message.header.timestamp


# --- VehiclePositions ------------------------------------------------------------------------


def test_vehicle_positions(world: World) -> None:
    message = parse(feeds.to_protobuf(feeds.build_vehicle_positions(world.now)))
    check_header(message, world.now)
    by_id = {e.id: e.vehicle for e in message.entity}
    # fresh, not ghosts; the stale one (120 s > 90 s), the ghost and the silent one are out
    assert sorted(by_id) == ["HN-B01", "HN-B02", "HN-B05"]
    header_ts = message.header.timestamp
    for entity_id, vp in by_id.items():
        assert vp.vehicle.id == entity_id
        assert vp.HasField("timestamp")
        assert header_ts - 90 <= vp.timestamp <= header_ts
        assert -90 <= vp.position.latitude <= 90
        assert not vp.HasField("congestion_level")  # not known: not sent
        assert not vp.HasField("occupancy_status")

    busy = by_id["HN-B01"]
    assert busy.trip.trip_id == "T1"
    assert busy.trip.route_id == "R32"
    assert busy.trip.HasField("direction_id") and busy.trip.direction_id == 0
    assert busy.trip.start_date == world.now.astimezone(TZ).strftime("%Y%m%d")
    assert busy.trip.schedule_relationship == rt.TripDescriptor.SCHEDULED
    assert busy.vehicle.label == "B01"
    assert busy.vehicle.license_plate == "29B-123.45"
    assert busy.position.latitude == pytest.approx(21.0260, abs=1e-5)
    assert busy.position.longitude == pytest.approx(105.8020, abs=1e-5)
    assert busy.position.bearing == pytest.approx(10.0)  # 370° given: normalised
    assert busy.position.speed == pytest.approx(7.5)
    assert busy.timestamp == int(world.now.timestamp()) - 20
    assert busy.stop_id == "S3"
    assert busy.current_stop_sequence == 3
    assert busy.current_status == rt.VehiclePosition.IN_TRANSIT_TO

    layover = by_id["HN-B02"]
    assert layover.trip.trip_id == "T2"
    assert layover.current_status == rt.VehiclePosition.STOPPED_AT
    assert layover.stop_id == "S1"
    assert not layover.vehicle.HasField("license_plate")

    free = by_id["HN-B05"]
    assert not free.HasField("trip")
    assert not free.HasField("stop_id") and not free.HasField("current_status")
    assert not free.vehicle.HasField("label")
    assert not free.position.HasField("speed")


def test_vehicle_near_its_next_stop_is_incoming(world: World) -> None:
    VehicleState.objects.filter(vehicle=world.vehicles["busy"]).update(
        lat=21.0237, lon=105.8052
    )  # ~30 m from S3, moving
    message = feeds.build_vehicle_positions(world.now)
    busy = next(e.vehicle for e in message.entity if e.id == "HN-B01")
    assert busy.current_status == rt.VehiclePosition.INCOMING_AT


def test_vehicle_timestamp_never_after_header(world: World) -> None:
    VehicleState.objects.filter(vehicle=world.vehicles["busy"]).update(
        recorded_at=world.now + timedelta(seconds=30)  # a device clock running ahead
    )
    message = feeds.build_vehicle_positions(world.now)
    for e in message.entity:
        assert e.vehicle.timestamp <= message.header.timestamp


# --- TripUpdates -----------------------------------------------------------------------------


def check_stop_time_updates(tu: Any, now_ts: int) -> None:
    """stop_sequence strictly increasing, both ids, arrival and departure strictly increasing
    from stop to stop, arrival ≤ departure, uncertainty filled."""
    assert len(tu.stop_time_update) > 0
    sequences = [u.stop_sequence for u in tu.stop_time_update]
    assert sequences == sorted(set(sequences)), "strictly increasing stop_sequence"
    previous_arrival = previous_departure = -1
    for u in tu.stop_time_update:
        assert u.HasField("stop_sequence") and u.HasField("stop_id")
        assert u.HasField("arrival") and u.arrival.HasField("time")
        assert u.arrival.HasField("uncertainty")
        assert u.arrival.time > previous_arrival
        assert u.arrival.time > previous_departure
        if u.HasField("departure"):
            assert u.departure.HasField("time") and u.departure.HasField("uncertainty")
            assert u.departure.time >= u.arrival.time
            assert u.departure.time > previous_departure
            previous_departure = u.departure.time
        else:
            previous_departure = u.arrival.time
        previous_arrival = u.arrival.time
        if u.arrival.uncertainty > 0:  # a prediction: not earlier than now
            assert u.arrival.time >= now_ts
    assert any(u.arrival.time >= now_ts for u in tu.stop_time_update), "one in the future"


def test_trip_updates_best_practices(world: World) -> None:
    message = parse(feeds.to_protobuf(feeds.build_trip_updates(world.now)))
    check_header(message, world.now)
    now_ts = int(world.now.timestamp())
    day = world.now.astimezone(TZ).strftime("%Y%m%d")
    by_id = {e.id: e.trip_update for e in message.entity}
    # fresh vehicles only; one TripUpdate per trip instance; persistent ids
    assert sorted(by_id) == [f"T1:{day}", f"T2:{day}"]
    for tu in by_id.values():
        assert tu.trip.start_date == day
        assert tu.trip.schedule_relationship == rt.TripDescriptor.SCHEDULED
        assert tu.trip.route_id == "R32" and tu.trip.direction_id == 0
        assert tu.HasField("timestamp") and tu.timestamp <= message.header.timestamp
        check_stop_time_updates(tu, now_ts)

    t1 = by_id[f"T1:{day}"]
    assert t1.trip.trip_id == "T1"
    assert t1.vehicle.id == "HN-B01"  # the bus running it, not the one that also claimed it
    assert t1.vehicle.label == "B01" and t1.vehicle.license_plate == "29B-123.45"
    assert t1.delay == 180
    assert t1.timestamp == now_ts - 20
    updates = {u.stop_sequence: u for u in t1.stop_time_update}
    # seq 1: passed late, dropped; seq 2: passed early (scheduled still ahead), kept as observed
    assert sorted(updates) == [2, 3, 4, 5, 6]
    assert updates[2].stop_id == "S2"
    assert updates[2].arrival.time == now_ts - 90 and updates[2].arrival.uncertainty == 0
    assert updates[2].departure.time == now_ts - 70
    # seq 3 predicted 5 s ago: held at now; seq 4's arrival after seq 3's departure
    assert updates[3].arrival.time == now_ts and updates[3].arrival.uncertainty == 30
    assert updates[3].departure.time == now_ts + 15
    assert updates[4].arrival.time == now_ts + 16
    assert updates[4].departure.time == now_ts + 30
    assert updates[5].stop_id == "S2"  # the loop serves S2 twice: the sequence tells which
    assert updates[6].arrival.uncertainty == 120

    t2 = by_id[f"T2:{day}"]
    assert t2.vehicle.id == "HN-B02"
    assert [u.stop_sequence for u in t2.stop_time_update] == [1, 2, 3, 4, 5, 6]


def test_trip_updates_pair_with_vehicle_positions(world: World) -> None:
    vp = feeds.build_vehicle_positions(world.now)
    tu = feeds.build_trip_updates(world.now)
    trips_of = {
        e.vehicle.vehicle.id: e.vehicle.trip.trip_id
        for e in vp.entity
        if e.vehicle.HasField("trip")
    }
    for e in tu.entity:
        vehicle_id = e.trip_update.vehicle.id
        assert vehicle_id in trips_of
        assert trips_of[vehicle_id] == e.trip_update.trip.trip_id


def test_trip_updates_skip_stale_and_ghost_vehicles(world: World) -> None:
    message = feeds.build_trip_updates(world.now)
    trips = {e.trip_update.trip.trip_id for e in message.entity}
    assert "T9" not in trips  # 120 s old
    assert "T8" not in trips  # ghost
    # 100 s later every vehicle is older than 90 s: an empty (but valid) snapshot
    later = feeds.build_trip_updates(world.now + timedelta(seconds=100))
    assert len(later.entity) == 0
    assert later.header.timestamp == int(world.now.timestamp()) + 100


def test_trip_updates_few_queries(world: World, django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(5):
        feeds.build_trip_updates(world.now)
    with django_assert_max_num_queries(4):
        feeds.build_vehicle_positions(world.now)


def test_json_serialisation(world: World) -> None:
    data = feeds.to_json(feeds.build_trip_updates(world.now))
    assert data["header"]["gtfs_realtime_version"] == "2.0"
    assert data["header"]["incrementality"] == "FULL_DATASET"
    tu = data["entity"][0]["trip_update"]
    assert {"trip", "vehicle", "stop_time_update", "timestamp"} <= set(tu)
    assert "stop_sequence" in tu["stop_time_update"][0]  # GTFS names, not camelCase
    assert "uncertainty" in tu["stop_time_update"][0]["arrival"]


# --- ServiceAlerts ---------------------------------------------------------------------------


def _alert(now: datetime, **values: Any) -> ServiceAlert:
    defaults: dict[str, Any] = {
        "header": "Tuyến 32 đi vòng do thi công",
        "cause": "CONSTRUCTION",
        "effect": "DETOUR",
        "severity": "WARNING",
        "active_from": now - timedelta(hours=1),
    }
    return ServiceAlert.objects.create(**{**defaults, **values})


def test_service_alerts(world: World) -> None:
    now = world.now
    detour = _alert(
        now,
        header_en="Route 32 detours for road works",
        description="Xe không dừng tại điểm Chùa Láng.",
        description_en="Buses do not stop at Chùa Láng.",
        url="https://transerco.vn/thong-bao/32",
        route_ids=["R32"],
        stop_ids=["S3"],
        active_until=now + timedelta(days=2),
    )
    network = _alert(
        now,
        header="Tết: giờ chạy ngày lễ",
        cause="HOLIDAY",
        effect="MODIFIED_SERVICE",
        severity="INFO",
    )
    upcoming = _alert(now, header="Sắp tới", active_from=now + timedelta(days=1))
    _alert(now, header="Đã hết hạn", active_until=now - timedelta(minutes=1))
    _alert(now, header="Đã kết thúc", ended_at=now - timedelta(minutes=5))

    message = parse(feeds.to_protobuf(feeds.build_service_alerts(now)))
    check_header(message, now)
    by_id = {e.id: e.alert for e in message.entity}
    assert sorted(by_id) == sorted(f"alert-{a.pk}" for a in (detour, network, upcoming))

    alert = by_id[f"alert-{detour.pk}"]
    assert alert.active_period[0].start == int((now - timedelta(hours=1)).timestamp())
    assert alert.active_period[0].end == int((now + timedelta(days=2)).timestamp())
    selectors = [(ie.route_id, ie.stop_id) for ie in alert.informed_entity]
    assert selectors == [("R32", ""), ("", "S3")]
    assert alert.cause == rt.Alert.CONSTRUCTION
    assert alert.effect == rt.Alert.DETOUR
    assert alert.severity_level == rt.Alert.WARNING
    assert {(t.language, t.text) for t in alert.header_text.translation} == {
        ("vi", "Tuyến 32 đi vòng do thi công"),
        ("en", "Route 32 detours for road works"),
    }
    assert {t.language for t in alert.description_text.translation} == {"vi", "en"}
    assert alert.url.translation[0].text == "https://transerco.vn/thong-bao/32"

    wide = by_id[f"alert-{network.pk}"]
    assert [ie.agency_id for ie in wide.informed_entity] == ["TRANSERCO"]
    assert wide.severity_level == rt.Alert.INFO
    assert not wide.HasField("description_text")
    assert not wide.HasField("url")
    assert not wide.active_period[0].HasField("end")
    assert [t.language for t in wide.header_text.translation] == ["vi"]
    assert by_id[f"alert-{upcoming.pk}"].active_period[0].start > int(now.timestamp())


# --- HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["gtfsrt_vehicle_positions", "gtfsrt_trip_updates", "gtfsrt_service_alerts"]
)
def test_endpoints(client: Any, world: World, name: str) -> None:
    url = reverse(f"transit:{name}", kwargs={"fmt": "pb"})
    assert url.startswith("/transit/gtfs-rt/") and url.endswith(".pb")
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    assert response["Access-Control-Allow-Origin"] == "*"
    message = parse(response.content)
    check_header(message, world.now)
    assert response["ETag"]
    assert response["Last-Modified"]

    # a client that holds this snapshot gets 304
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    if again.status_code == 200:  # the clock moved on to the next second: a new snapshot
        assert again["ETag"] != response["ETag"]
    else:
        assert again.status_code == 304
        assert again.content == b""
    old = client.get(url, HTTP_IF_MODIFIED_SINCE="Mon, 01 Jan 2024 00:00:00 GMT")
    assert old.status_code == 200

    as_json = client.get(reverse(f"transit:{name}", kwargs={"fmt": "json"}))
    assert as_json.status_code == 200
    assert as_json["Content-Type"].startswith("application/json")
    assert as_json.json()["header"]["gtfs_realtime_version"] == "2.0"

    assert client.post(url).status_code == 405
    assert client.get(url.replace(".pb", ".xml")).status_code == 404


def test_endpoint_builds_once_per_header_second(
    client: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    original = feeds.BUILDERS[feeds.TRIP_UPDATES]

    def counting(now: Any) -> Any:
        built.append("x")
        return original(world.now)

    monkeypatch.setitem(feeds.BUILDERS, feeds.TRIP_UPDATES, counting)
    stamp = {"ts": int(world.now.timestamp())}
    monkeypatch.setattr(feeds, "header_timestamp", lambda name, now=None: stamp["ts"])
    url = reverse("transit:gtfsrt_trip_updates", kwargs={"fmt": "pb"})
    first = client.get(url)
    second = client.get(url)
    assert first.content == second.content and len(built) == 1
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    stamp["ts"] += 1  # the next second: a new snapshot
    third = client.get(url)
    assert len(built) == 2 and third["ETag"] != first["ETag"]
    # each format is kept on its own
    client.get(reverse("transit:gtfsrt_trip_updates", kwargs={"fmt": "json"}))
    assert len(built) == 3


def test_endpoint_serves_entities(client: Any, world: World) -> None:
    response = client.get(reverse("transit:gtfsrt_vehicle_positions", kwargs={"fmt": "pb"}))
    assert {e.id for e in parse(response.content).entity} >= {"HN-B01", "HN-B02"}


def test_static_feed_zip(client: Any, world: World) -> None:
    Feed.objects.filter(pk=world.feed.pk).update(activated_at=world.now)
    response = client.get(reverse("transit:gtfs_static_feed"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"agency.txt", "routes.txt", "stops.txt", "trips.txt", "stop_times.txt"} <= names
    assert {"calendar.txt", "shapes.txt", "feed_info.txt"} <= names

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))

    assert rows("feed_info.txt")[0]["feed_version"] == "7"
    stop_times = [r for r in rows("stop_times.txt") if r["trip_id"] == "T1"]
    assert [r["stop_id"] for r in stop_times] == ["S1", "S2", "S3", "S4", "S2", "S6"]
    assert stop_times[1]["arrival_time"] == "06:05:00"
    assert stop_times[1]["departure_time"] == "06:05:20"
    assert rows("stops.txt")[0]["stop_name"] == "Bến xe Mỹ Đình"
    assert rows("calendar.txt")[0]["start_date"] == "20250101"
    assert len(rows("shapes.txt")) == len(STOPS)

    cached = client.get(reverse("transit:gtfs_static_feed"), HTTP_IF_NONE_MATCH=response["ETag"])
    assert cached.status_code == 304


def test_static_feed_needs_an_active_feed(client: Any) -> None:
    assert client.get(reverse("transit:gtfs_static_feed")).status_code == 404
    # the realtime feeds still answer (empty snapshots)
    response = client.get(reverse("transit:gtfsrt_trip_updates", kwargs={"fmt": "pb"}))
    assert response.status_code == 200
    message = parse(response.content)
    assert len(message.entity) == 0
    assert not message.header.HasField("feed_version")
