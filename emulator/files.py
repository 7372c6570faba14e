"""Files sent with a turn: inline bytes decoded, links fetched as the real provider would."""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

import httpx

FETCH_TIMEOUT = 5.0  # seconds: httpx's connect, read and pool timeouts for one link
FETCH_LIMIT = 50 * 1024 * 1024  # bytes read from one link at most

_DATA_URL = re.compile(r"data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*?);base64,(?P<data>.*)", re.S)


class ReceivedFile(NamedTuple):
    """What the assistant says it got: a name, a type and a size, or why it could not look."""

    name: str
    mime: str
    size: int
    problem: str | None = None


def decode_base64(text: str) -> bytes:
    """Strict base64 (no stray characters); ValueError when it does not decode."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"is not valid base64 ({exc})") from None


def decode_data_url(url: str) -> tuple[str, bytes]:
    """`data:<mime>;base64,<data>` into its type and bytes; ValueError for anything else."""
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise ValueError("is not a base64 data URL (data:<type>;base64,<data>)")
    return match["mime"], decode_base64(match["data"])


def inline(name: str, mime: str, data: bytes) -> ReceivedFile:
    return ReceivedFile(name, mime, len(data))


def is_web_link(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


async def fetch(name: str, url: str) -> ReceivedFile:
    """Fetch `url` as the provider would (no redirects, FETCH_TIMEOUT, at most FETCH_LIMIT
    bytes): its size and Content-Type, or a short reason it could not be fetched."""
    if not is_web_link(url):
        return _failed(name, "not an http(s) link")
    try:
        async with httpx.AsyncClient(
            timeout=FETCH_TIMEOUT, follow_redirects=False, trust_env=False
        ) as client:
            async with client.stream("GET", url) as response:
                if response.status_code >= 300:
                    return _failed(name, f"HTTP {response.status_code}")
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > FETCH_LIMIT:
                        return _failed(name, f"larger than {FETCH_LIMIT // (1024 * 1024)} MB")
                mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
                return ReceivedFile(name, mime, size)
    except httpx.TimeoutException:
        return _failed(name, "timed out")
    except httpx.ConnectError:
        return _failed(name, "connection failed")
    except httpx.InvalidURL:
        return _failed(name, "not a valid link")
    except httpx.HTTPError as exc:
        return _failed(name, type(exc).__name__)


def _failed(name: str, reason: str) -> ReceivedFile:
    return ReceivedFile(name, "", 0, reason)
