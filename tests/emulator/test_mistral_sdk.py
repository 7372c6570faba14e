"""The official Mistral SDK (1.11.1) against the live emulator: every conversation call parses."""

from __future__ import annotations

import base64
import json
import re
import uuid
from itertools import groupby

import pytest
from mistralai import Mistral, models

from emulator.agents import MISTRAL_AGENT_ID, MISTRAL_AGENT_MODEL
from emulator.assistant import compose_reply, cut_to

MISTRAL_ID = r"[0-9a-f]{32}"
MODEL = "mistral-small-latest"


def kinds(events: list) -> list[str]:
    return [name for name, _ in groupby(event.event for event in events)]


def streamed_text(events: list) -> str:
    return "".join(
        e.data.content
        for e in events
        if e.event == "message.output.delta" and isinstance(e.data.content, str)
    )


def streamed_thinking(events: list) -> str:
    return "".join(
        chunk.text
        for e in events
        if e.event == "message.output.delta" and isinstance(e.data.content, models.ThinkChunk)
        for chunk in e.data.content.thinking
    )


def test_start_with_a_model_answers_with_thinking_and_text(mistral: Mistral) -> None:
    prompt = "Explain Python generators briefly"
    reply = compose_reply(prompt)
    response = mistral.beta.conversations.start(
        inputs=prompt, model=MODEL, name="generators", metadata={"user": "alice"}
    )

    assert re.fullmatch(f"conv_{MISTRAL_ID}", response.conversation_id)
    assert response.object == "conversation.response"
    (output,) = response.outputs
    assert isinstance(output, models.MessageOutputEntry)
    assert re.fullmatch(f"msg_{MISTRAL_ID}", output.id)
    assert output.model == MODEL
    assert output.agent_id is None
    assert output.role == "assistant"
    thinking, text = output.content
    assert isinstance(thinking, models.ThinkChunk)
    assert thinking.thinking[0].text == reply.full_reasoning
    assert isinstance(text, models.TextChunk)
    assert text.text == reply.full_text
    assert output.created_at <= output.completed_at
    assert response.usage.prompt_tokens == reply.usage.prompt_tokens == 4
    assert response.usage.completion_tokens == reply.usage.completion_tokens
    assert response.usage.total_tokens == reply.usage.total_tokens

    conversation = mistral.beta.conversations.get(conversation_id=response.conversation_id)
    assert isinstance(conversation, models.ModelConversation)
    assert conversation.id == response.conversation_id
    assert conversation.model == MODEL
    assert conversation.name == "generators"
    assert conversation.metadata == {"user": "alice"}


def test_start_with_the_agent_runs_a_tool_first(mistral: Mistral) -> None:
    prompt = "What's the weather in Paris?"
    reply = compose_reply(prompt, agent=True)
    response = mistral.beta.conversations.start(inputs=prompt, agent_id=MISTRAL_AGENT_ID)

    tool, message = response.outputs
    assert isinstance(tool, models.ToolExecutionEntry)
    assert re.fullmatch(f"tool_exec_{MISTRAL_ID}", tool.id)
    assert tool.name == reply.tool.name
    assert json.loads(tool.arguments) == reply.tool.arguments
    assert tool.info == reply.tool.result
    assert isinstance(message, models.MessageOutputEntry)
    assert message.agent_id == MISTRAL_AGENT_ID
    assert message.model == MISTRAL_AGENT_MODEL
    assert message.content[1].text == reply.full_text

    conversation = mistral.beta.conversations.get(conversation_id=response.conversation_id)
    assert isinstance(conversation, models.AgentConversation)
    assert conversation.agent_id == MISTRAL_AGENT_ID

    history = mistral.beta.conversations.get_history(conversation_id=response.conversation_id)
    assert [type(e) for e in history.entries] == [
        models.MessageInputEntry,
        models.ToolExecutionEntry,
        models.MessageOutputEntry,
    ]
    assert history.entries[0].content == prompt
    messages = mistral.beta.conversations.get_messages(conversation_id=response.conversation_id)
    assert [e.id for e in messages.messages] == [history.entries[0].id, history.entries[2].id]


def test_list_pages_newest_first_and_filters_by_metadata(mistral: Mistral) -> None:
    run = uuid.uuid4().hex
    created = [
        mistral.beta.conversations.start(
            inputs=f"Question {n}", model=MODEL, metadata={"run": run}
        ).conversation_id
        for n in range(3)
    ]
    newest_first = created[::-1]

    first = mistral.beta.conversations.list(page=0, page_size=2, metadata={"run": run})
    second = mistral.beta.conversations.list(page=1, page_size=2, metadata={"run": run})
    assert [c.id for c in first] == newest_first[:2]
    assert [c.id for c in second] == newest_first[2:]
    # Without a filter the SDK sends its "unset" sentinel as metadata: it must be ignored.
    everything = mistral.beta.conversations.list(page_size=1000)
    assert [c.id for c in everything][:3] == newest_first


def test_append_continues_the_conversation(mistral: Mistral) -> None:
    start = mistral.beta.conversations.start(inputs="Hello", model=MODEL)
    more = mistral.beta.conversations.append(
        conversation_id=start.conversation_id, inputs="Tell me more about lists"
    )
    assert more.conversation_id == start.conversation_id
    (output,) = more.outputs
    assert output.content[1].text == compose_reply("Tell me more about lists").full_text

    history = mistral.beta.conversations.get_history(conversation_id=start.conversation_id)
    assert [e.type for e in history.entries] == [
        "message.input",
        "message.output",
        "message.input",
        "message.output",
    ]
    assert history.entries[3].id == output.id
    assert history.entries[2].content == "Tell me more about lists"


def test_restart_branches_into_a_new_conversation_from_any_entry(mistral: Mistral) -> None:
    start = mistral.beta.conversations.start(inputs="First question", model=MODEL)
    mistral.beta.conversations.append(conversation_id=start.conversation_id, inputs="Second")
    old = mistral.beta.conversations.get_history(conversation_id=start.conversation_id).entries
    first_answer = old[1]

    restarted = mistral.beta.conversations.restart(
        conversation_id=start.conversation_id,
        from_entry_id=first_answer.id,
        inputs="Second, rephrased",
    )
    assert restarted.conversation_id != start.conversation_id
    assert restarted.outputs[0].content[1].text == compose_reply("Second, rephrased").full_text

    branch = mistral.beta.conversations.get_history(conversation_id=restarted.conversation_id)
    assert [e.id for e in branch.entries[:2]] == [old[0].id, first_answer.id]
    assert branch.entries[2].content == "Second, rephrased"
    assert branch.entries[3].id == restarted.outputs[0].id
    assert len(branch.entries) == 4
    unchanged = mistral.beta.conversations.get_history(conversation_id=start.conversation_id)
    assert [e.id for e in unchanged.entries] == [e.id for e in old]


def test_restart_from_an_unknown_entry_is_404(mistral: Mistral) -> None:
    start = mistral.beta.conversations.start(inputs="Hi", model=MODEL)
    with pytest.raises(models.SDKError) as caught:
        mistral.beta.conversations.restart(
            conversation_id=start.conversation_id, from_entry_id="msg_nope", inputs="Again"
        )
    assert caught.value.status_code == 404
    assert "detail" in json.loads(caught.value.body)


def test_delete_then_get_is_404(mistral: Mistral) -> None:
    start = mistral.beta.conversations.start(inputs="Short-lived", model=MODEL)
    mistral.beta.conversations.delete(conversation_id=start.conversation_id)
    with pytest.raises(models.SDKError) as caught:
        mistral.beta.conversations.get(conversation_id=start.conversation_id)
    assert caught.value.status_code == 404
    assert json.loads(caught.value.body) == {"detail": "Conversation not found"}


def test_start_stream_sends_thinking_then_text_then_done(mistral: Mistral) -> None:
    prompt = "Stream a short answer about asyncio"
    reply = compose_reply(prompt)
    events = list(mistral.beta.conversations.start_stream(inputs=prompt, model=MODEL))

    assert kinds(events) == [
        "conversation.response.started",
        "message.output.delta",
        "conversation.response.done",
    ]
    conversation_id = events[0].data.conversation_id
    deltas = [e.data for e in events if e.event == "message.output.delta"]
    assert len(deltas) == len(reply.reasoning) + len(reply.text)
    assert {d.id for d in deltas} == {deltas[0].id}
    assert [d.content_index for d in deltas] == [0] * len(reply.reasoning) + [1] * len(reply.text)
    assert streamed_thinking(events) == reply.full_reasoning
    assert streamed_text(events) == reply.full_text
    assert events[-1].data.usage.total_tokens == reply.usage.total_tokens

    history = mistral.beta.conversations.get_history(conversation_id=conversation_id)
    assert history.entries[1].id == deltas[0].id
    assert history.entries[1].content[1].text == reply.full_text


def test_agent_stream_reports_the_tool_execution(mistral: Mistral) -> None:
    prompt = "Search the release notes"
    reply = compose_reply(prompt, agent=True)
    events = list(mistral.beta.conversations.start_stream(inputs=prompt, agent_id=MISTRAL_AGENT_ID))

    assert kinds(events) == [
        "conversation.response.started",
        "tool.execution.started",
        "tool.execution.done",
        "message.output.delta",
        "conversation.response.done",
    ]
    started, done = events[1].data, events[2].data
    assert started.id == done.id
    assert json.loads(started.arguments) == reply.tool.arguments
    assert done.info == reply.tool.result
    assert (started.output_index, events[3].data.output_index) == (0, 1)
    assert streamed_text(events) == reply.full_text


def test_append_stream_and_restart_stream(mistral: Mistral) -> None:
    start = mistral.beta.conversations.start(inputs="Begin", model=MODEL)
    appended = list(
        mistral.beta.conversations.append_stream(
            conversation_id=start.conversation_id, inputs="Continue please"
        )
    )
    assert appended[0].data.conversation_id == start.conversation_id
    assert streamed_text(appended) == compose_reply("Continue please").full_text

    restarted = list(
        mistral.beta.conversations.restart_stream(
            conversation_id=start.conversation_id,
            from_entry_id=start.outputs[0].id,
            inputs="Another way",
        )
    )
    branch_id = restarted[0].data.conversation_id
    assert branch_id != start.conversation_id
    assert streamed_text(restarted) == compose_reply("Another way").full_text
    branch = mistral.beta.conversations.get_messages(conversation_id=branch_id)
    assert [m.type for m in branch.messages] == ["message.input", "message.output"] * 2


def test_start_without_storing_leaves_nothing_behind(mistral: Mistral) -> None:
    response = mistral.beta.conversations.start(inputs="Off the record", model=MODEL, store=False)
    assert response.outputs[0].content[1].text == compose_reply("Off the record").full_text
    with pytest.raises(models.SDKError) as caught:
        mistral.beta.conversations.get(conversation_id=response.conversation_id)
    assert caught.value.status_code == 404


def test_instructions_and_completion_args_parse_on_every_turn(mistral: Mistral) -> None:
    prompt = "Explain context managers"
    instructions = "Answer in two paragraphs."
    start = mistral.beta.conversations.start(
        inputs=prompt,
        model=MODEL,
        instructions=instructions,
        completion_args={"temperature": 0.3, "top_p": 0.9, "max_tokens": 11},
    )
    (output,) = start.outputs
    expected = cut_to(compose_reply(prompt, instructions=instructions), 11)
    assert output.content[1].text == expected.full_text
    assert output.content[1].text.startswith("Following your instructions")
    assert start.usage.completion_tokens == 11

    conversation = mistral.beta.conversations.get(conversation_id=start.conversation_id)
    assert isinstance(conversation, models.ModelConversation)
    assert conversation.instructions == instructions
    assert conversation.completion_args.max_tokens == 11
    assert conversation.completion_args.temperature == 0.3

    more = mistral.beta.conversations.append(
        conversation_id=start.conversation_id,
        inputs="And async ones?",
        completion_args={"max_tokens": 30},
    )
    assert more.usage.completion_tokens == 30
    assert more.outputs[0].content[1].text == (
        cut_to(compose_reply("And async ones?", instructions=instructions), 30).full_text
    )

    again = mistral.beta.conversations.restart(
        conversation_id=start.conversation_id,
        from_entry_id=output.id,
        inputs="Shorter, please",
        completion_args={"temperature": 0.1},
    )
    assert again.conversation_id != start.conversation_id
    # The request's args replace the conversation's for this turn: no max_tokens, a whole reply.
    full = compose_reply("Shorter, please", instructions=instructions)
    assert again.outputs[0].content[1].text == full.full_text
    assert again.usage.completion_tokens == full.usage.completion_tokens


def test_streamed_turns_with_instructions_and_completion_args_parse(mistral: Mistral) -> None:
    prompt = "Stream about decorators"
    instructions = "Be brief."
    started = list(
        mistral.beta.conversations.start_stream(
            inputs=prompt,
            model=MODEL,
            instructions=instructions,
            completion_args={"max_tokens": 12, "temperature": 0.5},
        )
    )
    assert kinds(started) == [
        "conversation.response.started",
        "message.output.delta",
        "conversation.response.done",
    ]
    expected = cut_to(compose_reply(prompt, instructions=instructions), 12)
    assert streamed_text(started) == expected.full_text
    assert started[-1].data.usage.completion_tokens == 12
    conversation_id = started[0].data.conversation_id

    appended = list(
        mistral.beta.conversations.append_stream(
            conversation_id=conversation_id, inputs="More", completion_args={}
        )
    )
    assert streamed_text(appended) == compose_reply("More", instructions=instructions).full_text

    history = mistral.beta.conversations.get_history(conversation_id=conversation_id)
    restarted = list(
        mistral.beta.conversations.restart_stream(
            conversation_id=conversation_id,
            from_entry_id=history.entries[1].id,
            inputs="Less",
            completion_args={"max_tokens": 7},
        )
    )
    assert restarted[0].data.conversation_id != conversation_id
    assert streamed_text(restarted) == (
        cut_to(compose_reply("Less", instructions=instructions), 7).full_text
    )
    assert restarted[-1].data.usage.completion_tokens == 7


def test_image_and_document_chunks_parse_both_ways(mistral: Mistral) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"p" * 92
    data_url = "data:image/png;base64," + base64.b64encode(png).decode()
    content = [
        models.TextChunk(text="Compare"),
        models.ImageURLChunk(image_url=data_url),
        models.ImageURLChunk(image_url=models.ImageURL(url=data_url, detail="low")),
        # Nothing listens there: the reply says so and the turn goes on.
        models.DocumentURLChunk(document_url="http://127.0.0.1:9/notes.pdf", document_name="n.pdf"),
    ]
    response = mistral.beta.conversations.start(
        inputs=[models.MessageInputEntry(role="user", content=content)], model=MODEL
    )
    received = [
        ("image", "image/png", 100),
        ("image", "image/png", 100),
        ("n.pdf", "", 0, "connection failed"),
    ]
    assert response.outputs[0].content[1].text == compose_reply("Compare", files=received).full_text

    history = mistral.beta.conversations.get_history(conversation_id=response.conversation_id)
    sent = history.entries[0]
    assert isinstance(sent, models.MessageInputEntry)
    text, image, detailed, document = sent.content
    assert isinstance(text, models.TextChunk) and text.text == "Compare"
    assert isinstance(image, models.ImageURLChunk) and image.image_url == data_url
    assert isinstance(detailed.image_url, models.ImageURL)
    assert (detailed.image_url.url, detailed.image_url.detail) == (data_url, "low")
    assert isinstance(document, models.DocumentURLChunk)
    assert (document.document_url, document.document_name) == (
        "http://127.0.0.1:9/notes.pdf",
        "n.pdf",
    )

    streamed = list(
        mistral.beta.conversations.append_stream(
            conversation_id=response.conversation_id,
            inputs=[models.MessageInputEntry(role="user", content=content[1:2])],
        )
    )
    assert streamed_text(streamed) == compose_reply("", files=received[:1]).full_text
