"""A new chat is made with its first message: nothing empty piles up here or at the provider."""

from __future__ import annotations

import pytest
from django.test import AsyncClient
from django.urls import reverse

from conversations import shutdown
from conversations.models import Conversation, Message, MessageStatus
from emulator.assistant import compose_reply
from tests.replies import replies_finished
from upstream import clients

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

HTMX = {"headers": {"HX-Request": "true"}}
CHOICES = {"orq": "orq:model:openai/gpt-4o", "mistral": "mistral:model:mistral-small-latest"}


@pytest.fixture
async def as_alice(alice) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(alice)
    return client


async def upstream_count() -> tuple[int, int]:
    """How many conversations each provider holds (the emulator is shared by the session)."""
    orq = [c async for c in clients.orq().iter_conversations()]
    mistral = [c async for c in clients.mistral().iter_conversations()]
    return len(orq), len(mistral)


@pytest.mark.parametrize("provider", CHOICES)
async def test_the_first_message_makes_the_conversation_and_its_reply(provider, as_alice):
    text = "How do cursors paginate?"
    response = await as_alice.post(
        reverse("conversations:create"), {"choice": CHOICES[provider], "text": text}, **HTMX
    )
    assert response.status_code == 200, response.content
    conversation = await Conversation.objects.aget()
    assert response["HX-Push-Url"] == reverse("conversations:detail", args=[conversation.pk])
    body = response.content.decode()
    assert 'id="chat"' in body and 'hx-swap-oob="afterbegin:#conversation-list"' in body
    assert text in body and 'data-status="streaming"' in body
    await replies_finished()
    messages = [m async for m in Message.objects.filter(conversation=conversation)]
    assert [(m.role, m.status) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[1].text == compose_reply(text).full_text
    await conversation.arefresh_from_db()
    assert conversation.upstream_id, "the provider has it too, with this first message"


async def test_new_chat_shows_a_composer_and_makes_nothing(as_alice):
    before = await upstream_count()
    response = await as_alice.get(reverse("conversations:index"), **HTMX)
    body = response.content.decode()
    assert "data-new-chat" in body and 'name="text"' in body and 'name="choice"' in body
    assert "csrfmiddlewaretoken" in body
    assert not await Conversation.objects.aexists()
    assert await upstream_count() == before


@pytest.mark.parametrize("provider", CHOICES)
async def test_no_message_no_conversation_here_or_upstream(provider, as_alice):
    before = await upstream_count()
    for text in ("", "   \n "):
        response = await as_alice.post(
            reverse("conversations:create"), {"choice": CHOICES[provider], "text": text}, **HTMX
        )
        assert response["HX-Retarget"] == "#flash"
        assert "Write a message first." in response.content.decode()
    assert not await Conversation.objects.aexists()
    assert await upstream_count() == before


async def test_over_the_send_rate_makes_nothing(as_alice, settings):
    settings.WEBCHAT_SENDS_PER_MINUTE = 1
    before = await upstream_count()
    data = {"choice": CHOICES["orq"], "text": "one"}
    assert (await as_alice.post(reverse("conversations:create"), data, **HTMX)).status_code == 200
    await replies_finished()
    data["text"] = "two"
    response = await as_alice.post(reverse("conversations:create"), data, **HTMX)
    assert "1 messages a minute" in response.content.decode()
    assert await Conversation.objects.acount() == 1
    assert await upstream_count() == (before[0] + 1, before[1])


async def test_while_the_server_stops_a_new_chat_is_refused_and_nothing_is_left(as_alice):
    before = await upstream_count()
    await shutdown.drain()
    try:
        response = await as_alice.post(
            reverse("conversations:create"), {"choice": CHOICES["orq"], "text": "Hi"}, **HTMX
        )
    finally:
        shutdown.reset()
    assert "restarting" in response.content.decode()
    assert not await Conversation.objects.aexists()
    assert not await Message.objects.filter(status=MessageStatus.STREAMING).aexists()
    assert await upstream_count() == before
