"""What is kept of a deleted conversation, whichever path deleted it: a tombstone and an audit row.

The delete itself is one action in conversations/deletion.py, used by the sidebar (reason
"user"), the admin ("admin"), retention ("retention"), one user's erasure ("erasure") and the
Trash emptying itself ("trash"); it calls `keep_record` (handed over in administration/apps.py)
inside the transaction that deletes our row, and for a conversation it had to keep (its upstream
delete failed).
"""

from __future__ import annotations

from administration import audit
from administration.models import AuditAction, Tombstone
from administration.owners import owner_label
from conversations.deletion import Deletion


def keep_record(deletion: Deletion) -> None:
    conversation, outcome = deletion.conversation, deletion.outcome
    if outcome.deleted:
        Tombstone.objects.create(
            conversation_id=conversation.pk,
            owner_id=conversation.owner_id,  # none for a widget's: owner_name names the widget
            owner_name=owner_label(conversation),
            provider=conversation.provider,
            upstream_id=conversation.upstream_id,
            superseded_upstream_ids=conversation.superseded_upstream_ids,
            reason=deletion.reason,
            upstream_result=outcome.upstream,
        )
    audit.record(
        AuditAction.DELETE,
        # No title: the trail outlives the conversation (see Tombstone).
        ("Deleted " if outcome.deleted else "Could not delete ") + str(outcome),
        request=deletion.request,
        actor=deletion.actor,
        target=conversation,
        detail={
            "reason": str(deletion.reason),
            "upstream": outcome.upstream,
            "deleted": outcome.deleted,
        },
    )
