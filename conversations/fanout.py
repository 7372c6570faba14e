"""Frames to everyone watching a conversation: this process's sockets directly, others by group.

Every socket still joins the conversation's channel group, so a runner in another process
reaches it. But a frame for a socket in the runner's own process does not need the channel
layer: a channel-layer message costs a queue (in memory) or four Redis round trips (with
channels-redis), and a consumer dispatch, per frame per viewer. So each process keeps its
watchers, a runner hands them the frame directly, and the layer carries a frame only when the
group has a member in another process. Frames that come back through the group from this
process are dropped by `from_elsewhere`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from typing import Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer

log = logging.getLogger(__name__)

ORIGIN = uuid.uuid4().hex  # this process, on the frames it puts on the layer
REMOTE_RECHECK_SECONDS = 2.0  # how long "no other process watches" is believed


class Watcher(Protocol):
    async def deliver(self, frame: str) -> None: ...


def group_name(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


# Consumers live on one event loop; tests run several loops one after another.
_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, set[Watcher]]] = (
    weakref.WeakKeyDictionary()
)
_remote: dict[str, tuple[float, bool]] = {}  # group -> (checked at, another process watches)


def _local() -> dict[int, set[Watcher]]:
    return _watchers.setdefault(asyncio.get_running_loop(), {})


def watch(conversation_id: int, watcher: Watcher) -> None:
    _local().setdefault(conversation_id, set()).add(watcher)


def unwatch(conversation_id: int, watcher: Watcher) -> None:
    watchers = _local().get(conversation_id)
    if watchers is not None:
        watchers.discard(watcher)
        if not watchers:
            del _local()[conversation_id]


def note_remote_watcher(conversation_id: int) -> None:
    """Another process asked about this conversation: it has a watcher from now on."""
    _remote[group_name(conversation_id)] = (time.monotonic(), True)


def from_elsewhere(message: dict) -> bool:
    """A group message this process did not put on the layer (its own were delivered)."""
    return message.get("origin") != ORIGIN


async def broadcast(conversation_id: int, frame: str, *, recheck: bool = False) -> None:
    """Send a frame (JSON text) to every watcher of the conversation, here and elsewhere.

    `recheck` asks the layer who watches instead of trusting what was last seen (a new turn).
    """
    for watcher in tuple(_local().get(conversation_id, ())):
        try:
            await watcher.deliver(frame)
        except Exception:
            # A socket that went away mid-send; its disconnect will unwatch it.
            log.debug("a watcher of conversation %s could not take a frame", conversation_id)
    group = group_name(conversation_id)
    if await _watched_elsewhere(group, recheck=recheck):
        await get_channel_layer().group_send(
            group, {"type": "reply.frame", "frame": frame, "origin": ORIGIN}
        )


async def _watched_elsewhere(group: str, *, recheck: bool) -> bool:
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        return False  # an in-memory layer has no other process
    now = time.monotonic()
    checked = _remote.get(group)
    if not recheck and checked is not None and now - checked[0] < REMOTE_RECHECK_SECONDS:
        return checked[1]
    elsewhere = await _has_remote_member(layer, group)
    if len(_remote) > 10_000:
        _remote.clear()  # old conversations' answers; any is asked again when it matters
    _remote[group] = (now, elsewhere)
    return elsewhere


async def _has_remote_member(layer, group: str) -> bool:
    if not isinstance(layer, RedisChannelLayer):
        return True  # a layer we cannot ask: send through it, as Channels would
    # channels-redis keeps a group as a sorted set of channel names scored by join time, and
    # names this process's channels "<prefix>.<client_prefix>!<random>" (pinned in pyproject).
    key = layer._group_key(group)
    connection = layer.connection(layer.consistent_hash(group))
    members = await connection.zrangebyscore(key, int(time.time()) - layer.group_expiry, "+inf")
    mine = f".{layer.client_prefix}!"
    return any(mine not in member.decode() for member in members)
