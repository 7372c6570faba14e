"""Widgets in the admin: the record, the snippet to paste, a preview, and when limits were hit."""

from __future__ import annotations

from contextvars import ContextVar

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from webchat.admin_base import AuditedAdmin, add_list_filter
from widgets.filters import WidgetFilter
from widgets.models import LimitHit, Widget

# The conversation list (administration's admin) filters by widget, right after the origin.
add_list_filter("conversations.Conversation", WidgetFilter, after="origin")


class LimitHitInline(admin.TabularInline):
    model = LimitHit
    extra = 0
    can_delete = False
    fields = readonly_fields = ["at", "kind", "visitor", "address"]
    max_num = 0
    ordering = ["-at"]


@admin.register(Widget)
class WidgetAdmin(AuditedAdmin):
    list_display = ["name", "enabled", "provider", "model", "agent", "origins_shown", "owner"]
    list_filter = ["enabled", "provider"]
    search_fields = ["name", "public_key", "allowed_origins"]
    readonly_fields = ["public_key", "snippet", "preview"]
    inlines = [LimitHitInline]
    fieldsets = [
        (None, {"fields": ["name", "owner", "enabled", "public_key", "snippet", "preview"]}),
        ("Assistant (fixed: visitors cannot change it)", {
            "fields": ["provider", "model", "agent", "instructions", "parameters", "variables",
                       "page_variables"],
            "description": "What it takes besides the visitor's messages depends on the "
            "provider: a Mistral model takes instructions and parameters; an Orq agent takes "
            "variables; a Mistral agent and an Orq model take neither. Each new visitor "
            "conversation starts with them; saving refuses what the provider would not take.",
        }),
        ("Where it may run", {"fields": ["allowed_origins"]}),
        ("Look", {"fields": ["title", "greeting", "starters", "accent", "position", "theme", "language"]}),
        ("Visitors", {"fields": ["identity", "secret"]}),
        ("Limits", {"fields": ["max_message_chars", "messages_per_minute", "visitor_tokens_per_day",
                               "tokens_per_day", "new_visitors_per_hour", "limit_message"]}),
    ]  # fmt: skip

    class Media:
        # The copy button and the preview's colour: a static script, as a strict CSP wants.
        css = {"all": ["widgets/admin.css"]}
        js = ["widgets/admin.js"]

    @admin.display(description="allowed origins")
    def origins_shown(self, widget: Widget) -> str:
        return ", ".join(map(str, widget.origins)) or "none (works nowhere)"

    @admin.display(description="snippet")
    def snippet(self, widget: Widget) -> str:
        if not widget.pk:
            return "Save the widget to get its snippet."
        src = loader_url(_request.get(None))
        if src is None:
            return "Set WEBCHAT_PUBLIC_URL to Webchat's address to get the snippet."
        tag = f'<script src="{src}" data-widget="{widget.public_key}" async></script>'
        return format_html(
            '<div class="widget-snippet"><code id="widget-snippet">{}</code>'
            '<button type="button" class="button" data-copy="widget-snippet" '
            'data-copied="Copied" data-failed="Select it and copy">Copy</button></div>'
            "<p>Paste it before &lt;/body&gt; on the allowed sites.</p>",
            tag,
        )

    @admin.display(description="preview")
    def preview(self, widget: Widget) -> str:
        # How the open widget greets a new visitor. (The live frame refuses to be framed by any
        # site but the allowed ones, this admin included: try it on one of them.) No style
        # attribute: the accent is set from data-accent by widgets/admin.js.
        starters = format_html_join(
            "", '<li class="widget-preview-starter">{}</li>', ((s,) for s in widget.starters)
        )
        return format_html(
            '<div class="widget-preview" data-accent="{}">'
            '<div class="widget-preview-head">{}</div>'
            '<div class="widget-preview-body"><p>{}</p><ul>{}</ul></div></div>',
            widget.safe_accent, widget.title, widget.greeting, starters,
        )  # fmt: skip

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The snippet needs this server's address; the admin instance is shared between requests.
        # Rendered here, while the request is known: a TemplateResponse renders later, and the
        # snippet then fell back to a relative src that loads nothing on another site.
        token = _request.set(request)
        try:
            response = super().change_view(request, object_id, form_url, extra_context)
            if isinstance(response, TemplateResponse):
                response.render()
            return response
        finally:
            _request.reset(token)


_request: ContextVar = ContextVar("widget_admin_request")


def loader_url(request: HttpRequest | None) -> str | None:
    """Where the loader is, as an absolute URL: a snippet pasted on another site needs one.

    `WEBCHAT_PUBLIC_URL` when set (behind a proxy the request may not know the public name),
    else the address this admin page was asked for.
    """
    path = reverse("widgets:loader")
    if settings.WEBCHAT_PUBLIC_URL:
        return settings.WEBCHAT_PUBLIC_URL + path
    return None if request is None else request.build_absolute_uri(path)
