"""URLs of a person's own exports (the admin's own pages are under admin.site)."""

from django.urls import path

from administration import my_exports

app_name = "exports"

urlpatterns = [
    path(
        "conversations/<int:pk>/export.<str:kind>",
        my_exports.export_conversation,
        name="conversation",
    ),
    path("conversations/export.<str:kind>", my_exports.export_all, name="all"),
]
