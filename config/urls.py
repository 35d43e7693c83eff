from django.contrib import admin
from django.urls import include, path, re_path
from django_otp.admin import OTPAdminSite

from thudo.accounts.views import admin_login
from thudo.api.api import api
from thudo.api.views import api_not_found

# The admin demands a verified second factor; sign-in goes through accounts:login.
admin.site.__class__ = OTPAdminSite
admin.site.site_header = "Thudo"
admin.site.login = admin_login  # type: ignore[method-assign]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("accounts/", include("thudo.accounts.urls")),
    path("audit/", include("thudo.core.urls")),
    path("pki/", include("thudo.documents.pki_urls")),
    path("notifications/", include("thudo.notifications.urls")),
    path("procedures/", include("thudo.procedures.urls")),
    path("feedback/", include("thudo.feedback.urls")),
    path("workspace/feedback/", include("thudo.feedback.urls_official")),
    path("open311/v2/", include("thudo.feedback.urls_open311")),
    path("monitoring/", include("thudo.monitoring.urls")),
    path("exchange/", include("thudo.exchange.urls_protocol")),
    path("exchange/log/", include("thudo.exchange.urls_log")),
    path("my-data/", include("thudo.exchange.urls_tracker")),
    path("eid/", include("thudo.eid.urls")),
    path("accounts/vneid/", include("thudo.eid.urls_client")),
    path("trace/", include("thudo.trace.urls")),
    path("workspace/trace/", include("thudo.trace.urls_official")),
    path("epcis/", include("thudo.trace.urls_epcis")),
    path("transit/", include("thudo.transit.urls")),
    path("workspace/transit/", include("thudo.transit.urls_official")),
    path("", include("thudo.trace.urls_resolver")),
    path("", include("thudo.dossiers.urls")),
    path("", include("thudo.documents.urls")),
    path("", include("thudo.web.urls")),
]
