"""URLs of shared links: the owner's, under the conversation; the reader's, short."""

from django.urls import path

from sharing import views

app_name = "sharing"

urlpatterns = [
    path("conversations/<int:pk>/shares", views.share_panel, name="panel"),
    path("conversations/<int:pk>/shares/new", views.share_create, name="create"),
    path(
        "conversations/<int:pk>/shares/<int:share_pk>/revoke",
        views.share_revoke,
        name="revoke",
    ),
    path("s/<slug:token>", views.shared, name="shared"),
    path("s/<slug:token>/continue", views.shared_continue, name="continue"),
]
