"""What a continuation remembers: the turns of the conversations it goes on from."""

from __future__ import annotations

from conversations.models import Conversation, Message

# Conversations continued from one another, followed back at most this far: a loop or a very
# long chain must not turn one message into unbounded work.
CONTINUATION_DEPTH = 20
# The earlier turns given to a provider that keeps them (Mistral), at most: the latest ones.
HISTORY_MESSAGES = 400


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
