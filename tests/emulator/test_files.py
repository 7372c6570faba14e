"""Files with a turn: the emulator checks them as each API does and says what it received."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from emulator.assistant import compose_reply, files_sentence

ORQ_MODEL = "openai/gpt-4o"
MISTRAL_MODEL = "mistral-small-latest"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # 1032 bytes
PNG_B64 = base64.b64encode(PNG).decode()
NOTES = b"plain notes\n" * 100  # 1200 bytes
PDF = b"%PDF-1.7\n" + b"x" * 4991  # 5000 bytes


# --- a small web server the emulator fetches links from --------------------------------------

SERVED = {
    "/notes.pdf": (200, "application/pdf; name=notes.pdf", PDF),
    "/cat.jpg": (200, "image/jpeg", b"\xff\xd8\xff" + b"j" * 97),
    "/missing": (404, "text/plain", b"gone"),
    "/moved": (302, "text/plain", b""),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, kind, body = SERVED.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if status == 302:
            self.send_header("Location", "/notes.pdf")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def unreachable() -> str:
    """A link to a port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/notes.pdf"


# --- helpers -----------------------------------------------------------------------------------


def orq_conversation(http: httpx.Client) -> str:
    return http.post("/v2/conversations", json={"projectId": "prj_files"}).json()["_id"]


def orq_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    events = [
        json.loads(block.removeprefix("data: "))
        for block in response.text.split("\n\n")
        if block and block != "data: [DONE]"
    ]
    return "".join(
        e["data"]["delta"]["text"]
        for e in events
        if e["type"] == "part.delta" and e["data"]["delta"]["kind"] == "text"
    )


def orq_file(**file: str) -> dict:
    return {"kind": "file", "file": file}


def orq_message(*parts: dict) -> dict:
    return {"role": "user", "parts": list(parts)}


def mistral_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["outputs"][-1]["content"][1]["text"]


def mistral_inputs(*chunks: dict) -> list[dict]:
    return [{"type": "message.input", "role": "user", "content": list(chunks)}]


def image_chunk(url: object) -> dict:
    return {"type": "image_url", "image_url": url}


def document_chunk(url: str, name: str | None = None) -> dict:
    return {"type": "document_url", "document_url": url, "document_name": name}


# --- the sentence ------------------------------------------------------------------------------


def test_files_sentence_names_each_file_with_its_type_and_size() -> None:
    assert files_sentence(
        [("a.png", "image/png", 1234), ("notes.pdf", "application/pdf", 5678)]
    ) == (
        "I received 2 files: a.png (image/png, 1234 bytes), "
        "notes.pdf (application/pdf, 5678 bytes)."
    )
    assert files_sentence([("x", "", 1)]) == "I received 1 file: x (1 byte)."
    assert files_sentence([("notes.pdf", "", 0, "timed out")]) == (
        "I received 1 file: notes.pdf (could not fetch it: timed out)."
    )
    assert compose_reply("Hi", files=[("a", "b/c", 3)]).full_text.startswith(
        "I received 1 file: a (b/c, 3 bytes).\n\n"
    )
    assert compose_reply("Hi", files=()) == compose_reply("Hi")


# --- Orq ---------------------------------------------------------------------------------------


def test_orq_turn_answers_about_inline_files_and_stores_them_as_received(
    http: httpx.Client,
) -> None:
    conversation = orq_conversation(http)
    parts = [
        {"kind": "text", "text": "What is in these?"},
        orq_file(bytes=PNG_B64, mimeType="image/png", name="a.png"),
        orq_file(bytes=base64.b64encode(NOTES).decode()),
    ]
    response = http.post(
        f"/v2/conversations/{conversation}/responses",
        json={"message": orq_message(*parts), "model": ORQ_MODEL},
    )
    received = [("a.png", "image/png", 1032), ("file", "", 1200)]
    assert orq_text(response) == compose_reply("What is in these?", files=received).full_text
    assert orq_text(response).startswith(
        "I received 2 files: a.png (image/png, 1032 bytes), file (1200 bytes).\n\n"
    )

    stored = http.get(f"/v2/conversations/{conversation}").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[0]["parts"] == parts


def test_orq_agent_fetches_a_uri_and_reports_its_size_and_type(
    http: httpx.Client, site: str
) -> None:
    message = orq_message(
        {"kind": "text", "text": "Summarise"},
        orq_file(uri=f"{site}/notes.pdf", mimeType="application/pdf", name="notes.pdf"),
        orq_file(uri=f"{site}/cat.jpg"),
    )
    response = http.post("/v2/agents/demo/responses", json={"message": message})
    assert response.status_code == 200, response.text
    text = response.json()["output"][-1]["parts"][0]["text"]
    received = [("notes.pdf", "application/pdf", 5000), ("file", "image/jpeg", 100)]
    assert text == compose_reply("Summarise", agent=True, files=received).full_text
    assert text.startswith(
        "I received 2 files: notes.pdf (application/pdf, 5000 bytes), "
        "file (image/jpeg, 100 bytes).\n\n"
    )


def test_orq_says_when_it_could_not_fetch_a_uri_and_still_answers(
    http: httpx.Client, site: str, unreachable: str
) -> None:
    message = orq_message(
        {"kind": "text", "text": "Read these"},
        orq_file(uri=unreachable, name="notes.pdf"),
        orq_file(uri=f"{site}/missing", name="gone.pdf"),
        orq_file(uri=f"{site}/moved", name="moved.pdf"),
    )
    response = http.post("/v2/agents/demo/responses", json={"message": message, "stream": True})
    assert orq_text(response).startswith(
        "I received 3 files: notes.pdf (could not fetch it: connection failed), "
        "gone.pdf (could not fetch it: HTTP 404), moved.pdf (could not fetch it: HTTP 302).\n\n"
    )


@pytest.mark.parametrize(
    ("file", "problem"),
    [
        ({"bytes": "not base64!", "name": "a.png"}, "message.parts[1].file.bytes is not valid"),
        ({"bytes": 12}, "message.parts[1].file.bytes must be a base64 string"),
        ({"name": "a.png"}, "message.parts[1].file must have either bytes (base64) or uri"),
        ({"bytes": PNG_B64, "uri": "https://x.test/a"}, "must have either bytes (base64) or uri"),
        ({"uri": ""}, "message.parts[1].file.uri must be a non-empty string"),
        ({"uri": "https://x.test/a", "mimeType": 3}, "message.parts[1].file.mimeType must be"),
        ("a.png", "message.parts[1].file must be an object"),
    ],
)
def test_orq_malformed_file_parts_are_400(http: httpx.Client, file: object, problem: str) -> None:
    conversation = orq_conversation(http)
    message = orq_message({"kind": "text", "text": "Hi"}, {"kind": "file", "file": file})
    for response in (
        http.post(
            f"/v2/conversations/{conversation}/responses",
            json={"message": message, "model": ORQ_MODEL},
        ),
        http.post("/v2/agents/demo/responses", json={"message": message}),
    ):
        assert response.status_code == 400
        assert set(response.json()) == {"message"}
        assert problem in response.json()["message"]
    assert http.get(f"/v2/conversations/{conversation}").json()["messages"] == []


def test_orq_directives_still_work_next_to_files(http: httpx.Client) -> None:
    conversation = orq_conversation(http)
    message = orq_message(
        {"kind": "text", "text": "[[emulator tokens=9]] Describe it"},
        orq_file(bytes=PNG_B64, mimeType="image/png", name="a.png"),
    )
    response = http.post(
        f"/v2/conversations/{conversation}/responses",
        json={"message": message, "model": ORQ_MODEL},
    )
    received = [("a.png", "image/png", 1032)]
    assert orq_text(response) == (compose_reply("Describe it", tokens=9, files=received).full_text)
    stored = http.get(f"/v2/conversations/{conversation}").json()["messages"][0]
    assert stored["parts"][0] == {"kind": "text", "text": "Describe it"}


# --- Mistral -----------------------------------------------------------------------------------


def test_mistral_answers_about_images_and_fetched_documents(http: httpx.Client, site: str) -> None:
    inputs = mistral_inputs(
        {"type": "text", "text": "Compare these"},
        image_chunk(f"data:image/png;base64,{PNG_B64}"),
        image_chunk({"url": f"data:image/gif;base64,{base64.b64encode(b'GIF89a').decode()}"}),
        image_chunk({"url": f"{site}/cat.jpg", "detail": "low"}),
        document_chunk(f"{site}/notes.pdf", "notes.pdf"),
        {"type": "document_url", "document_url": f"{site}/notes.pdf"},
    )
    response = http.post("/v1/conversations", json={"inputs": inputs, "model": MISTRAL_MODEL})
    received = [
        ("image", "image/png", 1032),
        ("image", "image/gif", 6),
        ("image", "image/jpeg", 100),
        ("notes.pdf", "application/pdf", 5000),
        ("document", "application/pdf", 5000),
    ]
    assert mistral_text(response) == compose_reply("Compare these", files=received).full_text
    assert mistral_text(response).startswith(
        "I received 5 files: image (image/png, 1032 bytes), image (image/gif, 6 bytes), "
        "image (image/jpeg, 100 bytes), notes.pdf (application/pdf, 5000 bytes), "
        "document (application/pdf, 5000 bytes).\n\n"
    )
    conversation = response.json()["conversation_id"]
    history = http.get(f"/v1/conversations/{conversation}/history").json()["entries"]
    assert history[0]["content"] == inputs[0]["content"]


def test_mistral_append_and_restart_answer_about_the_files_of_the_last_message(
    http: httpx.Client, site: str, unreachable: str
) -> None:
    first = http.post(
        "/v1/conversations",
        json={
            "inputs": [
                {"type": "message.input", "role": "user", "content": "Earlier"},
                *mistral_inputs(document_chunk(f"{site}/notes.pdf", "notes.pdf")),
            ],
            "model": MISTRAL_MODEL,
        },
    )
    # No text at all: the prompt is empty, the files are what it is about.
    assert (
        mistral_text(first)
        == compose_reply("", files=[("notes.pdf", "application/pdf", 5000)]).full_text
    )
    conversation = first.json()["conversation_id"]

    appended = http.post(
        f"/v1/conversations/{conversation}",
        json={
            "inputs": mistral_inputs(
                {"type": "text", "text": "And this?"}, document_chunk(unreachable, "notes.pdf")
            ),
            "stream": True,
        },
    )
    assert appended.status_code == 200
    deltas = [
        json.loads(block.split("\n")[1].removeprefix("data: "))
        for block in appended.text.split("\n\n")
        if block
    ]
    text = "".join(
        e["content"]
        for e in deltas
        if e["type"] == "message.output.delta" and isinstance(e["content"], str)
    )
    failed = [("notes.pdf", "", 0, "connection failed")]
    assert text == compose_reply("And this?", files=failed).full_text
    assert text.startswith("I received 1 file: notes.pdf (could not fetch it: connection failed).")

    history = http.get(f"/v1/conversations/{conversation}/history").json()["entries"]
    restarted = http.post(
        f"/v1/conversations/{conversation}/restart",
        json={
            "inputs": mistral_inputs(
                {"type": "text", "text": "Again"}, image_chunk(f"data:image/png;base64,{PNG_B64}")
            ),
            "from_entry_id": history[2]["id"],
        },
    )
    again = [("image", "image/png", 1032)]
    assert mistral_text(restarted) == compose_reply("Again", files=again).full_text
    # Plain text turns are answered as they always were.
    plain = http.post(f"/v1/conversations/{conversation}", json={"inputs": "Thanks"})
    assert mistral_text(plain) == compose_reply("Thanks").full_text


@pytest.mark.parametrize(
    ("chunk", "loc", "kind"),
    [
        (image_chunk("data:image/png;base64,@@@"), [1, "image_url"], "value_error"),
        (image_chunk({"url": "data:image/png,raw"}), [1, "image_url", "url"], "value_error"),
        (image_chunk({"detail": "low"}), [1, "image_url", "url"], "missing"),
        (image_chunk(None), [1, "image_url"], "missing"),
        (image_chunk("ftp://x.test/a.png"), [1, "image_url"], "url_scheme"),
        ({"type": "document_url", "document_name": "a.pdf"}, [1, "document_url"], "missing"),
        (document_chunk(7), [1, "document_url"], "string_type"),
        ({"type": "text", "text": None}, [1, "text"], "string_type"),
        ("a chunk", [1], "dict_type"),
    ],
)
def test_mistral_malformed_chunks_are_422(
    http: httpx.Client, chunk: object, loc: list, kind: str
) -> None:
    inputs = mistral_inputs({"type": "text", "text": "Hi"}, chunk)
    response = http.post("/v1/conversations", json={"inputs": inputs, "model": MISTRAL_MODEL})
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", "inputs", 0, "content", *loc]
    assert detail["type"] == kind
    assert isinstance(detail["msg"], str) and detail["msg"]


def test_mistral_directives_still_work_next_to_files(http: httpx.Client) -> None:
    inputs = mistral_inputs(
        {"type": "text", "text": "[[emulator tokens=7]] Describe it"},
        image_chunk(f"data:image/png;base64,{PNG_B64}"),
    )
    response = http.post("/v1/conversations", json={"inputs": inputs, "model": MISTRAL_MODEL})
    received = [("image", "image/png", 1032)]
    assert mistral_text(response) == (
        compose_reply("Describe it", tokens=7, files=received).full_text
    )
    refused = http.post(
        "/v1/conversations",
        json={
            "inputs": mistral_inputs({"type": "text", "text": "[[emulator status=503]] Hi"}),
            "model": MISTRAL_MODEL,
        },
    )
    assert refused.status_code == 503
