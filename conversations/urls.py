"""URLs of the conversations app."""

from django.urls import path

from conversations import views

app_name = "conversations"

urlpatterns = [
    path("", views.status_page, name="status"),
    path("healthz", views.health, name="health"),
]
