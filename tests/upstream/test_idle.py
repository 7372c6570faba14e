"""Idle keep-alive connections: the server closing one as we send on it loses no request."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from emulator.agents import ORQ_AGENT_KEY
from emulator.server import IDLE_TIMEOUT, bind_socket, serve_async, url_of
from tests.upstream.conftest import TEST_TIMEOUTS, collect, make_mistral, make_orq
from upstream.errors import Unavailable
from upstream.http import HttpTransport, RetryPolicy, Timeouts
from upstream.types import Done, TextDelta

BRISK_IDLE_TIMEOUT = 0.3
# A client that would keep an idle connection far longer than the server does.
KEEPS_IDLE_CONNECTIONS = Timeouts(
    connect=TEST_TIMEOUTS.connect,
    read=TEST_TIMEOUTS.read,
    first_byte=TEST_TIMEOUTS.first_byte,
    keepalive=60,
)
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
SAYS_WHAT_HAPPENED = "the connection closed before any answer arrived"


@pytest.fixture
def brisk_emulator() -> Iterator[str]:
    """The emulator, in a thread of its own, closing idle connections after 0.3 s."""
    sock = bind_socket("127.0.0.1", 0)
    running: dict = {}
    started = threading.Event()

    async def main() -> None:
        running["loop"], running["task"] = asyncio.get_running_loop(), asyncio.current_task()
        started.set()
        await serve_async(tokens_per_second=0, sock=sock, idle_timeout=BRISK_IDLE_TIMEOUT)

    def run() -> None:
        try:
            asyncio.run(main())
        except asyncio.CancelledError:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    yield url_of(sock)
    running["loop"].call_soon_threadsafe(running["task"].cancel)
    thread.join(10)


@pytest.mark.slow
@pytest.mark.parametrize("make", [make_mistral, make_orq], ids=["mistral", "orq"])
async def test_a_stream_sent_as_the_emulator_closes_the_idle_connection_goes_out_again(
    brisk_emulator, make
):
    client = make(brisk_emulator, timeouts=KEEPS_IDLE_CONNECTIONS)
    try:
        for _ in range(3):
            await client.list_conversations()
            # A busy event loop (a blocking sleep here) has not yet seen the server's close when
            # the pool hands the connection out again: the stream start goes to a closed socket.
            time.sleep(BRISK_IDLE_TIMEOUT + 0.3)  # noqa: ASYNC251 (on purpose, see above)
            async with _stream(client, make) as events:
                received = await collect(events)
            assert "".join(e.text for e in received if isinstance(e, TextDelta))
            assert isinstance(received[-1], Done)
    finally:
        await client.http.aclose()


async def test_a_plain_post_sent_as_the_emulator_closes_the_idle_connection_goes_out_again(
    brisk_emulator,
):
    client = make_mistral(brisk_emulator, timeouts=KEEPS_IDLE_CONNECTIONS)
    try:
        await client.list_conversations()
        time.sleep(BRISK_IDLE_TIMEOUT + 0.3)  # noqa: ASYNC251 (a busy loop, as above)
        result = await client.start(text="hello", model="mistral-small-latest")
        assert result.conversation_id
    finally:
        await client.http.aclose()


@pytest.mark.slow
async def test_our_idle_connections_are_let_go_before_the_emulator_closes_them(emulator_url):
    # The emulator as `manage.py emulator` runs it closes an idle connection after its timeout.
    closed_after = await _idle_close_after(emulator_url)
    assert closed_after >= IDLE_TIMEOUT - 0.1
    # The pool the clients really use, with the default timeouts, lets it go well before.
    client = make_mistral(emulator_url, timeouts=Timeouts())
    try:
        pool = client.http.client()._transport._pool
        assert pool._keepalive_expiry <= closed_after - 0.5
    finally:
        await client.http.aclose()


async def test_a_new_connection_closed_before_any_answer_is_not_sent_again():
    async with _raw_server(["close"]) as (url, seen):
        transport = _transport(url)
        with pytest.raises(Unavailable, match=SAYS_WHAT_HAPPENED):
            async with transport.open_stream("POST", "/v1/conversations", body={"a": 1}):
                pass
        await transport.aclose()
    # The server might have started the turn: it gets the request once.
    assert seen == [1]


async def test_a_reused_connection_closed_after_part_of_an_answer_is_not_sent_again():
    async with _raw_server(["answer", "partial"]) as (url, seen):
        transport = _transport(url)
        await transport.request("GET", "/v1/conversations")
        with pytest.raises(Unavailable, match=SAYS_WHAT_HAPPENED):
            async with transport.open_stream("POST", "/v1/conversations", body={"a": 1}):
                pass
        await transport.aclose()
    assert seen == [2]


async def test_when_the_fresh_connection_fails_too_the_error_is_unavailable_in_plain_words():
    async with _raw_server(["answer", "close", "close"]) as (url, seen):
        transport = _transport(url)
        await transport.request("GET", "/v1/conversations")
        with pytest.raises(Unavailable, match=SAYS_WHAT_HAPPENED) as failure:
            async with transport.open_stream("POST", "/v1/conversations", body={"a": 1}):
                pass
        await transport.aclose()
    # Sent once more, on a second connection, and no further.
    assert seen == [2, 1]
    assert "Server disconnected" not in str(failure.value)


# --- helpers ----------------------------------------------------------------------------------


def _stream(client, make):
    if make is make_mistral:
        return client.stream_start(text="hello", model="mistral-small-latest")
    return client.stream_agent_response(ORQ_AGENT_KEY, text="hello")


async def _idle_close_after(url: str) -> float:
    """Seconds from the end of an answer until the server closes the idle connection."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"GET /v1/conversations HTTP/1.1\r\nHost: emulator\r\nAuthorization: Bearer k\r\n\r\n"
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        answered = time.monotonic()
        async with asyncio.timeout(IDLE_TIMEOUT + 5):
            assert await reader.read(1) == b""
        return time.monotonic() - answered
    finally:
        writer.close()


def _transport(url: str) -> HttpTransport:
    return HttpTransport(
        provider="test",
        base_url=url,
        api_key="k",
        timeouts=TEST_TIMEOUTS,
        retry=RetryPolicy(attempts=0),
        error_detail=lambda data: "",
    )


class _raw_server:
    """A bare HTTP/1.1 server that follows a script, one step per request it reads.

    "answer": a small JSON answer, keeping the connection; "close": close it without a byte;
    "partial": the start of a status line, then close. `seen` counts requests per connection.
    """

    def __init__(self, script: list[str]) -> None:
        self.script = iter(script)
        self.seen: list[int] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.seen.append(0)
        index = len(self.seen) - 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        await reader.readexactly(int(line.split(b":", 1)[1]))
                self.seen[index] += 1
                step = next(self.script)
                if step == "answer":
                    writer.write(ANSWER)
                    await writer.drain()
                    continue
                if step == "partial":
                    writer.write(b"HTTP/1.1 200")
                    await writer.drain()
                return
        except asyncio.IncompleteReadError:
            return
        finally:
            writer.close()

    async def __aenter__(self) -> tuple[str, list[int]]:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}", self.seen

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()
