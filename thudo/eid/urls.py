"""The demo VNeID identity provider, mounted at /eid/ (issuer <base>/eid)."""

from django.urls import path, re_path

from . import views_idp

app_name = "eid"
urlpatterns = [
    path("", views_idp.index_view, name="index"),
    path("login/", views_idp.login_view, name="login"),
    path("logout/", views_idp.logout_view, name="logout"),
    path("authorize/", views_idp.AuthorizeView.as_view(), name="authorize"),
    path("token/", views_idp.TokenView.as_view(), name="token"),
    path("userinfo/", views_idp.UserInfoView.as_view(), name="userinfo"),
    path(".well-known/jwks.json", views_idp.JwksView.as_view(), name="jwks"),
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views_idp.DiscoveryView.as_view(),
        name="discovery",
    ),
]
