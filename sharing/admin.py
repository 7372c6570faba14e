"""Shared links in the admin: a read-only list, and one action, Revoke (audited)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from administration.admin import ReadOnlyAdmin
from administration.filters import DateRangeFilter
from sharing import services
from sharing.models import Share


@admin.register(Share)
class ShareAdmin(ReadOnlyAdmin):
    """Who shared what with whom, until when, and how often it was read. The token is never
    shown: the link is its owner's to give (every reading is in the audit trail)."""

    list_display = [
        "created",
        "conversation_link",
        "created_by",
        "audience",
        "message_count",
        "expires",
        "revoked",
        "views",
        "last_viewed",
    ]
    list_filter = [
        "audience",
        ("revoked", admin.EmptyFieldListFilter),
        ("created", DateRangeFilter),
    ]
    list_select_related = ["conversation", "created_by"]

    def lookup_allowed(self, lookup, value, request=None):
        # Django lets a list filter any of the model's own fields from the URL: a
        # `?token__startswith=` would read a link's token one character at a time.
        if lookup.split("__", 1)[0] == "token":
            return False
        return super().lookup_allowed(lookup, value, request)

    show_full_result_count = False
    list_per_page = 50
    fields = [
        "conversation_link",
        "created_by",
        "audience",
        "message_count",
        "created",
        "expires",
        "revoked",
        "views",
        "last_viewed",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description="conversation")
    def conversation_link(self, share: Share) -> str:
        url = reverse("admin:conversations_conversation_change", args=[share.conversation_id])
        return format_html('<a href="{}">{}</a>', url, share.conversation.display_title)

    @admin.display(description="messages")
    def message_count(self, share: Share) -> int:
        return len(share.message_ids)

    @admin.action(description="Revoke selected links", permissions=["revoke"])
    def revoke(self, request, queryset) -> None:
        revoked = sum(
            services.share_revoke(share=share, request=request)
            for share in queryset.select_related("conversation")
        )
        self.message_user(
            request,
            f"Revoked {revoked} link(s): they no longer open."
            if revoked
            else "Those links were already revoked.",
            messages.SUCCESS if revoked else messages.WARNING,
        )

    def has_revoke_permission(self, request) -> bool:
        # Read-only records, but a link can be closed: by whoever may change shared links.
        return request.user.has_perm("sharing.change_share")
