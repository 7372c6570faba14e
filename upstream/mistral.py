"""Mistral v1 (beta) conversations client: start, append, restart, history, streamed variants."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from upstream.errors import BadResponse
from upstream.http import HttpTransport, RetryPolicy, StreamResponse, Timeouts
from upstream.parsing import as_int, from_iso, require
from upstream.streams import skip_unknown, translate
from upstream.types import (
    Citation,
    CitationPart,
    Conversation,
    ConversationPage,
    Done,
    Failed,
    FilePart,
    Handoff,
    Message,
    NoticePart,
    OutgoingFile,
    Part,
    ReasoningDelta,
    ReasoningPart,
    Started,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolArgsDelta,
    ToolCallPart,
    ToolDone,
    ToolResultPart,
    ToolStarted,
    TurnResult,
    Usage,
)

PROVIDER = "mistral"
log = logging.getLogger(__name__)


def _error_detail(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    detail = data.get("detail", data.get("message"))
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        problems = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc") or ())
                problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        return "; ".join(problems)
    return ""


class MistralClient:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.mistral.ai",
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
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

    async def list_conversations(self, *, page: int = 0, page_size: int = 100) -> ConversationPage:
        # The SDK sends an "unset" sentinel as `metadata`; we leave the parameter out.
        data = await self.http.call(
            "GET", "/v1/conversations", params={"page": page, "page_size": page_size}
        )
        if not isinstance(data, list):
            raise BadResponse("the conversation list is not a list", provider=PROVIDER)
        # No `has_more` here: a short page is the last one.
        has_more = len(data) >= page_size
        return ConversationPage(
            conversations=tuple(parse_conversation(item) for item in data),
            has_more=has_more,
            next_cursor=str(page + 1) if has_more else None,
        )

    async def iter_conversations(self, *, page_size: int = 100) -> AsyncIterator[Conversation]:
        page = 0
        while True:
            result = await self.list_conversations(page=page, page_size=page_size)
            for conversation in result.conversations:
                yield conversation
            if not result.has_more:
                return
            page += 1

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return parse_conversation(
            await self.http.call("GET", f"/v1/conversations/{conversation_id}")
        )

    async def delete_conversation(self, conversation_id: str) -> None:
        await self.http.request("DELETE", f"/v1/conversations/{conversation_id}")

    async def history(self, conversation_id: str) -> tuple[Message, ...]:
        """Every entry, folded into messages (consecutive outputs form one assistant message)."""
        data = await self.http.call("GET", f"/v1/conversations/{conversation_id}/history")
        return fold_entries(require(data, "entries", "a conversation history", PROVIDER))

    async def messages(self, conversation_id: str) -> tuple[Message, ...]:
        data = await self.http.call("GET", f"/v1/conversations/{conversation_id}/messages")
        return fold_entries(require(data, "messages", "a message list", PROVIDER))

    # --- turns ------------------------------------------------------------------------------

    async def start(
        self,
        *,
        text: str,
        model: str | None = None,
        agent_id: str | None = None,
        title: str | None = None,
        instructions: str | None = None,
        history: Sequence[tuple[str, str]] = (),
        completion_args: dict | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> TurnResult:
        body = _start_body(
            text, model, agent_id, title, instructions, history, stream=False, files=files
        )
        _with_completion_args(body, completion_args)
        return parse_turn(await self.http.call("POST", "/v1/conversations", body=body))

    async def append(
        self,
        conversation_id: str,
        *,
        text: str,
        completion_args: dict | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> TurnResult:
        """`completion_args` for this turn only; `{}` runs it without the conversation's."""
        body = _with_completion_args(_append_body(text, files, stream=False), completion_args)
        data = await self.http.call("POST", f"/v1/conversations/{conversation_id}", body=body)
        return parse_turn(data)

    async def restart(
        self,
        conversation_id: str,
        *,
        from_entry_id: str,
        text: str,
        completion_args: dict | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> TurnResult:
        """Branch: a new upstream conversation holding the entries up to `from_entry_id`."""
        body = _restart_body(text, from_entry_id, files, stream=False)
        _with_completion_args(body, completion_args)
        data = await self.http.call(
            "POST", f"/v1/conversations/{conversation_id}/restart", body=body
        )
        return parse_turn(data)

    @asynccontextmanager
    async def stream_start(
        self,
        *,
        text: str,
        model: str | None = None,
        agent_id: str | None = None,
        title: str | None = None,
        instructions: str | None = None,
        history: Sequence[tuple[str, str]] = (),
        completion_args: dict | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        """`history`: earlier (role, text) turns the new conversation starts with, oldest first.

        `files` go with `text` as chunks (`file_chunk`): images inline, documents by URL."""
        body = _start_body(
            text, model, agent_id, title, instructions, history, stream=True, files=files
        )
        _with_completion_args(body, completion_args)
        async with self.http.open_stream("POST", "/v1/conversations", body=body) as stream:
            yield _events(stream)

    @asynccontextmanager
    async def stream_append(
        self,
        conversation_id: str,
        *,
        text: str,
        completion_args: dict | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        body = _with_completion_args(_append_body(text, files, stream=True), completion_args)
        async with self.http.open_stream(
            "POST", f"/v1/conversations/{conversation_id}", body=body
        ) as stream:
            yield _events(stream)

    @asynccontextmanager
    async def stream_restart(
        self,
        conversation_id: str,
        *,
        from_entry_id: str,
        text: str,
        completion_args: dict | None = None,
        files: Sequence[OutgoingFile] = (),
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        body = _restart_body(text, from_entry_id, files, stream=True)
        _with_completion_args(body, completion_args)
        async with self.http.open_stream(
            "POST", f"/v1/conversations/{conversation_id}/restart", body=body
        ) as stream:
            yield _events(stream)


def _start_body(
    text: str,
    model: str | None,
    agent_id: str | None,
    title: str | None,
    instructions: str | None,
    history: Sequence[tuple[str, str]] = (),
    *,
    stream: bool,
    files: Sequence[OutgoingFile] = (),
) -> dict[str, Any]:
    if bool(model) == bool(agent_id):
        raise ValueError("start a Mistral conversation with a model or an agent, not both")
    inputs = _with_history(text, history, files)
    body: dict[str, Any] = {"inputs": inputs, "stream": stream, "store": True}
    if model:
        body["model"] = model
        # Instructions belong to a model conversation; an agent brings its own.
        if instructions:
            body["instructions"] = instructions
    else:
        body["agent_id"] = agent_id
    if title:
        body["name"] = title
    return body


def _with_completion_args(body: dict[str, Any], args: dict | None) -> dict[str, Any]:
    # None leaves the key out (the conversation's own apply); `{}` is sent, to clear them.
    if args is not None:
        body["completion_args"] = dict(args)
    return body


def _with_history(
    text: str, history: Sequence[tuple[str, str]], files: Sequence[OutgoingFile] = ()
) -> str | list[dict[str, Any]]:
    """Inputs: the text alone, or the earlier turns as entries and then the text (PROTOCOL 2.1);
    with files, the text and the files as one entry's chunks."""
    if not history:
        return _user_input(text, files)
    return [*(_entry(role, said) for role, said in history), _user_entry(text, files)]


def _user_input(text: str, files: Sequence[OutgoingFile]) -> str | list[dict[str, Any]]:
    """A turn's `inputs`: a plain string, or (with files) one entry of chunks."""
    return [_user_entry(text, files)] if files else text


def _user_entry(text: str, files: Sequence[OutgoingFile]) -> dict[str, Any]:
    if not files:
        return _entry("user", text)
    chunks = [{"type": "text", "text": text}] if text else []
    chunks.extend(file_chunk(file) for file in files)
    return {"object": "entry", "type": "message.input", "role": "user", "content": chunks}


def file_chunk(file: OutgoingFile) -> dict[str, Any]:
    """A file as Mistral takes it (PROTOCOL 2.1): an image with its bytes as an `image_url`
    data URL, anything with a URL as a `document_url`. A document needs a URL Mistral can
    fetch: one with only bytes is a ValueError (the caller decides before)."""
    if file.data is not None and file.mime.startswith("image/"):
        encoded = base64.b64encode(file.data).decode("ascii")
        return {"type": "image_url", "image_url": f"data:{file.mime};base64,{encoded}"}
    if file.url:
        return {"type": "document_url", "document_url": file.url, "document_name": file.name}
    raise ValueError(
        f"Mistral takes {file.name!r} ({file.mime}) only as a document by URL, and it has none"
    )


def _entry(role: str, text: str) -> dict[str, Any]:
    # What the model said earlier goes back as its own output entry; the user's as input.
    if role == "assistant":
        return {"object": "entry", "type": "message.output", "role": "assistant", "content": text}
    if role != "user":
        raise ValueError(f"an earlier turn is the user's or the assistant's, not {role!r}")
    return {"object": "entry", "type": "message.input", "role": "user", "content": text}


def _append_body(text: str, files: Sequence[OutgoingFile], *, stream: bool) -> dict[str, Any]:
    return {
        "inputs": _user_input(text, files),
        "stream": stream,
        "store": True,
        "handoff_execution": "server",
    }


def _restart_body(
    text: str, from_entry_id: str, files: Sequence[OutgoingFile], *, stream: bool
) -> dict[str, Any]:
    return {
        "inputs": _user_input(text, files),
        "from_entry_id": from_entry_id,
        "stream": stream,
        "store": True,
        "handoff_execution": "server",
    }


def _events(stream: StreamResponse) -> AsyncIterator[StreamEvent]:
    return translate(stream, EventTranslator())


# --- wire → ours ----------------------------------------------------------------------------


def parse_conversation(data: Any) -> Conversation:
    what = "a conversation"
    return Conversation(
        id=require(data, "id", what, PROVIDER),
        provider=PROVIDER,
        title=data.get("name") or "",
        created=from_iso(require(data, "created_at", what, PROVIDER), "created_at", PROVIDER),
        updated=from_iso(require(data, "updated_at", what, PROVIDER), "updated_at", PROVIDER),
        model=data.get("model"),
        agent=data.get("agent_id"),
    )


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    extra = {key: data[key] for key in ("connector_tokens", "connectors") if data.get(key)}
    return Usage(
        input=as_int(data.get("prompt_tokens")),
        output=as_int(data.get("completion_tokens")),
        total=as_int(data.get("total_tokens")),
        extra=extra,
    )


def parse_turn(data: Any) -> TurnResult:
    outputs = require(data, "outputs", "a conversation response", PROVIDER)
    messages = fold_entries(outputs)
    model = next((e.get("model") for e in outputs if isinstance(e, dict) and e.get("model")), None)
    return TurnResult(
        conversation_id=require(data, "conversation_id", "a conversation response", PROVIDER),
        messages=messages,
        usage=parse_usage(data.get("usage")),
        model=model,
    )


def parse_content(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        raise BadResponse("message content is neither text nor chunks", provider=PROVIDER)
    parts: list[Part] = []
    for chunk in content:
        part = parse_chunk(chunk)
        if part is not None:
            parts.append(part)
    return parts


def parse_chunk(chunk: Any) -> Part | None:
    if not isinstance(chunk, dict):
        raise BadResponse("a content chunk is not an object", provider=PROVIDER)
    match chunk.get("type"):
        case "text":
            return TextPart(chunk.get("text") or "")
        case "thinking":
            return ReasoningPart(_thinking_text(chunk))
        case "tool_reference":
            return CitationPart(
                title=chunk.get("title") or "", url=chunk.get("url"), source=chunk.get("tool") or ""
            )
        case "image_url":
            image = chunk.get("image_url")
            return image_part(image.get("url") if isinstance(image, dict) else image)
        case "document_url":
            return FilePart(uri=chunk.get("document_url"), name=chunk.get("document_name"))
        case "tool_file":
            return FilePart(
                file_id=chunk.get("file_id"),
                name=chunk.get("file_name"),
                mime=chunk.get("file_type"),
            )
    log.debug("mistral: skipping content chunk of unknown type %r", chunk.get("type"))
    return None


_DATA_URL = re.compile(r"data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*?);base64,(?P<data>.*)", re.S)


def image_part(url: Any) -> FilePart:
    """An `image_url` chunk's image: a base64 data URL gives its bytes (as sent) and type."""
    if not isinstance(url, str):
        return FilePart()
    inline = _DATA_URL.fullmatch(url)
    if inline is None:
        return FilePart(uri=url)
    try:
        base64.b64decode(inline["data"], validate=True)
    except (binascii.Error, ValueError):
        return FilePart(uri=url)
    return FilePart(data=inline["data"], mime=inline["mime"] or None)


def _thinking_text(chunk: dict) -> str:
    inner = chunk.get("thinking") or ()
    if isinstance(inner, str):
        return inner
    return "".join(
        c.get("text") or "" for c in inner if isinstance(c, dict) and c.get("type") == "text"
    )


def _arguments(raw: Any) -> dict | str:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        return raw or ""
    return parsed if isinstance(parsed, dict) else raw


def fold_entries(entries: Iterable[Any]) -> tuple[Message, ...]:
    """Mistral keeps entries; we show messages. Outputs up to the next input are one reply."""
    messages: list[Message] = []
    reply: list[Part] = []
    reply_id = ""
    reply_created = None

    def close_reply() -> None:
        nonlocal reply, reply_id, reply_created
        if reply or reply_id:
            messages.append(
                Message(id=reply_id, role="assistant", parts=tuple(reply), created=reply_created)
            )
        reply, reply_id, reply_created = [], "", None

    for entry in entries:
        kind = require(entry, "type", "an entry", PROVIDER)
        entry_id = entry.get("id") or ""
        created_raw = entry.get("created_at")
        created = from_iso(created_raw, "created_at", PROVIDER) if created_raw else None
        match kind:
            case "message.input":
                close_reply()
                role = entry.get("role") or "user"
                messages.append(
                    Message(
                        id=entry_id,
                        role="assistant" if role == "assistant" else "user",
                        parts=tuple(parse_content(entry.get("content", ""))),
                        created=created,
                    )
                )
                continue
            case "function.result":
                close_reply()
                result = ToolResultPart(
                    call_id=entry.get("tool_call_id") or "", result=entry.get("result")
                )
                messages.append(Message(id=entry_id, role="tool", parts=(result,), created=created))
                continue
            case "message.output":
                reply.extend(parse_content(entry.get("content", "")))
            case "function.call":
                reply.append(
                    ToolCallPart(
                        call_id=entry.get("tool_call_id") or entry_id,
                        name=entry.get("name") or "",
                        arguments=_arguments(entry.get("arguments")),
                    )
                )
            case "tool.execution":
                reply.append(
                    ToolCallPart(
                        call_id=entry_id,
                        name=entry.get("name") or "",
                        arguments=_arguments(entry.get("arguments")),
                    )
                )
                reply.append(ToolResultPart(call_id=entry_id, result=entry.get("info") or {}))
            case "agent.handoff":
                reply.append(
                    NoticePart(
                        "handoff",
                        f"{entry.get('previous_agent_name')} → {entry.get('next_agent_name')}",
                        {k: entry.get(k) for k in ("previous_agent_id", "next_agent_id")},
                    )
                )
            case _:
                log.debug("mistral: skipping entry of unknown type %r", kind)
                continue
        # A reply is known by its last entry: that is where a restart branches from.
        reply_id = entry_id or reply_id
        reply_created = reply_created or created
    close_reply()
    return tuple(messages)


class EventTranslator:
    """Mistral's events → ours. Stateful: a client function call is announced once, and the
    model named on the output deltas is reported with `Done`."""

    def __init__(self) -> None:
        self._calls: set[str] = set()
        self._model: str | None = None

    def __call__(self, payload: dict) -> tuple[StreamEvent, ...]:
        kind = payload.get("type")

        def field(name: str) -> Any:
            return require(payload, name, f"event {kind!r}", PROVIDER)

        match kind:
            case "conversation.response.started":
                return (Started(conversation_id=field("conversation_id")),)
            case "message.output.delta":
                model = payload.get("model")
                self._model = model if isinstance(model, str) and model else self._model
                return self._delta(field("id"), payload.get("content"))
            case "tool.execution.started":
                return (
                    ToolStarted(
                        call_id=field("id"),
                        name=field("name"),
                        arguments=_arguments(payload.get("arguments")),
                    ),
                )
            case "tool.execution.delta":
                return (
                    ToolArgsDelta(call_id=field("id"), text=str(payload.get("arguments") or "")),
                )
            case "tool.execution.done":
                return (ToolDone(call_id=field("id"), result=payload.get("info") or {}),)
            case "function.call.delta":
                call_id = field("tool_call_id")
                arguments = payload.get("arguments") or ""
                if call_id in self._calls:
                    return (ToolArgsDelta(call_id=call_id, text=str(arguments)),)
                self._calls.add(call_id)
                return (
                    ToolStarted(
                        call_id=call_id, name=field("name"), arguments=_arguments(arguments)
                    ),
                )
            case "agent.handoff.started":
                return (Handoff(from_agent=payload.get("previous_agent_name")),)
            case "agent.handoff.done":
                return (Handoff(to_agent=payload.get("next_agent_name")),)
            case "conversation.response.done":
                return (Done(usage=parse_usage(payload.get("usage")), model=self._model),)
            case "conversation.response.error":
                code = payload.get("code")
                return (
                    Failed(
                        message=str(field("message")),
                        code=as_int(code) if code is not None else None,
                    ),
                )
        return skip_unknown(PROVIDER, kind)

    def _delta(self, entry_id: str, content: Any) -> tuple[StreamEvent, ...]:
        if isinstance(content, str):
            return (TextDelta(part_id=entry_id, text=content),) if content else ()
        if not isinstance(content, dict):
            raise BadResponse("message.output.delta has no content", provider=PROVIDER)
        match content.get("type"):
            case "text":
                return (TextDelta(part_id=entry_id, text=content.get("text") or ""),)
            case "thinking":
                return (ReasoningDelta(part_id=entry_id, text=_thinking_text(content)),)
            case "tool_reference":
                return (
                    Citation(
                        title=content.get("title") or "",
                        url=content.get("url"),
                        source=content.get("tool") or "",
                    ),
                )
        return skip_unknown(PROVIDER, f"message.output.delta/{content.get('type')}")
