"""Deleting conversations everywhere: at the provider first, then here, with a tombstone.

An upstream failure keeps our record (and says why), so nothing is lost that could still be
deleted later; an upstream 404 means it is gone already, which counts as deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import transaction

from administration.models import Tombstone
from administration.owners import owner_label
from conversations.models import Conversation
from upstream import clients
from upstream.errors import NotFound, UpstreamError

CONCURRENCY = 8  # upstream deletes in flight at once in a bulk delete


@dataclass(frozen=True)
class Outcome:
    """What became of one conversation. No title: outcomes are shown to operators, printed by
    cron and kept in the audit trail, all of which outlive the conversation (see Tombstone)."""

    conversation_id: int
    deleted: bool
    upstream: str  # "deleted", "already gone", "nothing upstream", or why it failed

    def __str__(self) -> str:
        state = "deleted" if self.deleted else "kept"
        return f"conversation #{self.conversation_id}: {state}; upstream {self.upstream}"


def delete_everywhere(conversations: Iterable[Conversation], *, reason: str) -> list[Outcome]:
    """Delete each conversation upstream, then here; one outcome per conversation, in order."""
    conversations = list(conversations)
    return clients.run(lambda: _delete_all(conversations, reason))


async def _delete_all(conversations: list[Conversation], reason: str) -> list[Outcome]:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(conversation: Conversation) -> Outcome:
        async with limit:
            upstream = await _delete_upstream(conversation)
        if upstream.startswith("failed"):
            return Outcome(conversation.pk, False, upstream)
        await sync_to_async(_delete_here)(conversation, reason, upstream)
        return Outcome(conversation.pk, True, upstream)

    return list(await asyncio.gather(*(one(c) for c in conversations)))


async def _delete_upstream(conversation: Conversation) -> str:
    ids = [i for i in (conversation.upstream_id, *conversation.superseded_upstream_ids) if i]
    if not ids:
        return "nothing upstream"
    client = clients.orq() if conversation.provider == "orq" else clients.mistral()
    gone = 0
    for upstream_id in ids:
        try:
            await client.delete_conversation(upstream_id)
        except NotFound:
            gone += 1
        except UpstreamError as exc:
            return f"failed: {exc.message}"
    return "already gone" if gone == len(ids) else "deleted"


def _delete_here(conversation: Conversation, reason: str, upstream: str) -> None:
    with transaction.atomic():
        Tombstone.objects.create(
            conversation_id=conversation.pk,
            owner_id=conversation.owner_id,  # none for a widget's: owner_name names the widget
            owner_name=owner_label(conversation),
            provider=conversation.provider,
            upstream_id=conversation.upstream_id,
            superseded_upstream_ids=conversation.superseded_upstream_ids,
            reason=reason,
            upstream_result=upstream,
        )
        Conversation.objects.filter(pk=conversation.pk).delete()
