"""A reply's snapshot for a socket: the latest reply as it stands, sealed against its stream.

A socket that (re)joins gets one, then the deltas that follow it. Taking one seals the live
publisher, so that no delta the socket gets is half in its snapshot; this is the only path
that changes the stream (a page rendered from a GET only reads `message_view`).
"""

from __future__ import annotations

from django.template.loader import render_to_string

from conversations import leases, registry
from conversations.message_view import view_of
from conversations.models import Message, MessageStatus


async def settled_snapshot(reply: Message, *, read_only: bool = False) -> dict:
    """A snapshot of the reply as saved, never of one whose writer is gone.

    A row still says streaming when its process died and no sweeper has run since its lease
    ran out: mark it interrupted first, so the page gets a final state, not typing dots.
    `read_only`: the page is (its conversation is in Trash), so the reply offers no Regenerate.
    """
    if reply.is_streaming and not registry.is_local(reply.pk) and leases.lease_expired(reply):
        await leases.mark_expired_interrupted(reply.conversation_id)
        reply = await Message.objects.aget(pk=reply.pk)
    return snapshot_frame(reply, read_only=read_only)


def snapshot_frame(reply: Message, *, read_only: bool = False) -> dict:
    live = registry.live_reply(reply.pk) if reply.is_streaming else None
    if live is not None and live.publisher is not None:
        # Whatever is published after this snapshot starts a new frame, so a viewer never
        # gets a frame that is half in its snapshot.
        live.publisher.seal()
    view = view_of(reply)
    return {
        "type": "snapshot",
        "id": reply.pk,
        "seq": view.seq,
        "streaming": reply.status == MessageStatus.STREAMING
        and (registry.is_local(reply.pk) or not leases.lease_expired(reply)),
        "html": render_to_string(
            "conversations/chat.html#reply", {"m": view, "read_only": read_only}
        ),
    }
