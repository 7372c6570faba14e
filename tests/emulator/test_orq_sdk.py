"""The official Orq SDK (4.1.15) against the live emulator: every operation parses, values agree."""

from __future__ import annotations

import base64
import re
import time
from itertools import groupby

import pytest
from orq_ai_sdk import Orq, models

from emulator import ids
from emulator.agents import ORQ_AGENT_ID, ORQ_AGENT_KEY, ORQ_AGENT_MODEL
from emulator.assistant import compose_reply, compose_title

# taskId is the only continuation field this API version has, though the SDK marks it deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:.*DEPRECATED:DeprecationWarning")

ORQ_ID = r"[0-9a-hjkmnp-tv-z]{26}"
MODEL = "openai/gpt-4o"


def user_message(text: str) -> dict:
    return {"role": "user", "parts": [{"kind": "text", "text": text}]}


def kinds(events: list) -> list[str]:
    """Event types with runs collapsed: forty part.delta in a row read as one part.delta."""
    return [name for name, _ in groupby(event.data.type for event in events)]


def deltas(events: list, kind: str) -> str:
    return "".join(
        getattr(e.data.data.delta, kind)
        for e in events
        if e.data.type == "part.delta" and e.data.data.delta.kind == kind
    )


def test_create_makes_an_untitled_standalone_conversation(orq: Orq) -> None:
    before = time.time() * 1000
    conversation = orq.conversations.create(project_id="prj_test", metadata={"model": MODEL})
    assert re.fullmatch(f"conv_{ORQ_ID}", conversation.id)
    assert conversation.kind == "conversation"
    assert conversation.display_name == "Untitled"
    assert before - 1000 <= conversation.created_at <= time.time() * 1000 + 1000
    assert conversation.updated_at == conversation.created_at
    assert conversation.created_by_id.startswith("user_")
    assert conversation.metadata.entity_id is None
    assert conversation.metadata.model == MODEL
    assert conversation.metadata.generating_title is False


def test_list_pages_newest_first_with_stripe_cursors(orq: Orq) -> None:
    entity = f"agent_{ids.ulid()}"
    created = [
        orq.conversations.create(project_id="prj_test", metadata={"entity_id": entity}).id
        for _ in range(5)
    ]
    newest_first = created[::-1]

    first = orq.conversations.list(limit=2, entity_id=entity)
    assert first.object == "list"
    assert [c.id for c in first.data] == newest_first[:2]
    assert first.has_more is True

    second = orq.conversations.list(limit=2, entity_id=entity, starting_after=first.data[-1].id)
    assert [c.id for c in second.data] == newest_first[2:4]
    assert second.has_more is True

    last = orq.conversations.list(limit=2, entity_id=entity, starting_after=second.data[-1].id)
    assert [c.id for c in last.data] == newest_first[4:]
    assert last.has_more is False

    back = orq.conversations.list(limit=2, entity_id=entity, ending_before=second.data[0].id)
    assert [c.id for c in back.data] == newest_first[:2]
    assert back.has_more is False

    back_from_last = orq.conversations.list(
        limit=1, entity_id=entity, ending_before=last.data[0].id
    )
    assert [c.id for c in back_from_last.data] == [newest_first[3]]
    assert back_from_last.has_more is True


def test_list_defaults_to_ten_and_without_entity_shows_only_standalone(orq: Orq) -> None:
    standalone = orq.conversations.create(project_id="prj_test").id
    bound = orq.conversations.create(project_id="prj_test", metadata={"entity_id": ORQ_AGENT_ID}).id

    listed = orq.conversations.list()
    assert len(listed.data) <= 10
    assert listed.data[0].id == standalone
    assert all(c.metadata.entity_id is None for c in listed.data)
    assert bound in [c.id for c in orq.conversations.list(limit=100, entity_id=ORQ_AGENT_ID).data]


def test_generate_name_titles_an_unnamed_conversation_from_the_context(orq: Orq) -> None:
    context = "How do I integrate the SDK with my Node.js application?"
    for unnamed in ("Untitled", ""):
        conversation = orq.conversations.create(project_id="prj_test", display_name=unnamed)
        named = orq.conversations.generate_name(conversation_id=conversation.id, context=context)
        assert named.id == conversation.id
        assert named.display_name == compose_title(context) == "How do I integrate the SDK"
        assert named.metadata.generating_title is False
        assert named.updated_at >= conversation.updated_at


def test_generate_name_on_a_named_conversation_is_400(orq: Orq) -> None:
    conversation = orq.conversations.create(project_id="prj_test", display_name="Support Chat")
    with pytest.raises(models.GenerateConversationNameConversationsResponseBody) as caught:
        orq.conversations.generate_name(conversation_id=conversation.id, context="Anything")
    assert caught.value.status_code == 400
    assert caught.value.data.message == "Conversation already has a display name"


def test_generate_name_of_unknown_conversation_is_404(orq: Orq) -> None:
    with pytest.raises(models.GenerateConversationNameConversationsResponseResponseBody) as caught:
        orq.conversations.generate_name(conversation_id=f"conv_{ids.ulid()}", context="Hi")
    assert caught.value.status_code == 404
    assert caught.value.data.message == "Conversation not found"


def test_update_renames_and_detaches_from_the_entity(orq: Orq) -> None:
    conversation = orq.conversations.create(
        project_id="prj_test", metadata={"entity_id": ORQ_AGENT_ID}
    )
    updated = orq.conversations.update(
        conversation_id=conversation.id,
        display_name="Renamed",
        metadata={"entity_id": None, "generating_title": True},
    )
    assert updated.id == conversation.id
    assert updated.display_name == "Renamed"
    assert updated.metadata.entity_id is None
    assert updated.metadata.generating_title is True
    assert orq.conversations.retrieve(conversation_id=conversation.id).display_name == "Renamed"


def test_delete_then_retrieve_is_404(orq: Orq) -> None:
    conversation = orq.conversations.create(project_id="prj_test")
    assert orq.conversations.delete(conversation_id=conversation.id) is None
    with pytest.raises(models.RetrieveConversationResponseBody) as caught:
        orq.conversations.retrieve(conversation_id=conversation.id)
    assert caught.value.status_code == 404
    assert caught.value.data.message == "Conversation not found"
    with pytest.raises(models.DeleteConversationResponseBody):
        orq.conversations.delete(conversation_id=conversation.id)


def test_streamed_turn_sends_reasoning_then_text_and_stores_both_messages(orq: Orq) -> None:
    prompt = "What's the weather in Paris tomorrow?"
    reply = compose_reply(prompt)
    conversation = orq.conversations.create(project_id="prj_test", metadata={"model": MODEL})

    with orq.conversations.create_conversation_response(
        conversation_id=conversation.id, message=user_message(prompt), model=MODEL
    ) as stream:
        events = list(stream)

    assert kinds(events) == [
        "response.started",
        "part.delta",
        "part.done",
        "part.delta",
        "part.done",
        "response.done",
    ]
    started = events[0].data.data
    assert re.fullmatch(f"resp_{ORQ_ID}", started.response_id)
    assert re.fullmatch("[0-9A-HJKMNP-TV-Z]{26}", started.task_id)
    assert started.model == MODEL
    assert started.workflow_run_id.startswith("wfr_")
    assert deltas(events, "reasoning") == reply.full_reasoning
    assert deltas(events, "text") == reply.full_text
    assert len([e for e in events if e.data.type == "part.delta"]) == len(reply.reasoning) + len(
        reply.text
    )
    text_done = [e.data.data for e in events if e.data.type == "part.done"][-1]
    assert text_done.part_id.startswith("text_")
    assert text_done.part["text"] == reply.full_text
    done = events[-1].data.data
    assert done.finish_reason == "stop"
    assert done.usage.prompt_tokens == reply.usage.prompt_tokens == 6
    assert done.usage.completion_tokens == reply.usage.completion_tokens
    assert done.usage.total_tokens == reply.usage.total_tokens

    stored = orq.conversations.retrieve(conversation_id=conversation.id)
    assert [(m.role, m.parts[0].text) for m in stored.messages] == [
        ("user", prompt),
        ("assistant", reply.full_text),
    ]
    user, assistant = stored.messages
    assert (user.id, assistant.id) == (started.user_message_id, started.assistant_message_id)
    assert user.conversation_id == assistant.conversation_id == conversation.id
    assert assistant.created_by_id == "system"
    assert user.created_by_id == conversation.created_by_id
    assert user.created_at <= assistant.created_at


def test_a_second_turn_continues_the_task_and_appends_to_history(orq: Orq) -> None:
    conversation = orq.conversations.create(project_id="prj_test")
    first = list(
        orq.conversations.create_conversation_response(
            conversation_id=conversation.id, message=user_message("Hello"), model=MODEL
        )
    )
    task = first[0].data.data.task_id
    second = list(
        orq.conversations.create_conversation_response(
            conversation_id=conversation.id,
            message=user_message("And then?"),
            model=MODEL,
            task_id=task,
        )
    )
    assert second[0].data.data.task_id == task
    messages = orq.conversations.retrieve(conversation_id=conversation.id).messages
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[3].parts[0].text == compose_reply("And then?").full_text


def test_agent_sync_response_holds_tool_call_tool_result_and_text(orq: Orq) -> None:
    prompt = "Find the docs about streaming replies"
    reply = compose_reply(prompt, agent=True)
    response = orq.agents.responses.create(agent_key=ORQ_AGENT_KEY, message=user_message(prompt))

    assert isinstance(response, models.CreateAgentResponse)
    assert re.fullmatch(f"resp_{ORQ_ID}", response.id)
    assert re.fullmatch("[0-9A-HJKMNP-TV-Z]{26}", response.task_id)
    assert response.model == ORQ_AGENT_MODEL
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", response.created_at)
    assert [m.role for m in response.output] == ["agent", "tool", "agent"]
    call, result, text = (m.parts[0] for m in response.output)
    assert call.kind == "tool_call" and result.kind == "tool_result" and text.kind == "text"
    assert call.tool_name == reply.tool.name
    assert call.arguments == reply.tool.arguments
    assert result.tool_call_id == call.tool_call_id
    assert result.result == reply.tool.result
    assert text.text == reply.full_text
    assert all(m.message_id.startswith("msg_") for m in response.output)
    assert response.usage.prompt_tokens == reply.usage.prompt_tokens
    assert response.usage.completion_tokens == reply.usage.completion_tokens
    assert response.usage.total_tokens == reply.usage.total_tokens


def test_agent_background_answers_at_once_with_a_task_and_no_output(orq: Orq) -> None:
    response = orq.agents.responses.create(
        agent_key=ORQ_AGENT_KEY, message=user_message("Take your time"), background=True
    )
    assert re.fullmatch("[0-9A-HJKMNP-TV-Z]{26}", response.task_id)
    assert response.output == []
    assert response.usage is None


def test_agent_stream_runs_the_tool_between_reasoning_and_text(orq: Orq) -> None:
    prompt = "Weather in Paris?"
    reply = compose_reply(prompt, agent=True)
    stream = orq.agents.responses.create(
        agent_key=ORQ_AGENT_KEY, message=user_message(prompt), stream=True
    )
    events = list(stream)
    assert kinds(events) == [
        "response.started",
        "part.delta",
        "part.done",
        "tool.started",
        "tool.done",
        "part.delta",
        "part.done",
        "response.done",
    ]
    tool_started = next(e.data.data for e in events if e.data.type == "tool.started")
    tool_done = next(e.data.data for e in events if e.data.type == "tool.done")
    assert tool_started.tool_id.startswith("tool_")
    assert tool_started.tool_name == reply.tool.name
    assert tool_started.arguments == reply.tool.arguments
    assert (tool_done.tool_id, tool_done.tool_call_id) == (
        tool_started.tool_id,
        tool_started.tool_call_id,
    )
    assert tool_done.result == reply.tool.result
    assert deltas(events, "text") == reply.full_text
    assert events[-1].data.data.usage.total_tokens == reply.usage.total_tokens


def test_agent_turn_linked_to_a_conversation_stores_it_and_binds_it(orq: Orq) -> None:
    conversation = orq.conversations.create(project_id="prj_test")
    assert conversation.metadata.entity_id is None
    response = orq.agents.responses.create(
        agent_key=ORQ_AGENT_KEY,
        message=user_message("Summarise the release notes"),
        conversation={"id": conversation.id},
    )
    stored = orq.conversations.retrieve(conversation_id=conversation.id)
    assert stored.metadata.entity_id == ORQ_AGENT_ID
    assert [(m.role, m.parts[0].text) for m in stored.messages] == [
        ("user", "Summarise the release notes"),
        ("assistant", response.output[-1].parts[0].text),
    ]
    assert stored.messages[1].id == response.output[-1].message_id


def test_agent_by_unknown_key_is_404(orq: Orq) -> None:
    with pytest.raises(models.APIError) as caught:
        orq.agents.responses.create(agent_key="nobody", message=user_message("Hi"))
    assert caught.value.status_code == 404
    assert "nobody" in caught.value.body


def test_agent_request_with_variables_memory_thread_and_metadata_parses(orq: Orq) -> None:
    entity = f"user_{ids.ulid().lower()}"
    context = {
        "variables": {"customer_name": "Jane", "plan": "team"},
        "memory": {"entity_id": entity},
        "thread": {"id": f"thread_{ids.ulid()}", "tags": ["support", "web"]},
        "metadata": {"source": "web"},
    }
    prompt = "Can I add two seats?"
    first = orq.agents.responses.create(
        agent_key=ORQ_AGENT_KEY, message=user_message(prompt), **context
    )
    assert isinstance(first, models.CreateAgentResponse)
    expected = compose_reply(prompt, agent=True, variables=context["variables"])
    assert first.output[-1].parts[0].text == expected.full_text
    assert first.usage.completion_tokens == expected.usage.completion_tokens

    stream = orq.agents.responses.create(
        agent_key=ORQ_AGENT_KEY, message=user_message("And a third?"), stream=True, **context
    )
    events = list(stream)
    assert kinds(events)[0] == "response.started" and kinds(events)[-1] == "response.done"
    remembered = compose_reply(
        "And a third?", agent=True, variables=context["variables"], remembered=1
    )
    assert deltas(events, "text") == remembered.full_text
    assert "I remember you: 1 earlier message." in remembered.full_text


def test_agent_request_with_an_empty_memory_entity_is_400(orq: Orq) -> None:
    with pytest.raises(models.APIError) as caught:
        orq.agents.responses.create(
            agent_key=ORQ_AGENT_KEY, message=user_message("Hi"), memory={"entity_id": ""}
        )
    assert caught.value.status_code == 400
    assert "memory.entity_id" in caught.value.body


def test_turns_with_file_parts_parse_and_the_stored_file_part_reads_back(orq: Orq) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"p" * 92
    encoded = base64.b64encode(png).decode()
    parts = [
        models.TextPart(kind="text", text="What is this?"),
        models.FilePart(
            kind="file",
            file=models.BinaryFormat(bytes_=encoded, mime_type="image/png", name="a.png"),
        ),
    ]
    received = [("a.png", "image/png", 100)]
    expected = compose_reply("What is this?", files=received)
    conversation = orq.conversations.create(project_id="prj_test")
    with orq.conversations.create_conversation_response(
        conversation_id=conversation.id, message={"role": "user", "parts": parts}, model=MODEL
    ) as stream:
        events = list(stream)
    assert deltas(events, "text") == expected.full_text

    stored = orq.conversations.retrieve(conversation_id=conversation.id)
    user = stored.messages[0]
    assert user.parts[0].text == "What is this?"
    file_part = user.parts[1]
    assert isinstance(file_part, models.FilePart)
    assert isinstance(file_part.file, models.BinaryFormat)
    assert (file_part.file.bytes_, file_part.file.mime_type, file_part.file.name) == (
        encoded,
        "image/png",
        "a.png",
    )

    response = orq.agents.responses.create(
        agent_key=ORQ_AGENT_KEY, message={"role": "user", "parts": parts}
    )
    assert isinstance(response, models.CreateAgentResponse)
    agent_expected = compose_reply("What is this?", agent=True, files=received)
    assert response.output[-1].parts[0].text == agent_expected.full_text
