"""What each configured provider offers, and whether it answers right now."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from django.conf import settings

from conversations.models import Provider
from upstream import clients
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
    return [
        ProviderStatus(
            key="orq",
            name=Provider.ORQ.label,
            base_url=settings.ORQ_BASE_URL,
            configured=bool(settings.ORQ_API_KEY),
            emulated=bool(emulator) and settings.ORQ_BASE_URL == emulator,
            models=tuple(settings.ORQ_MODELS),
            agents=tuple(settings.ORQ_AGENTS),
        ),
        ProviderStatus(
            key="mistral",
            name=Provider.MISTRAL.label,
            base_url=settings.MISTRAL_BASE_URL,
            configured=bool(settings.MISTRAL_API_KEY),
            emulated=bool(emulator) and settings.MISTRAL_BASE_URL == emulator,
            models=tuple(settings.MISTRAL_MODELS),
            agents=tuple(settings.MISTRAL_AGENTS),
        ),
    ]


async def check(status: ProviderStatus, *, within: float = 3.0) -> ProviderStatus:
    """Ask the provider for one conversation: the cheapest call that proves key and address."""
    if not status.configured:
        return status
    try:
        async with asyncio.timeout(within):
            if status.key == "orq":
                await clients.orq().list_conversations(limit=1)
            else:
                await clients.mistral().list_conversations(page_size=1)
    except TimeoutError:
        return replace(status, reachable=False, problem=f"no answer within {within:g} s")
    except UpstreamError as exc:
        return replace(status, reachable=False, problem=str(exc))
    return replace(status, reachable=True)


async def checked_statuses() -> list[ProviderStatus]:
    return list(await asyncio.gather(*(check(s) for s in provider_statuses())))
