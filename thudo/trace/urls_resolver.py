"""The GS1 Digital Link resolver, mounted at the site root (config/urls.py): the URIs printed in
our labels' QR codes. Lots and serials may hold "/" (GS1 allows it), hence the lazy patterns;
the more specific pattern comes first."""

from django.urls import re_path

from . import views_resolver as views

app_name = "digital_link"

GTIN = r"(?P<gtin>[^/]+)"

urlpatterns = [
    re_path(
        rf"^01/{GTIN}/10/(?P<lot>.+?)/21/(?P<serial>.+?)/?$",
        views.resolve_view,
        name="lot_serial",
    ),
    re_path(rf"^01/{GTIN}/10/(?P<lot>.+?)/?$", views.resolve_view, name="lot"),
    re_path(rf"^01/{GTIN}/21/(?P<serial>.+?)/?$", views.resolve_view, name="serial"),
    re_path(rf"^01/{GTIN}/?$", views.resolve_view, name="product"),
]
