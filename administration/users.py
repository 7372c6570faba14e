"""One person's data: all of it exported, or all of it erased (upstream too), with a receipt."""

from __future__ import annotations

from administration import audit
from administration.models import AuditAction
from conversations import deletion
from conversations.models import DailyUsage


def erase_user_data(user, *, request=None) -> list[deletion.Outcome]:
    """Delete every conversation of `user` at the provider and here, and their usage rows.

    Widget visitors' conversations are not the widget owner's (they have no owner): untouched.

    The account stays (deleting it is a separate, ordinary admin action). Conversations whose
    upstream delete failed are kept and named in the receipt, so it can be run again.
    """
    conversations = list(user.conversations.select_related("owner").order_by("id"))
    outcomes = deletion.delete_everywhere(
        conversations, reason=deletion.Reason.ERASURE, request=request
    )
    kept = [o for o in outcomes if not o.deleted]
    usage_rows = 0
    if not kept:
        usage_rows, _ = DailyUsage.objects.filter(owner=user).delete()
    audit.record(
        AuditAction.USER_ERASE,
        f"Erased the data of {user.get_username()}: {len(outcomes) - len(kept)} conversation(s)"
        f" deleted{f', {len(kept)} kept (upstream failed)' if kept else ''}, "
        f"{usage_rows} usage row(s) deleted",
        request=request,
        target=user,
        detail={
            "deleted": [o.conversation_id for o in outcomes if o.deleted],
            "kept": {str(o.conversation_id): o.upstream for o in kept},
            "usage_rows": usage_rows,
        },
    )
    return outcomes
