"""Issue 14, item 6: search inside one's own messages (SQLite here; PostgreSQL in
tests/test_postgresql_search.py), results with the words marked, opening at the message."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conversations import message_search
from conversations.message_search import snippet, terms
from conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def chat(owner, title: str, *texts: str) -> Conversation:
    conversation = Conversation.objects.create(
        owner=owner, provider="mistral", model="m", title=title
    )
    for index, text in enumerate(texts):
        Message.objects.create(
            conversation=conversation,
            role="user" if index % 2 == 0 else "assistant",
            text=text,
            html=f"<p>{text}</p>",  # what rendering would give these plain words
        )
    return conversation


def test_finds_words_in_my_messages_newest_first_one_per_conversation(alice, bob):
    old = chat(alice, "Old", "How do I bake sourdough bread?", "Use a starter.")
    new = chat(alice, "New", "Bread again", "More about bread: <script>alert(1)</script> here")
    chat(bob, "Bob's", "bread is my secret")
    hidden = Message.objects.create(conversation=old, role="assistant", text="stashed bread")
    Message.objects.filter(pk=hidden.pk).update(stash=hidden)

    hits = message_search.search(alice, "bread")

    assert [h.conversation_id for h in hits] == [new.pk, old.pk]
    assert hits[0].message_id == new.messages.order_by("id").last().pk  # the newest match
    assert "<mark>bread</mark>" in hits[0].snippet and "&lt;script&gt;" in hits[0].snippet
    assert "<script>" not in hits[0].snippet
    assert all("stashed" not in h.snippet for h in hits)


def test_every_word_must_match_and_a_phrase_stays_whole(alice):
    both = chat(alice, "Both", "the quarterly budget review")
    chat(alice, "One", "only the budget")
    assert [h.conversation_id for h in message_search.search(alice, "budget review")] == [both.pk]
    assert [h.conversation_id for h in message_search.search(alice, '"budget review"')] == [both.pk]
    assert message_search.search(alice, "   ") == []
    assert terms('"next quarter" -draft or plan') == ["next quarter", "plan"]
    assert terms('an "unbalanced quote') == ["an", "unbalanced", "quote"]


def test_a_snippet_is_cut_around_the_first_word_found():
    text = "word " * 200 + "needle in the middle " + "word " * 200
    cut = snippet(text, ["needle"])
    assert cut.startswith("…") and cut.endswith("…") and "<mark>needle</mark>" in cut
    assert len(cut) < 260
    assert snippet("a catalog of cats", ["cat"], whole_words=True) == "a catalog of cats"
    assert snippet("the cat sat", ["cat"], whole_words=True) == "the <mark>cat</mark> sat"


def test_the_sidebar_shows_message_hits_that_open_at_the_message(client, alice):
    conversation = chat(alice, "Trip", "Where to stay in Lyon?", "Try the old town.")
    found = conversation.messages.order_by("id").first()
    client.force_login(alice)

    html = client.get(reverse("conversations:list"), {"q": "lyon"}, **HTMX).content.decode()

    assert "In messages" in html and "Where to stay in <mark>Lyon</mark>?" in html
    url = reverse("conversations:detail", args=[conversation.pk]) + f"?at={found.pk}"
    assert f'href="{url}"' in html
    pane = client.get(url, **HTMX).content.decode()
    assert f'data-focus="{found.pk}"' in pane
    page = client.get(url).content.decode()  # the whole page opens there too
    assert f'data-focus="{found.pk}"' in page
    bad = reverse("conversations:detail", args=[conversation.pk]) + "?at=abc"
    assert client.get(bad).status_code == 200  # a bad `at` is ignored


def test_opening_at_an_old_message_shows_it_and_the_rest_after_it(client, alice):
    texts = [f"message number {n}" for n in range(120)]
    conversation = chat(alice, "Long", *texts)
    target = conversation.messages.order_by("id")[10]
    client.force_login(alice)
    html = client.get(
        reverse("conversations:detail", args=[conversation.pk]) + f"?at={target.pk}", **HTMX
    ).content.decode()
    assert "message number 10<" in html and "message number 119<" in html
    assert "message number 6<" not in html  # three before it, then "Show earlier messages"
    assert "message number 7<" in html and "Show earlier messages" in html


def test_nobody_else_finds_my_messages(client, alice, bob):
    chat(alice, "Mine", "a private matter")
    client.force_login(bob)
    html = client.get(reverse("conversations:list"), {"q": "private"}, **HTMX).content.decode()
    assert "private matter" not in html and "No message contains" in html
