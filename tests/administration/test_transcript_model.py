"""The admin transcript names the model that answered each reply, and the agent beside it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conversations.models import Conversation, Message, MessageStatus

pytestmark = pytest.mark.django_db


def transcript_of(user, conversation) -> str:
    client = Client()
    client.force_login(user)
    url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
    page = client.get(url).text
    return page[page.index('class="transcript"') : page.index("</section>")]


def reply(conversation, model: str) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role="assistant",
        text="Hello",
        html="<p>Hello</p>",
        model=model,
        status=MessageStatus.COMPLETE,
    )


def test_an_agent_reply_shows_the_reported_model_and_the_agent(carol, alice):
    conversation = Conversation.objects.create(owner=alice, provider="mistral", agent="demo")
    reply(conversation, "mistral-medium-latest")
    section = transcript_of(carol, conversation)
    assert '<span class="model">mistral-medium-latest (agent demo)</span>' in section


def test_an_agent_reply_saved_with_the_agents_name_as_its_model_shows_only_the_agent(carol, alice):
    # Replies from before the reported model was kept held the agent's name there.
    conversation = Conversation.objects.create(owner=alice, provider="orq", agent="demo")
    reply(conversation, "demo")
    section = transcript_of(carol, conversation)
    assert '<span class="model">agent demo</span>' in section
    assert "demo (agent demo)" not in section


def test_a_model_reply_shows_its_model(carol, alice):
    conversation = Conversation.objects.create(owner=alice, provider="orq", model="openai/gpt-4o")
    reply(conversation, "openai/gpt-4o")
    assert '<span class="model">openai/gpt-4o</span>' in transcript_of(carol, conversation)
