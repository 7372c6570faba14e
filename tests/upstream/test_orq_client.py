"""Our Orq client against the live emulator: every operation, parsed into our types."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from emulator.assistant import compose_reply
from upstream.errors import NotFound, Rejected
from upstream.types import (
    Done,
    PartDone,
    ReasoningDelta,
    Started,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolDone,
    ToolResultPart,
    ToolStarted,
)

from .conftest import collect

DEMO_AGENT_ID = "agent_01kfd2demq7v3m8xw5r9ht4abc"
MODEL = "openai/gpt-4o"


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_create_conversation_returns_our_conversation(orq):
    conversation = await orq.create_conversation(title="Quarterly plan", model=MODEL)
    assert conversation.id.startswith("conv_")
    assert conversation.provider == "orq"
    assert conversation.title == "Quarterly plan"
    assert conversation.model == MODEL
    assert conversation.agent is None
    assert conversation.created.tzinfo is not None


async def test_list_walks_pages_newest_first_both_ways(orq):
    created = [await orq.create_conversation(title=f"page test {i}", model=MODEL) for i in range(5)]
    first = await orq.list_conversations(limit=2)
    assert len(first.conversations) == 2
    assert first.has_more
    assert first.next_cursor == first.conversations[-1].id
    second = await orq.list_conversations(limit=2, starting_after=first.next_cursor)
    assert all(a.created >= b.created for a in first.conversations for b in second.conversations)
    back = await orq.list_conversations(limit=2, ending_before=second.conversations[0].id)
    assert [c.id for c in back.conversations] == [c.id for c in first.conversations]

    seen = [c.id async for c in orq.iter_conversations(page_size=2)]
    assert len(seen) == len(set(seen))
    ours = [c.id for c in created]
    assert [i for i in seen if i in ours] == list(reversed(ours))


async def test_agent_conversations_are_listed_only_under_their_entity(orq):
    agent_conversation = await orq.create_conversation(agent_id=DEMO_AGENT_ID)
    standalone = [c.id async for c in orq.iter_conversations()]
    by_agent = [c.id async for c in orq.iter_conversations(entity_id=DEMO_AGENT_ID)]
    assert agent_conversation.id in by_agent
    assert agent_conversation.id not in standalone
    assert agent_conversation.agent == DEMO_AGENT_ID


async def test_generate_name_titles_an_untitled_conversation_once(orq):
    conversation = await orq.create_conversation(model=MODEL)
    assert conversation.title == "Untitled"
    named = await orq.generate_name(conversation.id, context="How do I rotate my API keys safely?")
    assert named.id == conversation.id
    assert named.title not in ("", "Untitled")
    with pytest.raises(Rejected) as excinfo:
        await orq.generate_name(conversation.id, context="again")
    assert excinfo.value.status == 400
    assert "display name" in str(excinfo.value)


async def test_rename_changes_the_title_upstream(orq):
    conversation = await orq.create_conversation(title="Before", model=MODEL)
    renamed = await orq.rename_conversation(conversation.id, title="After")
    assert renamed.title == "After"
    assert (await orq.get_conversation(conversation.id)).conversation.title == "After"


async def test_delete_removes_the_conversation(orq):
    conversation = await orq.create_conversation(model=MODEL)
    await orq.delete_conversation(conversation.id)
    with pytest.raises(NotFound):
        await orq.get_conversation(conversation.id)
    with pytest.raises(NotFound):
        await orq.delete_conversation(conversation.id)


async def test_streamed_response_yields_the_emulators_reply_in_order(orq):
    conversation = await orq.create_conversation(model=MODEL)
    prompt = "Explain cursor pagination with an example"
    async with orq.stream_response(conversation.id, text=prompt, model=MODEL) as events:
        received = await collect(events)
    expected = compose_reply(prompt)

    assert isinstance(received[0], Started)
    assert received[0].turn_ref and received[0].response_id.startswith("resp_")
    assert isinstance(received[-1], Done)
    kinds = [e.kind for e in received]
    assert kinds.index("reasoning_delta") < kinds.index("text_delta")
    assert sum(isinstance(e, TextDelta) for e in received) == len(expected.text) > 3
    assert "".join(e.text for e in received if isinstance(e, ReasoningDelta)) == (
        expected.full_reasoning
    )
    assert text_of(received) == expected.full_text
    text_done = [e for e in received if isinstance(e, PartDone) and isinstance(e.part, TextPart)]
    assert text_done[-1].part.text == expected.full_text
    usage = received[-1].usage
    assert usage.output == len(expected.reasoning) + len(expected.text)
    assert usage.total == usage.input + usage.output
    assert received[-1].finish_reason == "stop"


async def test_turns_continue_with_task_id_and_are_kept_in_history(orq):
    conversation = await orq.create_conversation(model=MODEL)
    async with orq.stream_response(conversation.id, text="First question", model=MODEL) as events:
        first = await collect(events)
    task_id = first[0].turn_ref
    async with orq.stream_response(
        conversation.id, text="Second question", model=MODEL, task_id=task_id
    ) as events:
        second = await collect(events)
    assert text_of(second) == compose_reply("Second question").full_text

    detail = await orq.get_conversation(conversation.id)
    assert [m.role for m in detail.messages] == ["user", "assistant", "user", "assistant"]
    assert detail.messages[0].text == "First question"
    assert detail.messages[1].text == compose_reply("First question").full_text
    assert detail.messages[3].text == compose_reply("Second question").full_text
    assert all(m.id.startswith("msg_") for m in detail.messages)


async def test_agent_response_returns_tool_call_result_and_text(orq):
    prompt = "What does the refund policy say?"
    result = await orq.agent_response("demo", text=prompt)
    expected = compose_reply(prompt, agent=True)
    parts = [p for m in result.messages for p in m.parts]
    calls = [p for p in parts if isinstance(p, ToolCallPart)]
    results = [p for p in parts if isinstance(p, ToolResultPart)]
    assert calls[0].name == expected.tool.name
    assert calls[0].arguments == expected.tool.arguments
    assert results[0].call_id == calls[0].call_id
    assert results[0].result == expected.tool.result
    assert result.text == expected.full_text
    assert result.response_id.startswith("resp_") and result.turn_ref
    assert result.usage.total == result.usage.input + result.usage.output > 0


async def test_agent_response_in_background_returns_at_once_and_blocks_the_task(orq):
    result = await orq.agent_response(
        "demo", text="[[emulator tokens_per_second=20 tokens=40]] Summarise", background=True
    )
    assert result.turn_ref
    assert result.messages == ()
    with pytest.raises(Rejected) as excinfo:
        await orq.agent_response("demo", text="Next", task_id=result.turn_ref)
    assert excinfo.value.status == 409


async def test_streamed_agent_response_announces_the_tool(orq):
    prompt = "Find the onboarding checklist"
    async with orq.stream_agent_response("demo", text=prompt) as events:
        received = await collect(events)
    expected = compose_reply(prompt, agent=True)
    kinds = [e.kind for e in received]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert kinds.index("tool_started") < kinds.index("tool_done") < kinds.index("text_delta")
    started = next(e for e in received if isinstance(e, ToolStarted))
    done = next(e for e in received if isinstance(e, ToolDone))
    assert started.name == expected.tool.name and done.result == expected.tool.result
    assert text_of(received) == expected.full_text


async def test_agent_turn_with_a_conversation_is_stored_there(orq):
    conversation = await orq.create_conversation(agent_id=DEMO_AGENT_ID)
    prompt = "Which plan fits a team of five?"
    async with orq.stream_agent_response(
        "demo", text=prompt, conversation_id=conversation.id
    ) as events:
        await collect(events)
    detail = await orq.get_conversation(conversation.id)
    assert [m.text for m in detail.messages] == [
        prompt,
        compose_reply(prompt, agent=True).full_text,
    ]


async def test_unknown_agent_is_not_found(orq):
    with pytest.raises(NotFound):
        await orq.agent_response("no-such-agent", text="hello")


async def test_one_pool_per_event_loop(orq, emulator_url):
    """A client used from another loop (async_to_sync, a thread) gets its own pool."""
    here = orq.http.client()
    await orq.list_conversations(limit=1)

    def other_loop():
        async def use():
            client = orq.http.client()
            await orq.list_conversations(limit=1)
            await orq.http.aclose()
            return client

        return asyncio.run(use())

    there = await asyncio.to_thread(other_loop)
    assert there is not here
    assert orq.http.client() is here


async def test_agent_turns_with_variables_and_memory_are_echoed(orq):
    variables = {"customer_name": "Jane", "plan": "team"}
    memory = {"entity_id": f"user_{uuid.uuid4().hex}"}
    first = await orq.agent_response(
        "demo",
        text="Can I add a seat?",
        variables=variables,
        memory=memory,
        thread={"id": "thread_1", "tags": ["billing"]},
        metadata={"source": "web"},
    )
    expected = compose_reply("Can I add a seat?", agent=True, variables=variables)
    assert first.text == expected.full_text
    assert first.text.startswith("With your variables (customer_name=Jane, plan=team)")

    async with orq.stream_agent_response("demo", text="And two?", memory=memory) as events:
        received = await collect(events)
    expected = compose_reply("And two?", agent=True, remembered=1)
    assert text_of(received) == expected.full_text
    assert text_of(received).startswith("I remember you: 1 earlier message.")


async def test_a_bad_memory_is_rejected(orq):
    with pytest.raises(Rejected) as excinfo:
        await orq.agent_response("demo", text="Hi", memory={"id": "user_42"})
    assert excinfo.value.status == 400
    assert "memory.entity_id" in str(excinfo.value)
