"""Finding conversations by title or by any message's text, on either database."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet

from conversations.models import Message


def matching(conversations: QuerySet, term: str) -> QuerySet:
    """Conversations whose title contains `term` or with a message that matches it.

    PostgreSQL: full-text search over message text through the GIN index of migration
    conversations/0003 (the `SearchVector` below compiles to that index's expression).
    SQLite: a substring match, fine at the size SQLite is the default for.
    """
    term = term.strip()
    if not term:
        return conversations
    if connection.vendor == "postgresql":
        messages = Message.objects.annotate(document=SearchVector("text", config="simple")).filter(
            document=SearchQuery(term, config="simple", search_type="websearch")
        )
    else:
        messages = Message.objects.filter(text__icontains=term)
    # An IN over the matching messages lets PostgreSQL start from the index, not the table.
    return conversations.filter(
        Q(title__icontains=term) | Q(pk__in=messages.values("conversation_id"))
    )
