"""The tracking engine's shared vocabulary: pure Python, no Django, no database.

The engine (network, matcher, predictor) works on these structures in memory so that the
accuracy benchmark can replay a whole simulated day quickly; `thudo.transit.tracker` is the thin
layer that loads them from the database and stores what they produce.

Times: `ts` values are POSIX seconds (float); timetable times are seconds of the service day
(`sched_*_s`, GTFS's "noon minus 12 h" convention, may pass 86,400); `service_day_start(date)`
gives the POSIX time of the service day's 00:00 in the feed's time zone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
EARTH_R = 6_371_008.8  # metres (mean radius)
BAND_S = 1800  # predictor bands: half hours of the service day
BANDS_PER_DAY = 60  # 0..29:59:59 (service days may run past midnight)


def service_day_start(day: date, tz: ZoneInfo = TZ) -> float:
    """POSIX time of `day`'s 12:00 minus 12 h in `tz` (the origin of GTFS stop times)."""
    noon = datetime.combine(day, time(12, 0), tzinfo=tz)
    return (noon - timedelta(hours=12)).timestamp()


def band_of(seconds_of_day: float) -> int:
    """The predictor's band for a time of the service day."""
    return max(0, min(BANDS_PER_DAY - 1, int(seconds_of_day // BAND_S)))


def day_type(day: date) -> int:
    """0 weekday, 1 Saturday, 2 Sunday (holidays count as Sunday where the caller knows them)."""
    wd = day.weekday()
    return 0 if wd < 5 else (1 if wd == 5 else 2)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_R * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class StopOnTrip:
    seq: int  # GTFS stop_sequence
    stop_id: str
    dist_m: float  # along the trip's shape
    sched_arr_s: int  # seconds of the service day
    sched_dep_s: int


@dataclass(slots=True)
class TripInfo:
    trip_id: str
    route_id: str
    service_id: str
    direction_id: int | None
    block_id: str
    headsign: str
    shape_id: str
    stops: list[StopOnTrip]  # in stop_sequence order

    @property
    def start_s(self) -> int:
        return self.stops[0].sched_dep_s if self.stops else 0

    @property
    def end_s(self) -> int:
        return self.stops[-1].sched_arr_s if self.stops else 0


@dataclass(slots=True)
class StopInfo:
    stop_id: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Ping:
    """One position report as the engine sees it (already validated and stored)."""

    vehicle_id: str  # Vehicle.code
    ts: float  # POSIX seconds, the device's recorded time
    lat: float
    lon: float
    speed: float | None = None  # m/s
    bearing: float | None = None
    trip_id: str = ""  # as reported ("" = none)


@dataclass(frozen=True, slots=True)
class StopEvent:
    """An observed arrival at a stop (departure_ts None while the vehicle is still there)."""

    vehicle_id: str
    trip_id: str
    route_id: str
    direction_id: int | None
    service_date: date
    stop_id: str
    seq: int
    arrival_ts: float
    departure_ts: float | None
    sched_arr_s: int


@dataclass(frozen=True, slots=True)
class StopPrediction:
    seq: int
    stop_id: str
    arrival_ts: float
    departure_ts: float
    uncertainty_s: float  # one standard deviation, seconds
    sched_arr_s: int


@dataclass(slots=True)
class VehicleTrack:
    """Everything the engine keeps per vehicle between pings (stored as JSON on VehicleState).

    `extra` is the matcher's and predictor's private working state; both must keep it
    JSON-serialisable and must ignore keys they do not own (matcher: "m_*", predictor: "p_*").
    """

    vehicle_id: str
    status: str = "unassigned"  # VehicleState.Status values
    trip_id: str = ""
    route_id: str = ""
    direction_id: int | None = None
    service_date: date | None = None
    dist_m: float = 0.0
    last_ts: float = 0.0  # ts of the last ping used
    last_lat: float = 0.0
    last_lon: float = 0.0
    next_seq: int | None = None  # the next stop's stop_sequence not yet reached
    deviation_s: float = 0.0  # + late
    off_route_pings: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["service_date"] = self.service_date.isoformat() if self.service_date else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VehicleTrack:
        d = dict(d)
        sd = d.get("service_date")
        d["service_date"] = date.fromisoformat(sd) if sd else None
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})
