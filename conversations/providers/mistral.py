"""Mistral: conversations come with the first message, have no titles, and branch from entries."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext

from conversations.history import earlier_turns
from conversations.providers.base import (
    Capabilities,
    ImportListing,
    ProviderAdapter,
    Takes,
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
        takes_files=True,
    )

    def client(self):
        return clients.mistral()

    def takes(self, kind: str) -> Takes:
        if kind == "agent":
            return Takes(
                why_not=gettext(
                    "A Mistral agent answers with its own instructions, model and parameters."
                )
            )
        # Instructions and the model go with `start` only; parameters with every turn.
        return Takes(
            instructions=True,
            parameters=True,
            model_change="new",
            instructions_fixed_at_start=True,
            continues=True,
        )

    def sends_as_link(self, mime: str) -> bool:
        # Images go inline (data URLs); documents only as a `document_url` Mistral fetches.
        from conversations.attachments import INLINE_IMAGES

        return mime not in INLINE_IMAGES

    def file_problem(self, kind: str, mime: str) -> str:
        if self.sends_as_link(mime) and not settings.WEBCHAT_PUBLIC_URL:
            return gettext(
                "Mistral reads documents from a link it fetches, and this Webchat has no public "
                "address (WEBCHAT_PUBLIC_URL), so only images can go to Mistral here."
            )
        return ""

    def reseed_because(self, conversation) -> str:
        started = conversation.upstream_settings
        if not conversation.upstream_id or not started or conversation.agent:
            return ""
        if started.get("model", conversation.model) != conversation.model:
            return gettext("Mistral fixes a conversation's model when it starts")
        if started.get("instructions", "") != conversation.instructions:
            return gettext("Mistral fixes a conversation's instructions when it starts")
        return ""

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
        model = choice.kind == "model"
        files = await self.files_for(turn)
        if turn.fresh or not conversation.upstream_id:
            return mistral.stream_start(
                text=turn.text,
                files=files,
                model=choice.upstream if model else None,
                agent_id=None if model else choice.upstream,
                instructions=(conversation.instructions or None) if model else None,
                completion_args=(conversation.parameters or None) if model else None,
                history=await earlier_turns(conversation, fresh=turn.fresh),
            )
        args = _completion_args(conversation) if model else None
        if turn.from_entry_id:
            return mistral.stream_restart(
                conversation.upstream_id,
                from_entry_id=turn.from_entry_id,
                text=turn.text,
                completion_args=args,
                files=files,
            )
        return mistral.stream_append(
            conversation.upstream_id, text=turn.text, completion_args=args, files=files
        )

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


def _completion_args(conversation) -> dict | None:
    """The parameters for a turn of an upstream conversation: the conversation's; `{}` when it
    has none now but the upstream one was started with some (they would apply again)."""
    if conversation.parameters:
        return dict(conversation.parameters)
    if (conversation.upstream_settings or {}).get("parameters"):
        return {}
    return None
