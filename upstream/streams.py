"""Turn a provider's server-sent events into our stream events, and notice unfinished streams."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable

from upstream.errors import BadResponse, StreamBroken
from upstream.http import StreamResponse
from upstream.types import Done, Failed, StreamEvent

log = logging.getLogger(__name__)

Translator = Callable[[dict], Iterable[StreamEvent]]


async def translate(
    stream: StreamResponse, translator: Translator, *, sentinel: str | None = None
) -> AsyncIterator[StreamEvent]:
    """Yield our events for the provider's; a stream that ends without `done` or `failed` is broken.

    `sentinel` is a data line that ends the stream (Orq's `[DONE]`); anything after it is ignored.
    """
    provider = stream.transport.provider
    finished = False
    async for sse in stream.events():
        data = sse.data
        if sentinel is not None and data == sentinel:
            break
        if not data:
            continue
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise BadResponse(
                f"the stream sent a malformed event: {data[:120]!r}", provider=provider
            ) from exc
        if not isinstance(payload, dict):
            raise BadResponse(
                f"the stream sent a non-object event: {data[:120]!r}", provider=provider
            )
        for event in translator(payload):
            if isinstance(event, Done | Failed):
                finished = True
            yield event
    if not finished:
        raise StreamBroken("the stream ended before the reply finished", provider=provider)


def skip_unknown(provider: str, kind: object) -> tuple[()]:
    log.debug("%s: skipping stream event of unknown type %r", provider, kind)
    return ()
