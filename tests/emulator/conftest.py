"""Fixtures for the emulator's own tests: the official SDKs and raw HTTP, pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mistralai import Mistral
from orq_ai_sdk import Orq

from emulator.process import EmulatorProcess

API_KEY = "emulator-test-key"


@pytest.fixture
def orq(emulator_url: str) -> Orq:
    return Orq(api_key=API_KEY, server_url=emulator_url)


@pytest.fixture
def mistral(emulator_url: str) -> Mistral:
    return Mistral(api_key=API_KEY, server_url=emulator_url)


@pytest.fixture
def http(emulator_url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=emulator_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def flaky_emulator_url() -> Iterator[str]:
    """A second emulator whose very first request fails with 503, as a server-wide fault."""
    emulator = EmulatorProcess(
        "--tokens-per-second", "0", "--fault", "status=503 retry_after=1 times=1"
    )
    yield emulator.url
    emulator.stop()
