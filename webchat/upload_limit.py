"""No request body past the upload limit is read: refused with 413 before Django reads it.

Django's ASGI handler reads a whole body (to a temporary file past 2.5 MB) before any view
runs, so a view cannot refuse a 100 MB upload early. This sits in front of it: a declared
Content-Length over the limit is answered at once, without reading a byte; a body sent without
one (chunked) is counted as it arrives and cut off at the limit. Memory stays flat either way.
"""

from __future__ import annotations

import json

from django.conf import settings

# Room for a multipart body's boundaries and headers around one file of the largest size.
ENVELOPE = 64 * 1024


class TooLarge(Exception):
    pass


def body_limit() -> int:
    return settings.WEBCHAT_UPLOAD_MAX_BYTES + ENVELOPE


class UploadLimit:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit()
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, declared)
            return
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except TooLarge:
            if not started:
                await _refuse(send, received)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send, size: int) -> None:
    from conversations.attachments import too_large  # the words are the upload's

    body = json.dumps({"error": str(too_large(size))}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The client may still be sending: the connection is not kept for another.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
