"""The retention policy: conversations idle longer than it allows are purged, upstream first."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q, QuerySet
from django.utils import timezone

from administration import audit
from administration.models import AuditAction
from administration.owners import owner_label
from conversations import deletion
from conversations.models import Conversation, MessageStatus, Origin


@dataclass(frozen=True)
class Policy:
    default_days: int  # 0: kept for ever
    by_origin: dict[str, int]

    @classmethod
    def from_settings(cls) -> Policy:
        unknown = set(settings.WEBCHAT_RETENTION_BY_ORIGIN) - set(Origin.values)
        if unknown:
            raise ImproperlyConfigured(
                f"WEBCHAT_RETENTION_BY_ORIGIN names unknown origins: {', '.join(sorted(unknown))}"
                f" (known: {', '.join(Origin.values)})"
            )
        return cls(settings.WEBCHAT_RETENTION_DAYS, dict(settings.WEBCHAT_RETENTION_BY_ORIGIN))

    def days_for(self, origin: str) -> int:
        return self.by_origin.get(origin, self.default_days)

    def describe(self) -> str:
        parts = [f"{origin}: {self._days(self.days_for(origin))}" for origin in Origin.values]
        return "; ".join(parts)

    @staticmethod
    def _days(days: int) -> str:
        return f"{days} days idle" if days else "kept for ever"


def expired(policy: Policy, now: datetime.datetime | None = None) -> QuerySet:
    """Conversations idle past their origin's limit, without a reply being written right now."""
    now = now or timezone.now()
    idle = Q(pk__in=[])
    for origin in Origin.values:
        days = policy.days_for(origin)
        if days:
            idle |= Q(origin=origin, updated__lt=now - datetime.timedelta(days=days))
    streaming = Conversation.objects.filter(messages__status=MessageStatus.STREAMING)
    return (
        Conversation.objects.filter(idle)
        .exclude(pk__in=streaming.values("pk"))
        .select_related("owner", "widget")
        .order_by("updated", "id")
    )


def describe(conversation: Conversation) -> str:
    # No title: operators run retention and must not read what conversations are about.
    return (
        f"conversation #{conversation.pk} ({conversation.provider}, {conversation.origin}, "
        f"owner {owner_label(conversation)}, idle since {conversation.updated:%Y-%m-%d})"
    )


def purge(*, request=None, batch: int = 200) -> list[deletion.Outcome]:
    """Delete what the policy says has expired; each run picks up what the last one could not.

    Safe to run twice or concurrently with itself: a conversation already gone is not found,
    one whose upstream delete failed stays and is tried again next time.
    """
    policy = Policy.from_settings()
    candidates = expired(policy)
    outcomes: list[deletion.Outcome] = []
    last_id = 0
    # Batches by id, so memory stays flat and a failed item does not stop the rest.
    while True:
        chunk = list(candidates.filter(pk__gt=last_id).order_by("pk")[:batch])
        if not chunk:
            break
        last_id = chunk[-1].pk
        outcomes += deletion.delete_everywhere(
            chunk, reason=deletion.Reason.RETENTION, request=request
        )
    deleted = sum(o.deleted for o in outcomes)
    audit.record(
        AuditAction.PURGE,
        f"Retention purge: {deleted} deleted, {len(outcomes) - deleted} kept ({policy.describe()})",
        request=request,
        detail={
            "deleted": [o.conversation_id for o in outcomes if o.deleted],
            "kept": {str(o.conversation_id): o.upstream for o in outcomes if not o.deleted},
        },
    )
    return outcomes
