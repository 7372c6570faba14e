"""Shared links to a conversation, and the conversations people made from one."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy


def new_token() -> str:
    # 192 random bits: the link is the only secret between its owner and its readers.
    return secrets.token_urlsafe(24)


class Share(models.Model):
    """A read-only link to a conversation as it was when it was shared.

    `message_ids` is that moment: the messages shown then, in order. The shared page shows
    exactly these, whatever happens later (more messages, another version shown, an edit), and
    nothing else of the conversation.
    """

    class Audience(models.TextChoices):
        MEMBERS = "members", gettext_lazy("Signed-in members")
        ANYONE = "anyone", gettext_lazy("Anyone with the link")

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="shares"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares_made"
    )
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    message_ids = models.JSONField(default=list, blank=True)
    # "anyone" reads without signing in only while WEBCHAT_PUBLIC_SHARES allows it.
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.MEMBERS)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    views = models.PositiveIntegerField(default=0)
    last_viewed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["conversation", "-created"], name="share_conversation")]

    def __str__(self) -> str:
        # No title: the admin and the audit trail name a share by its number.
        return f"shared link #{self.pk} to conversation #{self.conversation_id}"

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    @property
    def valid(self) -> bool:
        """Not revoked and not expired: the link opens."""
        return self.revoked is None and not self.expired

    @property
    def public(self) -> bool:
        """Readable without signing in: made for anyone, and public links are allowed here."""
        return self.audience == self.Audience.ANYONE and settings.WEBCHAT_PUBLIC_SHARES


class SharedCopy(models.Model):
    """A conversation of its own that a reader made from a shared link ("Continue in my
    chats"): its first messages are copies of the snapshot's. Its page says what the assistant
    remembers of them, which depends on the provider."""

    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="shared_copy"
    )
    # Revoked, or gone with the conversation it was made from: the copy stays its reader's.
    share = models.ForeignKey(
        Share, null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    messages = models.PositiveIntegerField(default=0, help_text="Messages copied.")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "shared copies"

    def __str__(self) -> str:
        return f"copy #{self.conversation_id} of shared link #{self.share_id}"
