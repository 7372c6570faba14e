"""Waiting for the replies a test started (the runner keeps no such wait: nothing in the product
waits for every reply; shutdown waits with a grace period, conversations/shutdown.py)."""

from __future__ import annotations

import asyncio

from conversations import registry


async def replies_finished() -> None:
    """Until every reply running on this event loop has finished, however it ended."""
    while running := registry.running_here():
        await asyncio.gather(*running, return_exceptions=True)
