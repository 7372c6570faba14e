"""Finding conversations by title or by any message's text, on either database."""

from __future__ import annotations

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from conversations.models import Message

# A term in at most this many messages is rare: its conversations are fetched by id.
FEW = 1000


def matching(conversations: QuerySet, term: str) -> QuerySet:
    """Conversations whose title contains `term` or with a message that matches it.

    PostgreSQL: full-text search over message text (the GIN index of conversations/0003; the
    `SearchVector` below compiles to its expression) and a trigram index for titles (0006).
    A rare term is looked up in the message index first and the conversations fetched by id,
    with the title match beside it; a common one is checked conversation by conversation in
    the list's order, which finds a page of matches after a few rows. (One query for both
    shapes scans every conversation for one of them: 200 ms to 1 s at 100,000.)
    SQLite: a substring match, fine at the size SQLite is the default for.
    """
    term = term.strip()
    if not term:
        return conversations
    if connection.vendor != "postgresql":
        messages = Message.objects.filter(text__icontains=term)
        return conversations.filter(
            Q(title__icontains=term) | Q(pk__in=messages.values("conversation_id"))
        )
    messages = Message.objects.annotate(document=SearchVector("text", config="simple")).filter(
        document=SearchQuery(term, config="simple", search_type="websearch")
    )
    # Up to FEW + 1 matching messages, unsorted: the index stops as soon as it has them.
    found = list(messages.order_by().values_list("conversation_id", flat=True)[: FEW + 1])
    if len(found) <= FEW:
        return conversations.filter(Q(title__icontains=term) | Q(pk__in=set(found)))
    return conversations.filter(
        Q(title__icontains=term) | Exists(messages.filter(conversation_id=OuterRef("pk")))
    )
