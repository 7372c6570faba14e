"""Orq.ai v2 client: conversations, freeform responses and agent responses."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from upstream.errors import BadResponse, Rejected
from upstream.http import HttpTransport, RetryPolicy, StreamResponse, Timeouts
from upstream.parsing import as_int, from_epoch_ms, from_iso, require
from upstream.streams import skip_unknown, translate
from upstream.types import (
    ApprovalRequired,
    Conversation,
    ConversationDetail,
    ConversationPage,
    Done,
    Failed,
    FilePart,
    Message,
    NoticePart,
    OutgoingFile,
    Part,
    PartDone,
    ReasoningDelta,
    ReasoningPart,
    Started,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolDone,
    ToolFailed,
    ToolResultPart,
    ToolStarted,
    TurnResult,
    Usage,
)

PROVIDER = "orq"
log = logging.getLogger(__name__)

# Orq's SDK asks for JSON first even when it wants a stream; the server picks by the body.
AGENT_ACCEPT = "application/json;q=1, text/event-stream;q=0"


def _error_detail(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("message", "error", "detail"):
            if isinstance(data.get(key), str):
                return data[key]
    return ""


class OrqClient:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.orq.ai",
        project_id: str = "",
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.project_id = project_id
        self.http = HttpTransport(
            provider=PROVIDER,
            base_url=base_url,
            api_key=api_key,
            timeouts=timeouts,
            retry=retry,
            error_detail=_error_detail,
            headers=headers,
            transport=transport,
        )

    # --- conversations ----------------------------------------------------------------------

    async def list_conversations(
        self,
        *,
        limit: int = 30,
        starting_after: str | None = None,
        ending_before: str | None = None,
        entity_id: str | None = None,
    ) -> ConversationPage:
        """One page, newest first. Without `entity_id` Orq lists only standalone conversations."""
        data = await self.http.call(
            "GET",
            "/v2/conversations/",
            params={
                "limit": limit,
                "startingAfter": starting_after,
                "endingBefore": ending_before,
                "entityId": entity_id,
            },
        )
        items = require(data, "data", "the conversation list", PROVIDER)
        if not isinstance(items, list):
            raise BadResponse("the conversation list's data is not a list", provider=PROVIDER)
        conversations = tuple(parse_conversation(item) for item in items)
        has_more = bool(data.get("has_more"))
        return ConversationPage(
            conversations=conversations,
            has_more=has_more,
            next_cursor=conversations[-1].id if has_more and conversations else None,
        )

    async def iter_conversations(
        self, *, entity_id: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Conversation]:
        """Every conversation, page by page, whichever way Orq's `startingAfter` walks.

        The reference leaves open whether `startingAfter` means older or newer; if a page
        comes back newer than its cursor we walk with `endingBefore` instead.
        """
        page = await self.list_conversations(limit=page_size, entity_id=entity_id)
        seen: set[str] = set()
        walk = "starting_after"
        while True:
            fresh = [c for c in page.conversations if c.id not in seen]
            for conversation in fresh:
                seen.add(conversation.id)
                yield conversation
            if not page.has_more or not page.conversations or not fresh:
                return
            cursor = page.conversations[-1]
            page = await self.list_conversations(
                limit=page_size, entity_id=entity_id, **{walk: cursor.id}
            )
            if walk == "starting_after" and page.conversations:
                if page.conversations[0].created > cursor.created:
                    walk = "ending_before"
                    page = await self.list_conversations(
                        limit=page_size, entity_id=entity_id, ending_before=cursor.id
                    )

    async def create_conversation(
        self, *, title: str = "", model: str | None = None, agent_id: str | None = None
    ) -> Conversation:
        if not self.project_id:
            raise Rejected("ORQ_PROJECT_ID is not set", provider=PROVIDER, status=400)
        body = {
            "projectId": self.project_id,
            "displayName": title or "Untitled",
            "metadata": {"generatingTitle": False, "entityId": agent_id, "model": model},
        }
        return parse_conversation(await self.http.call("POST", "/v2/conversations", body=body))

    async def generate_name(self, conversation_id: str, *, context: str) -> Conversation:
        data = await self.http.call(
            "POST", f"/v2/conversations/{conversation_id}/generate-name", body={"context": context}
        )
        return parse_conversation(data)

    async def get_conversation(self, conversation_id: str) -> ConversationDetail:
        data = await self.http.call("GET", f"/v2/conversations/{conversation_id}")
        messages = data.get("messages") if isinstance(data, dict) else None
        return ConversationDetail(
            conversation=parse_conversation(data),
            messages=tuple(parse_message(m) for m in messages or ()),
        )

    async def rename_conversation(self, conversation_id: str, *, title: str) -> Conversation:
        data = await self.http.call(
            "PATCH", f"/v2/conversations/{conversation_id}", body={"displayName": title}
        )
        return parse_conversation(data)

    async def delete_conversation(self, conversation_id: str) -> None:
        await self.http.request("DELETE", f"/v2/conversations/{conversation_id}")

    # --- turns ------------------------------------------------------------------------------

    @asynccontextmanager
    async def stream_response(
        self,
        conversation_id: str,
        *,
        text: str,
        model: str,
        task_id: str | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        """A freeform turn; `task_id` is the previous turn's `Started.turn_ref`; `files` go
        with the message as `file` parts (PROTOCOL 1.8)."""
        body: dict[str, Any] = {
            "message": _user_message(text, files),
            "model": model,
            "stream": True,
        }
        if task_id:
            body["task_id"] = task_id
        async with self.http.open_stream(
            "POST", f"/v2/conversations/{conversation_id}/responses", body=body
        ) as stream:
            yield _events(stream)

    async def agent_response(
        self,
        agent_key: str,
        *,
        text: str,
        task_id: str | None = None,
        conversation_id: str | None = None,
        background: bool = False,
        identity: dict | None = None,
        variables: dict | None = None,
        memory: dict | None = None,
        thread: dict | None = None,
        metadata: dict | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> TurnResult:
        """An agent turn answered as one JSON body (or, with `background`, at once).

        `memory` is `{"entity_id": …}`, `thread` `{"id": …, "tags": […]}` (PROTOCOL 1.11)."""
        body = _agent_body(
            text,
            task_id,
            conversation_id,
            identity,
            stream=False,
            variables=variables,
            memory=memory,
            thread=thread,
            metadata=metadata,
            files=files,
        )
        body["background"] = background
        async with self.http.open_stream(
            "POST", f"/v2/agents/{agent_key}/responses", body=body, accept=AGENT_ACCEPT
        ) as stream:
            if stream.is_event_stream:
                return await _collect(_events(stream))
            return parse_agent_response(await stream.json())

    @asynccontextmanager
    async def stream_agent_response(
        self,
        agent_key: str,
        *,
        text: str,
        task_id: str | None = None,
        conversation_id: str | None = None,
        identity: dict | None = None,
        variables: dict | None = None,
        memory: dict | None = None,
        thread: dict | None = None,
        metadata: dict | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        body = _agent_body(
            text,
            task_id,
            conversation_id,
            identity,
            stream=True,
            variables=variables,
            memory=memory,
            thread=thread,
            metadata=metadata,
            files=files,
        )
        async with self.http.open_stream(
            "POST", f"/v2/agents/{agent_key}/responses", body=body, accept=AGENT_ACCEPT
        ) as stream:
            if stream.is_event_stream:
                yield _events(stream)
            else:
                yield _as_events(parse_agent_response(await stream.json()))


def _user_message(text: str, files: Sequence[OutgoingFile] = ()) -> dict:
    """The text part (left out when empty and there are files), then one part per file."""
    parts: list[dict[str, Any]] = [{"kind": "text", "text": text}] if text or not files else []
    parts.extend(file_part(file) for file in files)
    return {"role": "user", "parts": parts}


def file_part(file: OutgoingFile) -> dict[str, Any]:
    """A `file` part in its input form (no `type` key): base64 `bytes`, or else a `uri`."""
    if file.data is not None:
        content = {"bytes": base64.b64encode(file.data).decode("ascii")}
    elif file.url:
        content = {"uri": file.url}
    else:
        raise ValueError(f"the file {file.name!r} has neither bytes nor a URL")
    return {"kind": "file", "file": content | {"mimeType": file.mime, "name": file.name}}


def _agent_body(
    text: str,
    task_id: str | None,
    conversation_id: str | None,
    identity: dict | None,
    *,
    stream: bool,
    variables: dict | None = None,
    memory: dict | None = None,
    thread: dict | None = None,
    metadata: dict | None = None,
    files: Sequence[OutgoingFile] = (),
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": _user_message(text, files), "stream": stream}
    if task_id:
        body["task_id"] = task_id
    if conversation_id:
        body["conversation"] = {"_id": conversation_id}
    optional = {
        "identity": identity,
        "variables": variables,
        "memory": memory,
        "thread": thread,
        "metadata": metadata,
    }
    body.update({name: value for name, value in optional.items() if value})
    return body


def _events(stream: StreamResponse) -> AsyncIterator[StreamEvent]:
    return translate(stream, translate_event, sentinel="[DONE]")


async def _collect(events: AsyncIterator[StreamEvent]) -> TurnResult:
    """Fold a stream into a whole turn, for an agent that streamed although asked for JSON."""
    started: Started | None = None
    parts: list[Part] = []
    text: list[str] = []
    usage = None
    async for event in events:
        match event:
            case Started():
                started = event
            case TextDelta(text=delta):
                text.append(delta)
            case ToolStarted(call_id=call_id, name=name, arguments=arguments):
                parts.append(ToolCallPart(call_id=call_id, name=name, arguments=arguments))
            case ToolDone(call_id=call_id, result=result):
                parts.append(ToolResultPart(call_id=call_id, result=result))
            case Done(usage=usage):
                pass
            case Failed(message=message, code=code):
                raise Rejected(message, provider=PROVIDER, status=code or 500)
    if text:
        parts.append(TextPart("".join(text)))
    message_id = started.assistant_message_id if started else None
    return TurnResult(
        conversation_id=None,
        messages=(Message(id=message_id or "", role="assistant", parts=tuple(parts)),),
        usage=usage,
        response_id=started.response_id if started else None,
        turn_ref=started.turn_ref if started else None,
        model=started.model if started else None,
    )


async def _as_events(result: TurnResult) -> AsyncIterator[StreamEvent]:
    """A JSON agent answer replayed as events, so callers have one code path."""
    yield Started(response_id=result.response_id, turn_ref=result.turn_ref, model=result.model)
    for message in result.messages:
        for index, part in enumerate(message.parts):
            match part:
                case TextPart(text=text) if message.role == "assistant":
                    yield TextDelta(part_id=f"{message.id}:{index}", text=text)
                case ToolCallPart(call_id=call_id, name=name, arguments=arguments):
                    yield ToolStarted(call_id=call_id, name=name, arguments=arguments)
                case ToolResultPart(call_id=call_id, result=result_value):
                    yield ToolDone(call_id=call_id, result=result_value)
    yield Done(usage=result.usage)


# --- wire → ours ----------------------------------------------------------------------------


def parse_conversation(data: Any) -> Conversation:
    # The SDK substitutes a made-up id when `_id` is missing; we refuse instead.
    conversation_id = require(data, "_id", "a conversation", PROVIDER)
    metadata = data.get("metadata") or {}
    return Conversation(
        id=conversation_id,
        provider=PROVIDER,
        title=data.get("displayName") or "",
        created=from_epoch_ms(
            require(data, "createdAt", "a conversation", PROVIDER), "createdAt", PROVIDER
        ),
        updated=from_epoch_ms(
            require(data, "updatedAt", "a conversation", PROVIDER), "updatedAt", PROVIDER
        ),
        model=metadata.get("model"),
        agent=metadata.get("entityId"),
    )


_ROLES = {
    "user": "user",
    "assistant": "assistant",
    "agent": "assistant",
    "tool": "tool",
    "system": "system",
}


def parse_message(data: Any) -> Message:
    role = require(data, "role", "a message", PROVIDER)
    created = data.get("createdAt")
    return Message(
        id=data.get("_id") or data.get("messageId") or "",
        role=_ROLES.get(role, "assistant"),
        parts=tuple(p for p in (parse_part(p) for p in data.get("parts") or ()) if p is not None),
        created=from_epoch_ms(created, "createdAt", PROVIDER) if created is not None else None,
    )


def parse_part(data: Any) -> Part | None:
    if not isinstance(data, dict):
        raise BadResponse("a message part is not an object", provider=PROVIDER)
    kind = data.get("kind")
    match kind:
        case "text":
            return TextPart(data.get("text") or "")
        case "reasoning":
            return ReasoningPart(data.get("reasoning") or "", signature=data.get("signature"))
        case "tool_call":
            return ToolCallPart(
                call_id=data.get("tool_call_id") or "",
                name=data.get("tool_name") or "",
                arguments=data.get("arguments") or {},
            )
        case "tool_result":
            return ToolResultPart(call_id=data.get("tool_call_id") or "", result=data.get("result"))
        case "file":
            file = data.get("file") or {}
            return FilePart(
                uri=file.get("uri"),
                data=file.get("bytes"),
                mime=file.get("mimeType"),
                name=file.get("name"),
            )
        case "error":
            return NoticePart("error", str(data.get("error") or ""), {"code": data.get("code")})
        case "data":
            return TextPart(json.dumps(data.get("data"), ensure_ascii=False))
    log.debug("orq: skipping message part of unknown kind %r", kind)
    return None


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    extra = {
        key: data[key]
        for key in ("prompt_tokens_details", "completion_tokens_details")
        if data.get(key)
    }
    return Usage(
        input=as_int(data.get("prompt_tokens")),
        output=as_int(data.get("completion_tokens")),
        total=as_int(data.get("total_tokens")),
        extra=extra,
    )


def parse_agent_response(data: Any) -> TurnResult:
    output = require(data, "output", "an agent response", PROVIDER)
    created = data.get("created_at")
    if created is not None:
        from_iso(created, "created_at", PROVIDER)
    return TurnResult(
        conversation_id=None,
        messages=tuple(parse_message(m) for m in output),
        usage=parse_usage(data.get("usage")),
        response_id=require(data, "_id", "an agent response", PROVIDER),
        turn_ref=require(data, "task_id", "an agent response", PROVIDER),
        model=data.get("model"),
    )


def translate_event(payload: dict) -> tuple[StreamEvent, ...]:
    kind = payload.get("type")
    data = payload.get("data")
    if not isinstance(data, dict):
        if kind in _KNOWN:
            raise BadResponse(f"event {kind!r} has no data object", provider=PROVIDER)
        return skip_unknown(PROVIDER, kind)

    def field(name: str) -> Any:
        return require(data, name, f"event {kind!r}", PROVIDER)

    match kind:
        case "response.started":
            return (
                Started(
                    response_id=data.get("responseId"),
                    turn_ref=data.get("taskId"),
                    model=data.get("model"),
                    user_message_id=data.get("userMessageId"),
                    assistant_message_id=data.get("assistantMessageId"),
                ),
            )
        case "part.delta":
            delta = field("delta")
            part_id = field("partId")
            if delta.get("kind") == "text":
                return (TextDelta(part_id=part_id, text=delta.get("text") or ""),)
            if delta.get("kind") == "reasoning":
                return (ReasoningDelta(part_id=part_id, text=delta.get("reasoning") or ""),)
            return skip_unknown(PROVIDER, f"part.delta/{delta.get('kind')}")
        case "part.done":
            part = parse_part(field("part"))
            return (PartDone(part_id=field("partId"), part=part),) if part else ()
        case "tool.started":
            return (
                ToolStarted(
                    call_id=field("toolCallId"),
                    name=data.get("toolName") or "",
                    arguments=data.get("arguments") or {},
                ),
            )
        case "tool.done":
            return (ToolDone(call_id=field("toolCallId"), result=data.get("result")),)
        case "tool.failed":
            return (ToolFailed(call_id=field("toolCallId"), error=str(field("error"))),)
        case "tool.review.requested":
            return (
                ApprovalRequired(
                    call_id=field("toolCallId"),
                    name=data.get("toolName") or "",
                    arguments=data.get("arguments") or {},
                ),
            )
        case "response.done":
            return (
                Done(
                    usage=parse_usage(data.get("usage")),
                    finish_reason=data.get("finishReason"),
                    pending_tool_calls=tuple(data.get("pendingToolCalls") or ()),
                ),
            )
        case "response.failed":
            code = data.get("code")
            return (
                Failed(
                    message=str(field("error")), code=as_int(code) if code is not None else None
                ),
            )
    return skip_unknown(PROVIDER, kind)


_KNOWN = {
    "response.started",
    "part.delta",
    "part.done",
    "tool.started",
    "tool.done",
    "tool.failed",
    "tool.review.requested",
    "response.done",
    "response.failed",
}
