"""Transit at /transit/: riders' pages and stop panels (urls_rider), the device ingest endpoint
(urls_ingest) and the GTFS-realtime feeds (urls_feeds), all in the "transit" namespace."""

from django.urls import include, path

app_name = "transit"

urlpatterns = [
    path("", include("thudo.transit.urls_ingest")),
    path("", include("thudo.transit.urls_feeds")),
    path("", include("thudo.transit.urls_rider")),
]
