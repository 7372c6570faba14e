"""The Django admin, made for Webchat's administrators (roles: roles.py, kept on every migrate).

Administration sits above conversations (tests/test_layers.py): it registers its own records,
the conversations' records (their admin reads transcripts, exports and deletes, which the audit
trail and the tombstones of this app follow) and the audited users and groups. Widgets register
their own admin beside this one: the base classes both use are in webchat/admin_base.py.

- Conversations: list, filters, search over titles and message text, a read-only transcript
  (every view of it is audited), delete that reaches the provider first.
- Audit trail and tombstones: read-only for everyone, superusers included.
- Usage: a page per day, user and model, read from the daily rollup (administration/usage.py).
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from administration import (
    audit,
    exports,
    imports,
    owners,
    retention,
    search,
    transcript,
    usage_report,
    users,
)
from administration.filters import (
    DateRangeFilter,
    FeedbackFilter,
    ModelOrAgentFilter,
    OwnerFilter,
    TrashFilter,
    bucket_filter,
)
from administration.models import AuditAction, AuditEntry, Tombstone
from conversations import deletion
from conversations.attachments import file_response
from conversations.models import (
    Attachment,
    Conversation,
    DailyUsage,
    Feedback,
    MessageStatus,
    Preset,
    provider_choices,
)
from webchat.admin_base import AuditedAdmin, WebchatAdmin, keep_audit_trail_with
from webchat.badinput import BadInput

# The audited admins (webchat/admin_base.py: ours and the widgets') write this app's trail.
# Here, not in AppConfig.ready: the admin modules are all loaded by the admin's autodiscover.
keep_audit_trail_with(audit.record_admin_change)

PAGES_COUNTED_AHEAD = 10
LAST_PAGE = 1_000_000  # past any real page: a higher number is answered as no such page


class WindowPaginator(Paginator):
    """Counts at most a few pages past the one shown, never the whole (filtered) table.

    The admin shows page links around the current page; a COUNT(*) over 100,000 rows for that
    is most of the page's time. The count here stops `PAGES_COUNTED_AHEAD` pages on.
    """

    def __init__(self, object_list, per_page, *, page: int = 1, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.limit = (page + PAGES_COUNTED_AHEAD) * per_page + 1

    @cached_property
    def count(self) -> int:
        return self.object_list.values("pk")[: self.limit].count()


@admin.register(Conversation)
class ConversationAdmin(WebchatAdmin):
    list_display = [
        "display_title",
        "owner_shown",
        "provider",
        "model_or_agent",
        "origin",
        "widget",
        "started_on",
        "message_count",
        "tokens",
        "updated",
        "last_reply",
        "trashed",
    ]
    list_filter = [
        OwnerFilter,
        "provider",
        ModelOrAgentFilter,
        "origin",
        # here: the widget filter (widgets/filters.py adds it; we do not import widgets)
        "last_status",
        FeedbackFilter,
        TrashFilter,
        bucket_filter("message_count", "messages", [0, 10, 100]),
        bucket_filter("tokens_out", "tokens out", [0, 1_000, 10_000, 100_000]),
        ("updated", DateRangeFilter),
    ]
    list_select_related = ["owner", "widget"]
    search_fields = ["title"]  # and message text: see get_search_results
    search_help_text = "Titles and the text of every message."
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-updated", "-id"]
    readonly_fields = [
        "owner",
        "provider",
        "model",
        "agent",
        "origin",
        "widget",
        "visitor",
        "started_on",
        "title",
        "upstream_id",
        "superseded_upstream_ids",
        "created",
        "updated",
        "message_count",
        "tokens_in",
        "tokens_out",
        "last_status",
        "trashed_at",
    ]
    fields = readonly_fields
    change_form_template = "admin/conversations/conversation/transcript.html"

    @admin.display(description="title", ordering="title")
    def display_title(self, conversation: Conversation) -> str:
        return conversation.display_title

    @admin.display(description="owner", ordering="owner__username")
    def owner_shown(self, conversation: Conversation) -> str:
        # A widget visitor's conversation has no owner: it is the widget's.
        return owners.owner_label(conversation)

    @admin.display(description="model or agent")
    def model_or_agent(self, conversation: Conversation) -> str:
        return conversation.choice_label

    @admin.display(description="tokens in / out", ordering="tokens_out")
    def tokens(self, conversation: Conversation) -> str:
        return f"{conversation.tokens_in:,} / {conversation.tokens_out:,}"

    @admin.display(description="trashed", ordering="trashed_at")
    def trashed(self, conversation: Conversation):
        """When its owner moved it to Trash (empty: not in Trash)."""
        return conversation.trashed_at

    @admin.display(description="last reply", ordering="last_status")
    def last_reply(self, conversation: Conversation) -> str | None:
        status = conversation.last_status
        if not status:
            return None
        label = MessageStatus(status).label
        if status == MessageStatus.COMPLETE:
            return label
        return format_html('<strong class="reply-{}">{}</strong>', status, label)

    # --- permissions: read-only records; delete only through the provider -------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    # --- list --------------------------------------------------------------------------------

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        try:
            page = min(max(1, int(request.GET.get("p", 1))), LAST_PAGE)
        except ValueError:
            page = 1
        return WindowPaginator(queryset, per_page, page=page, orphans=orphans)

    def get_search_results(self, request, queryset, search_term):
        return search.matching(queryset, search_term), False

    # --- transcript --------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        conversation = self.get_object(request, object_id)
        can_read = request.user.has_perm("conversations.view_transcript")
        context = {**(extra_context or {}), "can_read_transcript": can_read}
        if conversation is not None and can_read:
            context["transcript"] = transcript.render(
                conversation.messages.order_by("id"),
                transcript.speaker(conversation),
                transcript.feedback_on(conversation),
            )
            audit.record(
                AuditAction.VIEW_TRANSCRIPT,
                # No title: the trail outlives the conversation (see Tombstone).
                f"Read the transcript of conversation #{conversation.pk} "
                f"(owner {owners.owner_label(conversation)})",
                request=request,
                target=conversation,
            )
        return super().change_view(request, object_id, form_url, context)

    # --- export ------------------------------------------------------------------------------

    actions = ["export_json", "export_markdown"]

    @admin.action(description="Export selected as JSON (everything we store)",
                  permissions=["export_conversation"])  # fmt: skip
    def export_json(self, request, queryset):
        return _export(request, queryset, "json")

    @admin.action(description="Export selected as Markdown (a zip, one file each)",
                  permissions=["export_conversation"])  # fmt: skip
    def export_markdown(self, request, queryset):
        return _export(request, queryset, "markdown")

    def has_export_conversation_permission(self, request) -> bool:
        return request.user.has_perm("conversations.export_conversation")

    # --- import ------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        attachment = self.admin_site.admin_view(self.attachment_view)
        return [
            path("import/", view, name="conversations_conversation_import"),
            path("attachment/<int:pk>/", attachment, name="conversations_conversation_attachment"),
            *super().get_urls(),
        ]

    def attachment_view(self, request, pk):
        """A file sent in a conversation, to those who may read transcripts; audited."""
        if not request.user.has_perm("conversations.view_transcript"):
            raise PermissionDenied
        attachment = Attachment.objects.filter(pk=pk, message__isnull=False).first()
        if attachment is None:
            raise Http404("No such file.")
        audit.record(
            AuditAction.FILE_VIEW,
            f"Opened attachment #{attachment.pk} of conversation "
            f"#{attachment.message.conversation_id}",
            request=request,
            target=attachment,
        )
        return file_response(attachment)

    def import_view(self, request):
        """Pull conversations made at a provider into a person's list (POST, CSRF)."""
        if not request.user.has_perm("conversations.import_conversation"):
            raise PermissionDenied
        form = ImportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                summary = imports.run_import(
                    provider=form.cleaned_data["provider"],
                    owner=form.cleaned_data["owner"],
                    request=request,
                )
            except imports.CannotImport as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                level = messages.WARNING if summary.failed else messages.SUCCESS
                self.message_user(request, summary.text() + ".", level)
                for upstream_id, reason in summary.failed:
                    self.message_user(request, f"{upstream_id}: {reason}", messages.ERROR)
                return redirect("admin:conversations_conversation_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Import conversations from a provider",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "administration/import.html", context)

    # --- delete: at the provider first --------------------------------------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = (
                delete_everywhere,
                "delete_selected",
                "Delete selected conversations (at the provider first)",
            )
        return actions

    def delete_model(self, request, obj) -> None:
        [outcome] = _delete_and_audit(request, [obj])
        request._webchat_delete_outcome = outcome

    def response_delete(self, request, obj_display, obj_id):
        outcome = getattr(request, "_webchat_delete_outcome", None)
        if outcome is not None and not outcome.deleted:
            self.message_user(request, f"Not deleted: {outcome}", messages.ERROR)
            return self.response_post_save_change(request, None)
        return super().response_delete(request, obj_display, obj_id)


class ImportForm(forms.Form):
    provider = forms.ChoiceField(choices=provider_choices)
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        to_field_name="username",
        widget=forms.TextInput,
        help_text="The username whose list the conversations join.",
    )


def _export(request, queryset, kind: str) -> StreamingHttpResponse:
    ids = list(queryset.values_list("pk", flat=True))
    audit.record(
        AuditAction.EXPORT,
        f"Exported {len(ids)} conversation(s) as {kind}",
        request=request,
        detail={"format": kind, "conversations": ids},
    )
    selected = Conversation.objects.filter(pk__in=ids)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if kind == "json":
        response = StreamingHttpResponse(
            exports.iter_json(selected), content_type="application/json"
        )
        name = f"conversations-{stamp}.json"
    else:
        response = StreamingHttpResponse(
            exports.iter_markdown_zip(selected), content_type="application/zip"
        )
        name = f"conversations-{stamp}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _delete_and_audit(request, conversations) -> list[deletion.Outcome]:
    # The action leaves the tombstone and the audit row (administration/deletion.py).
    return deletion.delete_everywhere(conversations, reason=deletion.Reason.ADMIN, request=request)


@admin.action(permissions=["delete"])
def delete_everywhere(modeladmin, request, queryset: QuerySet):
    if not request.POST.get("post"):
        return delete_selected(modeladmin, request, queryset)  # Django's confirmation page
    for outcome in _delete_and_audit(request, list(queryset.select_related("owner", "widget"))):
        level = messages.SUCCESS if outcome.deleted else messages.ERROR
        modeladmin.message_user(request, str(outcome), level)
    return None


class ReadOnlyAdmin(WebchatAdmin):
    """Records nobody may add, change or delete, superusers included."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created", "actor_name", "action", "summary", "address"]
    list_filter = ["action", ("created", DateRangeFilter)]
    search_fields = ["summary", "actor_name", "target_id"]
    date_hierarchy = "created"
    show_full_result_count = False

    def get_actions(self, request):
        return {}


@admin.register(Tombstone)
class TombstoneAdmin(ReadOnlyAdmin):
    list_display = [
        "deleted",
        "conversation_id",
        "owner_name",
        "provider",
        "reason",
        "upstream_result",
    ]
    list_filter = ["reason", "provider", ("deleted", DateRangeFilter)]
    search_fields = ["owner_name", "upstream_id"]  # never a title: see Tombstone
    change_list_template = "administration/tombstone_change_list.html"

    def get_actions(self, request):
        return {}

    def get_urls(self):
        view = self.admin_site.admin_view(self.retention_view)
        return [path("retention/", view, name="administration_retention"), *super().get_urls()]

    def retention_view(self, request):
        """The policy, what it would delete now, and a button that does it (POST, CSRF)."""
        if not request.user.has_perm("conversations.purge_conversation"):
            raise PermissionDenied
        policy = retention.Policy.from_settings()
        if request.method == "POST":
            outcomes = retention.purge(request=request)
            deleted = sum(o.deleted for o in outcomes)
            self.message_user(request, f"Retention purge: {deleted} conversation(s) deleted.")
            for outcome in (o for o in outcomes if not o.deleted):
                self.message_user(request, str(outcome), messages.ERROR)
            return redirect("admin:administration_tombstone_changelist")
        candidates = retention.expired(policy)
        context = {
            **self.admin_site.each_context(request),
            "title": "Retention",
            "opts": self.model._meta,
            "policy": policy.describe(),
            "active": bool(policy.default_days or any(policy.by_origin.values())),
            "count": candidates.count(),
            "first": [retention.describe(c) for c in candidates[:50]],
        }
        return TemplateResponse(request, "administration/retention.html", context)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    """Thumbs and comments on replies, newest first; each links to its conversation's
    transcript (where reading the reply is audited), so no reply text is shown here."""

    list_display = ["created", "rating", "comment_shown", "user", "conversation_link"]
    list_filter = ["rating", ("created", DateRangeFilter)]
    list_select_related = ["user", "message__conversation"]
    search_fields = ["comment"]
    search_help_text = "The text of comments."
    show_full_result_count = False
    list_per_page = 50
    fields = ["rating", "comment", "user", "conversation_link", "created", "updated"]
    readonly_fields = fields

    def get_actions(self, request):
        return {}

    @admin.display(description="comment")
    def comment_shown(self, feedback: Feedback) -> str:
        comment = " ".join(feedback.comment.split())
        return comment if len(comment) <= 120 else comment[:119] + "…"

    @admin.display(description="conversation")
    def conversation_link(self, feedback: Feedback) -> str:
        conversation = feedback.message.conversation
        url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
        return format_html(
            '<a href="{}#message-{}">{}</a>', url, feedback.message_id, conversation.display_title
        )


@admin.register(Preset)
class TeamPresetAdmin(AuditedAdmin):
    """The team's presets: everyone sees them first in the new chat's picker. A person's own
    presets are theirs alone and are not listed here."""

    list_display = ["name", "provider", "model", "agent", "updated"]
    list_filter = ["provider"]
    search_fields = ["name", "instructions"]
    fields = ["name", "provider", "model", "agent", "instructions", "parameters", "variables"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(owner__isnull=True)

    def save_model(self, request, obj, form, change) -> None:
        obj.owner = None
        obj.updated = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    """The usage page replaces the row list: a chart and a table over a date range."""

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [
            path("export.csv", export, name="conversations_dailyusage_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        start, end, group = _usage_params(request)
        report = usage_report.build(start, end, group)
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage",
            "opts": self.model._meta,
            "report": report,
            "chart": mark_safe(usage_report.chart_svg(report.days)),  # numbers and dates only
            "groups": list(usage_report.GROUPS),
            "can_export": request.user.has_perm("conversations.export_dailyusage"),
            "query": request.GET.urlencode(),
        }
        return TemplateResponse(request, "administration/usage.html", context)

    def export_view(self, request):
        if not request.user.has_perm("conversations.export_dailyusage"):
            raise PermissionDenied
        start, end, _ = _usage_params(request)
        rows = DailyUsage.objects.filter(day__gte=start, day__lte=end).select_related(
            "owner", "widget"
        )
        audit.record(
            AuditAction.EXPORT,
            f"Exported usage from {start} to {end} as CSV",
            request=request,
            detail={"start": start.isoformat(), "end": end.isoformat()},
        )
        response = StreamingHttpResponse(exports.iter_usage_csv(rows.order_by("day", "id")),
                                         content_type="text/csv")  # fmt: skip
        response["Content-Disposition"] = f'attachment; filename="usage-{start}-{end}.csv"'
        return response


def _usage_params(request) -> tuple:
    """The usage page's and its export's range and grouping; junk is a 400 saying which."""
    start, end = usage_report.default_range()
    start, end = _day_param(request, "start", start), _day_param(request, "end", end)
    if end < start:
        start, end = end, start
    year = datetime.timedelta(days=366)
    if datetime.date.max - start > year:
        end = min(end, start + year)  # a year at most on one page
    group = request.GET.get("group") or "day"
    if group not in usage_report.GROUPS:
        raise BadInput(f"Group usage by one of: {', '.join(usage_report.GROUPS)}.")
    return start, end, group


def _day_param(request, name: str, default: datetime.date) -> datetime.date:
    value = request.GET.get(name)
    if not value:
        return default
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise BadInput(f"The {name} date must be a day written YYYY-MM-DD.") from None


# --- users: audited, and one person's data exported or erased ---------------------------------

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


@admin.register(User)
class WebchatUserAdmin(AuditedAdmin, UserAdmin):
    actions = ["export_data", "erase_data"]

    @admin.action(description="Export all their conversations and usage (a zip)",
                  permissions=["export_user_data"])  # fmt: skip
    def export_data(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Export one person at a time.", messages.WARNING)
            return None
        user = queryset.get()
        audit.record(
            AuditAction.USER_EXPORT,
            f"Exported all the data of {user.get_username()}",
            request=request,
            target=user,
            detail={"conversations": user.conversations.count()},
        )
        response = StreamingHttpResponse(
            exports.iter_user_archive(user), content_type="application/zip"
        )
        name = f"webchat-{user.get_username()}-{timezone.now():%Y%m%d}.zip"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def has_export_user_data_permission(self, request) -> bool:
        return request.user.has_perm("conversations.export_user_data")

    @admin.action(description="Erase all their conversations and usage (upstream too)",
                  permissions=["erase_user_data"])  # fmt: skip
    def erase_data(self, request, queryset):
        if not request.POST.get("confirmed"):
            return TemplateResponse(
                request,
                "administration/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Erase user data",
                    "opts": self.model._meta,
                    "users": [
                        (user, user.conversations.count()) for user in queryset.order_by("id")
                    ],
                    "action": "erase_data",
                },
            )
        for user in queryset.order_by("id"):
            outcomes = users.erase_user_data(user, request=request)
            kept = [o for o in outcomes if not o.deleted]
            self.message_user(
                request,
                f"{user.get_username()}: {len(outcomes) - len(kept)} conversation(s) erased.",
            )
            for outcome in kept:
                self.message_user(request, f"Kept {outcome}", messages.ERROR)
        return None

    def has_erase_user_data_permission(self, request) -> bool:
        return request.user.has_perm("conversations.erase_user_data")


admin.site.site_header = "Webchat administration"
admin.site.site_title = "Webchat admin"
admin.site.index_title = "Conversations, usage and the audit trail"
