"""Versions: a regenerate or an edit keeps what it replaced, and the reader pages between them.

A version starts at the message that changed (the reply of a regenerate, the user's message of
an edit) and runs to the end of what was shown after it. The versions at one place form a
group: the first one's first message is the group's root, the others point at it (`fork`).
Only one version of a group is shown; the rows of the others are stashed under their first
message (`stash`), with nested groups inside them left as they were.

The page is linear in id order: everything shown after a message was written after it, so "the
shown rows from the version's first message on" is exactly the version being put away.

Where the provider can branch (Mistral: each version is its own upstream conversation, made by
a restart), showing a version re-points the conversation at that version's upstream
conversation. Where it cannot (Orq keeps every version in one conversation), an earlier version
is for reading only: `Conversation.older_version_shown` closes the composer until the latest
versions are shown again, and `_begin_turn` refuses a turn meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from conversations.models import Conversation, Message, MessageStatus


class VersionRefused(Exception):
    """A version cannot be shown now; the message says why, in words the page can show."""


@dataclass(frozen=True)
class Pager:
    """Where a message stands among its group's versions (number/count)."""

    number: int
    count: int
    previous: int | None  # the first message of the version before, if any
    next: int | None


def keep_replaced(reply: Message) -> None:
    """A regenerate or edit completed: what it replaced becomes an earlier version, and the new
    version's first message joins the group. Call inside the transaction that finishes it."""
    hidden = Message.objects.filter(replaced_by=reply)
    first_old = hidden.order_by("id").only("pk", "fork_id").first()
    if first_old is None:
        return
    undo = reply.undo or {}
    root = first_old.fork_id or first_old.pk
    first_new = undo.get("first") or reply.pk
    Message.objects.filter(pk=first_old.pk).update(
        upstream_state={
            "upstream_id": undo.get("upstream_id", ""),
            "turn_ref": undo.get("turn_ref", ""),
        }
    )
    hidden.update(replaced_by=None, stash=first_old.pk)
    Message.objects.filter(pk=first_new).update(fork=root)


def show(conversation: Conversation, target_id: int) -> None:
    """Show the version that starts at `target_id` instead of the one shown in its group."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.trashed_at is not None:
            raise VersionRefused("This conversation is in Trash. Restore it first.")
        target = (
            Message.objects.filter(conversation=conversation, pk=target_id)
            .only("pk", "fork_id", "stash_id", "upstream_state")
            .first()
        )
        if target is None:
            raise VersionRefused(gettext("That version is not in this conversation."))
        root = target.fork_id or target.pk
        group = Message.objects.filter(conversation=conversation).filter(Q(pk=root) | Q(fork=root))
        current = group.shown().only("pk").first()
        if current is None or target.stash_id not in (None, target.pk):
            raise VersionRefused(
                gettext("That version is inside another version that is not shown.")
            )
        if current.pk == target.pk:
            return
        if conversation.messages.filter(status=MessageStatus.STREAMING).exists():
            raise VersionRefused(
                gettext("A reply is still being written. Stop it or wait for it to finish.")
            )
        here = {"upstream_id": conversation.upstream_id, "turn_ref": conversation.turn_ref}
        conversation.messages.shown().filter(pk__gte=current.pk).update(stash=current.pk)
        Message.objects.filter(pk=current.pk).update(upstream_state=here)
        conversation.messages.filter(stash=target.pk).update(stash=None)
        fields = ["older_version_shown"]
        if conversation.capabilities.can_branch:
            fields += _repoint(conversation, target.upstream_state or {})
        conversation.older_version_shown = (
            not conversation.capabilities.can_branch and _older_shown(conversation)
        )
        conversation.save(update_fields=fields)


def _repoint(conversation: Conversation, state: dict) -> list[str]:
    """Point the conversation at the upstream conversation that continues the shown version;
    the one it leaves is kept with the superseded ones (deleted with ours)."""
    target = state.get("upstream_id", "")
    if not target or target == conversation.upstream_id:
        return []
    superseded = [i for i in conversation.superseded_upstream_ids if i != target]
    if conversation.upstream_id and conversation.upstream_id not in superseded:
        superseded.append(conversation.upstream_id)
    conversation.superseded_upstream_ids = superseded
    conversation.upstream_id, conversation.turn_ref = target, state.get("turn_ref", "")
    return ["superseded_upstream_ids", "upstream_id", "turn_ref"]


def _older_shown(conversation: Conversation) -> bool:
    """Whether a group on the page's path shows a version other than its latest."""
    return bool(_behind(conversation))


def _behind(conversation: Conversation) -> list[int]:
    """The latest version of each group on the page's path that shows an older one, in the
    order the groups appear. A group inside a version not shown has no member shown."""
    latest: dict[int, int] = {}
    shown: dict[int, int] = {}
    roots = conversation.messages.filter(fork__isnull=False).values("fork")
    members = conversation.messages.filter(Q(fork__isnull=False) | Q(pk__in=roots))
    for pk, fork, stash, replaced in members.values_list("pk", "fork", "stash", "replaced_by"):
        root = fork or pk
        latest[root] = max(latest.get(root, 0), pk)
        if stash is None and replaced is None:
            shown[root] = pk
    return [latest[root] for root in sorted(shown) if shown[root] != latest[root]]


def pagers(messages: list[Message]) -> dict[int, Pager]:
    """The pager of each of these (shown) messages that has other versions: one query."""
    roots = {m.fork_id or m.pk for m in messages}
    if not roots:
        return {}
    groups: dict[int, list[int]] = defaultdict(list)
    rows = Message.objects.filter(Q(pk__in=roots) | Q(fork__in=roots)).values_list("pk", "fork")
    for pk, fork in rows.order_by("pk"):
        groups[fork or pk].append(pk)
    found = {}
    for message in messages:
        members = groups.get(message.fork_id or message.pk, [])
        if len(members) < 2 or message.pk not in members:
            continue
        index = members.index(message.pk)
        found[message.pk] = Pager(
            number=index + 1,
            count=len(members),
            previous=members[index - 1] if index else None,
            next=members[index + 1] if index + 1 < len(members) else None,
        )
    return found


def show_latest(conversation: Conversation) -> None:
    """Show the latest version of every group on the page's path (the way back to where a
    provider that continues only the latest can go on)."""
    while behind := _behind(conversation):
        show(conversation, behind[0])  # then look again: the groups inside it changed
