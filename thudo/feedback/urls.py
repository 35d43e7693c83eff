"""The residents' and the public's pages (mounted at /feedback/)."""

from django.urls import path

from . import views

app_name = "feedback"
urlpatterns = [
    path("", views.report_map, name="map"),
    path("map.geojson", views.geojson, name="geojson"),
    path("new/", views.report_new, name="report"),
    path("nearby/", views.nearby, name="nearby"),
    path("photo-position/", views.photo_position, name="photo_position"),
    path("mine/", views.mine, name="mine"),
    path("media/<int:media_id>/", views.media, name="media"),
    path("<int:report_id>/", views.detail, name="detail"),
    path("<int:report_id>/edit/", views.edit, name="edit"),
    path("<int:report_id>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:report_id>/follow/", views.follow, name="follow"),
    path("<int:report_id>/unfollow/", views.unfollow, name="unfollow"),
    path("<int:report_id>/rate/", views.rate, name="rate"),
    path("<int:report_id>/reopen/", views.reopen, name="reopen"),
    path("<int:report_id>/flag/", views.flag, name="flag"),
    path("<int:report_id>/forget/", views.forget, name="forget"),
]
