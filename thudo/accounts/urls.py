from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/verify/", views.otp_view, name="otp"),
    path("login/authenticator/", views.otp_setup_view, name="otp_setup"),
    path("logout/", views.logout_view, name="logout"),
    path("security/", views.security_view, name="security"),
    path("security/tokens/<int:pk>/revoke/", views.token_revoke_view, name="token_revoke"),
]
