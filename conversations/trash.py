"""The Trash empties itself: what has been there WEBCHAT_TRASH_DAYS is deleted for good.

A conversation its owner deleted from the sidebar waits in Trash (`services.conversation_trash`),
restorable, for WEBCHAT_TRASH_DAYS days. Then it is deleted everywhere through the one delete
action (conversations/deletion.py: upstream first, a tombstone and an audit row, reason
"trash"). Two things do it: `manage.py empty_trash` (from cron), and the server itself about
once an hour (`empty_periodically`, started beside the lease sweeper; of several processes,
one does it each time).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from conversations import deletion, services
from conversations.models import Conversation, MessageStatus

log = logging.getLogger(__name__)

BATCH = 100  # conversations deleted upstream per round
SWEEP_SECONDS = 3600  # how often the server empties the Trash (one process per period)
FIRST_SWEEP_SECONDS = 60  # not in the rush of a start (nor in a short test's event loop)
SWEEP_LOCK = "webchat:trash-emptied"


def expired(now: datetime | None = None) -> QuerySet:
    """Everyone's conversations trashed more than WEBCHAT_TRASH_DAYS ago, without a reply being
    written right now (that one goes next time, as retention does)."""
    # Past the age at which a restore is refused (services.conversation_untrash): once taken
    # here, nobody can take it out of Trash while its provider deletes it.
    streaming = Conversation.objects.filter(messages__status=MessageStatus.STREAMING)
    return Conversation.objects.filter(trashed_at__lt=services.trash_cutoff(now)).exclude(
        pk__in=streaming.values("pk")
    )


async def empty_expired(*, now: datetime | None = None) -> list[deletion.Outcome]:
    """Delete what has been in Trash long enough; a conversation its provider could not delete
    stays, and is tried again next time. Safe to run twice, or in two processes at once: the
    second finds the rows gone (deletion.py keeps one tombstone)."""
    candidates = expired(now).order_by("pk")
    outcomes: list[deletion.Outcome] = []
    last = 0
    # Batches by id, so memory stays flat and one failure does not stop the rest.
    while batch := [c async for c in candidates.filter(pk__gt=last)[:BATCH]]:
        last = batch[-1].pk
        outcomes += await deletion.adelete_everywhere(batch, deletion.Reason.TRASH, None, None)
    return outcomes


async def empty_if_due() -> list[deletion.Outcome] | None:
    """Empty what is due, unless another process (or this one) did within the period: the
    first to take the period's lock in the shared cache (Redis with several processes) does
    it; None for the others."""
    if not await cache.aadd(SWEEP_LOCK, timezone.now().isoformat(), SWEEP_SECONDS - 60):
        return None
    outcomes = await empty_expired()
    kept = sum(not o.deleted for o in outcomes)
    if outcomes:
        log.info(
            "Trash: %d conversation(s) deleted for good, %d kept (their provider failed)",
            len(outcomes) - kept,
            kept,
        )
    return outcomes


async def empty_periodically() -> None:
    """About once an hour, one process of all empties what has been in Trash long enough."""
    await asyncio.sleep(FIRST_SWEEP_SECONDS)
    while True:
        try:
            await empty_if_due()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("emptying the Trash failed; trying again later")
        await asyncio.sleep(SWEEP_SECONDS)
