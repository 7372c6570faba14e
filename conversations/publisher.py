"""The coalescing publisher: a reply's deltas to its viewers, merged while a send runs."""

from __future__ import annotations

import asyncio
import json
import logging

from conversations import fanout

log = logging.getLogger(__name__)


class Publisher:
    """Deltas to the viewers without delay: sent at once when idle, merged while a send runs.

    One sender task per reply wakes when a delta is pushed. Everything pushed before it runs
    (the rest of a chunk read from upstream, or what came while a group send was under way)
    goes out as one frame; a lone token waits for nothing but the event loop.
    """

    def __init__(self, conversation_id: int, message_id: int) -> None:
        self.conversation_id = conversation_id
        self.message_id = message_id
        self._sealed: list[dict] = []
        self._pending: dict | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._sender = asyncio.get_running_loop().create_task(
            self._send_pending(), name=f"publisher-{message_id}"
        )

    def push(self, piece: dict) -> None:
        if self._pending is None:
            self._pending = {"type": "delta", "id": self.message_id, "from": piece["seq"], **piece}
        else:
            _merge(self._pending, piece)
        self._wake.set()

    def seal(self) -> None:
        """Close the frame being merged: what is pushed from now on starts a new one (a
        snapshot was just taken, and no viewer may get a frame that is half in it)."""
        if self._pending is not None:
            self._sealed.append(self._pending)
            self._pending = None

    async def _send_pending(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._sealed or self._pending is not None:
                if self._sealed:
                    frame = self._sealed.pop(0)
                else:
                    frame, self._pending = self._pending, None
                try:
                    await self.send(frame)
                except Exception:
                    # Lost frames are a gap the viewers notice and fill with a snapshot.
                    log.exception("reply %s: a frame could not be sent", self.message_id)
            if self._closing:
                return

    async def flush(self) -> None:
        """Send what is pending and stop the sender; later frames go out with `send`."""
        self._closing = True
        self._wake.set()
        await self._sender

    def close(self) -> None:
        self._sender.cancel()

    async def send(self, frame: dict) -> None:
        await fanout.broadcast(self.conversation_id, json.dumps(frame, ensure_ascii=False))


def _merge(into: dict, piece: dict) -> None:
    into["seq"] = piece["seq"]
    if piece.get("reset"):
        into.pop("open", None)  # the block it showed has closed: the piece's HTML has it now
    if "open" in piece:
        into["open"] = _merge_open(into.get("open"), piece["open"])
    if piece.get("snapshot"):
        into["snapshot"] = True
    if piece.get("tools"):
        into["tools"] = True
    if "reasoning" in piece:
        into["reasoning"] = into.get("reasoning", "") + piece["reasoning"]
    if "text" in piece:
        if piece.get("reset"):
            into["html"] = into.get("html", "") + piece["html"]
            into["text"] = piece["text"]
            into["reset"] = True
        else:
            into["text"] = into.get("text", "") + piece["text"]
            into.setdefault("html", "")
            into.setdefault("reset", False)


def _merge_open(into: dict | None, piece: dict) -> dict:
    """Two updates of the open block as one: a new container wins; else the settled parts add
    up and the latest fresh part stands."""
    if into is None or piece.get("reset"):
        return piece
    return {**into, "add": into.get("add", "") + piece.get("add", ""), "fresh": piece["fresh"]}
