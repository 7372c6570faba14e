"""A third provider is one adapter, its client and its settings (issue 13).

"Echo" (tests/third_provider/) has its own small protocol and a stub upstream over real HTTP. It
is added the way an operator would add one: its adapter's path in `WEBCHAT_PROVIDERS` and its
`ECHO_*` settings. Then a person makes, streams, renames, regenerates, edits and deletes an Echo
conversation, and an administrator imports and deletes Echo conversations, through the same
views, socket and admin actions as Orq's and Mistral's: no other code knows Echo.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse

from administration.models import AuditAction, AuditEntry, Tombstone
from conversations.models import Conversation, Message
from conversations.providers import ADAPTERS
from tests.replies import replies_finished
from tests.sockets import SITE, WITHIN, receive, socket_for, until, widget_signed_in
from tests.third_provider.echo import EchoAdapter
from tests.third_provider.stub import API_KEY, EchoUpstream, reply_to
from widgets.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)

CHOICE = "echo:model:echo-1"
ECHO = f"{EchoAdapter.__module__}.{EchoAdapter.__qualname__}"
HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def stub():
    upstream = EchoUpstream()
    yield upstream
    upstream.stop()


@pytest.fixture
def echo(settings, stub):
    """Echo added as an operator would: the adapter's path and its settings, nothing else."""
    settings.WEBCHAT_PROVIDERS = [*settings.WEBCHAT_PROVIDERS, ECHO]
    settings.ECHO_API_KEY = API_KEY
    settings.ECHO_BASE_URL = stub.url
    settings.ECHO_MODELS = ["echo-1"]
    settings.ECHO_AGENTS = {}
    settings.WEBCHAT_DEFAULT_CHOICE = CHOICE
    stub.conversations.clear()
    return stub


async def signed_in(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


async def test_a_person_uses_an_echo_conversation_end_to_end(echo, alice):
    client = await signed_in(alice)

    page = (await client.get(reverse("conversations:index"))).content.decode()
    assert "Echo Labs" in page and f'value="{CHOICE}"' in page

    # Create, with the first message: the reply streams over the socket.
    response = await client.post(
        reverse("conversations:create"), {"choice": CHOICE, "text": "hello there"}, headers=HTMX
    )
    assert response.status_code == 200, response.content
    conversation = await Conversation.objects.aget()
    assert (conversation.provider, conversation.model) == ("echo", "echo-1")
    await replies_finished()
    await conversation.arefresh_from_db()
    assert echo.texts(conversation.upstream_id) == ["hello there", reply_to("hello there")]

    # Send and stream a second turn, token by token.
    socket, connected, _ = await socket_for(conversation.pk, alice)
    assert connected
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "second question"})
    frames, done = await until(socket, "done")
    assert done["status"] == "complete"
    deltas = [f for f in frames if f["type"] == "delta"]
    assert deltas, "the reply streams in deltas"
    seqs = [f["seq"] for f in deltas]
    assert seqs == sorted(seqs) and seqs[-1] == len(reply_to("second question").split())
    assert await texts(conversation) == [
        "hello there",
        reply_to("hello there"),
        "second question",
        reply_to("second question"),
    ]

    # Rename: Echo keeps titles, so it is renamed there too.
    url = reverse("conversations:rename", args=[conversation.pk])
    renamed = await client.post(url, {"title": "Echo chamber"}, headers=HTMX)
    assert renamed.status_code == 200 and "Echo chamber" in renamed.content.decode()
    assert echo.conversations[conversation.upstream_id].title == "Echo chamber"

    # Regenerate: Echo branches, so the turn follows the first reply's entry upstream.
    last_reply = await Message.objects.filter(conversation=conversation).alast()
    await socket.send_json_to({"type": "regenerate"})
    _, turn = await until(socket, "turn")
    assert turn["replace_from"] == last_reply.pk
    _, done = await until(socket, "done")
    assert done["status"] == "complete" and done["id"] != last_reply.pk
    assert await texts(conversation) == [
        "hello there",
        reply_to("hello there"),
        "second question",
        reply_to("second question"),
    ]
    assert echo.texts(conversation.upstream_id) == [
        "hello there",
        reply_to("hello there"),
        "second question",
        reply_to("second question"),
    ]
    assert len(echo.conversations[conversation.upstream_id].messages) == 4, "branched, not added"

    # Edit the second question: upstream and here, the turns after it are replaced.
    second = await Message.objects.filter(conversation=conversation, role="user").alast()
    await socket.send_json_to({"type": "edit", "id": second.pk, "text": "another question"})
    _, turn = await until(socket, "turn")
    assert turn["replace_from"] == second.pk
    await until(socket, "done")
    expected = ["hello there", reply_to("hello there"), "another question"]
    expected.append(reply_to("another question"))
    assert await texts(conversation) == expected
    assert echo.texts(conversation.upstream_id) == expected
    await socket.disconnect()
    await replies_finished()

    # Delete: at Echo first, then here, with the tombstone every delete leaves.
    upstream_id = conversation.upstream_id
    deleted = await client.post(
        reverse("conversations:delete", args=[conversation.pk]), headers=HTMX
    )
    assert deleted.status_code == 200
    assert upstream_id not in echo.conversations
    assert not await Conversation.objects.filter(pk=conversation.pk).aexists()
    tombstone = await Tombstone.objects.aget(conversation_id=conversation.pk)
    assert (tombstone.reason, tombstone.upstream_result) == ("user", "deleted")


async def texts(conversation) -> list[str]:
    shown = Message.objects.filter(conversation=conversation).shown().order_by("pk")
    return [m.text async for m in shown]


async def test_a_stranger_cannot_open_an_echo_conversation(echo, alice, bob):
    client = await signed_in(alice)
    await client.post(
        reverse("conversations:create"), {"choice": CHOICE, "text": "mine"}, headers=HTMX
    )
    conversation = await Conversation.objects.aget()
    socket, _, _ = await socket_for(conversation.pk, bob)
    assert (await socket.receive_output(timeout=WITHIN))["code"] == 4404
    stranger = await signed_in(bob)
    assert (
        await stranger.get(reverse("conversations:detail", args=[conversation.pk]))
    ).status_code == 404
    await replies_finished()


def test_the_status_page_and_the_admin_know_echo(echo, carol):
    client = Client()
    client.force_login(carol)
    status = client.get(reverse("conversations:status")).content.decode()
    entry = status[status.index('id="provider-echo"') :].split("</li>", 1)[0]
    assert "Echo Labs" in entry and echo.url in entry and "reachable" in entry
    assert "unreachable" not in entry
    form = client.get(reverse("admin:conversations_conversation_import")).content.decode()
    assert '<option value="echo">Echo Labs</option>' in form


def test_an_administrator_imports_and_deletes_echo_conversations(echo, carol, alice):
    made = echo.create("echo-1", title="Made at Echo")
    made.messages += [
        {"id": "in_a", "role": "user", "text": "from elsewhere"},
        {"id": "out_a", "role": "assistant", "text": reply_to("from elsewhere")},
    ]
    untitled = echo.create("echo-1")
    client = Client()
    client.force_login(carol)

    url = reverse("admin:conversations_conversation_import")
    response = client.post(url, {"provider": "echo", "owner": "alice"}, follow=True)
    assert "Import from Echo Labs: 2 listed, 2 imported" in response.text
    imported = Conversation.objects.get(upstream_id=made.id)
    assert (imported.owner, imported.origin, imported.title) == (alice, "import", "Made at Echo")
    assert [m.text for m in imported.messages.order_by("pk")] == [
        "from elsewhere",
        reply_to("from elsewhere"),
    ]
    assert Conversation.objects.filter(upstream_id=untitled.id).exists()
    again = client.post(url, {"provider": "echo", "owner": "alice"}, follow=True)
    assert "0 imported" in again.text and Conversation.objects.count() == 2

    changelist = reverse("admin:conversations_conversation_changelist")
    deleted = client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [imported.pk], "post": "yes"},
        follow=True,
    )
    assert "deleted; upstream deleted" in deleted.text
    assert made.id not in echo.conversations and untitled.id in echo.conversations
    assert (Tombstone.objects.get(conversation_id=imported.pk).reason) == "admin"
    assert AuditEntry.objects.filter(action=AuditAction.DELETE, actor=carol).exists()


def test_the_setting_alone_adds_and_takes_away_a_provider(settings, stub, alice, monkeypatch):
    """Its settings may come from the environment too: no edit of settings.py."""
    client = Client()
    client.force_login(alice)
    for name, value in (("API_KEY", API_KEY), ("BASE_URL", stub.url), ("MODELS", "echo-1")):
        monkeypatch.setenv(f"ECHO_{name}", value)
    assert "Echo Labs" not in client.get(reverse("conversations:index")).text
    with override_settings(WEBCHAT_PROVIDERS=[*settings.WEBCHAT_PROVIDERS, ECHO]):
        assert f'value="{CHOICE}"' in client.get(reverse("conversations:index")).text
    assert "echo" not in ADAPTERS
    assert "Echo Labs" not in client.get(reverse("conversations:index")).text


async def test_a_widget_visitor_talks_to_echo(echo, alice):
    widget = await Widget.objects.acreate(
        name="Echo help", owner=alice, provider="echo", model="echo-1", allowed_origins=SITE
    )
    visitor = await widget_signed_in(widget)
    await visitor.send_json_to({"type": "send", "text": "from a visitor"})
    turn = await receive(visitor)
    assert turn["type"] == "turn" and "from a visitor" in turn["html"]
    _, done = await until(visitor, "done")
    assert done["status"] == "complete"
    conversation = await Conversation.objects.aget(widget=widget)
    assert conversation.owner_id is None
    assert echo.texts(conversation.upstream_id) == ["from a visitor", reply_to("from a visitor")]
    await visitor.disconnect()
    await replies_finished()


def test_the_provider_table_has_a_column_for_echo(echo):
    out = io.StringIO()
    call_command("provider_table", stdout=out)
    header, _, *rows = out.getvalue().splitlines()
    assert header == "| | Orq | Mistral | Echo |"
    assert (
        "| Rename | renamed at Orq too | kept by Webchat only (Mistral has no titles to rename) "
        "| renamed at Echo too |" in rows
    )
    assert (
        "| Continue one the provider lost | a new conversation, without the earlier turns "
        "(an Orq turn carries one message) | a new conversation, given the earlier turns "
        "| a new conversation, without the earlier turns (Echo is not given them) |" in rows
    )
