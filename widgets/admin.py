"""Widgets in the admin: the record, the snippet to paste, a preview, and when limits were hit."""

from __future__ import annotations

from contextvars import ContextVar

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

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
        # How the open widget greets a new visitor. (The live frame refuses to be framed by any
        # site but the allowed ones, this admin included: try it on one of them.)
        starters = format_html_join(
            "", '<li style="border:1px solid {};border-radius:1rem;padding:.2rem .6rem">{}</li>',
            ((widget.safe_accent, s) for s in widget.starters),
        )  # fmt: skip
        return format_html(
            '<div style="width:320px;border-radius:12px;box-shadow:0 4px 16px rgba(0,0,0,.2);'
            'overflow:hidden;font-family:system-ui,sans-serif">'
            '<div style="background:{};color:#fff;padding:.6rem .8rem;font-weight:600">{}</div>'
            '<div style="padding:.8rem"><p style="margin:0 0 .6rem">{}</p>'
            '<ul style="list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:.4rem">'
            "{}</ul></div></div>",
            widget.safe_accent, widget.title, widget.greeting, starters,
        )  # fmt: skip

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
