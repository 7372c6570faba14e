"""A Mistral conversation started with earlier turns: they go on the wire as entries."""

from __future__ import annotations

import pytest

from emulator.assistant import compose_reply
from upstream.mistral import _start_body
from upstream.types import Started

from .conftest import collect
from .test_mistral_client import text_of

MODEL = "mistral-small-latest"
EARLIER = (("user", "What is a lease?"), ("assistant", "A lease is a promise with a deadline."))


async def test_a_streamed_start_gives_the_earlier_turns_as_entries(mistral):
    async with mistral.stream_start(
        text="And when it runs out?", model=MODEL, history=EARLIER
    ) as s:
        events = await collect(s)
    assert text_of(events) == compose_reply("And when it runs out?").full_text

    conversation_id = next(e.conversation_id for e in events if isinstance(e, Started))
    stored = await mistral.http.call("GET", f"/v1/conversations/{conversation_id}/history")
    entries = [(e["type"], e["role"], e["content"]) for e in stored["entries"]]
    assert entries[:3] == [
        ("message.input", "user", "What is a lease?"),
        ("message.output", "assistant", "A lease is a promise with a deadline."),
        ("message.input", "user", "And when it runs out?"),
    ]
    assert entries[3][0] == "message.output"
    roles = [m.role for m in await mistral.history(conversation_id)]
    assert roles == ["user", "assistant", "user", "assistant"]


async def test_a_start_without_history_sends_the_text_alone(mistral):
    body = _start_body("Hello", MODEL, None, None, None, stream=True)
    assert body["inputs"] == "Hello"
    turn = await mistral.start(text="Hello", model=MODEL, history=())
    assert [m.role for m in await mistral.history(turn.conversation_id)] == ["user", "assistant"]


def test_an_earlier_turn_of_another_role_is_refused():
    with pytest.raises(ValueError, match="not 'tool'"):
        _start_body("Hi", MODEL, None, None, None, (("tool", "x"),), stream=False)
