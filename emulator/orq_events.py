"""What an Orq turn says: its SSE events (PROTOCOL §1.10) and its agent JSON output (§1.11)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from emulator import ids, sse
from emulator.sse import Event, dumps

if TYPE_CHECKING:
    from emulator.orq import Turn

FAILURE_MESSAGE = "Emulated upstream failure (fail_at)"
FAILURE_CODE = 500
_TIME = "timestamp"


def turn_events(turn: Turn) -> list[Event]:
    """response.started, reasoning, (agent: the tool call), text, response.done."""
    reply = turn.reply
    started = {
        "responseId": turn.response_id,
        "taskId": turn.task,
        "model": turn.model,
        "workflowRunId": ids.orq_id("wfr"),
        "userMessageId": turn.user_message_id,
        "assistantMessageId": turn.assistant_message_id,
    }
    events = [sse.event("response.started", _TIME, {"data": started})]
    events += _part_events("reasoning", reply.reasoning)
    if reply.tool is not None:
        tool_id, call_id = ids.orq_id("tool"), _call_id(turn)
        tool = {"toolId": tool_id, "toolCallId": call_id}
        started_tool = {**tool, "toolName": reply.tool.name, "arguments": reply.tool.arguments}
        events.append(sse.event("tool.started", _TIME, {"data": started_tool}))
        events.append(
            sse.event("tool.done", _TIME, {"data": {**tool, "result": reply.tool.result}})
        )
    events += _part_events("text", reply.text)
    done = {"finishReason": "stop", "usage": usage_json(turn)}
    events.append(sse.event("response.done", _TIME, {"data": done}))
    return events


def failure_event() -> Event:
    return sse.event(
        "response.failed", _TIME, {"data": {"error": FAILURE_MESSAGE, "code": FAILURE_CODE}}
    )


def _part_events(kind: str, tokens: Sequence[str]) -> list[Event]:
    """One part.delta per token, then part.done with the whole part."""
    part_id = ids.orq_id(kind)
    head = sse.event("part.delta", _TIME, {}).head
    # Built by concatenation: this runs once per token, the JSON around it never changes.
    prefix = (
        f'","data":{{"partId":"{part_id}","delta":{{"_id":"{part_id}","kind":"{kind}","{kind}":'
    )
    events = [
        Event("part.delta", head, f"{prefix}{dumps(token)}}}}}}}", token=True) for token in tokens
    ]
    part = {"_id": part_id, "kind": kind, kind: "".join(tokens)}
    events.append(sse.event("part.done", _TIME, {"data": {"partId": part_id, "part": part}}))
    return events


def usage_json(turn: Turn) -> dict[str, Any]:
    usage = turn.reply.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "completion_tokens_details": {"reasoning_tokens": len(turn.reply.reasoning)},
    }


def agent_output(turn: Turn) -> list[dict[str, Any]]:
    """`output[]` of CreateAgentResponse: the tool call, its result, then the answer."""
    reply = turn.reply
    output = []
    if reply.tool is not None:
        call_id = _call_id(turn)
        call = {
            "kind": "tool_call",
            "tool_name": reply.tool.name,
            "tool_call_id": call_id,
            "arguments": reply.tool.arguments,
        }
        result = {"kind": "tool_result", "tool_call_id": call_id, "result": reply.tool.result}
        output.append({"messageId": ids.orq_id("msg"), "role": "agent", "parts": [call]})
        output.append({"messageId": ids.orq_id("msg"), "role": "tool", "parts": [result]})
    text = {"kind": "text", "text": reply.full_text}
    output.append({"messageId": turn.assistant_message_id, "role": "agent", "parts": [text]})
    return output


def _call_id(turn: Turn) -> str:
    # Stable per turn, so the streamed and the JSON shapes of one turn agree.
    return "call_" + turn.response_id.rpartition("_")[2][-12:]
