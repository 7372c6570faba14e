"""What a Mistral turn says: its SSE events (PROTOCOL §2.9) and its output entries (§2.8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator import clock, sse
from emulator.sse import Event, dumps

if TYPE_CHECKING:
    from emulator.mistral import Turn

FAILURE_MESSAGE = "Emulated upstream failure (fail_at)"
FAILURE_CODE = 3000
_TIME = "created_at"


def turn_events(turn: Turn) -> list[Event]:
    """response.started, (agent: tool execution), thinking deltas, text deltas, response.done."""
    reply = turn.reply
    events = [
        sse.event("conversation.response.started", _TIME, {"conversation_id": turn.conversation.id})
    ]
    output_index = 0
    if reply.tool is not None:
        tool = {"output_index": 0, "id": turn.tool_id, "name": reply.tool.name}
        arguments = dumps(reply.tool.arguments)
        events.append(sse.event("tool.execution.started", _TIME, {**tool, "arguments": arguments}))
        events.append(sse.event("tool.execution.done", _TIME, {**tool, "info": reply.tool.result}))
        output_index = 1
    head = sse.event("message.output.delta", _TIME, {}).head
    # Built by concatenation: this runs once per token, the JSON around it never changes.
    about = (
        f'","output_index":{output_index},"id":"{turn.message_id}","content_index":{{index}},'
        f'"model":{dumps(turn.conversation.model)},"agent_id":{dumps(turn.conversation.agent_id)},'
        '"role":"assistant","content":'
    )
    # A reply without reasoning (a continuation) has its text as its first chunk.
    thinking = about.replace("{index}", "0")
    text = about.replace("{index}", "1" if reply.reasoning else "0")
    events += [
        Event("message.output.delta", head, f"{thinking}{dumps(_thinking(token))}}}", token=True)
        for token in reply.reasoning
    ]
    events += [
        Event("message.output.delta", head, f"{text}{dumps(token)}}}", token=True)
        for token in reply.text
    ]
    events.append(sse.event("conversation.response.done", _TIME, {"usage": usage_json(turn)}))
    return events


def failure_event() -> Event:
    fields = {"message": FAILURE_MESSAGE, "code": FAILURE_CODE}
    return sse.event("conversation.response.error", _TIME, fields)


def output_entries(turn: Turn) -> list[dict[str, Any]]:
    """The entries a turn adds after its inputs: (agent) tool.execution, then message.output."""
    reply = turn.reply
    done = clock.iso_us()
    entries = []
    if reply.tool is not None:
        entries.append(
            {
                "object": "entry",
                "type": "tool.execution",
                "created_at": turn.started_at,
                "completed_at": done,
                "id": turn.tool_id,
                "name": reply.tool.name,
                "arguments": dumps(reply.tool.arguments),
                "info": reply.tool.result,
            }
        )
    entries.append(
        {
            "object": "entry",
            "type": "message.output",
            "created_at": turn.started_at,
            "completed_at": done,
            "id": turn.message_id,
            "agent_id": turn.conversation.agent_id,
            "model": turn.conversation.model,
            "role": "assistant",
            "content": [
                *([_thinking(reply.full_reasoning)] if reply.reasoning else []),
                {"type": "text", "text": reply.full_text},
            ],
        }
    )
    return entries


def usage_json(turn: Turn) -> dict[str, Any]:
    usage = turn.reply.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "connector_tokens": None,
        "connectors": None,
    }


def _thinking(text: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": [{"type": "text", "text": text}]}
