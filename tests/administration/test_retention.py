"""Retention against the live emulator: upstream first, tombstones, dry runs, twice is safe."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from administration.models import AuditAction, AuditEntry, Tombstone
from conversations.models import Conversation, Message, MessageStatus
from tests.administration.test_admin import conversation_with, signed_in
from upstream import clients
from upstream.errors import NotFound

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]


def upstream_conversation(text: str) -> str:
    turn = clients.run(lambda: clients.mistral().start(text=text, model="mistral-small-latest"))
    return turn.conversation_id


def exists_upstream(upstream_id: str) -> bool:
    try:
        clients.run(lambda: clients.mistral().get_conversation(upstream_id))
    except NotFound:
        return False
    return True


def idle(conversation, days: int):
    Conversation.objects.filter(pk=conversation.pk).update(
        updated=timezone.now() - datetime.timedelta(days=days)
    )
    return conversation


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("purge_expired", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_purge_deletes_upstream_first_leaves_tombstones_and_is_safe_twice(settings, alice):
    settings.WEBCHAT_RETENTION_DAYS = 30
    old_id = upstream_conversation("an old chat")
    old = idle(conversation_with(alice, "Old", "hi", upstream_id=old_id), 45)
    recent = idle(
        conversation_with(alice, "Recent", "hi", upstream_id=upstream_conversation("new")), 3
    )
    busy = idle(conversation_with(alice, "Busy", "hi"), 90)
    Message.objects.create(conversation=busy, role="assistant", status=MessageStatus.STREAMING)

    out, err = run("--dry-run")
    assert f"would delete conversation #{old.pk}" in out and "1 conversation(s) would" in err
    assert Conversation.objects.filter(pk=old.pk).exists() and exists_upstream(old_id)
    assert not Tombstone.objects.exists()

    out, err = run()
    assert "Deleted 1, kept 0" in err
    assert not Conversation.objects.filter(pk=old.pk).exists()
    assert not exists_upstream(old_id)
    tombstone = Tombstone.objects.get(conversation_id=old.pk)
    assert (tombstone.reason, tombstone.upstream_result, tombstone.upstream_id) == (
        "retention", "deleted", old_id,
    )  # fmt: skip
    assert tombstone.owner == alice
    assert Conversation.objects.filter(pk__in=[recent.pk, busy.pk]).count() == 2
    assert AuditEntry.objects.filter(action=AuditAction.PURGE).count() == 1

    out, err = run()
    assert "Deleted 0, kept 0" in err
    assert Tombstone.objects.count() == 1


def test_per_origin_overrides_and_off_by_default(settings, alice):
    widget_chat = conversation_with(alice, "From the widget", "hi")
    Conversation.objects.filter(pk=widget_chat.pk).update(origin="widget")
    idle(widget_chat, 10)
    app_chat = idle(conversation_with(alice, "In the app", "hi"), 400)
    out, _ = run("--dry-run")
    assert out == "", "retention is off by default"
    settings.WEBCHAT_RETENTION_BY_ORIGIN = {"widget": 7}
    out, _ = run("--dry-run")
    assert f"#{widget_chat.pk}" in out and f"#{app_chat.pk}" not in out
    settings.WEBCHAT_RETENTION_BY_ORIGIN = {"webpage": 7}
    with pytest.raises(CommandError, match="unknown origins: webpage"):
        run("--dry-run")


def test_operators_run_retention_from_the_admin_and_reviewers_cannot(settings, alice, dave, erin):
    settings.WEBCHAT_RETENTION_DAYS = 30
    old = idle(conversation_with(alice, "Private title", "hi"), 60)
    url = reverse("admin:administration_retention")
    assert signed_in(dave).get(url).status_code == 403
    assert signed_in(dave).post(url).status_code == 403
    operator = signed_in(erin)
    page = operator.get(url)
    assert page.status_code == 200 and f"#{old.pk}" in page.text
    assert "Private title" not in page.text
    response = operator.post(url, follow=True)
    assert "1 conversation(s) deleted" in response.text
    assert Tombstone.objects.filter(conversation_id=old.pk, reason="retention").exists()
    assert AuditEntry.objects.get(action=AuditAction.PURGE).actor == erin


def test_tombstones_and_what_outlives_a_conversation_keep_nothing_of_what_it_was_about(
    settings, alice, carol, erin
):
    """The rule deletes a conversation's content; an operator reads tombstones. Its title was
    kept in the tombstone (shown and searchable), in purge output and in the audit trail."""
    settings.WEBCHAT_RETENTION_DAYS = 30
    title = "Salary review of Bob"
    upstream_id = upstream_conversation("the content")
    old = idle(conversation_with(alice, title, "hi", upstream_id=upstream_id), 45)
    read = idle(conversation_with(alice, f"{title} again", "hi"), 45)
    signed_in(carol).get(reverse("admin:conversations_conversation_change", args=[read.pk]))
    out, _ = run()

    operator = signed_in(erin)
    tombstones = reverse("admin:administration_tombstone_changelist")
    listing = operator.get(tombstones)
    searched = operator.get(tombstones, {"q": "Salary"})
    tombstone = Tombstone.objects.get(conversation_id=old.pk)
    detail = operator.get(reverse("admin:administration_tombstone_change", args=[tombstone.pk]))
    assert searched.context["cl"].result_count == 0
    assert operator.get(tombstones, {"q": upstream_id}).context["cl"].result_count == 1
    summaries = " ".join(AuditEntry.objects.values_list("summary", flat=True))
    for seen in (out, listing.text, detail.text, summaries):
        assert "Salary" not in seen
    assert f"#{old.pk}" in out and f"transcript of conversation #{read.pk}" in summaries
