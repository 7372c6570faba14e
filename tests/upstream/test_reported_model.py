"""The model that answered, as each provider reports it in a stream, reaches our events."""

from __future__ import annotations

from emulator.agents import MISTRAL_AGENT_ID, MISTRAL_AGENT_MODEL, ORQ_AGENT_KEY, ORQ_AGENT_MODEL
from upstream.mistral import EventTranslator
from upstream.types import Done, Started

from .conftest import collect

MISTRAL_MODEL = "mistral-small-latest"
ORQ_MODEL = "openai/gpt-4o"


async def test_a_mistral_stream_reports_its_model_with_done(mistral):
    async with mistral.stream_start(text="Which model are you?", model=MISTRAL_MODEL) as events:
        received = await collect(events)
    assert isinstance(received[-1], Done) and received[-1].model == MISTRAL_MODEL


async def test_a_mistral_agent_stream_reports_the_agents_model_not_its_id(mistral):
    async with mistral.stream_start(text="Which model are you?", agent_id=MISTRAL_AGENT_ID) as e:
        received = await collect(e)
    assert received[-1].model == MISTRAL_AGENT_MODEL


async def test_a_mistral_append_reports_the_model_too(mistral):
    async with mistral.stream_start(text="Begin", model=MISTRAL_MODEL) as events:
        conversation_id = (await collect(events))[0].conversation_id
    async with mistral.stream_append(conversation_id, text="Go on") as events:
        received = await collect(events)
    assert received[-1].model == MISTRAL_MODEL


def test_a_mistral_stream_without_a_model_reports_none():
    # `model` is optional on Mistral's deltas (PROTOCOL §2.9).
    translate = EventTranslator()
    delta = {"type": "message.output.delta", "id": "msg_1", "content": "Hi", "model": None}
    translate(delta)
    done = translate({"type": "conversation.response.done", "usage": {}})
    assert done[0].model is None


async def test_an_orq_agent_stream_reports_the_agents_model_when_it_starts(orq):
    async with orq.stream_agent_response(ORQ_AGENT_KEY, text="Which model are you?") as events:
        received = await collect(events)
    assert isinstance(received[0], Started) and received[0].model == ORQ_AGENT_MODEL


async def test_an_orq_response_reports_its_model_when_it_starts(orq):
    conversation = await orq.create_conversation(model=ORQ_MODEL)
    async with orq.stream_response(conversation.id, text="Hello", model=ORQ_MODEL) as events:
        received = await collect(events)
    assert received[0].model == ORQ_MODEL
