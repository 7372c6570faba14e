"""One adapter per provider, chosen by the provider key a conversation stores.

The adapters are the classes named in `WEBCHAT_PROVIDERS`. A third provider is one module (a
`ProviderAdapter` with its `Capabilities`), its client in `upstream/`, its settings, and its
class's path added to `WEBCHAT_PROVIDERS`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from conversations.providers.base import (
    Capabilities,
    ImportListing,
    ProviderAdapter,
    Turn,
    branch_before,
)

# Filled in place (never rebound), so `from conversations.providers import ADAPTERS` stays true
# when a test changes the setting.
ADAPTERS: dict[str, ProviderAdapter] = {}


def load_adapters(**kwargs) -> None:
    if kwargs and kwargs.get("setting") != "WEBCHAT_PROVIDERS":
        return
    adapters = [import_string(path)() for path in settings.WEBCHAT_PROVIDERS]
    ADAPTERS.clear()
    ADAPTERS.update((adapter.key, adapter) for adapter in adapters)


def provider_for(conversation_or_key) -> ProviderAdapter:
    """The adapter of a conversation (or anything with `.provider`), or of a provider key.

    A key no adapter has is a LookupError (KeyError).
    """
    key = getattr(conversation_or_key, "provider", conversation_or_key)
    return ADAPTERS[key]


def provider_choices() -> list[tuple[str, str]]:
    """(key, label) of each provider, for the fields that store a provider key."""
    return [(adapter.key, adapter.label) for adapter in ADAPTERS.values()]


setting_changed.connect(load_adapters)
load_adapters()

__all__ = [
    "ADAPTERS",
    "Capabilities",
    "ImportListing",
    "ProviderAdapter",
    "Turn",
    "branch_before",
    "provider_choices",
    "provider_for",
]
