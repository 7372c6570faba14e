"""Our Mistral client against the live emulator: every operation, parsed into our types."""

from __future__ import annotations

import pytest

from emulator.assistant import compose_reply, cut_to
from upstream.errors import NotFound, Rejected
from upstream.types import (
    Done,
    ReasoningDelta,
    ReasoningPart,
    Started,
    TextDelta,
    ToolCallPart,
    ToolResultPart,
)

from .conftest import collect

MODEL = "mistral-medium-latest"
DEMO_AGENT_ID = "ag_0694d3e0c7a47f1e8000a1b2c3d4e5f6"


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_start_returns_the_reply_with_reasoning_and_usage(mistral):
    prompt = "Draft a release note for version 2"
    turn = await mistral.start(text=prompt, model=MODEL, title="Release notes")
    expected = compose_reply(prompt)
    assert turn.conversation_id.startswith("conv_")
    assert turn.text == expected.full_text
    reasoning = [p for m in turn.messages for p in m.parts if isinstance(p, ReasoningPart)]
    assert "".join(p.text for p in reasoning) == expected.full_reasoning
    assert turn.usage.output == len(expected.reasoning) + len(expected.text)
    assert turn.usage.total == turn.usage.input + turn.usage.output
    assert turn.model == MODEL

    conversation = await mistral.get_conversation(turn.conversation_id)
    assert conversation.id == turn.conversation_id
    assert conversation.title == "Release notes"
    assert conversation.model == MODEL and conversation.agent is None


async def test_start_with_an_agent_runs_its_tool(mistral):
    prompt = "Look up the office opening hours"
    turn = await mistral.start(text=prompt, agent_id=DEMO_AGENT_ID)
    expected = compose_reply(prompt, agent=True)
    parts = [p for m in turn.messages for p in m.parts]
    call = next(p for p in parts if isinstance(p, ToolCallPart))
    result = next(p for p in parts if isinstance(p, ToolResultPart))
    assert call.name == expected.tool.name
    assert result.call_id == call.call_id
    assert turn.text == expected.full_text

    conversation = await mistral.get_conversation(turn.conversation_id)
    assert conversation.agent == DEMO_AGENT_ID and conversation.model is None


async def test_list_pages_newest_first(mistral):
    ids = [
        (await mistral.start(text=f"list test {i}", model=MODEL)).conversation_id for i in range(3)
    ]
    first = await mistral.list_conversations(page=0, page_size=2)
    assert first.has_more and first.next_cursor == "1"
    assert [c.id for c in first.conversations] == [ids[2], ids[1]]
    second = await mistral.list_conversations(page=1, page_size=2)
    assert second.conversations[0].id == ids[0]
    every = [c.id async for c in mistral.iter_conversations(page_size=2)]
    assert len(every) == len(set(every))
    assert [i for i in every if i in ids] == list(reversed(ids))


async def test_append_history_and_messages(mistral):
    turn = await mistral.start(text="Hello there", model=MODEL)
    follow = await mistral.append(turn.conversation_id, text="And a follow-up")
    assert follow.conversation_id == turn.conversation_id
    assert follow.text == compose_reply("And a follow-up").full_text

    history = await mistral.history(turn.conversation_id)
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0].text == "Hello there"
    assert history[3].text == compose_reply("And a follow-up").full_text
    assert any(isinstance(p, ReasoningPart) for p in history[1].parts)

    messages = await mistral.messages(turn.conversation_id)
    assert [(m.role, m.text) for m in messages] == [(m.role, m.text) for m in history]


async def test_restart_branches_into_a_new_conversation(mistral):
    turn = await mistral.start(text="Plan a trip to Lyon", model=MODEL)
    await mistral.append(turn.conversation_id, text="Make it three days")
    history = await mistral.history(turn.conversation_id)
    first_reply = history[1]

    branch = await mistral.restart(
        turn.conversation_id, from_entry_id=first_reply.id, text="Make it a weekend"
    )
    assert branch.conversation_id != turn.conversation_id
    assert branch.text == compose_reply("Make it a weekend").full_text
    branched = await mistral.history(branch.conversation_id)
    assert [m.text for m in branched] == [
        "Plan a trip to Lyon",
        first_reply.text,
        "Make it a weekend",
        branch.text,
    ]
    # The original is untouched.
    assert len(await mistral.history(turn.conversation_id)) == 4


async def test_restart_from_an_unknown_entry_is_not_found(mistral):
    turn = await mistral.start(text="Hi", model=MODEL)
    with pytest.raises(NotFound):
        await mistral.restart(turn.conversation_id, from_entry_id="msg_nope", text="x")


async def test_delete_removes_the_conversation(mistral):
    turn = await mistral.start(text="Short-lived", model=MODEL)
    await mistral.delete_conversation(turn.conversation_id)
    with pytest.raises(NotFound):
        await mistral.get_conversation(turn.conversation_id)
    with pytest.raises(NotFound):
        await mistral.history(turn.conversation_id)


async def test_empty_input_is_rejected_with_the_validation_detail(mistral):
    with pytest.raises(Rejected) as excinfo:
        await mistral.http.call("POST", "/v1/conversations", body={"model": MODEL})
    assert excinfo.value.status == 422
    assert "inputs" in str(excinfo.value)


async def test_stream_start_yields_started_reasoning_text_and_done(mistral):
    prompt = "Write a haiku about pagination"
    async with mistral.stream_start(text=prompt, model=MODEL) as events:
        received = await collect(events)
    expected = compose_reply(prompt)
    assert isinstance(received[0], Started) and received[0].conversation_id.startswith("conv_")
    assert isinstance(received[-1], Done)
    assert "".join(e.text for e in received if isinstance(e, ReasoningDelta)) == (
        expected.full_reasoning
    )
    assert sum(isinstance(e, TextDelta) for e in received) == len(expected.text) > 3
    assert text_of(received) == expected.full_text
    assert received[-1].usage.output == len(expected.reasoning) + len(expected.text)


async def test_stream_start_with_an_agent_announces_the_tool(mistral):
    prompt = "Search the handbook for holidays"
    async with mistral.stream_start(text=prompt, agent_id=DEMO_AGENT_ID) as events:
        received = await collect(events)
    kinds = [e.kind for e in received]
    assert kinds.index("tool_started") < kinds.index("tool_done") < kinds.index("text_delta")
    assert text_of(received) == compose_reply(prompt, agent=True).full_text


async def test_stream_append_and_restart(mistral):
    async with mistral.stream_start(text="Begin", model=MODEL) as events:
        started = (await collect(events))[0]
    conversation_id = started.conversation_id

    async with mistral.stream_append(conversation_id, text="Continue") as events:
        appended = await collect(events)
    assert appended[0].conversation_id == conversation_id
    assert text_of(appended) == compose_reply("Continue").full_text

    history = await mistral.history(conversation_id)
    async with mistral.stream_restart(
        conversation_id, from_entry_id=history[1].id, text="Instead"
    ) as events:
        restarted = await collect(events)
    assert restarted[0].conversation_id not in (None, conversation_id)
    assert text_of(restarted) == compose_reply("Instead").full_text
    branched = await mistral.history(restarted[0].conversation_id)
    assert [m.text for m in branched][-2:] == ["Instead", compose_reply("Instead").full_text]


async def test_instructions_and_max_tokens_shape_the_reply_on_every_turn(mistral):
    instructions = "Answer like a tour guide."
    turn = await mistral.start(
        text="Plan a day in Nice",
        model=MODEL,
        instructions=instructions,
        completion_args={"max_tokens": 12, "temperature": 0.4},
    )
    assert turn.usage.output == 12
    expected = cut_to(compose_reply("Plan a day in Nice", instructions=instructions), 12)
    assert turn.text == expected.full_text
    assert turn.text.startswith("Following your instructions")

    # The conversation keeps its max_tokens; `{}` runs one turn without it.
    kept = await mistral.append(turn.conversation_id, text="And the evening?")
    assert kept.usage.output == 12
    cleared = await mistral.append(turn.conversation_id, text="Tell me all", completion_args={})
    assert cleared.text == compose_reply("Tell me all", instructions=instructions).full_text

    history = await mistral.history(turn.conversation_id)
    branch = await mistral.restart(
        turn.conversation_id,
        from_entry_id=history[1].id,
        text="A rainy day instead",
        completion_args={"max_tokens": 20},
    )
    assert branch.usage.output == 20
    assert branch.text == (
        cut_to(compose_reply("A rainy day instead", instructions=instructions), 20).full_text
    )


async def test_streamed_turns_take_completion_args_too(mistral):
    instructions = "Be brief."
    async with mistral.stream_start(
        text="Explain caching",
        model=MODEL,
        instructions=instructions,
        completion_args={"max_tokens": 10},
    ) as events:
        started = await collect(events)
    expected = cut_to(compose_reply("Explain caching", instructions=instructions), 10)
    assert text_of(started) == expected.full_text
    assert started[-1].usage.output == 10
    conversation_id = started[0].conversation_id

    async with mistral.stream_append(
        conversation_id, text="Go on", completion_args={"max_tokens": 15}
    ) as events:
        appended = await collect(events)
    assert appended[-1].usage.output == 15

    history = await mistral.history(conversation_id)
    async with mistral.stream_restart(
        conversation_id, from_entry_id=history[1].id, text="Other", completion_args={}
    ) as events:
        restarted = await collect(events)
    assert text_of(restarted) == compose_reply("Other", instructions=instructions).full_text
