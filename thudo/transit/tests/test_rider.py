"""Riders' reads and pages: accent-insensitive search, next arrivals merging live predictions
with the timetable (ghosts, stale reports, passed and served trips, calendar exceptions, trips
past midnight, last stops), route detail and buses, the pages and their JSON refreshes, the stop
panel and its announcement, and bounded query counts. Data is built with the models."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from thudo.transit import selectors
from thudo.transit.engine.types import TZ, service_day_start
from thudo.transit.models import (
    Agency,
    Calendar,
    CalendarDate,
    Feed,
    Prediction,
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

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
STOPS = {
    # stop_id: (name, code, lat, lon)
    "S1": ("Cầu Giấy", "CG-01", 21.0330, 105.7990),
    "S2": ("Đại học Quốc gia", "DHQG", 21.0380, 105.7830),
    "S3": ("Bến xe Giáp Bát", "GB", 20.9800, 105.8410),
    "S4": ("Long Biên", "LB", 21.0410, 105.8490),
    "S5": ("Hồ Gươm", "HG", 21.0285, 105.8522),
}


@dataclass
class Net:
    feed: Feed
    routes: dict[str, Route]
    stops: dict[str, Stop]
    shape: Shape
    trips: dict[str, Trip] = field(default_factory=dict)


def _sod(now: datetime, day: date) -> int:
    """Seconds of service day `day` at `now`."""
    return round(now.timestamp() - service_day_start(day, TZ))


def build_network(today: date) -> Net:
    selectors.clear_cache()
    feed = Feed.objects.create(name="Test", version=1, status=Feed.Status.ACTIVE)
    agency = Agency.objects.create(feed=feed, agency_id="TC", name="Transerco")
    routes = {
        "R32": Route.objects.create(
            feed=feed,
            route_id="R32",
            agency=agency,
            short_name="32",
            long_name="Giáp Bát - Cầu Giấy",
            color="FFD200",  # yellow: white text would fail contrast
            text_color="FFFFFF",
        ),
        "R09": Route.objects.create(
            feed=feed,
            route_id="R09",
            agency=agency,
            short_name="09",
            long_name="Long Biên - Đại học Quốc gia",
            color="0A58CA",
            text_color="FFFFFF",
        ),
        "E01": Route.objects.create(
            feed=feed, route_id="E01", agency=agency, short_name="E01", long_name="Điện"
        ),
    }
    stops = {
        sid: Stop.objects.create(feed=feed, stop_id=sid, name=n, code=c, lat=lat, lon=lon)
        for sid, (n, c, lat, lon) in STOPS.items()
    }
    Calendar.objects.create(
        feed=feed,
        service_id="ALL",
        **{d: True for d in WEEKDAYS},
        start_date=today - timedelta(days=30),
        end_date=today + timedelta(days=30),
    )
    Calendar.objects.create(
        feed=feed,
        service_id="OFF",
        **{d: True for d in WEEKDAYS},
        start_date=today - timedelta(days=30),
        end_date=today + timedelta(days=30),
    )
    # OFF does not run today nor yesterday (calendar_dates.txt exceptions)
    CalendarDate.objects.create(feed=feed, service_id="OFF", date=today, exception_type=2)
    CalendarDate.objects.create(
        feed=feed, service_id="OFF", date=today - timedelta(days=1), exception_type=2
    )
    pts = [STOPS[s][2:] for s in ("S1", "S2", "S3")]
    shape = Shape.objects.create(
        feed=feed,
        shape_id="SH32",
        points=[[lat, lon, i * 1000.0] for i, (lat, lon) in enumerate(pts)],
        length_m=2000,
    )
    return Net(feed, routes, stops, shape)


def add_trip(
    net: Net,
    trip_id: str,
    route: str,
    start_s: int,
    stops: tuple[str, ...] = ("S1", "S2", "S3"),
    *,
    service: str = "ALL",
    direction: int = 0,
    headsign: str = "Bến xe Giáp Bát",
    step_s: int = 300,
) -> Trip:
    trip = Trip.objects.create(
        feed=net.feed,
        trip_id=trip_id,
        route=net.routes[route],
        service_id=service,
        headsign=headsign,
        direction_id=direction,
        shape=net.shape if route == "R32" else None,
        start_s=start_s,
        end_s=start_s + step_s * (len(stops) - 1),
    )
    StopTime.objects.bulk_create(
        StopTime(
            trip=trip,
            stop=net.stops[sid],
            stop_sequence=i + 1,
            arrival_s=start_s + i * step_s,
            departure_s=start_s + i * step_s,
            dist_m=i * 1000.0,
        )
        for i, sid in enumerate(stops)
    )
    net.trips[trip_id] = trip
    return trip


def add_bus(
    code: str,
    *,
    trip: str,
    route: str = "R32",
    now: datetime,
    status: str = VehicleState.Status.IN_SERVICE,
    next_seq: int | None = 1,
    next_stop: str = "S1",
    recorded_at: datetime | None = None,
    service_date: date | None = None,
    lat: float = 21.035,
    lon: float = 105.795,
) -> Vehicle:
    vehicle = Vehicle.objects.create(code=code, label=f"29B-{code[-3:]}", license_plate="")
    VehicleState.objects.create(
        vehicle=vehicle,
        recorded_at=recorded_at or now,
        lat=lat,
        lon=lon,
        bearing=90.0,
        status=status,
        trip_id=trip,
        route_id=route,
        direction_id=0,
        service_date=service_date or now.astimezone(TZ).date(),
        next_stop_sequence=next_seq,
        next_stop_id=next_stop,
        deviation_s=120,
    )
    return vehicle


def predict(
    vehicle: Vehicle,
    *,
    trip: str,
    stop: str,
    seq: int,
    arrival: datetime,
    scheduled: datetime | None = None,
    route: str = "R32",
) -> Prediction:
    return Prediction.objects.create(
        vehicle=vehicle,
        trip_id=trip,
        route_id=route,
        direction_id=0,
        service_date=arrival.astimezone(TZ).date(),
        stop_id=stop,
        stop_sequence=seq,
        arrival=arrival,
        departure=arrival + timedelta(seconds=20),
        uncertainty_s=75,
        scheduled_arrival=scheduled,
    )


# a Monday morning, fixed, for the selector tests
NOW = datetime(2025, 3, 10, 8, 0, tzinfo=TZ)
TODAY = NOW.date()


@pytest.fixture
def net() -> Net:
    n = build_network(TODAY)
    base = _sod(NOW, TODAY)
    for i in range(6):  # every 10 min from 5 min ago
        add_trip(n, f"T32-{i}", "R32", base - 300 + i * 600)
    add_trip(n, "T32-OFF", "R32", base + 120, service="OFF")
    add_trip(
        n,
        "T09-0",
        "R09",
        base + 60,
        ("S4", "S5", "S1", "S2"),
        direction=1,
        headsign="Đại học Quốc gia",
    )
    return n


# --- text and colours -----------------------------------------------------------------------


def test_fold_drops_vietnamese_marks() -> None:
    assert selectors.fold("Cầu Giấy") == "cau giay"
    assert selectors.fold("ĐẠI HỌC Quốc-gia") == "dai hoc quoc gia"


def test_badge_colours_reach_aa_contrast() -> None:
    bg, fg = selectors.badge_colours("FFD200", "FFFFFF")
    assert (bg, fg) == ("#ffd200", "#000000")
    assert selectors.contrast_ratio(bg[1:], fg[1:]) >= 4.5
    assert selectors.badge_colours("0A58CA", "FFFFFF") == ("#0a58ca", "#ffffff")
    assert selectors.badge_colours("", "") == ("#1b1b1f", "#ffffff")
    assert selectors.badge_colours("not-a-colour", "") == ("#1b1b1f", "#ffffff")


# --- search ----------------------------------------------------------------------------------


def test_search_is_accent_insensitive(net: Net) -> None:
    found = selectors.search("cau giay")
    assert [s["stop_id"] for s in found["stops"]] == ["S1"]
    assert [r["route_id"] for r in found["routes"]] == ["R32"]  # "Giáp Bát - Cầu Giấy"
    assert selectors.search("dai hoc")["stops"][0]["name"] == "Đại học Quốc gia"
    assert selectors.search("ĐẠI HỌC")["stops"][0]["stop_id"] == "S2"


def test_search_by_code_and_number(net: Net) -> None:
    assert selectors.search("cg-01")["stops"][0]["stop_id"] == "S1"
    routes = selectors.search("32")["routes"]
    assert routes[0]["route_id"] == "R32"
    assert routes[0]["color"] == "#ffd200" and routes[0]["text_color"] == "#000000"
    assert selectors.search("e01")["routes"][0]["route_id"] == "E01"
    assert selectors.search("")["stops"] == []
    assert selectors.search("khong co gi")["stops"] == []


def test_search_lists_routes_at_a_stop(net: Net) -> None:
    stop = selectors.search("cau giay")["stops"][0]
    assert [r["short_name"] for r in stop["routes"]] == ["09", "32"]


def test_nearby_stops_nearest_first(net: Net) -> None:
    near = selectors.nearby_stops(21.0331, 105.7991, radius_m=2000)
    assert near[0]["stop_id"] == "S1"
    assert near[0]["distance_m"] < 30
    assert "S3" not in {s["stop_id"] for s in near}


# --- arrivals --------------------------------------------------------------------------------


def test_scheduled_arrivals_when_no_bus_reports(net: Net) -> None:
    arrivals = selectors.stop_arrivals("S1", now=NOW)
    # T32-0 left 5 min ago; T32-OFF does not run today; T09-0 reaches S1 at +11 min
    assert [a.trip_id for a in arrivals] == ["T32-1", "T09-0", "T32-2", "T32-3", "T32-4", "T32-5"]
    first = arrivals[0]
    assert not first.live and first.minutes == 5 and first.uncertainty_s == 0
    assert first.route_short_name == "32" and first.headsign == "Bến xe Giáp Bát"
    assert first.when == NOW + timedelta(minutes=5)
    assert first.when.tzinfo is not None
    assert first.key == f"T32-1|{TODAY.isoformat()}|1"


def test_horizon_and_limit(net: Net) -> None:
    assert len(selectors.stop_arrivals("S1", now=NOW, horizon_min=20)) == 3
    assert len(selectors.stop_arrivals("S1", now=NOW, limit=2)) == 2


def test_no_arrivals_at_a_trips_last_stop(net: Net) -> None:
    assert [a.route_id for a in selectors.stop_arrivals("S3", now=NOW)] == []
    assert {a.route_id for a in selectors.stop_arrivals("S2", now=NOW)} == {"R32"}


def test_live_prediction_replaces_the_timetable(net: Net) -> None:
    bus = add_bus("HN-B01", trip="T32-1", now=NOW)
    sched = NOW + timedelta(minutes=5)
    predict(
        bus, trip="T32-1", stop="S1", seq=1, arrival=NOW + timedelta(minutes=7), scheduled=sched
    )
    arrivals = selectors.stop_arrivals("S1", now=NOW)
    live = [a for a in arrivals if a.live]
    assert len(live) == 1
    a = live[0]
    assert a.trip_id == "T32-1" and a.minutes == 7 and a.delay_s == 120
    assert a.uncertainty_s == 75 and a.vehicle_label == "29B-B01"
    assert a.scheduled == sched and a.headsign == "Bến xe Giáp Bát"
    assert [x.trip_id for x in arrivals].count("T32-1") == 1  # not listed again as scheduled
    assert arrivals[0].trip_id == "T32-1"  # 7 min beats T09-0 at 11 min


def test_ghost_and_silent_buses_are_not_live(net: Net) -> None:
    ghost = add_bus("HN-B02", trip="T32-1", now=NOW, status=VehicleState.Status.GHOST)
    predict(ghost, trip="T32-1", stop="S1", seq=1, arrival=NOW + timedelta(minutes=2))
    silent = add_bus("HN-B03", trip="T32-2", now=NOW, recorded_at=NOW - timedelta(minutes=10))
    predict(silent, trip="T32-2", stop="S1", seq=1, arrival=NOW + timedelta(minutes=3))
    arrivals = selectors.stop_arrivals("S1", now=NOW)
    assert not any(a.live for a in arrivals)
    # their trips fall back to the timetable
    assert {"T32-1", "T32-2"} <= {a.trip_id for a in arrivals}


def test_passed_and_served_trips_are_left_out(net: Net) -> None:
    # the bus of T32-1 runs early and is already past S1 (next stop is sequence 2)
    add_bus("HN-B04", trip="T32-1", now=NOW, next_seq=2, next_stop="S2")
    # T32-2 was seen arriving at S1
    other = Vehicle.objects.create(code="HN-B05")
    StopArrival.objects.create(
        vehicle=other,
        trip_id="T32-2",
        route_id="R32",
        service_date=TODAY,
        stop_id="S1",
        stop_sequence=1,
        arrived_at=NOW - timedelta(minutes=1),
    )
    trips = [a.trip_id for a in selectors.stop_arrivals("S1", now=NOW)]
    assert "T32-1" not in trips and "T32-2" not in trips
    assert "T32-3" in trips


def test_trips_past_midnight_of_yesterdays_service(net: Net) -> None:
    after_midnight = datetime(2025, 3, 11, 0, 30, tzinfo=TZ)
    yesterday = TODAY  # the service day that began on 10 March
    add_trip(net, "T32-LATE", "R32", 86_400 + 40 * 60)  # 24:40:00
    arrivals = selectors.stop_arrivals("S1", now=after_midnight)
    late = [a for a in arrivals if a.trip_id == "T32-LATE"]
    assert len(late) == 1
    assert late[0].service_date == yesterday
    assert late[0].when == datetime(2025, 3, 11, 0, 40, tzinfo=TZ)
    assert late[0].minutes == 10


def test_unknown_stop_is_not_found(net: Net) -> None:
    from thudo.core.errors import NotFound

    with pytest.raises(NotFound):
        selectors.stop_arrivals("NOPE", now=NOW)


def test_stop_arrivals_query_count_is_bounded(net: Net, django_assert_max_num_queries: Any) -> None:
    base = _sod(NOW, TODAY)
    for i in range(30):
        add_trip(net, f"X{i}", "R09", base + 60 * i, ("S4", "S1", "S2"), direction=1)
        bus = add_bus(f"HN-X{i:03d}", trip=f"X{i}", route="R09", now=NOW)
        predict(
            bus, trip=f"X{i}", stop="S1", seq=2, arrival=NOW + timedelta(minutes=i + 1), route="R09"
        )
    selectors.stop_arrivals("S1", now=NOW)  # builds the index
    # feed, predictions, their trips, timetable (yesterday's and today's service), tracked
    # buses, observed arrivals
    with django_assert_max_num_queries(7):
        arrivals = selectors.stop_arrivals("S1", now=NOW, limit=50)
    assert sum(1 for a in arrivals if a.live) == 30


# --- routes ---------------------------------------------------------------------------------


def test_route_detail_directions_stops_and_shape(net: Net) -> None:
    add_trip(net, "T32-BACK", "R32", 30_000, ("S3", "S2", "S1"), direction=1, headsign="Cầu Giấy")
    detail = selectors.route_detail("R32")
    assert detail["route"]["short_name"] == "32"
    d0, d1 = detail["directions"]
    assert d0["direction_id"] == 0 and d0["headsign"] == "Bến xe Giáp Bát"
    assert [s["stop_id"] for s in d0["stops"]] == ["S1", "S2", "S3"]
    assert d0["shape"][0] == [21.033, 105.799] and len(d0["shape"]) == 3
    assert [s["stop_id"] for s in d1["stops"]] == ["S3", "S2", "S1"]
    assert d1["headsign"] == "Cầu Giấy"
    # without a shape, the stops draw the line
    assert selectors.route_detail("R09")["directions"][0]["shape"][0] == [21.041, 105.849]


def test_route_vehicles_leaves_out_ghosts_and_silent_buses(net: Net) -> None:
    add_bus("HN-V01", trip="T32-1", now=NOW, next_stop="S2")
    add_bus("HN-V02", trip="T32-2", now=NOW, status=VehicleState.Status.GHOST)
    add_bus("HN-V03", trip="T32-3", now=NOW, recorded_at=NOW - timedelta(minutes=5))
    add_bus("HN-V04", trip="T09-0", route="R09", now=NOW)
    buses = selectors.route_vehicles("R32", now=NOW)
    assert [b["vehicle_id"] for b in buses] == ["HN-V01"]
    bus = buses[0]
    assert bus["next_stop_name"] == "Đại học Quốc gia"
    assert bus["headsign"] == "Bến xe Giáp Bát" and bus["delay_s"] == 120
    assert bus["bearing"] == 90.0 and bus["age_s"] == 0


def test_route_next_arrivals_per_stop(net: Net) -> None:
    add_bus("HN-N00", trip="T32-0", now=NOW, next_seq=3, next_stop="S3")
    bus = add_bus("HN-N01", trip="T32-1", now=NOW)
    predict(bus, trip="T32-1", stop="S2", seq=2, arrival=NOW + timedelta(minutes=9))
    nexts = selectors.route_next_arrivals("R32", direction_id=0, now=NOW)
    assert nexts["S2"]["live"] and nexts["S2"]["minutes"] == 9
    # S1: T32-0 and T32-1 are tracked (no prediction there) so the next is T32-2 by timetable
    assert not nexts["S1"]["live"] and nexts["S1"]["minutes"] == 15


# --- pages ----------------------------------------------------------------------------------


@pytest.fixture
def live_net() -> Net:
    """A network around the real clock (the views use timezone.now())."""
    now = timezone.now()
    today = now.astimezone(TZ).date()
    n = build_network(today)
    base = _sod(now, today)
    for i in range(4):
        add_trip(n, f"T32-{i}", "R32", base + 240 + i * 600)
    add_trip(
        n,
        "T09-0",
        "R09",
        base + 60,
        ("S4", "S5", "S1", "S2"),
        direction=1,
        headsign="Đại học Quốc gia",
    )
    bus = add_bus("HN-L01", trip="T32-0", now=now)
    predict(
        bus,
        trip="T32-0",
        stop="S1",
        seq=1,
        arrival=now + timedelta(minutes=3, seconds=20),
        scheduled=now + timedelta(minutes=2),
    )
    return n


def en(client: Any) -> Any:
    client.cookies["thudo_language"] = "en"
    return client


def test_home_lists_routes_and_searches(client: Any, live_net: Net) -> None:
    response = en(client).get(reverse("transit:home"), {"q": "cau giay"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="search"' in html
    assert reverse("transit:stop", args=["S1"]) in html
    assert "background:#ffd200;color:#000000" in html  # route 32's badge, contrast-checked
    assert "transit/locator.js" in html and "transit-locator-config" in html
    for route in ("R32", "R09", "E01"):
        assert reverse("transit:route", args=[route]) in html


def test_home_without_a_feed(client: Any, db: Any) -> None:
    selectors.clear_cache()
    response = en(client).get(reverse("transit:home"))
    assert response.status_code == 200
    assert "No bus timetable is published yet." in response.content.decode()


def test_stop_page_marks_live_and_scheduled(client: Any, live_net: Net) -> None:
    response = en(client).get(reverse("transit:stop", args=["S1"]))
    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'<tr class="tr-arr (tr-arr-\w+)"', html)
    assert rows[0] == "tr-arr-live" and "tr-arr-sched" in rows
    # not by colour alone: an icon and a word
    assert '<use href="#t-live"/></svg>Live</span>' in html
    assert '<use href="#t-clock"/></svg>Scheduled</span>' in html
    assert "3 min" in html and "Bus 29B-L01" in html and "1 min late" in html
    assert 'aria-live="polite"' in html and 'role="alert"' in html
    assert "transit/stop.js" in html
    config = json.loads(
        re.search(
            r'id="transit-stop-config" type="application/json">(.*?)</script>', html, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    assert config["choices"] == [2, 5, 10]
    assert config["arrivalsUrl"] == reverse("transit:stop_arrivals_json", args=["S1"])


def test_stop_page_unknown_is_404(client: Any, live_net: Net) -> None:
    assert client.get(reverse("transit:stop", args=["NOPE"])).status_code == 404
    response = client.get(reverse("transit:stop_arrivals_json", args=["NOPE"]))
    assert response.status_code == 404
    assert response.json()["code"] == "stop_not_found"


def test_arrivals_json(client: Any, live_net: Net) -> None:
    response = en(client).get(reverse("transit:stop_arrivals_json", args=["S1"]))
    assert response.status_code == 200
    assert (
        response["Cache-Control"].startswith("no-store") or "no-cache" in response["Cache-Control"]
    )
    body = response.json()
    assert body["stop"]["name"] == "Cầu Giấy"
    first = body["arrivals"][0]
    assert first["live"] is True and first["status_text"] == "Live"
    assert first["minutes"] == 3 and first["minutes_text"] == "3 min"
    assert first["route_color"] == "#ffd200" and first["route_text_color"] == "#000000"
    assert first["delay_text"] == "1 min late" and first["margin_text"] == "± 1 min"
    sched = [a for a in body["arrivals"] if not a["live"]]
    assert (
        sched
        and sched[0]["status_text"] == "Scheduled"
        and re.fullmatch(r"\d\d:\d\d", sched[0]["when_text"])
    )
    assert body["summary"].startswith("Next: bus 32 towards Bến xe Giáp Bát")
    assert body["alerts"] == []


def test_alerts_on_stop_page_and_json(client: Any, live_net: Net) -> None:
    ServiceAlert.objects.create(
        header="Tuyến 32 đi đường vòng",
        header_en="Route 32 detours",
        route_ids=["R32"],
        severity=ServiceAlert.Severity.WARNING,
        effect=ServiceAlert.Effect.DETOUR,
    )
    ServiceAlert.objects.create(header="Chỉ tuyến 09 khác", route_ids=["R99"])
    body = en(client).get(reverse("transit:stop_arrivals_json", args=["S1"])).json()
    assert [a["header"] for a in body["alerts"]] == ["Route 32 detours"]
    client.cookies["thudo_language"] = "vi"
    html = client.get(reverse("transit:stop", args=["S1"])).content.decode()
    assert "Tuyến 32 đi đường vòng" in html and "Chỉ tuyến 09 khác" not in html


def test_route_page_and_vehicles_json(client: Any, live_net: Net) -> None:
    response = en(client).get(reverse("transit:route", args=["R32"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "leaflet/leaflet.js" in html and "transit/route_map.js" in html
    assert "cdn" not in html.lower()
    config = json.loads(
        re.search(
            r'id="transit-map-config" type="application/json">(.*?)</script>', html, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    assert config["route"]["short_name"] == "32"
    assert [s["stop_id"] for s in config["stops"]] == ["S1", "S2", "S3"]
    assert len(config["shape"]) == 3 and config["refreshS"] == 10
    assert config["vehicles"][0]["vehicle_id"] == "HN-L01"
    assert "Bus 29B-L01" in html
    body = client.get(config["vehiclesUrl"]).json()
    assert body["vehicles"][0]["label"] == "29B-L01"
    assert body["stops"]["S1"]["live"] is True
    assert client.get(reverse("transit:route", args=["NOPE"])).status_code == 404


def test_panel_and_announcement(client: Any, live_net: Net) -> None:
    response = en(client).get(reverse("transit:panel", args=["S1"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en"' in html and "transit/panel.js" in html and "transit/panel.css" in html
    assert 'class="panel-live"' in html and 'aria-label="Scheduled"' in html
    config = json.loads(
        re.search(
            r'id="transit-panel-config" type="application/json">(.*?)</script>', html, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    assert config["refreshS"] == 15 and config["speechLang"] == "en-GB"
    response = client.get(reverse("transit:panel_announcement", args=["S1"]))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "Stop Cầu Giấy."
    assert lines[1] == "Bus number 32 towards Bến xe Giáp Bát will arrive in 3 minutes."
    assert lines[2].startswith("Bus number 09 towards Đại học Quốc gia is scheduled to leave at")


def test_panel_speaks_vietnamese_by_default(client: Any, live_net: Net) -> None:
    html = client.get(reverse("transit:panel", args=["S1"])).content.decode()
    assert '<html lang="vi"' in html and '"speechLang": "vi-VN"' in html


def test_nearby_json_validates(client: Any, live_net: Net) -> None:
    response = en(client).get(reverse("transit:nearby_json"), {"lat": "abc"})
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert set(fields) == {"lat", "lon"}
    response = client.get(reverse("transit:nearby_json"), {"lat": "91", "lon": "105.8"})
    assert response.status_code == 422 and "lat" in response.json()["fields"]
    response = client.get(reverse("transit:nearby_json"), {"lat": "21.0331", "lon": "105.7991"})
    assert response.status_code == 200
    stops = response.json()["stops"]
    assert stops[0]["stop_id"] == "S1" and stops[0]["url"] == reverse("transit:stop", args=["S1"])


def test_search_json(client: Any, live_net: Net) -> None:
    body = client.get(reverse("transit:search_json"), {"q": "long bien"}).json()
    assert body["stops"][0]["stop_id"] == "S4"


def test_pages_query_counts_are_bounded(
    client: Any, live_net: Net, django_assert_max_num_queries: Any
) -> None:
    now = timezone.now()
    base = _sod(now, now.astimezone(TZ).date())
    for i in range(20):
        add_trip(live_net, f"Y{i}", "R32", base + 30 * i)
        bus = add_bus(f"HN-Y{i:03d}", trip=f"Y{i}", now=now)
        predict(bus, trip=f"Y{i}", stop="S1", seq=1, arrival=now + timedelta(minutes=i + 1))
        predict(bus, trip=f"Y{i}", stop="S2", seq=2, arrival=now + timedelta(minutes=i + 6))
    urls = {
        reverse("transit:stop_arrivals_json", args=["S1"]): 10,
        reverse("transit:route_vehicles_json", args=["R32"]): 8,
        reverse("transit:panel_announcement", args=["S1"]): 10,
        reverse("transit:stop", args=["S1"]): 11,
        reverse("transit:route", args=["R32"]): 11,
        reverse("transit:panel", args=["S1"]): 11,
        reverse("transit:home") + "?q=cau": 3,
    }
    for url in urls:
        client.get(url)  # the network index and the route's detail are built once
    for url, most in urls.items():
        with django_assert_max_num_queries(most, info=url):
            assert client.get(url).status_code == 200


def test_index_follows_the_active_feed_version(live_net: Net) -> None:
    assert selectors.search("cau giay")["stops"]
    live_net.feed.status = Feed.Status.REPLACED
    live_net.feed.save()
    new = Feed.objects.create(name="v2", version=2, status=Feed.Status.ACTIVE)
    Stop.objects.create(feed=new, stop_id="N1", name="Cầu Giấy mới", lat=21.03, lon=105.8)
    assert [s["stop_id"] for s in selectors.search("cau giay")["stops"]] == ["N1"]


def test_localtime_helper_is_aware() -> None:
    # service days start at local midnight in Hanoi (no daylight saving)
    assert service_day_start(TODAY, TZ) == datetime.combine(TODAY, time(0), TZ).timestamp()
