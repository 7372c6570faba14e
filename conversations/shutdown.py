"""A server that is told to stop (SIGTERM, Ctrl+C) finishes its replies before it exits.

New turns are refused from the first signal on; replies already streaming get a bounded grace
period to complete; whatever still streams after it is cancelled the way a stop is, so the
runner saves every token it has seen, marks the reply interrupted and tells every viewer, all
before the server closes its sockets. Without this the reply would keep saying "streaming",
lose up to a save interval of text, and end only when its lease ran out.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from conversations import registry

log = logging.getLogger(__name__)

_draining = False


def draining() -> bool:
    return _draining


async def drain(grace: float | None = None) -> None:
    """Stop taking turns, let replies finish within `grace` seconds, interrupt the rest."""
    global _draining
    _draining = True
    grace = settings.WEBCHAT_SHUTDOWN_GRACE if grace is None else grace
    running = registry.running_here()
    if not running:
        return
    log.info("shutting down: %d replies streaming, waiting up to %g s", len(running), grace)
    if grace > 0:
        await asyncio.wait(running, timeout=grace)
    left = registry.interrupt_all_here()
    if left:
        log.info("shutting down: %d replies interrupted, their text saved", len(left))
        await asyncio.gather(*left, return_exceptions=True)


def reset() -> None:
    """Take turns again (tests that drain a server they go on using)."""
    global _draining
    _draining = False
