"""Reads of the static timetable: the active feed version, the services running on a day, and the
scheduled departures from a stop over a period (across service days: a trip of yesterday's
service that runs past midnight, at 24:30:00 say, departs today at 00:30).

Times of a service day are seconds after its noon minus 12 h in the feed's time zone
(Asia/Ho_Chi_Minh; `engine.types.service_day_start`); everything returned is an aware datetime.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import F, Q

from .engine.types import TZ, service_day_start
from .models import Calendar, CalendarDate, Feed, StopTime

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_services_cache: OrderedDict[tuple[int, str, date], frozenset[str]] = OrderedDict()
_CACHE_MAX = 64


def active_feed() -> Feed | None:
    """The timetable version in use (one query; None before any import)."""
    return Feed.objects.filter(status=Feed.Status.ACTIVE).first()


def _feed_key(feed: Feed) -> tuple[int, str]:
    # a feed's timetable never changes once imported; the creation time tells apart two rows
    # that got the same primary key (a test database rolled back)
    return feed.pk, feed.created_at.isoformat() if feed.created_at else ""


def services_on(feed: Feed, day: date) -> set[str]:
    """The service ids that run on `day`: calendar.txt's weekly pattern within its dates, plus
    calendar_dates' additions, minus its removals. Cached per (feed, day)."""
    pk, stamp = _feed_key(feed)
    key = (pk, stamp, day)
    hit = _services_cache.get(key)
    if hit is not None:
        _services_cache.move_to_end(key)
        return set(hit)
    running = set(
        Calendar.objects.filter(
            feed_id=pk, start_date__lte=day, end_date__gte=day, **{_DAYS[day.weekday()]: True}
        ).values_list("service_id", flat=True)
    )
    for service_id, kind in CalendarDate.objects.filter(feed_id=pk, date=day).values_list(
        "service_id", "exception_type"
    ):
        if kind == CalendarDate.ADDED:
            running.add(service_id)
        elif kind == CalendarDate.REMOVED:
            running.discard(service_id)
    _services_cache[key] = frozenset(running)
    if len(_services_cache) > _CACHE_MAX:
        _services_cache.popitem(last=False)
    return running


def service_day_origin(day: date) -> datetime:
    """The aware instant that second 0 of `day`'s service counts from."""
    return datetime.fromtimestamp(service_day_start(day), tz=TZ)


def scheduled_departures(
    stop_id: str,
    start: datetime,
    end: datetime,
    feed: Feed | None = None,
    *,
    include_last_stop: bool = False,
) -> list[dict[str, Any]]:
    """Scheduled departures from `stop_id` (or from the stops of station `stop_id`) between
    `start` and `end` (aware), in time order: {trip_id, route_id, route_short_name, headsign,
    direction_id, stop_sequence, arrival, departure (aware), service_date}.

    A trip's last stop is left out unless `include_last_stop` (nobody boards a bus there), and
    so are stop times where boarding is not allowed (pickup_type 1)."""
    if feed is None:
        feed = active_feed()
    if feed is None or end <= start:
        return []
    local_start = start.astimezone(TZ)
    local_end = end.astimezone(TZ)
    # service days whose times may fall in the window: yesterday's trips run past midnight
    first = local_start.date() - timedelta(days=1)
    last = local_end.date()
    out: list[dict[str, Any]] = []
    day = first
    stop_q = Q(stop__stop_id=stop_id) | Q(stop__parent_station=stop_id)
    while day <= last:
        services = services_on(feed, day)
        if services:
            origin = service_day_start(day)
            lo = int(start.timestamp() - origin)
            hi = int(end.timestamp() - origin)
            qs = (
                StopTime.objects.filter(
                    stop_q,
                    stop__feed=feed,
                    trip__service_id__in=services,
                    departure_s__gte=lo,
                    departure_s__lte=hi,
                )
                .exclude(pickup_type=1)
                .values_list(
                    "trip__trip_id",
                    "trip__route__route_id",
                    "trip__route__short_name",
                    "trip__headsign",
                    "trip__direction_id",
                    "stop_sequence",
                    "arrival_s",
                    "departure_s",
                )
            )
            if not include_last_stop:
                qs = qs.exclude(departure_s__gte=F("trip__end_s"))
            for trip_id, route_id, short, headsign, direction, seq, arr_s, dep_s in qs:
                out.append(
                    {
                        "trip_id": trip_id,
                        "route_id": route_id,
                        "route_short_name": short,
                        "headsign": headsign,
                        "direction_id": direction,
                        "stop_sequence": seq,
                        "arrival": datetime.fromtimestamp(origin + arr_s, tz=TZ),
                        "departure": datetime.fromtimestamp(origin + dep_s, tz=TZ),
                        "service_date": day,
                    }
                )
        day += timedelta(days=1)
    out.sort(key=lambda d: (d["departure"], d["route_short_name"], d["trip_id"]))
    return out
