"""Our records of conversations and their messages: the source of truth for who owns what."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

TITLE_MAX_LENGTH = 100  # Orq's displayName limit; Mistral titles are ours, kept to the same.
# The parts of a reply shown with it, besides its reasoning and text.
SHOWN_PART_KINDS = ("tool_call", "tool_result", "citation", "notice")


def provider_choices() -> list[tuple[str, str]]:
    """The configured providers (WEBCHAT_PROVIDERS) as (key, label): read when asked, so a
    provider added to the setting needs no migration."""
    from conversations.providers import provider_choices  # the adapters import these models

    return provider_choices()


def provider_name(key: str) -> str:
    """The provider's name in a sentence; "The provider" for a key we do not know."""
    from conversations.providers import ADAPTERS  # the adapters import these models

    adapter = ADAPTERS.get(key)
    return adapter.name if adapter else str(_("The provider"))


class Origin(models.TextChoices):
    APP = "app", "App"
    WIDGET = "widget", "Widget"
    IMPORT = "import", "Import"


class MessageStatus(models.TextChoices):
    STREAMING = "streaming", "Streaming"
    COMPLETE = "complete", "Complete"
    STOPPED = "stopped", "Stopped"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"


class Conversation(models.Model):
    # None for a widget visitor's conversation: it belongs to the widget, not to a team member,
    # so no one's chat, sidebar or search shows it (the admin's audited transcript does).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    provider = models.CharField(max_length=16, choices=provider_choices)
    # Exactly one of model / agent: the agent is the configured key (Orq) or name (Mistral).
    model = models.CharField(max_length=200, blank=True)
    agent = models.CharField(max_length=200, blank=True)
    upstream_id = models.CharField(max_length=100, blank=True, db_index=True)
    # Upstream conversations this one was re-pointed away from (Mistral restarts, Orq edits):
    # they are deleted upstream together with it.
    superseded_upstream_ids = models.JSONField(default=list, blank=True)
    # What continues the upstream turn sequence (Orq task id).
    turn_ref = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    titled = models.BooleanField(
        default=False, help_text="Named by a person or after the first reply."
    )
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.APP)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)
    # Kept up to date as turns begin and end (`services.refresh_counters`), so the admin lists,
    # filters and sorts 100,000 conversations without counting their messages.
    message_count = models.PositiveIntegerField(default=0)
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    last_status = models.CharField(max_length=16, blank=True, choices=MessageStatus.choices)
    # Conversations of widget visitors: which widget, which visitor, and the page it started on.
    widget = models.ForeignKey(
        "widgets.Widget", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    visitor = models.CharField(max_length=100, blank=True)
    started_on = models.URLField(max_length=500, blank=True)
    # When we learnt that the provider no longer has this conversation (deleted there): no turn
    # can go on in it, only a new conversation that continues it.
    upstream_gone = models.DateTimeField(null=True, blank=True)
    # The conversation this one goes on from (after that one was gone upstream).
    continued_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="continuations"
    )
    # An earlier version is shown somewhere in it, and its provider cannot continue one (Orq
    # keeps every version in one conversation): the chat is read-only until the latest is shown.
    older_version_shown = models.BooleanField(default=False)
    # The sidebar: pinned ones are listed first, all of them; archived ones only in the
    # Archived view and in search. One or the other, never both (archiving unpins).
    pinned_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Deleted from the sidebar: in Trash, out of every list and search and closed to new turns,
    # until restored (its pin or archive kept) or deleted for good (conversations/trash.py).
    trashed_at = models.DateTimeField(null=True, blank=True)
    # What the assistant is told besides the messages, kept to what its provider takes for its
    # model or agent (`conversations/assistant_settings.py`): a system prompt; temperature,
    # top_p and max_tokens; an agent's named variables.
    instructions = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    # The model and instructions the current upstream conversation was started with, where the
    # provider fixes them at start (Mistral): a change starts a new one given the earlier turns.
    upstream_settings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-updated", "-id"]
        permissions = [
            ("view_transcript", "Can read transcripts"),
            ("export_conversation", "Can export conversations"),
            ("import_conversation", "Can import conversations from a provider"),
            ("purge_conversation", "Can run the retention purge"),
            ("export_user_data", "Can export all of a user's data"),
            ("erase_user_data", "Can erase all of a user's data"),
        ]
        indexes = [
            models.Index(fields=["owner", "-updated", "-id"], name="conversation_sidebar"),
            models.Index(fields=["-updated", "-id"], name="conversation_activity"),
            models.Index(fields=["widget", "visitor", "-updated"], name="conversation_visitor"),
            # The sidebar's three lists and Trash, each a range of its own partial index read
            # in order (services.conversation_page, services.trash_page), whatever else the
            # person has: the dated list skips no pinned, archived or trashed rows, and the
            # others read only theirs. Search, over all but Trash, reads `conversation_sidebar`.
            models.Index(
                fields=["owner", "-updated", "-id"],
                condition=Q(
                    pinned_at__isnull=True, archived_at__isnull=True, trashed_at__isnull=True
                ),
                name="conversation_listed",
            ),
            models.Index(
                fields=["owner", "-pinned_at", "-id"],
                condition=Q(pinned_at__isnull=False, trashed_at__isnull=True),
                name="conversation_pinned",
            ),
            models.Index(
                fields=["owner", "-updated", "-id"],
                condition=Q(archived_at__isnull=False, trashed_at__isnull=True),
                name="conversation_archived",
            ),
            models.Index(
                fields=["owner", "-trashed_at", "-id"],
                condition=Q(trashed_at__isnull=False),
                name="conversation_trashed",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(pinned_at__isnull=True) | Q(archived_at__isnull=True),
                name="pinned_or_archived_not_both",
            )
        ]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return self.title or str(_("New conversation"))

    @property
    def provider_name(self) -> str:
        return provider_name(self.provider)

    @property
    def choice_label(self) -> str:
        return str(_("agent %(name)s") % {"name": self.agent}) if self.agent else self.model

    @cached_property
    def adapter(self):
        """Its provider's adapter (`conversations/providers/`): all that differs by provider."""
        from conversations.providers import provider_for  # the adapters import these models

        return provider_for(self.provider)

    @property
    def provider_label(self) -> str:
        """Its provider's full name ("Orq.ai"), from the adapter: `get_provider_display` would
        rebuild the choices from the adapters for every row of a list."""
        return self.adapter.label

    @property
    def capabilities(self):
        """What its provider can do; pages read it (`conversation.capabilities.can_branch`)."""
        return self.adapter.capabilities

    @property
    def trash_ends(self):
        """When the Trash deletes it for good (None: not in Trash)."""
        if self.trashed_at is None:
            return None
        return self.trashed_at + timedelta(days=settings.WEBCHAT_TRASH_DAYS)


class MessageQuerySet(models.QuerySet):
    def shown(self) -> MessageQuerySet:
        """What the conversation reads as: without turns hidden by a regenerate or edit, nor
        the versions not shown."""
        return self.filter(replaced_by__isnull=True, stash__isnull=True)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    text = models.TextField(blank=True)
    # Rendered once when the message is final, so a long conversation renders without Markdown.
    html = models.TextField(blank=True)
    # Reasoning, tool calls and results, citations: [{"kind": ..., ...}] in stream order.
    parts = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=MessageStatus.choices, default=MessageStatus.COMPLETE
    )
    # What the user reads when a reply fails, in plain words; the provider's own words and the
    # transport's go to `error_detail`, for the log and the admin's transcript.
    error = models.TextField(blank=True)
    error_detail = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    usage_input = models.PositiveIntegerField(null=True, blank=True)
    usage_output = models.PositiveIntegerField(null=True, blank=True)
    usage_total = models.PositiveIntegerField(null=True, blank=True)
    # Orq message id, or the Mistral entry id a restart can branch from.
    upstream_id = models.CharField(max_length=100, blank=True)
    # How many stream events the saved text includes: a late joiner resumes after it.
    seq = models.PositiveIntegerField(default=0)
    # Leases, not guesses: the process streaming this reply renews `lease_until` on each save.
    runner = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    stop_requested = models.BooleanField(default=False)
    # Regenerate and edit hide what they replace until the new reply completes: these rows are
    # out of sight while `replaced_by` streams, kept as an earlier version if it completes
    # (`versions.py`), shown again if not.
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Versions: a regenerate or edit starts a new version at the message it changed. That
    # message's `fork` is the first version's first message (the group's root). The rows of a
    # version not shown are stashed under its first message; `upstream_state` there says where
    # the provider's conversation continues it (a Mistral restart makes one per version).
    fork = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="versions"
    )
    stash = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    upstream_state = models.JSONField(null=True, blank=True)
    # On the new reply of a regenerate or edit: the conversation's upstream pointers before it,
    # put back if the reply does not complete (a Mistral restart or an Orq edit re-points).
    undo = models.JSONField(null=True, blank=True)
    # A reply: the instructions, parameters and variables sent for it (what its provider took),
    # for the admin's transcript. None: sent with none (or before they were kept).
    produced_with = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    completed = models.DateTimeField(null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        # On PostgreSQL a GIN index on to_tsvector('simple', text) serves the admin's message
        # search (migration 0003); SQLite searches with LIKE.
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status="streaming"),
                name="one_streaming_reply_per_conversation",
            )
        ]
        indexes = [
            models.Index(
                fields=["lease_until"], condition=Q(status="streaming"), name="streaming_leases"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} #{self.pk}"

    @property
    def reasoning(self) -> str:
        return "".join(p.get("text", "") for p in self.parts if p.get("kind") == "reasoning")

    @property
    def tools(self) -> list[dict]:
        return [p for p in self.parts if p.get("kind") in SHOWN_PART_KINDS]

    @property
    def is_streaming(self) -> bool:
        return self.status == MessageStatus.STREAMING

    @property
    def files(self) -> list[dict]:
        """The files it was sent with (`attachments.part_of`), or an import's file parts."""
        return [p for p in self.parts if p.get("kind") == "file"]

    @property
    def continued(self) -> list[dict]:
        """Where the reply's text went on after it stopped at its length limit (oldest first)."""
        return [p for p in self.parts if p.get("kind") == "continued"]

    @property
    def stopped_at_length(self) -> bool:
        """It ended at the max tokens it was asked with. Mistral's stream has no finish reason:
        its last turn's completion tokens equal to max tokens is the sign."""
        limit = ((self.produced_with or {}).get("parameters") or {}).get("max_tokens")
        if not limit or self.status != MessageStatus.COMPLETE or self.usage_output is None:
            return False
        continued = self.continued
        before = continued[-1]["before"][1] if continued else 0
        return self.usage_output - before == limit

    @property
    def upstream_gone(self) -> dict | None:
        """Failed because the provider no longer had the conversation: the runner's marker."""
        return next((p for p in self.parts if p.get("kind") == "upstream_gone"), None)


class DailyUsage(models.Model):
    """Replies and tokens per day, user, provider, model and origin: kept as replies finish.

    The usage page reads these rows, never the messages. Tokens are what the provider reported;
    a reply it reported nothing for is counted with tokens estimated from its text (about four
    characters a token) and in `estimated_replies`, so the page can say how much is a guess.
    """

    day = models.DateField()
    # None for a widget's usage: it counts as the widget's, never a person's.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="usage_days",
    )
    provider = models.CharField(max_length=16, choices=provider_choices)
    model = models.CharField(max_length=200, help_text="The model, or the agent it ran as.")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.APP)
    widget = models.ForeignKey(
        "widgets.Widget", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    replies = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0, help_text="Failed or interrupted replies.")
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    estimated_replies = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "daily usage"
        permissions = [("export_dailyusage", "Can export usage")]
        constraints = [
            # Two partial constraints: a person's rows (no widget) are one per owner, a
            # widget's rows (no owner) one per widget. Neither includes the column that is NULL
            # in its rows: NULLs are distinct in a unique constraint (SQLite and PostgreSQL).
            models.UniqueConstraint(
                fields=["day", "owner", "provider", "model", "origin"],
                condition=Q(widget__isnull=True),
                name="one_usage_row",
            ),
            models.UniqueConstraint(
                fields=["day", "provider", "model", "origin", "widget"],
                condition=Q(widget__isnull=False),
                name="one_usage_row_per_widget",
            ),
        ]
        indexes = [models.Index(fields=["day"], name="usage_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.model}"


class Feedback(models.Model):
    """A person's thumb up or down on a reply, with an optional comment: one per reply and
    person (giving it again changes it). Administrators read it with the conversation."""

    class Rating(models.TextChoices):
        UP = "up", "Good reply"
        DOWN = "down", "Bad reply"

    # A reply only (conversations/feedback.py refuses a user's message).
    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        related_name="feedback",
        limit_choices_to={"role": Message.Role.ASSISTANT},
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback_given"
    )
    rating = models.CharField(max_length=8, choices=Rating.choices)
    # At most feedback.COMMENT_MAX_CHARS, said in words when longer (never cut silently).
    comment = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "feedback"
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="one_feedback_per_reply")
        ]
        indexes = [models.Index(fields=["-created", "-id"], name="feedback_newest")]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} on reply #{self.message_id}"


class UserSettings(models.Model):
    """A person's own settings for the team chat: made on their first save (until then, and
    for anyone without one, `conversations.user_settings` answers with the defaults)."""

    class Theme(models.TextChoices):
        SYSTEM = "system", _("Same as the system")
        LIGHT = "light", _("Light")
        DARK = "dark", _("Dark")

    class SendKey(models.TextChoices):
        ENTER = "enter", _("Enter sends, Shift+Enter adds a line")
        CTRL_ENTER = "ctrl-enter", _("Ctrl+Enter sends, Enter adds a line")

    class Language(models.TextChoices):
        # Each language in its own words: a person who cannot read this page finds theirs.
        BROWSER = "", _("The browser's language")
        ENGLISH = "en", "English"
        FRENCH = "fr", "Français"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webchat_settings"
    )
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.SYSTEM)
    # A `conversations.choices` value ("mistral:model:mistral-small-latest"), or "" for the
    # site's default. Checked when saved; one no longer offered falls back to the default.
    default_choice = models.CharField(max_length=300, blank=True)
    send_key = models.CharField(max_length=12, choices=SendKey.choices, default=SendKey.ENTER)
    language = models.CharField(
        max_length=8, choices=Language.choices, default=Language.BROWSER, blank=True
    )
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "user settings"
        verbose_name_plural = "user settings"

    def __str__(self) -> str:
        return f"Settings of user #{self.user_id}"

    @property
    def forced_theme(self) -> str:
        """ "light" or "dark" when chosen (the page's data-theme), "" to follow the system."""
        return self.theme if self.theme in (self.Theme.LIGHT, self.Theme.DARK) else ""


class Preset(models.Model):
    """A named start for a chat: a model or agent with its instructions and parameters.

    A person's own (`owner` set), or the team's (no owner), which administrators publish in the
    admin and everyone sees first in the new chat's picker.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="presets",
        help_text="Empty: a team preset, offered to everyone.",
    )
    name = models.CharField(max_length=80)
    provider = models.CharField(max_length=16, choices=provider_choices)
    # Exactly one of model / agent, as on a conversation.
    model = models.CharField(max_length=200, blank=True)
    agent = models.CharField(max_length=200, blank=True)
    instructions = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=Q(owner__isnull=False),
                name="one_preset_name_per_person",
            ),
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="one_team_preset_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from conversations.assistant_settings import check_record  # it reads these models

        check_record(self)

    @property
    def is_team(self) -> bool:
        return self.owner_id is None

    @property
    def choice_label(self) -> str:
        return str(_("agent %(name)s") % {"name": self.agent}) if self.agent else self.model


def attachment_path(attachment: Attachment, filename: str) -> str:
    # Never the uploader's name on disk (it is kept in `name`): a random one, by month.
    return timezone.now().strftime(f"attachments/%Y/%m/{uuid.uuid4().hex}")


class Attachment(models.Model):
    """A file a person attached to a message: uploaded first (no message yet), then sent with
    one. Stored through Django's storage API (the default storage); read only through the
    views that check who may (its owner; audited administrators; a provider's signed link)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    # Set when it is sent: the message and its conversation (deleted with them).
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=300)
    # The name it came with (shown, and given to the provider), cleaned of any path.
    name = models.CharField(max_length=255)
    # What its content is (sniffed: conversations/sniffing.py), whatever its name says.
    mime = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["owner", "created"],
                condition=Q(message__isnull=True),
                name="attachment_pending",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")
