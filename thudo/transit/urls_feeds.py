"""The open-data feeds (included into the "transit" namespace by urls.py, at /transit/):

gtfs-rt/vehicle-positions.pb|.json   transit:gtfsrt_vehicle_positions  (kwargs fmt="pb"|"json")
gtfs-rt/trip-updates.pb|.json        transit:gtfsrt_trip_updates
gtfs-rt/service-alerts.pb|.json      transit:gtfsrt_service_alerts
gtfs/feed.zip                        transit:gtfs_static_feed
"""

from django.urls import path, re_path

from . import views_feeds

FMT = r"(?P<fmt>pb|json)"

urlpatterns = [
    re_path(
        rf"^gtfs-rt/vehicle-positions\.{FMT}$",
        views_feeds.gtfsrt_vehicle_positions,
        name="gtfsrt_vehicle_positions",
    ),
    re_path(
        rf"^gtfs-rt/trip-updates\.{FMT}$",
        views_feeds.gtfsrt_trip_updates,
        name="gtfsrt_trip_updates",
    ),
    re_path(
        rf"^gtfs-rt/service-alerts\.{FMT}$",
        views_feeds.gtfsrt_service_alerts,
        name="gtfsrt_service_alerts",
    ),
    path("gtfs/feed.zip", views_feeds.gtfs_static_feed, name="gtfs_static_feed"),
]
