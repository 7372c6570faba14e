"""The asyncio network backend under httpx: in use, and its failures are httpx's typed ones."""

from __future__ import annotations

import asyncio
import socket
import ssl

import httpcore
import httpx
import pytest
import trustme

from tests.upstream.conftest import make_mistral
from upstream.errors import StreamBroken, Unavailable
from upstream.http import Timeouts
from upstream.network import AsyncioBackend, AsyncioStream


async def test_the_clients_pool_runs_on_the_asyncio_backend(mistral):
    # upstream/network.py sets httpx's private `_pool`; an httpx upgrade that renames it fails here.
    transport = mistral.http.client()._transport
    assert isinstance(transport._pool._network_backend, AsyncioBackend)
    page = await mistral.list_conversations()
    assert isinstance(page.conversations, tuple)


async def test_keep_alive_reuses_one_connection(mistral):
    for _ in range(3):
        await mistral.list_conversations()
    pool = mistral.http.client()._transport._pool
    assert len(pool.connections) == 1


async def test_a_refused_connection_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once it is closed
    client = make_mistral(f"http://127.0.0.1:{port}")
    with pytest.raises(Unavailable):
        await client.list_conversations()
    await client.http.aclose()


async def test_a_silent_stream_times_out_as_a_broken_stream(emulator_url):
    client = make_mistral(emulator_url, timeouts=Timeouts(connect=2, read=0.5, first_byte=5))
    with pytest.raises(StreamBroken, match="went silent"):
        async with asyncio.timeout(10):
            async with client.stream_start(
                text="[[emulator first_event_delay=3]] slow", model="mistral-small-latest"
            ) as events:
                async for _ in events:
                    pass
    await client.http.aclose()


async def test_a_large_body_arrives_whole_through_flow_control():
    # More than the backend buffers before it pauses reading (256 KiB).
    body = b"x" * (1024 * 1024 + 7)

    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        transport = httpx.AsyncHTTPTransport()
        transport._pool = httpcore.AsyncConnectionPool(network_backend=AsyncioBackend())
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.content == body
    finally:
        server.close()
        await server.wait_closed()


async def test_tls_upstreams_are_read_through_the_asyncio_backend():
    # The real APIs are HTTPS: the handshake goes through `start_tls` on our protocol.
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsecured")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        transport = httpx.AsyncHTTPTransport()
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=client_context, network_backend=AsyncioBackend()
        )
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(f"https://localhost:{port}/")
            assert response.text == "secured"
            assert isinstance(response.extensions["network_stream"], AsyncioStream)
            # A certificate for another name is refused, as a connection error.
            with pytest.raises(httpx.ConnectError):
                await client.get(f"https://127.0.0.1:{port}/")
    finally:
        server.close()
        await server.wait_closed()
