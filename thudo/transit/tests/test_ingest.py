"""The ingest: validation per outcome, de-duplication, counters, vehicle states, atomicity, the
device token, and the HTTP endpoint (auth, limits, errors)."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse

from thudo.transit import ingest
from thudo.transit.models import Device, IngestCounter, Position, Vehicle, VehicleState
from thudo.transit.tokens import hash_token

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi
T0 = NOW.timestamp()
TOKEN = "tok-B01-secret"


@pytest.fixture(autouse=True)
def _fresh_auth_cache(settings: Any) -> Any:
    settings.TRANSIT_TRACK_INLINE = False
    ingest.clear_auth_cache()
    yield
    ingest.clear_auth_cache()


@pytest.fixture
def fleet(db: Any) -> dict[str, Any]:
    b01 = Vehicle.objects.create(code="HN-B01", label="01-001", license_plate="29B-123.45")
    b02 = Vehicle.objects.create(code="HN-B02", label="01-002")
    parked = Vehicle.objects.create(code="HN-B99", is_active=False)
    gps1 = Device.objects.create(vehicle=b01, device_id="GPS-B01", token_hash=hash_token(TOKEN))
    gps2 = Device.objects.create(vehicle=b02, device_id="GPS-B02", token_hash=hash_token("tok-2"))
    off = Device.objects.create(
        vehicle=b02, device_id="GPS-OLD", token_hash=hash_token("tok-old"), is_active=False
    )
    gps9 = Device.objects.create(vehicle=parked, device_id="GPS-B99", token_hash=hash_token("t9"))
    return {
        "b01": b01,
        "b02": b02,
        "parked": parked,
        "gps1": gps1,
        "gps2": gps2,
        "off": off,
        "gps9": gps9,
    }


def rec(dt: float = 0.0, **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "timestamp": T0 + dt,
        "latitude": 21.0285,
        "longitude": 105.8542,
        "speed": 8.3,
        "bearing": 90,
    }
    record.update(over)
    return {k: v for k, v in record.items() if v is not ...}


def counters() -> dict[tuple[str, str], int]:
    return {(c.device_key, c.outcome): c.count for c in IngestCounter.objects.all()}


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "field", "code"),
    [
        ("not an object", "", "malformed"),
        (rec(timestamp=...), "timestamp", "malformed"),
        (rec(timestamp="yesterday"), "timestamp", "malformed"),
        (rec(timestamp="2026-03-02T08:00:00"), "timestamp", "malformed"),  # no offset
        (rec(timestamp=T0 * 1000), "timestamp", "malformed"),  # milliseconds
        (rec(timestamp=True), "timestamp", "malformed"),
        (rec(latitude=...), "latitude", "malformed"),
        (rec(latitude="21.02"), "latitude", "malformed"),
        (rec(latitude=float("nan")), "latitude", "bad_coordinates"),
        (rec(longitude=float("inf")), "longitude", "bad_coordinates"),
        (rec(latitude=91.0), "latitude", "bad_coordinates"),
        (rec(longitude=-181.0), "longitude", "bad_coordinates"),
        (rec(latitude=0, longitude=0), "latitude", "bad_coordinates"),
        (rec(latitude=10.77, longitude=106.70), "latitude", "bad_coordinates"),  # Saigon
        (rec(longitude=104.0), "longitude", "bad_coordinates"),
        (rec(speed=-1), "speed", "malformed"),
        (rec(speed="fast"), "speed", "malformed"),
        (rec(bearing=400), "bearing", "malformed"),
        (rec(trip_id=12), "trip_id", "malformed"),
        (rec(trip_id="x" * 65), "trip_id", "malformed"),
        (rec(dt=-3601), "timestamp", "too_old"),
        (rec(dt=61), "timestamp", "in_future"),
        (rec(vehicle_id="HN-B02"), "vehicle_id", "wrong_vehicle"),
    ],
)
def test_each_bad_record_is_refused_with_field_and_code(
    fleet: dict[str, Any], record: Any, field: str, code: str
) -> None:
    result = ingest.ingest_positions(
        records=[rec(dt=-5), record],
        source="http",
        device=fleet["gps1"],
        device_key="GPS-B01",
        now=NOW,
    )
    assert result.accepted == 1
    assert len(result.rejected) == 1
    refusal = result.rejected[0]
    assert (refusal["index"], refusal["field"], refusal["code"]) == (1, field, code)
    assert refusal["message"]
    assert counters() == {("GPS-B01", "accepted"): 1, ("GPS-B01", code): 1}
    detail = IngestCounter.objects.get(outcome=code).last_detail
    assert detail and (not field or detail.startswith(field + ":"))


def test_good_records_in_every_accepted_form(fleet: dict[str, Any]) -> None:
    records = [
        rec(dt=-30, vehicle_id="HN-B01", trip_id="R01-0-0800"),
        rec(timestamp="2026-03-02T07:59:40+07:00", speed=None, bearing=None),
        rec(timestamp="2026-03-02T00:59:50Z", bearing=360, extra_field="ignored"),
        {"timestamp": int(T0), "latitude": 21, "longitude": 105.9},
    ]
    result = ingest.ingest_positions(
        records=records, source="http", device=fleet["gps1"], device_key="GPS-B01", now=NOW
    )
    assert (result.accepted, result.duplicates, result.rejected) == (4, 0, [])
    assert result.vehicle_ids == {fleet["b01"].pk}
    stored = list(Position.objects.order_by("recorded_at"))
    assert [p.recorded_at for p in stored] == [
        NOW - timedelta(seconds=30),
        NOW - timedelta(seconds=20),
        NOW - timedelta(seconds=10),
        NOW,
    ]
    assert stored[0].trip_id == "R01-0-0800" and stored[0].speed == 8.3
    assert stored[1].speed is None and stored[1].bearing is None
    assert stored[2].bearing == 0.0
    assert {p.source for p in stored} == {"http"}
    assert all(p.received_at == NOW for p in stored)


def test_vehicle_state_moves_forward_only(fleet: dict[str, Any]) -> None:
    dev, b01 = fleet["gps1"], fleet["b01"]
    ingest.ingest_positions(
        records=[rec(dt=-20, latitude=21.01), rec(dt=-10, latitude=21.02, trip_id="T1")],
        source="http",
        device=dev,
        device_key="GPS-B01",
        now=NOW,
    )
    state = VehicleState.objects.get(vehicle=b01)
    assert state.recorded_at == NOW - timedelta(seconds=10)
    assert (state.lat, state.reported_trip_id, state.status) == (21.02, "T1", "unassigned")
    # an older position arriving late is stored but leaves the state alone
    late = ingest.ingest_positions(
        records=[rec(dt=-15, latitude=21.03)],
        source="http",
        device=dev,
        device_key="GPS-B01",
        now=NOW,
    )
    assert late.accepted == 1
    state.refresh_from_db()
    assert state.lat == 21.02
    # a newer one moves it, and keeps what the tracker wrote
    VehicleState.objects.filter(pk=b01.pk).update(status="in_service", trip_id="T1", dist_m=50.0)
    ingest.ingest_positions(
        records=[rec(dt=0, latitude=21.04, trip_id="")],
        source="http",
        device=dev,
        device_key="GPS-B01",
        now=NOW,
    )
    state.refresh_from_db()
    assert (state.lat, state.recorded_at, state.reported_trip_id) == (21.04, NOW, "")
    assert (state.status, state.trip_id, state.dist_m) == ("in_service", "T1", 50.0)
    fleet["gps1"].refresh_from_db()
    assert fleet["gps1"].last_seen_at == NOW


def test_duplicates_within_the_batch_and_against_stored_rows(fleet: dict[str, Any]) -> None:
    dev = fleet["gps1"]
    first = ingest.ingest_positions(
        records=[rec(dt=-10), rec(dt=-10, latitude=21.05), rec(dt=-5)],
        source="mqtt",
        device=dev,
        device_key="GPS-B01",
        now=NOW,
    )
    assert (first.accepted, first.duplicates) == (2, 1)
    again = ingest.ingest_positions(
        records=[rec(dt=-10), rec(dt=-5), rec(dt=0)],
        source="mqtt",
        device=dev,
        device_key="GPS-B01",
        now=NOW,
    )
    assert (again.accepted, again.duplicates, again.vehicle_ids) == (1, 2, {fleet["b01"].pk})
    assert Position.objects.count() == 3
    assert Position.objects.get(recorded_at=NOW - timedelta(seconds=10)).lat == 21.0285
    assert counters() == {("GPS-B01", "accepted"): 3, ("GPS-B01", "duplicate"): 3}
    # the same instant written as an ISO time is the same position
    iso = ingest.ingest_positions(
        records=[rec(timestamp="2026-03-02T08:00:00+07:00")],
        source="mqtt",
        device=dev,
        device_key="GPS-B01",
        now=NOW,
    )
    assert (iso.accepted, iso.duplicates) == (0, 1)


def test_fractional_seconds_are_kept_apart(fleet: dict[str, Any]) -> None:
    result = ingest.ingest_positions(
        records=[rec(dt=-1.5), rec(dt=-1.25), rec(dt=-1.0), rec(dt=-1.25)],
        source="http",
        device=fleet["gps1"],
        device_key="GPS-B01",
        now=NOW,
    )
    assert (result.accepted, result.duplicates) == (3, 1)
    again = ingest.ingest_positions(
        records=[rec(dt=-1.5), rec(dt=-0.5)],
        source="http",
        device=fleet["gps1"],
        device_key="GPS-B01",
        now=NOW,
    )
    assert (again.accepted, again.duplicates) == (1, 1)


def test_trusted_source_names_vehicles(fleet: dict[str, Any]) -> None:
    result = ingest.ingest_positions(
        records=[
            rec(dt=-2, vehicle_id="HN-B01"),
            rec(dt=-2, vehicle_id="HN-B02"),
            rec(dt=-1, vehicle_id="HN-NOPE"),
            rec(dt=-1, vehicle_id="HN-B99"),  # not in service
            rec(dt=-1),
        ],
        source="sim",
        device=None,
        device_key="sim",
        now=NOW,
    )
    assert result.accepted == 2
    assert result.vehicle_ids == {fleet["b01"].pk, fleet["b02"].pk}
    assert [(r["index"], r["code"]) for r in result.rejected] == [
        (2, "unknown_vehicle"),
        (3, "unknown_vehicle"),
        (4, "unknown_vehicle"),
    ]
    assert {p.source for p in Position.objects.all()} == {"sim"}
    assert counters()[("sim", "unknown_vehicle")] == 3


def test_device_of_a_vehicle_out_of_service(fleet: dict[str, Any]) -> None:
    result = ingest.ingest_positions(
        records=[rec()], source="http", device=fleet["gps9"], device_key="GPS-B99", now=NOW
    )
    assert result.accepted == 0
    assert result.rejected[0]["code"] == "unknown_vehicle"


def test_several_devices_in_one_transaction(fleet: dict[str, Any]) -> None:
    results = ingest.ingest_batches(
        batches=[
            ingest.DeviceBatch([rec(dt=-1), rec(dt=-1)], fleet["gps1"], "GPS-B01"),
            ingest.DeviceBatch([rec(dt=-1), {"bad": 1}], fleet["gps2"], "GPS-B02"),
        ],
        source="mqtt",
        now=NOW,
        extra_counts={("GPS-X", "bad_token"): (2, "no such token")},
    )
    assert [(r.accepted, r.duplicates, len(r.rejected)) for r in results] == [
        (1, 1, 0),
        (1, 0, 1),
    ]
    assert counters() == {
        ("GPS-B01", "accepted"): 1,
        ("GPS-B01", "duplicate"): 1,
        ("GPS-B02", "accepted"): 1,
        ("GPS-B02", "malformed"): 1,
        ("GPS-X", "bad_token"): 2,
    }
    assert VehicleState.objects.count() == 2


def test_counters_add_up_and_keep_the_last_detail(fleet: dict[str, Any]) -> None:
    ingest.count_rejection("GPS-X", "bad_token", "first", now=NOW)
    ingest.count_rejection("GPS-X", "bad_token", "", count=4, now=NOW + timedelta(seconds=1))
    ingest.count_rejection("GPS-X", "bad_token", "third", now=NOW - timedelta(seconds=9))
    row = IngestCounter.objects.get(device_key="GPS-X", outcome="bad_token")
    assert (row.count, row.last_detail, row.last_at) == (6, "third", NOW + timedelta(seconds=1))
    ingest.count_rejection("x" * 100, "bad_token", "d" * 400)
    long = IngestCounter.objects.get(device_key="x" * 64)
    assert len(long.last_detail) == 255


def test_a_database_failure_leaves_nothing_half_written(fleet: dict[str, Any]) -> None:
    with (
        mock.patch.object(ingest, "_upsert_counters", side_effect=DatabaseError("disk full")),
        pytest.raises(DatabaseError),
    ):
        ingest.ingest_positions(
            records=[rec(dt=-1), rec(dt=0)],
            source="http",
            device=fleet["gps1"],
            device_key="GPS-B01",
            now=NOW,
        )
    assert Position.objects.count() == 0
    assert VehicleState.objects.count() == 0
    fleet["gps1"].refresh_from_db()
    assert fleet["gps1"].last_seen_at is None
    assert IngestCounter.objects.count() == 0


def test_big_batch_spans_several_statements(fleet: dict[str, Any]) -> None:
    n = ingest.ROWS_PER_STATEMENT * 2 + 7
    records = [rec(dt=-i * 0.5) for i in range(n)]
    result = ingest.ingest_positions(
        records=records, source="mqtt", device=fleet["gps1"], device_key="GPS-B01", now=NOW
    )
    assert (result.accepted, result.duplicates) == (n, 0)
    again = ingest.ingest_positions(
        records=records, source="mqtt", device=fleet["gps1"], device_key="GPS-B01", now=NOW
    )
    assert (again.accepted, again.duplicates) == (0, n)


def test_tracking_after_commit(
    fleet: dict[str, Any], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TRANSIT_TRACK_INLINE = True
    calls: list[set[int]] = []
    fake = mock.Mock(track_vehicles=lambda ids, **kw: calls.append(set(ids)))
    with (
        mock.patch.dict("sys.modules", {"thudo.transit.tracker": fake}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ingest.ingest_positions(
            records=[rec()], source="http", device=fleet["gps1"], device_key="GPS-B01", now=NOW
        )
    assert calls == [{fleet["b01"].pk}]
    # a failing tracker is logged; the positions stay
    broken = mock.Mock(track_vehicles=mock.Mock(side_effect=RuntimeError("bug")))
    with (
        mock.patch.dict("sys.modules", {"thudo.transit.tracker": broken}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = ingest.ingest_positions(
            records=[rec(dt=1)],
            source="http",
            device=fleet["gps1"],
            device_key="GPS-B01",
            now=NOW,
        )
    assert result.accepted == 1 and Position.objects.count() == 2
    # missing tracker module: nothing breaks
    with (
        mock.patch.dict("sys.modules", {"thudo.transit.tracker": None}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ingest.ingest_positions(
            records=[rec(dt=2)],
            source="http",
            device=fleet["gps1"],
            device_key="GPS-B01",
            now=NOW,
        )
    assert Position.objects.count() == 3


def test_authenticate_and_its_cache(fleet: dict[str, Any]) -> None:
    assert ingest.authenticate(TOKEN) == fleet["gps1"]
    assert ingest.authenticate("tok-old") is None  # deactivated
    assert ingest.authenticate("") is None
    assert ingest.authenticate("nope") is None
    Device.objects.filter(pk=fleet["gps1"].pk).update(is_active=False)
    assert ingest.authenticate(TOKEN) == fleet["gps1"]  # remembered for a few seconds
    ingest.clear_auth_cache()
    assert ingest.authenticate(TOKEN) is None


def test_prune_positions(fleet: dict[str, Any]) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    Position.objects.bulk_create(
        [
            Position(
                vehicle=fleet["b01"], recorded_at=old + timedelta(seconds=i), lat=21, lon=105.8
            )
            for i in range(5)
        ]
        + [Position(vehicle=fleet["b01"], recorded_at=datetime.now(UTC), lat=21, lon=105.8)]
    )
    assert ingest.prune_positions(older_than_days=30, chunk=2) == 5
    assert Position.objects.count() == 1
    with pytest.raises(ValueError):
        ingest.prune_positions(older_than_days=0)


# --- HTTP ------------------------------------------------------------------------------------


URL = "/transit/ingest/v1/positions"


def post(client: Client, body: Any, token: str | None = TOKEN, **headers: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body)
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(URL, data=data, content_type="application/json", **headers)


def now_rec(dt: float = 0.0, **over: Any) -> dict[str, Any]:
    return rec(**{"timestamp": time.time() + dt, **over})


def test_url_name() -> None:
    assert reverse("transit:ingest_positions") == URL


def test_http_batch(fleet: dict[str, Any]) -> None:
    client = Client()
    twice = now_rec(-5)
    response = post(
        client,
        {"positions": [now_rec(-10), twice, twice, now_rec(0, latitude=95)]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    assert body["rejected"][0]["index"] == 3 and body["rejected"][0]["field"] == "latitude"
    assert Position.objects.filter(source="http").count() == 2


def test_http_single_record_and_gzip(fleet: dict[str, Any]) -> None:
    client = Client()
    assert post(client, now_rec(-3)).json()["accepted"] == 1
    packed = gzip.compress(json.dumps({"positions": [now_rec(-2), now_rec(-1)]}).encode())
    response = post(client, packed, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 2


def test_http_bad_token_is_counted_under_the_named_device(fleet: dict[str, Any]) -> None:
    client = Client()
    response = post(client, {"device_id": "GPS-B01", "positions": [now_rec()]}, token="wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "bad_token"
    assert "Bearer" in response["WWW-Authenticate"]
    assert post(client, {"positions": [now_rec()]}, token=None).status_code == 401
    response = client.post(
        URL, data="{}", content_type="application/json", HTTP_AUTHORIZATION="Basic abc"
    )
    assert response.status_code == 401
    assert counters() == {("GPS-B01", "bad_token"): 1, ("unknown", "bad_token"): 2}
    assert Position.objects.count() == 0


def test_http_token_of_another_device(fleet: dict[str, Any]) -> None:
    response = post(Client(), {"device_id": "GPS-B02", "positions": [now_rec()]})
    assert response.status_code == 401
    assert counters() == {("GPS-B02", "bad_token"): 1}


def test_http_malformed_bodies(fleet: dict[str, Any]) -> None:
    client = Client()
    for body, field in (
        (b"{not json", "body"),
        (b"\xff\xfe", "body"),
        (b"[1, 2]", "body"),
        (b'{"positions": {"a": 1}}', "positions"),
    ):
        response = post(client, body)
        assert response.status_code == 400, body
        answer = response.json()
        assert answer["code"] == "malformed" and field in answer["fields"], answer
    assert counters() == {("GPS-B01", "malformed"): 4}
    response = post(client, b"\x1f\x8bnot gzip", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert post(client, b"{}", HTTP_CONTENT_ENCODING="br").status_code == 415


def test_http_too_many(fleet: dict[str, Any], settings: Any) -> None:
    settings.TRANSIT_MAX_BATCH = 3
    response = post(Client(), {"positions": [now_rec(-i) for i in range(4)]})
    assert response.status_code == 413
    assert response.json()["code"] == "too_many"
    assert "positions" in response.json()["fields"]
    assert counters() == {("GPS-B01", "too_many"): 4}
    assert Position.objects.count() == 0


def test_http_method_and_language(fleet: dict[str, Any]) -> None:
    client = Client()
    response = client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    vi = post(client, {"positions": [now_rec(latitude=95)]}).json()["rejected"][0]["message"]
    en = post(client, {"positions": [now_rec(latitude=95)]}, HTTP_ACCEPT_LANGUAGE="en").json()[
        "rejected"
    ][0]["message"]
    assert en == "Must be between -90 and 90 degrees."
    assert vi  # Vietnamese when the catalogue has it, else the English text


def test_http_database_down(fleet: dict[str, Any]) -> None:
    with mock.patch.object(ingest, "_write", side_effect=DatabaseError("gone")):
        response = post(Client(), {"positions": [now_rec()]})
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert response["Retry-After"]
