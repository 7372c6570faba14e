"""What every provider adapter offers, and what a provider can do (read by pages and services).

An adapter owns everything that differs between providers: making the upstream conversation,
renaming and naming it, deleting it, reading its history, planning a regenerate or an edit and
opening a streamed turn. Nothing outside `conversations/providers/` asks which provider a
conversation uses; it asks the adapter (`provider_for`) or its `capabilities`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.translation import gettext

from upstream.errors import NotConfigured

if TYPE_CHECKING:
    from conversations.choices import Choice
    from conversations.models import Conversation, Message
    from upstream.types import Message as UpstreamMessage
    from upstream.types import StreamEvent


@dataclass(frozen=True)
class Capabilities:
    # Renamed at the provider too (else the title is kept by Webchat only).
    can_rename: bool
    # Regenerate and edit restart from an earlier entry (else a new turn or a new conversation).
    # Its text deltas name the entry a later turn can follow (their `part_id`).
    can_branch: bool
    # Names a conversation after its first exchange (Orq's generate-name); else Webchat does.
    names_conversations: bool
    # A continuation of a conversation the provider lost is given the earlier turns.
    keeps_earlier_turns_on_continue: bool
    # Takes files with a turn.
    takes_files: bool


@dataclass(frozen=True)
class Takes:
    """What a conversation with one model or agent of a provider takes besides the text: read
    by the settings panel (what is offered, what is shown disabled and why) and by the services
    that keep only what the provider takes."""

    instructions: bool = False
    # Temperature, top-p and max tokens.
    parameters: bool = False
    # Named values an agent's own instructions refer to (Orq agents' `variables`).
    variables: bool = False
    # Another model for the turns to come: "turn" (the next turn names it), "new" (a new
    # upstream conversation given the earlier turns), "" (not offered).
    model_change: str = ""
    # Instructions are fixed when the upstream conversation starts (Mistral): a change starts a
    # new one, given the earlier turns.
    instructions_fixed_at_start: bool = False
    # A reply that stopped at max tokens can be continued.
    continues: bool = False
    # Why what is not offered is not, in a sentence the panel shows ("" when all is offered).
    why_not: str = ""


def _from_environment(full: str, name: str) -> Any:
    from webchat.env import env_list, env_pairs, env_str

    match name:
        case "MODELS":
            return env_list(full)
        case "AGENTS":
            return env_pairs(full)
        case "BASE_URL":
            return env_str(full).rstrip("/")
    return env_str(full)


@dataclass(frozen=True)
class Turn:
    text: str
    # Branch from this upstream entry (edit, regenerate). Empty: continue at the end.
    from_entry_id: str = ""
    # Start a new upstream conversation with this turn (edit of the first message; Orq edits;
    # a change the provider cannot apply mid-conversation, given the earlier turns).
    fresh: bool = False
    # Why this turn starts a new upstream conversation given the earlier turns, when the reason
    # is a settings change (the reply says so); else "".
    reseeded_because: str = ""
    # Continues a reply that stopped at its length limit: this turn's text joins it.
    continues: bool = False
    # The files sent with it (conversations.models.Attachment rows).
    attachments: tuple = ()


@dataclass(frozen=True)
class ImportListing:
    """One list of upstream conversations to import: what it is called in progress and errors,
    and its rows as (conversation, model, agent)."""

    label: str
    rows: AsyncIterator[tuple[Any, str, str]]


class ProviderAdapter:
    key: ClassVar[str]
    # The product's full name (lists, the admin): "Orq.ai".
    label: ClassVar[str]
    # The provider in a sentence ("Orq no longer has this conversation").
    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # Its settings are <prefix>_API_KEY, _BASE_URL, _MODELS and _AGENTS.
    settings_prefix: ClassVar[str]
    # The bundled emulator speaks its protocol: `serve` points it there when it has no key.
    emulated: ClassVar[bool] = False

    @property
    def no_earlier_turns_because(self) -> str:
        """Why a continuation starts without the earlier turns (a provider without
        `capabilities.keeps_earlier_turns_on_continue`), as a clause in a sentence; an adapter
        may say it better ("an Orq turn carries one message")."""
        return gettext("%(provider)s is not given them") % {"provider": self.name}

    @property
    def api_key_setting(self) -> str:
        """The setting that holds its API key (an import says which one is missing)."""
        return f"{self.settings_prefix}_API_KEY"

    def setting(self, name: str) -> Any:
        """One of its settings: `setting("BASE_URL")` is `<prefix>_BASE_URL`, from Django's
        settings or else the environment (so a new provider needs no edit of settings.py)."""
        from django.conf import settings

        full = f"{self.settings_prefix}_{name}"
        if hasattr(settings, full):
            return getattr(settings, full)
        return _from_environment(full, name)

    @property
    def configured(self) -> bool:
        return bool(self.setting("API_KEY"))

    def emulator_settings(self, emulator_url: str) -> dict[str, str]:
        """The environment `serve` gives the server when this provider runs on the emulator."""
        prefix = self.settings_prefix
        return {f"{prefix}_BASE_URL": emulator_url, f"{prefix}_API_KEY": "emulator"}

    def configuration_problems(self) -> list[tuple[str, str]]:
        """(problem, hint) pairs the start-up checks warn about."""
        return []

    async def ping(self) -> None:
        """The cheapest call that proves its key and address (the status page)."""
        raise NotImplementedError

    def client(self):
        """The upstream client (delete_conversation, get_conversation, list_conversations)."""
        raise NotImplementedError

    def models(self) -> Sequence[str]:
        return self.setting("MODELS")

    def agents(self) -> dict[str, str]:
        """Configured agents: the name users see → the provider's agent id."""
        return self.setting("AGENTS")

    async def create_upstream(self, conversation: Conversation, choice: Choice) -> str:
        """The upstream conversation made before the first message, if the provider needs one."""
        return ""

    async def rename_upstream(self, conversation: Conversation, title: str) -> None:
        """Only for `capabilities.can_rename`; raises the client's errors (NotFound...)."""
        raise NotImplementedError

    async def generate_name(self, conversation: Conversation, first_message: str) -> str:
        """Only for `capabilities.names_conversations`; raises the client's errors."""
        raise NotImplementedError

    async def history(self, upstream_id: str) -> Sequence[UpstreamMessage]:
        raise NotImplementedError

    async def regenerate_turn(self, conversation: Conversation, last_user: Message) -> Turn:
        raise NotImplementedError

    async def edit_turn(
        self, conversation: Conversation, choice: Choice, message: Message, text: str
    ) -> tuple[Turn, str]:
        """The turn that continues from an edited message, and the upstream conversation it
        runs in if the plan made a new one (else "")."""
        raise NotImplementedError

    async def stream(
        self, conversation: Conversation, choice: Choice, turn: Turn
    ) -> AbstractAsyncContextManager[AsyncIterator[StreamEvent]]:
        """The upstream call a turn is, not yet entered."""
        raise NotImplementedError

    def takes(self, kind: str) -> Takes:
        """What a conversation with a model (`kind` "model") or an agent ("agent") takes."""
        return Takes(
            why_not=gettext("%(provider)s takes no instructions or parameters here.")
            % {"provider": self.name}
        )

    def file_problem(self, kind: str, mime: str) -> str:
        """Why a file of this type cannot go with a turn to a model (`kind` "model") or an
        agent here, in a sentence; "" when it can."""
        if not self.capabilities.takes_files:
            return gettext("%(provider)s takes no files here.") % {"provider": self.name}
        return ""

    def sends_as_link(self, mime: str) -> bool:
        """The provider fetches a file of this type from a link rather than taking its bytes."""
        return False

    async def files_for(self, turn: Turn) -> list:
        """The turn's files as the provider takes them (`upstream.types.OutgoingFile`)."""
        from asgiref.sync import sync_to_async

        from conversations.attachments import outgoing

        return [
            await sync_to_async(outgoing)(attachment, link=self.sends_as_link(attachment.mime))
            for attachment in turn.attachments
        ]

    def reseed_because(self, conversation: Conversation) -> str:
        """Why the next turn must start a new upstream conversation given the earlier turns (a
        change the provider cannot apply to the one it has), or "" when it can go on."""
        return ""

    def import_listings(self, *, page_size: int, default_model: str) -> list[ImportListing]:
        raise NotImplementedError

    def imported_title(self, title: str) -> str:
        """An upstream title as ours ("" for a provider's placeholder)."""
        return title


class _Unreachable:
    """The client of a provider no adapter serves: every call says so."""

    def __init__(self, key: str) -> None:
        self.key = key

    def _not_configured(self) -> NotConfigured:
        return NotConfigured(
            f"no provider {self.key!r} is configured here (WEBCHAT_PROVIDERS)", provider=self.key
        )

    async def get_conversation(self, conversation_id: str):
        raise self._not_configured()

    async def delete_conversation(self, conversation_id: str) -> None:
        raise self._not_configured()


class Unserved(ProviderAdapter):
    """A stored provider key that no adapter in `WEBCHAT_PROVIDERS` serves (a provider taken
    out of the setting while its conversations stay): they can be read and kept, not continued,
    and anything that needs the provider fails in words instead of a KeyError."""

    capabilities = Capabilities(
        can_rename=False,
        can_branch=False,
        names_conversations=False,
        keeps_earlier_turns_on_continue=False,
        takes_files=False,
    )
    settings_prefix = ""
    name = "The provider"

    def __init__(self, key: str) -> None:
        self.key = self.label = key

    @property
    def configured(self) -> bool:
        return False

    def models(self) -> Sequence[str]:
        return ()

    def agents(self) -> dict[str, str]:
        return {}

    def client(self):
        return _Unreachable(self.key)

    async def ping(self) -> None:
        raise _Unreachable(self.key)._not_configured()

    async def history(self, upstream_id: str):
        raise _Unreachable(self.key)._not_configured()

    async def stream(self, conversation, choice, turn):
        raise _Unreachable(self.key)._not_configured()


async def branch_before(conversation: Conversation, message: Message, text: str) -> Turn:
    """For a provider that branches: restart from the reply before `message`, or start afresh
    from the first."""
    from conversations.models import Message

    previous = (
        await conversation.messages.shown()
        .filter(role=Message.Role.ASSISTANT, pk__lt=message.pk)
        .exclude(upstream_id="")
        .alast()
    )
    if previous is None:
        return Turn(text=text, fresh=True)
    return Turn(text=text, from_entry_id=previous.upstream_id)
