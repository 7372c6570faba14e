"""Clients pointed at the live emulator, with short timeouts so a hang fails fast."""

from __future__ import annotations

import pytest

from upstream.http import RetryPolicy, Timeouts
from upstream.mistral import MistralClient
from upstream.orq import OrqClient

TEST_TIMEOUTS = Timeouts(connect=2, read=5, first_byte=5)


def make_orq(url: str, **kwargs) -> OrqClient:
    kwargs.setdefault("timeouts", TEST_TIMEOUTS)
    kwargs.setdefault("retry", RetryPolicy(attempts=1, max_wait=2, backoff=0.05))
    return OrqClient(api_key="test-key", base_url=url, project_id="prj_test", **kwargs)


def make_mistral(url: str, **kwargs) -> MistralClient:
    kwargs.setdefault("timeouts", TEST_TIMEOUTS)
    kwargs.setdefault("retry", RetryPolicy(attempts=1, max_wait=2, backoff=0.05))
    return MistralClient(api_key="test-key", base_url=url, **kwargs)


@pytest.fixture
async def orq(emulator_url):
    client = make_orq(emulator_url)
    yield client
    await client.http.aclose()


@pytest.fixture
async def mistral(emulator_url):
    client = make_mistral(emulator_url)
    yield client
    await client.http.aclose()


async def collect(events) -> list:
    return [event async for event in events]
