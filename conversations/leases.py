"""Leases on streaming replies: the batched saver that renews them, the sweeper that ends them.

Text is saved about once a second (one UPDATE per reply, all of a process's replies in one
transaction); every save renews the reply's lease, so a process that dies leaves a reply that
any other marks interrupted once its lease has run out.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from conversations import fanout, registry, services, usage
from conversations.message_view import final_frames
from conversations.models import Conversation, Message, MessageStatus
from conversations.rendering import render_markdown

log = logging.getLogger(__name__)

# Kept in English (the sweeper answers no one in particular); the chat translates it as shown.
INTERRUPTED_MESSAGE = gettext_noop(
    "The server stopped while writing this reply. What arrived is kept."
)


def lease() -> timedelta:
    return timedelta(seconds=settings.WEBCHAT_LEASE_SECONDS)


def lease_expired(reply: Message) -> bool:
    return reply.lease_until is None or reply.lease_until < timezone.now()


# --- the sweeper: replies whose writer is gone ----------------------------------------------


async def sweep() -> None:
    """Every process marks replies whose runner died, so none stays "streaming" for ever."""
    while True:
        try:
            await mark_expired_interrupted()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("replies sweeper failed; trying again later")
        await asyncio.sleep(max(1.0, settings.WEBCHAT_LEASE_SECONDS / 2))


async def mark_expired_interrupted(conversation_id: int | None = None) -> int:
    """Replies whose runner stopped renewing their lease are interrupted; their text is kept.

    Whoever marks one tells its viewers at once (a `done` frame to the conversation's group):
    a page must never be left showing a reply that nobody is writing any more.
    """
    rows = Message.objects.filter(status=MessageStatus.STREAMING, lease_until__lt=timezone.now())
    if conversation_id is not None:
        rows = rows.filter(conversation_id=conversation_id)
    count = 0
    async for message in rows:
        restored = await sync_to_async(_write_interrupted)(message)
        if restored is None:
            continue  # renewed or finished meanwhile
        count += 1
        for frame in final_frames(message, restored, seq=message.seq):
            await fanout.broadcast(
                message.conversation_id, json.dumps(frame, ensure_ascii=False), recheck=True
            )
    return count


def _write_interrupted(message: Message) -> list[Message] | None:
    """Mark the reply interrupted if its lease is still out; `message` becomes the final row.

    The row read before is the row written: a runner that saved since then renewed the lease
    (and one that finished left streaming), so the UPDATE below would not match.
    """
    now = timezone.now()
    fields = dict(
        status=MessageStatus.INTERRUPTED,
        html=render_markdown(message.text),
        error=INTERRUPTED_MESSAGE,
        error_detail="its lease ran out: the process writing it stopped",
        lease_until=None,
        completed=now,
    )
    with transaction.atomic():
        if not Message.objects.filter(
            pk=message.pk, status=MessageStatus.STREAMING, lease_until__lt=now
        ).update(**fields):
            return None
        for name, value in fields.items():
            setattr(message, name, value)
        # For the usage row and the final frame's label (the frame renders in async code).
        message.conversation = Conversation.objects.get(pk=message.conversation_id)
        restored = services.settle_replaced(message)
        services.refresh_counters(message.conversation_id)
        usage.record_reply(message, message.conversation)
    return restored


# --- the saver: one batch per process about once a second -----------------------------------


async def save_periodically() -> None:
    """Save every running reply's text so far and renew its lease, all in one thread hop.

    A reply whose row no longer matches (a stop was asked for through the database, or the
    row is gone) is stopped here, as if its stop message had arrived.
    """
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.WEBCHAT_SAVE_INTERVAL)
        try:
            await save_progress(loop)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("saving replies in progress failed; trying again")


async def save_progress(loop: asyncio.AbstractEventLoop) -> None:
    now = loop.time()
    renew_after = settings.WEBCHAT_LEASE_SECONDS / 3
    due = [
        live
        for live in registry.on_loop(loop)
        if not live.finishing
        and (live.seq != live.saved_seq or now - live.lease_renewed >= renew_after)
    ]
    if not due:
        return
    lease_until = timezone.now() + lease()
    # The rows are read here, on the loop, where the replies change.
    rows = [(live.message_id, live.full_text, live.saved_parts(), live.seq) for live in due]
    matched = await sync_to_async(_write_progress)(rows, lease_until)
    for live, (_, _, _, seq), ok in zip(due, rows, matched, strict=True):
        live.saved_seq, live.lease_renewed = seq, now
        if not ok and not live.finishing:
            registry.stop_here(live.message_id)


def _write_progress(rows: list[tuple[int, str, list, int]], lease_until) -> list[bool]:
    """One UPDATE per reply in one transaction; each only matches while no stop is asked for."""
    sql, fields = _progress_statement()
    prep = [fields[name].get_db_prep_save for name in ("parts", "lease_until")]
    results = []
    with transaction.atomic(), connection.cursor() as cursor:
        for message_id, text, parts, seq in rows:
            cursor.execute(
                sql,
                [
                    text,
                    prep[0](parts, connection),
                    seq,
                    prep[1](lease_until, connection),
                    message_id,
                    False,
                    MessageStatus.STREAMING.value,
                ],
            )
            results.append(cursor.rowcount == 1)
    return results


@functools.cache
def _progress_statement() -> tuple[str, dict]:
    # Raw SQL because this runs for every streaming reply every second: the ORM spent more
    # time building each UPDATE than the database spent running it.
    meta = Message._meta
    q = connection.ops.quote_name
    fields = {f.name: f for f in meta.concrete_fields}
    column = {name: q(f.column) for name, f in fields.items()}
    sql = (
        f"UPDATE {q(meta.db_table)} SET {column['text']} = %s, {column['parts']} = %s, "
        f"{column['seq']} = %s, {column['lease_until']} = %s "
        f"WHERE {column['id']} = %s AND {column['stop_requested']} = %s "
        f"AND {column['status']} = %s"
    )
    return sql, fields
