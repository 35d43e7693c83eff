"""The device endpoint under /transit/ (no app_name: included into the "transit" namespace)."""

from django.urls import path

from . import views_ingest

urlpatterns = [
    path(
        "ingest/v1/positions",
        views_ingest.ingest_positions,
        name="ingest_positions",
    ),
]
