"""Open the upstream call a turn is: the provider's adapter knows how it continues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from conversations.choices import choice_of
from conversations.history import CONTINUATION_DEPTH, HISTORY_MESSAGES, earlier_turns
from conversations.models import Conversation
from conversations.providers import Turn, provider_for
from upstream.errors import Rejected
from upstream.types import StreamEvent


@asynccontextmanager
async def open_turn(
    conversation: Conversation, turn: Turn
) -> AsyncIterator[AsyncIterator[StreamEvent]]:
    choice = choice_of(conversation)
    if choice is None:
        raise Rejected(
            f"{conversation.choice_label} on {conversation.provider_label} is no longer "
            "offered here; start a new conversation.",
            provider=conversation.provider,
            status=400,
        )
    stream = await provider_for(conversation).stream(conversation, choice, turn)
    async with stream as events:
        yield events


__all__ = ["CONTINUATION_DEPTH", "HISTORY_MESSAGES", "Turn", "earlier_turns", "open_turn"]
