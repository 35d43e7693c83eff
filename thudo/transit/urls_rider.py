"""Riders' pages and their JSON refreshes at /transit/ (no app_name: included into the "transit"
namespace by thudo/transit/urls.py)."""

from django.urls import path

from . import views_rider

urlpatterns = [
    path("", views_rider.home, name="home"),
    path("search.json", views_rider.search_json, name="search_json"),
    path("stops/nearby.json", views_rider.nearby_json, name="nearby_json"),
    path("stops/<str:stop_id>/", views_rider.stop_detail, name="stop"),
    path(
        "stops/<str:stop_id>/arrivals.json",
        views_rider.stop_arrivals_json,
        name="stop_arrivals_json",
    ),
    path("routes/<str:route_id>/", views_rider.route_detail, name="route"),
    path(
        "routes/<str:route_id>/vehicles.json",
        views_rider.route_vehicles_json,
        name="route_vehicles_json",
    ),
    path("panel/<str:stop_id>/", views_rider.panel, name="panel"),
    path(
        "panel/<str:stop_id>/announcement.txt",
        views_rider.panel_announcement,
        name="panel_announcement",
    ),
]
