"""The operator's pages at /workspace/transit/ (config/urls.py)."""

from django.urls import path

from . import views_official as views

app_name = "transit_official"

urlpatterns = [
    path("", views.control, name="control"),
    path("control.json", views.control_json, name="control_json"),
    path("vehicles/", views.vehicles, name="vehicles"),
    path("vehicles/new/", views.vehicle_create, name="vehicle_create"),
    path("vehicles/<int:vehicle_id>/", views.vehicle, name="vehicle"),
    path("vehicles/<int:vehicle_id>/devices/", views.device_register, name="device_register"),
    path("devices/<int:device_id>/rotate/", views.device_rotate, name="device_rotate"),
    path("devices/<int:device_id>/deactivate/", views.device_deactivate, name="device_deactivate"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/new/", views.alert_create, name="alert_create"),
    path("alerts/<int:alert_id>/end/", views.alert_end, name="alert_end"),
    path("timetables/", views.timetables, name="timetables"),
    path("timetables/upload/", views.timetable_upload, name="timetable_upload"),
    path("timetables/<int:feed_id>/", views.feed, name="feed"),
    path("timetables/<int:feed_id>/activate/", views.feed_activate, name="feed_activate"),
]
