"""Open311 GeoReport v2 at /open311/v2/: every resource takes a format suffix (.xml or .json).

A path without the suffix answers 400, an unknown suffix 404, both with the spec's error body.
"""

from django.urls import URLPattern, re_path

from . import open311

app_name = "open311"

FMT = r"(?:\.(?P<fmt>[A-Za-z0-9]+))?"

urlpatterns: list[URLPattern] = [
    re_path(rf"^discovery{FMT}$", open311.discovery, name="discovery"),
    re_path(rf"^services{FMT}$", open311.service_list, name="services"),
    re_path(
        rf"^services/(?P<service_code>[^/.]+){FMT}$",
        open311.service_definition,
        name="service",
    ),
    re_path(rf"^requests{FMT}$", open311.requests, name="requests"),
    re_path(
        rf"^requests/(?P<service_request_id>[^/.]+){FMT}$",
        open311.request_detail,
        name="request",
    ),
    re_path(rf"^tokens/(?P<token>[^/.]+){FMT}$", open311.token_detail, name="token"),
    re_path(r"^(?P<rest>.*)$", open311.not_found, name="root"),
]
