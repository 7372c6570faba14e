"""Server-sent events: each provider's framing, and paced delivery with the stream fault knobs."""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import json
import math
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from emulator import clock
from emulator.asgi import Receive, Send
from emulator.assistant import CLOCK_STAMP, CLOCK_TOKEN
from emulator.knobs import Knobs

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class DropConnection(Exception):
    """Raised after a deliberate mid-stream break: uvicorn then aborts the connection."""


class Outcome(enum.Enum):
    COMPLETED = "completed"
    FAILED = "failed"  # fail_at: a provider error event, then a clean end
    BROKEN = "broken"  # break_after: the caller must raise DropConnection
    DISCONNECTED = "disconnected"  # the client went away


@dataclass(frozen=True, slots=True)
class Event:
    """One event, pre-encoded around its timestamp, which is filled in as it is sent."""

    type: str
    head: str
    tail: str
    token: bool = False  # a text or reasoning delta: the pace applies to it


def event(type_: str, time_key: str, fields: dict[str, Any], *, token: bool = False) -> Event:
    """`{"type": type_, time_key: <sent at>, **fields}` as JSON text with a timestamp slot."""
    rest = dumps(fields)
    head = f'{{"type":{dumps(type_)},"{time_key}":"'
    tail = '"}' if rest == "{}" else '",' + rest[1:]
    return Event(type_, head, tail, token)


@dataclass(frozen=True)
class Framing:
    clock: Callable[[], str]
    named: bool  # an `event:` line before `data:` (Mistral)
    terminator: bytes  # what ends a complete stream (Orq `[DONE]`; Mistral: nothing, just close)

    def frame(self, event: Event, data: str) -> bytes:
        if self.named:
            return f"event: {event.type}\ndata: {data}\n\n".encode()
        return f"data: {data}\n\n".encode()


ORQ = Framing(clock=clock.iso_ms, named=False, terminator=b"data: [DONE]\n\n")
MISTRAL = Framing(clock=clock.iso_us, named=True, terminator=b"")


class _Pacer:
    """One timer for every paced stream of an event loop.

    Hundreds of streams each sleeping on its own timer cost more than the sending itself; here
    wake-ups are rounded up to a 2 ms grid and all streams due in a tick resume in one loop pass.
    """

    TICK = 0.002

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    async def sleep_until(self, when: float) -> None:
        when = math.ceil(when / self.TICK) * self.TICK
        future = self._loop.create_future()
        heapq.heappush(self._due, (when, next(self._order), future))
        if when < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._schedule(when)
        await future

    def _schedule(self, when: float) -> None:
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._wake)

    def _wake(self) -> None:
        self._timer, self._timer_at = None, math.inf
        horizon = self._loop.time() + self.TICK / 2
        due = self._due
        while due and due[0][0] <= horizon:
            future = heapq.heappop(due)[2]
            if not future.done():  # a stream cancelled while it waited
                future.set_result(None)
        if due:
            self._schedule(due[0][0])


_pacers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pacer] = weakref.WeakKeyDictionary()


def _pacer() -> _Pacer:
    loop = asyncio.get_running_loop()
    pacer = _pacers.get(loop)
    if pacer is None:
        pacer = _pacers[loop] = _Pacer(loop)
    return pacer


async def deliver(
    send: Send,
    receive: Receive,
    events: Sequence[Event],
    *,
    framing: Framing,
    knobs: Knobs,
    failure: Event,
) -> Outcome:
    """Send the response headers and `events` as the knobs say; report how the stream ended."""
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch(receive, gone))
    try:
        return await _pump(send, events, gone, framing=framing, knobs=knobs, failure=failure)
    finally:
        watcher.cancel()


async def _watch(receive: Receive, gone: asyncio.Event) -> None:
    # uvicorn's send() silently drops data once the client is gone; only receive() tells us.
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _pump(
    send: Send,
    events: Sequence[Event],
    gone: asyncio.Event,
    *,
    framing: Framing,
    knobs: Knobs,
    failure: Event,
) -> Outcome:
    loop = asyncio.get_running_loop()
    pacer = _pacer()
    interval = 1 / knobs.tokens_per_second if knobs.tokens_per_second > 0 else 0.0
    if knobs.first_event_delay:
        await asyncio.sleep(knobs.first_event_delay)
    next_at = loop.time()
    sent = 0
    failed = False
    for item in events:
        if knobs.break_after is not None and sent >= knobs.break_after:
            return Outcome.BROKEN
        if item.token and interval:
            next_at += interval
            if next_at > loop.time():
                await pacer.sleep_until(next_at)
            else:
                # Behind schedule (a busy loop): carry on from now rather than burst to catch up.
                next_at = loop.time()
        if gone.is_set():
            return Outcome.DISCONNECTED
        sent += 1
        failed = sent == knobs.fail_at
        if failed:
            item = failure
        data = item.head + framing.clock() + item.tail
        if knobs.clock and item.token:
            now = time.time()
            data = data.replace(CLOCK_TOKEN, f"{now:.6f} ").replace(CLOCK_STAMP, f"{{t:{now:.6f}}}")
        if sent == knobs.malformed_at:
            data = data[: len(data) // 2]
        await send(
            {"type": "http.response.body", "body": framing.frame(item, data), "more_body": True}
        )
        if failed:
            break
    if knobs.break_after is not None and not failed:
        # Even a break point past the last event drops the connection: no terminator then.
        return Outcome.BROKEN
    await send({"type": "http.response.body", "body": framing.terminator, "more_body": False})
    return Outcome.FAILED if failed else Outcome.COMPLETED


def streamed_answer(
    events: Sequence[Event],
    *,
    framing: Framing,
    knobs: Knobs,
    failure: Event,
    on_end: Callable[[Outcome], None],
):
    """The ASGI answer of a streamed turn; `on_end` learns how the stream ended, whatever it was."""

    async def answer(send: Send, receive: Receive) -> None:
        outcome = Outcome.DISCONNECTED
        try:
            outcome = await deliver(
                send, receive, events, framing=framing, knobs=knobs, failure=failure
            )
        finally:
            on_end(outcome)
        if outcome is Outcome.BROKEN:
            raise DropConnection(f"break_after={knobs.break_after}")

    return answer
