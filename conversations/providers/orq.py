"""Orq: conversations exist upstream from the start, keep titles, and cannot branch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy

from conversations.providers.base import (
    Capabilities,
    ImportListing,
    ProviderAdapter,
    Takes,
    Turn,
)
from upstream import clients

# Orq's placeholder for a conversation nobody has named.
UNNAMED = "Untitled"
# The project the emulator's conversations belong to, when ORQ_PROJECT_ID is not set.
EMULATOR_PROJECT_ID = "prj_01kfd2emu1at0r000000000000"


# What an agent remembers a conversation's person by (Orq's `memory` and `thread`), or None.
# Widgets plug theirs in (widgets/apps.py): a verified visitor is remembered across visits.
def _no_memory(conversation: Any) -> str | None:
    return None


_memory_key: Callable[[Any], str | None] = _no_memory


def remember_with(key: Callable[[Any], str | None]) -> None:
    global _memory_key
    _memory_key = key


class OrqAdapter(ProviderAdapter):
    key = "orq"
    label = "Orq.ai"
    name = "Orq"
    settings_prefix = "ORQ"
    emulated = True
    no_earlier_turns_because = gettext_lazy("an Orq turn carries one message")
    capabilities = Capabilities(
        can_rename=True,
        can_branch=False,
        names_conversations=True,
        keeps_earlier_turns_on_continue=False,
        takes_files=True,
    )

    def client(self):
        return clients.orq()

    def takes(self, kind: str) -> Takes:
        if kind == "agent":
            return Takes(
                variables=True,
                why_not=gettext(
                    "An Orq agent answers with its own instructions, model and parameters; it "
                    "takes variables."
                ),
            )
        # An Orq conversation turn names its model, and nothing else about the assistant.
        return Takes(
            model_change="turn",
            why_not=gettext(
                "Orq conversations take no instructions or parameters, only the model, which "
                "each turn names."
            ),
        )

    def emulator_settings(self, emulator_url: str) -> dict[str, str]:
        # New conversations belong to a project: the emulator takes any id.
        project = {} if settings.ORQ_PROJECT_ID else {"ORQ_PROJECT_ID": EMULATOR_PROJECT_ID}
        return super().emulator_settings(emulator_url) | project

    def configuration_problems(self) -> list[tuple[str, str]]:
        if self.configured and not settings.ORQ_PROJECT_ID:
            return [
                (
                    "ORQ_API_KEY is set but ORQ_PROJECT_ID is not: new Orq conversations will fail.",
                    "Set ORQ_PROJECT_ID to the project new conversations belong to.",
                )
            ]
        return []

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

    async def edit_turn(self, conversation, choice, message, text: str) -> tuple[Turn, str]:
        # Orq cannot branch: a new Orq conversation starts from the edited message, without the
        # turns before it (the page says so).
        upstream_id = await self.create_upstream(conversation, choice)
        return Turn(text=text, fresh=True), upstream_id

    async def stream(self, conversation, choice, turn: Turn):
        orq = clients.orq()
        task_id = None if turn.fresh else conversation.turn_ref or None
        files = await self.files_for(turn)
        if choice.kind == "agent":
            key = _memory_key(conversation)
            return orq.stream_agent_response(
                choice.name,
                text=turn.text,
                task_id=task_id,
                conversation_id=conversation.upstream_id or None,
                variables=conversation.variables or None,
                memory={"entity_id": key} if key else None,
                thread={"id": key, "tags": ["widget"]} if key else None,
                files=files,
            )
        return orq.stream_response(
            conversation.upstream_id,
            text=turn.text,
            model=choice.upstream,
            task_id=task_id,
            files=files,
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
            (f"agent {key}", agent_id, key) for key, agent_id in self.agents().items()
        ]
        return [ImportListing(label, rows(entity_id, key)) for label, entity_id, key in sources]

    def imported_title(self, title: str) -> str:
        return "" if title == UNNAMED else title
