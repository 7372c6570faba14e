"""Presets: saved from a chat, picked for a new one, the team's published in the admin."""

from __future__ import annotations

import html

import httpx
import pytest
from django.test import AsyncClient, Client
from django.urls import reverse

from conversations.models import Conversation, Message, Preset
from emulator.assistant import instructions_sentence
from tests.replies import replies_finished

HTMX = {"HTTP_HX_REQUEST": "true"}


def _mistral_chat(owner) -> Conversation:
    return Conversation.objects.create(
        owner=owner,
        provider="mistral",
        model="mistral-small-latest",
        instructions="Answer like a pirate.",
        parameters={"temperature": 0.2},
    )


@pytest.mark.django_db
def test_a_chat_saved_as_a_preset_is_offered_for_new_chats_and_fills_the_fields(as_alice, alice):
    conversation = _mistral_chat(alice)
    response = as_alice.post(
        reverse("conversations:preset_save", args=[conversation.pk]), {"name": "Pirate"}, **HTMX
    )
    assert "Saved as the preset" in html.unescape(response.content.decode())
    preset = Preset.objects.get(owner=alice, name="Pirate")
    assert (preset.provider, preset.model, preset.agent) == ("mistral", "mistral-small-latest", "")
    assert preset.instructions == "Answer like a pirate."
    assert preset.parameters == {"temperature": 0.2}

    page = as_alice.get(reverse("conversations:index")).content.decode()
    assert f'value="preset:{preset.pk}"' in page
    fields = as_alice.get(
        reverse("conversations:new_fields"), {"choice": f"preset:{preset.pk}"}, **HTMX
    ).content.decode()
    assert "Answer like a pirate." in fields and 'value="0.2"' in fields
    # Saving again under the same name replaces it.
    as_alice.post(
        reverse("conversations:preset_save", args=[conversation.pk]), {"name": "Pirate"}, **HTMX
    )
    assert Preset.objects.filter(owner=alice).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("upstreams")
async def test_a_new_chat_from_a_preset_starts_with_its_instructions_upstream(alice, emulator_url):
    preset = await Preset.objects.acreate(
        owner=alice,
        name="Brief",
        provider="mistral",
        model="mistral-small-latest",
        instructions="Be brief.",
        parameters={"max_tokens": 50},
    )
    client = AsyncClient()
    await client.aforce_login(alice)
    # The fields had not loaded: the preset's own settings are used.
    response = await client.post(
        reverse("conversations:create"), {"choice": f"preset:{preset.pk}", "text": "Hello"}
    )
    assert response.status_code == 302
    await replies_finished()
    conversation = await Conversation.objects.aget(owner=alice)
    assert conversation.instructions == "Be brief."
    assert conversation.parameters == {"max_tokens": 50}
    async with httpx.AsyncClient(base_url=emulator_url) as http:
        started = (
            await http.get(
                f"/v1/conversations/{conversation.upstream_id}",
                headers={"Authorization": "Bearer test"},
            )
        ).json()
    assert started["instructions"] == "Be brief."
    assert started["completion_args"] == {"max_tokens": 50}
    reply = await Message.objects.aget(conversation=conversation, role="assistant")
    assert reply.text.startswith(instructions_sentence("Be brief."))


@pytest.mark.django_db
def test_someone_elses_preset_cannot_be_used_or_deleted(as_bob, alice, bob):
    preset = Preset.objects.create(
        owner=alice, name="Mine", provider="mistral", model="mistral-small-latest"
    )
    response = as_bob.post(
        reverse("conversations:create"), {"choice": f"preset:{preset.pk}", "text": "Hello"}
    )
    assert "Pick one of the offered models or agents" in html.unescape(response.content.decode())
    assert not Conversation.objects.filter(owner=bob).exists()
    assert f"preset:{preset.pk}" not in as_bob.get(reverse("conversations:index")).content.decode()
    deleting = as_bob.post(reverse("conversations:preset_delete", args=[preset.pk]))
    assert deleting.status_code == 404
    assert Preset.objects.filter(pk=preset.pk).exists()


@pytest.mark.django_db
def test_team_presets_come_first_for_everyone(as_bob, bob, carol):
    Preset.objects.create(
        owner=bob, name="A mine", provider="mistral", model="mistral-small-latest"
    )
    admin = Client()
    admin.force_login(carol)
    response = admin.post(
        reverse("admin:conversations_preset_add"),
        {
            "name": "Support tone",
            "provider": "mistral",
            "model": "mistral-small-latest",
            "agent": "",
            "instructions": "Be kind.",
            "parameters": '{"temperature": 0.4}',
            "variables": "{}",
        },
    )
    assert response.status_code == 302, response.content.decode()
    team = Preset.objects.get(name="Support tone")
    assert team.owner is None
    page = as_bob.get(reverse("conversations:index")).content.decode()
    assert page.index(f'value="preset:{team.pk}"') < page.index("A mine")
    assert "Support tone (team)" in page


@pytest.mark.django_db
def test_the_admin_refuses_a_preset_its_provider_would_not_take(carol):
    admin = Client()
    admin.force_login(carol)
    response = admin.post(
        reverse("admin:conversations_preset_add"),
        {
            "name": "Orq with instructions",
            "provider": "orq",
            "model": "openai/gpt-4o",
            "agent": "",
            "instructions": "Be kind.",
            "parameters": '{"temperature": 9}',
            "variables": "{}",
        },
    )
    assert response.status_code == 200
    said = html.unescape(response.content.decode())
    assert "Orq conversations take no instructions or parameters" in said
    assert not Preset.objects.exists()


@pytest.mark.django_db
def test_the_admin_transcript_shows_what_each_reply_was_asked_with(carol, alice):
    conversation = _mistral_chat(alice)
    Message.objects.create(conversation=conversation, role="user", text="Hi")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        text="Arr.",
        produced_with={
            "instructions": "Answer like a <b>pirate</b>.",
            "parameters": {"temperature": 0.2, "max_tokens": 40},
        },
    )
    admin = Client()
    admin.force_login(carol)
    page = admin.get(
        reverse("admin:conversations_conversation_change", args=[conversation.pk])
    ).content.decode()
    assert "<dt>Instructions</dt>" in page
    assert "Answer like a &lt;b&gt;pirate&lt;/b&gt;." in page
    assert "temperature 0.2, max tokens 40" in page
    assert "stopped at its length limit" not in page  # no usage said so
    # Continued after its limit: the user turn sent upstream for it is in the transcript.
    Message.objects.filter(role="assistant").update(
        usage_output=40,
        parts=[{"kind": "continued", "at": 4, "prompt": "Continue please.", "before": [1, 0, 3]}],
    )
    page = admin.get(
        reverse("admin:conversations_conversation_change", args=[conversation.pk])
    ).content.decode()
    assert "after character 4, Webchat sent the user turn <q>Continue please.</q>" in page
    # 40 out in all, none of them before: the last turn stopped at max tokens (40).
    assert "stopped at its length limit (max tokens)" in page
