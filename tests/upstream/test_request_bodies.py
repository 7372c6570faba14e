"""What our clients put on the wire for a turn: exactly the fields given, nothing unasked."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from upstream.mistral import MistralClient
from upstream.orq import OrqClient
from upstream.types import OutgoingFile

MISTRAL_ANSWER = {
    "object": "conversation.response",
    "conversation_id": "conv_1",
    "outputs": [
        {
            "object": "entry",
            "type": "message.output",
            "id": "msg_1",
            "created_at": "2026-01-20T10:15:30Z",
            "role": "assistant",
            "content": "Hi",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
MISTRAL_STREAM = "".join(
    f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"
    for e in (
        {"type": "conversation.response.started", "conversation_id": "conv_1"},
        {"type": "conversation.response.done", "usage": {"total_tokens": 0}},
    )
)
ORQ_ANSWER = {
    "_id": "resp_1",
    "task_id": "TASK1",
    "created_at": "2026-01-20T10:15:31.000Z",
    "model": "openai/gpt-4o",
    "output": [{"messageId": "m1", "role": "agent", "parts": [{"kind": "text", "text": "Hi"}]}],
    "usage": None,
}
ORQ_STREAM = "".join(
    f"data: {json.dumps(e)}\n\n"
    for e in (
        {"type": "response.started", "timestamp": "t", "data": {"taskId": "TASK1"}},
        {"type": "response.done", "timestamp": "t", "data": {"finishReason": "stop"}},
    )
) + ("data: [DONE]\n\n")


class Recorder:
    """A MockTransport handler that keeps each request's JSON body and answers like the API."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        orq = request.url.host == "orq.test"
        if body.get("stream"):
            stream = ORQ_STREAM if orq else MISTRAL_STREAM
            return httpx.Response(
                200, headers={"content-type": "text/event-stream"}, content=stream.encode()
            )
        return httpx.Response(200, json=ORQ_ANSWER if orq else MISTRAL_ANSWER)

    @property
    def last(self) -> dict:
        return self.bodies[-1]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mistral(recorder: Recorder) -> MistralClient:
    return MistralClient(
        api_key="k", base_url="https://mistral.test", transport=httpx.MockTransport(recorder)
    )


@pytest.fixture
def orq(recorder: Recorder) -> OrqClient:
    return OrqClient(
        api_key="k",
        base_url="https://orq.test",
        project_id="p",
        transport=httpx.MockTransport(recorder),
    )


async def drain(opened) -> None:
    async with opened as events:
        async for _ in events:
            pass


# --- Mistral -----------------------------------------------------------------------------------


async def test_mistral_start_sends_instructions_and_completion_args_with_a_model(mistral, recorder):
    args = {"temperature": 0.3, "max_tokens": 200}
    await mistral.start(text="Hi", model="m", instructions="Be brief.", completion_args=args)
    await drain(
        mistral.stream_start(text="Hi", model="m", instructions="Be brief.", completion_args=args)
    )
    for body, stream in zip(recorder.bodies, (False, True), strict=True):
        assert body == {
            "inputs": "Hi",
            "stream": stream,
            "store": True,
            "model": "m",
            "instructions": "Be brief.",
            "completion_args": args,
        }


async def test_mistral_start_leaves_out_what_was_not_given(mistral, recorder):
    await mistral.start(text="Hi", model="m")
    assert recorder.last == {"inputs": "Hi", "stream": False, "store": True, "model": "m"}


async def test_mistral_start_with_an_agent_never_sends_instructions(mistral, recorder):
    await mistral.start(text="Hi", agent_id="ag_1", instructions="Be brief.")
    await drain(mistral.stream_start(text="Hi", agent_id="ag_1", instructions="Be brief."))
    for body in recorder.bodies:
        assert "instructions" not in body and "model" not in body
        assert body["agent_id"] == "ag_1"


async def test_mistral_append_sends_completion_args_only_when_given(mistral, recorder):
    base = {"inputs": "More", "store": True, "handoff_execution": "server"}
    await mistral.append("conv_1", text="More")
    assert recorder.last == base | {"stream": False}
    await mistral.append("conv_1", text="More", completion_args={"max_tokens": 5})
    assert recorder.last == base | {"stream": False, "completion_args": {"max_tokens": 5}}
    # An empty object is sent: it clears the parameters the conversation was started with.
    await drain(mistral.stream_append("conv_1", text="More", completion_args={}))
    assert recorder.last == base | {"stream": True, "completion_args": {}}
    await drain(mistral.stream_append("conv_1", text="More"))
    assert recorder.last == base | {"stream": True}


async def test_mistral_restart_sends_completion_args_only_when_given(mistral, recorder):
    base = {
        "inputs": "Again",
        "from_entry_id": "msg_1",
        "store": True,
        "handoff_execution": "server",
    }
    await mistral.restart("conv_1", from_entry_id="msg_1", text="Again")
    assert recorder.last == base | {"stream": False}
    await mistral.restart(
        "conv_1", from_entry_id="msg_1", text="Again", completion_args={"top_p": 0.5}
    )
    assert recorder.last == base | {"stream": False, "completion_args": {"top_p": 0.5}}
    await drain(
        mistral.stream_restart("conv_1", from_entry_id="msg_1", text="Again", completion_args={})
    )
    assert recorder.last == base | {"stream": True, "completion_args": {}}
    assert "instructions" not in recorder.last


# --- Orq ---------------------------------------------------------------------------------------


CONTEXT = {
    "variables": {"customer_name": "Jane"},
    "memory": {"entity_id": "user_42"},
    "thread": {"id": "thread_1", "tags": ["support"]},
    "metadata": {"source": "web"},
}


async def test_orq_agent_turn_sends_variables_memory_thread_and_metadata(orq, recorder):
    await orq.agent_response("demo", text="Hi", **CONTEXT)
    assert recorder.last == {
        "message": {"role": "user", "parts": [{"kind": "text", "text": "Hi"}]},
        "stream": False,
        "background": False,
        **CONTEXT,
    }
    await drain(orq.stream_agent_response("demo", text="Hi", task_id="TASK1", **CONTEXT))
    assert recorder.last == {
        "message": {"role": "user", "parts": [{"kind": "text", "text": "Hi"}]},
        "stream": True,
        "task_id": "TASK1",
        **CONTEXT,
    }


async def test_orq_agent_turn_leaves_out_what_was_not_given(orq, recorder):
    await orq.agent_response("demo", text="Hi")
    await orq.agent_response("demo", text="Hi", variables={}, metadata={}, memory=None)
    await drain(orq.stream_agent_response("demo", text="Hi"))
    for body in recorder.bodies:
        assert set(body) <= {"message", "stream", "background"}


async def test_orq_freeform_turns_send_the_model_every_time(orq, recorder):
    await drain(orq.stream_response("conv_1", text="One", model="openai/gpt-4o"))
    await drain(orq.stream_response("conv_1", text="Two", model="openai/gpt-4o", task_id="T1"))
    assert [body["model"] for body in recorder.bodies] == ["openai/gpt-4o", "openai/gpt-4o"]
    assert recorder.last["task_id"] == "T1"
    assert not {"variables", "memory", "thread", "metadata"} & set(recorder.last)


# --- Files -------------------------------------------------------------------------------------

PNG = OutgoingFile(name="a.png", mime="image/png", data=b"\x89PNG-bytes")
PNG_B64 = base64.b64encode(b"\x89PNG-bytes").decode()
PDF_LINK = OutgoingFile(
    name="notes.pdf", mime="application/pdf", url="https://webchat.test/files/link/t0k"
)
PDF_BYTES = OutgoingFile(name="notes.pdf", mime="application/pdf", data=b"%PDF-1.7")

ORQ_FILE_PARTS = [
    {"kind": "file", "file": {"bytes": PNG_B64, "mimeType": "image/png", "name": "a.png"}},
    {
        "kind": "file",
        "file": {
            "uri": "https://webchat.test/files/link/t0k",
            "mimeType": "application/pdf",
            "name": "notes.pdf",
        },
    },
]


async def test_orq_freeform_turn_sends_files_as_file_parts_after_the_text(orq, recorder):
    await drain(
        orq.stream_response("conv_1", text="Look", model="m", files=[PNG, PDF_LINK], task_id="T")
    )
    assert recorder.last == {
        "message": {"role": "user", "parts": [{"kind": "text", "text": "Look"}, *ORQ_FILE_PARTS]},
        "model": "m",
        "stream": True,
        "task_id": "T",
    }
    # No text: the files alone.
    await drain(orq.stream_response("conv_1", text="", model="m", files=[PNG]))
    assert recorder.last["message"]["parts"] == ORQ_FILE_PARTS[:1]
    # No files: the text part stays, even empty, as before.
    await drain(orq.stream_response("conv_1", text="", model="m"))
    assert recorder.last["message"]["parts"] == [{"kind": "text", "text": ""}]


async def test_orq_agent_turns_send_files_as_file_parts(orq, recorder):
    await orq.agent_response("demo", text="Look", files=[PNG, PDF_LINK])
    assert recorder.last == {
        "message": {"role": "user", "parts": [{"kind": "text", "text": "Look"}, *ORQ_FILE_PARTS]},
        "stream": False,
        "background": False,
    }
    await drain(orq.stream_agent_response("demo", text="", files=[PDF_LINK], **CONTEXT))
    assert recorder.last == {
        "message": {"role": "user", "parts": ORQ_FILE_PARTS[1:]},
        "stream": True,
        **CONTEXT,
    }


async def test_orq_sends_bytes_when_a_file_has_both_and_refuses_one_with_neither(orq, recorder):
    both = OutgoingFile(name="a.png", mime="image/png", data=b"\x89PNG-bytes", url="https://x/y")
    await orq.agent_response("demo", text="", files=[both])
    assert recorder.last["message"]["parts"] == ORQ_FILE_PARTS[:1]
    with pytest.raises(ValueError, match="neither"):
        await orq.agent_response("demo", text="Hi", files=[OutgoingFile(name="x", mime="a/b")])


MISTRAL_TEXT = {"type": "text", "text": "Look"}
MISTRAL_IMAGE = {"type": "image_url", "image_url": f"data:image/png;base64,{PNG_B64}"}
MISTRAL_DOCUMENT = {
    "type": "document_url",
    "document_url": "https://webchat.test/files/link/t0k",
    "document_name": "notes.pdf",
}


def mistral_user_entry(*chunks: dict) -> dict:
    return {"object": "entry", "type": "message.input", "role": "user", "content": list(chunks)}


async def test_mistral_start_sends_files_as_one_entry_of_chunks(mistral, recorder):
    await mistral.start(text="Look", model="m", files=[PNG, PDF_LINK])
    await drain(mistral.stream_start(text="Look", model="m", files=[PNG, PDF_LINK]))
    for body, stream in zip(recorder.bodies, (False, True), strict=True):
        assert body == {
            "inputs": [mistral_user_entry(MISTRAL_TEXT, MISTRAL_IMAGE, MISTRAL_DOCUMENT)],
            "stream": stream,
            "store": True,
            "model": "m",
        }
    await mistral.start(text="", agent_id="ag_1", files=[PNG])
    assert recorder.last["inputs"] == [mistral_user_entry(MISTRAL_IMAGE)]


async def test_mistral_start_with_history_puts_the_files_on_the_last_entry(mistral, recorder):
    history = [("user", "Hi"), ("assistant", "Hello.")]
    await mistral.start(text="Look", model="m", history=history, files=[PNG])
    assert recorder.last["inputs"] == [
        {"object": "entry", "type": "message.input", "role": "user", "content": "Hi"},
        {"object": "entry", "type": "message.output", "role": "assistant", "content": "Hello."},
        mistral_user_entry(MISTRAL_TEXT, MISTRAL_IMAGE),
    ]
    # Without files the last turn stays a text entry, as before.
    await drain(mistral.stream_start(text="Look", model="m", history=history))
    assert recorder.last["inputs"][-1] == {
        "object": "entry",
        "type": "message.input",
        "role": "user",
        "content": "Look",
    }


async def test_mistral_append_and_restart_send_files_as_chunks(mistral, recorder):
    base = {"store": True, "handoff_execution": "server"}
    inputs = [mistral_user_entry(MISTRAL_TEXT, MISTRAL_DOCUMENT)]
    await mistral.append("conv_1", text="Look", files=[PDF_LINK])
    assert recorder.last == base | {"inputs": inputs, "stream": False}
    await drain(mistral.stream_append("conv_1", text="Look", files=[PDF_LINK], completion_args={}))
    assert recorder.last == base | {"inputs": inputs, "stream": True, "completion_args": {}}
    restart = base | {"inputs": inputs, "from_entry_id": "msg_1"}
    await mistral.restart("conv_1", from_entry_id="msg_1", text="Look", files=[PDF_LINK])
    assert recorder.last == restart | {"stream": False}
    await drain(
        mistral.stream_restart("conv_1", from_entry_id="msg_1", text="Look", files=[PDF_LINK])
    )
    assert recorder.last == restart | {"stream": True}


async def test_mistral_refuses_a_document_without_a_url(mistral, recorder):
    with pytest.raises(ValueError, match=r"notes\.pdf"):
        await mistral.start(text="Look", model="m", files=[PDF_BYTES])
    with pytest.raises(ValueError, match=r"notes\.pdf"):
        await mistral.append("conv_1", text="Look", files=[PNG, PDF_BYTES])
    with pytest.raises(ValueError, match=r"notes\.pdf"):
        await drain(
            mistral.stream_restart("conv_1", from_entry_id="msg_1", text="x", files=[PDF_BYTES])
        )
    assert recorder.bodies == []
