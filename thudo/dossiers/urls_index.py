"""The public service index page; appended to the "dossiers" namespace by urls.py."""

from django.urls import path

from . import views_index

index_urlpatterns = [
    path("service-index/", views_index.service_index_page, name="index"),
]
