"""The process's clients, built once from settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import TypeVar

from asgiref.sync import async_to_sync
from django.conf import settings

from upstream.http import TRANSPORTS, RetryPolicy, Timeouts
from upstream.mistral import MistralClient
from upstream.orq import OrqClient


def _timeouts() -> Timeouts:
    return Timeouts(
        connect=settings.UPSTREAM_CONNECT_TIMEOUT,
        read=settings.UPSTREAM_READ_TIMEOUT,
        first_byte=settings.UPSTREAM_FIRST_BYTE_TIMEOUT,
    )


def _retry() -> RetryPolicy:
    return RetryPolicy(
        attempts=settings.UPSTREAM_RETRIES, max_wait=settings.UPSTREAM_MAX_RETRY_WAIT
    )


@cache
def orq() -> OrqClient:
    return OrqClient(
        api_key=settings.ORQ_API_KEY,
        base_url=settings.ORQ_BASE_URL,
        project_id=settings.ORQ_PROJECT_ID,
        timeouts=_timeouts(),
        retry=_retry(),
    )


@cache
def mistral() -> MistralClient:
    return MistralClient(
        api_key=settings.MISTRAL_API_KEY,
        base_url=settings.MISTRAL_BASE_URL,
        timeouts=_timeouts(),
        retry=_retry(),
    )


T = TypeVar("T")


def run(call: Callable[[], Awaitable[T]]) -> T:
    """Run upstream calls from synchronous code (admin actions, management commands).

    Pools opened for this call's event loop are closed at its end; a pool that already existed
    (a sync view inside the server's loop) belongs to others and stays open.
    """

    async def main() -> T:
        before = {t for t in TRANSPORTS if t.has_pool()}
        try:
            return await call()
        finally:
            for transport in list(TRANSPORTS):
                if transport not in before and transport.has_pool():
                    await transport.aclose()

    return async_to_sync(main)()
