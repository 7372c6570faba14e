"""Files sent with a message reach the provider the way its API takes them (the emulator says
what arrived: each file's name, type and size), and stay with the message."""

from __future__ import annotations

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient
from django.urls import reverse

from administration.models import AuditAction, AuditEntry
from conversations import services
from conversations.choices import choice_for
from conversations.models import Attachment, Message
from tests.conversations.test_attachments import PDF, PNG
from tests.replies import replies_finished
from tests.sockets import receive, socket_for, until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

ORQ = "orq:model:openai/gpt-4o"
MISTRAL = "mistral:model:mistral-small-latest"


async def uploaded(user, name: str, data: bytes, **extra) -> int:
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.post(
        reverse("conversations:attachment_upload"),
        {"file": SimpleUploadedFile(name, data), **extra},
    )
    assert response.status_code == 200, response.content
    return response.json()["id"]


async def chat(owner, value: str):
    conversation = await services.conversation_create(owner=owner, choice=choice_for(value))
    socket, connected, _ = await socket_for(conversation.pk, owner)
    assert connected
    await receive(socket)
    return conversation, socket


async def send(socket, text: str, ids) -> Message:
    await socket.send_json_to({"type": "send", "text": text, "attachments": list(ids)})
    _, done = await until(socket, "done")
    await replies_finished()
    return await Message.objects.aget(pk=done["id"])


def said_about(text: str, name: str, mime: str, size: int) -> bool:
    return name in text and mime in text and str(size) in text


async def test_orq_gets_each_files_bytes_and_the_message_keeps_them(alice, emulator_url):
    conversation, socket = await chat(alice, ORQ)
    ids = [await uploaded(alice, "dot.png", PNG), await uploaded(alice, "notes.pdf", PDF)]
    reply = await send(socket, "What are these?", ids)
    assert said_about(reply.text, "dot.png", "image/png", len(PNG))
    assert said_about(reply.text, "notes.pdf", "application/pdf", len(PDF))
    question = await conversation.messages.filter(role="user").alast()
    assert [p["name"] for p in question.files] == ["dot.png", "notes.pdf"]
    assert await Attachment.objects.filter(message=question).acount() == 2
    # Orq keeps them in the conversation's history too.
    await conversation.arefresh_from_db()
    async with httpx.AsyncClient(base_url=emulator_url) as http:
        stored = (
            await http.get(
                f"/v2/conversations/{conversation.upstream_id}",
                headers={"Authorization": "Bearer t"},
            )
        ).json()
    kinds = [part["kind"] for part in stored["messages"][0]["parts"]]
    assert kinds.count("file") == 2

    # A regenerate asks the question again with its files.
    await socket.send_json_to({"type": "regenerate"})
    _, done = await until(socket, "done")
    await replies_finished()
    again = await Message.objects.aget(pk=done["id"])
    assert said_about(again.text, "notes.pdf", "application/pdf", len(PDF))
    await socket.disconnect()


async def test_mistral_gets_an_image_inline(alice):
    _, socket = await chat(alice, MISTRAL)
    reply = await send(socket, "Describe it", [await uploaded(alice, "dot.png", PNG)])
    assert "image/png" in reply.text and str(len(PNG)) in reply.text
    await socket.disconnect()


async def test_mistral_fetches_a_document_by_its_signed_link(alice, live_server, settings):
    settings.WEBCHAT_PUBLIC_URL = live_server.url
    conversation, socket = await chat(alice, MISTRAL)
    pk = await uploaded(alice, "notes.pdf", PDF, conversation=conversation.pk)
    reply = await send(socket, "Summarize it", [pk])
    # The emulator fetched the link (as Mistral would) and says what it got.
    assert said_about(reply.text, "notes.pdf", "application/pdf", len(PDF)), reply.text
    assert await AuditEntry.objects.filter(action=AuditAction.FILE_LINK).aexists()
    await socket.disconnect()


async def test_someone_elses_file_or_too_many_send_nothing(alice, bob, settings):
    conversation, socket = await chat(alice, ORQ)
    bobs = await uploaded(bob, "dot.png", PNG)
    await socket.send_json_to({"type": "send", "text": "Look", "attachments": [bobs]})
    _, error = await until(socket, "error")
    assert "no longer there" in error["message"]
    settings.WEBCHAT_UPLOAD_MAX_FILES = 1
    ids = [await uploaded(alice, "a.png", PNG), await uploaded(alice, "b.png", PNG)]
    await socket.send_json_to({"type": "send", "text": "Look", "attachments": ids})
    _, error = await until(socket, "error")
    assert "at most 1 file." in error["message"]
    assert not await conversation.messages.aexists()
    assert await Attachment.objects.filter(message__isnull=False).acount() == 0
    await socket.disconnect()
