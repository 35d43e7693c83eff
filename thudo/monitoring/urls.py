"""The monitoring pages; config/urls.py mounts them at "monitoring/"."""

from django.urls import path

from . import views

app_name = "monitoring"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("pillars/<slug:code>/", views.pillar, name="pillar"),
    path("targets/<slug:code>/", views.target, name="target"),
    path("ranking/", views.ranking, name="ranking"),
    path("wards/", views.wards, name="wards"),
    path("wards/<str:code>/", views.ward, name="ward"),
    path("overdue/", views.overdue, name="overdue"),
    path("report/", views.report, name="report"),
    path("report/<slug:code>/", views.report_form, name="report_form"),
    path("review/", views.review, name="review"),
    path(
        "review/<int:pk>/approve/",
        views.review_decide,
        {"action": "approve"},
        name="approve",
    ),
    path("review/<int:pk>/reject/", views.review_decide, {"action": "reject"}, name="reject"),
    path("evidence/<int:pk>/", views.evidence, name="evidence"),
    path("dti/", views.dti, name="dti"),
    path("dti/<int:pk>/", views.dti_set, name="dti_set"),
    path("monthly.pdf", views.monthly_pdf, name="monthly_pdf"),
]
