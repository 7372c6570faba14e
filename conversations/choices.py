"""What a user may talk to: the configured models and agents of each provider with a key."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext

from conversations.providers import ADAPTERS, provider_for


@dataclass(frozen=True, slots=True)
class Choice:
    provider: str
    kind: str  # "model" or "agent"
    name: str  # the model, or the agent's configured key
    upstream: str  # the model, or the agent's upstream id

    @property
    def value(self) -> str:
        return f"{self.provider}:{self.kind}:{self.name}"

    @property
    def label(self) -> str:
        return (
            gettext("Agent: %(name)s") % {"name": self.name} if self.kind == "agent" else self.name
        )

    @property
    def provider_label(self) -> str:
        return provider_for(self.provider).label

    @property
    def takes(self):
        """What its provider takes with it besides the text (`providers.base.Takes`)."""
        return provider_for(self.provider).takes(self.kind)


def available_choices() -> list[Choice]:
    choices: list[Choice] = []
    for key, adapter in ADAPTERS.items():
        if adapter.configured:
            choices += [Choice(key, "model", m, m) for m in adapter.models()]
            choices += [Choice(key, "agent", k, v) for k, v in adapter.agents().items()]
    return choices


def choice_for(value: str) -> Choice | None:
    """The configured choice with this value; nothing a browser sends can name anything else."""
    return next((c for c in available_choices() if c.value == value), None)


def default_choice(preferred: str = "") -> Choice | None:
    """What a new chat starts with: the person's own default (`preferred`, from their settings)
    while it is offered, else the site's (WEBCHAT_DEFAULT_CHOICE), else the first offered."""
    return (
        (choice_for(preferred) if preferred else None)
        or choice_for(settings.WEBCHAT_DEFAULT_CHOICE)
        or next(iter(available_choices()), None)
    )


def kind_and_name(model: str, agent: str) -> tuple[str, str]:
    """What a record that names a model or an agent talks to: the agent when it has one."""
    return ("agent", agent) if agent else ("model", model)


def configured_choice(provider: str, model: str, agent: str) -> Choice | None:
    """The configured choice these stored fields name, or None when it is not offered (now)."""
    kind, name = kind_and_name(model, agent)
    return next(
        (c for c in available_choices() if (c.provider, c.kind, c.name) == (provider, kind, name)),
        None,
    )


def choice_of(record) -> Choice | None:
    """The configured choice of a conversation or a widget (both store provider, model, agent)."""
    return configured_choice(record.provider, record.model, record.agent)


def grouped_choices() -> list[tuple[str, list[Choice]]]:
    groups: dict[str, list[Choice]] = {}
    for choice in available_choices():
        groups.setdefault(choice.provider_label, []).append(choice)
    return list(groups.items())
