"""`thudo transit mqtt [--url U] [--topic T]`: the MQTT ingest worker (thudo.transit.mqtt).

Stores what bus devices publish until it is stopped (Ctrl-C or SIGTERM: it stores what it had
received, then disconnects). The broker and topic default to TRANSIT_MQTT_URL and
TRANSIT_MQTT_TOPIC.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.conf import settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "mqtt",
        help="run the MQTT ingest worker (bus positions from the broker into the database)",
    )
    parser.add_argument(
        "--url", default="", help="broker, e.g. mqtt://user:pass@host:1883 (TRANSIT_MQTT_URL)"
    )
    parser.add_argument(
        "--topic",
        default="",
        help="topic filter with a '+' for the device id "
        "(TRANSIT_MQTT_TOPIC; $share/<group>/... to share the load among workers)",
    )
    parser.add_argument(
        "--client-id",
        default="",
        help="MQTT client id (default thudo-transit-ingest-<host>); give each worker its own",
    )
    parser.add_argument(
        "--batch-max", type=int, default=2000, help="positions per database transaction (2000)"
    )
    parser.add_argument(
        "--batch-wait",
        type=float,
        default=0.2,
        help="seconds to wait for more messages before storing a batch (0.2)",
    )
    parser.set_defaults(func=handle)


def handle(options: dict[str, Any], stdout: Any) -> int:
    from thudo.transit import mqtt

    url = options.get("url") or settings.TRANSIT_MQTT_URL
    topic = options.get("topic") or settings.TRANSIT_MQTT_TOPIC or mqtt.DEFAULT_TOPIC
    if not url:
        stdout.write(
            "No MQTT broker: set TRANSIT_MQTT_URL (e.g. mqtt://127.0.0.1:1883) or pass --url.\n"
        )
        return 2
    try:
        mqtt.parse_url(url)
    except ValueError as exc:
        stdout.write(f"{exc}\n")
        return 2
    if "+" not in mqtt.topic_levels(topic):
        stdout.write(f"The topic filter needs a '+' level for the device id: {topic}\n")
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("thudo.transit").setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    host, port, _user, _password = mqtt.parse_url(url)
    stdout.write(f"Storing positions from {host}:{port} topic {topic} (Ctrl-C stops).\n")
    stdout.flush()
    mqtt.run_ingest_worker(
        url=url,
        topic=topic,
        stop=stop,
        batch_max=options.get("batch_max") or 2000,
        batch_wait_s=float(options.get("batch_wait") or 0.0),
        client_id=options.get("client_id") or "",
    )
    stdout.write("Stopped.\n")
    return 0
