"""The MQTT ingest: URLs and topics, the worker's handling of good and bad messages, and the
real broker (Mosquitto at 127.0.0.1:1883; skipped when it is not there, failed where
THUDO_REQUIRE_SERVICES=1): positions published as a device would are stored, garbage does not
stop the worker, a message not yet stored is delivered again after a restart."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from thudo.core.testing import require_service
from thudo.transit import ingest, mqtt
from thudo.transit.models import Device, IngestCounter, Position, Vehicle
from thudo.transit.tokens import hash_token

BROKER = ("127.0.0.1", 1883)
URL = "mqtt://127.0.0.1:1883"


_BASE = [time.time()]


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.TRANSIT_TRACK_INLINE = False
    ingest.clear_auth_cache()
    _BASE[0] = time.time()  # one clock per test, so that rec(-2) twice is one instant


@pytest.fixture
def fleet(db: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in (1, 2):
        vehicle = Vehicle.objects.create(code=f"HN-B0{n}")
        out[f"b0{n}"] = vehicle
        out[f"gps{n}"] = Device.objects.create(
            vehicle=vehicle, device_id=f"GPS-B0{n}", token_hash=hash_token(f"token-{n}")
        )
    return out


def rec(dt: float = 0.0, **over: Any) -> dict[str, Any]:
    return {"timestamp": _BASE[0] + dt, "latitude": 21.03, "longitude": 105.85, **over}


def counters() -> dict[tuple[str, str], int]:
    return {(c.device_key, c.outcome): c.count for c in IngestCounter.objects.all()}


def msg(topic: str, payload: Any) -> mqtt.Message:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return mqtt.Message(topic=topic, payload=raw)


# --- addresses and topics --------------------------------------------------------------------


def test_parse_url() -> None:
    assert mqtt.parse_url("mqtt://127.0.0.1:1883") == ("127.0.0.1", 1883, None, None)
    assert mqtt.parse_url("mqtt://broker") == ("broker", 1883, None, None)
    assert mqtt.parse_url("mqtts://u%40x:p%3Aw@broker.example") == (
        "broker.example",
        8883,
        "u@x",
        "p:w",
    )
    for bad in ("http://broker", "mqtt://", "broker:1883", "mqtt://h:99999"):
        with pytest.raises(ValueError):
            mqtt.parse_url(bad)


def test_topics() -> None:
    flt = "thudo/transit/v1/positions/+"
    assert mqtt.topic_for("GPS-B01", flt) == "thudo/transit/v1/positions/GPS-B01"
    assert mqtt.topic_for("GPS-B01", "$share/g/" + flt) == "thudo/transit/v1/positions/GPS-B01"
    assert mqtt.device_id_from_topic("thudo/transit/v1/positions/GPS-B01", flt) == "GPS-B01"
    assert mqtt.device_id_from_topic("thudo/transit/v1/positions/GPS-B01", "$share/g/" + flt)
    assert mqtt.device_id_from_topic("thudo/transit/v1/positions/a/b", flt) is None
    assert mqtt.device_id_from_topic("thudo/other/v1/positions/a", flt) is None
    assert mqtt.device_id_from_topic("thudo/transit/v1/positions/", flt) is None
    for bad in ("a/b", "a+", "", "#"):
        with pytest.raises(ValueError):
            mqtt.topic_for(bad, flt)


def test_publish_positions_payload() -> None:
    sent: list[tuple[str, bytes, int]] = []

    class Client:
        def publish(self, topic: str, payload: bytes, qos: int = 0) -> str:
            sent.append((topic, payload, qos))
            return "info"

    info = mqtt.publish_positions(
        Client(),
        device_id="GPS-B01",
        token="t",
        positions=[{"latitude": 21.0}],
        topic="x/GPS-B01",
    )
    assert info == "info"
    assert sent == [("x/GPS-B01", b'{"token":"t","positions":[{"latitude":21.0}]}', 1)]


# --- the worker's handling (no broker) ---------------------------------------------------------


FILTER = "thudo/transit/v1/positions/+"


def worker() -> mqtt.IngestWorker:
    return mqtt.IngestWorker(url=URL, topic=FILTER)


def test_good_and_bad_messages_in_one_batch(fleet: dict[str, Any], settings: Any) -> None:
    settings.TRANSIT_MAX_BATCH = 3
    t = "thudo/transit/v1/positions/"
    w = worker()
    results = w.handle(
        [
            msg(t + "GPS-B01", {"token": "token-1", "positions": [rec(-3), rec(-2)]}),
            msg(t + "GPS-B01", {"token": "token-1", "positions": [rec(-2), rec(-1, latitude=0)]}),
            msg(t + "GPS-B02", {"token": "token-2", **rec(-1)}),  # one record beside the token
            msg(t + "GPS-B02", b"{not json"),
            msg(t + "GPS-B02", b"[1]"),
            msg(t + "GPS-B02", {"token": "token-2", "positions": "many"}),
            msg(t + "GPS-B02", {"token": "token-2", "positions": [rec(-i) for i in range(4)]}),
            msg(t + "GPS-B02", {"token": "token-1", "positions": [rec()]}),  # B01's token
            msg(t + "GPS-B09", {"positions": [rec()]}),  # no token
            msg(t + "GPS-B09", {"token": "guess", "positions": [rec()]}),
            msg("thudo/transit/v1/positions/a/b", {"token": "token-1"}),
        ]
    )
    assert [(r.accepted, r.duplicates, len(r.rejected)) for r in results] == [(2, 1, 1), (1, 0, 0)]
    assert Position.objects.filter(source="mqtt").count() == 3
    assert counters() == {
        ("GPS-B01", "accepted"): 2,
        ("GPS-B01", "duplicate"): 1,
        ("GPS-B01", "bad_coordinates"): 1,
        ("GPS-B02", "accepted"): 1,
        ("GPS-B02", "malformed"): 3,
        ("GPS-B02", "too_many"): 4,
        ("GPS-B02", "bad_token"): 1,
        ("GPS-B09", "bad_token"): 2,
        ("unknown", "bad_topic"): 1,
    }
    assert w.stats.accepted == 3 and w.stats.refused_messages == 8


def test_only_refusals_are_still_counted(fleet: dict[str, Any]) -> None:
    assert worker().handle([msg(FILTER[:-1] + "GPS-X", b"\xff")]) == []
    assert counters() == {("GPS-X", "malformed"): 1}


def test_a_failing_batch_is_retried_then_dropped(
    fleet: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = ingest.ingest_batches

    def flaky(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug")
        return real(**kwargs)

    monkeypatch.setattr(ingest, "ingest_batches", flaky)
    w = worker()
    w.queue.put(msg(FILTER[:-1] + "GPS-B01", {"token": "token-1", "positions": [rec()]}))
    assert w.step(wait=False) == 1
    assert calls["n"] == 2 and Position.objects.count() == 1

    monkeypatch.setattr(ingest, "ingest_batches", lambda **kw: 1 / 0)
    w.queue.put(msg(FILTER[:-1] + "GPS-B01", {"token": "token-1", "positions": [rec(-1)]}))
    assert w.step(wait=False) == 1  # dropped after the second failure, counted, no crash
    assert counters()[("worker", "error")] == 1


def test_database_outage_keeps_the_batch_until_stopped(
    fleet: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    calls = {"n": 0}
    real = ingest.ingest_batches

    def down_twice(**kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OperationalError("connection refused")
        return real(**kwargs)

    monkeypatch.setattr(ingest, "ingest_batches", down_twice)
    monkeypatch.setattr(mqtt, "RETRY_MAX_S", 0.01)
    w = worker()
    w.queue.put(msg(FILTER[:-1] + "GPS-B01", {"token": "token-1", "positions": [rec()]}))
    stop = threading.Event()
    started = time.monotonic()
    w.step(stop, wait=False)
    assert calls["n"] == 3 and Position.objects.count() == 1
    assert time.monotonic() - started < 5


def test_batches_are_gathered_up_to_batch_max(fleet: dict[str, Any]) -> None:
    w = mqtt.IngestWorker(url=URL, topic=FILTER, batch_max=3, batch_wait_s=0.0)
    for i in range(5):
        w.queue.put(msg(FILTER[:-1] + "GPS-B01", {"token": "token-1", "positions": [rec(-i)]}))
    assert w.step(wait=False) == 3
    assert w.step(wait=False) == 2
    assert w.step(wait=False) == 0
    assert Position.objects.count() == 5


# --- the real broker ---------------------------------------------------------------------------


def _broker() -> None:
    require_service("Mosquitto (MQTT broker)", *BROKER)


def _publisher() -> Any:
    client = mqtt.make_client(URL, client_id=f"thudo-test-pub-{uuid.uuid4().hex[:8]}")
    client.connect(*BROKER)
    client.loop_start()
    return client


def _until(check: Callable[[], bool], step: Callable[[], Any], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        step()
    return check()


def _wait_connected(w: mqtt.IngestWorker) -> None:
    assert w.connected.wait(10), "the worker did not connect to the broker"
    time.sleep(0.2)  # the SUBACK


@pytest.mark.services
def test_positions_over_the_broker(fleet: dict[str, Any]) -> None:
    _broker()
    base = f"thudo-test/{uuid.uuid4().hex}/positions"
    w = mqtt.IngestWorker(
        url=URL,
        topic=base + "/+",
        client_id=f"thudo-test-{uuid.uuid4().hex[:8]}",
        clean_start=True,
        batch_wait_s=0.05,
    )
    w.start()
    pub = _publisher()
    try:
        _wait_connected(w)
        for i in range(5):
            mqtt.publish_positions(
                pub,
                device_id="GPS-B01",
                token="token-1",
                positions=[rec(-10 + i)],
                topic=mqtt.topic_for("GPS-B01", base + "/+"),
            ).wait_for_publish(5)
        pub.publish(base + "/GPS-B02", b"garbage", qos=1).wait_for_publish(5)
        pub.publish(base + "/GPS-B02", b'{"token": "nope"}', qos=1).wait_for_publish(5)
        mqtt.publish_positions(
            pub,
            device_id="GPS-B02",
            token="token-2",
            positions=[rec(), rec(-1)],
            topic=base + "/GPS-B02",
        ).wait_for_publish(5)
        assert _until(lambda: Position.objects.count() == 7, w.step)
    finally:
        pub.loop_stop()
        pub.disconnect()
        w.stop()
    assert Position.objects.filter(vehicle=fleet["b01"], source="mqtt").count() == 5
    assert counters()[("GPS-B02", "malformed")] == 1
    assert counters()[("GPS-B02", "bad_token")] == 1


@pytest.mark.services
def test_unacknowledged_messages_come_again_after_a_restart(fleet: dict[str, Any]) -> None:
    _broker()
    base = f"thudo-test/{uuid.uuid4().hex}/positions"
    client_id = f"thudo-test-{uuid.uuid4().hex[:8]}"
    first = mqtt.IngestWorker(url=URL, topic=base + "/+", client_id=client_id)
    first.start()
    pub = _publisher()
    try:
        _wait_connected(first)
        mqtt.publish_positions(
            pub,
            device_id="GPS-B01",
            token="token-1",
            positions=[rec(-2), rec(-1)],
            topic=base + "/GPS-B01",
        ).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while first.queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not first.queue.empty(), "the message did not arrive"
        first.stop()  # "crashes" before storing: nothing acknowledged
        assert Position.objects.count() == 0
        second = mqtt.IngestWorker(url=URL, topic=base + "/+", client_id=client_id)
        second.start()
        try:
            assert _until(lambda: Position.objects.count() == 2, second.step)
        finally:
            second.stop()
    finally:
        pub.loop_stop()
        pub.disconnect()
        # forget the persistent session on the broker
        cleaner = mqtt.IngestWorker(
            url=URL, topic=base + "/+", client_id=client_id, clean_start=True
        )
        cleaner.start()
        cleaner.connected.wait(5)
        cleaner.stop()


@pytest.mark.services
def test_run_ingest_worker_until_stopped(transactional_db: Any) -> None:
    _broker()
    vehicle = Vehicle.objects.create(code="HN-B07")
    Device.objects.create(vehicle=vehicle, device_id="GPS-B07", token_hash=hash_token("t7"))
    base = f"thudo-test/{uuid.uuid4().hex}/positions"
    stop = threading.Event()
    ready: list[mqtt.IngestWorker] = []
    thread = threading.Thread(
        target=mqtt.run_ingest_worker,
        kwargs={
            "url": URL,
            "topic": base + "/+",
            "stop": stop,
            "batch_wait_s": 0.05,
            "client_id": f"thudo-test-{uuid.uuid4().hex[:8]}",
            "on_ready": ready.append,
            "clean_start": True,
        },
        daemon=True,
    )
    thread.start()
    pub = _publisher()
    try:
        deadline = time.monotonic() + 10
        while not ready and time.monotonic() < deadline:
            time.sleep(0.05)
        _wait_connected(ready[0])
        pub.publish(base + "/GPS-B07", b"\x00\x01", qos=1).wait_for_publish(5)
        mqtt.publish_positions(
            pub, device_id="GPS-B07", token="t7", positions=[rec(-1)], topic=base + "/GPS-B07"
        ).wait_for_publish(5)
        assert _until(lambda: Position.objects.count() == 1, lambda: time.sleep(0.1))
    finally:
        stop.set()
        thread.join(10)
        pub.loop_stop()
        pub.disconnect()
    assert not thread.is_alive()
    assert counters()[("GPS-B07", "malformed")] == 1
