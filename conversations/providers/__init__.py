"""One adapter per provider, chosen by the provider key a conversation stores.

A third provider is one module here (a `ProviderAdapter` with its `Capabilities`), its client
in `upstream/`, and its settings.
"""

from __future__ import annotations

from conversations.providers.base import (
    Capabilities,
    ImportListing,
    NotOffered,
    ProviderAdapter,
    Turn,
)
from conversations.providers.mistral import MistralAdapter
from conversations.providers.orq import OrqAdapter

ADAPTERS: dict[str, ProviderAdapter] = {
    adapter.key: adapter for adapter in (OrqAdapter(), MistralAdapter())
}


def provider_for(conversation_or_key) -> ProviderAdapter:
    """The adapter of a conversation (or anything with `.provider`), or of a provider key.

    A key no adapter has is a LookupError (KeyError).
    """
    key = getattr(conversation_or_key, "provider", conversation_or_key)
    return ADAPTERS[key]


__all__ = [
    "ADAPTERS",
    "Capabilities",
    "ImportListing",
    "NotOffered",
    "ProviderAdapter",
    "Turn",
    "provider_for",
]
