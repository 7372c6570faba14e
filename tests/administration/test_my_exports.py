"""Issue 14, item 10: a person downloads one or all of their conversations, as Markdown or JSON,
and no one else's."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


def conversation_of(owner, title: str, *texts: str, widget_visitor: bool = False):
    conversation = Conversation.objects.create(
        owner=None if widget_visitor else owner,
        provider="mistral",
        model="mistral-small-latest",
        title=title,
        visitor="anon:v" if widget_visitor else "",
    )
    for index, text in enumerate(texts):
        Message.objects.create(
            conversation=conversation, role="user" if index % 2 == 0 else "assistant", text=text
        )
    return conversation


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def mine(alice):
    return conversation_of(alice, "Garden plans", "What to plant?", "Tomatoes **first**.")


def test_one_conversation_as_markdown_shows_what_the_page_shows(client, alice, mine):
    earlier = Message.objects.create(conversation=mine, role="assistant", text="An older version")
    Message.objects.filter(pk=earlier.pk).update(stash=earlier)
    client.force_login(alice)

    response = client.get(reverse("exports:conversation", args=[mine.pk, "md"]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="garden-plans-{mine.pk}.md"'
    text = response.content.decode()
    assert text.startswith("# Garden plans")
    assert "What to plant?" in text and "Tomatoes **first**." in text
    assert "An older version" not in text


def test_one_conversation_as_json_has_what_it_reads_as_not_how_it_ran(client, alice, mine):
    Message.objects.filter(conversation=mine, role="assistant").update(
        error_detail="ConnectError: [Errno 111] 10.0.0.7:443", runner="inbox.abc"
    )
    stashed = Message.objects.create(conversation=mine, role="assistant", text="Older version")
    Message.objects.filter(pk=stashed.pk).update(stash=stashed)
    client.force_login(alice)
    response = client.get(reverse("exports:conversation", args=[mine.pk, "json"]))
    document = json.loads(body(response))
    assert document["format"] == "webchat-export"
    [exported] = document["conversations"]
    assert exported["id"] == mine.pk and exported["owner"] == "alice"
    assert [m["text"] for m in exported["messages"]] == ["What to plant?", "Tomatoes **first**."]
    raw = json.dumps(document)
    for private in ("error_detail", "runner", "lease_until", "undo", "upstream_state", "stash"):
        assert all(private not in m for m in exported["messages"]), private
    assert "10.0.0.7" not in raw and "superseded_upstream_ids" not in exported


def test_all_of_mine_and_nothing_else(client, alice, bob, mine):
    second = conversation_of(alice, "Second", "Hello")
    trashed = conversation_of(alice, "In the bin", "Deleted one")
    Conversation.objects.filter(pk=trashed.pk).update(trashed_at=timezone.now())
    conversation_of(bob, "Bob's secret", "Not for Alice")
    conversation_of(None, "A visitor's", "From the widget", widget_visitor=True)
    client.force_login(alice)

    archive = zipfile.ZipFile(io.BytesIO(body(client.get(reverse("exports:all", args=["md"])))))
    names = archive.namelist()
    assert len(names) == 2 and all(
        n.endswith((f"-{mine.pk}.md", f"-{second.pk}.md")) for n in names
    )
    assert "Not for Alice" not in "".join(archive.read(n).decode() for n in names)

    document = json.loads(body(client.get(reverse("exports:all", args=["json"]))))
    assert sorted(c["id"] for c in document["conversations"]) == [mine.pk, second.pk]


def test_no_one_else_downloads_mine(client, bob, mine):
    one = reverse("exports:conversation", args=[mine.pk, "md"])
    assert client.get(one).status_code == 302  # signed out: to the sign-in page
    client.force_login(bob)
    assert client.get(one).status_code == 404
    assert client.get(reverse("exports:conversation", args=[mine.pk, "json"])).status_code == 404
    assert client.get(reverse("exports:conversation", args=[mine.pk, "exe"])).status_code == 404
    assert client.get(reverse("exports:all", args=["csv"])).status_code == 404
