"""Instructions, parameters, variables and the model, from the panel to the emulator's wire.

Each test reads what the emulator received (its stored conversation, its history, the reply it
composed from the request), never a mock of our code.
"""

from __future__ import annotations

import html

import httpx
import pytest
from django.test import AsyncClient, Client
from django.urls import reverse

from conversations import services
from conversations.choices import choice_for
from conversations.models import Conversation, Message, MessageStatus
from emulator.assistant import compose_reply, instructions_sentence, variables_sentence
from tests.replies import replies_finished
from tests.sockets import receive, socket_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

MISTRAL = "mistral:model:mistral-small-latest"
HTMX = {"headers": {"HX-Request": "true"}}


async def signed_in(user, **kwargs) -> AsyncClient:
    client = AsyncClient(**kwargs)
    await client.aforce_login(user)
    return client


async def upstream(emulator_url: str, path: str) -> dict:
    """What the emulator keeps, read over its own API."""
    async with httpx.AsyncClient(base_url=emulator_url) as http:
        response = await http.get(path, headers={"Authorization": "Bearer test"})
    response.raise_for_status()
    return response.json()


async def opened(owner, conversation):
    socket, connected, _ = await socket_for(conversation.pk, owner)
    assert connected
    await receive(socket)  # the snapshot
    return socket


async def exchange(socket, frame: dict) -> Message:
    await socket.send_json_to(frame)
    _, done = await until(socket, "done")
    await replies_finished()
    return await Message.objects.aget(pk=done["id"])


async def configure(client, conversation, **fields):
    response = await client.post(
        reverse("conversations:configure", args=[conversation.pk]), fields, **HTMX
    )
    assert response.status_code == 200, response.content.decode()
    return html.unescape(response.content.decode())


async def test_a_new_mistral_chat_starts_with_its_instructions_and_parameters(alice, emulator_url):
    client = await signed_in(alice)
    response = await client.post(
        reverse("conversations:create"),
        {
            "choice": MISTRAL,
            "text": "Tell me about leases",
            "instructions": "Answer like a pirate.",
            "temperature": "0.3",
            "top_p": "0.9",
            "max_tokens": "",
        },
    )
    assert response.status_code == 302
    await replies_finished()
    conversation = await Conversation.objects.aget(owner=alice)
    assert conversation.instructions == "Answer like a pirate."
    assert conversation.parameters == {"temperature": 0.3, "top_p": 0.9}
    started = await upstream(emulator_url, f"/v1/conversations/{conversation.upstream_id}")
    assert started["instructions"] == "Answer like a pirate."
    assert started["completion_args"] == {"temperature": 0.3, "top_p": 0.9}
    reply = await conversation.messages.filter(role="assistant").aget()
    assert reply.text.startswith(instructions_sentence("Answer like a pirate."))
    # Kept with the reply, for the admin's transcript.
    assert reply.produced_with == {
        "instructions": "Answer like a pirate.",
        "parameters": {"temperature": 0.3, "top_p": 0.9},
    }
    assert conversation.upstream_settings["instructions"] == "Answer like a pirate."


async def test_max_tokens_cuts_the_reply_and_continue_goes_on_in_the_same_reply(
    alice, emulator_url
):
    conversation = await services.conversation_create(owner=alice, choice=choice_for(MISTRAL))
    client = await signed_in(alice)
    await configure(client, conversation, max_tokens="7")
    socket = await opened(alice, conversation)
    cut = await exchange(socket, {"type": "send", "text": "Explain leases in depth"})
    assert cut.status == MessageStatus.COMPLETE
    assert cut.usage_output == 7 and cut.stopped_at_length
    # Appends carry the parameters (the conversation began without them).
    await conversation.arefresh_from_db()
    history = await upstream(emulator_url, f"/v1/conversations/{conversation.upstream_id}/history")
    before = len(history["entries"])

    continued = await exchange(socket, {"type": "continue"})
    assert continued.pk == cut.pk  # the same reply goes on
    assert continued.text.startswith(cut.text) and len(continued.text) > len(cut.text)
    assert continued.usage_output == 14  # both turns' tokens
    # The emulator goes on where it stopped: the two turns read as one reply.
    whole = compose_reply("Explain leases in depth")
    said = 14 - len(whole.reasoning)
    assert continued.text == "".join(whole.text[:said])
    assert continued.stopped_at_length  # the second turn too reached 7
    history = await upstream(emulator_url, f"/v1/conversations/{conversation.upstream_id}/history")
    added = history["entries"][before:]
    # The upstream history holds the continue turn the chat does not show.
    assert added[0]["type"] == "message.input"
    assert added[0]["content"] == services.CONTINUE_PROMPT
    assert continued.continued[0]["at"] == len(cut.text)
    assert await conversation.messages.acount() == 2  # no message of its own here
    await socket.disconnect()


async def test_continue_is_refused_for_a_reply_that_did_not_stop_at_its_limit(alice):
    conversation = await services.conversation_create(owner=alice, choice=choice_for(MISTRAL))
    socket = await opened(alice, conversation)
    await exchange(socket, {"type": "send", "text": "Hello there"})
    await socket.send_json_to({"type": "continue"})
    _, error = await until(socket, "error")
    assert "length limit" in error["message"]
    await socket.disconnect()


async def test_new_mistral_instructions_start_a_new_conversation_given_the_earlier_turns(
    alice, emulator_url
):
    conversation = await services.conversation_create(owner=alice, choice=choice_for(MISTRAL))
    socket = await opened(alice, conversation)
    await exchange(socket, {"type": "send", "text": "What is a lease?"})
    await conversation.arefresh_from_db()
    first_upstream = conversation.upstream_id
    client = await signed_in(alice)
    said = await configure(client, conversation, instructions="Be brief.")
    assert "new Mistral conversation" in said

    reply = await exchange(socket, {"type": "send", "text": "And when it runs out?"})
    await conversation.arefresh_from_db()
    assert conversation.upstream_id != first_upstream
    assert first_upstream in conversation.superseded_upstream_ids  # deleted with ours
    fresh = await upstream(emulator_url, f"/v1/conversations/{conversation.upstream_id}")
    assert fresh["instructions"] == "Be brief."
    entries = (
        await upstream(emulator_url, f"/v1/conversations/{conversation.upstream_id}/history")
    )["entries"]
    assert entries[0]["content"] == "What is a lease?"  # the earlier turns come first
    assert entries[1]["type"] == "message.output"
    assert reply.text.startswith(instructions_sentence("Be brief."))
    notices = [p["text"] for p in reply.parts if p.get("kind") == "notice"]
    assert notices and "A new Mistral conversation began" in notices[0]

    # Nothing changed since: the next turn goes on in that conversation.
    await exchange(socket, {"type": "send", "text": "Thanks"})
    await conversation.arefresh_from_db()
    assert fresh["id"] == conversation.upstream_id
    await socket.disconnect()


async def test_another_mistral_model_continues_in_a_new_conversation(alice, emulator_url):
    conversation = await services.conversation_create(owner=alice, choice=choice_for(MISTRAL))
    socket = await opened(alice, conversation)
    await exchange(socket, {"type": "send", "text": "What is a lease?"})
    client = await signed_in(alice)
    said = await configure(client, conversation, model="mistral-medium-latest")
    assert "fixes a conversation's model" in said
    reply = await exchange(socket, {"type": "send", "text": "Go on"})
    await conversation.arefresh_from_db()
    fresh = await upstream(emulator_url, f"/v1/conversations/{conversation.upstream_id}")
    assert fresh["model"] == conversation.model == "mistral-medium-latest"
    assert reply.model == "mistral-medium-latest"
    await socket.disconnect()


async def test_an_orq_model_change_applies_from_the_next_turn(alice):
    choice = choice_for("orq:model:openai/gpt-4o")
    conversation = await services.conversation_create(owner=alice, choice=choice)
    socket = await opened(alice, conversation)
    first = await exchange(socket, {"type": "send", "text": "What is a lease?"})
    assert first.model == "openai/gpt-4o"
    client = await signed_in(alice)
    said = await configure(client, conversation, model="openai/gpt-4o-mini")
    assert "next message" in said
    # The chat's heading says the new model at once.
    assert (
        '<p class="chat-meta" id="chat-meta" hx-swap-oob="true">Orq.ai · openai/gpt-4o-mini' in said
    )
    second = await exchange(socket, {"type": "send", "text": "And then?"})
    # The model the emulator reported for the turn: the one the request named.
    assert second.model == "openai/gpt-4o-mini"
    await socket.disconnect()


async def test_orq_agent_variables_reach_the_agent(alice):
    conversation = await services.conversation_create(
        owner=alice, choice=choice_for("orq:agent:demo")
    )
    client = await signed_in(alice)
    await configure(client, conversation, variables="customer_name = Jane\nplan = pro")
    socket = await opened(alice, conversation)
    reply = await exchange(socket, {"type": "send", "text": "Who am I?"})
    assert variables_sentence({"customer_name": "Jane", "plan": "pro"}) in reply.text
    assert reply.produced_with == {"variables": {"customer_name": "Jane", "plan": "pro"}}
    await socket.disconnect()


def test_what_a_provider_does_not_take_is_shown_disabled_and_never_kept(as_alice, alice):
    choice = choice_for("orq:model:openai/gpt-4o")
    conversation = Conversation.objects.create(
        owner=alice, provider="orq", model=choice.upstream, upstream_id="conv_x"
    )
    panel = as_alice.get(reverse("conversations:instructions", args=[conversation.pk]), **HTMX)
    html = panel.content.decode()
    assert "Orq conversations take no instructions or parameters" in html
    assert 'name="instructions"' in html and "disabled" in html
    as_alice.post(
        reverse("conversations:configure", args=[conversation.pk]),
        {"instructions": "Be brief.", "temperature": "0.5", "variables": "a = b"},
        **HTMX,
    )
    conversation.refresh_from_db()
    assert (conversation.instructions, conversation.parameters, conversation.variables) == (
        "",
        {},
        {},
    )


def test_bad_values_are_said_and_nothing_is_kept(as_alice, alice):
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest"
    )
    response = as_alice.post(
        reverse("conversations:configure", args=[conversation.pk]),
        {"instructions": "Be brief.", "temperature": "7", "max_tokens": "0"},
        **HTMX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Temperature" in html and "Max tokens" in html
    conversation.refresh_from_db()
    assert conversation.instructions == "" and conversation.parameters == {}


def test_a_model_of_another_provider_is_refused(as_alice, alice):
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest"
    )
    response = as_alice.post(
        reverse("conversations:configure", args=[conversation.pk]),
        {"model": "openai/gpt-4o"},
        **HTMX,
    )
    assert response.status_code == 422
    conversation.refresh_from_db()
    assert conversation.model == "mistral-small-latest"


def test_another_persons_panel_is_404_and_the_form_needs_csrf(as_bob, alice):
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest"
    )
    for url in ("instructions", "configure", "preset_save"):
        method = as_bob.get if url == "instructions" else as_bob.post
        assert method(reverse(f"conversations:{url}", args=[conversation.pk])).status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    response = strict.post(
        reverse("conversations:configure", args=[conversation.pk]), {"instructions": "x"}
    )
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.instructions == ""
