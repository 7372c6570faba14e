"""How a message's parts read on the page: `{{ value|pretty_json }}` for tool calls and results."""

from __future__ import annotations

import json

from django import template

register = template.Library()

# A tool's result can be a whole document; the page folds it, and shows this much of it.
MAX_SHOWN_CHARS = 20_000


@register.filter
def pretty_json(value) -> str:
    """Tool arguments or a result as indented JSON: a dict, a list, or text that is JSON (what
    providers send as arguments); other text as it is. Escaped by the template, like any text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return _cut(value)
        if isinstance(value, str):
            return _cut(value)
    try:
        shown = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        shown = str(value)
    return _cut(shown)


def _cut(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}\n… ({len(text) - MAX_SHOWN_CHARS:,} more characters)"


@register.filter
def json_preview(value, length: int = 80) -> str:
    """One line of what a tool call or result holds, for its folded summary."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        except (TypeError, ValueError):
            text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"
