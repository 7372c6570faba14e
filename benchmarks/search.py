"""Search and sidebar benchmark on PostgreSQL: one person with 10,000 conversations and 200,000
messages (beside 100,000 messages of 50 other people).

Measures, as that person, the server time of a search inside their messages (rare, 1%, common,
two words, a phrase, nothing found) and of the sidebar's pages (the first, a later one by its
cursor): median and 95th percentile of 30 requests through Django's test client after 3 warm-up
requests, and the queries each made. Issue 14's target: search ≤ 50 ms p50. The data is made by
SQL in a scratch database that is dropped at the end.

    python benchmarks/search.py          # BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test
    python benchmarks/search.py --keep   # keep the database (its URL is printed) for another run
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psycopg  # noqa: E402
import scratch  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CONVERSATIONS = 10_000
MESSAGES = 200_000
OTHERS, OTHER_MESSAGES = 50, 100_000
RUNS, WARM = 30, 3
COMMON = (
    "the plan for next quarter needs budget review before launch and we should check latency "
    "numbers with support after migration of the database to new servers in march"
).split()


def populate(url: str) -> None:
    """Everything by SQL. Each message: 24 common words (the first 24 of COMMON, so all 23
    different ones are in every message, in an order that changes from one message to the next
    and never puts `next` just before `quarter`), a word in 1% of them (`topic0`..`topic99`)
    and one of its own (`token<n>`)."""
    from conversations.models import Conversation, Message

    words = "ARRAY[" + ",".join(f"'{w}'" for w in COMMON) + "]"
    per = MESSAGES // CONVERSATIONS
    text = (
        "array_to_string(ARRAY("
        f"SELECT ({words})[1 + ((m::bigint * 7919 + k * 104729) % {len(COMMON)})]"
        " FROM generate_series(1, 24) k), ' ') || ' topic' || (m % 100) || ' token' || m"
    )
    conversation_columns, conversation_values = scratch.filled(
        Conversation,
        {
            "owner_id": "(SELECT min(id) FROM auth_user) + CASE WHEN i <= "
            f"{CONVERSATIONS} THEN 0 ELSE 1 + i % {OTHERS} END",
            "provider": "'mistral'",
            "model": "'mistral-small-latest'",
            "upstream_id": "'conv_' || i",
            "title": "'Conversation ' || i",
            "titled": "true",
            "created": "now() - ((20000 - i) || ' minutes')::interval",
            "updated": "now() - ((20000 - i) || ' minutes')::interval",
            "message_count": str(per),
            "last_status": "'complete'",
        },
    )
    message_columns, message_values = scratch.filled(
        Message,
        {
            "conversation_id": f"c.id + m / {per}",
            "role": "CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END",
            "text": "t.text",
            "status": "'complete'",
            "model": "'mistral-small-latest'",
            "created": f"now() - (({MESSAGES} - m) || ' seconds')::interval",
            "completed": "now()",
        },
    )
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " SELECT '!', false, 'user' || i, '', '', '', false, true, now()"
            f" FROM generate_series(0, {OTHERS}) i"
        )
        db.execute(
            f"INSERT INTO conversations_conversation ({conversation_columns})"
            f" SELECT {conversation_values}"
            f" FROM generate_series(1, {CONVERSATIONS + OTHER_MESSAGES // per}) i"
        )
        for first, count in ((0, MESSAGES), (MESSAGES, OTHER_MESSAGES)):
            db.execute(
                f"INSERT INTO conversations_message ({message_columns})"
                f" SELECT {message_values}"
                f" FROM generate_series({first}, {first + count - 1}) m"
                " CROSS JOIN (SELECT min(id) AS id FROM conversations_conversation) c"
                f" CROSS JOIN LATERAL (SELECT {text} AS text) t"
            )
        db.execute("ANALYZE")


def main() -> None:
    scratch.run(__doc__.splitlines()[0], populate, measure, "search")


def measure() -> dict:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from conversations import message_search

    person = User.objects.order_by("id").first()  # the one with 10,000 conversations
    client = Client()
    client.force_login(person)
    rows = reverse("conversations:list")
    first_page = client.get(rows, headers={"HX-Request": "true"}).content.decode()
    cursor = first_page.split("cursor=")[1].split('"')[0].split("&")[0]
    searches = {
        "a word in one message ('token123457')": "token123457",
        "a word in 1% of messages ('topic42')": "topic42",
        "a word in all of them ('budget')": "budget",
        "two words ('budget topic7')": "budget topic7",
        "a phrase ('\"next quarter\"')": '"next quarter"',
        "nothing found ('zebra')": "zebra",
    }
    requests = {
        "sidebar, first page": (rows, {}),
        "sidebar, the page after it (cursor)": (rows, {"cursor": cursor}),
    }
    for label, query in searches.items():
        requests[f"search: {label}"] = (rows, {"q": query})
    results: dict = {"machine": platform.node(), "date": time.strftime("%Y-%m-%d"), "pages": {}}
    for label, (url, params) in requests.items():
        for _ in range(WARM):
            client.get(url, params, headers={"HX-Request": "true"})
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.get(url, params, headers={"HX-Request": "true"})
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        executed: list[str] = []

        def count(run, sql, *rest, executed=executed):
            executed.append(sql)
            return run(sql, *rest)

        with connection.execute_wrapper(count):
            client.get(url, params, headers={"HX-Request": "true"})
        times.sort()
        entry = {
            "p50_ms": statistics.median(times),
            "p95_ms": times[int(len(times) * 0.95) - 1],
            "min_ms": times[0],
            "max_ms": times[-1],
            "queries": len(executed),
        }
        if "q" in params:
            entry["hits"] = len(message_search.search(person, params["q"]))
        results["pages"][label] = entry
        print(
            f"{label:<52} p50 {entry['p50_ms']:7.1f} ms  p95 {entry['p95_ms']:7.1f} ms  "
            f"{entry['queries']:2d} queries"
            + (f"  {entry['hits']:2d} hits" if "hits" in entry else ""),
            flush=True,
        )
    return results


if __name__ == "__main__":
    main()
