"""Orq agent turns with variables, memory, thread and metadata; the model a freeform turn reports."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from emulator.agents import ORQ_AGENT_ID, ORQ_AGENT_KEY
from emulator.assistant import compose_reply, memory_sentence, preamble, variables_sentence

AGENT_PATH = f"/v2/agents/{ORQ_AGENT_KEY}/responses"


def agent_body(text: str, **extra: object) -> dict:
    return {"message": {"role": "user", "parts": [{"kind": "text", "text": text}]}} | extra


def answer_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["output"][-1]["parts"][0]["text"]


def streamed_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    events = [
        json.loads(block.removeprefix("data: "))
        for block in response.text.split("\n\n")
        if block.startswith("data: {")
    ]
    return "".join(
        e["data"]["delta"]["text"]
        for e in events
        if e["type"] == "part.delta" and e["data"]["delta"]["kind"] == "text"
    )


def entity() -> str:
    return f"user_{uuid.uuid4().hex[:12]}"


# --- the assistant's helpers -------------------------------------------------------------------


def test_variables_are_listed_sorted_with_long_values_shortened():
    sentence = variables_sentence({"page": "https://x", "customer_name": "Jane", "n": 3})
    assert sentence == "With your variables (customer_name=Jane, n=3, page=https://x), here goes."
    long = variables_sentence({"note": "word " * 40})
    assert "…" in long and len(long) < 90


def test_memory_sentence_counts_earlier_messages():
    assert memory_sentence(1) == "I remember you: 1 earlier message."
    assert memory_sentence(3) == "I remember you: 3 earlier messages."
    assert preamble(variables={"a": "b"}, remembered=2) == (
        "With your variables (a=b), here goes. I remember you: 2 earlier messages.\n\n"
    )
    assert preamble(variables={}, remembered=0) == ""


# --- variables ---------------------------------------------------------------------------------


def test_variables_open_the_agents_reply(http: httpx.Client) -> None:
    variables = {"customer_name": "Jane", "page": "https://example.org/pricing"}
    prompt = "Which plan suits me?"
    text = answer_text(http.post(AGENT_PATH, json=agent_body(prompt, variables=variables)))
    expected = compose_reply(prompt, agent=True, variables=variables)
    assert text == expected.full_text
    assert text.startswith(
        "With your variables (customer_name=Jane, page=https://example.org/pricing), here goes."
    )


def test_streamed_variables_echo_the_same_way(http: httpx.Client) -> None:
    variables = {"tier": "gold"}
    body = agent_body("Any discounts?", variables=variables, stream=True)
    assert streamed_text(http.post(AGENT_PATH, json=body)) == (
        compose_reply("Any discounts?", agent=True, variables=variables).full_text
    )


def test_without_variables_the_reply_is_unchanged(http: httpx.Client) -> None:
    for extra in ({}, {"variables": {}}, {"variables": None}):
        text = answer_text(http.post(AGENT_PATH, json=agent_body("Plain please", **extra)))
        assert text == compose_reply("Plain please", agent=True).full_text


# --- memory ------------------------------------------------------------------------------------


def test_memory_remembers_earlier_turns_per_entity(http: httpx.Client) -> None:
    jane, joe = entity(), entity()
    first = answer_text(http.post(AGENT_PATH, json=agent_body("Hello", memory={"entity_id": jane})))
    assert first == compose_reply("Hello", agent=True).full_text

    second = answer_text(
        http.post(AGENT_PATH, json=agent_body("Back again", memory={"entity_id": jane}))
    )
    assert second == compose_reply("Back again", agent=True, remembered=1).full_text
    assert second.startswith("I remember you: 1 earlier message.")

    body = agent_body("Third", memory={"entity_id": jane}, stream=True)
    assert streamed_text(http.post(AGENT_PATH, json=body)) == (
        compose_reply("Third", agent=True, remembered=2).full_text
    )
    stranger = answer_text(http.post(AGENT_PATH, json=agent_body("Hi", memory={"entity_id": joe})))
    assert stranger == compose_reply("Hi", agent=True).full_text


def test_memory_is_per_agent_whether_named_by_key_or_id(http: httpx.Client) -> None:
    jane = entity()
    http.post(AGENT_PATH, json=agent_body("Hello", memory={"entity_id": jane}))
    by_id = http.post(
        f"/v2/agents/{ORQ_AGENT_ID}/responses", json=agent_body("Hi", memory={"entity_id": jane})
    )
    assert answer_text(by_id) == compose_reply("Hi", agent=True, remembered=1).full_text


def test_the_memory_sentence_follows_the_variables_sentence(http: httpx.Client) -> None:
    jane = entity()
    http.post(AGENT_PATH, json=agent_body("Hello", memory={"entity_id": jane}))
    body = agent_body("Again", memory={"entity_id": jane}, variables={"lang": "en"})
    text = answer_text(http.post(AGENT_PATH, json=body))
    assert text.startswith(
        "With your variables (lang=en), here goes. I remember you: 1 earlier message.\n\n"
    )
    assert (
        text == compose_reply("Again", agent=True, variables={"lang": "en"}, remembered=1).full_text
    )


def test_thread_and_metadata_are_accepted_and_change_nothing(http: httpx.Client) -> None:
    body = agent_body(
        "Quiet turn",
        thread={"id": "thread_01", "tags": ["support", "web"]},
        metadata={"source": "web"},
        identity={"id": "contact_1", "display_name": "Jane"},
    )
    assert answer_text(http.post(AGENT_PATH, json=body)) == (
        compose_reply("Quiet turn", agent=True).full_text
    )


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"variables": ["a"]}, "variables"),
        ({"variables": "a=b"}, "variables"),
        ({"memory": {}}, "memory.entity_id"),
        ({"memory": {"entity_id": 42}}, "memory.entity_id"),
        ({"memory": "user_42"}, "memory"),
        ({"thread": {"tags": ["x"]}}, "thread.id"),
        ({"thread": {"id": 7}}, "thread.id"),
        ({"thread": {"id": "t", "tags": "support"}}, "thread.tags"),
        ({"thread": {"id": "t", "tags": [1]}}, "thread.tags"),
        ({"thread": []}, "thread"),
        ({"metadata": "web"}, "metadata"),
    ],
)
def test_bad_agent_context_is_400_with_a_message(
    http: httpx.Client, extra: dict, says: str
) -> None:
    response = http.post(AGENT_PATH, json=agent_body("Hi", **extra))
    assert response.status_code == 400
    assert set(response.json()) == {"message"}
    assert says in response.json()["message"]


def test_a_rejected_turn_is_not_remembered(http: httpx.Client) -> None:
    jane = entity()
    bad = agent_body("Hi", memory={"entity_id": jane}, metadata="nope")
    assert http.post(AGENT_PATH, json=bad).status_code == 400
    good = agent_body("Hi", memory={"entity_id": jane})
    assert (
        answer_text(http.post(AGENT_PATH, json=good)) == compose_reply("Hi", agent=True).full_text
    )


# --- freeform model ----------------------------------------------------------------------------


def test_a_freeform_turn_reports_the_requests_model_not_the_conversations(
    http: httpx.Client,
) -> None:
    created = http.post(
        "/v2/conversations", json={"projectId": "prj_wire", "metadata": {"model": "openai/gpt-4o"}}
    ).json()
    for model in ("anthropic/claude-sonnet-4", "openai/gpt-4o-mini"):
        body = {
            "message": {"role": "user", "parts": [{"kind": "text", "text": "Hi"}]},
            "model": model,
        }
        response = http.post(f"/v2/conversations/{created['_id']}/responses", json=body)
        started = json.loads(response.text.split("\n\n")[0].removeprefix("data: "))
        assert started["type"] == "response.started"
        assert started["data"]["model"] == model
