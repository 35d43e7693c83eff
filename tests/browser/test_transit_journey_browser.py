"""A bus on route 86 from its GPS tracker to a rider's phone and the stop's LED panel, in
Vietnamese.

The operator's timetable (a small GTFS feed whose trips run around the time the test runs) is
imported; a bus's tracker posts its last three minutes of positions over HTTP with its token,
as a device does. A rider without an account searches for a stop without accents, sees the bus
marked live beside scheduled departures, opens the route map with the bus on it and asks for a
reminder; the stop's panel shows the same arrival and reads it aloud as text. The operator's
control view lists the bus, and a second, silent device shows as silent.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from django.utils import timezone, translation

from .checks import contrast_failures, horizontal_overflow, unlabelled_controls

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
Url = Callable[..., str]
Shot = Callable[["Page", str], Path]

STOPS = [
    ("HG", "Hồ Gươm"),
    ("TT", "Tràng Tiền"),
    ("VD", "Bệnh viện Việt Đức"),
    ("GHN", "Ga Hà Nội"),
    ("VM", "Văn Miếu"),
    ("KM", "Kim Mã"),
    ("CG", "Cầu Giấy"),
]
WAYPOINTS = [
    (21.0287, 105.8524),
    (21.0262, 105.8541),
    (21.0231, 105.8493),
    (21.0246, 105.8412),
    (21.0283, 105.8356),
    (21.0310, 105.8236),
    (21.0330, 105.8090),
    (21.0338, 105.7960),
]
RUN_S = 150  # scheduled seconds from stop to stop, dwell included
LATE_S = 360  # the bus runs six minutes late (the operator's "late" starts at five)


def vi(message: str) -> str:
    """The Vietnamese text of an English msgid, as the pages show it."""
    with translation.override("vi"):
        return str(translation.gettext(message))


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _csv(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _feed(service_day: date, now_s: int) -> tuple[bytes, str, list[float]]:
    """A one-route GTFS zip with trips every 10 minutes around now_s (seconds of the service
    day), the id of the trip that left about 4 minutes ago, and the stops' distances."""
    from thudo.transit.engine.geometry import Polyline

    line = Polyline(WAYPOINTS)
    step = line.length / (len(STOPS) - 1)
    dists = [i * step for i in range(len(STOPS))]
    stops: list[list[Any]] = [["stop_id", "stop_code", "stop_name", "stop_lat", "stop_lon"]]
    for (code, name), dist in zip(STOPS, dists, strict=True):
        lat, lon, _ = line.point_at(dist)
        stops.append([code, code, name, f"{lat:.6f}", f"{lon:.6f}"])
    shape: list[list[Any]] = [["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"]]
    shape += [["S86", f"{lat:.6f}", f"{lon:.6f}", i + 1] for i, (lat, lon) in enumerate(WAYPOINTS)]
    trips: list[list[Any]] = [
        ["route_id", "service_id", "trip_id", "trip_headsign", "direction_id", "shape_id"]
    ]
    times: list[list[Any]] = [
        ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"]
    ]
    live_trip = ""
    for k in range(-8, 14):
        start = now_s - 240 + k * 600
        if start < 0:
            continue
        trip_id = f"86-{start}"
        if k == -1:
            live_trip = trip_id
        trips.append(["86", "ALL", trip_id, "Cầu Giấy", 0, "S86"])
        for i, (code, _name) in enumerate(STOPS):
            at = _hms(start + i * RUN_S)
            times.append([trip_id, at, at, code, i + 1])
    first, last = service_day - timedelta(days=2), service_day + timedelta(days=30)
    files: dict[str, list[list[Any]]] = {
        "agency.txt": [
            ["agency_id", "agency_name", "agency_url", "agency_timezone"],
            ["TRANSERCO", "Transerco", "https://transerco.vn", "Asia/Ho_Chi_Minh"],
        ],
        "routes.txt": [
            ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"],
            ["86", "TRANSERCO", "86", "Hồ Gươm – Cầu Giấy", 3],
        ],
        "stops.txt": stops,
        "shapes.txt": shape,
        "trips.txt": trips,
        "stop_times.txt": times,
        "calendar.txt": [
            [
                "service_id",
                *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
                "start_date",
                "end_date",
            ],
            ["ALL", 1, 1, 1, 1, 1, 1, 1, first.strftime("%Y%m%d"), last.strftime("%Y%m%d")],
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, rows in files.items():
            archive.writestr(name, _csv(rows))
    return buffer.getvalue(), live_trip, dists


@pytest.fixture
def city(hanoi: Any) -> Any:
    """The timetable, a bus with its tracker, a second bus whose tracker never reported, and
    the operator at the Department of Construction."""
    from types import SimpleNamespace

    from thudo.accounts import services as accounts
    from thudo.accounts.roles import Role
    from thudo.transit import devices, gtfs
    from thudo.transit.engine.types import TZ

    now = timezone.now().astimezone(TZ)
    service_day = now.date()
    midnight = datetime.combine(service_day, datetime.min.time(), TZ)
    now_s = int((now - midnight).total_seconds())
    if now_s < 3 * 3600:  # after midnight: yesterday's service day, past 24:00:00
        service_day -= timedelta(days=1)
        now_s += 86_400
    data, live_trip, dists = _feed(service_day, now_s)
    feed = gtfs.import_feed(source=data, name="Tuyến 86 (thử nghiệm)")
    department = accounts.agency_create(
        code="HN-SXD", name="Sở Xây dựng", kind="department", admin_unit=hanoi
    )
    operator = accounts.official_create(
        username="dieuhanh.vantai", full_name="Trần Văn Điều", password="mat-khau-demo-1"
    )
    accounts.role_grant(user=operator, agency=department, role=Role.TRANSIT_OPERATOR)
    bus = devices.vehicle_create(
        actor=operator, code="HN-86-01", label="86-01", license_plate="29B-186.01"
    )
    device, token = devices.device_register(actor=operator, vehicle=bus, device_id="GPS-86-01")
    spare = devices.vehicle_create(actor=operator, code="HN-86-02", label="86-02")
    devices.device_register(actor=operator, vehicle=spare, device_id="GPS-86-02")
    return SimpleNamespace(
        feed=feed,
        operator=operator,
        bus=bus,
        device=device,
        token=token,
        live_trip=live_trip,
        start_s=int(live_trip.split("-")[1]),
        now_s=now_s,
        now=now,
        dists=dists,
    )


def _positions(city: Any) -> list[dict[str, Any]]:
    """The last three minutes of the bus's reports: on its trip, six minutes behind the
    timetable, every 10 seconds."""
    from thudo.transit.engine.geometry import Polyline

    line = Polyline(WAYPOINTS)
    out = []
    for back in range(180, -1, -10):
        at = city.now - timedelta(seconds=back)
        elapsed = city.now_s - back - city.start_s - LATE_S
        leg = max(0.0, min(len(STOPS) - 1.0, elapsed / RUN_S))
        i = min(int(leg), len(STOPS) - 2)
        dist = city.dists[i] + (leg - i) * (city.dists[i + 1] - city.dists[i])
        lat, lon, bearing = line.point_at(dist)
        out.append(
            {
                "timestamp": at.timestamp(),
                "latitude": round(lat, 6),
                "longitude": round(lon, 6),
                "speed": 6.5,
                "bearing": round(bearing),
                "trip_id": city.live_trip,
            }
        )
    return out


@pytest.fixture
def as_user(browser: Browser, live_url: Url) -> Iterator[Callable[[Any], Page]]:
    """as_user(user) -> a phone-sized page signed in as that user (None: a visitor)."""
    from django.conf import settings
    from django.test import Client

    from thudo.accounts.testing import login_verified

    contexts = []
    errors: list[str] = []

    def open_as(user: Any, width: int = 360, height: int = 740) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
        context.set_default_timeout(15_000)
        contexts.append(context)
        if user is not None:
            client = Client()
            login_verified(client, user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_url("/")}])
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _check_page(page: Page) -> None:
    assert horizontal_overflow(page) == []
    assert contrast_failures(page) == []
    assert unlabelled_controls(page) == []


def test_a_bus_reports_and_a_rider_sees_it_live_on_the_phone_and_the_stop_panel(
    city: Any, as_user: Callable[..., Page], live_url: Url, screenshot: Shot
) -> None:
    from thudo.transit.models import Position, Prediction, VehicleState

    # The tracker posts its buffered reports with its token, as the device protocol says.
    answer = httpx.post(
        live_url("transit:ingest_positions"),
        json={"positions": _positions(city)},
        headers={"Authorization": f"Bearer {city.token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 19
    assert Position.objects.filter(vehicle=city.bus).count() == 19
    state = VehicleState.objects.get(vehicle=city.bus)
    assert state.trip_id == city.live_trip and state.status == VehicleState.Status.IN_SERVICE
    predicted = list(Prediction.objects.filter(vehicle=city.bus).order_by("stop_sequence"))
    assert predicted and predicted[-1].stop_id == "CG"
    downstream = predicted[0].stop_id
    stop_name = dict(STOPS)[downstream]

    # A wrong token is refused and counted, and stores nothing.
    refused = httpx.post(
        live_url("transit:ingest_positions"),
        json={"positions": _positions(city)[:1]},
        headers={"Authorization": "Bearer not-the-token"},
        timeout=30,
    )
    assert refused.status_code == 401 and refused.json()["code"] == "bad_token"
    assert Position.objects.filter(vehicle=city.bus).count() == 19

    # A rider looks for the stop by its name without accents.
    rider = as_user(None)
    rider.goto(live_url("transit:home"))
    assert rider.locator("html").get_attribute("lang") == "vi"
    rider.get_by_role("searchbox").fill("cau giay")
    rider.get_by_role("searchbox").press("Enter")
    rider.wait_for_load_state("domcontentloaded")
    assert rider.get_by_role("link", name="Cầu Giấy").count() >= 1
    _check_page(rider)
    screenshot(rider, "transit-search-vi")

    # The next stop of the bus: the bus is live, the later trips are scheduled.
    rider.goto(live_url("transit:stop", downstream))
    assert stop_name in rider.locator("h1").inner_text()
    rows = rider.locator("[data-arrival-rows] tr")
    assert rows.count() >= 2
    live_rows = rider.locator("tr.tr-arr-live")
    assert live_rows.count() == 1
    assert vi("Live") in live_rows.first.inner_text()
    assert "86-01" in live_rows.first.inner_text()
    assert rider.locator("tr.tr-arr-sched").count() >= 1
    assert vi("Scheduled") in rider.locator("tr.tr-arr-sched").first.inner_text()
    _check_page(rider)
    screenshot(rider, "transit-stop-vi")

    # The route map shows the bus.
    rider.goto(live_url("transit:route", "86"))
    rider.wait_for_selector(".leaflet-container")
    rider.wait_for_function(
        "document.querySelectorAll('.leaflet-marker-icon, .tr-bus-marker').length > 0"
    )
    assert "86-01" in rider.locator("main").inner_text()
    screenshot(rider, "transit-route-vi")

    # The stop's LED panel and its announcement.
    panel = as_user(None, 1280, 720)
    panel.goto(live_url("transit:panel", downstream))
    assert "86" in panel.locator("main, body").first.inner_text()
    assert "Cầu Giấy" in panel.locator("body").inner_text()
    screenshot(panel, "transit-panel-vi")
    spoken = httpx.get(live_url("transit:panel_announcement", downstream), timeout=30)
    assert spoken.status_code == 200
    assert "86" in spoken.text and "Cầu Giấy" in spoken.text

    # The operator's control view: the bus late on its route, the other tracker silent.
    operator = as_user(city.operator, 1280, 900)
    operator.goto(live_url("transit_official:control"))
    operator.wait_for_load_state("domcontentloaded")
    screenshot(operator, "transit-control-vi")
    late = operator.locator("section", has=operator.locator("#late-title"))
    assert "86-01" in late.inner_text()
    silent = operator.locator("section", has=operator.locator("#silent-title"))
    assert "GPS-86-02" in silent.inner_text()
    _check_page(operator)
