"""Timestamps in the shapes the providers use: epoch milliseconds and ISO-8601 strings."""

from __future__ import annotations

import time

_cached_second = -1
_cached_prefix = ""


def _prefix(second: int) -> str:
    # Formatting the date part once per second keeps per-event timestamps cheap under load.
    global _cached_second, _cached_prefix
    if second != _cached_second:
        _cached_second = second
        _cached_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return _cached_prefix


def epoch_ms() -> int:
    """Orq `createdAt`/`updatedAt`: Unix milliseconds."""
    return time.time_ns() // 1_000_000


def iso_ms() -> str:
    """Orq event `timestamp` and agent `created_at`: `2026-01-20T10:15:30.123Z`."""
    now = time.time_ns() // 1_000_000
    second, millis = divmod(now, 1000)
    return f"{_prefix(second)}.{millis:03d}Z"


def iso_us() -> str:
    """Mistral `created_at`: `2026-01-20T10:15:30.123456Z`."""
    now = time.time_ns() // 1_000
    second, micros = divmod(now, 1_000_000)
    return f"{_prefix(second)}.{micros:06d}Z"
