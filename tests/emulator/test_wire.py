"""Raw HTTP against the live emulator: framing, exact paths, error bodies and every knob."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from emulator.agents import MISTRAL_AGENT_ID, ORQ_AGENT_KEY
from emulator.assistant import compose_reply

MODEL = "openai/gpt-4o"


def orq_conversation(http: httpx.Client) -> str:
    return http.post("/v2/conversations", json={"projectId": "prj_wire"}).json()["_id"]


def orq_turn_body(text: str, **extra: object) -> dict:
    return {
        "message": {"role": "user", "parts": [{"kind": "text", "text": text}]},
        "model": MODEL,
    } | extra


def blocks(body: str) -> list[str]:
    """SSE blocks (what lies between blank lines), in order."""
    return [block for block in body.split("\n\n") if block]


def orq_events(body: str) -> list[dict]:
    return [json.loads(b.removeprefix("data: ")) for b in blocks(body) if b != "data: [DONE]"]


def mistral_events(body: str) -> list[dict]:
    return [json.loads(b.split("\n")[1].removeprefix("data: ")) for b in blocks(body)]


def text_of(events: list[dict]) -> str:
    return "".join(
        e["data"]["delta"]["text"]
        for e in events
        if e["type"] == "part.delta" and e["data"]["delta"]["kind"] == "text"
    )


# --- framing -------------------------------------------------------------------------------------


def test_orq_stream_is_data_only_json_ending_with_done(http: httpx.Client) -> None:
    conversation = orq_conversation(http)
    response = http.post(f"/v2/conversations/{conversation}/responses", json=orq_turn_body("Hi"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("\n\ndata: [DONE]\n\n")
    sent = blocks(response.text)
    assert all(block.startswith("data: ") and "\n" not in block for block in sent)
    events = orq_events(response.text)
    assert len(events) == len(sent) - 1
    assert all(set(e) == {"type", "timestamp", "data"} for e in events)
    assert events[0]["type"] == "response.started"
    assert events[-1]["type"] == "response.done"
    assert events[0]["timestamp"].endswith("Z")
    assert text_of(events) == compose_reply("Hi").full_text


def test_mistral_stream_has_event_lines_and_ends_by_closing(http: httpx.Client) -> None:
    body = {"inputs": "Hi", "model": "mistral-small-latest", "stream": True}
    response = http.post("/v1/conversations", json=body)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "[DONE]" not in response.text
    for block in blocks(response.text):
        event_line, data_line = block.split("\n")
        assert (
            event_line.removeprefix("event: ")
            == json.loads(data_line.removeprefix("data: "))["type"]
        )
    events = mistral_events(response.text)
    assert events[0]["type"] == "conversation.response.started"
    assert events[-1]["type"] == "conversation.response.done"
    assert all("created_at" in e for e in events)


# --- paths, auth and error bodies ----------------------------------------------------------------


def test_orq_list_needs_its_trailing_slash_and_other_paths_refuse_one(http: httpx.Client) -> None:
    assert http.get("/v2/conversations/").status_code == 200
    without_slash = http.get("/v2/conversations")
    assert without_slash.status_code == 404
    assert "message" in without_slash.json()
    assert http.post("/v2/conversations/", json={"projectId": "p"}).status_code == 404
    conversation = orq_conversation(http)
    assert http.get(f"/v2/conversations/{conversation}/").status_code == 404
    assert http.get("/v1/conversations/").status_code == 404


def test_unknown_paths_are_404_in_each_providers_shape(http: httpx.Client) -> None:
    assert set(http.get("/v2/nothing-here").json()) == {"message"}
    assert set(http.get("/v1/nothing-here").json()) == {"detail"}
    assert http.get("/").status_code == 404


def test_unknown_ids_are_404_in_each_providers_shape(http: httpx.Client) -> None:
    orq_missing = "/v2/conversations/conv_01kfd2m7q8c3v9x4y5z6a7b8c9"
    for response in (
        http.get(orq_missing),
        http.patch(orq_missing, json={"displayName": "x"}),
        http.delete(orq_missing),
        http.post(orq_missing + "/generate-name", json={"context": "x"}),
        http.post(orq_missing + "/responses", json=orq_turn_body("x")),
        http.post(
            "/v2/agents/demo/responses", json=orq_turn_body("x", conversation={"_id": "conv_x"})
        ),
    ):
        assert response.status_code == 404
        assert response.json() == {"message": "Conversation not found"}
    mistral_missing = "/v1/conversations/conv_0194d3e0c7a47f1e8000a1b2c3d4e5f6"
    for response in (
        http.get(mistral_missing),
        http.delete(mistral_missing),
        http.get(mistral_missing + "/history"),
        http.get(mistral_missing + "/messages"),
        http.post(mistral_missing, json={"inputs": "x"}),
        http.post(mistral_missing + "/restart", json={"inputs": "x", "from_entry_id": "msg_x"}),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "Conversation not found"}


def test_orq_bodies_that_do_not_validate_are_400_with_a_message(http: httpx.Client) -> None:
    missing_project = http.post("/v2/conversations", json={"displayName": "No project"})
    assert missing_project.status_code == 400
    assert missing_project.json() == {"message": "projectId is required"}
    conversation = orq_conversation(http)
    no_model = http.post(
        f"/v2/conversations/{conversation}/responses",
        json={"message": {"role": "user", "parts": [{"kind": "text", "text": "Hi"}]}},
    )
    assert no_model.status_code == 400
    assert no_model.json() == {"message": "model is required"}
    too_many = http.get("/v2/conversations/", params={"limit": 101})
    assert too_many.status_code == 400
    assert "limit" in too_many.json()["message"]


def test_mistral_bodies_that_do_not_validate_are_422_validation_errors(http: httpx.Client) -> None:
    no_inputs = http.post("/v1/conversations", json={"model": "mistral-small-latest"})
    assert no_inputs.status_code == 422
    assert no_inputs.json() == {
        "detail": [{"loc": ["body", "inputs"], "msg": "Field required", "type": "missing"}]
    }
    bad_page = http.get("/v1/conversations", params={"page": "first"})
    assert bad_page.status_code == 422
    assert bad_page.json()["detail"][0]["loc"] == ["query", "page"]
    unknown_agent = http.post("/v1/conversations", json={"inputs": "Hi", "agent_id": "ag_nobody"})
    assert unknown_agent.status_code == 404
    assert "detail" in unknown_agent.json()


@pytest.mark.parametrize("authorization", [None, "Bearer", "Basic a2V5", "k"])
@pytest.mark.parametrize(
    ("path", "shape"), [("/v2/conversations/", "message"), ("/v1/conversations", "detail")]
)
def test_requests_without_a_bearer_token_are_401(
    emulator_url: str, authorization: str | None, path: str, shape: str
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = httpx.get(emulator_url + path, headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {shape}


# --- knobs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "shape"), [("/v2/conversations/", "message"), ("/v1/conversations", "detail")]
)
def test_status_knob_from_the_header_answers_the_providers_error(
    http: httpx.Client, path: str, shape: str
) -> None:
    response = http.get(path, headers={"X-Emulator": "status=503; retry_after=2"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert set(response.json()) == {shape}


def test_mistral_status_422_knob_has_the_validation_error_shape(http: httpx.Client) -> None:
    response = http.get("/v1/conversations", headers={"X-Emulator": "status=422"})
    assert response.status_code == 422
    assert {"loc", "msg", "type"} <= set(response.json()["detail"][0])


def test_invalid_knobs_are_rejected_naming_the_knob(http: httpx.Client) -> None:
    orq = http.get("/v2/conversations/", headers={"X-Emulator": "status=abc"})
    assert orq.status_code == 400
    assert "'status'" in orq.json()["message"]
    mistral = http.get("/v1/conversations", headers={"X-Emulator": "tokens=0"})
    assert mistral.status_code == 422
    assert mistral.json()["detail"][0]["loc"] == ["header", "x-emulator", "tokens"]
    conversation = orq_conversation(http)
    directive = http.post(
        f"/v2/conversations/{conversation}/responses",
        json=orq_turn_body("Hi [[emulator break_after=-1]]"),
    )
    assert directive.status_code == 400
    assert "'break_after'" in directive.json()["message"]
    unknown = http.get("/v2/conversations/", headers={"X-Emulator": "explode=1"})
    assert "'explode'" in unknown.json()["message"]


def test_directive_is_removed_from_the_stored_text_and_beats_the_header(http: httpx.Client) -> None:
    conversation = orq_conversation(http)
    response = http.post(
        f"/v2/conversations/{conversation}/responses",
        json=orq_turn_body("Hello [[emulator tokens=3]] world"),
        headers={"X-Emulator": "tokens=7"},
    )
    reply = compose_reply("Hello world", tokens=3)
    assert len(reply.text) == 3
    assert text_of(orq_events(response.text)) == reply.full_text
    messages = http.get(f"/v2/conversations/{conversation}").json()["messages"]
    assert messages[0]["parts"] == [{"kind": "text", "text": "Hello world"}]
    assert messages[1]["parts"] == [{"kind": "text", "text": reply.full_text}]


def test_mistral_directive_sets_status_and_is_never_stored(http: httpx.Client) -> None:
    failed = http.post(
        "/v1/conversations",
        json={"inputs": "Hi [[emulator status=429 retry_after=0.5]]", "model": "m"},
    )
    assert failed.status_code == 429
    assert failed.headers["retry-after"] == "0.5"
    started = http.post(
        "/v1/conversations", json={"inputs": "[[emulator tokens=2]]\nPlain question", "model": "m"}
    ).json()
    history = http.get(f"/v1/conversations/{started['conversation_id']}/history").json()
    assert history["entries"][0]["content"] == "Plain question"
    assert (
        history["entries"][1]["content"][1]["text"]
        == compose_reply("Plain question", tokens=2).full_text
    )


def test_server_wide_fault_fails_only_the_first_request(flaky_emulator_url: str) -> None:
    headers = {"Authorization": "Bearer k"}
    first = httpx.get(flaky_emulator_url + "/v2/conversations/", headers=headers)
    assert first.status_code == 503
    assert first.headers["retry-after"] == "1"
    assert "message" in first.json()
    second = httpx.get(flaky_emulator_url + "/v2/conversations/", headers=headers)
    assert second.status_code == 200


@pytest.mark.parametrize("provider", ["orq", "mistral"])
def test_break_after_drops_the_connection_without_a_terminator(
    http: httpx.Client, provider: str
) -> None:
    if provider == "orq":
        path, body = f"/v2/conversations/{orq_conversation(http)}/responses", orq_turn_body("Hi")
    else:
        path, body = "/v1/conversations", {"inputs": "Hi", "model": "m", "stream": True}
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with http.stream("POST", path, json=body, headers={"X-Emulator": "break_after=3"}) as r:
            assert r.status_code == 200
            for chunk in r.iter_bytes():
                received += chunk
    text = received.decode()
    assert len(blocks(text)) == 3
    assert "[DONE]" not in text
    assert "response.done" not in text


def test_malformed_at_sends_one_event_that_is_not_json(http: httpx.Client) -> None:
    conversation = orq_conversation(http)
    response = http.post(
        f"/v2/conversations/{conversation}/responses",
        json=orq_turn_body("Hi"),
        headers={"X-Emulator": "malformed_at=2"},
    )
    sent = blocks(response.text)
    assert sent[-1] == "data: [DONE]"
    broken = sent[1].removeprefix("data: ")
    assert broken.startswith('{"type":"part.delta"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)
    for block in sent[:1] + sent[2:-1]:
        json.loads(block.removeprefix("data: "))


def test_fail_at_ends_orq_with_response_failed_then_done(http: httpx.Client) -> None:
    conversation = orq_conversation(http)
    response = http.post(
        f"/v2/conversations/{conversation}/responses",
        json=orq_turn_body("Hi"),
        headers={"X-Emulator": "fail_at=4"},
    )
    assert response.status_code == 200
    assert blocks(response.text)[-1] == "data: [DONE]"
    events = orq_events(response.text)
    assert len(events) == 4
    assert events[-1]["type"] == "response.failed"
    assert set(events[-1]["data"]) == {"error", "code"}
    stored = http.get(f"/v2/conversations/{conversation}").json()["messages"]
    assert stored[1]["role"] == "assistant"
    assert stored[1]["parts"][0]["kind"] == "error"


def test_fail_at_ends_mistral_with_response_error(http: httpx.Client) -> None:
    body = {"inputs": "Hi", "model": "m", "stream": True}
    response = http.post("/v1/conversations", json=body, headers={"X-Emulator": "fail_at=2"})
    events = mistral_events(response.text)
    assert [e["type"] for e in events] == [
        "conversation.response.started",
        "conversation.response.error",
    ]
    assert isinstance(events[1]["message"], str) and isinstance(events[1]["code"], int)


def test_first_byte_delay_holds_back_the_headers(http: httpx.Client) -> None:
    began = time.monotonic()
    with http.stream("GET", "/v1/conversations", headers={"X-Emulator": "first_byte_delay=0.3"}):
        assert time.monotonic() - began >= 0.3


def test_first_event_delay_holds_back_the_first_event(http: httpx.Client) -> None:
    body = {"inputs": "Hi", "model": "m", "stream": True}
    began = time.monotonic()
    with http.stream(
        "POST", "/v1/conversations", json=body, headers={"X-Emulator": "first_event_delay=0.4"}
    ) as response:
        headers_after = time.monotonic() - began
        next(response.iter_lines())
        first_event_after = time.monotonic() - began
    assert headers_after < 0.3
    assert first_event_after >= 0.4


def test_tokens_per_second_paces_the_deltas(http: httpx.Client) -> None:
    conversation = orq_conversation(http)
    arrivals = []
    began = time.monotonic()
    with http.stream(
        "POST",
        f"/v2/conversations/{conversation}/responses",
        json=orq_turn_body("Pace me"),
        headers={"X-Emulator": "tokens_per_second=20; tokens=10"},
    ) as response:
        for line in response.iter_lines():
            if '"kind":"text"' in line and '"part.delta"' in line:
                arrivals.append(time.monotonic())
    assert time.monotonic() - began >= 0.4
    assert len(arrivals) == 10
    # Ten deltas at 20 per second: spread over about 0.45 s, not sent in one burst.
    assert arrivals[-1] - arrivals[0] >= 0.3


def test_sync_turn_takes_the_paced_time(http: httpx.Client) -> None:
    reply = compose_reply("Take it slow", tokens=10)
    began = time.monotonic()
    response = http.post(
        "/v1/conversations",
        json={"inputs": "Take it slow", "model": "m"},
        headers={"X-Emulator": "tokens_per_second=100; tokens=10"},
    )
    assert response.status_code == 200
    assert time.monotonic() - began >= 0.9 * (len(reply.reasoning) + len(reply.text)) / 100


def test_a_client_leaving_mid_stream_frees_the_task_and_the_reply_is_still_stored(
    http: httpx.Client,
) -> None:
    conversation = orq_conversation(http)
    with http.stream(
        "POST",
        f"/v2/conversations/{conversation}/responses",
        json=orq_turn_body("Leave early"),
        headers={"X-Emulator": "tokens_per_second=10"},
    ) as response:
        started = json.loads(next(response.iter_lines()).removeprefix("data: "))
    task = started["data"]["taskId"]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        messages = http.get(f"/v2/conversations/{conversation}").json()["messages"]
        if len(messages) == 2:
            break
        time.sleep(0.05)
    assert messages[1]["parts"] == [
        {"kind": "text", "text": compose_reply("Leave early").full_text}
    ]
    again = http.post(
        f"/v2/conversations/{conversation}/responses",
        json=orq_turn_body("Back again", task_id=task),
    )
    assert again.status_code == 200


def test_orq_freeform_turn_without_streaming_answers_json(http: httpx.Client) -> None:
    conversation = orq_conversation(http)
    response = http.post(
        f"/v2/conversations/{conversation}/responses", json=orq_turn_body("Hi", stream=False)
    )
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["output"][-1]["parts"] == [
        {"kind": "text", "text": compose_reply("Hi").full_text}
    ]
    assert answer["usage"]["total_tokens"] == compose_reply("Hi").usage.total_tokens


# --- agents --------------------------------------------------------------------------------------


def test_agent_task_still_running_is_409(http: httpx.Client) -> None:
    body = orq_turn_body("Long job", background=True)
    began = time.monotonic()
    accepted = http.post(
        f"/v2/agents/{ORQ_AGENT_KEY}/responses",
        json=body,
        headers={"X-Emulator": "tokens_per_second=10; tokens=30"},
    )
    assert time.monotonic() - began < 1
    assert accepted.status_code == 200
    assert accepted.json()["output"] == []
    task = accepted.json()["task_id"]
    again = http.post(
        f"/v2/agents/{ORQ_AGENT_KEY}/responses", json=orq_turn_body("More", task_id=task)
    )
    assert again.status_code == 409
    assert set(again.json()) == {"message"}


def test_agent_format_follows_the_body_stream_flag_not_accept(http: httpx.Client) -> None:
    path = f"/v2/agents/{ORQ_AGENT_KEY}/responses"
    streamed = http.post(
        path,
        json=orq_turn_body("Hi", stream=True),
        headers={"Accept": "application/json;q=1, text/event-stream;q=0"},
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert blocks(streamed.text)[-1] == "data: [DONE]"
    sync = http.post(path, json=orq_turn_body("Hi"), headers={"Accept": "text/event-stream"})
    assert sync.headers["content-type"] == "application/json"
    assert (
        sync.json()["output"][-1]["parts"][0]["text"] == compose_reply("Hi", agent=True).full_text
    )


def test_mistral_agent_conversation_history_includes_the_tool_execution(http: httpx.Client) -> None:
    started = http.post(
        "/v1/conversations", json={"inputs": "Hi", "agent_id": MISTRAL_AGENT_ID}
    ).json()
    history = http.get(f"/v1/conversations/{started['conversation_id']}/history").json()
    assert [e["type"] for e in history["entries"]] == [
        "message.input",
        "tool.execution",
        "message.output",
    ]
