"""Importing conversations made elsewhere, from the live emulator: every page, once each.

The emulator is shared by the whole session and other tests leave conversations in it, so each
test looks at the conversations it made upstream (unique texts), never at totals.
"""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from django.core.management import CommandError, call_command

from administration.imports import run_import
from administration.models import AuditAction, AuditEntry
from conversations.models import Conversation
from emulator.assistant import compose_reply
from emulator.process import EmulatorProcess
from upstream import clients
from upstream.types import Started

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

ORQ_MODEL = "openai/gpt-4o"
ORQ_AGENT_ID = "agent_01kfd2demq7v3m8xw5r9ht4abc"
MISTRAL_MODEL = "mistral-small-latest"
MISTRAL_AGENT_ID = "ag_0694d3e0c7a47f1e8000a1b2c3d4e5f6"


@pytest.fixture(autouse=True)
def agents(settings):
    settings.ORQ_AGENTS = {"demo": ORQ_AGENT_ID}
    settings.MISTRAL_AGENTS = {"helper": MISTRAL_AGENT_ID}
    settings.WEBCHAT_DEFAULT_CHOICE = ""


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


def orq_conversation(title: str, *texts: str, agent: bool = False) -> str:
    """A conversation made at Orq directly: created, then its turns (freeform or agent)."""

    async def make() -> str:
        orq = clients.orq()
        if agent:
            conversation = await orq.create_conversation(title=title, agent_id=ORQ_AGENT_ID)
        else:
            conversation = await orq.create_conversation(title=title, model=ORQ_MODEL)
        task = None
        for text in texts:
            if agent:
                result = await orq.agent_response(
                    "demo", text=text, task_id=task, conversation_id=conversation.id
                )
                task = result.turn_ref
                continue
            async with orq.stream_response(
                conversation.id, text=text, model=ORQ_MODEL, task_id=task
            ) as events:
                async for event in events:
                    if isinstance(event, Started):
                        task = event.turn_ref
        return conversation.id

    return clients.run(make)


def mistral_conversation(*texts: str, title: str = "", agent: bool = False) -> str:
    async def make() -> str:
        mistral = clients.mistral()
        turn = await mistral.start(
            text=texts[0],
            model=None if agent else MISTRAL_MODEL,
            agent_id=MISTRAL_AGENT_ID if agent else None,
            title=title or None,
        )
        for text in texts[1:]:
            await mistral.append(turn.conversation_id, text=text)
        return turn.conversation_id

    return clients.run(make)


def texts_of(conversation: Conversation) -> list[tuple[str, str]]:
    return list(conversation.messages.values_list("role", "text"))


def exchange(*prompts: str, agent: bool = False) -> list[tuple[str, str]]:
    expected = []
    for prompt in prompts:
        expected += [("user", prompt), ("assistant", compose_reply(prompt, agent=agent).full_text)]
    return expected


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None, str]] = []

    def __call__(self, done: int, total: int | None, title: str) -> None:
        self.calls.append((done, total, title))


def test_orq_import_walks_every_page_standalone_and_per_agent(alice):
    first, second = unique("First question"), unique("Second question")
    titled = [unique(f"Orq standalone {i}") for i in range(3)]
    standalone = [orq_conversation(titled[0], first, second)] + [
        orq_conversation(title, unique("A question")) for title in titled[1:]
    ]
    untitled_prompt = unique("How do I rotate my keys")
    untitled = orq_conversation("", untitled_prompt)
    agent_title, agent_prompt = unique("Orq agent chat"), unique("Look up opening hours")
    by_agent = orq_conversation(agent_title, agent_prompt, agent=True)
    progress = Recorder()

    # Two a page: our three standalone conversations alone need two pages.
    summary = run_import(provider="orq", owner=alice, progress=progress, page_size=2)

    ours = [*standalone, untitled, by_agent]
    assert not [f for f in summary.failed if f[0] in ours]
    imported = {c.upstream_id: c for c in Conversation.objects.filter(upstream_id__in=ours)}
    assert set(imported) == set(ours)
    assert all(c.owner == alice and c.origin == "import" for c in imported.values())
    assert [imported[i].title for i in standalone] == titled
    assert all(imported[i].titled for i in standalone)
    assert {(imported[i].model, imported[i].agent) for i in standalone} == {(ORQ_MODEL, "")}
    assert texts_of(imported[standalone[0]]) == exchange(first, second)
    assert imported[standalone[0]].message_count == 4

    fallback = imported[untitled]
    assert not fallback.titled and fallback.title.startswith("How do I rotate my keys")
    assert texts_of(fallback) == exchange(untitled_prompt)

    agent_chat = imported[by_agent]
    assert (agent_chat.agent, agent_chat.model, agent_chat.title) == ("demo", "", agent_title)
    assert texts_of(agent_chat) == exchange(agent_prompt, agent=True)
    assert agent_chat.message_count == 2

    assert summary.imported >= len(ours) and summary.messages >= 10
    assert "listing agent demo" in {title for _, total, title in progress.calls if total is None}
    assert progress.calls[-1] == (summary.imported + len(summary.failed),) * 2 + ("",)
    entry = AuditEntry.objects.get(action=AuditAction.IMPORT)
    assert entry.actor is None and entry.actor_name == "system (command line)"
    assert entry.detail["imported"] == summary.imported and entry.detail["owner"] == "alice"
    assert entry.target_id == str(alice.pk)


def test_a_second_import_adds_nothing_and_counts_them_as_already_here(alice):
    upstream_id = orq_conversation(unique("Twice"), unique("Import me once"))
    run_import(provider="orq", owner=alice, page_size=2)
    assert Conversation.objects.filter(upstream_id=upstream_id).count() == 1
    messages = Conversation.objects.get(upstream_id=upstream_id).messages.count()

    again = run_import(provider="orq", owner=alice, page_size=2)

    assert again.imported == 0 and again.messages == 0
    assert again.skipped_existing == again.listed - len(again.failed) >= 1
    assert Conversation.objects.filter(upstream_id=upstream_id).count() == 1
    assert Conversation.objects.get(upstream_id=upstream_id).messages.count() == messages == 2
    assert AuditEntry.objects.filter(action=AuditAction.IMPORT).count() == 2


def test_mistral_import_brings_every_page_with_history_models_and_agents(alice):
    first, follow_up = unique("Plan the release"), unique("And the rollback")
    title = unique("Release planning")
    with_title = mistral_conversation(first, follow_up, title=title)
    plain_prompts = [unique("Another question") for _ in range(2)]
    plain = [mistral_conversation(prompt) for prompt in plain_prompts]
    agent_prompt = unique("Search the office hours")
    by_agent = mistral_conversation(agent_prompt, agent=True)

    summary = run_import(provider="mistral", owner=alice, page_size=2)

    ours = [with_title, *plain, by_agent]
    assert not [f for f in summary.failed if f[0] in ours]
    imported = {c.upstream_id: c for c in Conversation.objects.filter(upstream_id__in=ours)}
    assert set(imported) == set(ours)
    assert all(c.owner == alice and c.origin == "import" for c in imported.values())
    assert (imported[with_title].title, imported[with_title].titled) == (title, True)
    assert texts_of(imported[with_title]) == exchange(first, follow_up)
    assert imported[with_title].message_count == 4
    for upstream_id, prompt in zip(plain, plain_prompts, strict=True):
        conversation = imported[upstream_id]
        assert (conversation.model, conversation.agent) == (MISTRAL_MODEL, "")
        assert not conversation.titled and conversation.title.startswith("Another question")
        assert texts_of(conversation) == exchange(prompt)
    agent_chat = imported[by_agent]
    assert (agent_chat.agent, agent_chat.model) == ("helper", "")
    assert texts_of(agent_chat) == exchange(agent_prompt, agent=True)
    tool_parts = [p["kind"] for m in agent_chat.messages.all() for p in m.parts]
    assert "tool_call" in tool_parts and "tool_result" in tool_parts


def test_conversations_known_here_are_skipped_whoever_owns_them(alice, bob):
    known = mistral_conversation(unique("Bob's own chat"))
    replaced = mistral_conversation(unique("Bob's chat before a restart"))
    new = mistral_conversation(unique("Nobody here has seen this"))
    Conversation.objects.create(owner=bob, provider="mistral", upstream_id=known)
    Conversation.objects.create(
        owner=bob,
        provider="mistral",
        upstream_id="conv_elsewhere",
        superseded_upstream_ids=[replaced],
    )
    # The same id under the other provider is another conversation: it does not count.
    Conversation.objects.create(owner=bob, provider="orq", upstream_id=new)

    summary = run_import(provider="mistral", owner=alice, page_size=50)

    assert summary.skipped_existing >= 2
    assert list(Conversation.objects.filter(upstream_id=known).values_list("owner", flat=True)) == [
        bob.pk
    ]
    assert not Conversation.objects.filter(owner=alice, upstream_id=replaced).exists()
    assert Conversation.objects.get(provider="mistral", upstream_id=new).owner == alice


def test_a_conversation_gone_before_its_history_is_fetched_leaves_nothing(alice, emulator_url):
    doomed_title, kept_title = unique("Deleted meanwhile"), unique("Still there")
    doomed = mistral_conversation(unique("Soon gone"), title=doomed_title)
    kept = mistral_conversation(unique("Stays"), title=kept_title)

    def delete_upstream_when_reached(done: int, total: int | None, title: str) -> None:
        # Someone deletes it at Mistral between our listing and our fetching its history.
        if title == doomed_title:
            response = httpx.delete(
                f"{emulator_url}/v1/conversations/{doomed}",
                headers={"Authorization": "Bearer test-mistral-key"},
                timeout=5,
            )
            assert response.status_code == 204

    summary = run_import(provider="mistral", owner=alice, progress=delete_upstream_when_reached)

    reasons = dict(summary.failed)
    assert doomed in reasons and "not found" in reasons[doomed].lower()
    assert not Conversation.objects.filter(upstream_id=doomed).exists()
    assert Conversation.objects.get(upstream_id=kept).message_count == 2
    assert AuditEntry.objects.get(action=AuditAction.IMPORT).detail["failed"][doomed]


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_conversations", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_imports_shows_progress_and_a_summary(alice):
    title = unique("From the command line")
    upstream_id = orq_conversation(title, unique("Hello from elsewhere"))

    out, err = run_command("--provider", "orq", "--owner", "alice")

    conversation = Conversation.objects.get(upstream_id=upstream_id)
    assert (conversation.owner, conversation.title, conversation.message_count) == (alice, title, 2)
    assert f"importing “{title}”" in err and "listing agent demo" in err
    assert "\r" not in err, "a captured stream is not a terminal: plain lines"
    assert out.startswith("Import from Orq.ai: ") and " already here, 0 failed." in out

    out, _ = run_command("--provider", "orq", "--owner", "alice")
    assert " 0 imported (0 messages)" in out
    assert AuditEntry.objects.filter(action=AuditAction.IMPORT, actor=None).count() == 2


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_bar_is_redrawn_in_place(alice, monkeypatch):
    # The bar is cut to the terminal's width; other tests' conversations make the counts long.
    monkeypatch.setenv("COLUMNS", "300")
    title = unique("Watched on a terminal")
    orq_conversation(title, unique("Hello"))
    err = Terminal()
    call_command(
        "import_conversations", "--provider", "orq", "--owner", "alice",
        stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    frames = err.getvalue().split("\r")
    assert any(f.startswith("listing standalone conversations: ") for f in frames)
    assert any(f.startswith("[") and f"importing “{title}”" in f for f in frames)
    last = frames[-1].rstrip()
    assert last.startswith("[" + "#" * 30 + "] ") and last.endswith(" done")
    assert err.getvalue().endswith("\n"), "the summary starts on a line of its own"


def test_the_command_refuses_an_unknown_owner_or_provider(alice):
    with pytest.raises(CommandError, match="There is no user 'mallory'"):
        run_command("--provider", "mistral", "--owner", "mallory")
    with pytest.raises(CommandError, match="invalid choice: 'openai'"):
        run_command("--provider", "openai", "--owner", "alice")
    assert not AuditEntry.objects.exists()


@pytest.fixture
def unavailable_upstream(settings):
    emulator = EmulatorProcess("--tokens-per-second", "0", "--fault", "status=503")
    settings.ORQ_BASE_URL = settings.MISTRAL_BASE_URL = emulator.url
    clients.orq.cache_clear()
    clients.mistral.cache_clear()
    yield emulator
    emulator.stop()
    clients.orq.cache_clear()
    clients.mistral.cache_clear()


def test_the_command_fails_and_says_why_when_the_provider_is_down(alice, unavailable_upstream):
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 could not be imported"):
        call_command(
            "import_conversations", "--provider", "mistral", "--owner", "alice",
            stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
    assert "failed (listing conversations): mistral: " in out.getvalue()
    assert not Conversation.objects.exists()
    assert AuditEntry.objects.get(action=AuditAction.IMPORT).detail["failed"]


def test_imported_conversations_show_the_files_they_had(alice):
    from conversations.models import Attachment
    from tests.conversations.test_attachments import PNG
    from upstream.types import OutgoingFile

    prompt = unique("What is in this picture")
    dot = OutgoingFile(name="dot.png", mime="image/png", data=PNG)

    async def make_orq() -> str:
        orq = clients.orq()
        conversation = await orq.create_conversation(title=unique("Pictures"), model=ORQ_MODEL)
        async with orq.stream_response(
            conversation.id, text=prompt, model=ORQ_MODEL, files=[dot]
        ) as events:
            async for _ in events:
                pass
        return conversation.id

    async def make_mistral() -> str:
        turn = await clients.mistral().start(text=prompt, model=MISTRAL_MODEL, files=[dot])
        return turn.conversation_id

    orq_id, mistral_id = clients.run(make_orq), clients.run(make_mistral)
    run_import(provider="orq", owner=alice, page_size=50)
    run_import(provider="mistral", owner=alice, page_size=50)
    for upstream_id, name in ((orq_id, "dot.png"), (mistral_id, "image")):
        conversation = Conversation.objects.get(upstream_id=upstream_id)
        question = conversation.messages.get(role="user")
        assert question.text == prompt
        [part] = question.files
        assert (part["name"], part["mime"], part["size"]) == (name, "image/png", len(PNG))
        attachment = Attachment.objects.get(pk=part["attachment"], message=question)
        assert attachment.owner == alice
        with attachment.file.open("rb") as handle:
            assert handle.read() == PNG
