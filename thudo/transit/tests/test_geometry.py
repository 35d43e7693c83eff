"""Polylines (projection within a window, loops, the point at a distance) and the in-memory
network built on them (stop distances from any unit, calendars, active trips, blocks, the
shapes near a point)."""

from __future__ import annotations

import math
from datetime import date

import pytest

from thudo.transit.engine.geometry import Polyline
from thudo.transit.engine.network import Network, ServiceCalendar
from thudo.transit.engine.types import StopInfo, StopOnTrip, TripInfo, haversine_m

LAT0, LON0 = 21.0, 105.8
KY = 111_195.0
KX = KY * math.cos(math.radians(LAT0))


def ll(x: float, y: float) -> tuple[float, float]:
    return LAT0 + y / KY, LON0 + x / KX


def test_length_and_point_at() -> None:
    pl = Polyline([ll(0, 0), ll(1000, 0), ll(1000, 500)])
    assert pl.length == pytest.approx(1500, rel=2e-3)
    lat, lon, bearing = pl.point_at(500)
    assert haversine_m(lat, lon, *ll(500, 0)) < 2
    assert bearing == pytest.approx(90, abs=0.5)  # east
    lat, lon, bearing = pl.point_at(1250)
    assert haversine_m(lat, lon, *ll(1000, 250)) < 2
    assert bearing == pytest.approx(0, abs=0.5)  # north
    # clamped at both ends
    assert haversine_m(*pl.point_at(-50)[:2], *ll(0, 0)) < 1
    assert haversine_m(*pl.point_at(99999)[:2], *ll(1000, 500)) < 1


def test_project_whole_line_and_window() -> None:
    pl = Polyline([ll(0, 0), ll(1000, 0)])
    along, off = pl.project(*ll(300, 40))
    assert along == pytest.approx(300, abs=1)
    assert off == pytest.approx(40, abs=1)
    # the window clamps: the closest point between 500 and 800 is at 500
    along, off = pl.project(*ll(300, 0), 500, 800)
    assert along == pytest.approx(500, abs=1)
    assert off == pytest.approx(200, abs=1)


def test_project_a_loop_on_the_right_pass() -> None:
    # out east, round a square, back through the same corner
    pts = [ll(0, 0), ll(400, 0), ll(400, 400), ll(0, 400), ll(0, 0), ll(-300, 0)]
    pl = Polyline(pts)
    p = ll(200, 3)  # on the first side
    assert pl.project(*p)[0] == pytest.approx(200, abs=2)
    q = ll(-2, 200)  # on the square's last side
    assert pl.project(*q, 0, 900)[0] == pytest.approx(0, abs=5)  # nearest within the window
    assert pl.project(*q, 900, 1700)[0] == pytest.approx(1400, abs=3)
    corner = ll(0, 0)
    assert pl.project(*corner, 0, 100)[0] == pytest.approx(0, abs=1)
    assert pl.project(*corner, 1000, 1900)[0] == pytest.approx(1600, abs=1)


def test_project_past_the_end_of_the_line() -> None:
    """A window starting at (or beyond) the line's end still gives the end point (was an
    infinite offset)."""
    pl = Polyline([ll(0, 0), ll(100, 0), ll(200, 0)])
    along, off = pl.project(*ll(210, 0), pl.length, pl.length + 50)
    assert along == pytest.approx(pl.length)
    assert off == pytest.approx(10, abs=0.5)
    along, off = pl.project(*ll(210, 0), pl.length + 10)
    assert math.isfinite(off)


def test_polyline_needs_two_points() -> None:
    with pytest.raises(ValueError):
        Polyline([ll(0, 0)])


def _network(shape_unit: float = 1.0) -> Network:
    line = [ll(x, 0) for x in range(0, 2001, 100)]
    pl = Polyline(line)
    shapes = {"S": [[lat, lon, d * shape_unit] for (lat, lon), d in zip(line, pl.cum, strict=True)]}
    stops = [StopInfo(f"P{i}", f"P{i}", *ll(i * 500, 8)) for i in range(5)]
    trips = []
    for k, (start, block) in enumerate(((6 * 3600, "B1"), (7 * 3600, "B1"), (6 * 3600, "B2"))):
        trips.append(
            TripInfo(
                trip_id=f"T{k}",
                route_id="R",
                service_id="WK" if k < 2 else "SUN",
                direction_id=0,
                block_id=block,
                headsign="",
                shape_id="S",
                stops=[
                    StopOnTrip(i + 1, f"P{i}", i * 500 * shape_unit, start + i * 90, start + i * 90)
                    for i in range(5)
                ],
            )
        )
    return Network.build(
        stops=stops,
        routes={"R": {"short_name": "R", "long_name": "", "color": ""}},
        shapes=shapes,
        trips=trips,
        calendars={
            "WK": ServiceCalendar((True,) * 5 + (False,) * 2, date(2026, 1, 1), date(2026, 12, 31)),
            "SUN": ServiceCalendar((False,) * 6 + (True,), date(2026, 1, 1), date(2026, 12, 31)),
        },
        calendar_dates={date(2026, 3, 2): {"WK": 2, "SUN": 1}},  # a Monday run as a Sunday
    )


@pytest.mark.parametrize("unit", [1.0, 0.001, 3.28084])  # metres, kilometres, feet
def test_stop_distances_in_polyline_metres(unit: float) -> None:
    net = _network(unit)
    for i, st in enumerate(net.trips["T0"].stops):
        assert st.dist_m == pytest.approx(i * 500, abs=1)


def test_unknown_stop_distances_are_projected_in_order() -> None:
    line = [ll(x, 0) for x in range(0, 1001, 50)] + [ll(1000, 300), ll(0, 300)]
    stops = [StopInfo("A", "A", *ll(100, 5)), StopInfo("B", "B", *ll(600, -5))]
    trip = TripInfo(
        "T",
        "R",
        "WK",
        0,
        "",
        "",
        "S",
        [StopOnTrip(1, "A", math.nan, 0, 0), StopOnTrip(2, "B", math.nan, 60, 60)],
    )
    net = Network.build(stops=stops, routes={}, shapes={"S": line}, trips=[trip])
    assert [round(s.dist_m) for s in net.trips["T"].stops] == [100, 600]


def test_trip_without_shape_gets_a_line_through_its_stops() -> None:
    stops = [StopInfo("A", "A", *ll(0, 0)), StopInfo("B", "B", *ll(800, 0))]
    trip = TripInfo(
        "T",
        "R",
        "WK",
        0,
        "",
        "",
        "",
        [StopOnTrip(1, "A", math.nan, 0, 0), StopOnTrip(2, "B", math.nan, 60, 60)],
    )
    net = Network.build(stops=stops, routes={}, shapes={}, trips=[trip])
    pl = net.trip_polyline("T")
    assert pl.length == pytest.approx(800, abs=2)
    assert net.trips["T"].stops[-1].dist_m == pytest.approx(800, abs=2)


def test_calendar_active_trips_and_blocks() -> None:
    net = _network()
    assert net.services_on(date(2026, 3, 3)) == {"WK"}  # Tuesday
    assert net.services_on(date(2026, 3, 8)) == {"SUN"}
    assert net.services_on(date(2026, 3, 2)) == {"SUN"}  # the exception
    assert net.services_on(date(2027, 3, 2)) == set()  # outside the calendar
    tue = date(2026, 3, 3)
    assert [t.trip_id for t in net.active_trips(tue, 6 * 3600 + 60)] == ["T0"]
    # up to before_s ahead of the first departure, after_s behind the last arrival
    assert [t.trip_id for t in net.active_trips(tue, 6 * 3600 - 600)] == ["T0"]
    assert [t.trip_id for t in net.active_trips(tue, 6 * 3600 + 360 + 1700)] == ["T0"]
    assert net.active_trips(tue, 6 * 3600 + 360 + 1900) == []
    assert [t.trip_id for t in net.active_trips(tue, 7 * 3600 - 300)] == ["T1"]
    assert [t.trip_id for t in net.active_trips(tue, 6 * 3600 + 900, after_s=600)] == ["T0"]
    assert net.blocks == {"B1": ["T0", "T1"], "B2": ["T2"]}
    nxt = net.next_trip_in_block("T0", tue)
    assert nxt is not None and nxt.trip_id == "T1"
    assert net.next_trip_in_block("T1", tue) is None


def test_schedule_along_the_trip() -> None:
    net = _network()
    trip = net.trips["T0"]
    assert net.sched_at(trip, 0) == 6 * 3600
    assert net.sched_at(trip, 250) == pytest.approx(6 * 3600 + 45, abs=1)
    assert net.sched_at(trip, 5000) == trip.stops[-1].sched_arr_s


def test_shapes_near_a_point() -> None:
    pts = [ll(0, 0), ll(400, 0), ll(400, 400), ll(0, 400), ll(0, 0), ll(-300, 0)]
    other = [ll(5000, 5000), ll(6000, 5000)]
    trip = TripInfo("T", "R", "WK", 0, "", "", "LOOP", [StopOnTrip(1, "A", 0.0, 0, 0)] * 1)
    net = Network.build(
        stops=[StopInfo("A", "A", *ll(0, 0))],
        routes={},
        shapes={"LOOP": pts, "FAR": other},
        trips=[trip],
    )
    near = net.shapes_near(*ll(200, 10), 60)
    assert [(p.shape_id, round(p.along_m)) for p in near] == [("LOOP", 200)]
    assert near[0].offset_m == pytest.approx(10, abs=1)
    # the loop's corner is passed twice
    corner = sorted(round(p.along_m) for p in net.shapes_near(*ll(3, 3), 60))
    assert corner[0] < 10 and abs(corner[-1] - 1600) < 10
    assert net.shapes_near(*ll(2000, 2000), 60) == []
