"""Mistral v1 (beta) conversations: start, append, restart, history; in memory (PROTOCOL §2)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from emulator import clock, files, ids, sse
from emulator.agents import MISTRAL_AGENT_VERSION, MISTRAL_AGENTS, Agent
from emulator.asgi import Answer, BadJSON, Request, Response, empty_response
from emulator.asgi import json_response as _json
from emulator.assistant import Reply, compose_for, cut_to
from emulator.files import ReceivedFile
from emulator.knobs import KnobError, Knobs, strip_directives
from emulator.mistral_events import failure_event, output_entries, turn_events, usage_json
from emulator.routing import Route, route

_INPUT_TYPES = (
    "message.input",
    "message.output",
    "function.result",
    "function.call",
    "tool.execution",
    "agent.handoff",
)
_REQUIRED = {
    "message.input": ("role", "content"),
    "message.output": ("content",),
    "function.result": ("tool_call_id", "result"),
    "function.call": ("tool_call_id", "name", "arguments"),
    "tool.execution": ("name", "arguments"),
    "agent.handoff": (
        "previous_agent_id",
        "previous_agent_name",
        "next_agent_id",
        "next_agent_name",
    ),
}


class Invalid(Exception):
    """A request that does not validate: 422 with FastAPI-style `detail` items."""

    def __init__(self, loc: list[str | int], msg: str, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.detail = [{"loc": loc, "msg": msg, "type": kind}]


@dataclass
class Conversation:
    id: str
    model: str | None
    agent_id: str | None
    agent_version: int | None
    instructions: str | None
    tools: list[Any]
    completion_args: dict[str, Any]
    name: str | None
    description: str | None
    metadata: dict[str, Any] | None
    created_at: str = field(default_factory=clock.iso_us)
    updated_at: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)
    # The last reply, when max_tokens cut it: its whole text and how many tokens were said, so
    # a turn asking to continue goes on where it stopped, as a model would.
    cut: tuple[Reply, int] | None = None

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at

    def as_json(self) -> dict[str, Any]:
        common = {"object": "conversation", "id": self.id}
        times = {"created_at": self.created_at, "updated_at": self.updated_at}
        about = {"name": self.name, "description": self.description, "metadata": self.metadata}
        if self.agent_id is not None:
            agent = {"agent_id": self.agent_id, "agent_version": self.agent_version}
            return common | times | agent | about
        model = {
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "completion_args": self.completion_args,
        }
        return common | times | model | about


@dataclass
class Turn:
    """One model turn: the entries it adds to a conversation, and how it is told."""

    conversation: Conversation
    reply: Reply
    store: bool
    message_id: str = field(default_factory=lambda: ids.mistral_id("msg"))
    tool_id: str = field(default_factory=lambda: ids.mistral_id("tool_exec"))
    started_at: str = field(default_factory=clock.iso_us)


class MistralAPI:
    prefix = "/v1/"

    def __init__(self, agents: tuple[Agent, ...] = MISTRAL_AGENTS) -> None:
        self.agents = {agent.id: agent for agent in agents}
        self.conversations: dict[str, Conversation] = {}

    def routes(self) -> list[Route]:
        conversation = "/v1/conversations/{conversation_id}"
        return [
            route("POST", "/v1/conversations", self.start, turn=True),
            route("GET", "/v1/conversations", self.list_conversations),
            route("GET", conversation, self.get),
            route("DELETE", conversation, self.delete),
            route("POST", conversation, self.append, turn=True),
            route("GET", conversation + "/history", self.history),
            route("GET", conversation + "/messages", self.messages),
            route("POST", conversation + "/restart", self.restart, turn=True),
        ]

    def error(self, status: int, message: str) -> Response:
        if status == 422:
            return _json(
                422, {"detail": [{"loc": ["body"], "msg": message, "type": "value_error"}]}
            )
        return _json(status, {"detail": message})

    def knob_error(self, exc: KnobError, *, source: str) -> Response:
        loc = ["header", "x-emulator"] if source == "header" else ["body", "inputs"]
        item = {"loc": [*loc, exc.knob], "msg": f"Invalid {exc}", "type": "value_error"}
        return _json(422, {"detail": [item]})

    def user_text(self, request: Request) -> str:
        body = request.json_or_none()
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if isinstance(inputs, str):
            return inputs
        if isinstance(inputs, list):
            return _last_user_text(inputs)
        return ""

    # --- conversations ----------------------------------------------------------------------

    async def list_conversations(self, request: Request, knobs: Knobs) -> Answer:
        try:
            page = _query_int(request, "page", 0, minimum=0)
            size = _query_int(request, "page_size", 100, minimum=1)
        except Invalid as exc:
            return _json(422, {"detail": exc.detail})
        wanted = _metadata_filter(request.query.get("metadata"))
        newest_first = [
            c
            for c in reversed(self.conversations.values())
            if all((c.metadata or {}).get(key) == value for key, value in wanted.items())
        ]
        chosen = newest_first[page * size : (page + 1) * size]
        return _json(200, [c.as_json() for c in chosen])

    async def get(self, request: Request, knobs: Knobs) -> Answer:
        conversation = self.conversations.get(request.params["conversation_id"])
        if conversation is None:
            return self.error(404, "Conversation not found")
        return _json(200, conversation.as_json())

    async def delete(self, request: Request, knobs: Knobs) -> Answer:
        if self.conversations.pop(request.params["conversation_id"], None) is None:
            return self.error(404, "Conversation not found")
        return empty_response(204)

    async def history(self, request: Request, knobs: Knobs) -> Answer:
        conversation = self.conversations.get(request.params["conversation_id"])
        if conversation is None:
            return self.error(404, "Conversation not found")
        return _json(
            200,
            {
                "object": "conversation.history",
                "conversation_id": conversation.id,
                "entries": conversation.entries,
            },
        )

    async def messages(self, request: Request, knobs: Knobs) -> Answer:
        conversation = self.conversations.get(request.params["conversation_id"])
        if conversation is None:
            return self.error(404, "Conversation not found")
        kinds = ("message.input", "message.output")
        return _json(
            200,
            {
                "object": "conversation.messages",
                "conversation_id": conversation.id,
                "messages": [entry for entry in conversation.entries if entry["type"] in kinds],
            },
        )

    # --- turns ------------------------------------------------------------------------------

    async def start(self, request: Request, knobs: Knobs) -> Answer:
        try:
            body = _object(request)
            inputs = _inputs(body)
            stream, store = _flags(body)
            agent_id = _optional(body, "agent_id", str)
            model = _optional(body, "model", str)
            if (agent_id is None) == (model is None):
                raise Invalid(["body", "model"], "Exactly one of model or agent_id must be set")
            conversation = Conversation(
                id=ids.mistral_id("conv"),
                model=model,
                agent_id=agent_id,
                agent_version=_optional(body, "agent_version", int),
                instructions=_optional(body, "instructions", str),
                tools=_optional(body, "tools", list) or [],
                completion_args=_completion_args(body) or {},
                name=_optional(body, "name", str),
                description=_optional(body, "description", str),
                metadata=_optional(body, "metadata", dict),
            )
        except Invalid as exc:
            return _json(422, {"detail": exc.detail})
        if agent_id is not None:
            if agent_id not in self.agents:
                return self.error(404, f"Agent {agent_id} not found")
            conversation.model = self.agents[agent_id].model
            if conversation.agent_version is None:
                conversation.agent_version = MISTRAL_AGENT_VERSION
        if store:
            self.conversations[conversation.id] = conversation
        return await self._turn(
            conversation,
            inputs,
            knobs,
            completion_args=conversation.completion_args,
            stream=stream,
            store=store,
        )

    async def append(self, request: Request, knobs: Knobs) -> Answer:
        try:
            body = _object(request)
            inputs = _inputs(body)
            stream, store = _flags(body)
            asked = _completion_args(body)
        except Invalid as exc:
            return _json(422, {"detail": exc.detail})
        conversation = self.conversations.get(request.params["conversation_id"])
        if conversation is None:
            return self.error(404, "Conversation not found")
        # This turn's args only: the conversation keeps the ones it was started with.
        return await self._turn(
            conversation,
            inputs,
            knobs,
            completion_args=conversation.completion_args if asked is None else asked,
            stream=stream,
            store=store,
        )

    async def restart(self, request: Request, knobs: Knobs) -> Answer:
        """A new conversation: the history up to and including `from_entry_id`, then this turn."""
        try:
            body = _object(request)
            inputs = _inputs(body)
            stream, store = _flags(body)
            entry_id = body.get("from_entry_id")
            if not isinstance(entry_id, str):
                raise Invalid(["body", "from_entry_id"], "Field required", "missing")
            metadata = _optional(body, "metadata", dict)
            version = _optional(body, "agent_version", int)
            asked = _completion_args(body)
        except Invalid as exc:
            return _json(422, {"detail": exc.detail})
        source = self.conversations.get(request.params["conversation_id"])
        if source is None:
            return self.error(404, "Conversation not found")
        positions = [i for i, entry in enumerate(source.entries) if entry["id"] == entry_id]
        if not positions:
            return self.error(404, f"Entry {entry_id} not found in conversation {source.id}")
        branch = Conversation(
            id=ids.mistral_id("conv"),
            model=source.model,
            agent_id=source.agent_id,
            agent_version=version if version is not None else source.agent_version,
            instructions=source.instructions,
            tools=source.tools,
            completion_args=dict(source.completion_args),
            name=source.name,
            description=source.description,
            metadata=metadata if metadata is not None else source.metadata,
            entries=[dict(entry) for entry in source.entries[: positions[0] + 1]],
        )
        if store:
            self.conversations[branch.id] = branch
        return await self._turn(
            branch,
            inputs,
            knobs,
            completion_args=branch.completion_args if asked is None else asked,
            stream=stream,
            store=store,
        )

    async def _turn(
        self,
        conversation: Conversation,
        inputs: list[dict[str, Any]],
        knobs: Knobs,
        *,
        completion_args: dict[str, Any],
        stream: bool,
        store: bool,
    ) -> Answer:
        prompt = _last_user_text(inputs)
        if not prompt:
            prompt = "\n".join(e["result"] for e in inputs if e["type"] == "function.result")
        received = await _received_files(inputs)
        max_tokens = completion_args.get("max_tokens")
        if conversation.cut is not None and _asks_to_continue(prompt):
            whole, said = conversation.cut
            whole = dataclasses.replace(whole, reasoning=(), tool=None, text=whole.text[said:])
        else:
            whole, said = (
                compose_for(
                    prompt,
                    agent=conversation.agent_id is not None,
                    tokens=knobs.tokens,
                    clock=knobs.clock,
                    instructions=conversation.instructions,
                    files=received,
                ),
                0,
            )
        reply = cut_to(whole, max_tokens)
        if store:
            cut = len(reply.text) < len(whole.text)
            original = conversation.cut[0] if said else whole
            conversation.cut = (original, said + len(reply.text)) if cut else None
        turn = Turn(conversation=conversation, reply=reply, store=store)
        if store:
            conversation.entries.extend(inputs)
            conversation.updated_at = clock.iso_us()
        if stream:
            return self._stream(turn, knobs)
        try:
            await asyncio.sleep(knobs.pace_seconds(turn.reply.usage.completion_tokens))
        finally:
            outputs = self._finish(turn, sse.Outcome.COMPLETED)
        return _json(
            200,
            {
                "object": "conversation.response",
                "conversation_id": conversation.id,
                "outputs": outputs,
                "usage": usage_json(turn),
            },
        )

    def _finish(self, turn: Turn, outcome: sse.Outcome) -> list[dict[str, Any]]:
        """The outputs, stored unless the turn failed or was not to be stored."""
        outputs = output_entries(turn)
        if turn.store and outcome is not sse.Outcome.FAILED:
            turn.conversation.entries.extend(outputs)
            turn.conversation.updated_at = clock.iso_us()
        return outputs

    def _stream(self, turn: Turn, knobs: Knobs) -> Answer:
        return sse.streamed_answer(
            turn_events(turn),
            framing=sse.MISTRAL,
            knobs=knobs,
            failure=failure_event(),
            on_end=lambda outcome: self._finish(turn, outcome),
        )


def _object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except BadJSON as exc:
        raise Invalid(["body"], f"JSON decode error: {exc}", "json_invalid") from None
    if not isinstance(body, dict):
        raise Invalid(["body"], "Input should be a valid dictionary", "dict_type")
    return body


def _flags(body: dict[str, Any]) -> tuple[bool, bool]:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise Invalid(["body", "stream"], "Input should be a valid boolean", "bool_type")
    store = body.get("store")
    if store is not None and not isinstance(store, bool):
        raise Invalid(["body", "store"], "Input should be a valid boolean", "bool_type")
    return stream, store is not False


def _optional(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        return None
    # JSON true is not an integer, although Python's bool is an int.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        kind_name = {"str": "string", "int": "integer", "dict": "dictionary"}.get(
            kind.__name__, kind.__name__
        )
        raise Invalid(
            ["body", name], f"Input should be a valid {kind_name}", f"{kind.__name__}_type"
        )
    return value


def _completion_args(body: dict[str, Any]) -> dict[str, Any] | None:
    """The request's `completion_args`, checked; None when it sends none (absent or null), so
    the conversation's own apply. `{}` is a choice: no parameters for this turn."""
    args = _optional(body, "completion_args", dict)
    if args is None:
        return None
    for name in ("temperature", "top_p"):
        value = args.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Invalid(
                ["body", "completion_args", name], "Input should be a valid number", "float_type"
            )
    limit = args.get("max_tokens")
    if limit is not None:
        loc: list[str | int] = ["body", "completion_args", "max_tokens"]
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise Invalid(loc, "Input should be a valid integer", "int_type")
        if limit < 1:
            raise Invalid(loc, "Input should be greater than 0", "greater_than")
    return args


def _inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    """`inputs` checked and turned into history entries (ids, timestamps, directives removed)."""
    if "inputs" not in body:
        raise Invalid(["body", "inputs"], "Field required", "missing")
    inputs = body["inputs"]
    now = clock.iso_us()
    if isinstance(inputs, str):
        inputs = [{"type": "message.input", "role": "user", "content": inputs}]
    elif not isinstance(inputs, list):
        raise Invalid(["body", "inputs"], "Input should be a valid string or list", "string_type")
    entries = []
    for index, raw in enumerate(inputs):
        loc: list[str | int] = ["body", "inputs", index]
        if not isinstance(raw, dict):
            raise Invalid(loc, "Input should be a valid dictionary", "dict_type")
        kind = raw.get("type", _guess_type(raw))
        if kind not in _INPUT_TYPES:
            raise Invalid(
                [*loc, "type"], f"Input should be one of {', '.join(_INPUT_TYPES)}", "literal_error"
            )
        for name in _REQUIRED[kind]:
            if name not in raw:
                raise Invalid([*loc, name], "Field required", "missing")
        if kind == "message.input" and raw["role"] not in ("user", "assistant"):
            raise Invalid([*loc, "role"], "Input should be 'assistant' or 'user'", "literal_error")
        if kind == "function.result" and not isinstance(raw["result"], str):
            raise Invalid([*loc, "result"], "Input should be a valid string", "string_type")
        entry = {**raw, "object": "entry", "type": kind, "created_at": now, "completed_at": None}
        entry["id"] = ids.mistral_id(_ID_PREFIX.get(kind, "msg"))
        if kind == "message.input":
            entry["content"] = _clean_content(raw["content"], [*loc, "content"])
            entry.setdefault("prefix", False)
        entries.append(entry)
    return entries


_ID_PREFIX = {
    "function.result": "fr",
    "function.call": "fc",
    "tool.execution": "tool_exec",
    "agent.handoff": "handoff",
}


def _guess_type(raw: dict[str, Any]) -> str:
    if "tool_call_id" in raw and "result" in raw:
        return "function.result"
    return "message.input"


def _clean_content(content: Any, loc: list[str | int]) -> Any:
    if isinstance(content, str):
        return strip_directives(content)
    if not isinstance(content, list):
        raise Invalid(loc, "Input should be a valid string or list of chunks", "string_type")
    for index, chunk in enumerate(content):
        _check_chunk(chunk, [*loc, index])
    return [
        {**chunk, "text": strip_directives(chunk["text"])}
        if isinstance(chunk, dict)
        and chunk.get("type", "text") == "text"
        and isinstance(chunk.get("text"), str)
        else chunk
        for chunk in content
    ]


def _chunk_type(chunk: dict[str, Any]) -> Any:
    # `type` may be left out (the SDK's models default it); the fields then say which it is.
    if "type" in chunk:
        return chunk["type"]
    return next((name for name in ("image_url", "document_url") if name in chunk), "text")


def _check_chunk(chunk: Any, loc: list[str | int]) -> None:
    """Text, image and document chunks as Mistral validates them (PROTOCOL 2.1); other chunk
    types pass as they are."""
    if not isinstance(chunk, dict):
        raise Invalid(loc, "Input should be a valid dictionary", "dict_type")
    match _chunk_type(chunk):
        case "text":
            if not isinstance(chunk.get("text"), str):
                raise Invalid([*loc, "text"], "Input should be a valid string", "string_type")
        case "image_url":
            _check_image(chunk.get("image_url"), [*loc, "image_url"])
        case "document_url":
            url = chunk.get("document_url")
            if url is None:
                raise Invalid([*loc, "document_url"], "Field required", "missing")
            if not isinstance(url, str):
                raise Invalid(
                    [*loc, "document_url"], "Input should be a valid string", "string_type"
                )
            name = chunk.get("document_name")
            if name is not None and not isinstance(name, str):
                raise Invalid(
                    [*loc, "document_name"], "Input should be a valid string", "string_type"
                )


def _image_url(image: Any) -> Any:
    """`image_url` is a URL string or `{url, detail}`."""
    return image.get("url") if isinstance(image, dict) else image


def _check_image(image: Any, loc: list[str | int]) -> None:
    if image is None:
        raise Invalid(loc, "Field required", "missing")
    if isinstance(image, dict):
        loc = [*loc, "url"]
        detail = image.get("detail")
        if detail is not None and not isinstance(detail, str):
            raise Invalid([*loc[:-1], "detail"], "Input should be a valid string", "string_type")
    url = _image_url(image)
    if url is None:
        raise Invalid(loc, "Field required", "missing")
    if not isinstance(url, str):
        raise Invalid(loc, "Input should be a valid string", "string_type")
    if url.lower().startswith("data:"):
        try:
            files.decode_data_url(url)
        except ValueError as exc:
            raise Invalid(loc, f"Invalid image data URL: it {exc}", "value_error") from None
    elif not files.is_web_link(url):
        raise Invalid(loc, "Input should be an http(s) URL or a data URL", "url_scheme")


async def _received_files(inputs: list[dict[str, Any]]) -> list[ReceivedFile]:
    """The files of the message the turn answers (the last user input): an image's data URL
    decoded, any link fetched as Mistral would."""
    said = [e.get("content") for e in inputs if _is_user_input(e)]
    content = said[-1] if said else None
    if not isinstance(content, list):
        return []
    received = []
    for chunk in content:
        match _chunk_type(chunk):
            case "image_url":
                url = _image_url(chunk["image_url"])
                if url.lower().startswith("data:"):
                    mime, data = files.decode_data_url(url)
                    received.append(files.inline("image", mime, data))
                else:
                    received.append(await files.fetch("image", url))
            case "document_url":
                name = chunk.get("document_name") or "document"
                received.append(await files.fetch(name, chunk["document_url"]))
    return received


_CONTINUE = re.compile(r"^\s*(?:please\s+)?(?:continue|go on|keep going)\b", re.IGNORECASE)


def _asks_to_continue(prompt: str) -> bool:
    """A turn that asks the model to go on with a reply cut at its max tokens."""
    return bool(_CONTINUE.match(prompt))


def _is_user_input(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("type", "message.input") == "message.input"
        and entry.get("role") == "user"
    )


def _last_user_text(inputs: list[Any]) -> str:
    """What the turn answers: the last user message. Entries before it are history a client
    gives a new conversation (earlier turns); they are stored, and directives in them are old."""
    said = [_content_text(e.get("content")) for e in inputs if _is_user_input(e)]
    return said[-1] if said else ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            chunk["text"]
            for chunk in content
            if isinstance(chunk, dict)
            and chunk.get("type", "text") == "text"
            and isinstance(chunk.get("text"), str)
        )
    return ""


def _query_int(request: Request, name: str, default: int, *, minimum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(
            ["query", name],
            "Input should be a valid integer, unable to parse string as an integer",
            "int_parsing",
        ) from None
    if value < minimum:
        raise Invalid(
            ["query", name],
            f"Input should be greater than or equal to {minimum}",
            "greater_than_equal",
        )
    return value


def _metadata_filter(raw: str | None) -> dict[str, Any]:
    """A JSON object filters; anything else (the SDK's unset sentinel) is ignored."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
