"""Widgets in the admin: the record, the snippet to paste, a preview, and when limits were hit."""

from __future__ import annotations

from contextvars import ContextVar

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from administration.admin import AuditedAdmin
from widgets.models import LimitHit, Widget


class LimitHitInline(admin.TabularInline):
    model = LimitHit
    extra = 0
    can_delete = False
    fields = readonly_fields = ["at", "kind", "visitor", "address"]
    max_num = 0
    ordering = ["-at"]

    def get_queryset(self, request):
        return super().get_queryset(request)


@admin.register(Widget)
class WidgetAdmin(AuditedAdmin):
    list_display = ["name", "enabled", "provider", "model", "agent", "origins_shown", "owner"]
    list_filter = ["enabled", "provider"]
    search_fields = ["name", "public_key", "allowed_origins"]
    readonly_fields = ["public_key", "snippet", "preview"]
    inlines = [LimitHitInline]
    fieldsets = [
        (None, {"fields": ["name", "owner", "enabled", "public_key", "snippet", "preview"]}),
        ("Assistant (fixed: visitors cannot change it)", {"fields": ["provider", "model", "agent"]}),
        ("Where it may run", {"fields": ["allowed_origins"]}),
        ("Look", {"fields": ["title", "greeting", "starters", "accent", "position", "theme", "language"]}),
        ("Visitors", {"fields": ["identity", "secret"]}),
        ("Limits", {"fields": ["max_message_chars", "messages_per_minute", "visitor_tokens_per_day",
                               "tokens_per_day", "new_visitors_per_hour", "limit_message"]}),
    ]  # fmt: skip

    @admin.display(description="allowed origins")
    def origins_shown(self, widget: Widget) -> str:
        return ", ".join(widget.origins) or "none (works nowhere)"

    @admin.display(description="snippet")
    def snippet(self, widget: Widget) -> str:
        if not widget.pk:
            return "Save the widget to get its snippet."
        src = self._absolute(reverse("widgets:loader"))
        tag = f'<script src="{src}" data-widget="{widget.public_key}" async></script>'
        return format_html(
            "<code>{}</code><p>Paste it before &lt;/body&gt; on the allowed sites.</p>", tag
        )

    @admin.display(description="preview")
    def preview(self, widget: Widget) -> str:
        if not widget.pk:
            return ""
        # The frame refuses to be framed by anything but the allowed sites, this admin included.
        url = reverse("widgets:frame", args=[widget.public_key])
        return format_html('<a href="{}" target="_blank" rel="noopener">Open the chat frame</a> '
                           "(it waits for a visitor token from an allowed site).", url)  # fmt: skip

    def _absolute(self, path: str) -> str:
        request = _request.get(None)
        return request.build_absolute_uri(path) if request else path

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The snippet needs this server's address; the admin instance is shared between requests.
        token = _request.set(request)
        try:
            return super().change_view(request, object_id, form_url, extra_context)
        finally:
            _request.reset(token)


_request: ContextVar = ContextVar("widget_admin_request")
