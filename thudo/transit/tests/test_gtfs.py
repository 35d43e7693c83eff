"""GTFS import (`gtfs.import_feed`, `gtfs.feed_activate`), the timetable reads
(`timetable.services_on`, `timetable.scheduled_departures`) and `thudo transit import`, on the
tiny feed in tests/data/gtfs_tiny (zipped at run time, with changes where a test needs them)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from thudo.core.errors import InvalidTransition
from thudo.core.models import AuditEvent
from thudo.transit import gtfs, timetable
from thudo.transit.engine.geometry import Polyline
from thudo.transit.engine.types import TZ
from thudo.transit.models import (
    Agency,
    Calendar,
    CalendarDate,
    Feed,
    Route,
    Shape,
    Stop,
    StopTime,
    Trip,
)

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "gtfs_tiny"


def tiny_files() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(DATA.glob("*.txt"))}


def make_zip(
    changes: Mapping[str, str | None] | None = None, *, folder: str = "", files: Any = None
) -> bytes:
    """The tiny feed as zip bytes; `changes` replaces (or with None removes) whole files."""
    content: dict[str, str | None] = dict(files or tiny_files())
    content.update(changes or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, text in content.items():
            if text is not None:
                zf.writestr(folder + name, text.encode("utf-8"))
    return out.getvalue()


def edit(name: str, old: str, new: str) -> dict[str, str | None]:
    text = tiny_files()[name]
    assert old in text, old
    return {name: text.replace(old, new, 1)}


def codes(exc: gtfs.GtfsInvalid) -> set[tuple[str, int | None, str, str]]:
    return {(e["file"], e["row"], e["field"], e["code"]) for e in exc.errors}


def timetable_rows() -> int:
    return sum(
        m.objects.count()
        for m in (Agency, Route, Stop, Calendar, CalendarDate, Shape, Trip, StopTime)
    )


def import_tiny(**kwargs: Any) -> Feed:
    return gtfs.import_feed(source=make_zip(), name=kwargs.pop("name", "tiny"), **kwargs)


# --- a valid feed ------------------------------------------------------------------------------


def test_import_valid_feed_counts_and_activation() -> None:
    steps: list[tuple[int, str]] = []
    feed = gtfs.import_feed(
        source=make_zip(), name="Tiny", progress=lambda p, m: steps.append((p, m))
    )
    assert feed.status == Feed.Status.ACTIVE
    assert feed.version == 1
    assert feed.activated_at is not None
    assert feed.errors == []
    assert feed.counts["stop_times.txt"] == 14
    assert feed.counts["trips.txt"] == 4
    assert feed.feed_start == date(2026, 1, 1) and feed.feed_end == date(2027, 12, 31)
    assert len(feed.sha256) == 64
    assert Route.objects.filter(feed=feed).count() == 2
    assert Stop.objects.filter(feed=feed).count() == 5
    assert Trip.objects.filter(feed=feed).count() == 4
    assert StopTime.objects.filter(trip__feed=feed).count() == 14
    assert timetable.active_feed() == feed
    percents = [p for p, _m in steps]
    assert percents[0] == 0 and percents[-1] == 100
    assert percents == sorted(percents)
    route = Route.objects.get(feed=feed, route_id="R1")
    assert route.agency is not None and route.agency.agency_id == "HNB"
    assert route.color == "B71C1C" and route.sort_order == 1
    a = Stop.objects.get(feed=feed, stop_id="A")
    assert a.parent_station == "STA" and a.code == "101" and a.wheelchair_boarding == 1
    assert Stop.objects.get(feed=feed, stop_id="STA").location_type == 1


def test_shapes_get_metres_and_stop_distances() -> None:
    feed = import_tiny()
    loop = Shape.objects.get(feed=feed, shape_id="L")
    assert len(loop.points) == 7
    assert all(len(p) == 3 for p in loop.points)
    assert loop.points[0][2] == 0
    pl = Polyline([(p[0], p[1]) for p in loop.points])
    assert loop.length_m == pytest.approx(pl.length, abs=0.01)
    assert [p[2] for p in loop.points] == pytest.approx(pl.cum, abs=0.01)
    # the loop: A is served first and last; projection keeps going forward
    dists = list(
        StopTime.objects.filter(trip__trip_id="L-0900")
        .order_by("stop_sequence")
        .values_list("stop__stop_id", "dist_m")
    )
    assert [s for s, _d in dists] == ["A", "B", "C", "A"]
    assert dists[0][1] == pytest.approx(0, abs=1)
    assert dists[1][1] == pytest.approx(1038 + 5.6, abs=3)  # B is 5.6 m past the corner
    assert dists[2][1] == pytest.approx(2039, abs=3)
    assert dists[3][1] == pytest.approx(loop.length_m, abs=6)  # A is 5.6 m off the start
    # shape_dist_traveled in kilometres is mapped onto metres
    line = dict(
        StopTime.objects.filter(trip__trip_id="R1-0800").values_list("stop__stop_id", "dist_m")
    )
    assert line["M"] == pytest.approx(519, abs=2)
    assert line["C"] == pytest.approx(Shape.objects.get(feed=feed, shape_id="S1").length_m, abs=1)
    # without a shape: straight lines between the stops
    noshape = Trip.objects.get(trip_id="R1-NOSHAPE")
    assert noshape.shape is None
    last = StopTime.objects.get(trip=noshape, stop_sequence=2)
    assert last.dist_m == pytest.approx(1452, abs=15)


def test_trip_times_past_midnight_and_interpolation() -> None:
    import_tiny()
    late = Trip.objects.get(trip_id="R1-2410")
    assert (late.start_s, late.end_s) == (24 * 3600 + 600, 24 * 3600 + 1500)
    morning = Trip.objects.get(trip_id="R1-0800")
    assert (morning.start_s, morning.end_s) == (8 * 3600, 8 * 3600 + 600)
    m = StopTime.objects.get(trip=morning, stop__stop_id="M")
    # halfway along between 08:00:00 and 08:04:00: interpolated by distance
    assert m.arrival_s == m.departure_s == pytest.approx(8 * 3600 + 120, abs=2)
    assert m.timepoint is False
    b = StopTime.objects.get(trip=morning, stop__stop_id="B")
    assert (b.arrival_s, b.departure_s) == (8 * 3600 + 240, 8 * 3600 + 270)
    # H:MM:SS is accepted
    assert Trip.objects.get(trip_id="L-0900").start_s == 9 * 3600


def test_zip_with_a_folder_inside() -> None:
    feed = gtfs.import_feed(source=make_zip(folder="hanoi-gtfs/"), name="x")
    assert feed.status == Feed.Status.ACTIVE
    assert Trip.objects.filter(feed=feed).count() == 4


def test_source_as_path_and_file_object(tmp_path: Path) -> None:
    path = tmp_path / "tiny.zip"
    path.write_bytes(make_zip())
    feed = gtfs.import_feed(source=path, name="", activate=False)
    assert feed.source_name == "tiny.zip" and feed.name == "tiny.zip"
    assert feed.status == Feed.Status.READY
    with path.open("rb") as fh:
        second = gtfs.import_feed(source=fh, name="again", activate=False)
    assert second.version == 2 and second.sha256 == feed.sha256


def test_warnings_do_not_stop_the_import() -> None:
    changes = edit("routes.txt", "route_sort_order\n", "route_sort_order,route_mood\n")
    changes["routes.txt"] = (changes["routes.txt"] or "").replace(",1\n", ",1,happy\n", 1)
    changes["frequencies.txt"] = "trip_id,start_time,end_time,headway_secs\n"
    changes["notes.txt"] = "hello\n"
    # a stop 600 m off its trip's shape
    changes.update(edit("stops.txt", "B,,21.000050,105.810000", "B,,21.000050,105.815500"))
    feed = gtfs.import_feed(source=make_zip(changes), name="w")
    assert feed.status == Feed.Status.ACTIVE
    found = {(w["file"], w["field"], w["code"]) for w in feed.warnings}
    assert ("routes.txt", "route_mood", "unknown_column") in found
    assert ("frequencies.txt", "", "ignored_file") in found
    assert ("notes.txt", "", "unknown_file") in found
    assert ("stop_times.txt", "stop_id", "stop_far_from_shape") in found


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            edit("stops.txt", "M,104,Điểm giữa,,21.000050,", "M,104,Điểm giữa,,91.5,"),
            ("stops.txt", 4, "stop_lat", "out_of_range"),
        ),
        (
            edit("stops.txt", "M,104,Điểm giữa,,21.000050,", "M,104,Điểm giữa,,abc,"),
            ("stops.txt", 4, "stop_lat", "bad_number"),
        ),
        (
            edit("stops.txt", "B,102,Điểm B,,21.000050,105.810000", "B,102,Điểm B,,0,0"),
            ("stops.txt", 5, "stop_lat", "zero_coordinates"),
        ),
        (
            edit("stops.txt", "M,104,", "A,104,"),
            ("stops.txt", 4, "stop_id", "duplicate_id"),
        ),
        (
            edit(
                "stops.txt",
                "A,101,Điểm A,Cạnh ga,21.000050,105.800000,0,STA",
                "A,101,Điểm A,Cạnh ga,21.000050,105.800000,0,NOPE",
            ),
            ("stops.txt", 3, "parent_station", "unknown_reference"),
        ),
        (
            edit("trips.txt", "R1,WD,R1-0800", "R9,WD,R1-0800"),
            ("trips.txt", 2, "route_id", "unknown_reference"),
        ),
        (
            edit("trips.txt", "R1,WD,R1-0800", "R1,XX,R1-0800"),
            ("trips.txt", 2, "service_id", "unknown_reference"),
        ),
        (
            edit("trips.txt", "B1,S1\nR1,WD", "B1,S9\nR1,WD"),
            ("trips.txt", 2, "shape_id", "unknown_reference"),
        ),
        (
            edit("trips.txt", "Điểm C,0,B1,S1", "Điểm C,2,B1,S1"),
            ("trips.txt", 2, "direction_id", "bad_value"),
        ),
        (
            edit("stop_times.txt", "R1-0800,08:10:00,08:10:00", "R1-0800,08:70:00,08:70:00"),
            ("stop_times.txt", 5, "arrival_time", "bad_time"),
        ),
        (
            edit("stop_times.txt", "R1-0800,08:10:00,08:10:00", "R1-0800,08:03:00,08:03:00"),
            ("stop_times.txt", 5, "arrival_time", "time_goes_back"),
        ),
        (
            edit("stop_times.txt", "08:04:00,08:04:30", "08:04:30,08:04:00"),
            ("stop_times.txt", 4, "departure_time", "departure_before_arrival"),
        ),
        (
            edit("stop_times.txt", "C,4,2.039,1", "C,3,2.039,1"),
            ("stop_times.txt", 5, "stop_sequence", "duplicate_sequence"),
        ),
        (
            edit("stop_times.txt", "R1-0800,08:00:00,08:00:00,A,1", "R1-0800,,,A,1"),
            ("stop_times.txt", 2, "arrival_time", "missing_time"),
        ),
        (
            edit(
                "stop_times.txt", "R1-0800,08:00:00,08:00:00,A,1", "R9-0800,08:00:00,08:00:00,A,1"
            ),
            ("stop_times.txt", 2, "trip_id", "unknown_reference"),
        ),
        (
            edit(
                "stop_times.txt", "R1-0800,08:00:00,08:00:00,A,1", "R1-0800,08:00:00,08:00:00,STA,1"
            ),
            ("stop_times.txt", 2, "stop_id", "not_a_stop"),
        ),
        (
            edit("stop_times.txt", "C,4,2.039,1", "C,4,0.9,1"),
            ("stop_times.txt", 5, "shape_dist_traveled", "decreasing_distance"),
        ),
        (
            edit("stop_times.txt", "R1-NOSHAPE,10:10:00,10:10:00,C,2,,\n", ""),
            ("stop_times.txt", 14, "trip_id", "too_few_stop_times"),
        ),
        (
            edit(
                "calendar.txt",
                "WD,1,1,1,1,1,0,0,20260101,20271231",
                "WD,1,1,1,1,1,0,0,20261301,20271231",
            ),
            ("calendar.txt", 2, "start_date", "bad_date"),
        ),
        (
            edit(
                "calendar.txt",
                "WD,1,1,1,1,1,0,0,20260101,20271231",
                "WD,1,1,1,1,1,0,0,20280101,20271231",
            ),
            ("calendar.txt", 2, "end_date", "end_before_start"),
        ),
        (
            edit("calendar.txt", "WD,1,1,1,1,1,0,0", "WD,1,1,1,1,yes,0,0"),
            ("calendar.txt", 2, "friday", "bad_value"),
        ),
        (
            edit("calendar_dates.txt", "WE,20260430,1", "WE,20260430,3"),
            ("calendar_dates.txt", 3, "exception_type", "bad_value"),
        ),
        (
            edit("shapes.txt", "S1,21.000000,105.805000,2,", "S1,21.000000,105.805000,1,"),
            ("shapes.txt", 3, "shape_pt_sequence", "duplicate_sequence"),
        ),
        (
            edit("shapes.txt", "S1,21.000000,105.810000,3,1.038", "S1,21.000000,105.810000,3,0.1"),
            ("shapes.txt", 4, "shape_dist_traveled", "decreasing_distance"),
        ),
        (
            edit(
                "routes.txt",
                "R1,HNB,01,Điểm A – Điểm C,3,B71C1C",
                "R1,HNB,01,Điểm A – Điểm C,3,red",
            ),
            ("routes.txt", 2, "route_color", "bad_color"),
        ),
        (
            edit("routes.txt", "R1,HNB,01,Điểm A – Điểm C,3", "R1,HNB,,,3"),
            ("routes.txt", 2, "route_short_name", "missing_value"),
        ),
        (
            edit("routes.txt", "R1,HNB,", "R1,XYZ,"),
            ("routes.txt", 2, "agency_id", "unknown_reference"),
        ),
        (
            edit("agency.txt", "Asia/Ho_Chi_Minh", "Asia/Hanoi_City"),
            ("agency.txt", 2, "agency_timezone", "bad_timezone"),
        ),
        (
            {"routes.txt": "route_id,route_short_name,route_long_name,route_color\nR1,01,x,\n"},
            ("routes.txt", 1, "route_type", "missing_column"),
        ),
        ({"stops.txt": None}, ("stops.txt", None, "", "missing_file")),
        (
            {"calendar.txt": None, "calendar_dates.txt": None},
            ("calendar.txt", None, "", "missing_file"),
        ),
    ],
)
def test_errors_name_file_row_field(
    changes: dict[str, str | None], expected: tuple[str, int | None, str, str]
) -> None:
    with pytest.raises(gtfs.GtfsInvalid) as caught:
        gtfs.import_feed(source=make_zip(changes), name="bad")
    assert expected in codes(caught.value), caught.value.errors
    assert timetable_rows() == 0
    feed = Feed.objects.get()
    assert feed.status == Feed.Status.FAILED
    assert expected in {(e["file"], e["row"], e["field"], e["code"]) for e in feed.errors}
    assert all(e["message"] for e in feed.errors)
    assert timetable.active_feed() is None


def test_every_error_is_listed_at_once() -> None:
    changes = edit("stops.txt", "M,104,Điểm giữa,,21.000050,", "M,104,Điểm giữa,,91,")
    changes.update(edit("calendar.txt", "20260101,20271231", "20260101,2027"))
    with pytest.raises(gtfs.GtfsInvalid) as caught:
        gtfs.import_feed(source=make_zip(changes), name="bad")
    found = codes(caught.value)
    assert ("stops.txt", 4, "stop_lat", "out_of_range") in found
    assert ("calendar.txt", 2, "end_date", "bad_date") in found
    body = caught.value.as_dict()
    assert body["code"] == "gtfs_invalid" and len(body["errors"]) == len(caught.value.errors)
    assert caught.value.status == 400


def test_not_a_zip_and_bad_encoding() -> None:
    with pytest.raises(gtfs.GtfsInvalid) as caught:
        gtfs.import_feed(source=b"this is not a zip", name="x")
    assert ("", None, "", "not_a_zip") in codes(caught.value)
    bad = tiny_files()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, text in bad.items():
            data = text.encode("cp1258" if name == "stops.txt" else "utf-8", errors="replace")
            zf.writestr(name, data)
    with pytest.raises(gtfs.GtfsInvalid) as caught:
        gtfs.import_feed(source=out.getvalue(), name="x")
    assert ("stops.txt", None, "", "bad_encoding") in codes(caught.value)
    assert Feed.objects.filter(status=Feed.Status.FAILED).count() == 2


def test_a_failed_import_leaves_the_active_version_alone() -> None:
    good = import_tiny()
    before = timetable_rows()
    with pytest.raises(gtfs.GtfsInvalid):
        gtfs.import_feed(
            source=make_zip(edit("trips.txt", "R1,WD,R1-0800", "R9,WD,R1-0800")), name="bad"
        )
    assert timetable.active_feed() == good
    assert timetable_rows() == before


# --- versions ----------------------------------------------------------------------------------


def test_versions_switch_and_old_rows_are_deleted(make_official: Any) -> None:
    actor = make_official()
    v1 = import_tiny(actor=actor)
    v2 = import_tiny(actor=actor)
    v1.refresh_from_db()
    assert (v1.status, v2.status) == (Feed.Status.REPLACED, Feed.Status.ACTIVE)
    assert Trip.objects.filter(feed=v1).count() == 4  # the previous version is kept
    v3 = import_tiny(actor=actor, activate=False)
    assert v3.status == Feed.Status.READY
    assert timetable.active_feed() == v2
    gtfs.feed_activate(feed=v3, actor=actor)
    v1.refresh_from_db()
    v2.refresh_from_db()
    v3.refresh_from_db()
    assert (v1.status, v2.status, v3.status) == (
        Feed.Status.REPLACED,
        Feed.Status.REPLACED,
        Feed.Status.ACTIVE,
    )
    assert Trip.objects.filter(feed=v1).count() == 0  # older than the previous one: deleted
    assert Stop.objects.filter(feed=v1).count() == 0
    assert Trip.objects.filter(feed=v2).count() == 4
    assert v1.counts["trips.txt"] == 4  # the history stays
    with pytest.raises(InvalidTransition):
        gtfs.feed_activate(feed=v1, actor=actor)
    # switching back to the previous version works and is quick
    back = gtfs.feed_activate(feed=v2, actor=actor)
    assert back.status == Feed.Status.ACTIVE
    assert timetable.active_feed() == v2
    assert gtfs.feed_activate(feed=v2, actor=actor).status == Feed.Status.ACTIVE
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("transit.feed.import") == 3
    assert actions.count("transit.feed.activate") == 4


def test_a_failed_version_cannot_be_switched_on() -> None:
    with pytest.raises(gtfs.GtfsInvalid) as caught:
        gtfs.import_feed(source=b"nope", name="x")
    assert caught.value.feed is not None
    with pytest.raises(InvalidTransition):
        gtfs.feed_activate(feed=caught.value.feed)


def test_failed_import_is_audited(make_official: Any) -> None:
    actor = make_official()
    with pytest.raises(gtfs.GtfsInvalid):
        gtfs.import_feed(source=b"nope", name="x", actor=actor)
    event = AuditEvent.objects.get(action="transit.feed.import")
    assert event.to_state == Feed.Status.FAILED


# --- timetable reads ---------------------------------------------------------------------------


def test_services_on_calendar_and_exceptions() -> None:
    feed = import_tiny()
    assert timetable.services_on(feed, date(2026, 11, 23)) == {"WD"}  # a Monday
    assert timetable.services_on(feed, date(2026, 11, 28)) == {"WE"}  # a Saturday
    assert timetable.services_on(feed, date(2026, 4, 30)) == {"WE"}  # a holiday Thursday
    assert timetable.services_on(feed, date(2030, 1, 7)) == set()  # after the calendar


def test_scheduled_departures_across_midnight() -> None:
    feed = import_tiny()
    monday = date(2026, 11, 23)
    start = datetime(2026, 11, 24, 0, 0, tzinfo=TZ)  # Tuesday 00:00
    deps = timetable.scheduled_departures("A", start, start + timedelta(minutes=30))
    assert [d["trip_id"] for d in deps] == ["R1-2410"]
    dep = deps[0]
    assert dep["service_date"] == monday
    assert dep["departure"] == datetime(2026, 11, 24, 0, 10, tzinfo=TZ)
    assert dep["route_id"] == "R1" and dep["route_short_name"] == "01"
    assert dep["headsign"] == "Điểm C" and dep["direction_id"] == 0 and dep["stop_sequence"] == 1
    # the morning trip from B (its arrival and departure differ)
    morning = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
    deps = timetable.scheduled_departures("B", morning, morning + timedelta(hours=1), feed=feed)
    assert [(d["trip_id"], d["arrival"].minute, d["departure"].second) for d in deps] == [
        ("R1-0800", 4, 30)
    ]
    # nothing departs from a trip's last stop
    assert timetable.scheduled_departures("C", morning, morning + timedelta(hours=1)) == []
    last = timetable.scheduled_departures(
        "C", morning, morning + timedelta(hours=1), include_last_stop=True
    )
    assert [d["trip_id"] for d in last] == ["R1-0800"]


def test_scheduled_departures_loop_and_station() -> None:
    import_tiny()
    saturday = datetime(2026, 11, 28, 8, 0, tzinfo=TZ)
    # the loop's first stop is also its last: it departs once
    deps = timetable.scheduled_departures("A", saturday, saturday + timedelta(hours=3))
    assert [(d["trip_id"], d["stop_sequence"]) for d in deps] == [
        ("L-0900", 1),
        ("R1-NOSHAPE", 1),
    ]
    # a station lists its stops' departures
    by_station = timetable.scheduled_departures("STA", saturday, saturday + timedelta(hours=3))
    assert [d["trip_id"] for d in by_station] == ["L-0900", "R1-NOSHAPE"]
    assert timetable.scheduled_departures("A", saturday, saturday) == []


def test_no_active_feed_means_no_departures() -> None:
    start = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
    assert timetable.active_feed() is None
    assert timetable.scheduled_departures("A", start, start + timedelta(hours=1)) == []


# --- the command -------------------------------------------------------------------------------


def test_command_imports_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "hanoi.zip"
    path.write_bytes(make_zip())
    out = io.StringIO()
    call_command("transit", "import", str(path), "--name", "Hà Nội thử", stdout=out)
    text = out.getvalue()
    assert "version 1" in text and "4 trips" in text and "14 stop times" in text
    feed = Feed.objects.get()
    assert feed.name == "Hà Nội thử" and feed.status == Feed.Status.ACTIVE
    call_command("transit", "import", str(path), "--no-activate", stdout=io.StringIO())
    assert Feed.objects.get(version=2).status == Feed.Status.READY


def test_command_prints_errors_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(
        make_zip(edit("stops.txt", "M,104,Điểm giữa,,21.000050,", "M,104,Điểm giữa,,95,"))
    )
    out = io.StringIO()
    with pytest.raises(SystemExit) as caught:
        call_command("transit", "import", str(path), stdout=out)
    assert caught.value.code == 1
    assert "stops.txt:4 stop_lat — " in out.getvalue()


def test_command_missing_file(tmp_path: Path) -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit) as caught:
        call_command("transit", "import", str(tmp_path / "none.zip"), stdout=out)
    assert caught.value.code == 2


def test_parse_time() -> None:
    assert gtfs.parse_time("08:05:09") == 8 * 3600 + 5 * 60 + 9
    assert gtfs.parse_time("8:05:09") == 8 * 3600 + 5 * 60 + 9
    assert gtfs.parse_time("25:30:00") == 25 * 3600 + 1800
    for bad in ("8:5:09", "08:60:00", "08:00:60", "08:00", "ab:cd:ef", "", "-1:00:00"):
        assert gtfs.parse_time(bad) is None, bad


def test_a_timepoint_needs_its_times() -> None:
    changes = edit("stop_times.txt", "R1-0800,,,M,2,0.519,0", "R1-0800,,,M,2,0.519,1")
    with pytest.raises(gtfs.GtfsInvalid) as caught:
        gtfs.import_feed(source=make_zip(changes), name="x")
    assert ("stop_times.txt", 3, "arrival_time", "missing_time") in codes(caught.value)


def test_too_many_errors_are_counted() -> None:
    rows = "".join(f"X{i},,Bad {i},,95,105.8,0,,\n" for i in range(gtfs.MAX_ERRORS + 20))
    changes = {"stops.txt": tiny_files()["stops.txt"] + rows}
    with pytest.raises(gtfs.GtfsInvalid) as caught:
        gtfs.import_feed(source=make_zip(changes), name="x")
    errors = caught.value.errors
    assert len(errors) == gtfs.MAX_ERRORS + 1
    assert errors[-1]["code"] == "too_many_errors" and "20" in errors[-1]["message"]


def test_other_time_zone_and_placeless_nodes_are_warned_or_skipped() -> None:
    changes = edit("agency.txt", "Asia/Ho_Chi_Minh", "Asia/Bangkok")
    changes["stops.txt"] = tiny_files()["stops.txt"] + "N1,,,,,,3,STA,\n"
    feed = gtfs.import_feed(source=make_zip(changes), name="x")
    assert ("agency.txt", "agency_timezone", "other_timezone") in {
        (w["file"], w["field"], w["code"]) for w in feed.warnings
    }
    assert not Stop.objects.filter(stop_id="N1").exists()  # a generic node without a place


def test_padded_and_quoted_csv() -> None:
    files = tiny_files()
    files["routes.txt"] = (
        "route_id, agency_id ,route_short_name,route_long_name,route_type\n"
        ' R1 ,HNB,01,"Điểm A, Điểm C",3\n'
        'L,HNB,09,"Vòng ""A""\nhai dòng",3\n'
    )
    feed = gtfs.import_feed(source=make_zip(files=files), name="x")
    assert Route.objects.get(feed=feed, route_id="R1").long_name == "Điểm A, Điểm C"
    assert Route.objects.get(feed=feed, route_id="L").long_name.startswith('Vòng "A"')


def test_iter_errors_lines() -> None:
    lines = list(
        gtfs.iter_errors(
            [
                {"file": "stops.txt", "row": 4, "field": "stop_lat", "message": "bad"},
                {"file": "calendar.txt", "row": None, "field": "", "message": "missing"},
            ]
        )
    )
    assert lines == ["stops.txt:4 stop_lat — bad", "calendar.txt — missing"]
