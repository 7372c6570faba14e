"""Reading a streaming reply for a page changes nothing; a socket's snapshot seals its stream."""

from __future__ import annotations

import pytest

from conversations import registry
from conversations.message_view import view_of
from conversations.models import Message, MessageStatus
from conversations.registry import LiveReply
from conversations.snapshots import snapshot_frame


class CountingPublisher:
    sealed = 0

    def seal(self) -> None:
        self.sealed += 1


@pytest.fixture
def live():
    """A reply streaming in this process, halfway through, with a frame being merged."""
    live = LiveReply(message_id=987654, conversation_id=1, seq=3, text=["Half a"])
    live.renderer.feed("Half a")
    live.publisher = CountingPublisher()
    registry.enter(live)
    yield live
    registry._live.pop(live.message_id, None)


def streaming_row(live: LiveReply) -> Message:
    return Message(pk=live.message_id, conversation_id=1, status=MessageStatus.STREAMING)


def test_a_page_render_leaves_the_stream_as_it_was(live):
    view = view_of(streaming_row(live))
    assert (view.seq, view.tail) == (3, "Half a")
    assert live.publisher.sealed == 0


def test_a_snapshot_for_a_socket_seals_what_it_holds(live):
    frame = snapshot_frame(streaming_row(live))
    assert frame["seq"] == 3 and frame["streaming"] and "Half a" in frame["html"]
    assert live.publisher.sealed == 1
