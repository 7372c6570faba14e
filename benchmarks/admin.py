"""Admin benchmark on PostgreSQL: 100,000 conversations and 1,000,000 messages.

Measures the server time of the admin's conversation list, a full-text search over message
text, a 500-message transcript and a 90-day usage page (median of rounds of requests through
Django's test client, as a superuser), and an export of 10,000 conversations as JSON with its
peak memory. The data is made by SQL in a scratch database that is dropped at the end.

    python benchmarks/admin.py            # BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test
    python benchmarks/admin.py --keep     # keep the database (its URL is printed) for another run
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scratch  # noqa: E402 (beside this file)

RESULTS = scratch.RESULTS
CONVERSATIONS = 100_000
MESSAGES = 1_000_000
LONG = 500  # messages in the transcript measured
WORDS = (
    "budget holiday release hiring incident roadmap invoice contract launch review design "
    "customer support pricing migration database latency outage feature sprint retro quarter "
    "forecast vendor security audit onboarding training policy benefits office travel expense"
).split()


def populate(url: str) -> None:
    """Users, conversations, messages and 90 days of usage, all made inside PostgreSQL."""
    from conversations.models import Conversation, Message

    words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    per = MESSAGES // CONVERSATIONS
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined)"
            " SELECT '!', false, 'user' || i, '', '', '', false, true, now()"
            " FROM generate_series(1, 200) i"
        )
        conversation_columns, conversation_values = scratch.filled(
            Conversation,
            {
                "owner_id": "(SELECT min(id) FROM auth_user) + i % 200",
                "provider": "CASE WHEN i % 2 = 0 THEN 'orq' ELSE 'mistral' END",
                "model": "CASE WHEN i % 2 = 0 THEN 'openai/gpt-4o' ELSE 'mistral-small-latest' END",
                "upstream_id": "'conv_' || i",
                "title": f"initcap(({words})[1 + i % {len(WORDS)}]) || ' ' || i",
                "titled": "true",
                "origin": "CASE WHEN i % 10 = 0 THEN 'widget' ELSE 'app' END",
                "created": "now() - (i || ' minutes')::interval",
                "updated": "now() - (i || ' minutes')::interval",
                "message_count": str(per),
                "tokens_in": f"{per} * 40",
                "tokens_out": f"{per} * 120",
                "last_status": "'complete'",
            },
        )
        db.execute(
            f"INSERT INTO conversations_conversation ({conversation_columns})"
            f" SELECT {conversation_values} FROM generate_series(1, {CONVERSATIONS}) i"
        )
        # Ten messages each; every text 24 words from the vocabulary plus a unique token.
        reply = {
            "status": "'complete'",
            "model": "'mistral-small-latest'",
            "usage_input": "40",
            "usage_output": "120",
            "usage_total": "160",
            "created": "now()",
            "completed": "now()",
        }
        columns, values = scratch.filled(
            Message,
            {
                "conversation_id": f"c.id + m / {per}",
                "role": "CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END",
                "text": "t.text",
                "html": "'<p>' || t.text || '</p>'",
                **reply,
            },
        )
        db.execute(
            f"INSERT INTO conversations_message ({columns}) SELECT {values}"
            f" FROM generate_series(0, {MESSAGES - 1}) m"
            " CROSS JOIN (SELECT min(id) AS id FROM conversations_conversation) c"
            " CROSS JOIN LATERAL (SELECT array_to_string(ARRAY("
            f"   SELECT ({words})[1 + ((m::bigint * 7919 + k * 104729) % {len(WORDS)})]"
            "   FROM generate_series(1, 24) k), ' ') || ' token' || m AS text) t"
        )
        # One long conversation for the transcript.
        long_text = "repeat('A paragraph of a long answer. ', 20)"
        columns, values = scratch.filled(
            Message,
            {
                "conversation_id": "(SELECT max(id) FROM conversations_conversation)",
                "role": "CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END",
                "text": long_text,
                "html": f"'<p>' || {long_text} || '</p>'",
                **reply,
            },
        )
        db.execute(
            f"INSERT INTO conversations_message ({columns}) SELECT {values}"
            f" FROM generate_series(1, {LONG}) m"
        )
        db.execute(
            f"UPDATE conversations_conversation SET message_count = message_count + {LONG}"
            " WHERE id = (SELECT max(id) FROM conversations_conversation)"
        )
        db.execute(
            "INSERT INTO conversations_dailyusage (day, owner_id, provider, model, origin, replies,"
            " failures, tokens_in, tokens_out, estimated_replies)"
            " SELECT current_date - d, (SELECT min(id) FROM auth_user) + u, 'orq', 'model-' || mo,"
            " 'app', 50, 1, 2000, 6000, 0"
            " FROM generate_series(0, 89) d, generate_series(0, 199) u, generate_series(0, 2) mo"
        )
        db.execute("ANALYZE")


def main() -> None:
    scratch.run(__doc__.splitlines()[0], populate, measure, "admin")


def measure() -> dict:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from conversations.models import Conversation

    carol, _ = User.objects.get_or_create(
        username="bench-carol", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(carol)
    long = Conversation.objects.order_by("-id").first()
    changelist = reverse("admin:conversations_conversation_changelist")
    pages = {
        "conversation list (first page)": (changelist, {}),
        "conversation list (page 100)": (changelist, {"p": "100"}),
        "search over message text ('token777777')": (changelist, {"q": "token777777"}),
        "search over message text ('quarter forecast')": (changelist, {"q": "quarter forecast"}),
        "transcript of 500 messages": (
            reverse("admin:conversations_conversation_change", args=[long.pk]), {}),
        "usage, 90 days by day": (
            reverse("admin:conversations_dailyusage_changelist"),
            {"start": _days_ago(89), "end": _days_ago(0)}),
        "usage, 90 days by user": (
            reverse("admin:conversations_dailyusage_changelist"),
            {"start": _days_ago(89), "end": _days_ago(0), "group": "user"}),
    }  # fmt: skip
    results: dict = {"machine": platform.node(), "date": time.strftime("%Y-%m-%d"), "pages": {}}
    for label, (url, params) in pages.items():
        times = []
        for _ in range(3):
            client.get(url, params)  # warm
        for _ in range(15):
            started = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        # Counted with a wrapper: a pooled connection is handed back after each request, so
        # Django's own query log (CaptureQueriesContext) starts empty on the next one.
        executed: list[str] = []

        def count(run, sql, *rest, executed=executed):
            executed.append(sql)
            return run(sql, *rest)

        with connection.execute_wrapper(count):
            client.get(url, params)
        median = statistics.median(times)
        results["pages"][label] = {"p50_ms": median, "queries": len(executed)}
        print(f"{label:<46} {median:8.1f} ms  {len(executed):3d} queries", flush=True)
    results["export"] = measure_export()
    return results


def measure_export() -> dict:
    from conversations.models import Conversation

    try:
        from administration import exports
    except ImportError:
        print("export: administration/exports.py is not there yet")
        return {}
    ids = list(Conversation.objects.order_by("id").values_list("id", flat=True)[:10_000])
    queryset = Conversation.objects.filter(id__in=ids)
    # Timed untraced; then again under tracemalloc (which slows Python down) for the peak.
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in exports.iter_json(queryset))
    seconds = time.perf_counter() - started
    tracemalloc.start()
    for _chunk in exports.iter_json(queryset):
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"export of 10,000 conversations as JSON: {seconds:.1f} s, {size / 2**20:.1f} MiB, "
          f"peak Python memory {peak / 2**20:.1f} MiB")  # fmt: skip
    return {"seconds": seconds, "bytes": size, "peak_bytes": peak}


def _days_ago(days: int) -> str:
    import datetime

    return (datetime.date.today() - datetime.timedelta(days=days)).isoformat()


if __name__ == "__main__":
    main()
