"""One delete action behind the sidebar, the admin, retention and erasure (conversations/deletion.py).

Each path deletes upstream first (every id the conversation has had there), then ours, and
leaves the same tombstone and audit row, with its reason; an upstream failure keeps ours in
every path, and says why in the audit trail.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from administration import retention
from administration.models import AuditAction, AuditEntry, Tombstone
from conversations import deletion
from conversations.models import Conversation
from tests.administration.test_admin import CHANGELIST, conversation_with, signed_in
from tests.administration.test_retention import exists_upstream, idle, upstream_conversation
from upstream import clients

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

HTMX = {"HTTP_HX_REQUEST": "true"}
USERS = reverse("admin:auth_user_changelist")
TITLE = "Salary review of Bob"  # what nothing kept of a deleted conversation may say
ADDRESS = "10.0.0.7"


def doomed(owner, *, upstream: bool = True) -> Conversation:
    """A conversation with two ids upstream: its current one and one it replaced."""
    if upstream:
        current, superseded = upstream_conversation("now"), upstream_conversation("before")
    else:  # ids a failing provider is asked to delete
        current, superseded = "conv_current", "conv_before"
    conversation = conversation_with(owner, TITLE, "hi", upstream_id=current)
    Conversation.objects.filter(pk=conversation.pk).update(superseded_upstream_ids=[superseded])
    conversation.refresh_from_db()
    return conversation


def by_the_sidebar(conversation, owner):
    return signed_in(owner).post(
        reverse("conversations:delete", args=[conversation.pk]), REMOTE_ADDR=ADDRESS, **HTMX
    )


def by_the_admin(conversation, staff):
    return signed_in(staff).post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"},
        REMOTE_ADDR=ADDRESS,
        follow=True,
    )


def by_retention(conversation, settings):
    settings.WEBCHAT_RETENTION_DAYS = 30
    idle(conversation, 45)
    outcomes = retention.purge()
    settings.WEBCHAT_RETENTION_DAYS = 0
    return outcomes


def by_erasure(owner, staff):
    return signed_in(staff).post(
        USERS,
        {"action": "erase_data", "_selected_action": [owner.pk], "confirmed": "yes"},
        REMOTE_ADDR=ADDRESS,
        follow=True,
    )


def delete_by_every_path(settings, alice, bob, carol, *, upstream: bool):
    """One conversation deleted (or tried) by each path: {reason: conversation}."""
    sidebar, admin, expired = (doomed(alice, upstream=upstream) for _ in range(3))
    erased = doomed(bob, upstream=upstream)
    by_the_sidebar(sidebar, alice)
    by_the_admin(admin, carol)
    by_retention(expired, settings)
    by_erasure(bob, carol)
    return {"user": sidebar, "admin": admin, "retention": expired, "erasure": erased}


def shape(tombstone: Tombstone, conversation: Conversation) -> dict:
    return {
        "owner": (tombstone.owner_id, tombstone.owner_name)
        == (conversation.owner_id, conversation.owner.get_username()),
        "provider": tombstone.provider,
        "upstream_ids": [tombstone.upstream_id, *tombstone.superseded_upstream_ids]
        == [conversation.upstream_id, *conversation.superseded_upstream_ids],
        "upstream_result": tombstone.upstream_result,
    }


def test_a_delete_from_the_sidebar_leaves_a_tombstone_and_an_audit_row(alice):
    conversation = doomed(alice)
    response = by_the_sidebar(conversation, alice)
    assert response.status_code == 200 and response.content == b""
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not exists_upstream(conversation.upstream_id)
    assert not exists_upstream(conversation.superseded_upstream_ids[0])
    tombstone = Tombstone.objects.get(conversation_id=conversation.pk)
    assert (tombstone.reason, tombstone.owner, tombstone.upstream_result) == (
        "user", alice, "deleted",
    )  # fmt: skip
    entry = AuditEntry.objects.get(action=AuditAction.DELETE)
    assert (entry.actor, entry.address, entry.target_id) == (alice, ADDRESS, str(conversation.pk))
    assert entry.detail == {"reason": "user", "upstream": "deleted", "deleted": True}
    assert TITLE not in entry.summary


def test_the_four_paths_leave_the_same_tombstone_and_audit_row(settings, alice, bob, carol):
    deleted = delete_by_every_path(settings, alice, bob, carol, upstream=True)
    assert not Conversation.objects.filter(pk__in=[c.pk for c in deleted.values()]).exists()
    shapes = {}
    for reason, conversation in deleted.items():
        assert not exists_upstream(conversation.upstream_id), reason
        assert not exists_upstream(conversation.superseded_upstream_ids[0]), reason
        tombstone = Tombstone.objects.get(conversation_id=conversation.pk)
        assert tombstone.reason == reason
        shapes[reason] = shape(tombstone, conversation)
        entry = AuditEntry.objects.get(action=AuditAction.DELETE, target_id=conversation.pk)
        assert entry.detail == {"reason": reason, "upstream": "deleted", "deleted": True}
        assert (
            entry.summary == f"Deleted conversation #{conversation.pk}: deleted; upstream deleted"
        )
        expected_actor = {"user": alice, "retention": None}.get(reason, carol)
        assert entry.actor == expected_actor, reason
        assert entry.address == (None if reason == "retention" else ADDRESS), reason
    assert all(s == shapes["user"] for s in shapes.values()), shapes
    assert shapes["user"] == {
        "owner": True, "provider": "mistral", "upstream_ids": True, "upstream_result": "deleted",
    }  # fmt: skip
    summaries = " ".join(AuditEntry.objects.values_list("summary", flat=True))
    assert "Salary" not in summaries


def test_an_upstream_failure_keeps_the_conversation_in_every_path(settings, alice, bob, carol):
    settings.MISTRAL_BASE_URL = "http://127.0.0.1:9"  # nothing answers there
    clients.mistral.cache_clear()
    tried = delete_by_every_path(settings, alice, bob, carol, upstream=False)
    assert Conversation.objects.filter(pk__in=[c.pk for c in tried.values()]).count() == 4
    assert not Tombstone.objects.exists()
    for reason, conversation in tried.items():
        entry = AuditEntry.objects.get(action=AuditAction.DELETE, target_id=conversation.pk)
        assert entry.detail["reason"] == reason and entry.detail["deleted"] is False
        assert entry.detail["upstream"].startswith("failed: "), entry.detail
        assert entry.summary.startswith(f"Could not delete conversation #{conversation.pk}: kept")


def test_the_sidebar_says_why_an_upstream_failure_kept_it(settings, alice):
    conversation = doomed(alice, upstream=False)
    settings.MISTRAL_BASE_URL = "http://127.0.0.1:9"
    clients.mistral.cache_clear()
    response = by_the_sidebar(conversation, alice)
    assert response["HX-Retarget"] == "#flash"
    assert b"Mistral did not answer in time" in response.content
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_taking_back_a_conversation_never_used_keeps_nothing_of_it(alice):
    """A first message refused after its conversation was made: nobody deleted anything."""
    upstream_id = upstream_conversation("made")
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest", upstream_id=upstream_id
    )
    async_to_sync(deletion.discard)(conversation)
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not exists_upstream(upstream_id)
    assert not Tombstone.objects.exists() and not AuditEntry.objects.exists()


def test_erasure_and_retention_keep_their_receipts(settings, alice, carol):
    """The per-conversation rows come beside the path's own summary row, not instead of it."""
    settings.WEBCHAT_RETENTION_DAYS = 30
    idle(doomed(alice), 45)
    retention.purge()
    doomed(alice)
    by_erasure(alice, carol)
    assert AuditEntry.objects.filter(action=AuditAction.PURGE).count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.USER_ERASE).count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.DELETE).count() == 2
