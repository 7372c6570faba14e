"""Mistral `completion_args` and `instructions` in the emulator: max_tokens cuts, the echo shows."""

from __future__ import annotations

import json

import httpx
import pytest

from emulator.assistant import compose_reply, cut_to, instructions_sentence, preamble

MODEL = "mistral-small-latest"
PROMPT = "Explain database indexes with an example"


def blocks(body: str) -> list[str]:
    return [block for block in body.split("\n\n") if block and block.startswith("event: ")]


def streamed(response: httpx.Response) -> tuple[str, str, dict]:
    """(thinking, text, usage) of a Mistral SSE answer."""
    events = [json.loads(b.split("\n")[1].removeprefix("data: ")) for b in blocks(response.text)]
    deltas = [e["content"] for e in events if e["type"] == "message.output.delta"]
    text = "".join(d for d in deltas if isinstance(d, str))
    thinking = "".join(d["thinking"][0]["text"] for d in deltas if isinstance(d, dict))
    return thinking, text, events[-1]["usage"]


def answered(response: httpx.Response) -> tuple[str, str, dict]:
    """(thinking, text, usage) of a Mistral JSON answer."""
    assert response.status_code == 200, response.text
    body = response.json()
    thinking, text = body["outputs"][-1]["content"]
    return thinking["thinking"][0]["text"], text["text"], body["usage"]


def start(http: httpx.Client, text: str = PROMPT, **extra: object) -> dict:
    response = http.post("/v1/conversations", json={"inputs": text, "model": MODEL} | extra)
    assert response.status_code == 200, response.text
    return response.json()


def natural_tokens(text: str) -> int:
    return compose_reply(text).usage.completion_tokens


# --- the assistant's helpers -------------------------------------------------------------------


def test_cut_to_takes_text_from_the_end_then_reasoning():
    reply = compose_reply(PROMPT)
    reasoning = len(reply.reasoning)

    cut = cut_to(reply, reasoning + 3)
    assert cut.usage.completion_tokens == reasoning + 3
    assert cut.reasoning == reply.reasoning and cut.text == reply.text[:3]

    shorter = cut_to(reply, 2)
    assert shorter.reasoning == reply.reasoning[:2] and shorter.text == ()
    assert cut_to(reply, 10_000) is reply and cut_to(reply, None) is reply


def test_instructions_open_the_reply_in_one_short_sentence():
    plain = compose_reply(PROMPT)
    told = compose_reply(PROMPT, instructions="Be brief.")
    opening = 'Following your instructions ("Be brief."), here goes.\n\n'
    assert preamble(instructions="Be brief.") == opening
    assert told.full_text == opening + plain.full_text
    assert told.reasoning == plain.reasoning
    assert compose_reply(PROMPT, instructions="  ") == plain

    long = instructions_sentence("Answer like a pirate. " * 10)
    assert len(long) < 140 and "…" in long and "\n" not in long


def test_the_tokens_knob_still_fixes_the_whole_length_with_instructions():
    told = compose_reply(PROMPT, tokens=30, instructions="Be brief.")
    assert len(told.text) == 30
    assert told.full_text.startswith("Following your instructions")


# --- max_tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_at_start_cuts_the_reply_to_exactly_that_many(
    http: httpx.Client, stream: bool
) -> None:
    body = {"inputs": PROMPT, "model": MODEL, "stream": stream}
    response = http.post("/v1/conversations", json=body | {"completion_args": {"max_tokens": 12}})
    thinking, text, usage = streamed(response) if stream else answered(response)
    expected = cut_to(compose_reply(PROMPT), 12)
    assert usage["completion_tokens"] == 12 < natural_tokens(PROMPT)
    assert usage["total_tokens"] == usage["prompt_tokens"] + 12
    assert (thinking, text) == (expected.full_reasoning, expected.full_text)
    assert text and len(text) < len(compose_reply(PROMPT).full_text)


def test_max_tokens_below_the_reasoning_cuts_the_reasoning_too(http: httpx.Client) -> None:
    body = {"inputs": PROMPT, "model": MODEL, "completion_args": {"max_tokens": 2}}
    thinking, text, usage = answered(http.post("/v1/conversations", json=body))
    assert usage["completion_tokens"] == 2
    assert text == "" and thinking == "".join(compose_reply(PROMPT).reasoning[:2])


def test_max_tokens_from_start_applies_to_every_turn_and_is_kept(http: httpx.Client) -> None:
    conversation = start(http, completion_args={"max_tokens": 9, "temperature": 0.2})
    assert conversation["usage"]["completion_tokens"] == 9

    for stream in (False, True):
        response = http.post(
            f"/v1/conversations/{conversation['conversation_id']}",
            json={"inputs": "And another one", "stream": stream},
        )
        _, text, usage = streamed(response) if stream else answered(response)
        assert usage["completion_tokens"] == 9
        assert text == cut_to(compose_reply("And another one"), 9).full_text

    stored = http.get(f"/v1/conversations/{conversation['conversation_id']}").json()
    assert stored["completion_args"] == {"max_tokens": 9, "temperature": 0.2}


@pytest.mark.parametrize("stream", [False, True])
def test_the_requests_args_win_over_the_stored_ones_for_that_turn_only(
    http: httpx.Client, stream: bool
) -> None:
    conversation_id = start(http, completion_args={"max_tokens": 9})["conversation_id"]
    path = f"/v1/conversations/{conversation_id}"
    body = {"inputs": PROMPT, "stream": stream, "completion_args": {"max_tokens": 14}}
    _, _, usage = (streamed if stream else answered)(http.post(path, json=body))
    assert usage["completion_tokens"] == 14

    _, _, usage = answered(http.post(path, json={"inputs": PROMPT}))
    assert usage["completion_tokens"] == 9
    assert http.get(path).json()["completion_args"] == {"max_tokens": 9}


def test_empty_args_clear_the_stored_ones_for_that_turn(http: httpx.Client) -> None:
    conversation_id = start(http, completion_args={"max_tokens": 9})["conversation_id"]
    path = f"/v1/conversations/{conversation_id}"
    _, text, usage = answered(http.post(path, json={"inputs": PROMPT, "completion_args": {}}))
    assert usage["completion_tokens"] == natural_tokens(PROMPT)
    assert text == compose_reply(PROMPT).full_text
    # null is "not given": the conversation's own apply.
    _, _, usage = answered(http.post(path, json={"inputs": PROMPT, "completion_args": None}))
    assert usage["completion_tokens"] == 9


@pytest.mark.parametrize("stream", [False, True])
def test_a_restart_branch_inherits_the_args_unless_the_request_brings_its_own(
    http: httpx.Client, stream: bool
) -> None:
    conversation = start(http, completion_args={"max_tokens": 9})
    path = f"/v1/conversations/{conversation['conversation_id']}/restart"
    entry = conversation["outputs"][0]["id"]
    body = {"inputs": "Once more", "from_entry_id": entry, "stream": stream}
    inherited = http.post(path, json=body)
    _, text, usage = (streamed if stream else answered)(inherited)
    assert usage["completion_tokens"] == 9
    assert text == cut_to(compose_reply("Once more"), 9).full_text

    own = http.post(path, json=body | {"completion_args": {"max_tokens": 15}})
    _, _, usage = (streamed if stream else answered)(own)
    assert usage["completion_tokens"] == 15
    if not stream:
        branch = http.get(f"/v1/conversations/{own.json()['conversation_id']}").json()
        assert branch["completion_args"] == {"max_tokens": 9}


@pytest.mark.parametrize(
    ("args", "loc", "kind"),
    [
        ("fast", ["body", "completion_args"], "dict_type"),
        ([1], ["body", "completion_args"], "dict_type"),
        ({"temperature": "hot"}, ["body", "completion_args", "temperature"], "float_type"),
        ({"top_p": True}, ["body", "completion_args", "top_p"], "float_type"),
        ({"max_tokens": 0}, ["body", "completion_args", "max_tokens"], "greater_than"),
        ({"max_tokens": 2.5}, ["body", "completion_args", "max_tokens"], "int_type"),
        ({"max_tokens": "10"}, ["body", "completion_args", "max_tokens"], "int_type"),
    ],
)
def test_completion_args_that_do_not_validate_are_422_on_every_turn(
    http: httpx.Client, args: object, loc: list, kind: str
) -> None:
    conversation = start(http, text="Hi")
    path = f"/v1/conversations/{conversation['conversation_id']}"
    entry = conversation["outputs"][0]["id"]
    for url, body in (
        ("/v1/conversations", {"inputs": "Hi", "model": MODEL}),
        (path, {"inputs": "Hi"}),
        (path + "/restart", {"inputs": "Hi", "from_entry_id": entry}),
    ):
        response = http.post(url, json=body | {"completion_args": args})
        assert response.status_code == 422, (url, response.text)
        (problem,) = response.json()["detail"]
        assert (problem["loc"], problem["type"]) == (loc, kind)
        assert isinstance(problem["msg"], str)


def test_temperature_and_top_p_are_accepted_and_stored(http: httpx.Client) -> None:
    args = {"temperature": 0.3, "top_p": 1, "max_tokens": None, "random_seed": 7}
    conversation = start(http, text="Hi", completion_args=args)
    assert conversation["outputs"][0]["content"][1]["text"] == compose_reply("Hi").full_text
    stored = http.get(f"/v1/conversations/{conversation['conversation_id']}").json()
    assert stored["completion_args"] == args


# --- instructions ------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_instructions_are_echoed_on_start_append_and_restart(
    http: httpx.Client, stream: bool
) -> None:
    instructions = "Be brief and answer in English."
    first = start(http, instructions=instructions)
    assert first["outputs"][0]["content"][1]["text"] == (
        compose_reply(PROMPT, instructions=instructions).full_text
    )
    path = f"/v1/conversations/{first['conversation_id']}"
    response = http.post(path, json={"inputs": "Go on", "stream": stream})
    _, text, _ = (streamed if stream else answered)(response)
    assert text == compose_reply("Go on", instructions=instructions).full_text

    body = {"inputs": "Again", "from_entry_id": first["outputs"][0]["id"], "stream": stream}
    _, text, _ = (streamed if stream else answered)(http.post(path + "/restart", json=body))
    assert text == compose_reply("Again", instructions=instructions).full_text


def test_without_instructions_the_reply_is_unchanged(http: httpx.Client) -> None:
    first = start(http, instructions=None)
    assert first["outputs"][0]["content"][1]["text"] == compose_reply(PROMPT).full_text


def test_instructions_echo_is_cut_by_max_tokens_like_any_text(http: httpx.Client) -> None:
    first = start(http, instructions="Be brief.", completion_args={"max_tokens": 8})
    text = first["outputs"][0]["content"][1]["text"]
    assert text == cut_to(compose_reply(PROMPT, instructions="Be brief."), 8).full_text
    assert text.startswith("Following your") and first["usage"]["completion_tokens"] == 8


def test_a_turn_asking_to_continue_goes_on_where_max_tokens_cut_the_reply(http: httpx.Client):
    whole = compose_reply(PROMPT)
    reasoning = len(whole.reasoning)
    first = start(http, completion_args={"max_tokens": reasoning + 4})
    said = first["outputs"][-1]["content"][-1]["text"]
    assert said == "".join(whole.text[:4])
    conversation = first["conversation_id"]
    on = http.post(
        f"/v1/conversations/{conversation}",
        json={
            "inputs": "Continue exactly where you stopped.",
            "completion_args": {"max_tokens": 6},
        },
    )
    assert on.status_code == 200, on.text
    body = on.json()
    # No new plan: the text goes on, six more tokens of it, and is cut again there.
    assert body["outputs"][-1]["content"] == [{"type": "text", "text": "".join(whole.text[4:10])}]
    assert body["usage"]["completion_tokens"] == 6
    # `{}`: none of the max_tokens the conversation started with.
    rest = http.post(
        f"/v1/conversations/{conversation}", json={"inputs": "continue", "completion_args": {}}
    ).json()
    went_on = [r["outputs"][-1]["content"][0]["text"] for r in (body, rest)]
    assert said + "".join(went_on) == whole.full_text
    # Once whole, "continue" is a question like any other.
    fresh = http.post(
        f"/v1/conversations/{conversation}", json={"inputs": "continue", "completion_args": {}}
    ).json()
    assert fresh["outputs"][-1]["content"][-1]["text"] == compose_reply("continue").full_text
