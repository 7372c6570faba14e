"""URLs of the conversations app."""

from django.urls import path

from conversations import views

app_name = "conversations"

urlpatterns = [
    path("", views.index, name="index"),
    path("conversations/", views.conversation_list, name="list"),
    path("conversations/new", views.conversation_create, name="create"),
    path("conversations/<int:pk>/", views.conversation_detail, name="detail"),
    path("conversations/<int:pk>/earlier", views.conversation_earlier, name="earlier"),
    path("conversations/<int:pk>/rename", views.conversation_rename, name="rename"),
    path("conversations/<int:pk>/delete", views.conversation_delete, name="delete"),
    path("conversations/<int:pk>/continue", views.conversation_continue, name="continue"),
    path("status", views.status_page, name="status"),
    path("healthz", views.health, name="health"),
    path("favicon.ico", views.favicon, name="favicon"),
]
