"""The test-only third provider: its client (over `upstream.http`) and its adapter.

This module plus `ECHO_*` settings and its path in `WEBCHAT_PROVIDERS` is all Echo takes: the
views, the socket, the runner, the admin and the import are the same code as for Orq and Mistral.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any

from conversations.providers import (
    Capabilities,
    ImportListing,
    ProviderAdapter,
    Turn,
    branch_before,
)
from upstream.errors import BadResponse
from upstream.http import HttpTransport
from upstream.streams import translate
from upstream.types import Conversation, Done, Started, TextDelta, TextPart, Usage
from upstream.types import Message as UpstreamMessage

PROVIDER = "echo"


class EchoClient:
    def __init__(self, *, api_key: str, base_url: str) -> None:
        self.http = HttpTransport(
            provider=PROVIDER,
            base_url=base_url,
            api_key=api_key,
            error_detail=lambda data: data.get("error", "") if isinstance(data, dict) else "",
        )

    async def create_conversation(self, *, model: str) -> Conversation:
        return _conversation(
            await self.http.call("POST", "/v0/conversations", body={"model": model})
        )

    async def list_conversations(self, *, page: int = 0, size: int = 20) -> tuple[list, bool]:
        data = await self.http.call("GET", "/v0/conversations", params={"page": page, "size": size})
        return [_conversation(item) for item in data["data"]], data["more"]

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return _conversation(await self.http.call("GET", f"/v0/conversations/{conversation_id}"))

    async def messages(self, conversation_id: str) -> tuple[UpstreamMessage, ...]:
        data = await self.http.call("GET", f"/v0/conversations/{conversation_id}")
        return tuple(
            UpstreamMessage(id=m["id"], role=m["role"], parts=(TextPart(m["text"]),))
            for m in data["messages"]
        )

    async def rename_conversation(self, conversation_id: str, *, title: str) -> None:
        await self.http.call("PATCH", f"/v0/conversations/{conversation_id}", body={"title": title})

    async def delete_conversation(self, conversation_id: str) -> None:
        await self.http.request("DELETE", f"/v0/conversations/{conversation_id}")

    @asynccontextmanager
    async def stream_turn(self, conversation_id: str, *, text: str, after: str | None = None):
        body: dict[str, Any] = {"text": text}
        if after is not None:
            body["after"] = after
        path = f"/v0/conversations/{conversation_id}/turns"
        async with self.http.open_stream("POST", path, body=body) as stream:
            yield translate(stream, _Translator())


class _Translator:
    def __init__(self) -> None:
        self.reply = ""

    def __call__(self, event: dict):
        match event.get("type"):
            case "begin":
                self.reply = event["reply"]
                return (Started(user_message_id=event["user"], assistant_message_id=self.reply),)
            case "token":
                # A branching provider's delta names the entry a later turn can follow.
                return (TextDelta(part_id=self.reply, text=event["text"]),)
            case "end":
                tokens_in, tokens_out = event["tokens_in"], event["tokens_out"]
                usage = Usage(input=tokens_in, output=tokens_out, total=tokens_in + tokens_out)
                return (Done(usage=usage),)
        raise BadResponse(f"unknown event {event!r}", provider=PROVIDER)


def _conversation(data: dict) -> Conversation:
    created = datetime.fromtimestamp(data["created"], tz=UTC)
    return Conversation(
        id=data["id"],
        provider=PROVIDER,
        title=data["title"],
        created=created,
        updated=created,
        model=data["model"],
    )


@cache
def _client(api_key: str, base_url: str) -> EchoClient:
    return EchoClient(api_key=api_key, base_url=base_url)


class EchoAdapter(ProviderAdapter):
    key = PROVIDER
    label = "Echo Labs"
    name = "Echo"
    settings_prefix = "ECHO"
    capabilities = Capabilities(
        can_rename=True,
        can_branch=True,
        names_conversations=False,
        keeps_earlier_turns_on_continue=False,
        takes_files=False,
    )

    def client(self) -> EchoClient:
        return _client(self.setting("API_KEY"), self.setting("BASE_URL"))

    async def ping(self) -> None:
        await self.client().list_conversations(size=1)

    async def create_upstream(self, conversation, choice) -> str:
        return (await self.client().create_conversation(model=choice.upstream)).id

    async def rename_upstream(self, conversation, title: str) -> None:
        await self.client().rename_conversation(conversation.upstream_id, title=title)

    async def history(self, upstream_id: str):
        return await self.client().messages(upstream_id)

    async def regenerate_turn(self, conversation, last_user) -> Turn:
        return await branch_before(conversation, last_user, last_user.text)

    async def edit_turn(self, conversation, choice, message, text: str) -> tuple[Turn, str]:
        return await branch_before(conversation, message, text), ""

    async def stream(self, conversation, choice, turn: Turn):
        after = turn.from_entry_id if turn.from_entry_id else ("" if turn.fresh else None)
        return self.client().stream_turn(conversation.upstream_id, text=turn.text, after=after)

    def import_listings(self, *, page_size: int, default_model: str) -> list[ImportListing]:
        async def rows() -> AsyncIterator:
            page = 0
            while True:
                conversations, more = await self.client().list_conversations(
                    page=page, size=page_size
                )
                for conversation in conversations:
                    yield conversation, conversation.model or default_model, ""
                if not more:
                    return
                page += 1

        return [ImportListing("conversations", rows())]
