"""The run of one reply: a task that owns it, from the upstream stream to its viewers.

The socket that asked for the reply only watches it: reloading, a second tab or a closed tab
change nothing here. The process keeps its replies in `registry`, saves them in batches and
renews their leases (`leases`), and answers other processes through its `inbox`.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import logging

from asgiref.sync import sync_to_async
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from conversations import failures, inbox, leases, registry, services, usage, versions
from conversations.assistant_settings import started_with
from conversations.message_view import final_frames
from conversations.models import Conversation, Message, MessageStatus
from conversations.publisher import Publisher
from conversations.registry import LiveReply
from conversations.rendering import StreamingRenderer, render_markdown
from conversations.turns import Turn, open_turn
from upstream.errors import NotFound, UpstreamError
from upstream.types import (
    ApprovalRequired,
    Citation,
    Done,
    Failed,
    Handoff,
    PartDone,
    ReasoningDelta,
    Started,
    TextDelta,
    TextPart,
    ToolArgsDelta,
    ToolDone,
    ToolFailed,
    ToolStarted,
)

log = logging.getLogger(__name__)

# Seconds between two renders of a streaming reply's open block (the bound).
OPEN_EVERY = 0.1


async def start(*, conversation: Conversation, reply: Message, turn: Turn) -> asyncio.Task:
    loop = asyncio.get_running_loop()
    live = LiveReply(message_id=reply.pk, conversation_id=conversation.pk)
    live.lease_renewed = loop.time()
    if turn.continues:
        _resume(live, reply)
    if turn.reseeded_because:
        live.parts.append(
            {"kind": "notice", "text": services.reseed_notice(conversation, turn.reseeded_because)}
        )
    registry.enter(live)
    # The runner's address is this process's inbox: others send stops and snapshot requests.
    await Message.objects.filter(pk=reply.pk).aupdate(
        runner=await inbox.address(), lease_until=timezone.now() + leases.lease()
    )
    # A reply outlives the request or socket that asked for it, so it must not run in that
    # one's context: asgiref binds sync_to_async there to the request's thread, which is gone
    # once the response is sent ("CurrentThreadExecutor already quit").
    # Its words and HTML are in the language of the person who asked (their settings, their
    # browser's, or the widget's), which that fresh context would not have.
    live.language = translation.get_language()
    task = loop.create_task(
        _in_language(live.language, _run(live, conversation, reply, turn)),
        name=f"reply-{reply.pk}",
        context=contextvars.Context(),
    )
    registry.track(reply.pk, task)
    return task


def _resume(live: LiveReply, reply: Message) -> None:
    """A reply continued after its length limit streams on from what it said."""
    live.seq = live.saved_seq = reply.seq
    live.text = [reply.text] if reply.text else []
    # The continuation's reasoning reads as a paragraph of its own.
    live.reasoning = [reply.reasoning + "\n\n"] if reply.reasoning else []
    live.parts = [p for p in reply.parts if p.get("kind") != "reasoning"]
    live.upstream_message_id = reply.upstream_id
    update = live.renderer.feed(reply.text)
    live.closed_html = [update.closed_html] if update.closed_html else []


async def _in_language(language: str | None, run) -> None:
    with translation.override(language):
        await run


async def _run(live: LiveReply, conversation: Conversation, reply: Message, turn: Turn) -> None:
    publisher = live.publisher = Publisher(conversation.pk, live.message_id)
    status, error, detail = MessageStatus.COMPLETE, "", ""
    cancelled = False
    try:
        async with open_turn(conversation, turn) as events:
            async for event in events:
                piece = await _apply(live, conversation, event)
                if piece:
                    if "text" in piece:
                        _show_open(live, piece)
                    publisher.push(piece)
        if live.failure:
            status, error, detail = MessageStatus.FAILED, live.failure, live.failure_detail
    except asyncio.CancelledError:
        if live.stop_requested and not live.shutting_down:
            status = MessageStatus.STOPPED
        else:
            # Cancelled by a server that is stopping (or by anything but a stop): the text so
            # far is saved below, and the reply says why it ends here.
            cancelled = not live.shutting_down
            status, error = MessageStatus.INTERRUPTED, leases.INTERRUPTED_MESSAGE
    except UpstreamError as exc:
        explained = _explain(exc, live)
        status, error, detail = MessageStatus.FAILED, explained.message, explained.detail
        log.info("reply %s failed: %s", live.message_id, explained.detail)
        if isinstance(exc, NotFound) and await services.conversation_check_gone(
            conversation=conversation
        ):
            # No Retry can help: the reply offers to continue in a new conversation instead.
            error = services.gone_message(conversation)
            live.parts.append(services.gone_marker(conversation))
    except Exception as exc:
        log.exception("reply %s failed", live.message_id)
        status, error = MessageStatus.FAILED, gettext("Something went wrong on our side.")
        detail = f"{type(exc).__name__}: {exc}"
    live.finishing = True
    if live.open_timer is not None:
        live.open_timer.cancel()  # the final frame shows the reply exactly
    try:
        await _finish(live, conversation, reply, status, error, detail, publisher)
    finally:
        publisher.close()
        if cancelled:
            raise asyncio.CancelledError


def _show_open(live: LiveReply, piece: dict) -> None:
    """The open block, formatted provisionally, with this piece or (within OPEN_EVERY of the
    last time) with a later one: at most ten renders a second whatever the rate of tokens.
    When the tokens pause, a frame of its own shows the last state."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    if now >= live.open_due:
        live.open_due = now + OPEN_EVERY
        if live.open_timer is not None:
            live.open_timer.cancel()
            live.open_timer = None
        update = live.renderer.provisional()
        if update is not None:
            piece["open"] = update
    elif live.open_timer is None:
        # Only if no token comes to carry it: a frame of its own costs as much as a token's.
        live.open_timer = loop.call_at(live.open_due + OPEN_EVERY, _show_open_later, live)


def _show_open_later(live: LiveReply) -> None:
    live.open_timer = None
    if live.finishing or live.publisher is None:
        return
    live.open_due = asyncio.get_running_loop().time() + OPEN_EVERY
    update = live.renderer.provisional()
    if update is not None:
        live.seq += 1
        live.publisher.push({"seq": live.seq, "open": update})


def _explain(exc: UpstreamError, live: LiveReply) -> failures.Explained:
    return failures.explain(exc, words=len(live.full_text.split()))


async def _apply(live: LiveReply, conversation: Conversation, event) -> dict | None:
    """Fold one event into the live reply; return what changed for the viewers, if anything."""
    match event:
        case TextDelta(part_id=part_id, text=text):
            live.seq += 1
            live.text.append(text)
            if conversation.adapter.capabilities.can_branch:
                # The reply's entry id: where a later restart can branch from.
                live.upstream_message_id = part_id
            update = live.renderer.feed(text)
            if update.reset:
                live.closed_html.append(update.closed_html)
            return {
                "seq": live.seq,
                "html": update.closed_html,
                "text": update.tail,
                "reset": update.reset,
            }
        case ReasoningDelta(text=text):
            live.seq += 1
            live.reasoning.append(text)
            return {"seq": live.seq, "reasoning": text}
        case Started():
            live.model = event.model or live.model
            await _record_start(live, conversation, event)
            return None
        case ToolStarted(call_id=call_id, name=name, arguments=arguments):
            live.parts.append(
                {"kind": "tool_call", "id": call_id, "name": name, "arguments": arguments}
            )
        case ToolArgsDelta():
            return None
        case ToolDone(call_id=call_id, result=result):
            live.parts.append({"kind": "tool_result", "id": call_id, "result": result})
        case ToolFailed(call_id=call_id, error=err):
            live.parts.append({"kind": "tool_result", "id": call_id, "error": err})
        case ApprovalRequired(name=name):
            notice = gettext("The tool %(name)s asks for approval.") % {"name": name}
            live.parts.append({"kind": "notice", "text": notice})
        case Citation(title=title, url=url, source=source):
            live.parts.append({"kind": "citation", "title": title, "url": url, "source": source})
        case Handoff(from_agent=from_agent, to_agent=to_agent):
            text = f"Handed over to {to_agent}" if to_agent else f"{from_agent} hands over"
            live.parts.append({"kind": "notice", "text": text})
        case PartDone(part=TextPart(text=final)) if final != live.full_text and live.text:
            # The provider's complete text wins over what the deltas added up to.
            live.seq += 1
            live.text = [final]
            live.renderer = StreamingRenderer()
            update = live.renderer.feed(final)
            live.closed_html = [update.closed_html] if update.closed_html else []
            return {"seq": live.seq, "snapshot": True}
        case PartDone():
            return None
        case Done(usage=usage, model=model):
            if usage is not None:
                live.usage = (usage.input, usage.output, usage.total)
            live.model = model or live.model
            return None
        case Failed(message=message, code=code):
            explained = failures.explain_provider_error(conversation.provider, message, code)
            live.failure, live.failure_detail = explained.message, explained.detail
            return None
        case _:
            return None
    live.seq += 1
    return {"seq": live.seq, "tools": True}


async def _record_start(live: LiveReply, conversation: Conversation, event: Started) -> None:
    changes: dict = {}
    if event.conversation_id and event.conversation_id != conversation.upstream_id:
        if conversation.upstream_id:
            conversation.superseded_upstream_ids = [
                *conversation.superseded_upstream_ids,
                conversation.upstream_id,
            ]
            changes["superseded_upstream_ids"] = conversation.superseded_upstream_ids
        conversation.upstream_id = changes["upstream_id"] = event.conversation_id
        # A new upstream conversation runs with what it was started (or branched) with.
        conversation.upstream_settings = changes["upstream_settings"] = started_with(conversation)
    if event.turn_ref and event.turn_ref != conversation.turn_ref:
        conversation.turn_ref = changes["turn_ref"] = event.turn_ref
    if event.assistant_message_id:
        live.upstream_message_id = event.assistant_message_id
    if changes:
        await Conversation.objects.filter(pk=conversation.pk).aupdate(**changes)


async def _finish(
    live: LiveReply,
    conversation: Conversation,
    reply: Message,
    status: str,
    error: str,
    detail: str,
    publisher: Publisher,
) -> None:
    text = live.full_text
    usage = live.usage or (None, None, None)
    if continued := reply.continued:
        # A continued reply costs what it had, and this turn.
        before = continued[-1]["before"]
        usage = tuple(map(sum, zip(before, live.usage, strict=True))) if live.usage else before
    fields = dict(
        text=text,
        html=render_markdown(text),
        parts=live.saved_parts(),
        seq=live.seq,
        status=status,
        error=error,
        error_detail=detail,
        upstream_id=live.upstream_message_id,
        # What answered, as reported; else what was asked for (an agent's model is its own).
        model=live.model or conversation.model,
        usage_input=usage[0],
        usage_output=usage[1],
        usage_total=usage[2],
        lease_until=None,
        completed=timezone.now(),
    )
    message = _final_row(reply, conversation, fields)
    settled = await sync_to_async(_write_finish)(message, fields)
    if settled is None:
        return  # deleted meanwhile, or already marked interrupted by a sweeper
    restored, pagers = settled
    await publisher.flush()
    for frame in final_frames(message, restored, seq=live.seq, pagers=pagers):
        await publisher.send(frame)
    if status == MessageStatus.COMPLETE and not conversation.titled:
        first = (
            await conversation.messages.shown()
            .filter(role=Message.Role.USER)
            .order_by("id")
            .afirst()
        )
        if first is not None:
            title = await services.conversation_set_title(
                conversation=conversation, first_message=first.text
            )
            if title:
                conversation.title = title
                await publisher.send(
                    {
                        "type": "title",
                        "id": conversation.pk,
                        "title": title,
                        "html": render_to_string(
                            "conversations/index.html#conversation-row",
                            {"conversation": conversation},
                        ),
                    }
                )


def _final_row(reply: Message, conversation: Conversation, fields: dict) -> Message:
    """The reply as its final UPDATE leaves it: the row begun with the turn, plus `fields`.

    Built, not read back: the runner knows everything it writes, and the row's other fields
    (role, undo, created) do not change while it streams.
    """
    message = copy.copy(reply)  # the caller's instance stays as it was
    for name, value in fields.items():
        setattr(message, name, value)
    message.conversation = conversation  # for the usage row and the final frame's label
    return message


def _write_finish(message: Message, fields: dict) -> tuple[list[Message], dict] | None:
    """The reply's final row, its conversation's counters, the day's usage and what it
    replaced, in one transaction (and one thread hop); None if the row was no longer
    streaming (deleted, or marked interrupted by a sweeper). Returns the messages shown again,
    and the pagers of a new version (a regenerate or edit that completed)."""
    with transaction.atomic():
        if not Message.objects.filter(pk=message.pk, status=MessageStatus.STREAMING).update(
            **fields
        ):
            return None
        restored = services.settle_replaced(message)
        services.refresh_counters(message.conversation_id, updated=fields["completed"])
        usage.record_reply(message, message.conversation)
        pagers = {}
        if message.undo is not None and fields["status"] == MessageStatus.COMPLETE:
            # The new version's first message: the edited one, or this reply.
            first = Message.objects.filter(pk=message.undo.get("first") or message.pk).first()
            pager = versions.pagers([first]).get(first.pk) if first is not None else None
            if pager is not None:
                pagers[first.pk] = (first, pager)
    return restored, pagers
