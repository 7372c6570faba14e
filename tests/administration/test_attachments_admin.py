"""Sent files in the admin's transcript (opened through an audited view) and in exports."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from administration import exports
from administration.models import AuditAction, AuditEntry
from conversations.attachments import part_of
from conversations.models import Attachment, Conversation, Message
from tests.conversations.test_attachments import PNG

pytestmark = pytest.mark.django_db


def sent(owner, data: bytes = PNG, name: str = "dot.png", mime: str = "image/png"):
    conversation = Conversation.objects.create(
        owner=owner, provider="orq", model="openai/gpt-4o", title="Pictures"
    )
    message = Message.objects.create(conversation=conversation, role="user", text="Look")
    attachment = Attachment(owner=owner, message=message, name=name, mime=mime, size=len(data))
    attachment.file.save(name, ContentFile(data))
    message.parts = [part_of(attachment)]
    message.save(update_fields=["parts"])
    return conversation, attachment


def test_the_transcript_links_each_file_to_an_audited_view(carol, alice):
    conversation, attachment = sent(alice)
    admin = Client()
    admin.force_login(carol)
    page = admin.get(
        reverse("admin:conversations_conversation_change", args=[conversation.pk])
    ).content.decode()
    url = reverse("admin:conversations_conversation_attachment", args=[attachment.pk])
    assert f'href="{url}"' in page and "dot.png" in page
    assert f"image/png · {len(PNG)} bytes" in page
    served = admin.get(url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PNG
    assert AuditEntry.objects.filter(action=AuditAction.FILE_VIEW).count() == 1


def test_only_those_who_read_transcripts_open_files(erin, alice):
    _, attachment = sent(alice)
    operator = Client()
    operator.force_login(erin)  # an Operator: usage, never transcripts
    url = reverse("admin:conversations_conversation_attachment", args=[attachment.pk])
    assert operator.get(url).status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.FILE_VIEW).exists()


def test_the_markdown_zip_holds_each_file_beside_the_transcript_that_links_it(alice):
    conversation, attachment = sent(alice)
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(exports.iter_markdown_zip(Conversation.objects.all())))
    )
    path = f"files/{conversation.pk}/{attachment.pk}-dot.png"
    assert archive.read(path) == PNG
    [transcript] = [n for n in archive.namelist() if n.endswith(".md")]
    assert f"[dot.png](<{path}>) (image/png, {len(PNG)} bytes)" in archive.read(transcript).decode()


def test_a_persons_archive_holds_their_files(alice):
    conversation, attachment = sent(alice)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(exports.iter_user_archive(alice))))
    assert archive.read(f"files/{conversation.pk}/{attachment.pk}-dot.png") == PNG
    transcripts = [n for n in archive.namelist() if n.startswith("transcripts/")]
    assert "(<../files/" in archive.read(transcripts[0]).decode()


def test_a_large_file_goes_into_the_zip_a_chunk_at_a_time(alice):
    big = b"%PDF-1.4\n" + os.urandom(8 * 1024 * 1024)  # 8 MB that do not compress
    sent(alice, big, "big.pdf", "application/pdf")
    tracemalloc.start()
    try:
        size = sum(len(chunk) for chunk in exports.iter_markdown_zip(Conversation.objects.all()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 8 * 1024 * 1024
    assert peak < 3 * 1024 * 1024, f"{peak / 1024 / 1024:.1f} MB"
