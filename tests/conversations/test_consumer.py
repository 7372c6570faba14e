"""The chat socket over real Channels routing, with replies streamed from the live emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import leases, services
from conversations.choices import choice_for
from conversations.models import Message, MessageStatus
from conversations.rendering import snapshot_html
from emulator.assistant import compose_reply
from emulator.knobs import strip_directives
from tests.replies import replies_finished
from tests.sockets import PROVIDERS, WITHIN, new_conversation, receive, socket_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]


class Browser:
    """What chat.js does with delta frames, so a test can compare what a person would see."""

    def __init__(self, seq: int = 0) -> None:
        self.html = ""
        self.tail = ""
        self.seq = seq

    def apply(self, frame: dict) -> None:
        if frame["seq"] <= self.seq:
            return  # wholly inside the snapshot already shown
        assert frame["from"] == self.seq + 1, "a gap, or a frame half inside the snapshot"
        self.seq = frame["seq"]
        if "text" in frame:
            if frame["reset"]:
                self.tail = ""
            self.html += frame["html"]
            self.tail += frame["text"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_streamed_reply_equals_the_emulators_text(provider, alice):
    conversation = await new_conversation(alice, provider)
    socket, connected, _ = await socket_for(conversation.pk, alice)
    assert connected
    assert (await receive(socket)) == {"type": "snapshot", "id": None}

    # Paced, so the frames cannot all arrive in one read: this proves streaming.
    prompt = "Explain websockets to a new teammate"
    await socket.send_json_to(
        {"type": "send", "text": f"[[emulator tokens_per_second=150]] {prompt}"}
    )
    turn = await receive(socket)
    assert turn["type"] == "turn" and "Explain websockets" in turn["html"]
    deltas, done = await until(socket, "done")

    browser = Browser()
    for frame in (f for f in deltas if f["type"] == "delta"):
        browser.apply(frame)
    expected = compose_reply(prompt).full_text
    assert sum(1 for f in deltas if f.get("text")) >= 3, "several frames, not one"
    assert (browser.html, browser.tail) == snapshot_html(expected)

    reply = await Message.objects.aget(pk=done["id"])
    assert reply.status == MessageStatus.COMPLETE
    assert reply.text == expected
    assert reply.usage_total and reply.usage_output
    assert "Reasoning" in done["html"] and "code-block" in done["html"]
    title = await receive(socket)
    assert title["type"] == "title" and title["title"]
    await socket.disconnect()
    await replies_finished()


async def test_stop_cancels_upstream_and_keeps_the_partial_text(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    text = "[[emulator tokens_per_second=40 tokens=400]] Tell me a long story"
    await socket.send_json_to({"type": "send", "text": text})
    await receive(socket)  # the turn
    seen = 0
    while seen < 4:
        frame = await receive(socket)
        seen += bool(frame.get("text"))
    await socket.send_json_to({"type": "stop"})
    _, done = await until(socket, "done")
    reply = await Message.objects.aget(pk=done["id"])
    assert reply.status == MessageStatus.STOPPED
    full = compose_reply(strip_directives(text), tokens=400).full_text
    assert reply.text and full.startswith(reply.text) and len(reply.text) < len(full)
    assert "Stopped" in done["html"]
    await socket.disconnect()
    await replies_finished()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_upstream_failure_mid_stream_keeps_the_partial_text(provider, alice):
    conversation = await new_conversation(alice, provider)
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    text = "[[emulator break_after=14]] What went wrong?"
    await socket.send_json_to({"type": "send", "text": text})
    _, done = await until(socket, "done")
    reply = await Message.objects.aget(pk=done["id"])
    assert reply.status == MessageStatus.FAILED
    assert reply.text and compose_reply(strip_directives(text)).full_text.startswith(reply.text)
    # In a person's words, with how far it got; the transport's words only in the detail.
    name = {"orq": "Orq", "mistral": "Mistral"}[provider]
    words = len(reply.text.split())
    assert (
        reply.error == f"The connection to {name} broke after {words} words. What arrived is kept."
    )
    assert "incomplete chunked read" in reply.error_detail
    assert "Retry" in done["html"] and reply.error in done["html"]
    assert "chunked" not in done["html"] and "peer closed" not in done["html"]
    await socket.disconnect()
    await replies_finished()


@pytest.mark.slow
async def test_reconnect_mid_reply_resumes_with_no_gap_or_duplicate(alice):
    conversation = await new_conversation(alice, "orq")
    first, _, _ = await socket_for(conversation.pk, alice)
    await receive(first)
    text = "[[emulator tokens_per_second=60 tokens=120]] Stream while I reload"
    await first.send_json_to({"type": "send", "text": text})
    await receive(first)
    for _ in range(6):
        await receive(first)
    await first.disconnect()  # the tab reloads: the reply goes on

    second, _, _ = await socket_for(conversation.pk, alice)
    snapshot = await receive(second)
    assert snapshot["type"] == "snapshot" and snapshot["streaming"]
    assert snapshot["seq"] >= 6
    deltas, done = await until(second, "done")
    browser = Browser(seq=snapshot["seq"])
    for frame in (f for f in deltas if f["type"] == "delta"):
        browser.apply(frame)
    assert done["seq"] == browser.seq, "the last delta before done is the reply's last event"
    reply = await Message.objects.aget(pk=done["id"])
    assert reply.status == MessageStatus.COMPLETE
    assert reply.text == compose_reply(strip_directives(text), tokens=120).full_text
    await second.disconnect()
    await replies_finished()


async def test_closing_the_tab_does_not_lose_the_reply(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "[[emulator tokens_per_second=200]] Bye"})
    await receive(socket)
    await socket.disconnect()
    await replies_finished()
    reply = await Message.objects.filter(conversation=conversation, role="assistant").alast()
    assert reply.status == MessageStatus.COMPLETE
    assert reply.text == compose_reply("Bye").full_text


async def test_a_foreign_conversation_is_refused_with_4404(alice, bob):
    conversation = await new_conversation(alice, "orq")
    socket, connected, _ = await socket_for(conversation.pk, bob)
    assert connected
    assert (await socket.receive_output(timeout=WITHIN))["code"] == 4404


async def test_an_anonymous_visitor_is_refused_with_4403(alice):
    conversation = await new_conversation(alice, "orq")
    socket, _, _ = await socket_for(conversation.pk, None)
    assert (await socket.receive_output(timeout=WITHIN))["code"] == 4403


async def test_a_foreign_origin_is_refused(alice):
    conversation = await new_conversation(alice, "orq")
    _, connected, _ = await socket_for(conversation.pk, alice, origin=b"https://evil.example")
    assert not connected


async def test_an_oversized_message_is_refused_and_nothing_is_saved(alice, settings):
    settings.WEBCHAT_MAX_MESSAGE_CHARS = 50
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "x" * 51})
    frame = await receive(socket)
    assert frame["type"] == "error" and "the limit is 50" in frame["message"]
    assert not await Message.objects.filter(conversation=conversation).aexists()
    await socket.disconnect()


async def test_the_send_rate_is_limited_per_user(alice, settings):
    settings.WEBCHAT_SENDS_PER_MINUTE = 1
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "one"})
    await until(socket, "done")
    await socket.send_json_to({"type": "send", "text": "two"})
    _, frame = await until(socket, "error")
    assert "1 messages a minute" in frame["message"]
    assert await Message.objects.filter(conversation=conversation, role="user").acount() == 1
    await socket.disconnect()
    await replies_finished()


async def test_regenerate_replaces_the_last_reply(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "First"})
    _, first = await until(socket, "done")
    await socket.send_json_to({"type": "regenerate"})
    _, turn = await until(socket, "turn")
    assert turn["replace_from"] == first["id"]
    _, second = await until(socket, "done")
    messages = [m async for m in Message.objects.filter(conversation=conversation).shown()]
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[1].pk == second["id"]
    assert messages[1].text == compose_reply("First").full_text
    await socket.disconnect()
    await replies_finished()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_edit_an_earlier_message_continues_from_there(provider, alice):
    conversation = await new_conversation(alice, provider)
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    for text in ("Question one", "Question two"):
        await socket.send_json_to({"type": "send", "text": text})
        await until(socket, "done")
    second = await Message.objects.filter(conversation=conversation, role="user").alast()
    await socket.send_json_to({"type": "edit", "id": second.pk, "text": "Question 2b"})
    _, turn = await until(socket, "turn")
    assert turn["replace_from"] == second.pk
    await until(socket, "done")
    messages = [m async for m in Message.objects.filter(conversation=conversation).shown()]
    assert [m.text for m in messages] == [
        "Question one",
        compose_reply("Question one").full_text,
        "Question 2b",
        compose_reply("Question 2b").full_text,
    ]
    await conversation.arefresh_from_db()
    assert conversation.superseded_upstream_ids, "the old upstream conversation is kept to delete"
    await socket.disconnect()
    await replies_finished()


async def test_one_reply_at_a_time(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "[[emulator tokens_per_second=20]] slow"})
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "too soon"})
    _, frame = await until(socket, "error")
    assert "still being written" in frame["message"]
    await socket.send_json_to({"type": "stop"})
    await until(socket, "done")
    await socket.disconnect()
    await replies_finished()


@pytest.mark.parametrize("choice", ["orq:agent:demo", "mistral:agent:demo"])
async def test_an_agents_tool_call_and_result_are_shown_compactly(choice, alice):
    conversation = await services.conversation_create(owner=alice, choice=choice_for(choice))
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "Find the holiday policy"})
    _, done = await until(socket, "done")
    expected = compose_reply("Find the holiday policy", agent=True)
    assert 'class="tools"' in done["html"]
    assert f"<code>{expected.tool.name}</code>" in done["html"]
    assert "Result" in done["html"]
    reply = await Message.objects.aget(pk=done["id"])
    assert reply.text == expected.full_text
    assert [p["kind"] for p in reply.tools] == ["tool_call", "tool_result"]
    await socket.disconnect()
    await replies_finished()


async def test_a_reply_whose_lease_ran_out_is_marked_interrupted_with_its_text(alice):
    conversation = await new_conversation(alice, "mistral")
    stale = await Message.objects.acreate(
        conversation=conversation,
        role="assistant",
        status=MessageStatus.STREAMING,
        text="Half a thought",
        runner="a-process-that-died",
        lease_until=timezone.now() - timedelta(seconds=5),
    )
    socket, _, _ = await socket_for(conversation.pk, alice)
    snapshot = await receive(socket)
    assert snapshot["id"] == stale.pk and not snapshot["streaming"]
    assert "Interrupted" in snapshot["html"] and "Half a thought" in snapshot["html"]
    await stale.arefresh_from_db()
    assert stale.status == MessageStatus.INTERRUPTED and stale.text == "Half a thought"
    await socket.disconnect()


async def test_a_live_reply_of_another_process_is_left_alone(alice):
    conversation = await new_conversation(alice, "mistral")
    live = await Message.objects.acreate(
        conversation=conversation,
        role="assistant",
        status=MessageStatus.STREAMING,
        text="Still going",
        runner="another-process",
        lease_until=timezone.now() + timedelta(seconds=30),
    )
    assert await leases.mark_expired_interrupted() == 0
    await live.arefresh_from_db()
    assert live.status == MessageStatus.STREAMING
