"""Orq: conversations exist upstream from the start, keep titles, and cannot branch."""

from __future__ import annotations

from django.conf import settings

from conversations.choices import choice_of
from conversations.providers.base import (
    Capabilities,
    ImportListing,
    NotOffered,
    ProviderAdapter,
    Turn,
)
from upstream import clients

# Orq's placeholder for a conversation nobody has named.
UNNAMED = "Untitled"


class OrqAdapter(ProviderAdapter):
    key = "orq"
    name = "Orq"
    settings_prefix = "ORQ"
    capabilities = Capabilities(
        can_rename=True,
        can_branch=False,
        names_conversations=True,
        # An Orq turn carries one message: a continuation starts without the earlier turns.
        keeps_earlier_turns_on_continue=False,
        takes_instructions=False,
        takes_files=False,
    )

    def client(self):
        return clients.orq()

    def models(self):
        return settings.ORQ_MODELS

    async def ping(self) -> None:
        await clients.orq().list_conversations(limit=1)

    async def create_upstream(self, conversation, choice) -> str:
        upstream = await clients.orq().create_conversation(
            model=conversation.model or None,
            agent_id=choice.upstream if choice.kind == "agent" else None,
        )
        return upstream.id

    async def rename_upstream(self, conversation, title: str) -> None:
        await clients.orq().rename_conversation(conversation.upstream_id, title=title)

    async def generate_name(self, conversation, first_message: str) -> str:
        named = await clients.orq().generate_name(
            conversation.upstream_id, context=first_message[:2000]
        )
        return named.title

    async def history(self, upstream_id: str):
        return (await clients.orq().get_conversation(upstream_id)).messages

    async def regenerate_turn(self, conversation, last_user) -> Turn:
        # Orq has no branching: the same question is asked again as a new turn.
        return Turn(text=last_user.text)

    async def edit_turn(self, conversation, message, text: str) -> tuple[Turn, str]:
        # Orq cannot branch: a new Orq conversation starts from the edited message, without the
        # turns before it (the page says so).
        choice = choice_of(conversation)
        if choice is None:
            raise NotOffered
        upstream_id = await self.create_upstream(conversation, choice)
        return Turn(text=text, fresh=True), upstream_id

    async def stream(self, conversation, choice, turn: Turn):
        orq = clients.orq()
        task_id = None if turn.fresh else conversation.turn_ref or None
        if choice.kind == "agent":
            return orq.stream_agent_response(
                choice.name,
                text=turn.text,
                task_id=task_id,
                conversation_id=conversation.upstream_id or None,
            )
        return orq.stream_response(
            conversation.upstream_id, text=turn.text, model=choice.upstream, task_id=task_id
        )

    def import_listings(self, *, page_size: int, default_model: str) -> list[ImportListing]:
        orq = clients.orq()

        async def rows(entity_id, key):
            async for conversation in orq.iter_conversations(
                entity_id=entity_id, page_size=page_size
            ):
                model = "" if key else (conversation.model or default_model)
                yield conversation, model, key

        # Orq lists a conversation an agent speaks in only under that agent's id.
        sources = [("standalone conversations", None, "")] + [
            (f"agent {key}", agent_id, key) for key, agent_id in settings.ORQ_AGENTS.items()
        ]
        return [ImportListing(label, rows(entity_id, key)) for label, entity_id, key in sources]

    def imported_title(self, title: str) -> str:
        return "" if title == UNNAMED else title
