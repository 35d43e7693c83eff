"""The exchange protocol (r1), the node's keys, the catalogue, grants, operations, metrics."""

from django.urls import path, re_path

from . import views_protocol as views

app_name = "exchange"
urlpatterns = [
    path("r1/.well-known/jwks.json", views.jwks, name="jwks"),
    path("r1/.well-known/nodes.json", views.nodes, name="nodes"),
    re_path(r"^r1/(?P<rest>.*)$", views.protocol, name="protocol"),
    path("services/", views.catalogue, name="catalogue"),
    path("services/<int:pk>/", views.service_detail, name="service"),
    path("services/<int:pk>/openapi.json", views.service_openapi, name="openapi"),
    path("grants/", views.grants, name="grants"),
    path("grants/<int:pk>/revoke/", views.grant_revoke, name="grant_revoke"),
    path("ops/", views.ops, name="ops"),
    path("metrics", views.metrics_view, name="metrics"),
]
