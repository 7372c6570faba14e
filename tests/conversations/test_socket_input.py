"""Every frame a chat socket receives gets an answer: a malformed one a clear error frame, with
nothing stored, and the socket goes on answering. Two tabs sending at once each learn which
send was theirs."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from conversations.consumers import SOMETHING_WENT_WRONG
from conversations.models import Message
from tests.replies import replies_finished
from tests.sockets import new_conversation, receive, socket_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

NOT_UNDERSTOOD = "That request was not understood."
NOT_TEXT = "Its text must be text."
NO_SUCH_MESSAGE = "That message is not in this conversation."

MALFORMED = [
    # Non-string fields used to become messages ("None", "42", "['a']").
    pytest.param('{"type": "send", "text": null}', "It has no text.", id="null-text"),
    pytest.param('{"type": "send", "text": 42}', NOT_TEXT, id="number-text"),
    pytest.param('{"type": "send", "text": ["a"]}', NOT_TEXT, id="list-text"),
    pytest.param('{"type": "send", "text": {"a": 1}}', NOT_TEXT, id="object-text"),
    pytest.param('{"type": "send", "text": true}', NOT_TEXT, id="bool-text"),
    pytest.param('{"type": "send"}', "It has no text.", id="missing-text"),
    pytest.param('{"type": "edit", "id": 1, "text": 7}', NOT_TEXT, id="number-edit-text"),
    # These closed the socket with 1011 and no word.
    pytest.param('{"type": "send", "text": "a \\ud800 b"}', "broken character", id="surrogate"),
    pytest.param('{"type": "send", "text": "a\\u0000b"}', "cannot contain NUL", id="nul"),
    pytest.param('{"type": "edit", "id": 1e999, "text": "x"}', NO_SUCH_MESSAGE, id="id-1e999"),
    pytest.param('{"type": "edit", "id": 1.0, "text": "x"}', NO_SUCH_MESSAGE, id="id-float"),
    pytest.param('{"type": "edit", "id": "1", "text": "x"}', NO_SUCH_MESSAGE, id="id-string"),
    pytest.param('{"type": "edit", "id": true, "text": "x"}', NO_SUCH_MESSAGE, id="id-bool"),
    pytest.param('{"type": "edit", "id": 0, "text": "x"}', NO_SUCH_MESSAGE, id="id-zero"),
    pytest.param('{"type": "edit", "id": -3, "text": "x"}', NO_SUCH_MESSAGE, id="id-negative"),
    pytest.param(
        '{"type": "edit", "id": 9223372036854775808, "text": "x"}', NO_SUCH_MESSAGE, id="id-2**63"
    ),
    pytest.param('{"type": "edit", "text": "x"}', "It has no id.", id="id-missing"),
    pytest.param("", NOT_UNDERSTOOD, id="empty-frame"),
    pytest.param("{not json", NOT_UNDERSTOOD, id="not-json"),
    pytest.param("[" * 100_000, NOT_UNDERSTOOD, id="nested-too-deep"),
    pytest.param('["send", "hi"]', NOT_UNDERSTOOD, id="array"),
    pytest.param("null", NOT_UNDERSTOOD, id="null"),
    pytest.param('{"text": "hi"}', "Unknown request.", id="no-type"),
    pytest.param('{"type": 1, "text": "hi"}', "Unknown request.", id="number-type"),
    pytest.param('{"type": "launch"}', "Unknown request.", id="unknown-type"),
    pytest.param('{"type": "send", "text": "hi", "client_id": {}}', "client_id", id="client-id"),
]


async def answers_afterwards(socket) -> None:
    """The socket is still open and still answers a valid request."""
    await socket.send_json_to({"type": "snapshot"})
    assert await receive(socket) == {"type": "snapshot", "id": None}


@pytest.mark.parametrize(("frame", "says"), MALFORMED)
async def test_a_malformed_frame_is_answered_and_the_socket_stays_open(frame, says, alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_input({"type": "websocket.receive", "text": frame})
    answer = await receive(socket)
    assert answer["type"] == "error" and says in answer["message"], answer
    assert not await Message.objects.filter(conversation=conversation).aexists()
    await answers_afterwards(socket)
    await socket.disconnect()


async def test_a_binary_frame_is_answered_and_the_socket_stays_open(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_to(bytes_data=json.dumps({"type": "send", "text": "hi"}).encode())
    answer = await receive(socket)
    assert answer["type"] == "error" and "not binary data" in answer["message"]
    assert not await Message.objects.filter(conversation=conversation).aexists()
    await answers_afterwards(socket)
    await socket.disconnect()


async def test_a_refusal_names_the_request_it_refuses(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "a\x00b", "client_id": "c-1"})
    assert await receive(socket) == {
        "type": "error",
        "message": "Messages cannot contain NUL characters.",
        "client_id": "c-1",
    }
    await socket.send_json_to({"type": "edit", "id": 10**30, "text": "x", "client_id": "c-2"})
    assert (await receive(socket))["client_id"] == "c-2"
    await socket.disconnect()


async def test_an_unexpected_failure_is_answered_and_logged_not_a_dropped_socket(
    alice, caplog, settings
):
    # A setting the operator got wrong is one way for a request to fail in a way nobody
    # foresaw: the page must still hear something, and the log must have the detail.
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    settings.WEBCHAT_MAX_MESSAGE_CHARS = None  # len(text) > None raises TypeError
    with caplog.at_level(logging.ERROR, logger="conversations.consumers"):
        await socket.send_json_to({"type": "send", "text": "hi", "client_id": "c-9"})
        answer = await receive(socket)
    assert answer == {"type": "error", "message": SOMETHING_WENT_WRONG, "client_id": "c-9"}
    assert "TypeError" in caplog.text
    settings.WEBCHAT_MAX_MESSAGE_CHARS = 100
    await answers_afterwards(socket)
    await socket.disconnect()


async def test_two_tabs_sending_at_once_each_learn_whose_turn_it_is(alice):
    conversation = await new_conversation(alice, "mistral")
    first, _, _ = await socket_for(conversation.pk, alice)
    second, _, _ = await socket_for(conversation.pk, alice)
    await receive(first)
    await receive(second)
    slow = "[[emulator tokens_per_second=20]]"
    await asyncio.gather(
        first.send_json_to({"type": "send", "text": f"{slow} from one", "client_id": "tab-1"}),
        second.send_json_to({"type": "send", "text": f"{slow} from two", "client_id": "tab-2"}),
    )

    async def turn_and_own_error(socket, mine: str) -> tuple[dict, dict | None]:
        """The turn frame, and this tab's refusal if it lost (it comes soon after)."""
        _, turn = await until(socket, "turn")
        if turn["client_id"] == mine:
            return turn, None
        while True:
            frame = await receive(socket)
            if frame["type"] == "error":
                return turn, frame

    (turn_1, error_1), (turn_2, error_2) = await asyncio.gather(
        turn_and_own_error(first, "tab-1"), turn_and_own_error(second, "tab-2")
    )
    winner = turn_1["client_id"]
    assert winner in ("tab-1", "tab-2")
    assert turn_2["client_id"] == winner, "both tabs see the same, single turn"
    loser_error = error_2 if winner == "tab-1" else error_1
    assert (error_1 if winner == "tab-1" else error_2) is None
    assert loser_error["client_id"] == ("tab-2" if winner == "tab-1" else "tab-1")
    assert "still being written" in loser_error["message"]
    texts = [m.text async for m in Message.objects.filter(conversation=conversation, role="user")]
    assert texts == [f"{slow} from {'one' if winner == 'tab-1' else 'two'}"]

    await first.send_json_to({"type": "stop"})
    await until(first, "done")
    await first.disconnect()
    await second.disconnect()
    await replies_finished()


async def test_a_widget_style_request_is_unknown_on_the_team_chat(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "auth", "token": "t"})
    assert await receive(socket) == {"type": "error", "message": "Unknown request."}
    await socket.disconnect()
