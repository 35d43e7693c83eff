"""The citizen's data tracker and the data stewards' objection pages, mounted at /my-data/."""

from django.urls import path

from . import views_tracker

app_name = "exchange_tracker"
urlpatterns = [
    path("", views_tracker.index, name="index"),
    path("subscription/", views_tracker.subscription, name="subscription"),
    path("access/<int:pk>/objection/", views_tracker.objection_new, name="object"),
    path("objections/", views_tracker.objections, name="objections"),
    path("objections/<int:pk>/", views_tracker.objection_detail, name="objection"),
]
