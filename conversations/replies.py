"""The reply runner: a task that owns a streaming reply, from upstream stream to channel group.

The socket that asked for the reply only watches it: reloading, a second tab or a closed tab
change nothing here. Text is saved about once a second (one UPDATE) and at the end; every save
renews the reply's lease, so a process that dies leaves a reply others can mark interrupted.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import weakref
from dataclasses import dataclass, field
from datetime import timedelta

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from conversations import failures, fanout, services, usage
from conversations.labels import model_label
from conversations.models import Conversation, Message, MessageStatus
from conversations.rendering import StreamingRenderer, render_markdown, snapshot_html
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


@dataclass
class LiveReply:
    """A reply as it streams: what a late joiner needs, kept in this process's memory."""

    message_id: int
    conversation_id: int
    seq: int = 0
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    parts: list[dict] = field(default_factory=list)
    closed_html: list[str] = field(default_factory=list)
    renderer: StreamingRenderer = field(default_factory=StreamingRenderer)
    upstream_message_id: str = ""
    model: str = ""  # as the provider reported it in the stream
    usage: tuple[int, int, int] | None = None
    failure: str = ""
    failure_detail: str = ""
    stop_requested: bool = False
    shutting_down: bool = False  # the server is stopping: cancelled means interrupted
    finishing: bool = False  # the runner writes the final row: the saver keeps off
    saved_seq: int = 0
    lease_renewed: float = 0.0  # loop time of the last renewal
    publisher: Publisher | None = None

    @property
    def full_text(self) -> str:
        return "".join(self.text)


_live: dict[int, LiveReply] = {}
_tasks: dict[int, asyncio.Task] = {}


def live_reply(message_id: int) -> LiveReply | None:
    return _live.get(message_id)


async def start(*, conversation: Conversation, reply: Message, turn: Turn) -> asyncio.Task:
    loop = asyncio.get_running_loop()
    live = LiveReply(message_id=reply.pk, conversation_id=conversation.pk)
    live.lease_renewed = loop.time()
    _live[reply.pk] = live
    # The runner's address is this process's inbox: others send stops and snapshot requests.
    await Message.objects.filter(pk=reply.pk).aupdate(
        runner=await inbox(), lease_until=timezone.now() + _lease()
    )
    # A reply outlives the request or socket that asked for it, so it must not run in that
    # one's context: asgiref binds sync_to_async there to the request's thread, which is gone
    # once the response is sent ("CurrentThreadExecutor already quit").
    task = loop.create_task(
        _run(live, conversation, turn), name=f"reply-{reply.pk}", context=contextvars.Context()
    )
    _tasks[reply.pk] = task

    def forget(_task: asyncio.Task) -> None:
        _tasks.pop(reply.pk, None)
        _live.pop(reply.pk, None)

    task.add_done_callback(forget)
    return task


async def stop(conversation: Conversation) -> bool:
    """Stop the conversation's streaming reply, wherever it runs; True if there was one."""
    reply = await conversation.messages.filter(status=MessageStatus.STREAMING).afirst()
    if reply is None:
        return False
    if not _stop_here(reply.pk):
        # Another process runs it: a message to its inbox stops it at once, and the flag
        # (seen at its next save) covers a lost message.
        await Message.objects.filter(pk=reply.pk).aupdate(stop_requested=True)
        if reply.runner:
            await get_channel_layer().send(reply.runner, {"type": "reply.stop", "id": reply.pk})
    return True


def running_here() -> list[asyncio.Task]:
    """The reply tasks of this event loop."""
    loop = asyncio.get_running_loop()
    return [task for task in _tasks.values() if task.get_loop() is loop]


def interrupt_all_here() -> list[asyncio.Task]:
    """Cancel every reply of this loop as interrupted (the server stops); they save first."""
    tasks = running_here()
    for message_id, task in list(_tasks.items()):
        live = _live.get(message_id)
        # One already writing its final row is left to finish: a cancel there would cut the
        # save short (asgiref cancels the database call it is waiting for).
        if task in tasks and live is not None and not live.stop_requested and not live.finishing:
            # Marked as a stop, so that nothing cancels it a second time mid-save.
            live.shutting_down = live.stop_requested = True
            task.cancel()
    return tasks


def _stop_here(message_id: int) -> bool:
    task = _tasks.get(message_id)
    if task is None:
        return False
    if _live[message_id].stop_requested or _live[message_id].finishing:
        return True  # stopping or saving already: a cancel now would cut the final save short
    _live[message_id].stop_requested = True
    task.cancel()
    return True


# --- this process's inbox: stops and snapshot requests for the replies it runs -------------

_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, str] = weakref.WeakKeyDictionary()
_background: set[asyncio.Task] = set()


async def inbox() -> str:
    """The channel other processes reach this one's runners on (one per event loop)."""
    loop = asyncio.get_running_loop()
    name = _inboxes.get(loop)
    if name is None:
        layer = get_channel_layer()
        # The default prefix matters: channels-redis receives all of a process's channels that
        # share one prefix with one BRPOP; another prefix would take turns with the sockets.
        name = _inboxes[loop] = await layer.new_channel()
        for work, task_name in (
            (_listen(layer, name), "replies-inbox"),
            (_sweep(), "replies-sweeper"),
            (_save_periodically(), "replies-saver"),
        ):
            _keep(loop.create_task(work, name=task_name, context=contextvars.Context()))
    return name


def _keep(task: asyncio.Task) -> None:
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _listen(layer, name: str) -> None:
    while True:
        try:
            message = await layer.receive(name)
            match message.get("type"):
                case "reply.stop":
                    _stop_here(message["id"])
                case "reply.snapshot":
                    await _answer_snapshot(layer, message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replies inbox: a message could not be handled")
            await asyncio.sleep(0.5)


async def _answer_snapshot(layer, message: dict) -> None:
    live = _live.get(message["id"])
    if live is None:
        return  # finished meanwhile: the asker falls back to the saved row
    # Before the snapshot seals what it holds: the asker gets every later frame by group.
    fanout.note_remote_watcher(live.conversation_id)
    reply = await Message.objects.aget(pk=message["id"])
    frame = snapshot_frame(reply)
    await layer.send(message["reply_to"], {"type": "reply.snapshot", "frame": json.dumps(frame)})


async def settled_snapshot(reply: Message) -> dict:
    """A snapshot of the reply as saved, never of one whose writer is gone.

    A row still says streaming when its process died and no sweeper has run since its lease
    ran out: mark it interrupted first, so the page gets a final state, not typing dots.
    """
    if reply.is_streaming and reply.pk not in _live and _lease_expired(reply):
        await mark_expired_interrupted(reply.conversation_id)
        reply = await Message.objects.aget(pk=reply.pk)
    return snapshot_frame(reply)


def snapshot_frame(reply: Message) -> dict:
    view = view_of(reply)
    return {
        "type": "snapshot",
        "id": reply.pk,
        "seq": view.seq,
        "streaming": reply.status == MessageStatus.STREAMING
        and (reply.pk in _live or not _lease_expired(reply)),
        "html": render_to_string("conversations/chat.html#reply", {"m": view}),
    }


def is_local(message_id: int) -> bool:
    return message_id in _live


def _lease_expired(reply: Message) -> bool:
    return reply.lease_until is None or reply.lease_until < timezone.now()


async def _sweep() -> None:
    """Every process marks replies whose runner died, so none stays "streaming" for ever."""
    while True:
        try:
            await mark_expired_interrupted()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replies sweeper failed; trying again later")
        await asyncio.sleep(max(1.0, settings.WEBCHAT_LEASE_SECONDS / 2))


async def wait_all() -> None:
    """Let running replies finish (tests, shutdown)."""
    while _tasks:
        await asyncio.gather(*list(_tasks.values()), return_exceptions=True)


def _lease() -> timedelta:
    return timedelta(seconds=settings.WEBCHAT_LEASE_SECONDS)


async def mark_expired_interrupted(conversation_id: int | None = None) -> int:
    """Replies whose runner stopped renewing their lease are interrupted; their text is kept.

    Whoever marks one tells its viewers at once (a `done` frame to the conversation's group):
    a page must never be left showing a reply that nobody is writing any more.
    """
    rows = Message.objects.filter(status=MessageStatus.STREAMING, lease_until__lt=timezone.now())
    if conversation_id is not None:
        rows = rows.filter(conversation_id=conversation_id)
    count = 0
    async for message in rows.only("id", "text"):
        finished = await sync_to_async(_write_interrupted)(message.pk, message.text)
        if finished is None:
            continue  # renewed or finished meanwhile
        count += 1
        reply, restored = finished
        for frame in final_frames(reply, restored, seq=reply.seq):
            await fanout.broadcast(
                reply.conversation_id, json.dumps(frame, ensure_ascii=False), recheck=True
            )
    return count


def _write_interrupted(message_id: int, text: str) -> tuple[Message, list[Message]] | None:
    now = timezone.now()
    with transaction.atomic():
        if not Message.objects.filter(
            pk=message_id, status=MessageStatus.STREAMING, lease_until__lt=now
        ).update(
            status=MessageStatus.INTERRUPTED,
            html=render_markdown(text),
            error=INTERRUPTED_MESSAGE,
            error_detail="its lease ran out: the process writing it stopped",
            lease_until=None,
            completed=now,
        ):
            return None
        message = Message.objects.select_related("conversation").get(pk=message_id)
        restored = services.settle_replaced(message)
        services.refresh_counters(message.conversation_id)
        usage.record_reply(message, message.conversation)
    return message, restored


@dataclass(frozen=True)
class MessageView:
    """A message as a template shows it; a streaming reply as far as it has come."""

    message: Message
    html: str
    tail: str = ""
    reasoning: str = ""
    tools: tuple = ()
    seq: int = 0

    @property
    def pk(self) -> int:
        return self.message.pk

    @property
    def model_label(self) -> str:
        message = self.message
        # Only a conversation the row came with: templates render in async code, where a
        # query would fail (the chat, the widget and final frames all load it with the row).
        cached = Message.conversation.is_cached(message)
        return model_label(message.model, message.conversation.agent if cached else "")


def view_of(message: Message) -> MessageView:
    live = _live.get(message.pk) if message.is_streaming else None
    if live is not None:
        if live.publisher is not None:
            # Whatever is published after this snapshot starts a new frame, so a viewer never
            # gets a frame that is half in its snapshot.
            live.publisher.seal()
        return MessageView(
            message,
            "".join(live.closed_html),
            live.renderer.tail,
            "".join(live.reasoning),
            tuple(live.parts),
            live.seq,
        )
    if message.is_streaming:
        closed, tail = snapshot_html(message.text)
        return MessageView(
            message, closed, tail, message.reasoning, tuple(message.tools), message.seq
        )
    return MessageView(
        message, message.html, "", message.reasoning, tuple(message.tools), message.seq
    )


# --- the run ---------------------------------------------------------------------------------


async def _run(live: LiveReply, conversation: Conversation, turn: Turn) -> None:
    publisher = live.publisher = Publisher(conversation.pk, live.message_id)
    status, error, detail = MessageStatus.COMPLETE, "", ""
    cancelled = False
    try:
        async with open_turn(conversation, turn) as events:
            async for event in events:
                piece = await _apply(live, conversation, event)
                if piece:
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
            status, error = MessageStatus.INTERRUPTED, INTERRUPTED_MESSAGE
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
        status, error = MessageStatus.FAILED, "Something went wrong on our side."
        detail = f"{type(exc).__name__}: {exc}"
    live.finishing = True
    try:
        await _finish(live, conversation, status, error, detail, publisher)
    finally:
        publisher.close()
        if cancelled:
            raise asyncio.CancelledError


INTERRUPTED_MESSAGE = "The server stopped while writing this reply. What arrived is kept."


def _explain(exc: UpstreamError, live: LiveReply) -> failures.Explained:
    return failures.explain(exc, words=len(live.full_text.split()))


async def _apply(live: LiveReply, conversation: Conversation, event) -> dict | None:
    """Fold one event into the live reply; return what changed for the viewers, if anything."""
    match event:
        case TextDelta(part_id=part_id, text=text):
            live.seq += 1
            live.text.append(text)
            if conversation.provider == "mistral":
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
            live.parts.append({"kind": "notice", "text": f"The tool {name} asks for approval."})
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
    if event.turn_ref and event.turn_ref != conversation.turn_ref:
        conversation.turn_ref = changes["turn_ref"] = event.turn_ref
    if event.assistant_message_id:
        live.upstream_message_id = event.assistant_message_id
    if changes:
        await Conversation.objects.filter(pk=conversation.pk).aupdate(**changes)


# --- saving: one batch per process about once a second --------------------------------------


async def _save_periodically() -> None:
    """Save every running reply's text so far and renew its lease, all in one thread hop.

    A reply whose row no longer matches (a stop was asked for through the database, or the
    row is gone) is stopped here, as if its stop message had arrived.
    """
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.WEBCHAT_SAVE_INTERVAL)
        try:
            await save_progress(loop)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("saving replies in progress failed; trying again")


async def save_progress(loop: asyncio.AbstractEventLoop) -> None:
    now = loop.time()
    renew_after = settings.WEBCHAT_LEASE_SECONDS / 3
    due = [
        live
        for live in list(_live.values())
        if not live.finishing
        and _tasks.get(live.message_id) is not None
        and _tasks[live.message_id].get_loop() is loop
        and (live.seq != live.saved_seq or now - live.lease_renewed >= renew_after)
    ]
    if not due:
        return
    lease_until = timezone.now() + _lease()
    # The rows are read here, on the loop, where the replies change.
    rows = [(live.message_id, live.full_text, _parts(live), live.seq) for live in due]
    matched = await sync_to_async(_write_progress)(rows, lease_until)
    for live, (_, _, _, seq), ok in zip(due, rows, matched, strict=True):
        live.saved_seq, live.lease_renewed = seq, now
        if not ok and not live.finishing:
            _stop_here(live.message_id)


def _write_progress(rows: list[tuple[int, str, list, int]], lease_until) -> list[bool]:
    """One UPDATE per reply in one transaction; each only matches while no stop is asked for."""
    sql, fields = _progress_statement()
    prep = [fields[name].get_db_prep_save for name in ("parts", "lease_until")]
    results = []
    with transaction.atomic(), connection.cursor() as cursor:
        for message_id, text, parts, seq in rows:
            cursor.execute(
                sql,
                [
                    text,
                    prep[0](parts, connection),
                    seq,
                    prep[1](lease_until, connection),
                    message_id,
                    False,
                    MessageStatus.STREAMING.value,
                ],
            )
            results.append(cursor.rowcount == 1)
    return results


@functools.cache
def _progress_statement() -> tuple[str, dict]:
    # Raw SQL because this runs for every streaming reply every second: the ORM spent more
    # time building each UPDATE than the database spent running it.
    meta = Message._meta
    q = connection.ops.quote_name
    fields = {f.name: f for f in meta.concrete_fields}
    column = {name: q(f.column) for name, f in fields.items()}
    sql = (
        f"UPDATE {q(meta.db_table)} SET {column['text']} = %s, {column['parts']} = %s, "
        f"{column['seq']} = %s, {column['lease_until']} = %s "
        f"WHERE {column['id']} = %s AND {column['stop_requested']} = %s "
        f"AND {column['status']} = %s"
    )
    return sql, fields


def _parts(live: LiveReply) -> list[dict]:
    reasoning = "".join(live.reasoning)
    return ([{"kind": "reasoning", "text": reasoning}] if reasoning else []) + live.parts


async def _finish(
    live: LiveReply,
    conversation: Conversation,
    status: str,
    error: str,
    detail: str,
    publisher: Publisher,
) -> None:
    text = live.full_text
    usage = live.usage or (None, None, None)
    fields = dict(
        text=text,
        html=render_markdown(text),
        parts=_parts(live),
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
    finished = await sync_to_async(_write_finish)(live.message_id, fields)
    if finished is None:
        return  # deleted meanwhile, or already marked interrupted by a sweeper
    message, restored = finished
    await publisher.flush()
    for frame in final_frames(message, restored, seq=live.seq):
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


def final_frames(message: Message, restored: list[Message], *, seq: int) -> list[dict]:
    """What every viewer gets when a reply ends: turns it no longer replaces, then the reply."""
    frames = []
    if restored:
        frames.append(
            {
                "type": "restored",
                "ids": [m.pk for m in restored],
                "html": "".join(
                    render_to_string("conversations/chat.html#message", {"m": view_of(m)})
                    for m in restored
                ),
            }
        )
    frames.append(
        {
            "type": "done",
            "id": message.pk,
            "seq": seq,
            "status": message.status,
            "html": render_to_string("conversations/chat.html#reply", {"m": view_of(message)}),
        }
    )
    return frames


def _write_finish(message_id: int, fields: dict) -> tuple[Message, list[Message]] | None:
    """The reply's final row, its conversation's counters, the day's usage and what it
    replaced, in one transaction (and one thread hop)."""
    with transaction.atomic():
        if not Message.objects.filter(pk=message_id, status=MessageStatus.STREAMING).update(
            **fields
        ):
            return None
        message = Message.objects.select_related("conversation").get(pk=message_id)
        restored = services.settle_replaced(message)
        services.refresh_counters(message.conversation_id, updated=fields["completed"])
        usage.record_reply(message, message.conversation)
    return message, restored


class Publisher:
    """Deltas to the viewers without delay: sent at once when idle, merged while a send runs.

    One sender task per reply wakes when a delta is pushed. Everything pushed before it runs
    (the rest of a chunk read from upstream, or what came while a group send was under way)
    goes out as one frame; a lone token waits for nothing but the event loop.
    """

    def __init__(self, conversation_id: int, message_id: int) -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id
        self._sealed: list[dict] = []
        self._pending: dict | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._sender = asyncio.get_running_loop().create_task(
            self._send_pending(), name=f"publisher-{message_id}"
        )

    def push(self, piece: dict) -> None:
        if self._pending is None:
            self._pending = {"type": "delta", "id": self.message_id, "from": piece["seq"], **piece}
        else:
            _merge(self._pending, piece)
        self._wake.set()

    def seal(self) -> None:
        if self._pending is not None:
            self._sealed.append(self._pending)
            self._pending = None

    async def _send_pending(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._sealed or self._pending is not None:
                if self._sealed:
                    frame = self._sealed.pop(0)
                else:
                    frame, self._pending = self._pending, None
                try:
                    await self.send(frame)
                except Exception:
                    # Lost frames are a gap the viewers notice and fill with a snapshot.
                    log.exception("reply %s: a frame could not be sent", self.message_id)
            if self._closing:
                return

    async def flush(self) -> None:
        """Send what is pending and stop the sender; later frames go out with `send`."""
        self._closing = True
        self._wake.set()
        await self._sender

    def close(self) -> None:
        self._sender.cancel()

    async def send(self, frame: dict) -> None:
        await fanout.broadcast(self.conversation_id, json.dumps(frame, ensure_ascii=False))


def _merge(into: dict, piece: dict) -> None:
    into["seq"] = piece["seq"]
    if piece.get("snapshot"):
        into["snapshot"] = True
    if piece.get("tools"):
        into["tools"] = True
    if "reasoning" in piece:
        into["reasoning"] = into.get("reasoning", "") + piece["reasoning"]
    if "text" in piece:
        if piece.get("reset"):
            into["html"] = into.get("html", "") + piece["html"]
            into["text"] = piece["text"]
            into["reset"] = True
        else:
            into["text"] = into.get("text", "") + piece["text"]
            into.setdefault("html", "")
            into.setdefault("reset", False)
