"""File parts read back from each provider's history carry what an import shows."""

from __future__ import annotations

import base64

from emulator.assistant import compose_reply
from upstream.mistral import fold_entries
from upstream.orq import parse_message
from upstream.types import FilePart, OutgoingFile, TextDelta, TextPart

from .conftest import collect

B64 = "iVBORw0KGgo="
EARLIER = (("user", "Hi"), ("assistant", "Hello."))


def test_orq_stored_file_parts_keep_name_type_and_bytes_or_uri() -> None:
    message = parse_message(
        {
            "_id": "msg_1",
            "role": "user",
            "createdAt": 1768903200500,
            "parts": [
                {"kind": "text", "text": "Look"},
                {"kind": "file", "file": {"bytes": B64, "mimeType": "image/png", "name": "a.png"}},
                {"kind": "file", "file": {"uri": "https://x.test/n.pdf", "name": "n.pdf"}},
                # The streamed, tagged form reads the same.
                {"kind": "file", "file": {"type": "bytes", "bytes": B64, "mimeType": "image/png"}},
            ],
        }
    )
    assert message.parts == (
        TextPart("Look"),
        FilePart(data=B64, mime="image/png", name="a.png"),
        FilePart(uri="https://x.test/n.pdf", name="n.pdf"),
        FilePart(data=B64, mime="image/png"),
    )


def test_mistral_image_and_document_chunks_become_file_parts() -> None:
    entries = [
        {
            "object": "entry",
            "type": "message.input",
            "id": "msg_1",
            "created_at": "2026-01-20T10:15:30Z",
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": f"data:image/png;base64,{B64}"},
                {"type": "image_url", "image_url": {"url": "https://x.test/c.jpg", "detail": None}},
                {"type": "image_url", "image_url": "data:image/png;base64,@@not base64@@"},
                {"type": "document_url", "document_url": "https://x.test/n.pdf"},
                {
                    "type": "document_url",
                    "document_url": "https://x.test/m.pdf",
                    "document_name": "m.pdf",
                },
            ],
        }
    ]
    (message,) = fold_entries(entries)
    assert message.parts == (
        TextPart("Look"),
        FilePart(data=B64, mime="image/png"),
        FilePart(uri="https://x.test/c.jpg"),
        FilePart(uri="data:image/png;base64,@@not base64@@"),
        FilePart(uri="https://x.test/n.pdf"),
        FilePart(uri="https://x.test/m.pdf", name="m.pdf"),
    )


# --- our clients and the emulator: the files arrive and come back -----------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 92
PNG_FILE = OutgoingFile(name="a.png", mime="image/png", data=PNG)


async def test_orq_files_reach_the_emulator_and_read_back_from_history(orq):
    conversation = await orq.create_conversation(model="openai/gpt-4o")
    async with orq.stream_response(
        conversation.id, text="What is it?", model="openai/gpt-4o", files=[PNG_FILE]
    ) as events:
        said = "".join(e.text for e in await collect(events) if isinstance(e, TextDelta))
    assert said == compose_reply("What is it?", files=[("a.png", "image/png", 100)]).full_text

    detail = await orq.get_conversation(conversation.id)
    user = detail.messages[0]
    assert user.parts == (
        TextPart("What is it?"),
        FilePart(data=base64.b64encode(PNG).decode(), mime="image/png", name="a.png"),
    )

    turn = await orq.agent_response("demo", text="", files=[PNG_FILE])
    assert turn.text == compose_reply("", agent=True, files=[("a.png", "image/png", 100)]).full_text


async def test_mistral_images_reach_the_emulator_and_read_back_from_history(mistral):
    turn = await mistral.start(
        text="What is it?", model="mistral-small-latest", history=EARLIER, files=[PNG_FILE]
    )
    assert turn.text == compose_reply("What is it?", files=[("image", "image/png", 100)]).full_text
    messages = await mistral.history(turn.conversation_id)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[2].parts == (
        TextPart("What is it?"),
        FilePart(data=base64.b64encode(PNG).decode(), mime="image/png"),
    )
    async with mistral.stream_append(turn.conversation_id, text="", files=[PNG_FILE]) as events:
        said = "".join(e.text for e in await collect(events) if isinstance(e, TextDelta))
    assert said == compose_reply("", files=[("image", "image/png", 100)]).full_text
