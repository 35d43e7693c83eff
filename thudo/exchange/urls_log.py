"""The exchange log: signed tree heads, proofs (JSON) and the proof page, at /exchange/log/."""

from django.urls import path

from . import views_log

app_name = "exchange_log"
urlpatterns = [
    path("sth", views_log.sth, name="sth"),
    path("sth/<int:size>", views_log.sth_size, name="sth_size"),
    path("proof/inclusion", views_log.inclusion, name="inclusion"),
    path("proof/consistency", views_log.consistency, name="consistency"),
    path("entries/<int:index>/proof/", views_log.proof_page, name="proof"),
]
