"""Importing a static GTFS feed as a new timetable version, and switching versions on.

`import_feed` reads the zip (agency, stops, routes, trips, stop_times, calendar and/or
calendar_dates, shapes; feed_info optional), checks every file and row, and reports every
problem at once: each error names the file, the row (the header is row 1, so the first data
row is 2), the field, a stable code and a translated message. Any error raises `GtfsInvalid`
and writes no timetable row; the `Feed` row stays, FAILED, with its errors, for the operator's
page. Warnings (an unknown column or file, a stop far from its trip's shape, ...) are kept on
the feed and do not stop the import.

What it computes: each shape's points as [[lat, lon, dist_m], ...] and its length (metres along
the line, the same plane geometry as `engine.geometry.Polyline`), each stop time's distance along
its trip's shape (`dist_m`) and each trip's first departure and last arrival. Distances come from
shape_dist_traveled when both files give it (in whatever unit: it is mapped onto metres);
otherwise each stop is projected onto the shape in order: the distances of one trip never go
back, which places a stop served twice (a loop's terminus) at its first and at its last pass.
Trips with the same shape and stops share one projection. Missing intermediate times are
interpolated by distance. Rows are written with bulk inserts in one transaction.

`feed_activate` switches a version on: the active one becomes REPLACED (its rows are kept, for
a quick switch back) and the rows of older replaced versions are deleted.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import itertools
import logging
import math
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from thudo.core.audit import audit_record
from thudo.core.errors import InvalidTransition, ThudoError

from .engine.geometry import Polyline
from .models import (
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

log = logging.getLogger(__name__)

Progress = Callable[[int, str], None]
Source = str | Path | bytes | IO[bytes]

MAX_ZIP_BYTES = 512 * 1024 * 1024  # uncompressed, all files together
MAX_ERRORS = 500
MAX_WARNINGS = 200
BATCH = 5000
FAR_FROM_SHAPE_M = 100.0

REQUIRED_FILES = ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
KNOWN_COLUMNS: dict[str, set[str]] = {
    "agency.txt": {
        "agency_id",
        "agency_name",
        "agency_url",
        "agency_timezone",
        "agency_lang",
        "agency_phone",
        "agency_fare_url",
        "agency_email",
        "cemv_support",
    },
    "stops.txt": {
        "stop_id",
        "stop_code",
        "stop_name",
        "tts_stop_name",
        "stop_desc",
        "stop_lat",
        "stop_lon",
        "zone_id",
        "stop_url",
        "location_type",
        "parent_station",
        "stop_timezone",
        "wheelchair_boarding",
        "level_id",
        "platform_code",
        "stop_access",
    },
    "routes.txt": {
        "route_id",
        "agency_id",
        "route_short_name",
        "route_long_name",
        "route_desc",
        "route_type",
        "route_url",
        "route_color",
        "route_text_color",
        "route_sort_order",
        "continuous_pickup",
        "continuous_drop_off",
        "network_id",
        "cemv_support",
    },
    "trips.txt": {
        "route_id",
        "service_id",
        "trip_id",
        "trip_headsign",
        "trip_short_name",
        "direction_id",
        "block_id",
        "shape_id",
        "wheelchair_accessible",
        "bikes_allowed",
        "cars_allowed",
    },
    "stop_times.txt": {
        "trip_id",
        "arrival_time",
        "departure_time",
        "stop_id",
        "location_group_id",
        "location_id",
        "stop_sequence",
        "stop_headsign",
        "start_pickup_drop_off_window",
        "end_pickup_drop_off_window",
        "pickup_type",
        "drop_off_type",
        "continuous_pickup",
        "continuous_drop_off",
        "shape_dist_traveled",
        "timepoint",
        "pickup_booking_rule_id",
        "drop_off_booking_rule_id",
    },
    "calendar.txt": {
        "service_id",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "start_date",
        "end_date",
    },
    "calendar_dates.txt": {"service_id", "date", "exception_type"},
    "shapes.txt": {
        "shape_id",
        "shape_pt_lat",
        "shape_pt_lon",
        "shape_pt_sequence",
        "shape_dist_traveled",
    },
    "feed_info.txt": {
        "feed_publisher_name",
        "feed_publisher_url",
        "feed_lang",
        "default_lang",
        "feed_start_date",
        "feed_end_date",
        "feed_version",
        "feed_contact_email",
        "feed_contact_url",
    },
}
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "agency.txt": ("agency_name", "agency_url", "agency_timezone"),
    "stops.txt": ("stop_id",),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
    "calendar.txt": tuple(sorted(KNOWN_COLUMNS["calendar.txt"])),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
    "shapes.txt": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
    "feed_info.txt": (),  # only its dates are used
}
# files GTFS defines that this importer does not use: a warning, not an error
IGNORED_FILES = {
    "frequencies.txt",
    "transfers.txt",
    "fare_attributes.txt",
    "fare_rules.txt",
    "pathways.txt",
    "levels.txt",
    "translations.txt",
    "attributions.txt",
    "fare_media.txt",
    "fare_products.txt",
    "fare_leg_rules.txt",
    "fare_transfer_rules.txt",
    "areas.txt",
    "stop_areas.txt",
    "networks.txt",
    "route_networks.txt",
    "timeframes.txt",
    "location_groups.txt",
    "location_group_stops.txt",
    "locations.geojson",
    "booking_rules.txt",
    "rider_categories.txt",
    "fare_leg_join_rules.txt",
}
ROUTE_TYPES = {0, 1, 2, 3, 4, 5, 6, 7, 11, 12}
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class GtfsInvalid(ThudoError):
    """The feed has errors; `.errors` lists them all ({file, row, field, code, message})."""

    code = "gtfs_invalid"
    status = 400
    default_message = gettext_lazy("The GTFS feed has errors; nothing was imported.")

    def __init__(
        self,
        errors: list[dict[str, Any]],
        *,
        feed: Feed | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.errors = errors
        self.feed = feed

    def as_dict(self) -> dict[str, Any]:
        body = super().as_dict()
        body["errors"] = self.errors
        return body


# --- problems ----------------------------------------------------------------------------------


class _Report:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.more_errors = 0
        self.more_warnings = 0

    def error(self, file: str, row: int | None, fld: str, code: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(
                {"file": file, "row": row, "field": fld, "code": code, "message": message}
            )
        else:
            self.more_errors += 1

    def warn(self, file: str, row: int | None, fld: str, code: str, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(
                {"file": file, "row": row, "field": fld, "code": code, "message": message}
            )
        else:
            self.more_warnings += 1

    def finish(self) -> None:
        if self.more_errors:
            self.errors.append(
                {
                    "file": "",
                    "row": None,
                    "field": "",
                    "code": "too_many_errors",
                    "message": _("%(n)d more errors were not listed.") % {"n": self.more_errors},
                }
            )
        if self.more_warnings:
            self.warnings.append(
                {
                    "file": "",
                    "row": None,
                    "field": "",
                    "code": "too_many_warnings",
                    "message": _("%(n)d more warnings were not listed.")
                    % {"n": self.more_warnings},
                }
            )


# --- reading ------------------------------------------------------------------------------------


class _Table:
    """One CSV file: its header and its rows as lists of stripped strings, with row numbers."""

    def __init__(self, name: str, header: list[str], rows: list[tuple[int, list[str]]]) -> None:
        self.name = name
        self.header = header
        self.rows = rows
        self.index = {h: i for i, h in enumerate(header)}

    def col(self, name: str) -> int | None:
        return self.index.get(name)

    def __len__(self) -> int:
        return len(self.rows)


def _read_source(source: Source) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray):
        return bytes(source), ""
    if isinstance(source, str | Path):
        path = Path(source)
        return path.read_bytes(), path.name
    data = source.read()
    name = Path(str(getattr(source, "name", "") or "")).name
    return data, name


def _members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Files by base name; a feed zipped inside a folder is found too (the shallowest wins)."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.is_dir() or info.filename.startswith("__MACOSX/"):
            continue
        base = info.filename.rsplit("/", 1)[-1]
        if not base or base.startswith("."):
            continue
        prev = found.get(base)
        if prev is None or prev.filename.count("/") > info.filename.count("/"):
            found[base] = info
    return found


_PADDED = re.compile(r"[ \t](?:,|\r?\n|$)|(?:^|,|\n)[ \t]")


def _parse_csv(name: str, raw: bytes, report: _Report) -> _Table | None:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.error(
            name,
            None,
            "",
            "bad_encoding",
            _("The file is not UTF-8 text (byte %(pos)d).") % {"pos": exc.start},
        )
        return None
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    # fast path for the usual file: no quotes (a record is a line) and no spaces to strip
    simple = '"' not in text
    strip = _PADDED.search(text) is not None
    try:
        for i, values in enumerate(reader):
            if header is None:
                header = [h.strip() for h in values]
                continue
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # a blank line
            num = i + 1 if simple else reader.line_num
            rows.append((num, list(map(str.strip, values)) if strip else values))
    except csv.Error as exc:
        report.error(
            name,
            reader.line_num,
            "",
            "bad_csv",
            _("The file is not valid CSV: %(error)s") % {"error": str(exc)},
        )
        return None
    if not header or not any(header):
        report.error(name, 1, "", "empty_file", _("The file is empty: it has no header row."))
        return None
    seen: set[str] = set()
    for h in header:
        if h in seen:
            report.error(
                name, 1, h, "duplicate_column", _("The column appears twice in the header.")
            )
        seen.add(h)
    known = KNOWN_COLUMNS.get(name, set())
    for h in header:
        if h and h not in known:
            report.warn(
                name,
                1,
                h,
                "unknown_column",
                _("This column is not part of GTFS; it was ignored."),
            )
    width = len(header)
    for i, (num, values) in enumerate(rows):
        if len(values) < width:
            rows[i] = (num, values + [""] * (width - len(values)))
    return _Table(name, header, rows)


# --- value parsers ------------------------------------------------------------------------------

_time_cache: dict[str, int | None] = {}


def parse_time(text: str) -> int | None:
    """GTFS time "H:MM:SS" or "HH:MM:SS" (hours may pass 24) → seconds; None if malformed."""
    cached = _time_cache.get(text)
    if cached is not None or text in _time_cache:
        return cached
    value: int | None = None
    parts = text.split(":")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[1]) == 2:
        h, m, s = int(parts[0]), int(parts[1]), int(parts[2])
        if len(parts[2]) == 2 and m < 60 and s < 60 and h < 48:
            value = h * 3600 + m * 60 + s
    if len(_time_cache) < 200_000:
        _time_cache[text] = value
    return value


def parse_date(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _int(text: str) -> int | None:
    if text.lstrip("-").isdigit():
        return int(text)
    return None


class _Ctx:
    """Per-file helpers that report problems with the file's name and the row."""

    def __init__(self, table: _Table, report: _Report) -> None:
        self.t = table
        self.r = report

    def get(self, values: list[str], name: str) -> str:
        i = self.t.index.get(name)
        return values[i] if i is not None else ""

    def err(self, row: int | None, fld: str, code: str, message: str) -> None:
        self.r.error(self.t.name, row, fld, code, message)

    def warn(self, row: int | None, fld: str, code: str, message: str) -> None:
        self.r.warn(self.t.name, row, fld, code, message)

    def required(self, row: int, values: list[str], name: str) -> str:
        v = self.get(values, name)
        if not v:
            self.err(row, name, "missing_value", _("A value is required."))
        return v

    def text(self, row: int, values: list[str], name: str, max_len: int) -> str:
        v = self.get(values, name)
        if len(v) > max_len:
            self.err(
                row,
                name,
                "too_long",
                _("The value is longer than %(n)d characters.") % {"n": max_len},
            )
        return v

    def enum(self, row: int, values: list[str], name: str, allowed: range, default: int) -> int:
        v = self.get(values, name)
        if not v:
            return default
        n = _int(v)
        if n is None or n not in allowed:
            self.err(
                row,
                name,
                "bad_value",
                _("%(value)s is not one of the allowed values %(first)d–%(last)d.")
                % {"value": v, "first": allowed.start, "last": allowed.stop - 1},
            )
            return default
        return n

    def coord(self, row: int, values: list[str], name: str, limit: float) -> float | None:
        v = self.get(values, name)
        if not v:
            self.err(row, name, "missing_value", _("A value is required."))
            return None
        f = _float(v)
        if f is None:
            self.err(row, name, "bad_number", _("%(value)s is not a number.") % {"value": v})
            return None
        if not -limit <= f <= limit:
            self.err(
                row,
                name,
                "out_of_range",
                _("%(value)s is outside −%(limit)d…%(limit)d.") % {"value": v, "limit": limit},
            )
            return None
        return f

    def unique(self, row: int, name: str, value: str, seen: dict[str, int]) -> bool:
        if value in seen:
            self.err(
                row,
                name,
                "duplicate_id",
                _("%(value)s is already used in row %(row)d.")
                % {"value": value, "row": seen[value]},
            )
            return False
        seen[value] = row
        return True


def _missing_columns(table: _Table, report: _Report) -> bool:
    ok = True
    for col in REQUIRED_COLUMNS.get(table.name, ()):
        if col not in table.index:
            report.error(
                table.name,
                1,
                col,
                "missing_column",
                _("The required column is missing from the header."),
            )
            ok = False
    return ok


# --- the parsed feed ----------------------------------------------------------------------------


@dataclass(slots=True)
class _StopTimeRow:
    row: int
    stop_id: str
    seq: int
    arr: int | None
    dep: int | None
    dist: float | None  # shape_dist_traveled as given
    timepoint: bool
    timepoint_set: bool  # timepoint = 1 given explicitly
    pickup: int
    drop_off: int


@dataclass
class _Parsed:
    agencies: list[dict[str, Any]] = field(default_factory=list)
    stops: dict[str, dict[str, Any]] = field(default_factory=dict)
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    calendars: list[dict[str, Any]] = field(default_factory=list)
    calendar_dates: list[dict[str, Any]] = field(default_factory=list)
    services: set[str] = field(default_factory=set)
    shapes: dict[str, list[tuple[int, float, float, float | None]]] = field(default_factory=dict)
    trips: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop_times: dict[str, list[_StopTimeRow]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    feed_start: date | None = None
    feed_end: date | None = None


def _parse_agency(t: _Table, report: _Report, out: _Parsed) -> None:
    c = _Ctx(t, report)
    seen: dict[str, int] = {}
    tz_names: set[str] = set()
    for row, v in t.rows:
        agency_id = c.text(row, v, "agency_id", 64)
        if len(t) > 1 and not agency_id:
            c.err(row, "agency_id", "missing_value", _("Required when there are several agencies."))
        c.unique(row, "agency_id", agency_id, seen)
        name = c.required(row, v, "agency_name")
        c.text(row, v, "agency_name", 255)
        url = c.required(row, v, "agency_url")
        if url and not url.lower().startswith(("http://", "https://")):
            c.err(row, "agency_url", "bad_url", _("A web address must start with http(s)://."))
        tz = c.required(row, v, "agency_timezone")
        if tz:
            try:
                ZoneInfo(tz)
                tz_names.add(tz)
            except (ZoneInfoNotFoundError, ValueError):
                c.err(
                    row,
                    "agency_timezone",
                    "bad_timezone",
                    _("%(value)s is not a known time zone.") % {"value": tz},
                )
        out.agencies.append(
            {
                "agency_id": agency_id,
                "name": name[:255],
                "url": url[:200],
                "timezone": tz[:64],
                "lang": c.text(row, v, "agency_lang", 8),
                "phone": c.text(row, v, "agency_phone", 40),
                "_row": row,
            }
        )
    if tz_names and tz_names != {"Asia/Ho_Chi_Minh"}:
        c.warn(
            None,
            "agency_timezone",
            "other_timezone",
            _("Times are read as Asia/Ho_Chi_Minh (Vietnam), the time zone of this system."),
        )
    if len(tz_names) > 1:
        c.err(
            None,
            "agency_timezone",
            "mixed_timezones",
            _("All agencies must use the same time zone."),
        )
    if not t.rows:
        c.err(None, "", "no_rows", _("The file has no agency."))


def _parse_stops(t: _Table, report: _Report, out: _Parsed) -> None:
    c = _Ctx(t, report)
    seen: dict[str, int] = {}
    parents: list[tuple[int, str, str]] = []
    for row, v in t.rows:
        stop_id = c.required(row, v, "stop_id")
        c.text(row, v, "stop_id", 64)
        if stop_id and not c.unique(row, "stop_id", stop_id, seen):
            continue
        loc = c.enum(row, v, "location_type", range(0, 5), 0)
        name = c.text(row, v, "stop_name", 255)
        if loc in (0, 1, 2) and not name:
            c.err(row, "stop_name", "missing_value", _("A stop, station or entrance needs a name."))
        lat_text, lon_text = c.get(v, "stop_lat"), c.get(v, "stop_lon")
        lat: float | None
        lon: float | None
        if loc in (3, 4) and not lat_text and not lon_text:
            lat = lon = None
        else:
            lat = c.coord(row, v, "stop_lat", 90)
            lon = c.coord(row, v, "stop_lon", 180)
            if lat is not None and lon is not None and abs(lat) < 1e-6 and abs(lon) < 1e-6:
                c.err(
                    row,
                    "stop_lat",
                    "zero_coordinates",
                    _("The stop is at 0, 0 (in the Gulf of Guinea): its position is missing."),
                )
        parent = c.text(row, v, "parent_station", 64)
        if parent:
            parents.append((row, stop_id, parent))
        if stop_id:
            out.stops[stop_id] = {
                "stop_id": stop_id,
                "code": c.text(row, v, "stop_code", 32),
                "name": name,
                "description": c.get(v, "stop_desc")[:255],
                "lat": lat,
                "lon": lon,
                "location_type": loc,
                "parent_station": parent,
                "wheelchair_boarding": c.enum(row, v, "wheelchair_boarding", range(0, 3), 0),
                "_row": row,
            }
    for row, _stop_id, parent in parents:
        p = out.stops.get(parent)
        if p is None:
            c.err(
                row,
                "parent_station",
                "unknown_reference",
                _("No stop %(value)s in stops.txt.") % {"value": parent},
            )
        elif p["location_type"] != 1:
            c.err(
                row,
                "parent_station",
                "not_a_station",
                _("%(value)s is not a station (location_type 1).") % {"value": parent},
            )


def _parse_routes(t: _Table, report: _Report, out: _Parsed) -> None:
    c = _Ctx(t, report)
    seen: dict[str, int] = {}
    agency_ids = {a["agency_id"] for a in out.agencies}
    for row, v in t.rows:
        route_id = c.required(row, v, "route_id")
        c.text(row, v, "route_id", 64)
        if route_id and not c.unique(row, "route_id", route_id, seen):
            continue
        agency_id = c.text(row, v, "agency_id", 64)
        if agency_id and agency_id not in agency_ids:
            c.err(
                row,
                "agency_id",
                "unknown_reference",
                _("No agency %(value)s in agency.txt.") % {"value": agency_id},
            )
        elif not agency_id and len(out.agencies) > 1:
            c.err(row, "agency_id", "missing_value", _("Required when there are several agencies."))
        short = c.text(row, v, "route_short_name", 32)
        long = c.text(row, v, "route_long_name", 255)
        if not short and not long:
            c.err(
                row,
                "route_short_name",
                "missing_value",
                _("A route needs a short name or a long name."),
            )
        rt_text = c.required(row, v, "route_type")
        rt = _int(rt_text) if rt_text else 3
        if rt_text and (rt is None or not (rt in ROUTE_TYPES or 100 <= rt <= 1702)):
            c.err(
                row,
                "route_type",
                "bad_value",
                _("%(value)s is not a GTFS route type.") % {"value": rt_text},
            )
            rt = 3
        colors = {}
        for name in ("route_color", "route_text_color"):
            col = c.get(v, name)
            if col and (len(col) != 6 or any(ch not in "0123456789abcdefABCDEF" for ch in col)):
                c.err(
                    row,
                    name,
                    "bad_color",
                    _("%(value)s is not a colour as six hexadecimal digits.") % {"value": col},
                )
                col = ""
            colors[name] = col.upper()
        order_text = c.get(v, "route_sort_order")
        order = _int(order_text) if order_text else None
        if order_text and (order is None or order < 0):
            c.err(row, "route_sort_order", "bad_value", _("Must be a whole number, 0 or more."))
            order = None
        if route_id:
            out.routes[route_id] = {
                "route_id": route_id,
                "agency_id": agency_id,
                "short_name": short,
                "long_name": long,
                "description": c.get(v, "route_desc"),
                "route_type": rt or 3,
                "color": colors["route_color"],
                "text_color": colors["route_text_color"],
                "sort_order": order,
                "_row": row,
            }


def _parse_calendar(t: _Table, report: _Report, out: _Parsed) -> None:
    c = _Ctx(t, report)
    seen: dict[str, int] = {}
    for row, v in t.rows:
        sid = c.required(row, v, "service_id")
        c.text(row, v, "service_id", 64)
        if sid and not c.unique(row, "service_id", sid, seen):
            continue
        days: dict[str, bool] = {}
        for d in DAYS:
            val = c.get(v, d)
            if val not in ("0", "1"):
                c.err(row, d, "bad_value", _("Must be 0 or 1."))
            days[d] = val == "1"
        start = parse_date(c.get(v, "start_date"))
        end = parse_date(c.get(v, "end_date"))
        if start is None:
            c.err(row, "start_date", "bad_date", _("Not a date as YYYYMMDD."))
        if end is None:
            c.err(row, "end_date", "bad_date", _("Not a date as YYYYMMDD."))
        if start and end and end < start:
            c.err(row, "end_date", "end_before_start", _("The end date is before the start date."))
        if sid and start and end:
            out.calendars.append({"service_id": sid, **days, "start_date": start, "end_date": end})
            out.services.add(sid)


def _parse_calendar_dates(t: _Table, report: _Report, out: _Parsed) -> None:
    c = _Ctx(t, report)
    seen: dict[str, int] = {}
    for row, v in t.rows:
        sid = c.required(row, v, "service_id")
        c.text(row, v, "service_id", 64)
        day = parse_date(c.get(v, "date"))
        if day is None:
            c.err(row, "date", "bad_date", _("Not a date as YYYYMMDD."))
        kind = c.get(v, "exception_type")
        if kind not in ("1", "2"):
            c.err(row, "exception_type", "bad_value", _("Must be 1 (added) or 2 (removed)."))
        if sid and day:
            if not c.unique(row, "date", f"{sid} {day:%Y%m%d}", seen):
                continue
            if kind in ("1", "2"):
                out.calendar_dates.append(
                    {"service_id": sid, "date": day, "exception_type": int(kind)}
                )
                out.services.add(sid)


def _parse_shapes(t: _Table, report: _Report, out: _Parsed) -> None:
    c = _Ctx(t, report)
    raw: dict[str, list[tuple[int, int, float, float, float | None]]] = defaultdict(list)
    i_id, i_lat, i_lon = t.index["shape_id"], t.index["shape_pt_lat"], t.index["shape_pt_lon"]
    i_seq = t.index["shape_pt_sequence"]
    i_dist = t.col("shape_dist_traveled")
    for row, v in t.rows:
        sid = v[i_id]
        if not sid:
            c.err(row, "shape_id", "missing_value", _("A value is required."))
            continue
        lat, lon = _float(v[i_lat]), _float(v[i_lon])
        if lat is None or not -90 <= lat <= 90:
            c.coord(row, v, "shape_pt_lat", 90)
            continue
        if lon is None or not -180 <= lon <= 180:
            c.coord(row, v, "shape_pt_lon", 180)
            continue
        seq = _int(v[i_seq])
        if seq is None or seq < 0:
            c.err(row, "shape_pt_sequence", "bad_value", _("Must be a whole number, 0 or more."))
            continue
        dist: float | None = None
        if i_dist is not None and v[i_dist]:
            dist = _float(v[i_dist])
            if dist is None or dist < 0:
                c.err(row, "shape_dist_traveled", "bad_number", _("Must be a number, 0 or more."))
                dist = None
        raw[sid].append((seq, row, lat, lon, dist))
    for sid, pts in raw.items():
        pts.sort()
        ok = True
        for a, b in itertools.pairwise(pts):
            if a[0] == b[0]:
                c.err(
                    b[1],
                    "shape_pt_sequence",
                    "duplicate_sequence",
                    _("Shape %(shape)s already has a point with sequence %(seq)d (row %(row)d).")
                    % {"shape": sid, "seq": b[0], "row": a[1]},
                )
                ok = False
            elif a[4] is not None and b[4] is not None and b[4] < a[4]:
                c.err(
                    b[1],
                    "shape_dist_traveled",
                    "decreasing_distance",
                    _("The distance is smaller than the previous point's along shape %(shape)s.")
                    % {"shape": sid},
                )
                ok = False
        if len(pts) < 2:
            c.err(
                pts[0][1],
                "shape_id",
                "shape_too_short",
                _("Shape %(shape)s has fewer than two points.") % {"shape": sid},
            )
            ok = False
        if len(sid) > 64:
            c.err(pts[0][1], "shape_id", "too_long", _("The value is longer than 64 characters."))
            ok = False
        if ok:
            out.shapes[sid] = [(p[1], p[2], p[3], p[4]) for p in pts]


def _parse_trips(t: _Table, report: _Report, out: _Parsed, shape_ids: set[str]) -> None:
    c = _Ctx(t, report)
    seen: dict[str, int] = {}
    for row, v in t.rows:
        trip_id = c.required(row, v, "trip_id")
        c.text(row, v, "trip_id", 64)
        if trip_id and not c.unique(row, "trip_id", trip_id, seen):
            continue
        route_id = c.required(row, v, "route_id")
        if route_id and route_id not in out.routes:
            c.err(
                row,
                "route_id",
                "unknown_reference",
                _("No route %(value)s in routes.txt.") % {"value": route_id},
            )
        sid = c.required(row, v, "service_id")
        c.text(row, v, "service_id", 64)
        if sid and sid not in out.services:
            c.err(
                row,
                "service_id",
                "unknown_reference",
                _("No service %(value)s in calendar.txt or calendar_dates.txt.") % {"value": sid},
            )
        shape_id = c.get(v, "shape_id")
        if shape_id and shape_id not in shape_ids:
            c.err(
                row,
                "shape_id",
                "unknown_reference",
                _("No shape %(value)s in shapes.txt.") % {"value": shape_id},
            )
        direction_text = c.get(v, "direction_id")
        direction: int | None = None
        if direction_text:
            if direction_text in ("0", "1"):
                direction = int(direction_text)
            else:
                c.err(row, "direction_id", "bad_value", _("Must be 0 or 1."))
        if trip_id:
            out.trips[trip_id] = {
                "trip_id": trip_id,
                "route_id": route_id,
                "service_id": sid,
                "headsign": c.text(row, v, "trip_headsign", 255),
                "short_name": c.text(row, v, "trip_short_name", 64),
                "direction_id": direction,
                "block_id": c.text(row, v, "block_id", 64),
                "shape_id": shape_id,
                "_row": row,
            }


def _parse_stop_times(t: _Table, report: _Report, out: _Parsed) -> None:
    c = _Ctx(t, report)
    ix = t.index
    i_trip, i_stop, i_seq = ix["trip_id"], ix["stop_id"], ix["stop_sequence"]
    i_arr, i_dep = ix.get("arrival_time"), ix.get("departure_time")
    i_dist, i_tp = ix.get("shape_dist_traveled"), ix.get("timepoint")
    i_pick, i_drop = ix.get("pickup_type"), ix.get("drop_off_type")
    trips, stops = out.trips, out.stops
    by_trip: dict[str, list[_StopTimeRow]] = defaultdict(list)
    unknown_trips: dict[str, int] = {}
    for row, v in t.rows:
        trip_id, stop_id, seq_text = v[i_trip], v[i_stop], v[i_seq]
        if trip_id not in trips:
            if not trip_id:
                c.err(row, "trip_id", "missing_value", _("A value is required."))
            elif trip_id not in unknown_trips:
                unknown_trips[trip_id] = row
                c.err(
                    row,
                    "trip_id",
                    "unknown_reference",
                    _("No trip %(value)s in trips.txt.") % {"value": trip_id},
                )
            continue
        stop = stops.get(stop_id)
        if stop is None:
            if not stop_id:
                c.err(row, "stop_id", "missing_value", _("A value is required."))
            else:
                c.err(
                    row,
                    "stop_id",
                    "unknown_reference",
                    _("No stop %(value)s in stops.txt.") % {"value": stop_id},
                )
            continue
        if stop["location_type"] != 0:
            c.err(
                row,
                "stop_id",
                "not_a_stop",
                _("%(value)s is a station or entrance, not a stop a bus serves.")
                % {"value": stop_id},
            )
            continue
        seq = int(seq_text) if seq_text.isdigit() else None
        if seq is None:
            c.err(row, "stop_sequence", "bad_value", _("Must be a whole number, 0 or more."))
            continue
        arr_text = v[i_arr] if i_arr is not None else ""
        dep_text = v[i_dep] if i_dep is not None else ""
        arr = parse_time(arr_text) if arr_text else None
        dep = parse_time(dep_text) if dep_text else None
        bad = False
        if arr_text and arr is None:
            c.err(
                row,
                "arrival_time",
                "bad_time",
                _("%(value)s is not a time as HH:MM:SS.") % {"value": arr_text},
            )
            bad = True
        if dep_text and dep is None:
            c.err(
                row,
                "departure_time",
                "bad_time",
                _("%(value)s is not a time as HH:MM:SS.") % {"value": dep_text},
            )
            bad = True
        if bad:
            continue
        if arr is None:
            arr = dep
        if dep is None:
            dep = arr
        if arr is not None and dep is not None and dep < arr:
            c.err(
                row,
                "departure_time",
                "departure_before_arrival",
                _("The departure is earlier than the arrival."),
            )
            continue
        dist: float | None = None
        if i_dist is not None and v[i_dist]:
            dist = _float(v[i_dist])
            if dist is None or dist < 0:
                c.err(row, "shape_dist_traveled", "bad_number", _("Must be a number, 0 or more."))
                continue
        tp_text = v[i_tp] if i_tp is not None else ""
        if tp_text not in ("", "0", "1"):
            c.err(row, "timepoint", "bad_value", _("Must be 0 or 1."))
            continue
        pick = drop = 0
        if i_pick is not None and v[i_pick]:
            pick = c.enum(row, v, "pickup_type", range(0, 4), 0)
        if i_drop is not None and v[i_drop]:
            drop = c.enum(row, v, "drop_off_type", range(0, 4), 0)
        by_trip[trip_id].append(
            _StopTimeRow(
                row,
                stop_id,
                seq,
                arr,
                dep,
                dist,
                tp_text == "1" or (tp_text == "" and arr is not None),
                tp_text == "1",
                pick,
                drop,
            )
        )
    for trip_id, rows in by_trip.items():
        rows.sort(key=lambda r: r.seq)
        ok = True
        for a, b in itertools.pairwise(rows):
            if a.seq == b.seq:
                c.err(
                    b.row,
                    "stop_sequence",
                    "duplicate_sequence",
                    _("Trip %(trip)s already has stop_sequence %(seq)d (row %(row)d).")
                    % {"trip": trip_id, "seq": b.seq, "row": a.row},
                )
                ok = False
        if len(rows) < 2:
            c.err(
                rows[0].row,
                "trip_id",
                "too_few_stop_times",
                _("Trip %(trip)s has fewer than two stops.") % {"trip": trip_id},
            )
            ok = False
        for end in (rows[0], rows[-1]):
            if end.arr is None:
                c.err(
                    end.row,
                    "arrival_time",
                    "missing_time",
                    _("The first and last stop of a trip need their times."),
                )
                ok = False
        last_time: int | None = None
        last_row = 0
        for r in rows:
            if r.arr is None:
                if r.timepoint_set:
                    c.err(
                        r.row,
                        "arrival_time",
                        "missing_time",
                        _("A timepoint (timepoint = 1) needs its times."),
                    )
                    ok = False
                continue
            if last_time is not None and r.arr < last_time:
                c.err(
                    r.row,
                    "arrival_time",
                    "time_goes_back",
                    _("The arrival is earlier than the previous stop's departure (row %(row)d).")
                    % {"row": last_row},
                )
                ok = False
            last_time, last_row = r.dep, r.row
        last_dist: float | None = None
        for r in rows:
            if r.dist is not None:
                if last_dist is not None and r.dist < last_dist:
                    c.err(
                        r.row,
                        "shape_dist_traveled",
                        "decreasing_distance",
                        _("The distance is smaller than the previous stop's along the trip."),
                    )
                    ok = False
                last_dist = r.dist
        if ok:
            out.stop_times[trip_id] = rows
    for trip_id, trip in out.trips.items():
        if trip_id not in by_trip:
            report.error(
                "trips.txt",
                trip["_row"],
                "trip_id",
                "too_few_stop_times",
                _("Trip %(trip)s has no stop times.") % {"trip": trip_id},
            )


def _parse_feed_info(t: _Table, report: _Report, out: _Parsed) -> None:
    c = _Ctx(t, report)
    for row, v in t.rows[:1]:
        for name in ("feed_start_date", "feed_end_date"):
            text = c.get(v, name)
            if text:
                d = parse_date(text)
                if d is None:
                    c.err(row, name, "bad_date", _("Not a date as YYYYMMDD."))
                elif name == "feed_start_date":
                    out.feed_start = d
                else:
                    out.feed_end = d
        if out.feed_start and out.feed_end and out.feed_end < out.feed_start:
            c.err(row, "feed_end_date", "end_before_start", _("The end date is before the start."))


# --- geometry: distances along shapes -----------------------------------------------------------


@dataclass
class _ShapeGeo:
    polyline: Polyline
    given: list[float | None]
    xs: Any = None
    ys: Any = None
    cum: Any = None

    def arrays(self) -> None:
        if self.xs is None:
            self.xs = np.asarray(self.polyline.xs)
            self.ys = np.asarray(self.polyline.ys)
            self.cum = np.asarray(self.polyline.cum)


def _project_all(geo: _ShapeGeo, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Distances along the shape and offsets of points visited in order: the assignment of one
    candidate (a local closest approach) per point that never goes back and keeps the total
    offset smallest."""
    geo.arrays()
    pl = geo.polyline
    xs, ys, cum = geo.xs, geo.ys, geo.cum
    ax, ay = xs[:-1], ys[:-1]
    dx, dy = xs[1:] - ax, ys[1:] - ay
    seg2 = dx * dx + dy * dy
    seg2[seg2 == 0] = 1e-12
    seglen = cum[1:] - cum[:-1]
    cands: list[list[tuple[float, float]]] = []
    for lat, lon in points:
        px, py = pl.to_xy(lat, lon)
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / seg2, 0.0, 1.0)
        off = np.hypot(ax + t * dx - px, ay + t * dy - py)
        along = cum[:-1] + t * seglen
        n = len(off)
        if n == 1:
            cands.append([(float(along[0]), float(off[0]))])
            continue
        best = float(off.min())
        left = np.concatenate(([np.inf], off[:-1]))
        right = np.concatenate((off[1:], [np.inf]))
        mask = (off <= left) & (off <= right) & (off <= max(best + 150.0, best * 3.0))
        idx = np.nonzero(mask)[0]
        if len(idx) > 12:
            idx = idx[np.argsort(off[idx])[:12]]
        cs = sorted({(round(float(along[i]), 3), float(off[i])) for i in idx})
        cands.append(cs or [(float(along[int(off.argmin())]), best)])
    # dynamic programme over the candidates: distances never decrease
    inf = math.inf
    cost: list[list[float]] = [[c[1] for c in cands[0]]]
    back: list[list[int]] = [[-1] * len(cands[0])]
    for k in range(1, len(cands)):
        row_cost: list[float] = []
        row_back: list[int] = []
        prev = cands[k - 1]
        for along, off in cands[k]:
            best_c, best_j = inf, -1
            for j, (p_along, _off) in enumerate(prev):
                if p_along <= along + 1e-6 and cost[k - 1][j] < best_c:
                    best_c, best_j = cost[k - 1][j], j
            row_cost.append(best_c + off)
            row_back.append(best_j)
        cost.append(row_cost)
        back.append(row_back)
    last = cost[-1]
    j = min(range(len(last)), key=lambda i: last[i])
    if math.isinf(last[j]):
        return _project_greedy(geo, points)
    result: list[tuple[float, float]] = []
    for k in range(len(cands) - 1, -1, -1):
        result.append(cands[k][j])
        j = back[k][j]
    result.reverse()
    return result


def _project_greedy(geo: _ShapeGeo, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    lo = 0.0
    for lat, lon in points:
        along, off = geo.polyline.project(lat, lon, lo, None)
        out.append((along, off))
        lo = along
    return out


def _map_given(geo: _ShapeGeo, given_dists: list[float]) -> list[float]:
    """shape_dist_traveled of stops (the feed's unit) → metres along our geometry."""
    xp = [g for g in geo.given if g is not None]
    if len(xp) != len(geo.given) or len(xp) < 2:
        raise ValueError
    return [float(v) for v in np.interp(given_dists, xp, geo.polyline.cum)]


# --- the import ---------------------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _next_version() -> int:
    return (Feed.objects.aggregate(m=Max("version"))["m"] or 0) + 1


def _create_feed(name: str, source_name: str, sha: str, actor: Any) -> Feed:
    user = actor if getattr(actor, "is_authenticated", False) else None
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Feed.objects.create(
                    name=name[:200],
                    version=_next_version(),
                    status=Feed.Status.IMPORTING,
                    source_name=source_name[:255],
                    sha256=sha,
                    imported_by=user,
                )
        except IntegrityError:
            continue
    raise IntegrityError("could not allocate a feed version")


def _fail(feed: Feed, report: _Report, actor: Any, counts: dict[str, int]) -> GtfsInvalid:
    report.finish()
    feed.status = Feed.Status.FAILED
    feed.errors = report.errors
    feed.warnings = report.warnings
    feed.counts = counts
    feed.save(update_fields=["status", "errors", "warnings", "counts"])
    if actor is not None:
        audit_record(
            actor=actor,
            action="transit.feed.import",
            obj=feed,
            to_state=Feed.Status.FAILED,
            data={"errors": len(report.errors), "file": feed.source_name},
        )
    return GtfsInvalid(report.errors, feed=feed)


def import_feed(
    *,
    source: Source,
    name: str,
    actor: Any = None,
    activate: bool = True,
    progress: Progress | None = None,
) -> Feed:
    """Import a GTFS zip as a new feed version (see the module docstring). Raises GtfsInvalid
    listing every error; returns the feed, ACTIVE (or READY with activate=False)."""

    def step(percent: int, message: str) -> None:
        if progress is not None:
            progress(percent, message)

    step(0, _("Reading the file"))
    data, source_name = _read_source(source)
    sha = hashlib.sha256(data).hexdigest()
    feed = _create_feed(name or source_name or "GTFS", source_name, sha, actor)
    report = _Report()
    counts: dict[str, int] = {}

    def set_progress(percent: int, message: str) -> None:
        Feed.objects.filter(pk=feed.pk).update(progress=percent)
        step(percent, message)

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = _members(zf)
        total = sum(i.file_size for i in members.values())
    except (zipfile.BadZipFile, OSError, ValueError):
        report.error(
            "", None, "", "not_a_zip", _("The file is not a zip archive of GTFS text files.")
        )
        raise _fail(feed, report, actor, counts) from None
    if total > MAX_ZIP_BYTES:
        report.error(
            "",
            None,
            "",
            "too_large",
            _("The files in the archive are larger than %(mb)d MB in all.")
            % {"mb": MAX_ZIP_BYTES // (1024 * 1024)},
        )
        raise _fail(feed, report, actor, counts)

    for fname in REQUIRED_FILES:
        if fname not in members:
            report.error(fname, None, "", "missing_file", _("The feed must contain this file."))
    if "calendar.txt" not in members and "calendar_dates.txt" not in members:
        report.error(
            "calendar.txt",
            None,
            "",
            "missing_file",
            _("The feed must contain calendar.txt or calendar_dates.txt."),
        )
    for fname in sorted(members):
        if fname in KNOWN_COLUMNS:
            continue
        if fname in IGNORED_FILES:
            report.warn(
                fname, None, "", "ignored_file", _("This file is not used; it was ignored.")
            )
            if fname == "frequencies.txt":
                report.warn(
                    fname,
                    None,
                    "",
                    "frequencies_ignored",
                    _("Trips defined by frequencies run only at the times in stop_times.txt."),
                )
        else:
            report.warn(
                fname, None, "", "unknown_file", _("This file is not part of GTFS; it was ignored.")
            )

    with _gc_paused():  # many small objects: the collector would run again and again
        tables: dict[str, _Table] = {}
        order = [
            "agency.txt",
            "stops.txt",
            "routes.txt",
            "calendar.txt",
            "calendar_dates.txt",
            "shapes.txt",
            "trips.txt",
            "stop_times.txt",
            "feed_info.txt",
        ]
        for i, fname in enumerate(order):
            info = members.get(fname)
            if info is None:
                continue
            set_progress(2 + i * 3, _("Reading %(file)s") % {"file": fname})
            try:
                raw = zf.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
                report.error(fname, None, "", "bad_zip_member", _("The file cannot be read."))
                continue
            table = _parse_csv(fname, raw, report)
            del raw
            if table is not None and _missing_columns(table, report):
                tables[fname] = table
                counts[fname] = len(table)
        if report.errors:
            raise _fail(feed, report, actor, counts)

        parsed = _Parsed()
        parsed.counts = counts
        set_progress(30, _("Checking agencies, stops and routes"))
        _parse_agency(tables["agency.txt"], report, parsed)
        _parse_stops(tables["stops.txt"], report, parsed)
        _parse_routes(tables["routes.txt"], report, parsed)
        if "calendar.txt" in tables:
            _parse_calendar(tables["calendar.txt"], report, parsed)
        if "calendar_dates.txt" in tables:
            _parse_calendar_dates(tables["calendar_dates.txt"], report, parsed)
        set_progress(34, _("Checking shapes"))
        shape_ids: set[str] = set()
        if "shapes.txt" in tables:
            shape_table = tables["shapes.txt"]
            shape_ids = {v[shape_table.index["shape_id"]] for _r, v in shape_table.rows}
            _parse_shapes(shape_table, report, parsed)
        set_progress(38, _("Checking trips and stop times"))
        _parse_trips(tables["trips.txt"], report, parsed, shape_ids)
        _parse_stop_times(tables["stop_times.txt"], report, parsed)
        if "feed_info.txt" in tables:
            _parse_feed_info(tables["feed_info.txt"], report, parsed)
        used_routes = {t["route_id"] for t in parsed.trips.values()}
        for route_id, route in parsed.routes.items():
            if route_id not in used_routes:
                report.warn(
                    "routes.txt",
                    route["_row"],
                    "route_id",
                    "unused_route",
                    _("No trip runs this route."),
                )
        tables.clear()
        if report.errors:
            raise _fail(feed, report, actor, counts)

        set_progress(45, _("Measuring distances along the shapes"))
        geo = _compute_geometry(parsed, report)

    set_progress(50, _("Writing the timetable"))
    try:
        with transaction.atomic():
            with _gc_paused():
                _write(feed, parsed, geo, step)
            report.finish()
            feed.status = Feed.Status.READY
            feed.counts = counts
            feed.warnings = report.warnings
            feed.errors = []
            feed.progress = 100
            feed.feed_start = parsed.feed_start or _min_date(parsed)
            feed.feed_end = parsed.feed_end or _max_date(parsed)
            feed.save()
            if actor is not None:
                audit_record(
                    actor=actor,
                    action="transit.feed.import",
                    obj=feed,
                    to_state=Feed.Status.READY,
                    data={"counts": counts, "warnings": len(report.warnings), "sha256": sha},
                )
            if activate:
                step(99, _("Switching the new version on"))
                feed = feed_activate(feed=feed, actor=actor)
    except IntegrityError as exc:
        log.exception("GTFS import %s failed while writing", feed.pk)
        report.error("", None, "", "database_error", _("The timetable could not be stored."))
        raise _fail(feed, report, actor, counts) from exc
    except Exception:
        Feed.objects.filter(pk=feed.pk).update(status=Feed.Status.FAILED)
        raise
    step(100, _("Done"))
    return feed


def _min_date(p: _Parsed) -> date | None:
    days = [c["start_date"] for c in p.calendars] + [d["date"] for d in p.calendar_dates]
    return min(days) if days else None


def _max_date(p: _Parsed) -> date | None:
    days = [c["end_date"] for c in p.calendars] + [d["date"] for d in p.calendar_dates]
    return max(days) if days else None


@dataclass
class _Geometry:
    shapes: dict[str, tuple[list[list[float]], float]]  # shape_id -> (points, length)
    dists: dict[str, list[float]]  # trip_id -> dist_m per stop time


def _compute_geometry(p: _Parsed, report: _Report) -> _Geometry:
    shapes: dict[str, tuple[list[list[float]], float]] = {}
    geos: dict[str, _ShapeGeo] = {}
    for sid, pts in p.shapes.items():
        pl = Polyline([(lat, lon) for _r, lat, lon, _d in pts])
        geos[sid] = _ShapeGeo(pl, [d for *_x, d in pts])
        shapes[sid] = (
            [[lat, lon, round(c, 2)] for (_r, lat, lon, _d), c in zip(pts, pl.cum, strict=True)],
            pl.length,
        )
    patterns: dict[tuple[str, tuple[str, ...]], list[float]] = {}
    dists: dict[str, list[float]] = {}
    far_warned: set[tuple[str, str]] = set()
    for trip_id, rows in p.stop_times.items():
        trip = p.trips[trip_id]
        sid = trip["shape_id"]
        stop_ids = tuple(r.stop_id for r in rows)
        g = geos.get(sid) if sid else None
        if g is None:
            # no shape: straight lines between the stops
            d = [0.0]
            for a, b in itertools.pairwise(rows):
                sa, sb = p.stops[a.stop_id], p.stops[b.stop_id]
                d.append(d[-1] + _haversine(sa["lat"], sa["lon"], sb["lat"], sb["lon"]))
            dists[trip_id] = d
            _interpolate_times(rows, d)
            continue
        given = [r.dist for r in rows]
        if all(x is not None for x in given) and all(x is not None for x in g.given):
            try:
                dists[trip_id] = _map_given(g, [float(x) for x in given if x is not None])
                _interpolate_times(rows, dists[trip_id])
                continue
            except ValueError:
                pass
        key = (sid, stop_ids)
        if key not in patterns:
            stop_points = [(p.stops[s]["lat"], p.stops[s]["lon"]) for s in stop_ids]
            proj = _project_all(g, stop_points)
            patterns[key] = [a for a, _o in proj]
            for r, (_a, off) in zip(rows, proj, strict=True):
                if off > FAR_FROM_SHAPE_M and (sid, r.stop_id) not in far_warned:
                    far_warned.add((sid, r.stop_id))
                    report.warn(
                        "stop_times.txt",
                        r.row,
                        "stop_id",
                        "stop_far_from_shape",
                        _("Stop %(stop)s is %(m)d m from shape %(shape)s of its trip.")
                        % {"stop": r.stop_id, "m": int(off), "shape": sid},
                    )
        dists[trip_id] = patterns[key]
        _interpolate_times(rows, dists[trip_id])
    return _Geometry(shapes, dists)


def _interpolate_times(rows: list[_StopTimeRow], dist: list[float]) -> None:
    """Fill missing intermediate times linearly by distance between the known ones."""
    if all(r.arr is not None for r in rows):
        return
    known = [i for i, r in enumerate(rows) if r.arr is not None]
    for a, b in itertools.pairwise(known):
        if b - a < 2:
            continue
        t0 = rows[a].dep or 0
        t1 = rows[b].arr or t0
        d0, d1 = dist[a], dist[b]
        for i in range(a + 1, b):
            frac = (dist[i] - d0) / (d1 - d0) if d1 > d0 else (i - a) / (b - a)
            t = round(t0 + (t1 - t0) * frac)
            rows[i].arr = rows[i].dep = t


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def _write(feed: Feed, p: _Parsed, geo: _Geometry, step: Callable[[int, str], None]) -> None:
    Agency.objects.bulk_create(
        [
            Agency(
                feed=feed,
                agency_id=a["agency_id"],
                name=a["name"],
                url=a["url"],
                timezone=a["timezone"],
                lang=a["lang"],
                phone=a["phone"],
            )
            for a in p.agencies
        ],
        batch_size=BATCH,
    )
    agency_pk = dict(Agency.objects.filter(feed=feed).values_list("agency_id", "pk"))
    only_agency = next(iter(agency_pk.values())) if len(agency_pk) == 1 else None
    Route.objects.bulk_create(
        [
            Route(
                feed=feed,
                route_id=r["route_id"],
                agency_id=agency_pk.get(r["agency_id"], only_agency),
                short_name=r["short_name"],
                long_name=r["long_name"],
                description=r["description"],
                route_type=r["route_type"],
                color=r["color"],
                text_color=r["text_color"],
                sort_order=r["sort_order"],
            )
            for r in p.routes.values()
        ],
        batch_size=BATCH,
    )
    Stop.objects.bulk_create(
        [
            Stop(
                feed=feed,
                stop_id=s["stop_id"],
                code=s["code"],
                name=s["name"],
                description=s["description"],
                lat=s["lat"] if s["lat"] is not None else 0.0,
                lon=s["lon"] if s["lon"] is not None else 0.0,
                location_type=s["location_type"],
                parent_station=s["parent_station"],
                wheelchair_boarding=s["wheelchair_boarding"],
            )
            for s in p.stops.values()
            if s["lat"] is not None and s["lon"] is not None  # nodes without a place: skipped
        ],
        batch_size=BATCH,
    )
    Calendar.objects.bulk_create([Calendar(feed=feed, **c) for c in p.calendars], batch_size=BATCH)
    CalendarDate.objects.bulk_create(
        [CalendarDate(feed=feed, **c) for c in p.calendar_dates], batch_size=BATCH
    )
    step(55, _("Writing shapes"))
    Shape.objects.bulk_create(
        [
            Shape(feed=feed, shape_id=sid, points=points, length_m=round(length, 2))
            for sid, (points, length) in geo.shapes.items()
        ],
        batch_size=200,
    )
    route_pk = dict(Route.objects.filter(feed=feed).values_list("route_id", "pk"))
    stop_pk = dict(Stop.objects.filter(feed=feed).values_list("stop_id", "pk"))
    shape_pk = dict(Shape.objects.filter(feed=feed).values_list("shape_id", "pk"))
    step(60, _("Writing trips"))
    trip_objs = []
    for trip_id, t in p.trips.items():
        rows = p.stop_times[trip_id]
        trip_objs.append(
            Trip(
                feed=feed,
                trip_id=trip_id,
                route_id=route_pk[t["route_id"]],
                service_id=t["service_id"],
                headsign=t["headsign"],
                short_name=t["short_name"],
                direction_id=t["direction_id"],
                block_id=t["block_id"],
                shape_id=shape_pk.get(t["shape_id"]) if t["shape_id"] else None,
                start_s=rows[0].dep or 0,
                end_s=rows[-1].arr or 0,
            )
        )
    Trip.objects.bulk_create(trip_objs, batch_size=BATCH)
    del trip_objs
    trip_pk = dict(Trip.objects.filter(feed=feed).values_list("trip_id", "pk"))
    total = sum(len(r) for r in p.stop_times.values())
    done = 0
    columns = [
        "trip_id",
        "stop_id",
        "stop_sequence",
        "arrival_s",
        "departure_s",
        "dist_m",
        "timepoint",
        "pickup_type",
        "drop_off_type",
    ]
    batch: list[tuple[Any, ...]] = []
    for trip_id, rows in p.stop_times.items():
        tpk = trip_pk[trip_id]
        dist = geo.dists[trip_id]
        for r, d in zip(rows, dist, strict=True):
            batch.append(
                (
                    tpk,
                    stop_pk[r.stop_id],
                    r.seq,
                    r.arr or 0,
                    r.dep or 0,
                    round(d, 2),
                    r.timepoint,
                    r.pickup,
                    r.drop_off,
                )
            )
        if len(batch) >= BATCH:
            _insert_rows(StopTime, columns, batch)
            done += len(batch)
            batch = []
            step(
                60 + int(38 * done / max(1, total)),
                _("Writing stop times (%(done)d of %(total)d)") % {"done": done, "total": total},
            )
    if batch:
        _insert_rows(StopTime, columns, batch)


def _insert_rows(
    model: type[models.Model], columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many rows with one prepared statement (executemany): the stop times of a large
    feed are too many for the ORM's per-object work. `columns` are the fields' column names."""
    conn = connections[router.db_for_write(model)]
    qn = conn.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 — quoted names; values are parameters
        qn(model._meta.db_table),
        ", ".join(qn(c) for c in columns),
        ", ".join(["%s"] * len(columns)),
    )
    with conn.cursor() as cursor:
        cursor.executemany(sql, rows)


# --- switching versions -------------------------------------------------------------------------


def _delete_timetable(feed: Feed) -> None:
    StopTime.objects.filter(trip__feed=feed).delete()
    Trip.objects.filter(feed=feed).delete()
    Shape.objects.filter(feed=feed).delete()
    StopTime.objects.filter(stop__feed=feed).delete()
    Stop.objects.filter(feed=feed).delete()
    Route.objects.filter(feed=feed).delete()
    Agency.objects.filter(feed=feed).delete()
    Calendar.objects.filter(feed=feed).delete()
    CalendarDate.objects.filter(feed=feed).delete()


@transaction.atomic
def feed_activate(*, feed: Feed, actor: Any = None) -> Feed:
    """Switch `feed` on: the active version becomes REPLACED (rows kept); older replaced
    versions lose their timetable rows. A READY version, or a REPLACED one that still has its
    rows, can be switched on; switching on the active one changes nothing."""
    feed = Feed.objects.select_for_update().get(pk=feed.pk)
    if feed.status == Feed.Status.ACTIVE:
        return feed
    if feed.status not in (Feed.Status.READY, Feed.Status.REPLACED):
        raise InvalidTransition(
            _("Only a version that was imported without errors can be switched on.")
        )
    if feed.status == Feed.Status.REPLACED and not Trip.objects.filter(feed=feed).exists():
        raise InvalidTransition(
            _("This version's timetable was removed; import the file again to use it.")
        )
    before = feed.status
    previous = Feed.objects.select_for_update().filter(status=Feed.Status.ACTIVE).first()
    if previous is not None:
        previous.status = Feed.Status.REPLACED
        previous.save(update_fields=["status"])
    feed.status = Feed.Status.ACTIVE
    feed.activated_at = timezone.now()
    feed.save(update_fields=["status", "activated_at"])
    stale = Feed.objects.filter(status=Feed.Status.REPLACED).exclude(pk=feed.pk)
    if previous is not None:
        stale = stale.exclude(pk=previous.pk)
    for old in stale:
        if Trip.objects.filter(feed=old).exists() or Stop.objects.filter(feed=old).exists():
            _delete_timetable(old)
    if actor is not None:
        audit_record(
            actor=actor,
            action="transit.feed.activate",
            obj=feed,
            from_state=before,
            to_state=Feed.Status.ACTIVE,
            data={"replaced": previous.version if previous else None},
        )
    return feed


def feed_summary(feed: Feed) -> dict[str, Any]:
    """Counts of what the version holds now (for pages and the CLI)."""
    return {
        "version": feed.version,
        "status": feed.status,
        "routes": Route.objects.filter(feed=feed).count(),
        "stops": Stop.objects.filter(feed=feed).count(),
        "trips": Trip.objects.filter(feed=feed).count(),
        "stop_times": StopTime.objects.filter(trip__feed=feed).count(),
    }


def iter_errors(errors: list[dict[str, Any]]) -> Iterator[str]:
    """Errors as lines "file:row field — message" (file-level ones without the row)."""
    for e in errors:
        where = e.get("file") or "?"
        if e.get("row"):
            where = f"{where}:{e['row']}"
        fld = f" {e['field']}" if e.get("field") else ""
        yield f"{where}{fld} — {e.get('message', '')}"
