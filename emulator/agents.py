"""The agents the emulator knows: fixed ids, so the app's default configuration matches them."""

from __future__ import annotations

from dataclasses import dataclass

ORQ_AGENT_KEY = "demo"
ORQ_AGENT_ID = "agent_01kfd2demq7v3m8xw5r9ht4abc"
ORQ_AGENT_MODEL = "openai/gpt-4o"

MISTRAL_AGENT_ID = "ag_0694d3e0c7a47f1e8000a1b2c3d4e5f6"
MISTRAL_AGENT_NAME = "demo"
MISTRAL_AGENT_MODEL = "mistral-medium-latest"
MISTRAL_AGENT_VERSION = 0


@dataclass(frozen=True)
class Agent:
    key: str
    id: str
    model: str


ORQ_AGENTS = (Agent(key=ORQ_AGENT_KEY, id=ORQ_AGENT_ID, model=ORQ_AGENT_MODEL),)
MISTRAL_AGENTS = (Agent(key=MISTRAL_AGENT_NAME, id=MISTRAL_AGENT_ID, model=MISTRAL_AGENT_MODEL),)


def banner_lines() -> list[str]:
    """What `manage.py emulator` prints after the address, so people know what to call."""
    lines = [f"Orq agent: key={a.key} id={a.id} model={a.model}" for a in ORQ_AGENTS]
    lines += [f"Mistral agent: name={a.key} id={a.id} model={a.model}" for a in MISTRAL_AGENTS]
    return lines
