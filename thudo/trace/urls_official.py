"""The agriculture department's traceability pages at /workspace/trace/ (config/urls.py)."""

from django.urls import path

from . import views_official as views

app_name = "trace_official"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("producers/", views.producers, name="producers"),
    path("producers/<int:producer_id>/", views.producer, name="producer"),
    path("batches/", views.batch_find, name="batch_find"),
    path("batches/<int:batch_id>/", views.batch, name="batch"),
    path("batches/<int:batch_id>/recall/", views.batch_recall, name="batch_recall"),
    path("recalls/", views.recall_list, name="recalls"),
    path("recalls/<int:recall_id>/", views.recall, name="recall"),
    path("recalls/<int:recall_id>/lift/", views.recall_lift, name="recall_lift"),
]
