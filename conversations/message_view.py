"""The page's view of a message: a saved row, or a streaming reply as far as it has come.

Reading a view changes nothing: a page rendered from a GET leaves the stream as it was (only a
snapshot sent on a socket seals the publisher: `snapshots.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.template.loader import render_to_string

from conversations import registry
from conversations.feedback import NONE_GIVEN, Given, offered
from conversations.labels import model_label
from conversations.models import SHOWN_PART_KINDS, Message
from conversations.rendering import snapshot
from conversations.versions import Pager


@dataclass(frozen=True)
class MessageView:
    """A message as a template shows it; a streaming reply as far as it has come."""

    message: Message
    html: str
    tail: str = ""  # a streaming reply's open block, as text
    reasoning: str = ""
    tools: tuple = ()
    seq: int = 0
    # ... and formatted provisionally (rendering.StreamingRenderer): what the page shows.
    open_html: str = ""
    pager: Pager | None = None  # "2/3" between arrows: this message starts one of several versions
    # A reply's thumbs and comment: None where no feedback is offered (a user's message, a
    # streaming reply, a widget's chat); the chat's history fills in what was given.
    feedback: Given | None = None

    @property
    def pk(self) -> int:
        return self.message.pk

    @property
    def model_label(self) -> str:
        message = self.message
        # Only a conversation the row came with: templates render in async code, where a
        # query would fail (the chat, the widget and final frames all load it with the row).
        cached = Message.conversation.is_cached(message)
        return model_label(message.model, message.conversation.agent if cached else "")


def view_of(message: Message, pager: Pager | None = None) -> MessageView:
    view = _view_of(message)
    return replace(view, pager=pager) if pager is not None else view


def _view_of(message: Message) -> MessageView:
    live = registry.live_reply(message.pk) if message.is_streaming else None
    if live is not None:
        return MessageView(
            message,
            "".join(live.closed_html),
            live.renderer.tail,
            "".join(live.reasoning),
            tuple(p for p in live.parts if p.get("kind") in SHOWN_PART_KINDS),
            live.seq,
            live.renderer.open_html(),
        )
    if message.is_streaming:
        closed, renderer = snapshot(message.text)
        return MessageView(
            message,
            closed,
            renderer.tail,
            message.reasoning,
            tuple(message.tools),
            message.seq,
            renderer.open_html(),
        )
    return MessageView(
        message,
        message.html,
        "",
        message.reasoning,
        tuple(message.tools),
        message.seq,
        feedback=_feedback_offered(message),
    )


def _feedback_offered(message: Message) -> Given | None:
    """A finished reply in a person's chat offers feedback (a widget's chat has no owner and
    offers none). Rendered here without a query, it shows none given: the socket's HTML (a
    reply that just ended has none; a snapshot's is replaced by what the page knows, in
    static/js/chat.js), while the chat's page looks up what was given (views._history)."""
    if not offered(message) or not Message.conversation.is_cached(message):
        return None
    return NONE_GIVEN if message.conversation.owner_id is not None else None


def final_frames(
    message: Message, restored: list[Message], *, seq: int, pagers: dict | None = None
) -> list[dict]:
    """What every viewer gets when a reply ends: turns it no longer replaces, then the reply,
    then the version pagers it changed (a regenerate or edit that completed)."""
    frames = []
    if restored:
        frames.append(
            {
                "type": "restored",
                "ids": [m.pk for m in restored],
                "html": "".join(
                    render_to_string("conversations/chat.html#message", {"m": view_of(m)})
                    for m in restored
                ),
            }
        )
    frames.append(
        {
            "type": "done",
            "id": message.pk,
            "seq": seq,
            "status": message.status,
            "html": render_to_string("conversations/chat.html#reply", {"m": view_of(message)}),
        }
    )
    if pagers:
        frames.append(
            {
                "type": "versions",
                "html": {
                    str(m.pk): render_to_string(
                        "conversations/chat.html#pager", {"m": MessageView(m, "", pager=pager)}
                    )
                    for m, pager in pagers.values()
                },
            }
        )
    return frames
