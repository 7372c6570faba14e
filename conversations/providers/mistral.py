"""Mistral: conversations come with the first message, have no titles, and branch from entries."""

from __future__ import annotations

from conversations.history import earlier_turns
from conversations.providers.base import (
    Capabilities,
    ImportListing,
    ProviderAdapter,
    Turn,
    branch_before,
)
from upstream import clients


class MistralAdapter(ProviderAdapter):
    key = "mistral"
    label = "Mistral"
    name = "Mistral"
    settings_prefix = "MISTRAL"
    emulated = True
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

    async def ping(self) -> None:
        await clients.mistral().list_conversations(page_size=1)

    async def history(self, upstream_id: str):
        return await clients.mistral().history(upstream_id)

    async def regenerate_turn(self, conversation, last_user) -> Turn:
        return await branch_before(conversation, last_user, last_user.text)

    async def edit_turn(self, conversation, choice, message, text: str) -> tuple[Turn, str]:
        return await branch_before(conversation, message, text), ""

    async def stream(self, conversation, choice, turn: Turn):
        mistral = clients.mistral()
        if turn.fresh or not conversation.upstream_id:
            return mistral.stream_start(
                text=turn.text,
                model=choice.upstream if choice.kind == "model" else None,
                agent_id=choice.upstream if choice.kind == "agent" else None,
                history=await earlier_turns(conversation, fresh=turn.fresh),
            )
        if turn.from_entry_id:
            return mistral.stream_restart(
                conversation.upstream_id, from_entry_id=turn.from_entry_id, text=turn.text
            )
        return mistral.stream_append(conversation.upstream_id, text=turn.text)

    def import_listings(self, *, page_size: int, default_model: str) -> list[ImportListing]:
        names = {agent_id: name for name, agent_id in self.agents().items()}

        async def rows():
            async for conversation in clients.mistral().iter_conversations(page_size=page_size):
                if conversation.agent:
                    # An agent not configured here keeps its id: readable, not continued.
                    yield conversation, "", names.get(conversation.agent, conversation.agent)
                else:
                    yield conversation, conversation.model or default_model, ""

        return [ImportListing("conversations", rows())]
