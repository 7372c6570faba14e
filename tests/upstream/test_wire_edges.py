"""Wire shapes the emulator does not send but the real APIs may: recorded text, MockTransport."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from upstream.errors import BadResponse, StreamBroken
from upstream.mistral import MistralClient
from upstream.orq import OrqClient
from upstream.parsing import from_iso
from upstream.types import Done, Started, TextDelta, ToolArgsDelta, ToolStarted

# Event lines, CRLF, an unknown event type, float usage, and junk after [DONE].
ORQ_STREAM_WITH_EVENT_LINES_AND_CRLF = (
    (Path(__file__).parent / "recordings" / "orq_event_lines_crlf.sse").read_bytes().decode()
)


def orq_with(handler) -> OrqClient:
    return OrqClient(
        api_key="k",
        base_url="https://orq.test",
        project_id="p",
        transport=httpx.MockTransport(handler),
    )


def mistral_with(handler) -> MistralClient:
    return MistralClient(
        api_key="k", base_url="https://mistral.test", transport=httpx.MockTransport(handler)
    )


def sse(body: str, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, headers={"content-type": "text/event-stream"}, content=body.encode()
    )


async def test_orq_stream_ignores_event_lines_unknown_types_and_anything_after_done():
    client = orq_with(lambda request: sse(ORQ_STREAM_WITH_EVENT_LINES_AND_CRLF))
    async with client.stream_response("conv_1", text="hi", model="openai/gpt-4o") as events:
        received = [e async for e in events]
    assert [e.kind for e in received] == ["started", "text_delta", "text_delta", "done"]
    assert "".join(e.text for e in received if isinstance(e, TextDelta)) == "It is 18 °C."
    assert received[0].turn_ref == "TASK1"
    assert (received[-1].usage.input, received[-1].usage.output) == (412, 37)


async def test_orq_stream_without_done_sentinel_ends_at_close_after_response_done():
    body = ORQ_STREAM_WITH_EVENT_LINES_AND_CRLF.split("data: [DONE]")[0]
    client = orq_with(lambda request: sse(body))
    async with client.stream_response("conv_1", text="hi", model="m") as events:
        received = [e async for e in events]
    assert isinstance(received[-1], Done)


async def test_a_stream_closed_before_its_final_event_is_broken():
    body = ORQ_STREAM_WITH_EVENT_LINES_AND_CRLF.split('data: {"type":"response.done"')[0]
    client = orq_with(lambda request: sse(body))
    received = []
    with pytest.raises(StreamBroken, match="ended before the reply finished"):
        async with client.stream_response("conv_1", text="hi", model="m") as events:
            async for event in events:
                received.append(event)
    assert [e.kind for e in received] == ["started", "text_delta", "text_delta"]


async def test_orq_conversation_without_id_is_a_bad_response_not_a_made_up_id():
    def handler(request):
        return httpx.Response(
            200,
            json={"kind": "conversation", "displayName": "x", "createdAt": 1, "updatedAt": 1},
        )

    with pytest.raises(BadResponse, match="_id"):
        await orq_with(handler).get_conversation("conv_1")


async def test_non_json_body_is_a_bad_response():
    client = orq_with(lambda request: httpx.Response(200, text="<html>gateway</html>"))
    with pytest.raises(BadResponse, match="not JSON"):
        await client.list_conversations()


async def test_agent_answer_follows_the_content_type_not_what_we_asked_for():
    """The Orq SDK asks for JSON even when streaming; the server decides. So do we."""
    agent_json = {
        "_id": "resp_1",
        "task_id": "TASK1",
        "created_at": "2026-01-20T10:15:31.000Z",
        "model": "openai/gpt-4o",
        "output": [
            {"messageId": "m1", "role": "agent", "parts": [{"kind": "text", "text": "Hi!"}]}
        ],
        "usage": None,
    }

    def handler(request):
        wants_stream = json.loads(request.content)["stream"]
        assert request.headers["accept"].startswith("application/json;q=1")
        return (
            httpx.Response(200, json=agent_json)
            if wants_stream
            else sse(ORQ_STREAM_WITH_EVENT_LINES_AND_CRLF)
        )

    client = orq_with(handler)
    async with client.stream_agent_response("demo", text="hi") as events:
        streamed = [e async for e in events]
    assert [e.kind for e in streamed] == ["started", "text_delta", "done"]
    assert streamed[1].text == "Hi!"
    whole = await client.agent_response("demo", text="hi")
    assert whole.text == "It is 18 °C." and whole.turn_ref == "TASK1"


async def test_mistral_function_call_deltas_announce_the_call_once():
    events = [
        {
            "type": "conversation.response.started",
            "created_at": "2026-01-20T10:15:30Z",
            "conversation_id": "conv_1",
        },
        {
            "type": "function.call.delta",
            "created_at": "2026-01-20T10:15:30Z",
            "id": "fc_1",
            "name": "get_weather",
            "tool_call_id": "call_1",
            "arguments": '{"city": ',
        },
        {
            "type": "function.call.delta",
            "created_at": "2026-01-20T10:15:30Z",
            "id": "fc_1",
            "name": "get_weather",
            "tool_call_id": "call_1",
            "arguments": '"Paris"}',
        },
        {
            "type": "conversation.response.done",
            "created_at": "2026-01-20T10:15:31Z",
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        },
    ]
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    client = mistral_with(lambda request: sse(body))
    async with client.stream_start(text="hi", model="m") as stream:
        received = [e async for e in stream]
    assert isinstance(received[0], Started) and received[0].conversation_id == "conv_1"
    assert isinstance(received[1], ToolStarted) and received[1].name == "get_weather"
    assert isinstance(received[2], ToolArgsDelta) and received[2].text == '"Paris"}'
    assert received[3].usage.total == 7


async def test_mistral_validation_errors_name_the_field():
    body = {"detail": [{"loc": ["body", "inputs"], "msg": "Field required", "type": "missing"}]}
    client = mistral_with(lambda request: httpx.Response(422, json=body))
    with pytest.raises(Exception, match=r"body\.inputs: Field required") as excinfo:
        await client.start(text="", model="m")
    assert excinfo.value.status == 422


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-20T10:15:30Z",
        "2026-01-20T10:15:30.123456789Z",
        "2026-01-20T10:15:30.1+02:00",
        "2026-01-20T10:15:30",
    ],
)
def test_times_are_parsed_generously_into_utc_aware_datetimes(text):
    parsed = from_iso(text, "created_at", "mistral")
    assert parsed.tzinfo is not None
    assert parsed.year == 2026
