"""httpcore's sockets on plain asyncio: the upstream read path without anyio's per-read cost.

httpx runs on httpcore, and httpcore's default network backend goes through anyio: every read
enters a cancel scope and a `fail_after`, and the pool asks every idle connection whether it
is readable (a system call each) before every request. A relay reads one small chunk per
token from hundreds of streams, so that was the largest single cost per relayed event. This
backend keeps httpx and httpcore (HTTP/1.1 parsing, pooling, TLS, timeouts, their typed
errors) and swaps only the socket layer for an asyncio protocol with a buffer.

It also repairs one race every pooled client has: a server closes a kept-alive connection that
has been idle for its timeout just as we send the next request on it. Nothing of that request
was processed (the server had already let the connection go), so it is sent once more on a
fresh connection, and only in that case: a failure before any answer on a new connection, or
after part of an answer, is left to the caller.
"""

# ruff: noqa: ASYNC109 (httpcore's network interface takes `timeout` arguments)
from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

log = logging.getLogger(__name__)

_HIGH_WATER = 256 * 1024  # unread bytes before the socket stops being read


class ClosedWhileIdle(httpcore.ReadError):
    """The server closed a kept-alive connection before answering the request sent on it."""


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.received = 0  # bytes ever received, to tell whether a request got any answer
        self.eof = False
        self.error: BaseException | None = None
        self.paused = False
        self._waiter: asyncio.Future | None = None
        self._writable: asyncio.Future | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.received += len(data)
        if len(self.buffer) > _HIGH_WATER and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait_readable(self, timeout: float | None) -> None:
        # A bare timer rather than asyncio.timeout(): this runs once per token.
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def drain(self) -> None:
        if self._writable is not None:
            await self._writable


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        # HTTP/1.1 writes a request, then reads its answer: a write after a read starts the
        # next exchange. What had been received when it started tells whether any answer came.
        self._exchanges = 0
        self._reading = True
        self._answer_from = 0

    def _closed_while_idle(self) -> bool:
        """Whether the server closed this reused connection before answering on it."""
        return self._exchanges > 1 and self._protocol.received == self._answer_from

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        self._reading = True
        if not protocol.buffer and not protocol.eof:
            # Only a read that has to wait arms a timer.
            try:
                await protocol.wait_readable(timeout)
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(f"no data within {timeout} s") from exc
        if protocol.buffer:
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            if protocol.paused and len(protocol.buffer) < _HIGH_WATER // 4:
                protocol.paused = False
                self._transport.resume_reading()
            return data
        if self._closed_while_idle():
            raise ClosedWhileIdle("the server closed the idle connection before answering")
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error)) from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._reading:
            self._reading = False
            self._exchanges += 1
            self._answer_from = self._protocol.received
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        try:
            self._transport.write(buffer)
            async with asyncio.timeout(timeout):
                await self._protocol.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"could not write within {timeout} s") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc
        if self._protocol.error is not None:
            raise httpcore.WriteError(str(self._protocol.error))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from exc
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        self._protocol.transport = transport
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Asked of an idle pooled connection: anything to read means the server closed it.
            protocol = self._protocol
            return protocol.eof or bool(protocol.buffer) or self._transport.is_closing()
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info in ("ssl_object", "socket") and not self._transport.is_closing():
            return self._transport.get_extra_info(info)
        return None


async def _connect(connecting, timeout: float | None) -> tuple[asyncio.Transport, _Protocol]:
    try:
        async with asyncio.timeout(timeout):
            return await connecting
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        transport, protocol = await _connect(
            loop.create_connection(_Protocol, host, port, local_addr=local), timeout
        )
        sock: socket.socket | None = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[tuple] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        transport, protocol = await _connect(loop.create_unix_connection(_Protocol, path), timeout)
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds: once per process, not per event loop.
    return httpx.create_ssl_context()


def _replayable(request: httpcore.Request) -> bool:
    # Our calls send JSON built in memory; a streamed body could not be sent a second time.
    return isinstance(request.stream, httpx.ByteStream)


class _RenewedOnIdleClose(httpcore.AsyncConnectionInterface):
    """A pooled connection that, when the server closed it while idle, reconnects once."""

    def __init__(self, connect: Callable[[], httpcore.AsyncConnectionInterface]) -> None:
        self._connect = connect
        self._connection = connect()
        # While a request is being sent, the pool must see a busy connection even between the
        # old one closing and the fresh one opening, or it would drop this one from its list.
        self._sending = False

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        self._sending = True
        try:
            try:
                return await self._connection.handle_async_request(request)
            except ClosedWhileIdle:
                if not _replayable(request):
                    raise
                log.info("the server closed an idle connection; sending again on a fresh one")
                self._connection = self._connect()
                return await self._connection.handle_async_request(request)
        finally:
            self._sending = False

    async def aclose(self) -> None:
        await self._connection.aclose()

    def info(self) -> str:
        return self._connection.info()

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return self._connection.can_handle_request(origin)

    def is_available(self) -> bool:
        return not self._sending and self._connection.is_available()

    def has_expired(self) -> bool:
        return not self._sending and self._connection.has_expired()

    def is_idle(self) -> bool:
        return not self._sending and self._connection.is_idle()

    def is_closed(self) -> bool:
        return not self._sending and self._connection.is_closed()

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} [{self.info()}]>"


class _Pool(httpcore.AsyncConnectionPool):
    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        create = super().create_connection
        return _RenewedOnIdleClose(functools.partial(create, origin))


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request mapping, error mapping) over the asyncio backend."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(verify=_ssl_context(), limits=limits)
        # httpx builds the pool itself with no way to pass a network backend; this is the
        # same pool (plain HTTP/1.1, no proxy) with ours. tests/upstream/test_network.py
        # fails if an httpx upgrade stops reading `_pool`.
        self._pool = _Pool(
            ssl_context=_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
