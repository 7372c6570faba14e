"""Mistral `inputs` as a list of entries: earlier turns are history, the last user message is asked."""

from __future__ import annotations

from mistralai import Mistral, models

from emulator.assistant import compose_reply

MODEL = "mistral-small-latest"


def test_a_start_with_earlier_turns_stores_them_and_answers_the_last_message(
    mistral: Mistral,
) -> None:
    inputs = [
        {"type": "message.input", "role": "user", "content": "Name a prime"},
        {"type": "message.output", "role": "assistant", "content": "Seven is prime."},
        {"type": "message.input", "role": "user", "content": "And an even one?"},
    ]
    response = mistral.beta.conversations.start(inputs=inputs, model=MODEL)
    (output,) = response.outputs
    assert output.content[1].text == compose_reply("And an even one?").full_text

    history = mistral.beta.conversations.get_history(conversation_id=response.conversation_id)
    assert [e.type for e in history.entries] == [
        "message.input",
        "message.output",
        "message.input",
        "message.output",
    ]
    earlier = history.entries[1]
    assert isinstance(earlier, models.MessageOutputEntry)
    assert earlier.content == "Seven is prime." and earlier.role == "assistant"
    assert len({e.id for e in history.entries}) == 4


def test_a_directive_in_an_earlier_turn_is_not_applied_again(mistral: Mistral) -> None:
    # A conversation given its earlier turns must not replay the faults asked for back then.
    inputs = [
        {"type": "message.input", "role": "user", "content": "[[emulator status=503]] Hi"},
        {"type": "message.output", "role": "assistant", "content": "Hello."},
        {"type": "message.input", "role": "user", "content": "Still there?"},
    ]
    response = mistral.beta.conversations.start(inputs=inputs, model=MODEL)
    assert response.outputs[0].content[1].text == compose_reply("Still there?").full_text
    history = mistral.beta.conversations.get_history(conversation_id=response.conversation_id)
    assert history.entries[0].content == "Hi"
