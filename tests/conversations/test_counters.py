"""A conversation's counters (messages, tokens, last reply status) as `refresh_counters` writes
them: its SQL is written out by hand, so it is checked on SQLite here and on PostgreSQL in a
child process, against what the rows say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.scripts import run_script

pytestmark = pytest.mark.django_db


def counted() -> dict:
    """Make conversations whose counters are stale, refresh them, and report what was written."""
    from django.contrib.auth.models import User

    from conversations import services
    from conversations.models import Conversation, Message, MessageStatus

    owner = User.objects.create_user("counter", password="counter-password-1")
    busy = Conversation.objects.create(owner=owner, provider="mistral", model="m", title="busy")
    empty = Conversation.objects.create(
        owner=owner, provider="mistral", model="m", title="empty", message_count=9, tokens_in=9,
        last_status=MessageStatus.FAILED,
    )  # fmt: skip
    other = Conversation.objects.create(owner=owner, provider="mistral", model="m", title="other")
    rows = [
        (busy, "user", MessageStatus.COMPLETE, None, None),
        (busy, "assistant", MessageStatus.FAILED, 10, 20),
        (busy, "user", MessageStatus.COMPLETE, None, None),
        (busy, "assistant", MessageStatus.COMPLETE, 30, None),  # no output count: not a zero
        (busy, "user", MessageStatus.COMPLETE, 5, None),
        (other, "assistant", MessageStatus.STREAMING, 1000, 1000),
    ]
    for conversation, role, status, usage_in, usage_out in rows:
        Message.objects.create(
            conversation=conversation, role=role, status=status, text="x",
            usage_input=usage_in, usage_output=usage_out,
        )  # fmt: skip
    when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    services.refresh_counters(busy.pk, updated=when)
    services.refresh_counters(empty.pk)
    found = {}
    for conversation in (busy, empty):
        conversation.refresh_from_db()
        found[conversation.title] = {
            "count": conversation.message_count,
            "in": conversation.tokens_in,
            "out": conversation.tokens_out,
            "last": conversation.last_status,
            "updated": conversation.updated.isoformat(),
        }
    other.refresh_from_db()
    found["other untouched"] = other.message_count == 0
    found["when"] = when.isoformat()
    return found


def check(found: dict) -> None:
    assert found["busy"] == {
        "count": 5, "in": 45, "out": 20, "last": "complete", "updated": found["when"]
    }  # fmt: skip
    empty = found["empty"]
    assert (empty["count"], empty["in"], empty["out"], empty["last"]) == (0, 0, 0, "")
    assert empty["updated"] != found["when"]  # not asked to change
    assert found["other untouched"]


def test_counters_are_recounted_from_the_rows():
    check(counted())


SCRIPT = """
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.conversations.test_counters import counted
print(json.dumps(counted()))
"""


def test_counters_are_recounted_from_the_rows_on_postgresql(scratch_database):
    check(run_script(SCRIPT, scratch_database))
