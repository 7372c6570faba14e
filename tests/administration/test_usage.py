"""Usage: the rollup is kept as replies finish (through the real runner), and the page reads it."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from administration.models import AuditAction, AuditEntry
from conversations.models import Conversation, DailyUsage, MessageStatus
from tests.administration.test_admin import signed_in
from tests.replies import replies_finished
from tests.sockets import new_conversation, receive, socket_for, until

USAGE = reverse("admin:conversations_dailyusage_changelist")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("upstreams")
async def test_finished_and_failed_replies_roll_up_into_the_day(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "Count me"})
    await until(socket, "done")
    await socket.send_json_to({"type": "send", "text": "[[emulator break_after=6]] Break me"})
    await until(socket, "done")
    await socket.disconnect()
    await replies_finished()

    row = await DailyUsage.objects.aget(owner=alice, day=timezone.localdate())
    assert (row.provider, row.model, row.origin) == ("mistral", "mistral-small-latest", "app")
    assert (row.replies, row.failures) == (2, 1)
    assert row.tokens_in > 0 and row.tokens_out > 0
    # The broken stream reported no usage: its tokens are estimated, and marked so.
    assert row.estimated_replies == 1
    conversation = await Conversation.objects.aget(pk=conversation.pk)
    assert conversation.message_count == 4
    assert conversation.last_status == MessageStatus.FAILED
    assert conversation.tokens_out > 0


def usage_rows(owner, days: int, models: int) -> None:
    today = timezone.localdate()
    DailyUsage.objects.bulk_create(
        DailyUsage(
            day=today - datetime.timedelta(days=d),
            owner=owner,
            provider="orq",
            model=f"model-{m}",
            replies=3,
            failures=1,
            tokens_in=100 * (d + 1),
            tokens_out=250,
            estimated_replies=d % 2,
        )
        for d in range(days)
        for m in range(models)
    )


@pytest.mark.django_db
def test_the_usage_page_shows_a_chart_and_a_table_for_a_date_range(erin, alice):
    usage_rows(alice, days=10, models=2)
    page = signed_in(erin).get(USAGE, {"group": "model"})
    assert page.status_code == 200
    assert '<svg class="usage-chart"' in page.text and page.text.count("<rect") == 2 * 30
    assert "model-0" in page.text and "model-1" in page.text
    assert "10 of the replies had no usage from the provider" in page.text
    report = page.context["report"]
    assert report.total["replies"] == 60 and report.total["tokens_out"] == 5000
    narrow = signed_in(erin).get(
        USAGE, {"start": timezone.localdate().isoformat(), "end": timezone.localdate().isoformat()}
    )
    assert narrow.context["report"].total["replies"] == 6


@pytest.mark.django_db
def test_the_usage_page_makes_the_same_queries_for_10_and_1000_conversations(erin, alice, bob):
    client = signed_in(erin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert (
                client.get(USAGE, {"start": "2000-01-01", "end": "2000-03-30"}).status_code == 200
            )
        return len(captured)

    usage_rows(alice, days=10, models=1)
    few = queries()
    usage_rows(bob, days=90, models=11)  # about 1,000 rows: one per conversation-ish day
    assert queries() == few


@pytest.mark.django_db
def test_operators_export_usage_as_csv_and_reviewers_cannot(erin, dave, alice):
    usage_rows(alice, days=2, models=1)
    DailyUsage.objects.filter(owner=alice).update(model="=cmd|' /C calc'!A0")
    export = reverse("admin:conversations_dailyusage_export")
    response = signed_in(erin).get(export)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    assert text.count("'=cmd|' /C calc'!A0") == 2 and "\\n=" not in text
    assert AuditEntry.objects.get(action=AuditAction.EXPORT).actor == erin
    assert signed_in(dave).get(export).status_code == 403
    # Operators export usage, never conversations.
    conversation = Conversation.objects.create(owner=alice, provider="orq", title="x")
    response = signed_in(erin).post(
        reverse("admin:conversations_conversation_changelist"),
        {"action": "export_json", "_selected_action": [conversation.pk]},
    )
    assert response.status_code == 403
    assert (
        signed_in(erin).get(reverse("admin:conversations_conversation_import")).status_code == 403
    )
