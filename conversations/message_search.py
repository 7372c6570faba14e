"""Finding words inside one person's messages: the newest match of each conversation, with a
snippet that shows the words found.

PostgreSQL matches with full text (`websearch` syntax: "a phrase", -not, or) on each message's
stored vector and its GIN index (migration 0018). SQLite, the default
for one person or a small team, matches each word as a substring. The snippet is cut and marked
here, in Python, the same way for both: escaped text with the words in <mark>, never the
provider's Markdown rendered (a snippet is a few words out of context).
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass
from datetime import datetime

from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString, mark_safe

from conversations.models import Message

RESULTS = 20  # conversations shown for one search
# Matching messages read to find them: the newest first, several may be in one conversation.
READ = 400
# PostgreSQL: up to this many matches are sorted; more, and the newest conversations are read
# BATCH at a time, at most COMMON_SCAN of them.
FEW = 2000
BATCH = 100
COMMON_SCAN = 2000
SNIPPET_CHARS = 160
MAX_QUERY_CHARS = 200
VECTOR = "search_vector"  # PostgreSQL's stored column (migration 0018)


@dataclass(frozen=True)
class Hit:
    conversation_id: int
    title: str
    message_id: int
    role: str
    created: datetime
    snippet: SafeString
    archived: bool = False


def search(owner, query: str) -> list[Hit]:
    """The newest matching message of each of `owner`'s conversations, newest first."""
    query = query.strip()[:MAX_QUERY_CHARS]
    words = terms(query)
    if not words:
        return []
    # Not in Trash: what its owner deleted is found nowhere but in Trash.
    mine = Message.objects.filter(conversation__owner=owner, conversation__trashed_at=None).shown()
    if connection.vendor != "postgresql":
        for word in words:
            mine = mine.filter(text__icontains=word)
        return _hits(mine.order_by("-id"), words, whole_words=False)
    # The stored vector (migration 0018): read, never recomputed, for every row checked.
    stored = RawSQL(f'"conversations_message"."{VECTOR}"', [], output_field=SearchVectorField())
    matching = mine.annotate(document=stored).filter(
        document=SearchQuery(query, config="simple", search_type="websearch")
    )
    # Up to FEW + 1 of the person's matches, unsorted: the GIN index finds them, and stops
    # there. Fewer: all of them, sorted here. More: the words are common in their messages,
    # so their newest conversations are read a batch at a time until enough have one (sorting
    # every match, or reading every message newest first, takes seconds at 200,000 messages).
    found = list(matching.order_by().values_list("pk", flat=True)[: FEW + 1])
    if len(found) <= FEW:
        return _hits(mine.filter(pk__in=found).order_by("-id"), words, whole_words=True)
    hits: list[Hit] = []
    newest = owner.conversations.filter(trashed_at=None).order_by("-updated", "-id")
    newest = newest.values_list("pk", flat=True)
    for start in range(0, COMMON_SCAN, BATCH):
        batch = list(newest[start : start + BATCH])
        seen = {hit.conversation_id for hit in hits}
        rows = matching.filter(conversation_id__in=batch).order_by("-id")
        hits += [h for h in _hits(rows, words, whole_words=True) if h.conversation_id not in seen]
        if len(hits) >= RESULTS or len(batch) < BATCH:
            break
    return sorted(hits, key=lambda hit: -hit.message_id)[:RESULTS]


def _hits(rows, words: list[str], *, whole_words: bool) -> list[Hit]:
    """The first row of each conversation, up to RESULTS conversations."""
    hits: dict[int, Hit] = {}
    values = rows.values_list(
        "pk", "conversation_id", "conversation__title", "role", "created", "text"
    )
    for pk, conversation_id, title, role, created, text in values[:READ]:
        if conversation_id not in hits and len(hits) < RESULTS:
            hits[conversation_id] = Hit(
                conversation_id,
                title,
                pk,
                role,
                created,
                snippet(text, words, whole_words=whole_words),
            )
    return list(hits.values())


def terms(query: str) -> list[str]:
    """The words a query looks for: quoted phrases whole, without `-excluded` words and `or`."""
    try:
        parts = shlex.split(query)
    except ValueError:  # an unbalanced quote: its words, as they are
        parts = query.replace('"', " ").split()
    return [p for p in parts if p and not p.startswith("-") and p.lower() != "or"]


def snippet(text: str, words: list[str], *, whole_words: bool = False) -> SafeString:
    """Around the first word found: escaped text with every word found in <mark>."""
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    if whole_words:
        alternatives = rf"(?<!\w)(?:{alternatives})(?!\w)"
    pattern = re.compile(alternatives, re.I)
    first = pattern.search(text)
    center = first.start() if first else 0
    start = max(0, center - SNIPPET_CHARS // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < center else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > center else end
    piece = " ".join(_plain(text[start:end]).split())
    marked = []
    last = 0
    for match in pattern.finditer(piece):
        marked.append(html.escape(piece[last : match.start()]))
        marked.append(f"<mark>{html.escape(match.group())}</mark>")
        last = match.end()
    marked.append(html.escape(piece[last:]))
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    return mark_safe(prefix + "".join(marked) + suffix)  # every piece escaped above


# Markdown's marks read as noise in a line of plain text: emphasis and code runs, and the marks
# that start a heading, quote or list item.
_MARKS = re.compile(r"\*\*|__|~~|`+|^\s{0,3}(?:#{1,6}|>|[-*+]|\d{1,9}[.)])[ \t]+", re.M)


def _plain(text: str) -> str:
    return _MARKS.sub("", text)
