"""The city PKI's public endpoints, included at /pki/ (the URLs inside every certificate)."""

from django.urls import path, re_path

from . import pki_views

app_name = "pki"
urlpatterns = [
    path("root.crt", pki_views.root_certificate, name="root_crt"),
    path("root.crl", pki_views.crl, name="root_crl"),
    path("ocsp", pki_views.ocsp, name="ocsp"),
    re_path(r"^ocsp/(?P<encoded>[A-Za-z0-9+/=_%-]{1,4096})$", pki_views.ocsp, name="ocsp_get"),
    path("tsa", pki_views.tsa, name="tsa"),
]
