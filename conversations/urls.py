"""URLs of the conversations app."""

from django.urls import path

from conversations import attachment_views, instructions_views, views

app_name = "conversations"

urlpatterns = [
    path("", views.index, name="index"),
    path("conversations/", views.conversation_list, name="list"),
    path("conversations/archived", views.conversation_archived, name="archived"),
    path("conversations/trash", views.trash_list, name="trash_list"),
    path("conversations/trash/empty", views.trash_empty, name="trash_empty"),
    path("conversations/new", views.conversation_create, name="create"),
    path("conversations/<int:pk>/", views.conversation_detail, name="detail"),
    path("conversations/<int:pk>/earlier", views.conversation_earlier, name="earlier"),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>.md",
        views.message_markdown,
        name="markdown",
    ),
    path(
        "conversations/<int:pk>/messages/<int:message_pk>/feedback",
        views.message_feedback,
        name="feedback",
    ),
    path(
        "conversations/<int:pk>/versions/<int:message_pk>",
        views.conversation_version,
        name="version",
    ),
    path("conversations/<int:pk>/rename", views.conversation_rename, name="rename"),
    path("conversations/<int:pk>/delete", views.conversation_delete, name="delete"),
    path(
        "conversations/<int:pk>/delete/confirm",
        views.conversation_delete_confirm,
        name="delete_confirm",
    ),
    path("conversations/<int:pk>/trash", views.conversation_trash, name="trash"),
    path("conversations/<int:pk>/untrash", views.conversation_untrash, name="untrash"),
    path("conversations/<int:pk>/pin", views.conversation_pin, name="pin"),
    path("conversations/<int:pk>/unpin", views.conversation_unpin, name="unpin"),
    path("conversations/<int:pk>/archive", views.conversation_archive, name="archive"),
    path("conversations/<int:pk>/restore", views.conversation_restore, name="restore"),
    path("conversations/<int:pk>/continue", views.conversation_continue, name="continue"),
    path(
        "conversations/<int:pk>/instructions",
        instructions_views.instructions_panel,
        name="instructions",
    ),
    path(
        "conversations/<int:pk>/configure",
        instructions_views.conversation_configure_view,
        name="configure",
    ),
    path("conversations/<int:pk>/preset", instructions_views.preset_save_view, name="preset_save"),
    path(
        "presets/<int:preset_pk>/delete",
        instructions_views.preset_delete_view,
        name="preset_delete",
    ),
    path("conversations/new/fields", instructions_views.new_chat_fields, name="new_fields"),
    path("attachments", attachment_views.attachment_upload, name="attachment_upload"),
    path(
        "attachments/<int:pk>/discard",
        attachment_views.attachment_discard,
        name="attachment_discard",
    ),
    path("attachments/<int:pk>/<str:name>", attachment_views.attachment_file, name="attachment"),
    path("files/<str:token>", attachment_views.file_link, name="file_link"),
    path("settings", views.user_settings_edit, name="settings"),
    path("status", views.status_page, name="status"),
    path("healthz", views.health, name="health"),
    path("favicon.ico", views.favicon, name="favicon"),
]
