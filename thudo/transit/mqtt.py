"""The MQTT side of the device protocol: the ingest worker, and publishing for the simulator.

Devices publish to `thudo/transit/v1/positions/<device_id>` (QoS 1) a JSON payload
`{"token": "...", "positions": [record, ...]}` (or one record beside the token); the record is
the one HTTP takes (docs/transit-devices.md). The token travels in the payload because the
broker may be shared with other telemetry and its ACLs are not ours to rely on (ADR 0020).

`run_ingest_worker` subscribes with paho-mqtt 2.x (MQTT 5, a persistent session, manual
acknowledgements): paho's network thread only queues what arrives; the calling thread gathers
messages into batches (up to `batch_max` positions or `batch_wait_s` after the first),
authenticates each message's token against the device named by its topic, and stores the whole
batch in one transaction (`ingest.ingest_batches`, one group per device). Messages are
acknowledged only once their batch is stored, so a worker that dies or loses its database
gets them again from the broker (repeats are dropped by the ingest's unique key). Malformed
payloads, bad topics and bad tokens are counted per device (`IngestCounter`) and never stop
the worker; it reconnects by itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections
from django.utils import translation

from . import ingest

log = logging.getLogger(__name__)

DEFAULT_TOPIC = "thudo/transit/v1/positions/+"
SESSION_EXPIRY_S = 3600  # the broker keeps our subscription and unacknowledged messages this long
RECEIVE_MAXIMUM = 5000  # unacknowledged messages the broker may have in flight to the worker
RETRY_MAX_S = 30.0
STATS_EVERY_S = 60.0


# --- addresses and topics ----------------------------------------------------------------------


def parse_url(url: str) -> tuple[str, int, str | None, str | None]:
    """`mqtt://user:password@host:1883` -> (host, port, user, password). `mqtts://` (TLS)
    defaults to port 8883, `mqtt://` to 1883; user and password are percent-decoded."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"not an MQTT URL (mqtt:// or mqtts://): {url!r}")
    if not parts.hostname:
        raise ValueError(f"the MQTT URL names no host: {url!r}")
    try:
        port = parts.port or (8883 if scheme in ("mqtts", "ssl") else 1883)
    except ValueError:
        raise ValueError(f"the MQTT URL has a bad port: {url!r}") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, user, password


def _uses_tls(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in ("mqtts", "ssl")


def topic_levels(topic_filter: str) -> list[str]:
    """The subscription's levels without a shared-subscription prefix ($share/<group>/...)."""
    levels = topic_filter.split("/")
    if levels and levels[0] == "$share" and len(levels) > 2:
        levels = levels[2:]
    return levels


def topic_for(device_id: str, topic_filter: str | None = None) -> str:
    """The topic a device publishes to: the worker's filter with its `+` level replaced by the
    device id (thudo/transit/v1/positions/<device_id> by default)."""
    if not device_id or any(c in device_id for c in "/+#\x00"):
        raise ValueError(f"a device id cannot be a topic level: {device_id!r}")
    levels = topic_levels(topic_filter or settings.TRANSIT_MQTT_TOPIC or DEFAULT_TOPIC)
    if "+" not in levels:
        raise ValueError(f"the topic filter has no '+' level for the device id: {topic_filter!r}")
    index = levels.index("+")
    return "/".join(device_id if i == index else lvl for i, lvl in enumerate(levels))


def device_id_from_topic(topic: str, topic_filter: str) -> str | None:
    """The device id in a message's topic (the level where the filter has `+`), or None when
    the topic does not fit the filter."""
    levels = topic_levels(topic_filter)
    parts = topic.split("/")
    if len(parts) != len(levels) or "+" not in levels:
        return None
    index = levels.index("+")
    for want, got in zip(levels, parts, strict=True):
        if want not in ("+", got):
            return None
    device_id = parts[index]
    return device_id or None


# --- publishing (devices, the simulator) --------------------------------------------------


def publish_positions(
    client: Any,
    *,
    device_id: str,
    token: str,
    positions: list[dict[str, Any]],
    qos: int = 1,
    topic: str | None = None,
) -> Any:
    """Publish one device's positions as the device would; returns paho's MQTTMessageInfo.

    `topic` defaults to `topic_for(device_id)` (from settings.TRANSIT_MQTT_TOPIC)."""
    payload = json.dumps(
        {"token": token, "positions": positions}, separators=(",", ":"), ensure_ascii=False
    )
    return client.publish(topic or topic_for(device_id), payload.encode(), qos=qos)


def make_client(url: str, *, client_id: str = "", **kwargs: Any) -> Any:
    """A paho-mqtt 2.x client (callback API 2) set up for `url` (credentials, TLS), not yet
    connected."""
    import paho.mqtt.client as paho

    _host, _port, user, password = parse_url(url)
    client = paho.Client(
        callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=client_id, **kwargs
    )
    if user:
        client.username_pw_set(user, password)
    if _uses_tls(url):
        client.tls_set()
    client.reconnect_delay_set(min_delay=1, max_delay=int(RETRY_MAX_S))
    return client


# --- the worker -----------------------------------------------------------------------------


@dataclass
class Message:
    """One received message, as paho's thread hands it over."""

    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0
    generation: int = 0  # the connection it came on (acks are only valid on that one)


@dataclass
class Stats:
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    refused_messages: int = 0  # bad topic, bad token, malformed payload, too many
    batches: int = 0
    failures: int = 0
    since: float = field(default_factory=time.monotonic)


class IngestWorker:
    """Gathers MQTT messages into batches and stores them (see the module's docstring).

    `start()` connects (in paho's thread, retrying), `step()` stores one batch from the queue
    (call it in a loop: `run()`), `stop()` disconnects. Tests call `handle()` directly."""

    def __init__(
        self,
        *,
        url: str,
        topic: str,
        batch_max: int = 2000,
        batch_wait_s: float = 0.2,
        client_id: str = "",
        clean_start: bool = False,
    ) -> None:
        self.url = url
        self.topic = topic
        self.batch_max = max(1, batch_max)
        self.batch_wait_s = max(0.0, batch_wait_s)
        self.client_id = client_id or f"thudo-transit-ingest-{socket.gethostname()}"[:64]
        self.clean_start = clean_start
        self.queue: queue.Queue[Message] = queue.Queue()
        self.generation = 0
        self.connected = threading.Event()
        self.stats = Stats()
        self.client: Any = None

    # paho's network thread ------------------------------------------------------------------

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            log.warning("transit mqtt: the broker refused the connection: %s", reason_code)
            return
        self.generation += 1
        client.subscribe(self.topic, qos=1)
        self.connected.set()
        log.info("transit mqtt: connected, subscribed to %s", self.topic)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            log.warning("transit mqtt: disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.queue.put(
            Message(message.topic, message.payload, message.mid, message.qos, self.generation)
        )

    # connection -----------------------------------------------------------------------------

    def start(self) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        host, port, _user, _password = parse_url(self.url)
        client = make_client(
            self.url, client_id=self.client_id, protocol=paho.MQTTv5, manual_ack=True
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = 0 if self.clean_start else SESSION_EXPIRY_S
        connect.ReceiveMaximum = RECEIVE_MAXIMUM
        client.connect_async(
            host, port, keepalive=30, clean_start=self.clean_start, properties=connect
        )
        client.loop_start()
        self.client = client

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None
        self.connected.clear()

    # the calling thread ------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Store batches until `stop` is set (then what was already received, and disconnect)."""
        stop = stop or threading.Event()
        self.start()
        last_stats = time.monotonic()
        try:
            while not stop.is_set():
                self.step(stop)
                if time.monotonic() - last_stats >= STATS_EVERY_S:
                    self._log_stats()
                    last_stats = time.monotonic()
            while not self.queue.empty():  # what arrived before the stop
                self.step(stop, wait=False)
        finally:
            self.stop()
            self._log_stats()

    def step(self, stop: threading.Event | None = None, *, wait: bool = True) -> int:
        """Take one batch from the queue (waiting up to 1 s for its first message, then
        `batch_wait_s` for more), store it and acknowledge it; returns the messages handled."""
        messages = self._gather(wait)
        if messages:
            self._store_with_retries(messages, stop)
        return len(messages)

    def _gather(self, wait: bool) -> list[Message]:
        try:
            first = self.queue.get(timeout=1.0) if wait else self.queue.get_nowait()
        except queue.Empty:
            return []
        messages = [first]
        size = _size_hint(first)
        deadline = time.monotonic() + self.batch_wait_s
        while size < self.batch_max:
            left = deadline - time.monotonic()
            try:
                message = self.queue.get(timeout=left) if left > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            messages.append(message)
            size += _size_hint(message)
        return messages

    def _store_with_retries(self, messages: list[Message], stop: threading.Event | None) -> None:
        delay = 1.0
        bug_retried = False
        while True:
            try:
                self.handle(messages)
                break
            except (OperationalError, InterfaceError) as exc:
                # the database is away: keep the batch (unacknowledged) and try again
                self.stats.failures += 1
                log.warning(
                    "transit mqtt: cannot store a batch (%s); retrying in %.0f s", exc, delay
                )
                _refresh_connections()
                if stop is not None and stop.wait(delay):
                    return  # unacknowledged: the broker sends them again to the next worker
                if stop is None:
                    time.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)
            except Exception:
                self.stats.failures += 1
                if not bug_retried:
                    log.exception("transit mqtt: a batch failed; trying it once more")
                    bug_retried = True
                    ingest.clear_auth_cache()
                    _refresh_connections()
                    continue
                log.exception(
                    "transit mqtt: a batch failed twice; dropping its %d messages", len(messages)
                )
                with contextlib.suppress(DatabaseError):
                    ingest.count_many(
                        {("worker", ingest.ERROR): (len(messages), "batch failed twice")}
                    )
                break
        self._ack(messages)

    def _ack(self, messages: list[Message]) -> None:
        client = self.client
        if client is None:
            return
        for message in messages:
            if message.qos and message.generation == self.generation:
                client.ack(message.mid, message.qos)

    def handle(self, messages: list[Message]) -> list[ingest.IngestResult]:
        """Authenticate and store one batch of messages in one transaction; refused messages
        are counted in the same transaction."""
        _refresh_connections()  # a long-lived worker: drop a broken or too old connection
        refused: dict[tuple[str, str], tuple[int, str]] = {}

        def refuse(key: str, outcome: str, detail: str, n: int = 1) -> None:
            count, _old = refused.get((key, outcome), (0, ""))
            refused[(key, outcome)] = (count + n, detail)
            self.stats.refused_messages += 1

        groups: dict[int, ingest.DeviceBatch] = {}
        records_of: dict[int, list[Any]] = {}
        limit = settings.TRANSIT_MAX_BATCH
        with translation.override(settings.LANGUAGE_CODE):
            for message in messages:
                self.stats.messages += 1
                device_id = device_id_from_topic(message.topic, self.topic)
                if device_id is None:
                    refuse("unknown", ingest.BAD_TOPIC, message.topic[:200])
                    continue
                try:
                    body = json.loads(message.payload)
                except (ValueError, RecursionError):
                    refuse(device_id, ingest.MALFORMED, "payload is not JSON (UTF-8)")
                    continue
                if not isinstance(body, dict):
                    refuse(device_id, ingest.MALFORMED, "payload is not a JSON object")
                    continue
                token = body.get("token")
                device = ingest.authenticate(token) if isinstance(token, str) else None
                if device is None:
                    refuse(device_id, ingest.BAD_TOKEN, "missing or unknown token")
                    continue
                if device.device_id != device_id:
                    refuse(device_id, ingest.BAD_TOKEN, f"token of device {device.device_id}"[:255])
                    continue
                if "positions" in body:
                    records = body["positions"]
                else:
                    records = [{k: v for k, v in body.items() if k != "token"}]
                if not isinstance(records, list):
                    refuse(device_id, ingest.MALFORMED, "positions: must be a list")
                    continue
                if len(records) > limit:
                    refuse(
                        device_id,
                        ingest.TOO_MANY,
                        f"{len(records)} positions in one message",
                        len(records),
                    )
                    continue
                if device.pk in records_of:
                    records_of[device.pk].extend(records)
                else:
                    records_of[device.pk] = list(records)
                    groups[device.pk] = ingest.DeviceBatch(records_of[device.pk], device, device_id)
            if not groups and not refused:
                return []
            results = ingest.ingest_batches(
                batches=list(groups.values()), source="mqtt", extra_counts=refused
            )
        self.stats.batches += 1
        for result in results:
            self.stats.accepted += result.accepted
            self.stats.duplicates += result.duplicates
            self.stats.rejected += len(result.rejected)
        return results

    def _log_stats(self) -> None:
        s = self.stats
        seconds = max(1e-9, time.monotonic() - s.since)
        log.info(
            "transit mqtt: %d messages in %d batches, %d positions stored (%.0f/s), "
            "%d repeats, %d refused records, %d refused messages, %d failures",
            s.messages,
            s.batches,
            s.accepted,
            s.accepted / seconds,
            s.duplicates,
            s.rejected,
            s.refused_messages,
            s.failures,
        )
        self.stats = Stats()


def _size_hint(message: Message) -> int:
    """Roughly how many positions a message holds (~100 bytes each), to size batches without
    parsing twice."""
    return max(1, len(message.payload) // 100)


def run_ingest_worker(
    *,
    url: str,
    topic: str,
    stop: threading.Event | None = None,
    batch_max: int = 2000,
    batch_wait_s: float = 0.2,
    client_id: str = "",
    clean_start: bool = False,
    on_ready: Callable[[IngestWorker], None] | None = None,
) -> None:
    """Subscribe to `topic` on the broker at `url` and store what devices publish until `stop`
    is set (see the module's docstring). Several workers may share the load through a shared
    subscription (`$share/thudo/thudo/transit/v1/positions/+`), each with its own client id."""
    worker = IngestWorker(
        url=url,
        topic=topic,
        batch_max=batch_max,
        batch_wait_s=batch_wait_s,
        client_id=client_id,
        clean_start=clean_start,
    )
    if on_ready is not None:
        on_ready(worker)
    worker.run(stop)


def _refresh_connections() -> None:
    """Drop broken or too old database connections between batches, as a long-lived worker
    must — but never inside a transaction (a test's, or a caller's): closing would end it."""
    from django.db import connection

    if not connection.in_atomic_block:
        close_old_connections()
