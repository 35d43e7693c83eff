"""The producers' pages (mounted at /trace/, namespace "trace")."""

from django.urls import path

from . import views

app_name = "trace"
urlpatterns = [
    path("", views.home, name="home"),
    path("producers/new/", views.producer_new, name="producer_new"),
    path("producers/<int:producer_id>/", views.producer_detail, name="producer"),
    path("producers/<int:producer_id>/members/new/", views.member_new, name="member_new"),
    path("producers/<int:producer_id>/places/new/", views.place_new, name="place_new"),
    path(
        "producers/<int:producer_id>/certifications/new/",
        views.certification_new,
        name="certification_new",
    ),
    path("producers/<int:producer_id>/products/new/", views.product_new, name="product_new"),
    path("products/<int:product_id>/", views.product_detail, name="product"),
    path("products/<int:product_id>/image", views.product_image, name="product_image"),
    path("products/<int:product_id>/batches/new/", views.batch_new, name="batch_new"),
    path("batches/<int:batch_id>/", views.batch_detail, name="batch"),
    path("batches/<int:batch_id>/record/<slug:stage>/", views.stage_record, name="stage"),
    path("batches/<int:batch_id>/correct/<int:event_id>/", views.correction, name="correct"),
    path("batches/<int:batch_id>/labels/", views.label_sheet, name="labels"),
    path("batches/<int:batch_id>/labels.pdf", views.labels_pdf, name="labels_pdf"),
]
