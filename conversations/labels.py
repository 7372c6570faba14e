"""How a reply's model reads wherever it is shown: the model that answered, and the agent."""

from __future__ import annotations

from django.utils.translation import gettext


def model_label(model: str, agent: str = "") -> str:
    """ "mistral-medium-latest (agent demo)", "gpt-4o", "agent demo", or "" when nothing is known.

    `model` is what the provider reported in the stream (else the configured model); an agent
    conversation's agent comes from the conversation.
    """
    if agent and model == agent:
        # Replies saved before the reported model was kept held the agent's name instead.
        model = ""
    if agent:
        if model:
            return gettext("%(model)s (agent %(agent)s)") % {"model": model, "agent": agent}
        return gettext("agent %(name)s") % {"name": agent}
    return model
