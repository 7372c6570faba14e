"""Webchat's URL map: wiring only."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

# A request we cannot read says why (webchat/badinput.py).
handler400 = "webchat.badinput.bad_request"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("widgets.urls")),
    path("", include("sharing.urls")),
    path("", include("administration.urls")),
    path("", include("conversations.urls")),
]
