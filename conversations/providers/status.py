"""What each configured provider offers, and whether it answers right now."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from django.conf import settings

from conversations.providers import ADAPTERS, ProviderAdapter, provider_for
from upstream.errors import UpstreamError


@dataclass(frozen=True)
class ProviderStatus:
    key: str
    name: str
    base_url: str
    configured: bool
    emulated: bool
    models: tuple[str, ...]
    agents: tuple[str, ...]
    reachable: bool | None = None
    problem: str = ""


def provider_statuses() -> list[ProviderStatus]:
    emulator = settings.WEBCHAT_EMULATOR_URL.rstrip("/")
    return [_status(adapter, emulator) for adapter in ADAPTERS.values()]


def _status(adapter: ProviderAdapter, emulator: str) -> ProviderStatus:
    base_url = adapter.setting("BASE_URL")
    return ProviderStatus(
        key=adapter.key,
        name=adapter.label,
        base_url=base_url,
        configured=adapter.configured,
        emulated=bool(emulator) and base_url == emulator,
        models=tuple(adapter.models()),
        agents=tuple(adapter.agents()),
    )


async def check(status: ProviderStatus, *, within: float = 3.0) -> ProviderStatus:
    """Ask the provider for one conversation: the cheapest call that proves key and address."""
    if not status.configured:
        return status
    try:
        async with asyncio.timeout(within):
            await provider_for(status.key).ping()
    except TimeoutError:
        return replace(status, reachable=False, problem=f"no answer within {within:g} s")
    except UpstreamError as exc:
        return replace(status, reachable=False, problem=str(exc))
    return replace(status, reachable=True)


async def checked_statuses() -> list[ProviderStatus]:
    return list(await asyncio.gather(*(check(s) for s in provider_statuses())))
