from django.urls import path

from . import views
from .urls_index import index_urlpatterns
from .urls_official import official_urlpatterns

app_name = "dossiers"
urlpatterns = [
    path("dossiers/", views.mine, name="mine"),
    path("dossiers/new/<str:code>/", views.apply, name="apply"),
    path("dossiers/<uuid:public_id>/", views.detail, name="detail"),
    path("dossiers/<uuid:public_id>/receipt/", views.receipt, name="receipt"),
    path("dossiers/<uuid:public_id>/result/", views.result, name="result"),
    path("dossiers/<uuid:public_id>/supplement/", views.supplement, name="supplement"),
    path("dossiers/<uuid:public_id>/rate/", views.rate, name="rate"),
    path("lookup/", views.lookup, name="lookup"),
]

# The officials' pages and the public service index live in their own modules.
urlpatterns += official_urlpatterns
urlpatterns += index_urlpatterns
