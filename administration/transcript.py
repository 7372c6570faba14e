"""A conversation's transcript as HTML, as its owner saw it, for the admin's read-only page.

Built here rather than in a template loop: at 500 messages Django's template engine spent
most of the page's time on the per-message tags. Every value is escaped except `Message.html`,
which is our own sanitized rendering (conversations/rendering.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from conversations.labels import model_label
from conversations.models import Conversation, Feedback, Message, MessageStatus
from conversations.rendering import safe_url


def speaker(conversation: Conversation) -> str:
    """Who wrote the user messages: the owner, or a widget's visitor (who has no account)."""
    if conversation.owner_id is not None:
        return conversation.owner.get_username()
    return "Visitor"


def feedback_on(conversation: Conversation) -> dict[int, list[Feedback]]:
    """The feedback on each reply of the conversation, by message id, in one query."""
    given = defaultdict(list)
    rows = Feedback.objects.filter(message__conversation=conversation).select_related("user")
    for feedback in rows.order_by("created", "id"):
        given[feedback.message_id].append(feedback)
    return dict(given)


def render(
    messages: Iterable[Message],
    owner_name: str,
    feedback: Mapping[int, list[Feedback]] | None = None,
) -> SafeString:
    owner = escape(owner_name)
    feedback = feedback or {}
    html = "".join(_message(m, owner, feedback.get(m.pk, ())) for m in messages)
    return mark_safe(html or "<p>No messages.</p>")


def _message(m: Message, owner: str, feedback: Iterable[Feedback] = ()) -> str:
    created = timezone.localtime(m.created)
    facts = [
        f"<strong>{owner if m.role == Message.Role.USER else 'Assistant'}</strong>",
        f'<time datetime="{created.isoformat()}">{created:%Y-%m-%d %H:%M:%S}</time>',
    ]
    if m.role == Message.Role.ASSISTANT:
        facts.append(
            f'<span class="status status-{escape(m.status)}">'
            f"{escape(MessageStatus(m.status).label)}</span>"
        )
        # The model the provider reported, and an agent conversation's agent beside it.
        if label := model_label(m.model, m.conversation.agent):
            facts.append(f'<span class="model">{escape(label)}</span>')
        if m.usage_total is not None:
            facts.append(
                f"<span>{m.usage_input or 0} in / {m.usage_output or 0} out tokens (provider)</span>"
            )
        if m.stopped_at_length:
            facts.append('<span class="status">stopped at its length limit (max tokens)</span>')
        if m.completed:
            facts.append(f"<span>finished {timezone.localtime(m.completed):%H:%M:%S}</span>")
    if m.upstream_id:
        facts.append(f"<span>upstream <code>{escape(m.upstream_id)}</code></span>")
    parts = [f'<article class="turn turn-{escape(m.role)}" id="message-{m.pk}">']
    parts.append(f"<header>{''.join(facts)}</header>")
    if reasoning := m.reasoning:
        parts.append(
            "<details class='reasoning'><summary>Reasoning</summary>"
            f"<pre>{escape(reasoning)}</pre></details>"
        )
    if files := m.files:
        parts.append(f'<ul class="files">{"".join(_file(f) for f in files)}</ul>')
    if m.produced_with:
        parts.append(_produced_with(m.produced_with))
    parts.extend(_tool(part) for part in m.tools)
    body = m.html if m.html else f"<pre>{escape(m.text)}</pre>"
    parts.append(f'<div class="body">{body}</div>')
    for mark in m.continued:
        parts.append(
            '<p class="continued">Stopped at its length limit and continued: after character '
            f"{int(mark.get('at', 0))}, Webchat sent the user turn "
            f"<q>{escape(mark.get('prompt', ''))}</q> (kept in the provider's history) and the "
            "text went on.</p>"
        )
    if m.error:
        parts.append(f'<p class="error">{escape(m.error)}</p>')
    if m.error_detail:
        # What the person was spared (the transport's or the provider's own words).
        parts.append(
            f'<details class="error-detail"><summary>Detail</summary>'
            f"<pre>{escape(m.error_detail)}</pre></details>"
        )
    parts.extend(_feedback(f) for f in feedback)
    parts.append("</article>")
    return "".join(parts)


def _file(part: dict) -> str:
    """A file sent with the message: opened through the audited admin view."""
    name = escape(part.get("name") or "file")
    size = f"{part['size']:,} bytes" if part.get("size") else ""
    about = escape(" · ".join(v for v in (part.get("mime"), size) if v))
    if part.get("attachment"):
        url = reverse("admin:conversations_conversation_attachment", args=[part["attachment"]])
        shown = f'<a href="{url}">{name}</a>'
    elif href := safe_url(part.get("uri") or ""):
        shown = f'<a href="{escape(href)}" rel="noopener noreferrer nofollow">{name}</a>'
    else:
        shown = name
    return f"<li>File {shown} <span>{about}</span></li>"


_PARAMETER_NAMES = {"temperature": "temperature", "top_p": "top-p", "max_tokens": "max tokens"}


def _produced_with(sent: dict) -> str:
    """The instructions, parameters and variables the reply was asked for with."""
    rows = []
    if instructions := sent.get("instructions"):
        rows.append(f"<dt>Instructions</dt><dd><pre>{escape(instructions)}</pre></dd>")
    if parameters := sent.get("parameters"):
        said = ", ".join(
            f"{escape(_PARAMETER_NAMES.get(name, name))} {escape(value)}"
            for name, value in parameters.items()
        )
        rows.append(f"<dt>Parameters</dt><dd>{said}</dd>")
    if variables := sent.get("variables"):
        said = ", ".join(f"<code>{escape(k)}</code> = {escape(v)}" for k, v in variables.items())
        rows.append(f"<dt>Variables</dt><dd>{said}</dd>")
    return f'<dl class="produced-with" aria-label="Asked with">{"".join(rows)}</dl>'


def _feedback(f: Feedback) -> str:
    """A person's thumb on the reply above, their comment, who and when."""
    changed = timezone.localtime(f.updated)
    comment = (
        f'<blockquote class="feedback-comment">{escape(f.comment)}</blockquote>'
        if f.comment
        else '<span class="feedback-none">No comment.</span>'
    )
    return (
        f'<aside class="feedback feedback-{escape(f.rating)}" aria-label="Feedback">'
        f'<span class="feedback-rating">{escape(f.get_rating_display())}</span> '
        f"from <strong>{escape(f.user.get_username())}</strong>, "
        f'<time datetime="{changed.isoformat()}">{changed:%Y-%m-%d %H:%M:%S}</time>'
        f"{comment}</aside>"
    )


def _tool(part: dict) -> str:
    kind = part.get("kind")
    if kind == "tool_call":
        inner = f"Tool call <code>{escape(part.get('name', ''))}</code> <pre>{escape(part.get('arguments', ''))}</pre>"
    elif kind == "tool_result" and part.get("error"):
        inner = f"Tool failed: <pre>{escape(part['error'])}</pre>"
    elif kind == "tool_result":
        inner = f"Result <pre>{escape(part.get('result', ''))}</pre>"
    elif kind == "notice":
        return f'<p class="notice">{escape(part.get("text", ""))}</p>'
    else:
        label = escape(part.get("title") or part.get("url") or "")
        url = f" <code>{escape(part['url'])}</code>" if part.get("url") else ""
        # A link only through the allow-list Markdown links pass; any other URL stays text.
        if href := safe_url(part.get("url")):
            label = f'<a href="{escape(href)}" rel="noopener noreferrer nofollow">{label}</a>'
        inner = f"Source: {label}{url}"
    return f'<div class="tool">{inner}</div>'
