"""One pooled httpx client per event loop, with timeouts, safe retries and typed errors."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

from upstream.errors import BadResponse, NotFound, Rejected, StreamBroken, Unavailable
from upstream.network import AsyncioTransport

log = logging.getLogger(__name__)

SSE_ACCEPT = "text/event-stream"
JSON_ACCEPT = "application/json"


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    # For plain calls the whole answer; for streams the longest silence between two chunks.
    read: float = 60.0
    # From sending a stream request until its first event arrives (headers included).
    first_byte: float = 30.0
    # How long an idle pooled connection is kept. Servers close idle keep-alive connections
    # too (uvicorn, and so our emulator, after 5 s); equal timeouts race, and a request sent
    # as the server closes is lost. Letting ours go first avoids most of those; the backend
    # resends the rest (upstream/network.py).
    keepalive: float = 4.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 2
    max_wait: float = 10.0
    backoff: float = 0.25


# Every transport made, so `clients.run` can close the pools a call opened, whichever
# provider's client opened them.
TRANSPORTS: weakref.WeakSet[HttpTransport] = weakref.WeakSet()


class HttpTransport:
    """What every provider client shares: auth, pooling, retries and the error mapping."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        api_key: str,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        error_detail: Callable[[Any], str],
        max_connections: int = 500,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._error_detail = error_detail
        self._headers = {**(headers or {}), "Authorization": f"Bearer {api_key}"}
        # Tests of parser edge cases replay recorded wire text through httpx.MockTransport.
        self._transport = transport
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(100, max_connections),
            keepalive_expiry=self.timeouts.keepalive,
        )
        # An AsyncClient is bound to the loop that first used it; tests and async_to_sync run
        # other loops, so each loop gets its own pool.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        TRANSPORTS.add(self)

    # --- plumbing ---------------------------------------------------------------------------

    def client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            t = self.timeouts
            client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.connect),
                follow_redirects=False,
                transport=self._transport or AsyncioTransport(limits=self._limits),
            )
            self._clients[loop] = client
        return client

    def has_pool(self) -> bool:
        """Whether this event loop already has a pool (and something else may be using it)."""
        return asyncio.get_running_loop() in self._clients

    async def aclose(self) -> None:
        """Close this loop's pool (call it before the loop ends)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def _unavailable(self, message: str, **kwargs: Any) -> Unavailable:
        return Unavailable(message, provider=self.provider, **kwargs)

    def _connection_failed(self, exc: httpx.TransportError) -> Unavailable:
        # The transport's own words ("Server disconnected without sending a response") are for
        # the log; the person reading the reply gets what happened.
        log.warning("%s: the connection failed before an answer: %r", self.provider, exc)
        return self._unavailable("the connection closed before any answer arrived")

    def _retry_wait(self, attempt: int, response: httpx.Response | None = None) -> float | None:
        """Seconds to wait before another try, or None when we must give up now."""
        if attempt >= self.retry.attempts:
            return None
        header = retry_after(response) if response is not None else None
        if header is not None:
            return header if header <= self.retry.max_wait else None
        return self.retry.backoff * (2**attempt) * (0.5 + random.random() / 2)

    def raise_for_status(self, response: httpx.Response, body: bytes | None = None) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = self._detail(response, body)
        if status == 404:
            raise NotFound(detail or "not found", provider=self.provider, status=404)
        if status in (408, 429) or status >= 500:
            kind = "rate limited" if status == 429 else f"answered {status}"
            raise self._unavailable(
                f"{kind}: {detail}" if detail else kind,
                status=status,
                retry_after=retry_after(response),
            )
        raise Rejected(
            detail or f"refused the request ({status})",
            provider=self.provider,
            status=status,
            detail=_json_or_none(body if body is not None else response.content),
        )

    def _detail(self, response: httpx.Response, body: bytes | None) -> str:
        raw = body if body is not None else response.content
        data = _json_or_none(raw)
        if data is not None:
            detail = self._error_detail(data)
            if detail:
                return detail
        return raw.decode("utf-8", "replace").strip()[:500]

    # --- plain calls ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one call, retrying only where a repeat cannot do harm."""
        idempotent = method in ("GET", "HEAD")
        params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            try:
                response = await self.client().request(
                    method, path, json=body, params=params, headers={"Accept": JSON_ACCEPT}
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the provider: safe to repeat whatever the method.
                wait = self._retry_wait(attempt)
                if wait is None:
                    raise self._unavailable(f"cannot connect to {self.base_url}") from exc
            except httpx.TimeoutException as exc:
                wait = self._retry_wait(attempt) if idempotent else None
                if wait is None:
                    raise self._unavailable(f"no answer within {self.timeouts.read:g} s") from exc
            except httpx.TransportError as exc:
                wait = self._retry_wait(attempt) if idempotent else None
                if wait is None:
                    raise self._connection_failed(exc) from exc
            else:
                status = response.status_code
                retryable = status in (429, 503) or (idempotent and status in (500, 502, 504))
                wait = self._retry_wait(attempt, response) if retryable else None
                if wait is None:
                    self.raise_for_status(response)
                    return response
            attempt += 1
            log.info("%s: retrying %s %s in %.2f s", self.provider, method, path, wait)
            await asyncio.sleep(wait)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise BadResponse(
                f"{method} {path} answered {response.status_code} with a body that is not JSON",
                provider=self.provider,
            ) from exc

    # --- streams ----------------------------------------------------------------------------

    @asynccontextmanager
    async def open_stream(
        self, method: str, path: str, *, body: Any, accept: str = SSE_ACCEPT
    ) -> AsyncIterator[StreamResponse]:
        """Send a streamed call and hand over the response once its status is known good.

        The response is closed on exit, which is also how a caller cancels the upstream turn.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeouts.first_byte
        client = self.client()
        attempt = 0
        while True:
            request = client.build_request(method, path, json=body, headers={"Accept": accept})
            try:
                async with asyncio.timeout_at(deadline):
                    response = await client.send(request, stream=True)
            except TimeoutError as exc:
                raise self._unavailable(
                    f"no answer within {self.timeouts.first_byte:g} s", status=None
                ) from exc
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                wait = self._retry_wait(attempt)
                if wait is None:
                    raise self._unavailable(f"cannot connect to {self.base_url}") from exc
            except httpx.TimeoutException as exc:
                raise self._unavailable(f"no answer within {self.timeouts.read:g} s") from exc
            except httpx.TransportError as exc:
                raise self._connection_failed(exc) from exc
            else:
                if response.status_code < 400:
                    break
                content = await response.aread()
                await response.aclose()
                # A 429 or 503 means the turn was never started, so asking again is safe.
                retryable = response.status_code in (429, 503)
                wait = self._retry_wait(attempt, response) if retryable else None
                if wait is None:
                    self.raise_for_status(response, content)
            attempt += 1
            log.info("%s: retrying %s %s in %.2f s", self.provider, method, path, wait)
            await asyncio.sleep(wait)
            deadline = loop.time() + self.timeouts.first_byte
        try:
            yield StreamResponse(self, response, deadline)
        finally:
            await response.aclose()


class StreamResponse:
    """A streamed answer: server-sent events, or (where the provider chose) a JSON body."""

    def __init__(self, transport: HttpTransport, response: httpx.Response, deadline: float):
        self.transport = transport
        self.response = response
        self._deadline = deadline

    @property
    def is_event_stream(self) -> bool:
        return self.response.headers.get("content-type", "").startswith(SSE_ACCEPT)

    async def json(self) -> Any:
        try:
            return json.loads(await self.response.aread())
        except ValueError as exc:
            raise BadResponse("the answer is not JSON", provider=self.transport.provider) from exc
        except httpx.TransportError as exc:
            raise StreamBroken(
                f"connection dropped: {exc}", provider=self.transport.provider
            ) from exc

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        """Raw SSE events; a silent or dropped connection becomes `StreamBroken`."""
        provider = self.transport.provider
        iterator = EventSource(self.response).aiter_sse()
        first = True
        while True:
            try:
                if first:
                    async with asyncio.timeout_at(self._deadline):
                        event = await anext(iterator)
                    first = False
                else:
                    event = await anext(iterator)
            except StopAsyncIteration:
                return
            except SSEError as exc:
                raise BadResponse(f"expected an event stream: {exc}", provider=provider) from exc
            except TimeoutError as exc:
                raise Unavailable(
                    f"no answer within {self.transport.timeouts.first_byte:g} s",
                    provider=provider,
                ) from exc
            except httpx.ReadTimeout as exc:
                raise StreamBroken(
                    f"the stream went silent for {self.transport.timeouts.read:g} s",
                    provider=provider,
                ) from exc
            except httpx.TransportError as exc:
                raise StreamBroken(
                    f"the connection dropped mid-reply ({exc})", provider=provider
                ) from exc
            yield event


def retry_after(response: httpx.Response | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if any."""
    if response is None:
        return None
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
