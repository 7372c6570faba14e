"""Small strict readers for wire objects: a missing required field is a `BadResponse`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from upstream.errors import BadResponse


def require(data: Any, key: str, what: str, provider: str) -> Any:
    if not isinstance(data, dict):
        raise BadResponse(f"{what} is not an object", provider=provider)
    value = data.get(key)
    if value is None:
        raise BadResponse(f"{what} has no {key!r}", provider=provider)
    return value


def from_epoch_ms(value: Any, what: str, provider: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadResponse(
            f"{what} is not a time in milliseconds: {value!r}", provider=provider
        ) from exc


def from_iso(value: Any, what: str, provider: str) -> datetime:
    if not isinstance(value, str):
        raise BadResponse(f"{what} is not an ISO-8601 time: {value!r}", provider=provider)
    text = value.strip()
    # Python 3.11 reads 'Z' and up to 6 fractional digits; providers may send 7 to 9.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits > 6:
            rest = rest[:6] + rest[digits:]
        text = f"{head}.{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadResponse(f"{what} is not an ISO-8601 time: {value!r}", provider=provider) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_int(value: Any) -> int:
    """Token counts: Orq sends JSON numbers that may be floats (37.0)."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
