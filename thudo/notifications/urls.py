from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read/", views.mark_read, name="mark_read"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/new/", views.alert_new, name="alert_new"),
]
