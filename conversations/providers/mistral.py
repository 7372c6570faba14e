"""Mistral: conversations come with the first message, have no titles, and branch from entries."""

from __future__ import annotations

from django.conf import settings

from conversations.history import earlier_turns
from conversations.models import Message
from conversations.providers.base import Capabilities, ImportListing, ProviderAdapter, Turn
from upstream import clients


class MistralAdapter(ProviderAdapter):
    key = "mistral"
    name = "Mistral"
    settings_prefix = "MISTRAL"
    capabilities = Capabilities(
        can_rename=False,
        can_branch=True,
        names_conversations=False,
        # A continuation starts upstream with the earlier turns as its first entries.
        keeps_earlier_turns_on_continue=True,
        takes_instructions=False,
        takes_files=False,
    )

    def client(self):
        return clients.mistral()

    def models(self):
        return settings.MISTRAL_MODELS

    async def ping(self) -> None:
        await clients.mistral().list_conversations(page_size=1)

    async def history(self, upstream_id: str):
        return await clients.mistral().history(upstream_id)

    async def regenerate_turn(self, conversation, last_user) -> Turn:
        return await _branch_before(conversation, last_user, last_user.text)

    async def edit_turn(self, conversation, message, text: str) -> tuple[Turn, str]:
        return await _branch_before(conversation, message, text), ""

    async def stream(self, conversation, choice, turn: Turn):
        mistral = clients.mistral()
        if turn.fresh or not conversation.upstream_id:
            return mistral.stream_start(
                text=turn.text,
                model=choice.upstream if choice.kind == "model" else None,
                agent_id=choice.upstream if choice.kind == "agent" else None,
                history=await earlier_turns(conversation),
            )
        if turn.from_entry_id:
            return mistral.stream_restart(
                conversation.upstream_id, from_entry_id=turn.from_entry_id, text=turn.text
            )
        return mistral.stream_append(conversation.upstream_id, text=turn.text)

    def import_listings(self, *, page_size: int, default_model: str) -> list[ImportListing]:
        names = {agent_id: name for name, agent_id in settings.MISTRAL_AGENTS.items()}

        async def rows():
            async for conversation in clients.mistral().iter_conversations(page_size=page_size):
                if conversation.agent:
                    # An agent not configured here keeps its id: readable, not continued.
                    yield conversation, "", names.get(conversation.agent, conversation.agent)
                else:
                    yield conversation, conversation.model or default_model, ""

        return [ImportListing("conversations", rows())]


async def _branch_before(conversation, message: Message, text: str) -> Turn:
    """Restart from the reply before `message`, or start afresh from the first."""
    previous = (
        await conversation.messages.shown()
        .filter(role=Message.Role.ASSISTANT, pk__lt=message.pk)
        .exclude(upstream_id="")
        .alast()
    )
    if previous is None:
        return Turn(text=text, fresh=True)
    return Turn(text=text, from_entry_id=previous.upstream_id)
