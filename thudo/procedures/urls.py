from django.urls import path

from . import views

app_name = "procedures"
urlpatterns = [
    path("", views.catalog, name="list"),
    path("<str:code>/", views.detail, name="detail"),
    path("<str:code>/schema.json", views.schema, name="schema"),
]
