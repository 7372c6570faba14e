"""The one conversation, message and stream-event model both providers are mapped onto."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# A provider adapter's key ("orq", "mistral").
Provider = str
Role = Literal["user", "assistant", "tool", "system"]


# --- Message parts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    kind: str = field(default="text", init=False)


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    text: str
    signature: str | None = None
    kind: str = field(default="reasoning", init=False)


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    call_id: str
    name: str
    arguments: dict | str
    kind: str = field(default="tool_call", init=False)


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    call_id: str
    result: Any
    is_error: bool = False
    kind: str = field(default="tool_result", init=False)


@dataclass(frozen=True, slots=True)
class FilePart:
    """A file in a message: `data` is base64 as the provider sent it (Orq `bytes`, the payload
    of a Mistral image data URL), `uri` a link it fetches, `file_id` one it keeps."""

    uri: str | None = None
    data: str | None = None
    file_id: str | None = None
    mime: str | None = None
    name: str | None = None
    kind: str = field(default="file", init=False)


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A file sent with a user's turn: inline bytes, or a URL the provider fetches."""

    name: str
    mime: str
    data: bytes | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class CitationPart:
    title: str
    url: str | None = None
    source: str = ""
    kind: str = field(default="citation", init=False)


@dataclass(frozen=True, slots=True)
class NoticePart:
    """Something to show that is not the assistant's words: a handoff, an error part."""

    notice: Literal["handoff", "error"]
    text: str
    data: dict = field(default_factory=dict)
    kind: str = field(default="notice", init=False)


Part = (
    TextPart | ReasoningPart | ToolCallPart | ToolResultPart | FilePart | CitationPart | NoticePart
)


# --- Resources ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    provider: Provider
    title: str
    created: datetime
    updated: datetime
    model: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    role: Role
    parts: tuple[Part, ...]
    created: datetime | None = None

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """One page of a provider's list, with how to ask for the next one."""

    conversations: tuple[Conversation, ...]
    has_more: bool
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    input: int = 0
    output: int = 0
    total: int = 0
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnResult:
    """A whole (non-streamed) turn: what the assistant produced, and how to continue."""

    conversation_id: str | None
    messages: tuple[Message, ...]
    usage: Usage | None
    response_id: str | None = None
    turn_ref: str | None = None
    model: str | None = None

    @property
    def text(self) -> str:
        return "".join(m.text for m in self.messages if m.role == "assistant")


# --- Stream events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    conversation_id: str | None = None
    response_id: str | None = None
    turn_ref: str | None = None
    model: str | None = None
    user_message_id: str | None = None
    assistant_message_id: str | None = None
    kind: str = field(default="started", init=False)


@dataclass(frozen=True, slots=True)
class TextDelta:
    part_id: str
    text: str
    kind: str = field(default="text_delta", init=False)


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    part_id: str
    text: str
    kind: str = field(default="reasoning_delta", init=False)


@dataclass(frozen=True, slots=True)
class PartDone:
    """The provider's authoritative, complete version of a part it streamed in deltas."""

    part_id: str
    part: Part
    kind: str = field(default="part_done", init=False)


@dataclass(frozen=True, slots=True)
class Citation:
    title: str
    url: str | None = None
    source: str = ""
    kind: str = field(default="citation", init=False)


@dataclass(frozen=True, slots=True)
class ToolStarted:
    call_id: str
    name: str
    arguments: dict | str
    kind: str = field(default="tool_started", init=False)


@dataclass(frozen=True, slots=True)
class ToolArgsDelta:
    call_id: str
    text: str
    kind: str = field(default="tool_args_delta", init=False)


@dataclass(frozen=True, slots=True)
class ToolDone:
    call_id: str
    result: Any = None
    kind: str = field(default="tool_done", init=False)


@dataclass(frozen=True, slots=True)
class ToolFailed:
    call_id: str
    error: str
    kind: str = field(default="tool_failed", init=False)


@dataclass(frozen=True, slots=True)
class ApprovalRequired:
    call_id: str
    name: str
    arguments: dict | str
    kind: str = field(default="approval_required", init=False)


@dataclass(frozen=True, slots=True)
class Handoff:
    from_agent: str | None = None
    to_agent: str | None = None
    kind: str = field(default="handoff", init=False)


@dataclass(frozen=True, slots=True)
class Done:
    usage: Usage | None = None
    finish_reason: str | None = None
    pending_tool_calls: tuple = ()
    # The model that answered, where the provider says so only along the way (Mistral puts it
    # on each output delta); Orq says it on `Started`.
    model: str | None = None
    kind: str = field(default="done", init=False)


@dataclass(frozen=True, slots=True)
class Failed:
    """The provider reported a failure inside the stream (its HTTP status was already 200)."""

    message: str
    code: int | None = None
    kind: str = field(default="failed", init=False)


StreamEvent = (
    Started
    | TextDelta
    | ReasoningDelta
    | PartDone
    | Citation
    | ToolStarted
    | ToolArgsDelta
    | ToolDone
    | ToolFailed
    | ApprovalRequired
    | Handoff
    | Done
    | Failed
)


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    conversation: Conversation
    messages: tuple[Message, ...]
