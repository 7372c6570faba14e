"""What users do with conversations, as plain functions every entry point calls."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations.choices import Choice, choice_of
from conversations.models import TITLE_MAX_LENGTH, Conversation, Message, MessageStatus
from conversations.rendering import render_markdown, render_user_text
from conversations.turns import Turn
from upstream import clients
from upstream.errors import NotFound, UpstreamError


class Refused(Exception):
    """A user's request we will not carry out, with the message to show them."""


# --- reading ---------------------------------------------------------------------------------


async def conversation_for(user, pk) -> Conversation | None:
    """The conversation with this id if `user` owns it; views and the consumer both use this."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return await Conversation.objects.filter(owner=user, pk=pk).afirst()


@dataclass(frozen=True)
class SidebarPage:
    conversations: list[Conversation]
    next_cursor: str | None


def conversation_page(*, owner, query: str = "", cursor: str | None = None) -> SidebarPage:
    """One page of the sidebar, newest first, by keyset: constant work at any depth."""
    size = settings.WEBCHAT_PAGE_SIZE
    rows = Conversation.objects.filter(owner=owner).only(
        "id", "title", "provider", "model", "agent", "updated", "owner_id"
    )
    if query:
        rows = rows.filter(title__icontains=query)
    position = _parse_cursor(cursor)
    if position:
        updated, pk = position
        # A range on the (owner, updated) index, not an OR the planner cannot use.
        rows = rows.filter(updated__lte=updated).exclude(updated=updated, pk__gte=pk)
    page = list(rows.order_by("-updated", "-id")[: size + 1])
    more = len(page) > size
    page = page[:size]
    return SidebarPage(page, _cursor(page[-1]) if more else None)


def _cursor(conversation: Conversation) -> str:
    return f"{conversation.updated.timestamp():.6f}_{conversation.pk}"


def _parse_cursor(cursor: str | None):
    if not cursor:
        return None
    stamp, _, pk = cursor.partition("_")
    try:
        return datetime.fromtimestamp(float(stamp), tz=UTC), int(pk)
    except (ValueError, OverflowError):
        return None


# --- conversations ---------------------------------------------------------------------------


async def conversation_create(*, owner, choice: Choice, **fields) -> Conversation:
    """Orq conversations exist upstream from the start; Mistral's come with the first message.

    `fields`: more of the row (a widget's conversations: origin, widget, visitor, started_on).
    """
    conversation = Conversation(
        owner=owner,
        provider=choice.provider,
        model=choice.upstream if choice.kind == "model" else "",
        agent=choice.name if choice.kind == "agent" else "",
        **fields,
    )
    if choice.provider == "orq":
        upstream = await clients.orq().create_conversation(
            model=conversation.model or None,
            agent_id=choice.upstream if choice.kind == "agent" else None,
        )
        conversation.upstream_id = upstream.id
    await conversation.asave()
    return conversation


def clean_title(raw: str) -> str:
    title = " ".join((raw or "").split())
    if not title:
        raise Refused("A title cannot be empty.")
    if len(title) > TITLE_MAX_LENGTH:
        raise Refused(f"A title can be at most {TITLE_MAX_LENGTH} characters.")
    return title


async def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    """Orq keeps titles too, so it is renamed there first; Mistral has no titles to rename."""
    title = clean_title(title)
    if conversation.provider == "orq" and conversation.upstream_id:
        await clients.orq().rename_conversation(conversation.upstream_id, title=title)
    conversation.title = title
    conversation.titled = True
    await conversation.asave(update_fields=["title", "titled"])
    return conversation


async def conversation_delete(*, conversation: Conversation) -> None:
    """Upstream first (gone already counts as deleted), then ours; a failure keeps ours."""
    client = clients.orq() if conversation.provider == "orq" else clients.mistral()
    ids = [conversation.upstream_id, *conversation.superseded_upstream_ids]
    for upstream_id in filter(None, ids):
        try:
            await client.delete_conversation(upstream_id)
        except NotFound:
            pass
    await conversation.adelete()


async def conversation_set_title(*, conversation: Conversation, first_message: str) -> str | None:
    """After the first exchange: Orq names it upstream; for Mistral we make one locally."""
    if conversation.titled:
        return None
    title = ""
    if conversation.provider == "orq" and conversation.upstream_id:
        try:
            named = await clients.orq().generate_name(
                conversation.upstream_id, context=first_message[:2000]
            )
            title = named.title
        except UpstreamError:
            title = ""  # a title is a nicety: fall back to ours
    title = title or local_title(first_message)
    updated = await Conversation.objects.filter(pk=conversation.pk, titled=False).aupdate(
        title=title[:TITLE_MAX_LENGTH], titled=True
    )
    return title if updated else None


def local_title(text: str, *, words: int = 8) -> str:
    cleaned = " ".join(text.split())
    title = " ".join(cleaned.split(" ")[:words])
    if len(title) > 60:
        title = title[:59].rstrip() + "…"
    elif len(cleaned) > len(title):
        title += "…"
    return title or "New conversation"


async def conversation_import_history(*, conversation: Conversation) -> int:
    """A conversation known upstream but not here yet gets its messages from upstream."""
    if not conversation.upstream_id or await conversation.messages.aexists():
        return 0
    if conversation.provider == "orq":
        messages = (await clients.orq().get_conversation(conversation.upstream_id)).messages
    else:
        messages = await clients.mistral().history(conversation.upstream_id)
    return await _store_imported(conversation, messages)


@sync_to_async
def _store_imported(conversation: Conversation, messages) -> int:
    rows = []
    for message in messages:
        if message.role not in ("user", "assistant"):
            continue
        text = message.text
        rows.append(
            Message(
                conversation=conversation,
                role=message.role,
                text=text,
                html=render_user_text(text) if message.role == "user" else render_markdown(text),
                parts=[part_to_dict(p) for p in message.parts if p.kind != "text"],
                upstream_id=message.id,
                created=message.created or timezone.now(),
                completed=message.created or timezone.now(),
            )
        )
    with transaction.atomic():
        if conversation.messages.exists():
            return 0
        Message.objects.bulk_create(rows)
        refresh_counters(conversation.pk)
    return len(rows)


def part_to_dict(part) -> dict:
    """Our stored form of an upstream part (reasoning, tool calls, results, citations)."""
    match part.kind:
        case "reasoning":
            return {"kind": "reasoning", "text": part.text}
        case "tool_call":
            return {
                "kind": "tool_call",
                "id": part.call_id,
                "name": part.name,
                "arguments": part.arguments,
            }
        case "tool_result":
            return {"kind": "tool_result", "id": part.call_id, "result": part.result}
        case "citation":
            return {"kind": "citation", "title": part.title, "url": part.url, "source": part.source}
    return {"kind": "notice", "text": getattr(part, "text", "") or part.kind}


# --- counters --------------------------------------------------------------------------------


def counter_updates() -> dict:
    """UPDATE expressions that recount a conversation's messages, tokens and last reply status."""
    mine = Message.objects.filter(conversation=OuterRef("pk")).order_by().values("conversation")
    last = Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.ASSISTANT)
    return {
        "message_count": Coalesce(Subquery(mine.annotate(n=Count("id")).values("n")), Value(0)),
        "tokens_in": Coalesce(Subquery(mine.annotate(n=Sum("usage_input")).values("n")), Value(0)),
        "tokens_out": Coalesce(
            Subquery(mine.annotate(n=Sum("usage_output")).values("n")), Value(0)
        ),
        "last_status": Coalesce(Subquery(last.order_by("-id").values("status")[:1]), Value("")),
    }


def refresh_counters(conversation_id: int, **changes) -> None:
    """Recount one conversation (one UPDATE), together with any other `changes` to its row."""
    Conversation.objects.filter(pk=conversation_id).update(**counter_updates(), **changes)


# --- messages --------------------------------------------------------------------------------


def check_message(text: str) -> str:
    if not text or not text.strip():
        raise Refused("Write a message first.")
    limit = settings.WEBCHAT_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise Refused(
            f"That message is {len(text):,} characters; the limit is {limit:,}. "
            "Nothing was sent: shorten it and try again."
        )
    return text


def check_send_rate(user) -> None:
    """A fixed one-minute window per user, counted in the cache (Redis when configured)."""
    window = int(time.time() // 60)
    key = f"sends:{user.pk}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=120)
        count = 1
    if count > settings.WEBCHAT_SENDS_PER_MINUTE:
        raise Refused(
            f"You can send {settings.WEBCHAT_SENDS_PER_MINUTE} messages a minute. "
            "Wait a moment; your message is still in the box."
        )


check_send_rate_async = sync_to_async(check_send_rate)


@dataclass(frozen=True)
class Plan:
    """How to redo part of a conversation: the upstream turn, and our messages it replaces."""

    turn: Turn
    replace_from: Message | None


async def plan_regenerate(*, conversation: Conversation) -> Plan:
    """A new reply to the last user message (also how a failed reply is retried)."""
    last_user = await conversation.messages.filter(role=Message.Role.USER).alast()
    if last_user is None:
        raise Refused("There is nothing to regenerate yet.")
    old_reply = await conversation.messages.filter(
        role=Message.Role.ASSISTANT, pk__gt=last_user.pk
    ).afirst()
    if conversation.provider == "mistral":
        turn = await _branch_before(conversation, last_user, last_user.text)
    else:
        # Orq has no branching: the same question is asked again as a new turn.
        turn = Turn(text=last_user.text)
    return Plan(turn=turn, replace_from=old_reply)


async def plan_edit(*, conversation: Conversation, message_id, text: str) -> Plan:
    """Continue from an edited user message; what came after it is replaced."""
    try:
        message = await conversation.messages.aget(pk=int(message_id), role=Message.Role.USER)
    except (Message.DoesNotExist, TypeError, ValueError):
        raise Refused("That message is not in this conversation.") from None
    if await conversation.messages.filter(status=MessageStatus.STREAMING).aexists():
        # Checked before an Orq edit re-points the conversation upstream, not after.
        raise Refused("A reply is still being written. Stop it or wait for it to finish.")
    if conversation.provider == "mistral":
        return Plan(await _branch_before(conversation, message, text), replace_from=message)
    # Orq cannot branch: a new Orq conversation starts from the edited message, without the
    # turns before it (the page says so).
    choice = choice_of(conversation)
    if choice is None:
        raise Refused("This conversation's model is no longer offered here.")
    upstream = await clients.orq().create_conversation(
        model=conversation.model or None,
        agent_id=choice.upstream if choice.kind == "agent" else None,
    )
    old = conversation.upstream_id
    conversation.superseded_upstream_ids = [*conversation.superseded_upstream_ids, old]
    conversation.upstream_id = upstream.id
    conversation.turn_ref = ""
    await conversation.asave(update_fields=["superseded_upstream_ids", "upstream_id", "turn_ref"])
    return Plan(Turn(text=text, fresh=True), replace_from=message)


async def _branch_before(conversation: Conversation, message: Message, text: str) -> Turn:
    """Mistral: restart from the reply before `message`, or start afresh from the first."""
    previous = (
        await conversation.messages.filter(role=Message.Role.ASSISTANT, pk__lt=message.pk)
        .exclude(upstream_id="")
        .alast()
    )
    if previous is None:
        return Turn(text=text, fresh=True)
    return Turn(text=text, from_entry_id=previous.upstream_id)


@sync_to_async
def begin_turn(
    *, conversation: Conversation, text: str | None, replace_from: Message | None = None
) -> tuple[Message | None, Message]:
    """Save the user's message (unless regenerating) and an empty streaming reply, atomically.

    `replace_from`: the messages from this one on are replaced (edit and regenerate).
    """
    now = timezone.now()
    with transaction.atomic():
        if conversation.messages.filter(status=MessageStatus.STREAMING).exists():
            raise Refused("A reply is still being written. Stop it or wait for it to finish.")
        if replace_from is not None:
            conversation.messages.filter(pk__gte=replace_from.pk).delete()
        user_message = None
        if text is not None:
            user_message = Message.objects.create(
                conversation=conversation,
                role=Message.Role.USER,
                text=text,
                html=render_user_text(text),
                created=now,
            )
        try:
            reply = Message.objects.create(
                conversation=conversation,
                role=Message.Role.ASSISTANT,
                status=MessageStatus.STREAMING,
                # Leased from the start: if the runner never starts, the sweeper still ends it.
                lease_until=now + timedelta(seconds=settings.WEBCHAT_LEASE_SECONDS),
                model=conversation.model or conversation.agent,
                created=now,
            )
        except IntegrityError:
            raise Refused("A reply is still being written.") from None
        refresh_counters(conversation.pk, updated=now)
    return user_message, reply
