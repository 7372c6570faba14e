"""Whose a conversation or a usage row is, in words: a person, or the widget a visitor used.

Widget visitors' conversations and usage have no owner (they belong to the widget), so every
place that names an owner asks here instead of `owner.get_username()`.
"""

from __future__ import annotations


def owner_label(record) -> str:
    """`alice`, or `widget: Shop help` (a `Conversation` or a `DailyUsage`, widget loaded)."""
    if record.owner_id is not None:
        return record.owner.get_username()
    if record.widget_id is not None:
        return f"widget: {record.widget.name}"
    return "widget: (deleted)"
