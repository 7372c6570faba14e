"""One person's data: erased everywhere with a receipt; every admin change audited."""

from __future__ import annotations

import datetime
import io
import json
import zipfile

import pytest
from django.urls import reverse

from administration.models import AuditAction, AuditEntry, Tombstone
from conversations.models import Conversation, DailyUsage
from tests.administration.test_admin import conversation_with, signed_in
from tests.administration.test_retention import exists_upstream, upstream_conversation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

USERS = reverse("admin:auth_user_changelist")


def test_erasing_a_users_data_deletes_upstream_and_leaves_a_receipt(carol, alice, bob):
    upstream_id = upstream_conversation("alice's private chat")
    mine = conversation_with(alice, "Alice's", "hi", upstream_id=upstream_id)
    theirs = conversation_with(bob, "Bob's", "hi")
    DailyUsage.objects.create(
        day=datetime.date.today(), owner=alice, provider="mistral", model="m", replies=1
    )
    client = signed_in(carol)
    confirm = client.post(USERS, {"action": "erase_data", "_selected_action": [alice.pk]})
    assert "Yes, erase their data" in confirm.text and not Tombstone.objects.exists()
    done = client.post(
        USERS,
        {"action": "erase_data", "_selected_action": [alice.pk], "confirmed": "yes"},
        follow=True,
    )
    notes = [str(m) for m in done.context["messages"]]
    assert "alice: 1 conversation(s) erased." in notes, notes
    assert not Conversation.objects.filter(pk=mine.pk).exists()
    assert not exists_upstream(upstream_id)
    assert not DailyUsage.objects.filter(owner=alice).exists()
    assert Conversation.objects.filter(pk=theirs.pk).exists()
    receipt = AuditEntry.objects.get(action=AuditAction.USER_ERASE)
    assert receipt.actor == carol and receipt.target_id == str(alice.pk)
    assert receipt.detail["deleted"] == [mine.pk]
    assert Tombstone.objects.get(conversation_id=mine.pk).reason == "erasure"
    alice.refresh_from_db()  # the account itself stays


def test_reviewers_and_operators_cannot_touch_users(dave, erin, alice):
    for staff in (dave, erin):
        client = signed_in(staff)
        assert client.get(USERS).status_code == 403
        client.post(
            USERS, {"action": "erase_data", "_selected_action": [alice.pk], "confirmed": "yes"}
        )
    assert not AuditEntry.objects.filter(action=AuditAction.USER_ERASE).exists()


def test_every_admin_change_is_in_the_audit_trail(carol, bob):
    client = signed_in(carol)
    url = reverse("admin:auth_user_change", args=[bob.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(username="bob", is_staff="on", date_joined_0="2026-01-01", date_joined_1="00:00:00")
    data.pop("groups", None), data.pop("user_permissions", None), data.pop("last_login", None)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = AuditEntry.objects.get(action=AuditAction.CHANGE)
    assert entry.actor == carol and "bob" in entry.summary and "Staff status" in entry.summary


def test_exporting_a_users_data_gives_one_zip_of_everything(carol, alice, bob):
    conversation_with(alice, "Alice's notes", "my words", "the reply")
    conversation_with(bob, "Bob's", "not alice's")
    DailyUsage.objects.create(
        day=datetime.date.today(), owner=alice, provider="mistral", model="=HYPERLINK()", replies=2
    )
    response = signed_in(carol).post(
        USERS, {"action": "export_data", "_selected_action": [alice.pk]}
    )
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        names = archive.namelist()
        document = json.loads(archive.read("conversations.json"))
        usage = archive.read("usage.csv").decode()
    assert [c["title"] for c in document["conversations"]] == ["Alice's notes"]
    assert "'=HYPERLINK()" in usage
    assert len([n for n in names if n.startswith("transcripts/")]) == 1
    receipt = AuditEntry.objects.get(action=AuditAction.USER_EXPORT)
    assert receipt.actor == carol and receipt.target_id == str(alice.pk)
