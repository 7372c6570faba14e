"""This process's inbox: stops and snapshot requests from other processes, for its replies.

One channel per event loop. Opening it also starts the loop's sweeper and batched saver
(`leases.py`), so every process that serves sockets or runs replies keeps leases honest, and
the Trash's hourly emptying (`trash.py`: one process of all does it each time).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import weakref

from channels.layers import get_channel_layer
from django.utils import translation

from conversations import fanout, leases, registry, trash
from conversations.models import Message
from conversations.snapshots import snapshot_frame

log = logging.getLogger(__name__)

_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, str] = weakref.WeakKeyDictionary()
_background: set[asyncio.Task] = set()


async def address() -> str:
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
            (leases.sweep(), "replies-sweeper"),
            (leases.save_periodically(), "replies-saver"),
            (trash.empty_periodically(), "trash-emptier"),
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
                    registry.stop_here(message["id"])
                case "reply.snapshot":
                    await _answer_snapshot(layer, message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replies inbox: a message could not be handled")
            await asyncio.sleep(0.5)


async def _answer_snapshot(layer, message: dict) -> None:
    live = registry.live_reply(message["id"])
    if live is None:
        return  # finished meanwhile: the asker falls back to the saved row
    # Before the snapshot seals what it holds: the asker gets every later frame by group.
    fanout.note_remote_watcher(live.conversation_id)
    reply = await Message.objects.aget(pk=message["id"])
    with translation.override(live.language):
        frame = snapshot_frame(reply)
    await layer.send(message["reply_to"], {"type": "reply.snapshot", "frame": json.dumps(frame)})
