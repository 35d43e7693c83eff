"""The open-data feeds at /transit/ (urls_feeds.py, docs/transit-feeds.md): GTFS-realtime
VehiclePositions, TripUpdates and ServiceAlerts as protobuf (`.pb`, application/x-protobuf)
or JSON (`.json`), and the active static timetable as a GTFS zip.

Public, no sign-in, no cookies read. Each realtime answer carries Last-Modified (the feed
header's timestamp, which never goes backwards) and an ETag made from it, and answers 304 to a
client that already holds that snapshot (If-None-Match / If-Modified-Since). A process builds a
feed at most once per second of header time (`_kept`); the static zip is built once per feed
version and kept in the cache.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from . import feeds
from .models import Feed

PROTOBUF = "application/x-protobuf"
ZIP_CACHE_S = 24 * 3600


def _open(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"  # open data: any web app may read it
    response["Cache-Control"] = "no-cache"  # may be kept, but asked again (it is live)
    return response


# The last body built per (feed, format) in this process, with its header timestamp: served
# again only while the shared header timestamp has not moved (the same second), so a burst of
# requests costs one build per second and a body is never older than the header others serve.
_kept: dict[tuple[str, str], tuple[int, bytes]] = {}


def _realtime(request: HttpRequest, feed_name: str, fmt: str) -> HttpResponse:
    now = timezone.now()
    ts = feeds.header_timestamp(feed_name, now)
    etag = f'"{feed_name}-{fmt}-{ts}"'
    content_type = "application/json" if fmt == "json" else PROTOBUF
    kept = _kept.get((feed_name, fmt))
    if kept is not None and kept[0] == ts:
        body = kept[1]
    elif request.headers.get("If-None-Match") == etag:
        body = b""  # the client holds this snapshot: 304 below, nothing to build
    else:
        message = feeds.BUILDERS[feed_name](now)
        ts = int(message.header.timestamp)  # ≥ the one read above
        etag = f'"{feed_name}-{fmt}-{ts}"'
        if fmt == "json":
            body = json.dumps(feeds.to_json(message), ensure_ascii=False).encode()
        else:
            body = feeds.to_protobuf(message)
        _kept[(feed_name, fmt)] = (ts, body)
    response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(ts)
    conditional = get_conditional_response(request, etag=etag, last_modified=ts, response=response)
    if conditional is not None and conditional is not response:
        return _open(conditional)
    return _open(response)


@require_safe
def gtfsrt_vehicle_positions(request: HttpRequest, fmt: str) -> HttpResponse:
    return _realtime(request, feeds.VEHICLE_POSITIONS, fmt)


@require_safe
def gtfsrt_trip_updates(request: HttpRequest, fmt: str) -> HttpResponse:
    return _realtime(request, feeds.TRIP_UPDATES, fmt)


@require_safe
def gtfsrt_service_alerts(request: HttpRequest, fmt: str) -> HttpResponse:
    return _realtime(request, feeds.SERVICE_ALERTS, fmt)


@require_safe
def gtfs_static_feed(request: HttpRequest) -> HttpResponse:
    """The active timetable as GTFS (feed_info.feed_version = the realtime headers' one)."""
    feed = Feed.objects.filter(status=Feed.Status.ACTIVE).first()
    if feed is None:
        raise Http404("no active timetable")
    etag = f'"gtfs-{feed.version}-{feed.sha256[:16]}"'
    changed = feed.activated_at or feed.created_at
    last_modified = int(changed.timestamp())
    response = HttpResponse(content_type="application/zip")
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    conditional = get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=response
    )
    if conditional is not None and conditional is not response:
        return _open(conditional)
    key = f"transit:gtfs-zip:{feed.pk}:{feed.version}:{feed.sha256}"
    body = cache.get(key)
    if not isinstance(body, bytes):
        body = feeds.static_feed_zip(feed, publisher_url=settings.THUDO_PUBLIC_URL + "/transit/")
        cache.set(key, body, ZIP_CACHE_S)
    response.content = body
    response["Content-Disposition"] = f'attachment; filename="gtfs-v{feed.version}.zip"'
    return _open(response)
