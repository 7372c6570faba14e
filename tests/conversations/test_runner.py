"""The reply runner's promises: saved progress, leases, stops, and frames to this process's sockets.

Each test drives a real socket against the live emulator; the runner is never mocked.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from conversations import leases
from conversations.models import Conversation, Message, MessageStatus
from emulator.assistant import compose_reply
from emulator.knobs import strip_directives
from tests.replies import replies_finished
from tests.sockets import (
    WITHIN,
    new_conversation,
    receive,
    session_cookie,
    socket_for,
    until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]


@pytest.fixture
def quick_saves(settings):
    settings.WEBCHAT_SAVE_INTERVAL = 0.1
    return settings


async def started(conversation, user, text: str):
    """A socket on the conversation with a reply under way (its first text frame seen)."""
    socket, _, _ = await socket_for(conversation.pk, user)
    await receive(socket)  # the snapshot
    await socket.send_json_to({"type": "send", "text": text})
    turn = await receive(socket)
    assert turn["type"] == "turn"
    while not (await receive(socket)).get("text"):
        pass
    return socket


async def streaming_reply(conversation) -> Message:
    return await Message.objects.aget(conversation=conversation, status=MessageStatus.STREAMING)


async def eventually(check, seconds: float = 5.0):
    """Poll an async check until it returns something true, or fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{check.__name__} did not hold within {seconds} s")
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_the_text_so_far_is_saved_while_streaming(alice, quick_saves):
    conversation = await new_conversation(alice, "mistral")
    text = "[[emulator tokens_per_second=30 tokens=90]] Save as you go"
    socket = await started(conversation, alice, text)
    reply = await streaming_reply(conversation)
    full = compose_reply(strip_directives(text), tokens=90).full_text

    async def saved_partway():
        await reply.arefresh_from_db()
        return reply.status == MessageStatus.STREAMING and reply.text and reply.seq

    await eventually(saved_partway)
    assert full.startswith(reply.text) and len(reply.text) < len(full)
    assert reply.lease_until > timezone.now()
    _, done = await until(socket, "done")
    await reply.arefresh_from_db()
    assert reply.status == MessageStatus.COMPLETE and reply.text == full
    assert reply.seq == done["seq"]
    await socket.disconnect()
    await replies_finished()


@pytest.mark.slow
async def test_a_silent_upstream_keeps_its_lease(alice, settings):
    # The upstream says nothing for longer than a lease (a model thinking, a slow tool).
    settings.WEBCHAT_LEASE_SECONDS = 1
    settings.WEBCHAT_SAVE_INTERVAL = 0.1
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "[[emulator first_event_delay=2.5]] Hm"})
    await receive(socket)  # the turn
    for _ in range(25):
        assert await leases.mark_expired_interrupted() == 0
        await asyncio.sleep(0.1)
    _, done = await until(socket, "done")
    reply = await Message.objects.aget(pk=done["id"])
    assert reply.status == MessageStatus.COMPLETE
    await socket.disconnect()
    await replies_finished()


async def test_a_reply_another_process_marked_interrupted_is_not_overwritten(alice, quick_saves):
    conversation = await new_conversation(alice, "mistral")
    socket = await started(
        conversation, alice, "[[emulator tokens_per_second=30 tokens=200]] Who owns me?"
    )
    reply = await streaming_reply(conversation)
    # As a sweeper does when it believes the runner dead.
    await Message.objects.filter(pk=reply.pk).aupdate(
        status=MessageStatus.INTERRUPTED, text="judged dead", lease_until=None
    )
    await asyncio.wait_for(replies_finished(), WITHIN)
    await reply.arefresh_from_db()
    assert (reply.status, reply.text) == (MessageStatus.INTERRUPTED, "judged dead")
    await socket.disconnect()


async def test_a_stop_asked_for_in_the_database_stops_the_reply(alice, quick_saves):
    # Another process's stop message can be lost; the flag on the row is seen at the next save.
    conversation = await new_conversation(alice, "mistral")
    text = "[[emulator tokens_per_second=30 tokens=200]] Stop me by flag"
    socket = await started(conversation, alice, text)
    reply = await streaming_reply(conversation)
    await Message.objects.filter(pk=reply.pk).aupdate(stop_requested=True)
    _, done = await until(socket, "done")
    await reply.arefresh_from_db()
    assert reply.status == MessageStatus.STOPPED
    assert reply.text and compose_reply(strip_directives(text), tokens=200).full_text.startswith(
        reply.text
    )
    assert done["id"] == reply.pk
    await socket.disconnect()
    await replies_finished()


async def test_stopping_twice_keeps_the_partial_text(alice):
    conversation = await new_conversation(alice, "mistral")
    text = "[[emulator tokens_per_second=40 tokens=300]] Stop, stop"
    socket = await started(conversation, alice, text)
    await socket.send_json_to({"type": "stop"})
    await socket.send_json_to({"type": "stop"})
    _, done = await until(socket, "done")
    reply = await Message.objects.aget(pk=done["id"])
    assert reply.status == MessageStatus.STOPPED
    full = compose_reply(strip_directives(text), tokens=300).full_text
    assert reply.text and full.startswith(reply.text) and len(reply.text) < len(full)
    await socket.disconnect()
    await replies_finished()


async def test_deleting_the_conversation_mid_reply_ends_the_runner_quietly(alice, quick_saves):
    conversation = await new_conversation(alice, "mistral")
    socket = await started(
        conversation, alice, "[[emulator tokens_per_second=30 tokens=300]] Delete me"
    )
    await Conversation.objects.filter(pk=conversation.pk).adelete()
    # The next save matches no row: the runner stops well before the 10 s the stream would take.
    await asyncio.wait_for(replies_finished(), 3)
    assert not await Message.objects.filter(conversation_id=conversation.pk).aexists()
    await socket.disconnect()


async def test_regenerating_counts_toward_the_send_rate(alice, settings):
    settings.WEBCHAT_SENDS_PER_MINUTE = 1
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "once"})
    _, done = await until(socket, "done")
    await socket.send_json_to({"type": "regenerate"})
    _, frame = await until(socket, "error")
    assert "1 messages a minute" in frame["message"]
    reply = await Message.objects.filter(conversation=conversation, role="assistant").alast()
    assert reply.pk == done["id"], "the reply was not replaced"
    await socket.disconnect()
    await replies_finished()


async def test_an_orq_edit_refused_mid_reply_keeps_the_upstream_conversation(alice):
    conversation = await new_conversation(alice, "orq")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "First question"})
    await until(socket, "done")
    await conversation.arefresh_from_db()
    upstream_id = conversation.upstream_id
    first = await Message.objects.filter(conversation=conversation, role="user").afirst()
    await socket.send_json_to(
        {"type": "send", "text": "[[emulator tokens_per_second=20 tokens=200]] Slow second"}
    )
    await until(socket, "turn")
    await socket.send_json_to({"type": "edit", "id": first.pk, "text": "Edited first"})
    _, frame = await until(socket, "error")
    assert "still being written" in frame["message"]
    await conversation.arefresh_from_db()
    assert conversation.upstream_id == upstream_id
    assert conversation.superseded_upstream_ids == []
    await socket.send_json_to({"type": "stop"})
    await until(socket, "done")
    await socket.disconnect()
    await replies_finished()


@pytest.mark.slow
async def test_a_snapshot_asked_for_twice_from_another_process_is_sent_once(alice):
    # The runner is "another process" that never answers: the socket falls back to the row.
    conversation = await new_conversation(alice, "mistral")
    elsewhere = await Message.objects.acreate(
        conversation=conversation,
        role="assistant",
        status=MessageStatus.STREAMING,
        text="Written elsewhere",
        runner=await get_channel_layer().new_channel(),
        lease_until=timezone.now() + timedelta(seconds=30),
    )
    socket, _, _ = await socket_for(conversation.pk, alice)
    await socket.send_json_to({"type": "snapshot"})
    snapshot = await receive(socket)
    assert snapshot["type"] == "snapshot" and snapshot["id"] == elsewhere.pk
    assert snapshot["streaming"] and "Written elsewhere" in snapshot["html"]
    assert await socket.receive_nothing(timeout=2.5)
    await socket.disconnect()


async def test_frames_reach_this_processs_sockets_without_the_channel_layer(alice, monkeypatch):
    # The runner hands frames to its own process's sockets; the in-memory layer is not used.
    async def refuse(*args, **kwargs):
        raise AssertionError("a frame went through the channel layer")

    monkeypatch.setattr(get_channel_layer(), "group_send", refuse)
    conversation = await new_conversation(alice, "mistral")
    watcher, _, _ = await socket_for(conversation.pk, alice)
    await receive(watcher)
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "Two tabs"})
    for tab in (socket, watcher):
        _, done = await until(tab, "done")
        reply = await Message.objects.aget(pk=done["id"])
        assert reply.status == MessageStatus.COMPLETE
    await socket.disconnect()
    await watcher.disconnect()
    await replies_finished()


async def test_a_session_from_before_a_password_change_is_refused(alice):
    conversation = await new_conversation(alice, "mistral")
    cookie = await session_cookie(alice)
    # Django ties a session to the password: changing it signs every session out.
    alice.password = make_password("a brand new password")
    await alice.asave(update_fields=["password"])
    socket, _, _ = await socket_for(conversation.pk, cookie=cookie)
    assert (await socket.receive_output(timeout=WITHIN))["code"] == 4403
