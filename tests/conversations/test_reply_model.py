"""A reply keeps the model the provider reported, and shows the agent beside it."""

from __future__ import annotations

import pytest

from conversations import services
from conversations.choices import choice_for
from conversations.models import Message
from emulator.agents import MISTRAL_AGENT_MODEL, ORQ_AGENT_MODEL
from tests.replies import replies_finished
from tests.sockets import receive, socket_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]


@pytest.mark.parametrize(
    ("choice", "reported", "shown"),
    [
        ("orq:agent:demo", ORQ_AGENT_MODEL, f"{ORQ_AGENT_MODEL} (agent demo)"),
        ("mistral:agent:demo", MISTRAL_AGENT_MODEL, f"{MISTRAL_AGENT_MODEL} (agent demo)"),
        ("mistral:model:mistral-small-latest", "mistral-small-latest", "mistral-small-latest"),
    ],
)
async def test_a_reply_stores_and_shows_the_model_the_provider_reported(
    choice, reported, shown, alice
):
    conversation = await services.conversation_create(owner=alice, choice=choice_for(choice))
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "Which model are you?"})
    _, done = await until(socket, "done")
    reply = await Message.objects.aget(pk=done["id"])
    # Not the agent's name: the model that answered, as the stream said.
    assert reply.model == reported
    assert (
        f'<span class="model" title="The model that answered, as the provider reported it">{shown}</span>'
        in done["html"]
    )
    await socket.disconnect()
    await replies_finished()


async def test_an_agent_reply_that_failed_before_any_report_names_no_model(alice):
    conversation = await services.conversation_create(
        owner=alice, choice=choice_for("mistral:agent:demo")
    )
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await socket.send_json_to({"type": "send", "text": "[[emulator status=502]] Anyone there?"})
    _, done = await until(socket, "done")
    reply = await Message.objects.aget(pk=done["id"])
    assert reply.status == "failed"
    assert reply.model == ""  # the agent's name is no model
    assert '<span class="model"' in done["html"] and ">agent demo</span>" in done["html"]
    await socket.disconnect()
    await replies_finished()
