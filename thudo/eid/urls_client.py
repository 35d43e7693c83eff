"""The portal's VNeID sign-in, mounted at /accounts/vneid/."""

from django.urls import path

from . import views_client

app_name = "eid_client"
urlpatterns = [
    path("start/", views_client.StartView.as_view(), name="start"),
    path("callback/", views_client.CallbackView.as_view(), name="callback"),
]
