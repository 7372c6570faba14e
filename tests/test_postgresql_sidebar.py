"""On PostgreSQL, each of the sidebar's queries reads its own index in order: no sequential scan
and no sort of a person's conversations, at the top of the list or thousands of rows down.

Run in a child process against a scratch database: migrate, make a few thousand conversations
for several people (some pinned, some archived, some in Trash), ANALYZE, then EXPLAIN the very
SQL that `services.conversation_page`, `services.pinned_conversations` and `services.trash_page`
send.
"""

from __future__ import annotations

import pytest

from tests.scripts import run_script

SCRIPT = """
import json
from datetime import UTC, timedelta

import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations import services
from conversations.models import Conversation

call_command("migrate", verbosity=0)
now = timezone.now()
people = [User.objects.create(username=f"person{i}") for i in range(12)]
rows = []
for n, person in enumerate(people):
    for i in range(3000 if n == 0 else 600):
        rows.append(Conversation(
            owner=person, provider="mistral", model="mistral-small-latest", title=f"Chat {i}",
            updated=now - timedelta(minutes=37 * i),
            pinned_at=now - timedelta(minutes=i) if i % 150 == 7 else None,
            archived_at=now if i % 10 == 3 else None,
            trashed_at=now - timedelta(minutes=i) if i % 10 == 6 else None,
        ))
Conversation.objects.bulk_create(rows, batch_size=2000)
with connection.cursor() as cursor:
    cursor.execute("ANALYZE conversations_conversation")
alice = people[0]


def sql_of(call):
    with CaptureQueriesContext(connection) as captured:
        result = call()
    [query] = captured.captured_queries
    return query["sql"], result


def plan_of(sql):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        [[plan]] = cursor.fetchall()
    nodes = []
    def walk(node):
        nodes.append({"type": node["Node Type"], "index": node.get("Index Name")})
        for child in node.get("Plans", []):
            walk(child)
    walk(plan[0]["Plan"])
    return nodes


first_sql, first = sql_of(lambda: services.conversation_page(owner=alice, zone=UTC))
next_sql, _ = sql_of(
    lambda: services.conversation_page(owner=alice, zone=UTC, cursor=first.next_cursor)
)
deep = Conversation.objects.filter(
    owner=alice, pinned_at=None, archived_at=None, trashed_at=None
)[2000]
deep_cursor = f"{deep.updated.timestamp():.6f}_{deep.pk}"
deep_sql, _ = sql_of(lambda: services.conversation_page(owner=alice, zone=UTC, cursor=deep_cursor))
pinned_sql, pinned = sql_of(lambda: services.pinned_conversations(owner=alice))
archived_sql, archived = sql_of(lambda: services.conversation_page(owner=alice, archived=True))
archived_next_sql, _ = sql_of(
    lambda: services.conversation_page(owner=alice, archived=True, cursor=archived.next_cursor)
)
trash_sql, trashed = sql_of(lambda: services.trash_page(owner=alice))
trash_next_sql, _ = sql_of(
    lambda: services.trash_page(owner=alice, cursor=trashed.next_cursor)
)
print(json.dumps({
    "counts": [
        len(first.conversations), len(pinned), len(archived.conversations),
        len(trashed.conversations),
    ],
    "plans": {
        "first page": plan_of(first_sql),
        "next page": plan_of(next_sql),
        "2,000 rows down": plan_of(deep_sql),
        "pinned": plan_of(pinned_sql),
        "archived": plan_of(archived_sql),
        "archived, next page": plan_of(archived_next_sql),
        "trash": plan_of(trash_sql),
        "trash, next page": plan_of(trash_next_sql),
    },
}))
"""

INDEX_OF = {
    "first page": "conversation_listed",
    "next page": "conversation_listed",
    "2,000 rows down": "conversation_listed",
    "pinned": "conversation_pinned",
    "archived": "conversation_archived",
    "archived, next page": "conversation_archived",
    "trash": "conversation_trashed",
    "trash, next page": "conversation_trashed",
}


@pytest.mark.slow
def test_each_sidebar_query_reads_its_index_in_order_on_postgresql(scratch_database):
    found = run_script(SCRIPT, scratch_database)
    assert found["counts"] == [30, 20, 30, 30]  # a page, every pinned one, a page, a page
    for name, nodes in found["plans"].items():
        types = [node["type"] for node in nodes]
        assert "Seq Scan" not in types and "Sort" not in types, (name, nodes)
        assert "Bitmap Heap Scan" not in types, (name, nodes)  # read in order, not gathered
        indexes = {node["index"] for node in nodes if node["index"]}
        assert indexes == {INDEX_OF[name]}, (name, nodes)
