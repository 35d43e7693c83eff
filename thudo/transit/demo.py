"""The demo city's buses: the Hanoi demo network as the active timetable and one bus with its
GPS tracker per block.

What it loads (idempotent; well under 20 s):

* the demo GTFS (`demo_network.build_demo_gtfs`) imported as "Hà Nội — mạng buýt mẫu" and
  switched on, when no timetable version is active (an operator's own feed is left alone);
* for every block of the active timetable one `Vehicle` (code `HN-<block>`, a Hanoi plate like
  "29B-123.45", the route's operator) with one `Device` (`GPS-<block>`, whose token is
  `tokens.demo_device_token(device_id)`, so the simulator can sign in as it) and an empty
  `VehicleState`. Existing vehicles and devices are kept as they are.
"""

from __future__ import annotations

import random
import time
from typing import Any

from django.db import transaction

from . import timetable
from .demo_network import build_demo_gtfs, device_id_for_block, vehicle_code_for_block
from .gtfs import import_feed
from .models import Device, Feed, Trip, Vehicle, VehicleState
from .tokens import demo_device_token, hash_token

DEMO_FEED_NAME = "Hà Nội — mạng buýt mẫu"
DEFAULT_OPERATOR = "Tổng công ty Vận tải Hà Nội (Transerco)"


def _say(stdout: Any, text: str) -> None:
    if stdout is not None:
        stdout.write(text + "\n")


def demo_plate(index: int, seed: int = 18) -> str:
    """A Hanoi bus plate (29B-xxx.xx), distinct for each index below 90,000."""
    n = (index * 7919 + seed * 104_729) % 90_000 + 10_000
    return f"29B-{n // 100:03d}.{n % 100:02d}"


def demo_load(stdout: Any = None) -> None:
    started = time.monotonic()
    feed = timetable.active_feed()
    if feed is None:
        feed = import_feed(source=build_demo_gtfs(), name=DEMO_FEED_NAME, activate=True)
        _say(stdout, f"transit: demo timetable imported as version {feed.version}")
    _fleet_load(feed, stdout)
    _say(stdout, f"transit: demo loaded in {time.monotonic() - started:.1f} s")


@transaction.atomic
def _fleet_load(feed: Feed, stdout: Any) -> None:
    blocks: dict[str, str] = {}  # block -> operator (its first trip's agency)
    rows = (
        Trip.objects.filter(feed=feed)
        .exclude(block_id="")
        .order_by("block_id")
        .values_list("block_id", "route__agency__name")
    )
    for block_id, agency_name in rows:
        blocks.setdefault(block_id, agency_name or DEFAULT_OPERATOR)
    codes = {vehicle_code_for_block(b): b for b in blocks}
    existing = set(Vehicle.objects.filter(code__in=codes).values_list("code", flat=True))
    rng = random.Random(18)  # noqa: S311 — reproducible demo data
    order = sorted(codes)
    rng.shuffle(order)
    plate_of = {code: demo_plate(i) for i, code in enumerate(order)}
    new_vehicles = [
        Vehicle(
            code=code,
            label=codes[code],
            license_plate=plate_of[code],
            operator=blocks[codes[code]],
        )
        for code in sorted(codes)
        if code not in existing
    ]
    Vehicle.objects.bulk_create(new_vehicles, batch_size=1000)
    vehicle_pk = dict(Vehicle.objects.filter(code__in=codes).values_list("code", "pk"))
    device_ids = {device_id_for_block(b): vehicle_code_for_block(b) for b in blocks}
    have_devices = set(
        Device.objects.filter(device_id__in=device_ids).values_list("device_id", flat=True)
    )
    new_devices = []
    for device_id in sorted(device_ids):
        if device_id in have_devices:
            continue
        token = demo_device_token(device_id)
        new_devices.append(
            Device(
                vehicle_id=vehicle_pk[device_ids[device_id]],
                device_id=device_id,
                token_hash=hash_token(token),
                token_hint=token[-4:],
            )
        )
    Device.objects.bulk_create(new_devices, batch_size=1000)
    have_states = set(
        VehicleState.objects.filter(vehicle_id__in=vehicle_pk.values()).values_list(
            "vehicle_id", flat=True
        )
    )
    VehicleState.objects.bulk_create(
        [VehicleState(vehicle_id=pk) for pk in vehicle_pk.values() if pk not in have_states],
        batch_size=1000,
    )
    _say(
        stdout,
        f"transit: {len(blocks)} demo buses ({len(new_vehicles)} new), "
        f"{len(new_devices)} new GPS devices",
    )
