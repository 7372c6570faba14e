"""Every fault knob of the emulator meets the right typed error (or `failed`), never a hang."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import asynccontextmanager

import pytest

from emulator.process import EmulatorProcess
from upstream.errors import BadResponse, NotFound, StreamBroken, Unavailable
from upstream.http import RetryPolicy, Timeouts
from upstream.types import Done, Failed, TextDelta

from .conftest import make_mistral, make_orq

PROVIDERS = ["orq", "mistral"]
# Every test must end well inside this: a client that hangs fails here instead.
NEVER_HANGS = 10
FIRST_BYTE_HALF_SECOND = Timeouts(connect=2, read=5, first_byte=0.5)
SILENCE_0_3_SECONDS = Timeouts(connect=2, read=0.3, first_byte=2)


def client_for(provider: str, url: str, **kwargs):
    return (make_orq if provider == "orq" else make_mistral)(url, **kwargs)


@asynccontextmanager
async def turn(provider: str, client, text: str):
    """Open a streamed turn the way the app will: a new conversation's first message."""
    if provider == "orq":
        conversation = await client.create_conversation(model="openai/gpt-4o")
        async with client.stream_response(conversation.id, text=text, model="openai/gpt-4o") as ev:
            yield ev
    else:
        async with client.stream_start(text=text, model="mistral-small-latest") as ev:
            yield ev


async def drain(provider: str, client, text: str) -> tuple[list, BaseException | None]:
    """Events received before the stream ended or raised, and what it raised."""
    received: list = []
    try:
        async with asyncio.timeout(NEVER_HANGS):
            async with turn(provider, client, text) as events:
                async for event in events:
                    received.append(event)
    except TimeoutError:
        pytest.fail("the client hung")
    except Exception as exc:
        return received, exc
    finally:
        await client.http.aclose()
    return received, None


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_500_before_the_stream_is_unavailable(provider, emulator_url):
    client = client_for(provider, emulator_url)
    received, error = await drain(provider, client, "[[emulator status=500]] hello")
    assert received == []
    assert isinstance(error, Unavailable)
    assert error.status == 500
    assert error.provider == provider


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_429_is_retried_after_retry_after_then_unavailable(provider, emulator_url):
    client = client_for(provider, emulator_url, retry=RetryPolicy(attempts=2, max_wait=2))
    began = time.monotonic()
    _, error = await drain(provider, client, "[[emulator status=429 retry_after=0.3]] hi")
    elapsed = time.monotonic() - began
    assert isinstance(error, Unavailable)
    assert error.status == 429 and error.retry_after == pytest.approx(0.3)
    assert "rate limited" in str(error)
    assert 0.6 <= elapsed < 5, "two retries, each after the 0.3 s the provider asked for"


async def test_retry_after_beyond_our_patience_fails_at_once(emulator_url):
    client = make_orq(emulator_url, retry=RetryPolicy(attempts=3, max_wait=1))
    began = time.monotonic()
    _, error = await drain("orq", client, "[[emulator status=429 retry_after=30]] hi")
    assert isinstance(error, Unavailable) and error.retry_after == 30
    assert time.monotonic() - began < 2


@pytest.fixture
def flaky_emulator():
    """An emulator whose first request answers 503 with Retry-After, then behaves."""
    emulator = EmulatorProcess(
        "--tokens-per-second", "0", "--fault", "status=503 retry_after=0.2 times=1"
    )
    yield emulator
    emulator.stop()


async def test_503_with_retry_after_is_retried_and_succeeds(flaky_emulator):
    client = make_mistral(flaky_emulator.url, retry=RetryPolicy(attempts=2, max_wait=2))
    began = time.monotonic()
    received, error = await drain("mistral", client, "retry me")
    assert error is None
    assert isinstance(received[-1], Done)
    assert time.monotonic() - began >= 0.2


async def test_a_get_is_retried_after_a_server_error(flaky_emulator):
    client = make_orq(flaky_emulator.url, retry=RetryPolicy(attempts=1, max_wait=2))
    try:
        page = await client.list_conversations(limit=1)
    finally:
        await client.http.aclose()
    assert page.conversations == () or page.conversations[0].id.startswith("conv_")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_no_first_byte_within_the_timeout_is_unavailable(provider, emulator_url):
    client = client_for(
        provider, emulator_url, timeouts=Timeouts(connect=2, read=5, first_byte=0.5)
    )
    began = time.monotonic()
    received, error = await drain(provider, client, "[[emulator first_byte_delay=4]] hi")
    assert isinstance(error, Unavailable) and "no answer within 0.5 s" in str(error)
    assert received == []
    assert time.monotonic() - began < 2.5


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_headers_but_no_first_event_within_the_timeout_is_unavailable(provider, emulator_url):
    client = client_for(
        provider, emulator_url, timeouts=Timeouts(connect=2, read=5, first_byte=0.5)
    )
    began = time.monotonic()
    _, error = await drain(provider, client, "[[emulator first_event_delay=4]] hi")
    assert isinstance(error, Unavailable)
    assert time.monotonic() - began < 2.5


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_that_goes_silent_is_broken(provider, emulator_url):
    client = client_for(
        provider, emulator_url, timeouts=Timeouts(connect=2, read=0.3, first_byte=2)
    )
    received, error = await drain(provider, client, "[[emulator tokens_per_second=1]] hi")
    assert isinstance(error, StreamBroken) and "silent" in str(error)
    assert received, "what arrived before the silence is kept"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_break_mid_stream_keeps_what_arrived_and_raises_stream_broken(provider, emulator_url):
    client = client_for(provider, emulator_url)
    received, error = await drain(provider, client, "[[emulator break_after=8]] tell me more")
    assert isinstance(error, StreamBroken)
    assert len(received) >= 6
    assert any(isinstance(e, TextDelta) for e in received)
    assert not any(isinstance(e, Done) for e in received)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_malformed_event_raises_bad_response_after_the_good_ones(provider, emulator_url):
    client = client_for(provider, emulator_url)
    received, error = await drain(provider, client, "[[emulator malformed_at=4]] hi")
    assert isinstance(error, BadResponse) and "malformed" in str(error)
    assert len(received) == 3


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_provider_error_event_yields_failed(provider, emulator_url):
    client = client_for(provider, emulator_url)
    received, error = await drain(provider, client, "[[emulator fail_at=5]] hi")
    assert error is None
    assert isinstance(received[-1], Failed)
    assert received[-1].message and received[-1].code
    assert len(received) == 5


async def test_unknown_conversation_ids_are_not_found(orq, mistral):
    with pytest.raises(NotFound):
        await orq.get_conversation("conv_01kfd2nosuchconversation00")
    with pytest.raises(NotFound):
        async with orq.stream_response("conv_01kfd2nosuchconversation00", text="x", model="m"):
            pass
    with pytest.raises(NotFound):
        await mistral.get_conversation("conv_0000000000000000000000000000dead")
    with pytest.raises(NotFound):
        async with mistral.stream_append("conv_0000000000000000000000000000dead", text="x"):
            pass


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unreachable_upstream_is_unavailable(provider):
    client = client_for(
        provider, f"http://127.0.0.1:{closed_port()}", retry=RetryPolicy(attempts=2, backoff=0.05)
    )
    began = time.monotonic()
    _, error = await drain(provider, client, "anyone there?")
    assert isinstance(error, Unavailable) and "cannot connect" in str(error)
    assert time.monotonic() - began < 3
