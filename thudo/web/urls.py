from django.urls import include, path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("workspace/", views.workspace, name="workspace"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/indicators/", views.indicators, name="indicators"),
    path("offline/", views.offline, name="offline"),
    path("manifest.webmanifest", views.web_manifest, name="manifest"),
    path("sw.js", views.service_worker, name="sw"),
    # Django's set_language (the header's language switch): URL name "web:set_language".
    path("i18n/", include("django.conf.urls.i18n")),
]
