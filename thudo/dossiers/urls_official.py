"""The officials' pages. Appended to the "dossiers" namespace by `urls.py` (no app_name here)."""

from django.urls import path

from . import views_official as views

official_urlpatterns = [
    path("workspace/dossiers/", views.queue, name="queue"),
    path("workspace/dossiers/<uuid:public_id>/", views.work, name="work"),
    path(
        "workspace/dossiers/<uuid:public_id>/files/<int:file_id>/",
        views.paper_file,
        name="work_file",
    ),
    path(
        "workspace/dossiers/<uuid:public_id>/documents/<uuid:document_id>/",
        views.document_file,
        name="work_document",
    ),
    path("workspace/dossiers/<uuid:public_id>/receipt/", views.receipt, name="work_receipt"),
    path(
        "workspace/dossiers/<uuid:public_id>/control-slip/",
        views.control_slip,
        name="control_slip",
    ),
    path("workspace/dossiers/<uuid:public_id>/<slug:action>/", views.act, name="act"),
    path("workspace/counter/", views.counter_pick, name="counter"),
    path("workspace/counter/<str:code>/", views.counter, name="counter"),
]
