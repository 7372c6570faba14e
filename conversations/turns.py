"""Which upstream call a turn is: the one place that knows how each provider continues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from conversations.choices import choice_of
from conversations.models import Conversation, Message
from upstream import clients
from upstream.errors import Rejected
from upstream.types import StreamEvent


@dataclass(frozen=True)
class Turn:
    text: str
    # Mistral: branch from this entry (edit, regenerate). Empty: continue at the end.
    from_entry_id: str = ""
    # Start a new upstream conversation with this turn (edit of the first message; Orq edits).
    fresh: bool = False


# Conversations continued from one another, followed back at most this far: a loop or a very
# long chain must not turn one message into unbounded work.
CONTINUATION_DEPTH = 20
# The earlier turns given to Mistral, at most: the latest ones of the chain.
HISTORY_MESSAGES = 400


@asynccontextmanager
async def open_turn(
    conversation: Conversation, turn: Turn
) -> AsyncIterator[AsyncIterator[StreamEvent]]:
    choice = choice_of(conversation)
    if choice is None:
        raise Rejected(
            f"{conversation.choice_label} on {conversation.get_provider_display()} is no longer "
            "offered here; start a new conversation.",
            provider=conversation.provider,
            status=400,
        )
    if conversation.provider == "orq":
        orq = clients.orq()
        if choice.kind == "agent":
            task_id = None if turn.fresh else conversation.turn_ref or None
            stream = orq.stream_agent_response(
                choice.name,
                text=turn.text,
                task_id=task_id,
                conversation_id=conversation.upstream_id or None,
            )
        else:
            stream = orq.stream_response(
                conversation.upstream_id,
                text=turn.text,
                model=choice.upstream,
                task_id=None if turn.fresh else conversation.turn_ref or None,
            )
    else:
        mistral = clients.mistral()
        if turn.fresh or not conversation.upstream_id:
            stream = mistral.stream_start(
                text=turn.text,
                model=choice.upstream if choice.kind == "model" else None,
                agent_id=choice.upstream if choice.kind == "agent" else None,
                history=await earlier_turns(conversation),
            )
        elif turn.from_entry_id:
            stream = mistral.stream_restart(
                conversation.upstream_id, from_entry_id=turn.from_entry_id, text=turn.text
            )
        else:
            stream = mistral.stream_append(conversation.upstream_id, text=turn.text)
    async with stream as events:
        yield events


async def earlier_turns(conversation: Conversation) -> tuple[tuple[str, str], ...]:
    """What a continuation remembers: the turns of the conversations it goes on from.

    Oldest first, as (role, text): a Mistral conversation that continues one the provider lost
    starts upstream with these as its first entries. Empty for any other conversation. Replies
    that came to nothing (a failed turn's empty reply) are left out; a message without a reply
    stays, as it was said.
    """
    chain: list[int] = []
    at = conversation.continued_from_id
    while at and at not in chain and at != conversation.pk and len(chain) < CONTINUATION_DEPTH:
        chain.append(at)
        at = (
            await Conversation.objects.filter(pk=at)
            .values_list("continued_from_id", flat=True)
            .afirst()
        )
    if not chain:
        return ()
    latest = (
        Message.objects.filter(conversation_id__in=chain)
        .exclude(text="")
        .order_by("-pk")
        .values_list("conversation_id", "pk", "role", "text")[:HISTORY_MESSAGES]
    )
    order = {pk: position for position, pk in enumerate(reversed(chain))}
    rows = sorted([(order[c], pk, role, text) async for c, pk, role, text in latest])
    return tuple((role, text) for _, _, role, text in rows)
