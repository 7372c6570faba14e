"""Importing conversations made elsewhere (at Orq or Mistral) into local records, once each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest

from administration import audit
from administration.models import AuditAction
from conversations import services
from conversations.choices import default_choice
from conversations.models import TITLE_MAX_LENGTH, Conversation, Message, Origin
from conversations.providers import ADAPTERS, provider_for
from upstream import clients
from upstream.errors import UpstreamError
from upstream.types import Conversation as UpstreamConversation

# (done, total, title): while listing the total is None and the title says what is listed;
# while importing, the title is the conversation's; a last call with done == total ends it.
Progress = Callable[[int, int | None, str], None]

# Orq's list takes at most 100 a page; Mistral's takes more, but 100 is plenty per request.
PAGE_SIZE = 100


class CannotImport(Exception):
    """An import that cannot start (unknown or unconfigured provider), with the reason."""


@dataclass
class ImportSummary:
    provider: str
    listed: int = 0
    imported: int = 0
    skipped_existing: int = 0
    messages: int = 0
    # (upstream id, or what was being listed, and why it failed)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        return (
            f"Import from {provider_for(self.provider).label}: {self.listed} listed, "
            f"{self.imported} imported ({self.messages} messages), "
            f"{self.skipped_existing} already here, {len(self.failed)} failed"
        )


@dataclass(frozen=True)
class Found:
    """A conversation listed upstream, with the model or agent it gets here."""

    upstream: UpstreamConversation
    model: str
    agent: str


async def import_conversations(
    *,
    provider: str,
    owner,
    actor=None,
    request: HttpRequest | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> ImportSummary:
    """List every conversation at `provider`, import those not known here for `owner`, audit it.

    Safe to run twice: a conversation known here under any owner, as its upstream id or one it
    was re-pointed away from, is skipped. One that fails is recorded and the rest go on.
    """
    _check_configured(provider)
    report = progress or _quiet
    summary = ImportSummary(provider=provider)
    found = await _list(provider, summary, report, page_size)
    summary.listed = len(found)
    # Loaded after listing, so conversations started here meanwhile are known too.
    known = await _known_ids(provider)
    fresh = [f for f in found if f.upstream.id not in known]
    summary.skipped_existing = len(found) - len(fresh)
    for done, item in enumerate(fresh):
        report(done, len(fresh), _upstream_title(item.upstream) or item.upstream.id)
        try:
            summary.messages += await _import_one(item, owner=owner)
        except UpstreamError as exc:
            summary.failed.append((item.upstream.id, str(exc)))
        else:
            summary.imported += 1
    report(len(fresh), len(fresh), "")
    await sync_to_async(audit.record)(
        AuditAction.IMPORT,
        f"{summary.text()} (owner: {owner.get_username()})",
        request=request,
        actor=actor,
        target=owner,
        detail={
            "provider": provider,
            "owner": owner.get_username(),
            "listed": summary.listed,
            "imported": summary.imported,
            "skipped_existing": summary.skipped_existing,
            "messages": summary.messages,
            "failed": dict(summary.failed),
        },
    )
    return summary


def run_import(
    *,
    provider: str,
    owner,
    actor=None,
    request: HttpRequest | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> ImportSummary:
    """`import_conversations` from synchronous code: the management command, an admin view."""
    return clients.run(
        lambda: import_conversations(
            provider=provider,
            owner=owner,
            actor=actor,
            request=request,
            progress=progress,
            page_size=page_size,
        )
    )


def _check_configured(provider: str) -> None:
    if provider not in ADAPTERS:
        raise CannotImport(f"Unknown provider {provider!r}; choose {' or '.join(ADAPTERS)}.")
    setting = provider_for(provider).api_key_setting
    if not getattr(settings, setting):
        raise CannotImport(f"{setting} is not set.")


def _quiet(done: int, total: int | None, title: str) -> None:
    pass


# --- listing ---------------------------------------------------------------------------------


async def _list(provider: str, summary: ImportSummary, report: Progress, page_size: int):
    found: dict[str, Found] = {}

    def add(conversation: UpstreamConversation, *, model: str, agent: str, label: str) -> None:
        found.setdefault(conversation.id, Found(conversation, model=model, agent=agent))
        report(len(found), None, f"listing {label}")

    default = _default_model(provider)
    for listing in provider_for(provider).import_listings(
        page_size=page_size, default_model=default
    ):
        try:
            async for conversation, model, agent in listing.rows:
                add(conversation, model=model, agent=agent, label=listing.label)
        except UpstreamError as exc:
            summary.failed.append((f"(listing {listing.label})", str(exc)))
    return list(found.values())


def _default_model(provider: str) -> str:
    choice = default_choice()
    if choice is not None and choice.provider == provider and choice.kind == "model":
        return choice.upstream
    models = provider_for(provider).models()
    return models[0] if models else ""


@sync_to_async
def _known_ids(provider: str) -> set[str]:
    known: set[str] = set()
    rows = Conversation.objects.filter(provider=provider).values_list(
        "upstream_id", "superseded_upstream_ids"
    )
    for upstream_id, superseded in rows.iterator(chunk_size=5000):
        known.add(upstream_id)
        known.update(superseded or ())
    known.discard("")
    return known


# --- importing -------------------------------------------------------------------------------


def _upstream_title(conversation: UpstreamConversation) -> str:
    title = " ".join(conversation.title.split())
    return provider_for(conversation.provider).imported_title(title)[:TITLE_MAX_LENGTH]


async def _import_one(found: Found, *, owner) -> int:
    """One conversation with its messages, or nothing: the row goes if its history fails."""
    upstream = found.upstream
    title = _upstream_title(upstream)
    conversation = await Conversation.objects.acreate(
        owner=owner,
        provider=upstream.provider,
        model=found.model,
        agent=found.agent,
        upstream_id=upstream.id,
        title=title,
        titled=bool(title),
        origin=Origin.IMPORT,
        created=upstream.created,
        updated=upstream.updated,
    )
    try:
        count = await services.conversation_import_history(conversation=conversation)
    except BaseException:
        # Should even this delete be cut short (Ctrl-C), opening the conversation fetches its
        # history, as it does for any conversation without messages.
        await conversation.adelete()
        raise
    if not title:
        first = await conversation.messages.filter(role=Message.Role.USER).order_by("id").afirst()
        if first is not None:
            fallback = services.local_title(first.text)
            await Conversation.objects.filter(pk=conversation.pk).aupdate(title=fallback)
    return count
