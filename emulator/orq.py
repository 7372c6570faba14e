"""Orq v2: conversations, freeform turns and agent responses, kept in memory (PROTOCOL §1, §5)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from emulator import clock, files, ids, sse
from emulator.agents import ORQ_AGENTS, Agent
from emulator.asgi import Answer, BadJSON, Request, Response, empty_response
from emulator.asgi import json_response as _json
from emulator.assistant import Reply, compose_for, compose_title
from emulator.files import ReceivedFile
from emulator.knobs import KnobError, Knobs, strip_directives
from emulator.orq_events import (
    FAILURE_CODE,
    FAILURE_MESSAGE,
    agent_output,
    failure_event,
    turn_events,
    usage_json,
)
from emulator.routing import Route, route

UNNAMED = ("Untitled", "")
_PART_FIELDS = {"text": "text", "file": "file", "tool_result": "tool_call_id", "error": "error"}


class Invalid(Exception):
    """A request that does not validate: 400 with this message."""


@dataclass
class Conversation:
    id: str
    project_id: str
    display_name: str
    created_by: str
    generating_title: bool
    entity_id: str | None
    model: str | None
    created_at: int = field(default_factory=clock.epoch_ms)
    updated_at: int = 0
    updated_by: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at
        self.updated_by = self.updated_by or self.created_by

    def touch(self, by: str) -> None:
        self.updated_at = clock.epoch_ms()
        self.updated_by = by

    def as_json(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "kind": "conversation",
            "displayName": self.display_name,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "createdById": self.created_by,
            "updatedById": self.updated_by,
            "metadata": {
                "generatingTitle": self.generating_title,
                "entityId": self.entity_id,
                "model": self.model,
            },
        }


@dataclass
class Turn:
    """One model turn, from the request to the stored reply."""

    task: str
    model: str
    reply: Reply
    conversation: Conversation | None
    user_id: str
    user_message_id: str = field(default_factory=lambda: ids.orq_id("msg"))
    assistant_message_id: str = field(default_factory=lambda: ids.orq_id("msg"))
    response_id: str = field(default_factory=lambda: ids.orq_id("resp"))


class OrqAPI:
    prefix = "/v2/"

    def __init__(self, agents: tuple[Agent, ...] = ORQ_AGENTS) -> None:
        self.agents = {agent.key: agent for agent in agents} | {agent.id: agent for agent in agents}
        self.conversations: dict[str, Conversation] = {}
        self.running: set[str] = set()  # task ids with a turn under way
        # Agent memory: (agent id, memory entity_id) → how many turns it has seen.
        self.memory: dict[tuple[str, str], int] = {}
        self._background: set[asyncio.Task[None]] = set()

    def routes(self) -> list[Route]:
        conversation = "/v2/conversations/{conversation_id}"
        return [
            route("GET", "/v2/conversations/", self.list_conversations),
            route("POST", "/v2/conversations", self.create),
            route("POST", conversation + "/generate-name", self.generate_name),
            route("GET", conversation, self.retrieve),
            route("PATCH", conversation, self.update),
            route("DELETE", conversation, self.delete),
            route("POST", conversation + "/responses", self.respond, turn=True),
            route("POST", "/v2/agents/{agent_key}/responses", self.agent_respond, turn=True),
        ]

    def error(self, status: int, message: str) -> Response:
        return _json(status, {"message": message})

    def knob_error(self, exc: KnobError, *, source: str) -> Response:
        where = "X-Emulator header" if source == "header" else "[[emulator]] directive"
        return self.error(400, f"Invalid {where}: {exc}")

    def user_text(self, request: Request) -> str:
        body = request.json_or_none()
        message = body.get("message") if isinstance(body, dict) else None
        parts = message.get("parts") if isinstance(message, dict) else None
        return _text_of(parts) if isinstance(parts, list) else ""

    # --- conversations ----------------------------------------------------------------------

    async def list_conversations(self, request: Request, knobs: Knobs) -> Answer:
        raw_limit = request.query.get("limit", "10")
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return self.error(400, f"limit must be an integer from 1 to 100; got {raw_limit!r}")
        entity = request.query.get("entityId") or None
        after = request.query.get("startingAfter")
        before = request.query.get("endingBefore")
        # Ids are time-ordered, so comparing them pages correctly even past a deleted cursor.
        newest_first = [c for c in reversed(self.conversations.values()) if c.entity_id == entity]
        if after is not None:
            rest = [c for c in newest_first if c.id < after and (before is None or c.id > before)]
            page, has_more = rest[:limit], len(rest) > limit
        elif before is not None:
            rest = [c for c in newest_first if c.id > before]
            page, has_more = rest[-limit:], len(rest) > limit
        else:
            page, has_more = newest_first[:limit], len(newest_first) > limit
        return _json(
            200, {"object": "list", "data": [c.as_json() for c in page], "has_more": has_more}
        )

    async def create(self, request: Request, knobs: Knobs) -> Answer:
        try:
            body = _object(request)
            project = body.get("projectId")
            if not isinstance(project, str) or not project:
                raise Invalid("projectId is required")
            name = _display_name(body.get("displayName", "Untitled"))
            metadata = _optional_object(body, "metadata")
            generating = _optional_bool(metadata, "generatingTitle", default=False)
            entity = _optional_string(metadata, "entityId")
            model = _optional_string(metadata, "model")
        except Invalid as exc:
            return self.error(400, str(exc))
        conversation = Conversation(
            id=ids.orq_id("conv"),
            project_id=project,
            display_name=name,
            created_by=_user_id(request),
            generating_title=generating,
            entity_id=entity,
            model=model,
        )
        self.conversations[conversation.id] = conversation
        return _json(201, conversation.as_json())

    async def generate_name(self, request: Request, knobs: Knobs) -> Answer:
        try:
            context = _object(request).get("context")
            if not isinstance(context, str) or not context:
                raise Invalid("context is required and must be a non-empty string")
        except Invalid as exc:
            return self.error(400, str(exc))
        conversation = self.conversations.get(request.params["conversation_id"])
        if conversation is None:
            return self.error(404, "Conversation not found")
        if conversation.display_name not in UNNAMED:
            return self.error(400, "Conversation already has a display name")
        conversation.display_name = compose_title(strip_directives(context))
        conversation.generating_title = False
        conversation.touch(_user_id(request))
        return _json(200, conversation.as_json())

    async def retrieve(self, request: Request, knobs: Knobs) -> Answer:
        conversation = self.conversations.get(request.params["conversation_id"])
        if conversation is None:
            return self.error(404, "Conversation not found")
        return _json(200, conversation.as_json() | {"messages": conversation.messages})

    async def update(self, request: Request, knobs: Knobs) -> Answer:
        try:
            body = _object(request)
            name = _display_name(body["displayName"]) if "displayName" in body else None
            metadata = _optional_object(body, "metadata")
            generating = _optional_bool(metadata, "generatingTitle", default=None)
            entity = _optional_string(metadata, "entityId")
        except Invalid as exc:
            return self.error(400, str(exc))
        conversation = self.conversations.get(request.params["conversation_id"])
        if conversation is None:
            return self.error(404, "Conversation not found")
        if name is not None:
            conversation.display_name = name
        if generating is not None:
            conversation.generating_title = generating
        if "entityId" in metadata:
            conversation.entity_id = entity
        conversation.touch(_user_id(request))
        return _json(200, conversation.as_json())

    async def delete(self, request: Request, knobs: Knobs) -> Answer:
        if self.conversations.pop(request.params["conversation_id"], None) is None:
            return self.error(404, "Conversation not found")
        return empty_response(204)

    # --- turns ------------------------------------------------------------------------------

    async def respond(self, request: Request, knobs: Knobs) -> Answer:
        """A freeform turn; streamed unless the body says `"stream": false`."""
        try:
            body = _object(request)
            parts, message_id = _message(body, roles=("user",))
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise Invalid("model is required")
            stream = _optional_bool(body, "stream", default=True)
            task = _task_id(body)
        except Invalid as exc:
            return self.error(400, str(exc))
        conversation = self.conversations.get(request.params["conversation_id"])
        if conversation is None:
            return self.error(404, "Conversation not found")
        received = await _received_files(parts)
        if task in self.running:
            return self.error(409, f"Task {task} is still running")
        turn = self._begin(
            request,
            parts,
            message_id,
            model=model,
            task=task,
            conversation=conversation,
            knobs=knobs,
            agent=False,
            received=received,
        )
        if stream:
            return self._stream(turn, knobs)
        return await self._sync(turn, knobs)

    async def agent_respond(self, request: Request, knobs: Knobs) -> Answer:
        """An agent turn: JSON (sync or background) or SSE, as the body's `stream` flag says."""
        agent = self.agents.get(request.params["agent_key"])
        if agent is None:
            return self.error(404, f"Agent {request.params['agent_key']} not found")
        try:
            body = _object(request)
            parts, message_id = _message(body, roles=("user", "tool"))
            stream = _optional_bool(body, "stream", default=False)
            background = _optional_bool(body, "background", default=False)
            task = _task_id(body)
            linked = _optional_object(body, "conversation")
            if linked and not isinstance(linked.get("_id"), str):
                raise Invalid("conversation._id must be a string")
            variables = _optional_object(body, "variables")
            entity = _memory_entity(body)
            # Checked as Orq would; neither changes what the emulated agent says.
            _check_thread(body)
            _optional_object(body, "metadata")
        except Invalid as exc:
            return self.error(400, str(exc))
        conversation = None
        if linked:
            conversation = self.conversations.get(linked["_id"])
            if conversation is None:
                return self.error(404, "Conversation not found")
            if conversation.entity_id is None:
                # A conversation an agent speaks in is that agent's from then on.
                conversation.entity_id = agent.id
        received = await _received_files(parts)
        if task in self.running:
            return self.error(409, f"Task {task} is still running; wait until it is inactive")
        turn = self._begin(
            request,
            parts,
            message_id,
            model=agent.model,
            task=task,
            conversation=conversation,
            knobs=knobs,
            agent=True,
            variables=variables,
            remembered=self._remember(agent, entity),
            received=received,
        )
        if background:
            job = asyncio.create_task(self._run_in_background(turn, knobs))
            self._background.add(job)
            job.add_done_callback(self._background.discard)
            return _json(200, _agent_response(turn, output=[], usage=None))
        if stream:
            return self._stream(turn, knobs)
        return await self._sync(turn, knobs)

    def _begin(
        self,
        request: Request,
        parts: list[dict[str, Any]],
        message_id: str | None,
        *,
        model: str,
        task: str,
        conversation: Conversation | None,
        knobs: Knobs,
        agent: bool,
        variables: dict[str, Any] | None = None,
        remembered: int = 0,
        received: list[ReceivedFile] | None = None,
    ) -> Turn:
        """Compose the reply, mark the task running and store the user's message (its file
        parts as received: Orq keeps them)."""
        parts = [_clean_part(part) for part in parts]
        prompt = _text_of(parts) or _results_of(parts)
        reply = compose_for(
            prompt,
            agent=agent,
            tokens=knobs.tokens,
            clock=knobs.clock,
            variables=variables,
            remembered=remembered,
            files=received or (),
        )
        turn = Turn(
            task=task,
            model=model,
            reply=reply,
            conversation=conversation,
            user_id=_user_id(request),
        )
        if message_id is not None:
            turn.user_message_id = f"msg_{message_id.lower()}"
        self.running.add(task)
        if conversation is not None:
            conversation.messages.append(
                _stored(turn.user_message_id, conversation, turn.user_id, "user", parts)
            )
            conversation.touch(turn.user_id)
        return turn

    def _remember(self, agent: Agent, entity: str | None) -> int:
        """How many earlier turns this agent has had with the memory `entity`; counts this one."""
        if entity is None:
            return 0
        key = (agent.id, entity)
        earlier = self.memory.get(key, 0)
        self.memory[key] = earlier + 1
        return earlier

    def _finish(self, turn: Turn, outcome: sse.Outcome) -> None:
        """Store the reply whole unless the turn failed: a client leaving stops nothing upstream."""
        self.running.discard(turn.task)
        conversation = turn.conversation
        if conversation is None or self.conversations.get(conversation.id) is not conversation:
            return
        if outcome is sse.Outcome.FAILED:
            parts = [{"kind": "error", "error": FAILURE_MESSAGE, "code": FAILURE_CODE}]
        else:
            parts = [{"kind": "text", "text": turn.reply.full_text}]
        conversation.messages.append(
            _stored(turn.assistant_message_id, conversation, "system", "assistant", parts)
        )
        conversation.touch("system")

    def _stream(self, turn: Turn, knobs: Knobs) -> Answer:
        return sse.streamed_answer(
            turn_events(turn),
            framing=sse.ORQ,
            knobs=knobs,
            failure=failure_event(),
            on_end=lambda outcome: self._finish(turn, outcome),
        )

    async def _sync(self, turn: Turn, knobs: Knobs) -> Answer:
        try:
            await asyncio.sleep(knobs.pace_seconds(turn.reply.usage.completion_tokens))
        finally:
            self._finish(turn, sse.Outcome.COMPLETED)
        return _json(200, _agent_response(turn, output=agent_output(turn), usage=usage_json(turn)))

    async def _run_in_background(self, turn: Turn, knobs: Knobs) -> None:
        try:
            await asyncio.sleep(knobs.pace_seconds(turn.reply.usage.completion_tokens))
        finally:
            self._finish(turn, sse.Outcome.COMPLETED)


def _agent_response(
    turn: Turn, *, output: list[Any], usage: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "_id": turn.response_id,
        "task_id": turn.task,
        "created_at": clock.iso_ms(),
        "model": turn.model,
        "output": output,
        "usage": usage,
    }


def _stored(
    message_id: str, conversation: Conversation, author: str, role: str, parts: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "_id": message_id,
        "conversationId": conversation.id,
        "createdAt": clock.epoch_ms(),
        "createdById": author,
        "role": role,
        "parts": parts,
    }


def _user_id(request: Request) -> str:
    """A stable `user_…` id per API key, as Orq records who created what."""
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    return "user_" + ids.stable_ulid(token)


def _object(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except BadJSON as exc:
        raise Invalid(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Invalid("Request body must be a JSON object")
    return body


def _optional_object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{name} must be an object")
    return value


def _optional_bool(body: dict[str, Any], name: str, *, default: bool | None) -> bool | None:
    value = body.get(name, default)
    if value is not default and not isinstance(value, bool):
        raise Invalid(f"{name} must be a boolean")
    return value


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{name} must be a string or null")
    return value


def _memory_entity(body: dict[str, Any]) -> str | None:
    if body.get("memory") is None:
        return None
    memory = _optional_object(body, "memory")
    entity = memory.get("entity_id")
    if not isinstance(entity, str) or not entity:
        raise Invalid("memory.entity_id is required and must be a non-empty string")
    return entity


def _check_thread(body: dict[str, Any]) -> None:
    if body.get("thread") is None:
        return
    thread = _optional_object(body, "thread")
    if not isinstance(thread.get("id"), str) or not thread["id"]:
        raise Invalid("thread.id is required and must be a non-empty string")
    tags = thread.get("tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)
    ):
        raise Invalid("thread.tags must be an array of strings")


def _display_name(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 100:
        raise Invalid("displayName must be a string of at most 100 characters")
    return value


def _task_id(body: dict[str, Any]) -> str:
    task = body.get("task_id")
    if task is None:
        return ids.task_id()
    if not isinstance(task, str) or not task:
        raise Invalid("task_id must be a non-empty string")
    return task


def _message(
    body: dict[str, Any], *, roles: tuple[str, ...]
) -> tuple[list[dict[str, Any]], str | None]:
    """The message's parts, checked, and its `messageId` when it is a ULID."""
    message = body.get("message")
    if not isinstance(message, dict):
        raise Invalid("message is required")
    if message.get("role") not in roles:
        raise Invalid(f"message.role must be one of: {', '.join(roles)}")
    parts = message.get("parts")
    if not isinstance(parts, list) or not parts:
        raise Invalid("message.parts must be a non-empty array")
    for index, part in enumerate(parts):
        kind = part.get("kind") if isinstance(part, dict) else None
        if kind not in _PART_FIELDS:
            raise Invalid(f"message.parts[{index}].kind must be one of: {', '.join(_PART_FIELDS)}")
        if _PART_FIELDS[kind] not in part:
            raise Invalid(f"message.parts[{index}].{_PART_FIELDS[kind]} is required")
        if kind == "text" and not isinstance(part["text"], str):
            raise Invalid(f"message.parts[{index}].text must be a string")
        if kind == "file":
            _check_file(part["file"], f"message.parts[{index}].file")
    message_id = message.get("messageId")
    return parts, message_id if isinstance(message_id, str) and ids.is_ulid(message_id) else None


def _check_file(file: Any, where: str) -> None:
    """A file part's `file` in its input form: base64 `bytes` or a `uri` (PROTOCOL 1.8)."""
    if not isinstance(file, dict):
        raise Invalid(f"{where} must be an object")
    if ("bytes" in file) == ("uri" in file):
        raise Invalid(f"{where} must have either bytes (base64) or uri")
    if "bytes" in file:
        if not isinstance(file["bytes"], str):
            raise Invalid(f"{where}.bytes must be a base64 string")
        try:
            files.decode_base64(file["bytes"])
        except ValueError as exc:
            raise Invalid(f"{where}.bytes {exc}") from None
    elif not isinstance(file["uri"], str) or not file["uri"]:
        raise Invalid(f"{where}.uri must be a non-empty string")
    for name in ("mimeType", "name"):
        if file.get(name) is not None and not isinstance(file[name], str):
            raise Invalid(f"{where}.{name} must be a string")


async def _received_files(parts: list[dict[str, Any]]) -> list[ReceivedFile]:
    """What the assistant says it got: inline bytes measured, links fetched, in order."""
    received = []
    for part in parts:
        if part["kind"] != "file":
            continue
        file = part["file"]
        name = file.get("name") or "file"
        if "bytes" in file:
            data = files.decode_base64(file["bytes"])
            received.append(files.inline(name, file.get("mimeType") or "", data))
        else:
            received.append(await files.fetch(name, file["uri"]))
    return received


def _clean_part(part: dict[str, Any]) -> dict[str, Any]:
    if part["kind"] != "text":
        return part
    return {**part, "text": strip_directives(part["text"])}


def _text_of(parts: list[Any]) -> str:
    texts = [
        part["text"]
        for part in parts
        if isinstance(part, dict)
        and part.get("kind") == "text"
        and isinstance(part.get("text"), str)
    ]
    return "\n".join(texts)


def _results_of(parts: list[dict[str, Any]]) -> str:
    return "\n".join(sse.dumps(p.get("result")) for p in parts if p["kind"] == "tool_result")
