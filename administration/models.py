"""What administrators did and what was deleted: records nobody edits."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    VIEW_TRANSCRIPT = "view_transcript", "Read a transcript"
    ADD = "add", "Added"
    CHANGE = "change", "Changed"
    DELETE = "delete", "Deleted"
    EXPORT = "export", "Exported"
    IMPORT = "import", "Imported"
    PURGE = "purge", "Purged (retention)"
    USER_EXPORT = "user_export", "Exported a user's data"
    USER_ERASE = "user_erase", "Erased a user's data"
    # Shared links (sharing/): made, read (by a member or an anonymous reader), copied into
    # the reader's own chats, revoked.
    SHARE_CREATE = "share_create", "Shared a conversation"
    SHARE_VIEW = "share_view", "Read a shared conversation"
    SHARE_COPY = "share_copy", "Copied a shared conversation"
    SHARE_REVOKE = "share_revoke", "Revoked a shared link"
    # Attachments: opened by an administrator (from a transcript), or fetched by a provider
    # through its short-lived signed link (a Mistral document).
    FILE_VIEW = "file_view", "Opened an attached file"
    FILE_LINK = "file_link", "A provider fetched an attached file"


class AuditEntry(models.Model):
    """One thing an administrator (or a scheduled job) did. Written once, never changed."""

    created = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too: the entry outlives the account (and says "cron" for a job).
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    summary = models.TextField()
    address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "audit trail"

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} {self.actor_name}: {self.summary}"


class Tombstone(models.Model):
    """A conversation deleted by its owner, an administrator, a retention purge or an erasure.

    What the retention rule keeps of a deleted conversation, and nothing more: that it existed,
    whose it was, where upstream (to prove or retry the delete there), why and when it went.
    Nothing of what it was about: no title, no text (operators read tombstones).
    """

    conversation_id = models.BigIntegerField(db_index=True, help_text="Our id, now gone.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_name = models.CharField(max_length=150)
    provider = models.CharField(max_length=16)
    upstream_id = models.CharField(max_length=100, blank=True)
    superseded_upstream_ids = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=32)
    upstream_result = models.CharField(max_length=300)
    deleted = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-deleted", "-id"]

    def __str__(self) -> str:
        return f"conversation {self.conversation_id} ({self.reason}, {self.deleted:%Y-%m-%d})"
