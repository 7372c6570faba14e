"""Time-ordered identifiers in each provider's format: Orq ULIDs, Mistral 32-hex ids."""

from __future__ import annotations

import hashlib
import secrets
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_RANDOM_BITS = 80
_RANDOM_MASK = (1 << _RANDOM_BITS) - 1

_last_ms = 0
_last_random = 0


def _next_value() -> int:
    """A 128-bit value: 48 bits of Unix milliseconds, then 80 bits that grow within a millisecond.

    Monotonic within the process, so ids sort in creation order even when many share a millisecond
    (list cursors compare ids).
    """
    global _last_ms, _last_random
    now_ms = time.time_ns() // 1_000_000
    if now_ms > _last_ms:
        _last_ms, _last_random = now_ms, secrets.randbits(_RANDOM_BITS - 1)
    else:
        _last_random += 1
        if _last_random > _RANDOM_MASK:
            _last_ms, _last_random = _last_ms + 1, 0
    return (_last_ms << _RANDOM_BITS) | _last_random


def _crockford(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid() -> str:
    """A lowercase ULID (26 Crockford base32 characters), as Orq writes them after a prefix."""
    return _crockford(_next_value())


def stable_ulid(seed: str) -> str:
    """A ULID-shaped id that is always the same for `seed` (e.g. a user id per API key)."""
    return _crockford(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big"))


def orq_id(prefix: str) -> str:
    """`conv_01kf…`, `msg_01kf…`, `text_01kf…`: Orq's prefix plus a lowercase ULID."""
    return f"{prefix}_{ulid()}"


def task_id() -> str:
    """Orq task ids are bare uppercase ULIDs."""
    return ulid().upper()


def mistral_id(prefix: str) -> str:
    """`conv_0194…`, `msg_0194…`: Mistral's prefix plus 32 lowercase hex digits, time-ordered."""
    return f"{prefix}_{_next_value():032x}"


def is_ulid(value: str) -> bool:
    return len(value) == 26 and all(char in _CROCKFORD for char in value.lower())
