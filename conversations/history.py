"""What a new upstream conversation remembers: the earlier turns it goes on from."""

from __future__ import annotations

from conversations.models import Conversation, Message

# Conversations continued from one another, followed back at most this far: a loop or a very
# long chain must not turn one message into unbounded work.
CONTINUATION_DEPTH = 20
# The earlier turns given to a provider that keeps them (Mistral), at most: the latest ones.
HISTORY_MESSAGES = 400


async def earlier_turns(
    conversation: Conversation, *, fresh: bool = False
) -> tuple[tuple[str, str], ...]:
    """What a new upstream conversation is given to remember, oldest first, as (role, text).

    A Mistral turn that starts a new upstream conversation starts it with these as its first
    entries: the turns of the conversations this one continues (one the provider lost), then
    this one's own turns before the turn being started, when the provider has never had them
    (no upstream conversation yet: a copy of a shared conversation) or the turn starts afresh
    (`fresh`: a regenerate or an edit with no entry to restart from). Only what the pages show:
    neither versions put away nor turns a regenerate or an edit is replacing. Replies that came
    to nothing (a failed turn's empty reply) are left out; a message without a reply stays, as
    it was said.
    """
    turns = await _continued_turns(conversation)
    if fresh or not conversation.upstream_id:
        turns += await _own_turns(conversation)
    return turns[-HISTORY_MESSAGES:]


async def _continued_turns(conversation: Conversation) -> tuple[tuple[str, str], ...]:
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
        .shown()
        .exclude(text="")
        .order_by("-pk")
        .values_list("conversation_id", "pk", "role", "text")[:HISTORY_MESSAGES]
    )
    order = {pk: position for position, pk in enumerate(reversed(chain))}
    rows = sorted([(order[c], pk, role, text) async for c, pk, role, text in latest])
    return tuple((role, text) for _, _, role, text in rows)


async def _own_turns(conversation: Conversation) -> tuple[tuple[str, str], ...]:
    """The shown turns before the one being started. Its user message is the latest shown one
    (a send or an edit saved it, a regenerate asks it again); with none, there is no turn yet."""
    shown = Message.objects.filter(conversation_id=conversation.pk).shown()
    current = (
        await shown.filter(role=Message.Role.USER)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .afirst()
    )
    if current is None:
        return ()
    latest = (
        shown.filter(pk__lt=current)
        .exclude(text="")
        .order_by("-pk")
        .values_list("role", "text")[:HISTORY_MESSAGES]
    )
    return tuple(reversed([(role, text) async for role, text in latest]))
