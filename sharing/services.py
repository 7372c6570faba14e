"""What people do with shared links: share, revoke, read, and continue in their own chats."""

from __future__ import annotations

from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from administration import audit
from administration.models import AuditAction
from conversations import services
from conversations.choices import choice_of
from conversations.models import TITLE_MAX_LENGTH, Conversation, Message, MessageStatus
from conversations.rendering import render_markdown, render_user_text
from conversations.services import Refused
from sharing.models import Share, SharedCopy
from webchat.badinput import BadInput

# What a link may last, as the form offers it: (value, label, days).
EXPIRY = (("never", gettext_lazy("Never"), None), ("1", gettext_lazy("In 1 day"), 1),
          ("7", gettext_lazy("In 7 days"), 7), ("30", gettext_lazy("In 30 days"), 30))  # fmt: skip
COPY_SUFFIX = " (copy)"


def public_allowed() -> bool:
    """Whether a link may be made for anyone (WEBCHAT_PUBLIC_SHARES)."""
    return settings.WEBCHAT_PUBLIC_SHARES


def share_create(*, conversation: Conversation, by, audience: str, expires: str, request=None):
    """A new link to the conversation as it reads now: the messages shown, nothing later."""
    if audience not in Share.Audience.values:
        raise BadInput("Say who may open the link: members or anyone.")
    days = {value: days for value, _, days in EXPIRY}
    if expires not in days:
        raise BadInput("Pick when the link expires: never, or in 1, 7 or 30 days.")
    if audience == Share.Audience.ANYONE and not public_allowed():
        raise Refused(
            gettext(
                "An administrator has turned off links for anyone: make one for signed-in members."
            )
        )
    # A reply still being written is not in it: what it writes after this moment is later.
    finished = conversation.messages.shown().exclude(status=MessageStatus.STREAMING)
    ids = list(finished.order_by("id").values_list("pk", flat=True))
    if not ids:
        raise Refused(gettext("There is nothing to share yet: write a message first."))
    now = timezone.now()
    share = Share.objects.create(
        conversation=conversation,
        created_by=by,
        message_ids=ids,
        audience=audience,
        expires=now + timedelta(days=days[expires]) if days[expires] else None,
        created=now,
    )
    audit.record(
        AuditAction.SHARE_CREATE,
        # No title: the trail outlives the conversation (see administration's Tombstone).
        f"Shared conversation #{conversation.pk} ({len(ids)} messages) with "
        f"{share.get_audience_display().lower()}"
        + (f" until {share.expires:%Y-%m-%d %H:%M} UTC" if share.expires else ""),
        request=request,
        actor=by,
        target=share,
        detail=_detail(share, messages=len(ids)),
    )
    return share


def share_revoke(*, share: Share, request=None, actor=None) -> bool:
    """The link opens no more (already revoked: nothing changes). Whether it was revoked now."""
    revoked = Share.objects.filter(pk=share.pk, revoked__isnull=True).update(revoked=timezone.now())
    share.refresh_from_db(fields=["revoked"])
    if revoked:
        audit.record(
            AuditAction.SHARE_REVOKE,
            f"Revoked shared link #{share.pk} to conversation #{share.conversation_id}",
            request=request,
            actor=actor,
            target=share,
            detail=_detail(share),
        )
    return bool(revoked)


def shares_of(conversation: Conversation) -> list[Share]:
    return list(conversation.shares.order_by("-created", "-id"))


def share_open(token: str) -> Share | None:
    """The link with this token if it opens; None when it is unknown, revoked or expired alike,
    so that no answer tells them apart. A conversation its owner put in the Trash opens to no
    one meanwhile (restored, its links open again)."""
    rows = Share.objects.select_related("conversation", "created_by")
    share = rows.filter(token=token, conversation__trashed_at__isnull=True).first()
    return share if share is not None and share.valid else None


def share_viewed(*, share: Share, request) -> None:
    """Every reading is counted and goes to the audit trail, with its reader (or anonymous)."""
    now = timezone.now()
    Share.objects.filter(pk=share.pk).update(views=F("views") + 1, last_viewed=now)
    audit.record(
        AuditAction.SHARE_VIEW,
        f"Read shared link #{share.pk} to conversation #{share.conversation_id} "
        f"(shared by {share.created_by.get_username()})",
        request=request,
        target=share,
        detail=_detail(share, viewer=_name(request.user)),
    )


def _name(user) -> str:
    return user.get_username() if user.is_authenticated else "anonymous"


def shared_messages(share: Share) -> list[Message]:
    """The snapshot: the messages shown when it was shared, in that order (whatever happened
    to the conversation since), each with its conversation (the templates read its agent)."""
    rows = Message.objects.filter(conversation_id=share.conversation_id, pk__in=share.message_ids)
    found = {m.pk: m for m in rows}
    messages = [found[pk] for pk in share.message_ids if pk in found]
    for message in messages:
        message.conversation = share.conversation
    return messages


async def share_continue(*, share: Share, user, request=None) -> Conversation:
    """A conversation of the reader's own, with the provider and the model or agent of the
    shared one and copies of the snapshot's messages; they write on from there.

    What the assistant remembers there follows the provider: a Mistral conversation starts
    upstream with the copied turns as entries (`history.earlier_turns`); an Orq turn carries
    one message, so an Orq copy starts without them (its page says so).
    """
    original = share.conversation
    choice = choice_of(original)
    if choice is None:
        raise Refused(
            gettext(
                "%(choice)s on %(provider)s is no longer offered here, so this conversation "
                "cannot be continued. Start a new chat instead."
            )
            % {"choice": original.choice_label, "provider": original.provider_label}
        )
    title = original.display_title[: TITLE_MAX_LENGTH - len(COPY_SUFFIX)] + COPY_SUFFIX
    conversation = await services.conversation_create(
        owner=user, choice=choice, title=title, titled=True
    )
    await sync_to_async(_copy)(share, conversation, request)
    return conversation


def _copy(share: Share, conversation: Conversation, request) -> None:
    rows = []
    for message in shared_messages(share):
        if not message.text:
            continue  # a reply that came to nothing: nothing to read or to remember
        rows.append(
            Message(
                conversation=conversation,
                role=message.role,
                text=message.text,
                html=message.html or _rendered(message),
                # The reader's copy offers no way on from the original's failure.
                parts=[_copied(p) for p in message.parts if p.get("kind") != "upstream_gone"],
                model=message.model,
                status=MessageStatus.COMPLETE,
                created=message.created,
                completed=message.completed or message.created,
            )
        )
    with transaction.atomic():
        Message.objects.bulk_create(rows)
        SharedCopy.objects.create(conversation=conversation, share=share, messages=len(rows))
        services.refresh_counters(conversation.pk, updated=timezone.now())
    audit.record(
        AuditAction.SHARE_COPY,
        f"Copied shared link #{share.pk} (conversation #{share.conversation_id}) into "
        f"conversation #{conversation.pk} ({len(rows)} messages)",
        request=request,
        actor=conversation.owner,
        target=share,
        detail={**_detail(share), "copy": conversation.pk, "messages": len(rows)},
    )


def _rendered(message: Message) -> str:
    if message.role == Message.Role.USER:
        return render_user_text(message.text)
    return render_markdown(message.text)


def _detail(share: Share, **more) -> dict:
    return {
        "share": share.pk,
        "conversation": share.conversation_id,
        "audience": share.audience,
        **more,
    }


def _copied(part: dict) -> dict:
    """A part as the reader's copy keeps it: a file is the sharer's, so the copy says its name,
    type and size, without a way to open it."""
    if part.get("kind") == "file":
        return {k: v for k, v in part.items() if k != "attachment"}
    return part
