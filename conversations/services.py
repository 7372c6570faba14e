"""What users do with conversations, as plain functions every entry point calls."""

from __future__ import annotations

import functools
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_lazy

from conversations import attachments as files
from conversations import deletion, shutdown, sidebar, versions
from conversations.assistant_settings import AssistantSettings, takes_of
from conversations.choices import Choice, choice_of
from conversations.failures import provider_name
from conversations.models import TITLE_MAX_LENGTH, Conversation, Message, MessageStatus, Origin
from conversations.providers import provider_for
from conversations.rendering import render_markdown, render_user_text
from conversations.turns import Turn
from upstream.errors import NotFound, UpstreamError
from webchat.badinput import BadInput, parse_id

log = logging.getLogger(__name__)


class Refused(Exception):
    """A user's request we will not carry out, with the message to show them."""


# --- reading ---------------------------------------------------------------------------------


async def conversation_for(user, pk) -> Conversation | None:
    """The conversation with this id if `user` owns it; views and the consumer both use this."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return await Conversation.objects.filter(owner=user, pk=pk).afirst()


def owned_or_404(user, pk) -> Conversation:
    """The person's own conversation for a sync view: anyone else's, like one that does not
    exist, is a 404."""
    conversation = Conversation.objects.filter(owner=user, pk=pk).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


@dataclass(frozen=True)
class SidebarPage:
    conversations: list[Conversation]
    next_cursor: str | None
    # The same conversations, each with the heading of the dated group it begins (or None).
    rows: list[tuple[sidebar.Group | None, Conversation]] = field(default_factory=list)


# What a sidebar row shows: nothing else is read.
SIDEBAR_FIELDS = (
    "id", "title", "provider", "model", "agent", "updated", "owner_id", "pinned_at", "archived_at",
    "trashed_at",
)  # fmt: skip


def conversation_page(
    *,
    owner,
    query: str = "",
    cursor: str | None = None,
    archived: bool = False,
    zone: tzinfo | None = None,
) -> SidebarPage:
    """One page of the sidebar, newest first, by keyset: constant work at any depth.

    The dated list holds neither pinned (`pinned_conversations`) nor archived ones, under
    headings in the reader's `zone`; `archived` is the Archived view instead (no headings); a
    `query` searches the titles of all of them, archived ones too (under headings). None of
    them holds what is in Trash (`trash_page`). Each reads its own index in order
    (Conversation.Meta.indexes), never sorting the person's rows.
    """
    size = settings.WEBCHAT_PAGE_SIZE
    rows = Conversation.objects.filter(owner=owner, trashed_at__isnull=True)
    rows = rows.only(*SIDEBAR_FIELDS)
    if query:
        rows = rows.filter(title__icontains=query)
    elif archived:
        rows = rows.filter(archived_at__isnull=False)
    else:
        rows = rows.filter(pinned_at__isnull=True, archived_at__isnull=True)
    position = _parse_cursor(cursor)
    if position:
        updated, pk = position
        # A range on the (owner, updated) index, not an OR the planner cannot use.
        rows = rows.filter(updated__lte=updated).exclude(updated=updated, pk__gte=pk)
    page = list(rows.order_by("-updated", "-id")[: size + 1])
    more = len(page) > size
    page = page[:size]
    if archived and not query:
        headed = [(None, conversation) for conversation in page]
    else:
        zone = zone or timezone.get_default_timezone()
        headed = sidebar.with_headings(page, zone=zone, after=position[0] if position else None)
    return SidebarPage(page, _cursor(page[-1]) if more else None, headed)


def pinned_conversations(*, owner) -> list[Conversation]:
    """All of a person's pinned conversations, the last pinned first: never paged, since they
    are listed above the rest (a few, read on their own partial index)."""
    rows = Conversation.objects.filter(
        owner=owner, pinned_at__isnull=False, trashed_at__isnull=True
    )
    return list(rows.only(*SIDEBAR_FIELDS).order_by("-pinned_at", "-id"))


@dataclass(frozen=True)
class TrashPage:
    conversations: list[Conversation]
    next_cursor: str | None


def trash_page(*, owner, cursor: str | None = None) -> TrashPage:
    """One page of a person's Trash, the last moved there first, by keyset on its own partial
    index (like `conversation_page`; the cursor is the time it was trashed, not its activity)."""
    size = settings.WEBCHAT_PAGE_SIZE
    rows = Conversation.objects.filter(owner=owner)
    position = _parse_cursor(cursor)
    if position:
        trashed_at, pk = position
        # The range alone says "in Trash": with IS NOT NULL beside it, PostgreSQL counts the
        # NULLs out twice, expects a handful of rows and sorts them instead of reading the index.
        rows = rows.filter(trashed_at__lte=trashed_at).exclude(trashed_at=trashed_at, pk__gte=pk)
    else:
        rows = rows.filter(trashed_at__isnull=False)
    page = list(rows.only(*SIDEBAR_FIELDS).order_by("-trashed_at", "-id")[: size + 1])
    more = len(page) > size
    page = page[:size]
    last = page[-1] if more else None
    return TrashPage(page, f"{last.trashed_at.timestamp():.6f}_{last.pk}" if last else None)


def _cursor(conversation: Conversation) -> str:
    return f"{conversation.updated.timestamp():.6f}_{conversation.pk}"


_CURSOR = re.compile(r"(\d{1,12}(?:\.\d{1,6})?)_(\d{1,19})")


def _parse_cursor(cursor: str | None):
    """A cursor is only ever one we made (`_cursor`): anything else is a bad request."""
    if not cursor:
        return None
    match = _CURSOR.fullmatch(cursor)
    if match:
        try:
            return datetime.fromtimestamp(float(match[1]), tz=UTC), parse_id(match[2])
        except (BadInput, ValueError, OverflowError, OSError):
            pass  # a time past the calendar's end, an id no row can have
    raise BadInput("That position in the list is not one Webchat gave out: reload the page.")


# --- conversations ---------------------------------------------------------------------------


async def conversation_create(*, owner, choice: Choice, **fields) -> Conversation:
    """Orq conversations exist upstream from the start; Mistral's come with the first message.

    `fields`: more of the row (a widget's conversations: origin, widget, visitor, started_on).
    """
    conversation = Conversation(
        owner=owner,
        provider=choice.provider,
        model=choice.upstream if choice.kind == "model" else "",
        agent=choice.name if choice.kind == "agent" else "",
        **fields,
    )
    upstream_id = await conversation.adapter.create_upstream(conversation, choice)
    if upstream_id:
        conversation.upstream_id = upstream_id
    await conversation.asave()
    return conversation


async def conversation_start(
    *, owner, choice: Choice, text: str, attachments=(), **fields
) -> tuple[Conversation, Message, Message]:
    """A new conversation with its first message, and its first reply begun (not yet run):
    the team's new chat and a widget visitor's first message. Returns the conversation, the
    message and the reply.

    The caller has held the message to its limits first: a team member's (`check_send`), or
    a widget's (widgets/limits.py). Nothing is made before there is a message to send: no
    empty "New conversation" rows in the sidebar, the admin or at the provider. A refusal
    after the row was made (the server is restarting) takes the row away again, at the
    provider too.
    """
    conversation = await conversation_create(owner=owner, choice=choice, **fields)
    try:
        message, reply = await begin_turn(
            conversation=conversation, text=text, attachments=list(attachments)
        )
    except Refused:
        try:
            await deletion.discard(conversation)
        except UpstreamError:
            # Kept here then, empty: its owner (or, a widget's, retention) deletes it later.
            log.warning("Conversation %s left empty: its provider refused the delete",
                        conversation.pk, exc_info=True)  # fmt: skip
        raise
    return conversation, message, reply


def clean_title(raw: str) -> str:
    title = " ".join((raw or "").split())
    if not title:
        raise Refused(gettext("A title cannot be empty."))
    if len(title) > TITLE_MAX_LENGTH:
        raise Refused(
            gettext("A title can be at most %(limit)s characters.") % {"limit": TITLE_MAX_LENGTH}
        )
    return title


async def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    """Orq keeps titles too, so it is renamed there first; Mistral has no titles to rename."""
    title = clean_title(title)
    if (
        conversation.capabilities.can_rename
        and conversation.upstream_id
        and not conversation.upstream_gone
    ):
        try:
            await conversation.adapter.rename_upstream(conversation, title)
        except NotFound:
            await conversation_mark_gone(conversation=conversation)  # ours is renamed still
    conversation.title = title
    conversation.titled = True
    await conversation.asave(update_fields=["title", "titled"])
    return conversation


async def conversation_pin(*, conversation: Conversation, pinned: bool = True) -> Conversation:
    """Pinned, it is listed above the others (the last pinned first); pinning an archived one
    brings it back too. Ours only: neither provider has pins. Its time (`updated`) is kept, so
    unpinned it goes back to its dated group."""
    if pinned and conversation.pinned_at is None:
        conversation.pinned_at = timezone.now()  # pinning twice keeps its place
    elif not pinned:
        conversation.pinned_at = None
    if pinned:
        conversation.archived_at = None
    await conversation.asave(update_fields=["pinned_at", "archived_at"])
    return conversation


async def conversation_archive(
    *, conversation: Conversation, archived: bool = True
) -> Conversation:
    """Archived, it leaves the list (and its pin) for the Archived view, where search finds it
    too; restored, it is back in its dated group. It stays readable, and can go on."""
    if archived and conversation.archived_at is None:
        conversation.archived_at = timezone.now()
    elif not archived:
        conversation.archived_at = None
    if archived:
        conversation.pinned_at = None
    await conversation.asave(update_fields=["pinned_at", "archived_at"])
    return conversation


TRASHED = gettext_lazy("This conversation is in Trash. Restore it to write in it.")
STILL_WRITING = gettext_lazy("A reply is still being written. Stop it or wait for it to finish.")
TRASH_BATCH = 100  # conversations deleted upstream per round when a Trash is emptied


async def conversation_trash(*, conversation: Conversation) -> Conversation:
    """Its owner deletes it from the sidebar: it goes to Trash, out of every list and search
    and closed to new turns, and is deleted everywhere WEBCHAT_TRASH_DAYS later
    (conversations/trash.py). Nothing changes at the provider until then, and its pin or
    archive and its time are kept, so taking it out again puts it back where it was."""
    if conversation.trashed_at is None:
        conversation.trashed_at = timezone.now()  # trashing twice keeps its date
        await conversation.asave(update_fields=["trashed_at"])
    return conversation


async def conversation_untrash(*, conversation: Conversation) -> Conversation:
    """Undo, or Restore from Trash: back where it was (pinned, archived, or its dated group).

    Not once it has been in Trash WEBCHAT_TRASH_DAYS: emptying the Trash may be deleting it at
    its provider right now, and a restore in between would keep a conversation that is gone
    upstream (or be deleted anyway). The check and the restore are one UPDATE, so nothing
    slips between them; the emptier only takes conversations past that same age."""
    if conversation.trashed_at is not None:
        restored = await Conversation.objects.filter(
            pk=conversation.pk, trashed_at__gte=trash_cutoff()
        ).aupdate(trashed_at=None)
        if (
            not restored
            and await Conversation.objects.filter(
                pk=conversation.pk, trashed_at__isnull=False
            ).aexists()
        ):
            raise Refused(
                gettext(
                    "This conversation has been in Trash for %(days)s days and is being deleted "
                    "for good: it can no longer be restored."
                )
                % {"days": settings.WEBCHAT_TRASH_DAYS}
            )
    conversation.trashed_at = None
    return conversation


def trash_cutoff(now: datetime | None = None) -> datetime:
    """Conversations trashed before this are deleted for good (conversations/trash.py)."""
    return (now or timezone.now()) - timedelta(days=settings.WEBCHAT_TRASH_DAYS)


async def trash_empty(*, owner, by, request=None) -> list[deletion.Outcome]:
    """Everything in a person's Trash deleted for good, each as `conversation_delete` does
    (reason "user"); what its provider could not delete stays in Trash, and says why."""
    trashed = Conversation.objects.filter(owner=owner, trashed_at__isnull=False).order_by("pk")
    outcomes: list[deletion.Outcome] = []
    last = 0
    while batch := [c async for c in trashed.filter(pk__gt=last)[:TRASH_BATCH]]:
        last = batch[-1].pk
        outcomes += await deletion.adelete_everywhere(batch, deletion.Reason.USER, request, by)
    return outcomes


async def conversation_delete(*, conversation: Conversation, by, request=None) -> None:
    """Its owner deletes it (the sidebar; `request` gives the address): upstream first (gone
    already counts as deleted), then ours, leaving a tombstone and an audit row (reason
    "user") as every delete does (conversations/deletion.py). A failure keeps ours and raises
    the upstream error (the view says it).
    """
    [outcome] = await deletion.adelete_everywhere([conversation], deletion.Reason.USER, request, by)
    if outcome.error is not None:
        raise outcome.error


async def conversation_set_title(*, conversation: Conversation, first_message: str) -> str | None:
    """After the first exchange: Orq names it upstream; for Mistral we make one locally."""
    if conversation.titled:
        return None
    title = ""
    if conversation.capabilities.names_conversations and conversation.upstream_id:
        try:
            title = await conversation.adapter.generate_name(conversation, first_message)
        except UpstreamError:
            title = ""  # a title is a nicety: fall back to ours
    title = title or local_title(first_message)
    updated = await Conversation.objects.filter(pk=conversation.pk, titled=False).aupdate(
        title=title[:TITLE_MAX_LENGTH], titled=True
    )
    return title if updated else None


def local_title(text: str, *, words: int = 8) -> str:
    cleaned = " ".join(text.split())
    title = " ".join(cleaned.split(" ")[:words])
    if len(title) > 60:
        title = title[:59].rstrip() + "…"
    elif len(cleaned) > len(title):
        title += "…"
    return title or gettext("New conversation")


async def conversation_import_history(*, conversation: Conversation) -> int:
    """A conversation known upstream but not here yet gets its messages from upstream."""
    if not conversation.upstream_id or await conversation.messages.aexists():
        return 0
    messages = await conversation.adapter.history(conversation.upstream_id)
    return await _store_imported(conversation, messages)


@sync_to_async
def _store_imported(conversation: Conversation, messages) -> int:
    rows, kept = [], []
    for message in messages:
        if message.role not in ("user", "assistant"):
            continue
        kept.append(message)
        text = message.text
        rows.append(
            Message(
                conversation=conversation,
                role=message.role,
                text=text,
                html=render_user_text(text) if message.role == "user" else render_markdown(text),
                parts=[part_to_dict(p) for p in message.parts if p.kind != "text"],
                upstream_id=message.id,
                created=message.created or timezone.now(),
                completed=message.created or timezone.now(),
            )
        )
    with transaction.atomic():
        if conversation.messages.exists():
            return 0
        Message.objects.bulk_create(rows)
        for row, message in zip(rows, kept, strict=True):
            files.keep_imported(conversation, row, message.parts)
        refresh_counters(conversation.pk)
    return len(rows)


def part_to_dict(part) -> dict:
    """Our stored form of an upstream part (reasoning, tool calls, results, citations)."""
    match part.kind:
        case "reasoning":
            return {"kind": "reasoning", "text": part.text}
        case "tool_call":
            return {
                "kind": "tool_call",
                "id": part.call_id,
                "name": part.name,
                "arguments": part.arguments,
            }
        case "tool_result":
            return {"kind": "tool_result", "id": part.call_id, "result": part.result}
        case "citation":
            return {"kind": "citation", "title": part.title, "url": part.url, "source": part.source}
        case "file":
            # Its bytes, if the provider kept them, become an attachment (`_store_imported`).
            uri = part.uri if (part.uri or "").startswith(("https://", "http://")) else ""
            return {"kind": "file", "name": part.name or "", "mime": part.mime or "", "uri": uri}
    return {"kind": "notice", "text": getattr(part, "text", "") or part.kind}


# --- conversations the provider no longer has ------------------------------------------------


def gone_message(conversation: Conversation) -> str:
    """What a conversation its provider no longer has says, and what the assistant remembers."""
    name = provider_name(conversation.provider)
    if conversation.origin == Origin.WIDGET:
        return gettext(
            "%(provider)s no longer has this conversation. Start a new conversation to go on."
        ) % {"provider": name}
    if conversation.capabilities.keeps_earlier_turns_on_continue:
        said = gettext(
            "%(provider)s no longer has this conversation, so it cannot go on here. Continue in "
            "a new conversation: the earlier turns are given to the assistant there, so it "
            "remembers them."
        )
    else:
        said = gettext(
            "%(provider)s no longer has this conversation, so it cannot go on here. Continue in "
            "a new conversation: the assistant starts there without the earlier turns "
            "(%(because)s), and the new conversation links back to this one."
        )
    because = conversation.adapter.no_earlier_turns_because
    return said % {"provider": name, "because": because}


def gone_marker(conversation: Conversation) -> dict:
    """Kept in a failed reply's parts: the reply offers to continue instead of Retry."""
    return {
        "kind": "upstream_gone",
        "provider": conversation.provider,
        "continue": conversation.origin != Origin.WIDGET,
    }


async def conversation_mark_gone(*, conversation: Conversation) -> None:
    now = timezone.now()
    await Conversation.objects.filter(pk=conversation.pk, upstream_gone__isnull=True).aupdate(
        upstream_gone=now
    )
    conversation.upstream_gone = conversation.upstream_gone or now


async def conversation_check_gone(*, conversation: Conversation) -> bool:
    """After a NotFound: is it the conversation itself the provider no longer has? Recorded.

    A 404 may also be about an agent or an entry, so the conversation is asked for: only its
    own 404 marks it gone. A conversation that has never reached the provider cannot be gone.
    """
    if conversation.upstream_gone:
        return True
    if not conversation.upstream_id:
        return False
    try:
        await conversation.adapter.client().get_conversation(conversation.upstream_id)
    except NotFound:
        await conversation_mark_gone(conversation=conversation)
        return True
    except UpstreamError:
        return False  # no answer either way: the failure is said as it is
    return False


def continuation_of(conversation: Conversation) -> tuple[Choice, dict]:
    """What a conversation going on from one its provider no longer has is made with: the same
    provider and model or agent, the title, and where it came from.

    It is made, like any new chat, with its first message (`conversation_start`). Mistral's
    first turn starts upstream with the earlier turns as entries (`turns.earlier_turns`); an
    Orq turn carries one user message, so an Orq continuation starts without them.
    """
    if not conversation.upstream_gone:
        raise Refused(gettext("This conversation can still go on here."))
    if conversation.origin == Origin.WIDGET:
        raise Refused(gettext("A visitor's conversation goes on in the widget."))
    choice = choice_of(conversation)
    if choice is None:
        raise Refused(
            gettext("%(choice)s is no longer offered here; start a new conversation.")
            % {"choice": conversation.choice_label}
        )
    fields = {"continued_from": conversation, "title": conversation.title}
    kept = AssistantSettings.of(conversation).kept_for(takes_of(conversation)).as_fields()
    return choice, {**fields, "titled": conversation.titled, **kept}


# --- counters --------------------------------------------------------------------------------


def refresh_counters(conversation_id: int, *, updated: datetime | None = None) -> None:
    """Recount one conversation's messages, tokens and last reply status (one UPDATE), and set
    its `updated` time if given. It runs twice a turn: as the ORM's UPDATE of four subqueries,
    building and compiling it cost 2.5 ms of CPU each time on the benchmark VM (more than the
    rest of the turn's database work), so its SQL is written out, once per database engine."""
    sql = _recount_sql(connection.vendor, with_updated=updated is not None)
    params = [conversation_id] * 4 + [Message.Role.ASSISTANT]
    if updated is not None:
        field = Conversation._meta.get_field("updated")
        params.append(field.get_db_prep_save(updated, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, conversation_id])


@functools.cache
def _recount_sql(vendor: str, *, with_updated: bool) -> str:
    # `vendor` keys the cache: the quoting is the engine's.
    quote = connection.ops.quote_name
    conversations, messages = quote(Conversation._meta.db_table), quote(Message._meta.db_table)
    mine = f"FROM {messages} WHERE {quote('conversation_id')} = %s"
    sets = [
        f"{quote('message_count')} = (SELECT COUNT(*) {mine})",
        f"{quote('tokens_in')} = (SELECT COALESCE(SUM({quote('usage_input')}), 0) {mine})",
        f"{quote('tokens_out')} = (SELECT COALESCE(SUM({quote('usage_output')}), 0) {mine})",
        f"{quote('last_status')} = COALESCE((SELECT {quote('status')} {mine} AND "
        f"{quote('role')} = %s ORDER BY {quote('id')} DESC LIMIT 1), '')",
    ]
    if with_updated:
        sets.append(f"{quote('updated')} = %s")
    return f"UPDATE {conversations} SET {', '.join(sets)} WHERE {quote('id')} = %s"


# --- messages --------------------------------------------------------------------------------


def check_message(text: str) -> str:
    if not text or not text.strip():
        raise Refused(gettext("Write a message first."))
    limit = settings.WEBCHAT_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise Refused(
            gettext(
                "That message is %(count)s characters; the limit is %(limit)s. "
                "Nothing was sent: shorten it and try again."
            )
            % {"count": _number(len(text)), "limit": _number(limit)}
        )
    return text


def check_send_rate(user) -> None:
    """A fixed one-minute window per user, counted in the cache (Redis when configured)."""
    window = int(time.time() // 60)
    key = f"sends:{user.pk}:{window}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=120)
        count = 1
    if count > settings.WEBCHAT_SENDS_PER_MINUTE:
        raise Refused(
            gettext(
                "You can send %(count)s messages a minute. "
                "Wait a moment; your message is still in the box."
            )
            % {"count": settings.WEBCHAT_SENDS_PER_MINUTE}
        )


def _number(count: int) -> str:
    """A count as the reader writes it: 32,000 in English, 32 000 in French."""
    return formats.number_format(count, force_grouping=True)


check_send_rate_async = sync_to_async(check_send_rate)


async def check_send(user, text: str) -> None:
    """A team member's limits on a message: its size, then their send rate."""
    check_message(text)
    await check_send_rate_async(user)


@dataclass(frozen=True)
class Plan:
    """How to redo part of a conversation: the upstream turn, and our messages it replaces.

    `repoint`: a new upstream conversation the turn runs in (an Orq edit), made by the plan and
    taken by `begin_turn`, which records how to point back if the new reply does not complete.
    """

    turn: Turn
    replace_from: Message | None
    repoint: str = ""


async def plan_regenerate(*, conversation: Conversation) -> Plan:
    """A new reply to the last user message (also how a failed reply is retried)."""
    shown = conversation.messages.shown()
    last_user = await shown.filter(role=Message.Role.USER).alast()
    if last_user is None:
        raise Refused(gettext("There is nothing to regenerate yet."))
    old_reply = await shown.filter(role=Message.Role.ASSISTANT, pk__gt=last_user.pk).afirst()
    # Branching providers restart before the question; others ask it again as a new turn.
    turn = await conversation.adapter.regenerate_turn(conversation, last_user)
    # The question goes again with the files it was asked with.
    sent_with = tuple(await sync_to_async(files.of_message)(last_user))
    return Plan(turn=replace(turn, attachments=sent_with), replace_from=old_reply)


async def plan_edit(*, conversation: Conversation, message_id, text: str) -> Plan:
    """Continue from an edited user message; what came after it is replaced."""
    try:
        message = await conversation.messages.shown().aget(
            pk=int(message_id), role=Message.Role.USER
        )
    except (Message.DoesNotExist, TypeError, ValueError):
        raise Refused(gettext("That message is not in this conversation.")) from None
    if await conversation.messages.filter(status=MessageStatus.STREAMING).aexists():
        # Checked before an Orq edit re-points the conversation upstream, not after.
        raise Refused(STILL_WRITING)
    # A provider that cannot branch (Orq) makes a new upstream conversation from the edited
    # message, without the turns before it (the page says so).
    choice = choice_of(conversation)
    if choice is None:
        raise Refused(gettext("This conversation's model is no longer offered here."))
    turn, repoint = await conversation.adapter.edit_turn(conversation, choice, message, text)
    # The edited message keeps the files it was sent with.
    sent_with = tuple(await sync_to_async(files.of_message)(message))
    return Plan(replace(turn, attachments=sent_with), replace_from=message, repoint=repoint)


def with_reseed(conversation: Conversation, turn: Turn) -> Turn:
    """The turn, or, after a change its provider cannot apply to the upstream conversation
    (Mistral's instructions or model), the turn as the start of a new one given the earlier
    turns: a send, a regenerate and an edit alike."""
    because = conversation.adapter.reseed_because(conversation)
    if not because:
        return turn
    return replace(turn, fresh=True, from_entry_id="", reseeded_because=because)


def reseed_notice(conversation: Conversation, because: str) -> str:
    """What the reply that started a new upstream conversation says about it."""
    return gettext(
        "A new %(provider)s conversation began with this reply, given the earlier turns: "
        "%(because)s."
    ) % {"provider": conversation.provider_name, "because": because}


@sync_to_async
def files_to_send(record, owner, ids) -> list:
    """The owner's uploads a message to `record` (a conversation, or the choice a new chat
    starts with) goes with, each one its provider takes; else `Refused`, and nothing is sent."""
    if not ids:
        return []
    chosen = files.pending(owner, ids)
    kind = getattr(record, "kind", None) or ("agent" if record.agent else "model")
    adapter = provider_for(record.provider)
    for attachment in chosen:
        if problem := adapter.file_problem(kind, attachment.mime):
            raise Refused(problem)
    return chosen


@sync_to_async
def begin_turn(
    *,
    conversation: Conversation,
    text: str | None,
    replace_from: Message | None = None,
    repoint: str = "",
    attachments: list | None = None,
) -> tuple[Message | None, Message]:
    """Save the user's message (unless regenerating) and an empty streaming reply, atomically.

    `replace_from`: the messages from this one on are replaced (edit and regenerate). They are
    hidden, not deleted, until the new reply completes (`settle_replaced`): a failed attempt
    must not cost the user what it was meant to replace.
    """
    try:
        if shutdown.draining():
            raise Refused(
                gettext("Webchat is restarting. Send again in a moment; your message is kept.")
            )
        return _begin_turn(conversation, text, replace_from, repoint, attachments or [])
    except Refused:
        if repoint:
            # The upstream conversation the plan made is kept (after the rollback), so that
            # deleting ours deletes it too: nothing is left behind at the provider.
            conversation.refresh_from_db(
                fields=["upstream_id", "turn_ref", "superseded_upstream_ids"]
            )
            _supersede(conversation, repoint)
        raise


def _lock_for_a_turn(conversation: Conversation) -> None:
    """Lock the conversation for a turn (inside a transaction), or `Refused` saying why none
    can run now. Locked as showing a version locks it: a turn and a version switch never
    interleave (the switch would stash the turn's new rows)."""
    older = (
        Conversation.objects.select_for_update()
        .filter(pk=conversation.pk)
        .values_list("older_version_shown", flat=True)
        .first()
    )
    if conversation.messages.filter(status=MessageStatus.STREAMING).exists():
        raise Refused(STILL_WRITING)
    if older:
        raise Refused(older_version_refusal(conversation))
    if Conversation.objects.filter(pk=conversation.pk, trashed_at__isnull=False).exists():
        raise Refused(TRASHED)


def _begin_turn(
    conversation, text, replace_from, repoint, attachments
) -> tuple[Message | None, Message]:
    now = timezone.now()
    with transaction.atomic():
        _lock_for_a_turn(conversation)
        undo = None
        if replace_from is not None:
            undo = {"upstream_id": conversation.upstream_id, "turn_ref": conversation.turn_ref}
        if repoint:
            _supersede(conversation, conversation.upstream_id)
            conversation.upstream_id, conversation.turn_ref = repoint, ""
            conversation.save(update_fields=["superseded_upstream_ids", "upstream_id", "turn_ref"])
        user_message = None
        if text is not None:
            user_message = Message.objects.create(
                conversation=conversation,
                role=Message.Role.USER,
                text=text,
                html=render_user_text(text),
                created=now,
            )
            files.attach(attachments, user_message)
            if undo is not None:
                undo["first"] = user_message.pk  # where the new version starts (else the reply)
        try:
            with transaction.atomic():
                reply = Message.objects.create(
                    conversation=conversation,
                    role=Message.Role.ASSISTANT,
                    status=MessageStatus.STREAMING,
                    # Leased from the start: if the runner never starts, the sweeper ends it.
                    lease_until=now + timedelta(seconds=settings.WEBCHAT_LEASE_SECONDS),
                    # The configured model for now; the model the provider reports replaces it.
                    model=conversation.model,
                    produced_with=AssistantSettings.of(conversation)
                    .kept_for(takes_of(conversation))
                    .sent,
                    undo=undo,
                    created=now,
                )
        except IntegrityError:
            raise Refused(gettext("A reply is still being written.")) from None
        if replace_from is not None:
            first_new = user_message or reply
            conversation.messages.shown().filter(
                pk__gte=replace_from.pk, pk__lt=first_new.pk
            ).update(replaced_by=reply)
        refresh_counters(conversation.pk, updated=now)
    return user_message, reply


# The turn that continues a reply cut at its length limit: sent upstream (and kept there, in
# the provider's history), not shown in the chat, where the reply's text just goes on.
CONTINUE_PROMPT = "Continue exactly where you stopped, without repeating anything."


@sync_to_async
def begin_continue(*, conversation: Conversation) -> Message:
    """Open the latest reply again to continue it, if it stopped at its length limit.

    The reply streams again from where it ended; a `continued` part records where its text
    went on and what it had cost so far (the runner adds this turn's tokens to it).
    """
    now = timezone.now()
    with transaction.atomic():
        _lock_for_a_turn(conversation)
        reply = conversation.messages.shown().order_by("-pk").first()
        if (
            reply is None
            or reply.role != Message.Role.ASSISTANT
            or not reply.stopped_at_length
            or not takes_of(conversation).continues
        ):
            raise Refused(
                gettext(
                    "Only the latest reply can be continued, when it stopped at its length limit."
                )
            )
        mark = {
            "kind": "continued",
            "at": len(reply.text),
            "prompt": CONTINUE_PROMPT,
            "before": [reply.usage_input or 0, reply.usage_output or 0, reply.usage_total or 0],
        }
        reply.parts = [*reply.parts, mark]
        reply.status = MessageStatus.STREAMING
        reply.lease_until = now + timedelta(seconds=settings.WEBCHAT_LEASE_SECONDS)
        reply.completed, reply.stop_requested, reply.error, reply.error_detail = None, False, "", ""
        # What this turn is asked with (max tokens may have changed): a later cut is judged by it.
        reply.produced_with = (
            AssistantSettings.of(conversation).kept_for(takes_of(conversation)).sent
        )
        reply.save(
            update_fields=[
                "parts", "status", "lease_until", "completed", "stop_requested", "error",
                "error_detail", "produced_with",
            ]
        )  # fmt: skip
        refresh_counters(conversation.pk, updated=now)
    return reply


def older_version_refusal(conversation: Conversation) -> str:
    return gettext(
        "This is an earlier version. %(provider)s keeps every version in one conversation, so "
        "only the latest can be continued: show the latest version to write here."
    ) % {"provider": conversation.provider_name}


def _supersede(conversation: Conversation, upstream_id: str) -> None:
    """Keep an upstream conversation we no longer point at, to delete it with ours."""
    if upstream_id and upstream_id not in conversation.superseded_upstream_ids:
        conversation.superseded_upstream_ids = [*conversation.superseded_upstream_ids, upstream_id]
        conversation.save(update_fields=["superseded_upstream_ids"])


def settle_replaced(reply: Message) -> list[Message]:
    """A regenerate or edit has ended: what it replaced goes if it completed, else comes back.

    Returns the messages shown again, and points the conversation back at the upstream
    conversation it continued before (a Mistral restart or an Orq edit made a new one, which
    is kept with the superseded ones and deleted with ours). Call inside the transaction that
    finishes the reply.
    """
    if reply.undo is None:
        return []  # a plain send replaced nothing: no query on the common path
    if reply.status == MessageStatus.COMPLETE:
        versions.keep_replaced(reply)
        return []
    hidden = Message.objects.filter(replaced_by=reply)
    restored = list(hidden.order_by("id"))
    hidden.update(replaced_by=None)
    undo = reply.undo or {}
    conversation = Conversation.objects.select_for_update().get(pk=reply.conversation_id)
    before = undo.get("upstream_id", "")
    if before and conversation.upstream_id != before:
        abandoned = conversation.upstream_id
        conversation.superseded_upstream_ids = [
            i for i in conversation.superseded_upstream_ids if i != before
        ] + ([abandoned] if abandoned else [])
        conversation.upstream_id, conversation.turn_ref = before, undo.get("turn_ref", "")
        conversation.save(update_fields=["superseded_upstream_ids", "upstream_id", "turn_ref"])
    for message in restored:
        message.replaced_by = None
    return restored
