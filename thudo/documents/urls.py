from django.urls import path

from . import views

app_name = "documents"
urlpatterns = [
    path("verify/", views.verify_page, name="verify"),
    path("verify/<uuid:public_id>/", views.verify_document_page, name="verify_document"),
    path("documents/", views.my_documents, name="mine"),
    path("documents/<uuid:public_id>/", views.download, name="download"),
]
