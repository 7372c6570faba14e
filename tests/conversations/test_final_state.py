"""No page is left without a final state or a live stream when the process writing a reply dies.

A dead process is played by a reply row whose runner is a channel nobody reads and whose lease
runs out while the test watches; the runner that would renew it does not exist.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import leases, registry
from conversations.models import Message, MessageStatus
from tests.replies import replies_finished
from tests.sockets import new_conversation, receive, socket_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

DEAD_RUNNER = "specific.deadprocess!gone"


async def orphaned_reply(conversation, *, lease_seconds: float) -> Message:
    """A reply a process was writing when it died: saved text, and a lease about to run out."""
    await Message.objects.acreate(conversation=conversation, role="user", text="Tell me more")
    return await Message.objects.acreate(
        conversation=conversation,
        role="assistant",
        status=MessageStatus.STREAMING,
        text="The first half of",
        seq=4,
        runner=DEAD_RUNNER,
        lease_until=timezone.now() + timedelta(seconds=lease_seconds),
    )


@pytest.mark.slow
async def test_a_snapshot_asked_of_a_dead_process_after_its_lease_ran_out_is_final(alice):
    """The socket asks the dead runner, gets no answer, and by then the lease has run out:
    the fallback snapshot must be the interrupted reply, not a "writing" one nobody writes."""
    conversation = await new_conversation(alice, "mistral")
    reply = await orphaned_reply(conversation, lease_seconds=1)
    socket, _, _ = await socket_for(conversation.pk, alice)
    frames = []
    while True:
        frame = await receive(socket)
        frames.append(frame)
        if frame["type"] == "snapshot":
            break
    assert frame["id"] == reply.pk
    assert frame["streaming"] is False
    assert "status-interrupted" in frame["html"] and "Retry" in frame["html"]
    assert "typing" not in frame["html"]
    assert "The first half of" in frame["html"]
    await reply.arefresh_from_db()
    assert reply.status == MessageStatus.INTERRUPTED and reply.text == "The first half of"
    await socket.disconnect()


@pytest.mark.slow
async def test_a_page_watching_a_reply_whose_process_died_is_told_when_it_ends(alice):
    """Whoever marks the reply interrupted (a sweeper, any process) tells every open page."""
    conversation = await new_conversation(alice, "mistral")
    reply = await orphaned_reply(conversation, lease_seconds=30)
    socket, _, _ = await socket_for(conversation.pk, alice)
    await until(socket, "snapshot")
    await Message.objects.filter(pk=reply.pk).aupdate(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert await leases.mark_expired_interrupted() == 1
    _, done = await until(socket, "done")
    assert done["id"] == reply.pk and done["status"] == "interrupted"
    assert "status-interrupted" in done["html"] and "The first half of" in done["html"]
    await socket.disconnect()


async def test_shutdown_leaves_a_reply_that_is_saving_its_end_to_finish(alice):
    """The grace period ran out just as a reply began writing its final row: cancelling it then
    would cut that save short, so shutdown waits for it instead."""
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await until(socket, "snapshot")
    await socket.send_json_to(
        {"type": "send", "text": "[[emulator tokens_per_second=40 tokens=200]] Go on"}
    )
    await until(socket, "delta")
    reply = await Message.objects.aget(conversation=conversation, status=MessageStatus.STREAMING)
    live = registry.live_reply(reply.pk)
    live.finishing = True  # as `_run` sets it before `_finish`
    tasks = registry.interrupt_all_here()
    assert tasks and all(task.cancelling() == 0 for task in tasks)
    assert not live.shutting_down
    live.finishing = False
    await registry.stop(conversation)
    _, done = await until(socket, "done")
    assert done["status"] == "stopped"
    await socket.disconnect()
    await replies_finished()
