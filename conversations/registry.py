"""The replies this process runs: their live state, and stopping one wherever it runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer

from conversations.models import Conversation, Message, MessageStatus
from conversations.rendering import StreamingRenderer

if TYPE_CHECKING:
    from conversations.publisher import Publisher


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
    # The open block's provisional HTML goes out at most every OPEN_EVERY seconds: when next.
    open_due: float = 0.0
    open_timer: asyncio.TimerHandle | None = None
    # The language of whoever asked for it (runner.start): its HTML, wherever it is rendered.
    language: str | None = None

    @property
    def full_text(self) -> str:
        return "".join(self.text)

    def saved_parts(self) -> list[dict]:
        """The row's `parts`: the reasoning so far first, then tools, citations and notices."""
        reasoning = "".join(self.reasoning)
        return ([{"kind": "reasoning", "text": reasoning}] if reasoning else []) + self.parts


_live: dict[int, LiveReply] = {}
_tasks: dict[int, asyncio.Task] = {}


def live_reply(message_id: int) -> LiveReply | None:
    return _live.get(message_id)


def is_local(message_id: int) -> bool:
    return message_id in _live


def enter(live: LiveReply) -> None:
    """A reply starts here: it is this process's from now on, before its task exists."""
    _live[live.message_id] = live


def track(message_id: int, task: asyncio.Task) -> None:
    """The reply's task; the reply is forgotten when the task ends."""
    _tasks[message_id] = task

    def forget(_task: asyncio.Task) -> None:
        _tasks.pop(message_id, None)
        _live.pop(message_id, None)

    task.add_done_callback(forget)


def on_loop(loop: asyncio.AbstractEventLoop) -> list[LiveReply]:
    """The live replies whose tasks run on `loop` (one batch for the saver)."""
    return [
        live
        for live in list(_live.values())
        if _tasks.get(live.message_id) is not None and _tasks[live.message_id].get_loop() is loop
    ]


async def stop(conversation: Conversation) -> bool:
    """Stop the conversation's streaming reply, wherever it runs; True if there was one."""
    reply = await conversation.messages.filter(status=MessageStatus.STREAMING).afirst()
    if reply is None:
        return False
    if not stop_here(reply.pk):
        # Another process runs it: a message to its inbox stops it at once, and the flag
        # (seen at its next save) covers a lost message.
        await Message.objects.filter(pk=reply.pk).aupdate(stop_requested=True)
        if reply.runner:
            await get_channel_layer().send(reply.runner, {"type": "reply.stop", "id": reply.pk})
    return True


def stop_here(message_id: int) -> bool:
    """Stop the reply if this process runs it; False if it does not."""
    task = _tasks.get(message_id)
    if task is None:
        return False
    if _live[message_id].stop_requested or _live[message_id].finishing:
        return True  # stopping or saving already: a cancel now would cut the final save short
    _live[message_id].stop_requested = True
    task.cancel()
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
