"""One adapter per provider, chosen by the provider key a conversation stores.

The adapters are the classes named in `WEBCHAT_PROVIDERS`, loaded when the app is ready. A third
provider is one module (a `ProviderAdapter` with its `Capabilities`), its client, its settings
(`<PREFIX>_API_KEY`, ... in settings or the environment), and its class's path added to
`WEBCHAT_PROVIDERS`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from conversations.providers.base import (
    Capabilities,
    ImportListing,
    ProviderAdapter,
    Takes,
    Turn,
    Unserved,
    branch_before,
)

# Filled in place (never rebound), so `from conversations.providers import ADAPTERS` stays true
# when a test changes the setting.
ADAPTERS: dict[str, ProviderAdapter] = {}


def load_adapters(**kwargs) -> None:
    """(Re)load the adapters `WEBCHAT_PROVIDERS` names: at ready(), and when a test changes it."""
    if kwargs and kwargs.get("setting") != "WEBCHAT_PROVIDERS":
        return
    adapters = []
    for path in settings.WEBCHAT_PROVIDERS:
        try:
            adapters.append(import_string(path)())
        except ImportError as exc:
            raise ImproperlyConfigured(f"WEBCHAT_PROVIDERS: cannot load {path!r}: {exc}") from exc
    ADAPTERS.clear()
    ADAPTERS.update((adapter.key, adapter) for adapter in adapters)


setting_changed.connect(load_adapters)


def provider_for(conversation_or_key) -> ProviderAdapter:
    """The adapter of a conversation (or anything with `.provider`), or of a provider key.

    A key no configured adapter serves (a provider taken out of `WEBCHAT_PROVIDERS` while its
    conversations stay) gets one that can show them and says its provider is not configured.
    """
    key = getattr(conversation_or_key, "provider", conversation_or_key)
    adapter = ADAPTERS.get(key)
    return adapter if adapter is not None else Unserved(key)


def provider_choices() -> list[tuple[str, str]]:
    """(key, label) of each provider, for the fields that store a provider key."""
    return [(adapter.key, adapter.label) for adapter in ADAPTERS.values()]


__all__ = [
    "ADAPTERS",
    "Capabilities",
    "ImportListing",
    "ProviderAdapter",
    "Takes",
    "Turn",
    "Unserved",
    "branch_before",
    "load_adapters",
    "provider_choices",
    "provider_for",
]
