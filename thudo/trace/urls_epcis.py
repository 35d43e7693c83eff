"""The EPCIS 2.0 REST binding, mounted at /epcis/ (namespace "epcis")."""

from django.urls import path

from . import views_epcis as views

app_name = "epcis"
urlpatterns = [
    path("capture", views.capture, name="capture"),
    path("capture/<str:capture_id>", views.capture_status, name="capture_status"),
    path("events", views.events, name="events"),
    path("events/<path:event_id>", views.event_detail, name="event"),
    path("eventTypes", views.event_types, name="event_types"),
    path("eventTypes/<str:event_type>/events", views.event_type_events, name="event_type_events"),
    path("epcs/<path:epc>/events", views.epc_events, name="epc_events"),
]
