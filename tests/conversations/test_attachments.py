"""Attachments: checked by content, kept through the storage API, served only to who may."""

from __future__ import annotations

import asyncio
import base64
import time
import tracemalloc

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from administration.models import AuditAction, AuditEntry
from conversations import attachments
from conversations.models import Attachment, Conversation, Message

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>document.title='pwned'</script><rect width='1' height='1'/></svg>"
)


def upload(client, name: str, data: bytes, **extra):
    return client.post(
        reverse("conversations:attachment_upload"),
        {"file": SimpleUploadedFile(name, data, content_type="image/png"), **extra},
    )


@pytest.mark.django_db
def test_an_image_is_kept_for_the_next_message_and_shown_to_its_owner(as_alice, alice):
    response = upload(as_alice, "dot.png", PNG)
    assert response.status_code == 200, response.content
    answer = response.json()
    attachment = Attachment.objects.get(pk=answer["id"])
    assert (attachment.owner, attachment.mime, attachment.size) == (alice, "image/png", len(PNG))
    assert attachment.message is None
    assert f'data-attachment="{attachment.pk}"' in answer["html"]
    served = as_alice.get(reverse("conversations:attachment", args=[attachment.pk, "dot.png"]))
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PNG
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_another_persons_file_is_404(as_bob, alice):
    client = Client()
    client.force_login(alice)
    pk = upload(client, "dot.png", PNG).json()["id"]
    assert as_bob.get(reverse("conversations:attachment", args=[pk, "dot.png"])).status_code == 404
    assert as_bob.post(reverse("conversations:attachment_discard", args=[pk])).status_code == 404
    assert Attachment.objects.filter(pk=pk).exists()


@pytest.mark.django_db
def test_a_program_renamed_png_is_refused_by_its_content(as_alice):
    response = upload(as_alice, "holiday.png", EXE)
    assert response.status_code == 422
    assert "is a program" in response.json()["error"]
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_a_type_not_taken_is_refused_and_nothing_kept(as_alice, settings):
    settings.WEBCHAT_UPLOAD_TYPES = ["image/png"]
    response = upload(as_alice, "notes.pdf", PDF)
    assert response.status_code == 422
    assert "not a kind of file Webchat takes" in response.json()["error"]
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_an_svg_cannot_run_script_where_it_is_served(as_alice):
    pk = upload(as_alice, "logo.svg", SVG).json()["id"]
    attachment = Attachment.objects.get(pk=pk)
    assert attachment.mime == "image/svg+xml"
    served = as_alice.get(reverse("conversations:attachment", args=[pk, "logo.svg"]))
    policy = served["Content-Security-Policy"]
    assert "sandbox" in policy and "script-src 'none'" in policy
    # Not shown as a page of ours: downloaded, never sniffed into something else.
    assert served["Content-Disposition"].startswith("attachment")
    assert served["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_mistral_documents_need_a_public_address(as_alice, alice, settings):
    settings.WEBCHAT_PUBLIC_URL = ""
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest"
    )
    refused = upload(as_alice, "notes.pdf", PDF, conversation=conversation.pk)
    assert refused.status_code == 422
    assert "WEBCHAT_PUBLIC_URL" in refused.json()["error"]
    # Images go inline: no link needed.
    assert upload(as_alice, "dot.png", PNG, conversation=conversation.pk).status_code == 200
    # Orq takes documents as bytes.
    assert upload(as_alice, "notes.pdf", PDF, choice="orq:model:openai/gpt-4o").status_code == 200


@pytest.mark.django_db
def test_the_size_limit_holds_in_the_view_too(as_alice, settings):
    settings.WEBCHAT_UPLOAD_MAX_BYTES = 10
    response = upload(as_alice, "dot.png", PNG)
    assert response.status_code == 422
    assert "the limit is" in response.json()["error"]
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_a_signed_link_serves_one_file_for_minutes_and_is_audited(alice, settings, monkeypatch):
    conversation = Conversation.objects.create(owner=alice, provider="mistral", model="m")
    message = Message.objects.create(conversation=conversation, role="user", text="see")
    attachment = Attachment(owner=alice, message=message, name="a.pdf", mime="application/pdf")
    attachment.size = len(PDF)
    attachment.file.save("a.pdf", ContentFile(PDF))  # saves the row too
    settings.WEBCHAT_PUBLIC_URL = "https://chat.example.com"
    link = attachments.signed_link(attachment)
    assert link.startswith("https://chat.example.com/files/")
    anonymous = Client()
    served = anonymous.get(link.removeprefix("https://chat.example.com"))
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PDF
    entry = AuditEntry.objects.get(action=AuditAction.FILE_LINK)
    assert f"Attachment #{attachment.pk}" in entry.summary
    # Tampered, or past its time: nothing.
    assert anonymous.get(link.removeprefix("https://chat.example.com") + "x").status_code == 404
    settings.WEBCHAT_FILE_LINK_SECONDS = 10
    later = time.time() + 11
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert anonymous.get(link.removeprefix("https://chat.example.com")).status_code == 404


# --- refused before it is read ----------------------------------------------------------------


def _scope(headers):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/attachments",
        "raw_path": b"/attachments",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("localhost", 80),
    }


async def _call(headers, chunks):
    from webchat.asgi import application

    pulled = 0

    async def receive():
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent = []

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(application(_scope(headers), receive, send), 30)
    return sent[0]["status"], pulled


HUNDRED_MB = 100 * 1024 * 1024
MB = 1024 * 1024


def _hundred_megabytes():
    chunk = b"\x00" * MB  # one buffer, handed out a hundred times: never 100 MB in memory
    return (chunk for _ in range(100))


@pytest.mark.django_db(transaction=True)
async def test_a_100_mb_upload_that_says_its_size_is_refused_unread(settings):
    settings.WEBCHAT_UPLOAD_MAX_BYTES = 10 * MB
    status, pulled = await _call(
        [(b"content-length", str(HUNDRED_MB).encode()), (b"content-type", b"multipart/form-data")],
        _hundred_megabytes(),
    )
    assert status == 413
    assert pulled == 0  # not a byte of the body was read


@pytest.mark.django_db(transaction=True)
async def test_a_100_mb_upload_without_a_size_is_cut_off_at_the_limit_with_flat_memory(settings):
    settings.WEBCHAT_UPLOAD_MAX_BYTES = 10 * MB
    tracemalloc.start()
    try:
        status, pulled = await _call(
            [(b"content-type", b"multipart/form-data; boundary=x")], _hundred_megabytes()
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413
    assert pulled <= 12  # the limit and its envelope, then no more
    # Django spools a body past 2.5 MB to a temporary file: memory holds a few chunks at most.
    assert peak < 8 * MB, f"{peak / MB:.1f} MB"
