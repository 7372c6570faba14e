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
from django.db.models import BooleanField, F
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString, mark_safe

from conversations.models import Message

RESULTS = 20  # conversations shown for one search
# Matching messages read to find them: the newest first, several may be in one conversation.
READ = 400
# PostgreSQL: up to this many matches are sorted; more, and the newest conversations are read
# BATCH, then twice as many... at a time, at most COMMON_SCAN of them (unless asked for all).
FEW = 500
BATCH = 100
COMMON_SCAN = 1000
SNIPPET_CHARS = 160
MAX_QUERY_CHARS = 200
VECTOR = "search_vector"  # PostgreSQL's stored column (migration 0018)
_PHRASE = re.compile(r'(?<!-)"([^"]*)"')  # one that is looked for, not excluded


@dataclass(frozen=True)
class Hit:
    conversation_id: int
    title: str
    message_id: int
    role: str
    created: datetime
    snippet: SafeString
    archived: bool = False


class Hits(list):
    """The hits, newest first; `partial`: only the newest COMMON_SCAN conversations were read
    (words common in the person's messages, as a phrase or rarely together, found in fewer
    than RESULTS of them), and the page offers to search all of them."""

    partial = False
    scanned = 0  # conversations read, when partial


def search(owner, query: str, *, everywhere: bool = False) -> Hits:
    """The newest matching message of each of `owner`'s conversations, newest first. On
    PostgreSQL, words in more than FEW of their messages are looked for in their newest
    COMMON_SCAN conversations, or with `everywhere` in all of them."""
    query = query.strip()[:MAX_QUERY_CHARS]
    words = terms(query)
    if not words:
        return Hits()
    # Not in Trash: what its owner deleted is found nowhere but in Trash.
    mine = Message.objects.filter(conversation__owner=owner, conversation__trashed_at=None).shown()
    if connection.vendor != "postgresql":
        for word in words:
            mine = mine.filter(text__icontains=word)
        return Hits(_hits(mine.order_by("-id"), words, whole_words=False))
    matching = _matching(mine, query)
    # The GIN index finds the rows with every word, not a phrase's order: each of those rows'
    # vectors is checked for it. So a phrase is counted by its words (the rows checked); one
    # that is excluded (-"a b") is left as it is, as its words would find too few rows.
    loose = _PHRASE.sub(r" \1 ", query)
    candidates = _matching(mine, loose) if loose != query else matching
    # Up to FEW + 1 of them, unsorted: the GIN index finds them, and stops there. Fewer: all
    # of them, checked and sorted. More: the words are common in the person's messages, so
    # their newest conversations are read a batch at a time until enough have one (sorting
    # or checking every match, or reading every message newest first, takes 150 ms to seconds
    # at 200,000 messages).
    found = list(candidates.order_by().values_list("pk", flat=True)[: FEW + 1])
    if len(found) <= FEW:
        rows = matching.filter(_any("id", found)).order_by("-id")
        return Hits(_hits(rows, words, whole_words=True))
    # Their ids at once (sorting them is most of what reading a batch costs), in batches that
    # double: a few hundred conversations find enough hits of common words; a rare phrase is
    # looked for in COMMON_SCAN of them in a few queries.
    newest = owner.conversations.filter(trashed_at=None).order_by("-updated", "-id")
    newest = list(newest.values_list("pk", flat=True)[: None if everywhere else COMMON_SCAN + 1])
    scan = newest if everywhere else newest[:COMMON_SCAN]
    hits = Hits()
    start, size = 0, BATCH
    while start < len(scan) and len(hits) < RESULTS:
        batch = scan[start : start + size]
        start, size = start + size, size * 2
        seen = {hit.conversation_id for hit in hits}
        rows = matching.filter(_any("conversation_id", batch)).order_by(_NEWEST_FOUND)
        hits += [h for h in _hits(rows, words, whole_words=True) if h.conversation_id not in seen]
    if len(hits) < RESULTS and len(newest) > len(scan):
        hits.partial, hits.scanned = True, len(scan)
    hits.sort(key=lambda hit: -hit.message_id)
    del hits[RESULTS:]
    return hits


# Newest first, but not by walking the primary key backwards: given a few hundred conversations
# and a LIMIT, PostgreSQL expects the words in many rows and walks it, checking all 300,000
# (140 ms). `id + 0` is no index's order, so it reads the conversations' rows and sorts them.
_NEWEST_FOUND = (F("id") + 0).desc()


def _any(column: str, ids: list[int]) -> RawSQL:
    """`column IN ids` as one array parameter: `__in` with thousands of ids spent more time
    preparing each of them, in Django and psycopg, than PostgreSQL spent on the query."""
    sql = f'"conversations_message"."{column}" = ANY(%s)'
    return RawSQL(sql, (ids,), output_field=BooleanField())


def _matching(messages, query: str):
    # The stored vector (migration 0018): read, never recomputed, for every row checked.
    stored = RawSQL(f'"conversations_message"."{VECTOR}"', [], output_field=SearchVectorField())
    return messages.annotate(document=stored).filter(
        document=SearchQuery(query, config="simple", search_type="websearch")
    )


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
