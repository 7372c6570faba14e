"""Deleting conversations: the one action behind the sidebar, admin, retention, erasure and Trash.

Upstream first, every id the conversation has had there (`upstream_id` and
`superseded_upstream_ids`); an upstream 404 means it is gone already, which counts as deleted.
An upstream failure keeps our record and says why, so nothing is lost that could still be
deleted later. Then ours, in one transaction with what is kept of it.

What is kept (a tombstone and an audit row, whatever the reason) is written by the record
keeper the administration app hands over when it is ready (`keep_record_with`): this app may
not import administration (tests/test_layers.py), and no path may delete without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest

from conversations.models import Conversation
from upstream import clients
from upstream.errors import NotFound, UpstreamError

CONCURRENCY = 8  # upstream deletes in flight at once in a bulk delete


class Reason(StrEnum):
    USER = "user"  # its owner, from the sidebar
    ADMIN = "admin"  # an administrator, from the admin
    RETENTION = "retention"  # the retention policy (purge_expired, or its admin page)
    ERASURE = "erasure"  # one person's data erased
    TRASH = "trash"  # WEBCHAT_TRASH_DAYS after its owner moved it to Trash (conversations/trash.py)


@dataclass(frozen=True)
class Outcome:
    """What became of one conversation. No title: outcomes are shown to operators, printed by
    cron and kept in the audit trail, all of which outlive the conversation (see Tombstone)."""

    conversation_id: int
    deleted: bool
    upstream: str  # "deleted", "already gone", "nothing upstream", or why it failed
    error: UpstreamError | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        state = "deleted" if self.deleted else "kept"
        return f"conversation #{self.conversation_id}: {state}; upstream {self.upstream}"


@dataclass(frozen=True)
class Deletion:
    """One delete, as the record keeper is told of it (deleted or kept)."""

    conversation: Conversation
    outcome: Outcome
    reason: Reason
    request: HttpRequest | None  # where it was asked from (the audit row's address)
    actor: object | None  # who asked; none: a job (retention from the command line)


# Writes the tombstone (when deleted) and the audit row. Called inside the transaction that
# deletes ours, so neither exists without the other.
RecordKeeper = Callable[[Deletion], None]
_record_keeper: RecordKeeper | None = None


def keep_record_with(keeper: RecordKeeper) -> None:
    """The administration app hands over how deletions are kept (administration/apps.py)."""
    global _record_keeper
    _record_keeper = keeper


def _keeper() -> RecordKeeper:
    if _record_keeper is None:
        raise ImproperlyConfigured(
            "Deleting a conversation needs the administration app (its tombstones) installed."
        )
    return _record_keeper


def delete_everywhere(
    conversations: Iterable[Conversation],
    *,
    reason: Reason | str,
    request: HttpRequest | None = None,
    actor=None,
) -> list[Outcome]:
    """Delete each conversation upstream, then here; one outcome per conversation, in order.

    For sync callers (the admin, retention, erasure). `actor` defaults to the request's user.
    """
    conversations = list(conversations)
    if actor is None and request is not None:
        actor = request.user
    return clients.run(lambda: adelete_everywhere(conversations, reason, request, actor))


async def adelete_everywhere(
    conversations: list[Conversation],
    reason: Reason | str,
    request: HttpRequest | None,
    actor,
) -> list[Outcome]:
    """The same, for async callers (the sidebar); `actor` is not looked up from the request."""
    keeper, reason = _keeper(), Reason(reason)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(conversation: Conversation) -> Outcome:
        async with limit:
            outcome = await _delete_upstream(conversation)
        deletion = Deletion(conversation, outcome, reason, request, actor)
        await sync_to_async(_delete_here)(deletion, keeper)
        return outcome

    return list(await asyncio.gather(*(one(c) for c in conversations)))


async def discard(conversation: Conversation) -> None:
    """Take back a conversation just made and never used (its first message was refused):
    at the provider, then ours. Nobody deleted it, so nothing is kept of it (no tombstone, no
    audit row). An upstream failure raises and keeps ours.
    """
    outcome = await _delete_upstream(conversation)
    if outcome.error is not None:
        raise outcome.error
    await conversation.adelete()


async def _delete_upstream(conversation: Conversation) -> Outcome:
    ids = [i for i in (conversation.upstream_id, *conversation.superseded_upstream_ids) if i]
    if not ids:
        return Outcome(conversation.pk, True, "nothing upstream")
    client = conversation.adapter.client()
    gone = 0
    for upstream_id in ids:
        try:
            await client.delete_conversation(upstream_id)
        except NotFound:
            gone += 1
        except UpstreamError as exc:
            return Outcome(conversation.pk, False, f"failed: {exc.message}", exc)
    return Outcome(conversation.pk, True, "already gone" if gone == len(ids) else "deleted")


def _delete_here(deletion: Deletion, keeper: RecordKeeper) -> None:
    if not deletion.outcome.deleted:
        keeper(deletion)  # kept: the audit row says why
        return
    with transaction.atomic():
        # Two deletes of one conversation at once (the Trash emptied by two processes, or by
        # cron beside the server) keep one tombstone: the row is locked (on SQLite the write
        # transaction is), and the second finds it gone.
        ours = Conversation.objects.select_for_update().filter(pk=deletion.conversation.pk)
        if not ours.exists():
            return
        keeper(deletion)
        ours.delete()
