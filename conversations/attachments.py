"""Files attached to messages: kept through Django's storage API, checked by their content,
sent to the provider the way its API takes them, and served only to who may read them.

An upload is kept at once, with no message (pending); sending a message takes the sender's
pending files with it. Past the size limit nothing is read (webchat/upload_limit.py refuses the
request before Django reads its body); past the count or of a type not taken nothing is kept.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import Signal, receiver
from django.http import FileResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext

from conversations import sniffing
from conversations.models import Attachment, Message

log = logging.getLogger(__name__)

# Sent when a provider fetches a document through its signed link (the audit trail listens:
# administration/apps.py). Arguments: attachment, request.
file_link_fetched = Signal()

LINK_SALT = "webchat.attachments.link"
# Pending uploads never sent are removed after this long (when their owner next uploads).
PENDING_FOR = timedelta(days=1)
# Raster images go to providers inline; anything else may need a link (Mistral documents).
INLINE_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _megabytes(size: int) -> str:
    return formats.number_format(size / (1024 * 1024), decimal_pos=1)


def too_large(size: int) -> str:
    """What a refused upload says (here and in webchat/upload_limit.py)."""
    return gettext(
        "That file is %(size)s MB; the limit is %(limit)s MB a file. Nothing was kept."
    ) % {"size": _megabytes(size), "limit": _megabytes(settings.WEBCHAT_UPLOAD_MAX_BYTES)}


def clean_name(raw: str) -> str:
    """The name shown and given to providers: no path, no control characters, not empty."""
    name = os.path.basename((raw or "").replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:255] or "file"


def attachment_save(*, owner, upload, adapter=None, kind: str = "model") -> Attachment:
    """Keep one uploaded file for its owner's next message, or raise `Refused` saying why.

    `adapter`: the provider it is for, when known, so a file it cannot take is refused now.
    """
    from conversations.services import Refused

    name = clean_name(upload.name)
    if upload.size > settings.WEBCHAT_UPLOAD_MAX_BYTES:
        raise Refused(too_large(upload.size))
    upload.seek(0)
    head = upload.read(sniffing.HEAD_BYTES)
    upload.seek(0)
    mime = sniffing.sniff(head, name)
    if mime == sniffing.PROGRAM:
        raise Refused(
            gettext("“%(name)s” is a program, not an image or a document: nothing was kept.")
            % {"name": name}
        )
    if mime not in settings.WEBCHAT_UPLOAD_TYPES:
        raise Refused(
            gettext(
                "“%(name)s” is not a kind of file Webchat takes here (images, PDF and text "
                "files, as its content shows, whatever its name says): nothing was kept."
            )
            % {"name": name}
        )
    if adapter is not None and (problem := adapter.file_problem(kind, mime)):
        raise Refused(problem)
    _forget_stale_uploads(owner)
    attachment = Attachment(owner=owner, name=name, mime=mime, size=upload.size)
    # Read and written in chunks (the storage's `save`): never the whole file in memory.
    attachment.file.save(name, upload, save=False)
    attachment.save()
    return attachment


def _forget_stale_uploads(owner) -> None:
    stale = Attachment.objects.filter(
        owner=owner, message__isnull=True, created__lt=timezone.now() - PENDING_FOR
    )
    for attachment in stale:
        attachment.delete()


def pending(owner, ids) -> list[Attachment]:
    """The owner's pending uploads a message is sent with, in the order given; `Refused` for
    more than the limit, or one that is not (or no longer) theirs to send."""
    from conversations.services import Refused

    ids = list(dict.fromkeys(ids))
    if len(ids) > settings.WEBCHAT_UPLOAD_MAX_FILES:
        limit = settings.WEBCHAT_UPLOAD_MAX_FILES
        raise Refused(
            ngettext(
                "A message takes at most %(limit)s file. Nothing was sent.",
                "A message takes at most %(limit)s files. Nothing was sent.",
                limit,
            )
            % {"limit": limit}
        )
    found = {
        a.pk: a for a in Attachment.objects.filter(owner=owner, message__isnull=True, pk__in=ids)
    }
    if len(found) != len(ids):
        raise Refused(
            gettext("An attached file is no longer there: attach it again. Nothing was sent.")
        )
    return [found[pk] for pk in ids]


def part_of(attachment: Attachment) -> dict:
    """The message part that shows an attachment (and says which one it is)."""
    return {
        "kind": "file",
        "attachment": attachment.pk,
        "name": attachment.name,
        "mime": attachment.mime,
        "size": attachment.size,
    }


def attach(attachments: list[Attachment], message: Message) -> None:
    """Send them with `message` (inside the transaction that saves it)."""
    if not attachments:
        return
    Attachment.objects.filter(pk__in=[a.pk for a in attachments], message__isnull=True).update(
        message=message
    )
    message.parts = [*message.parts, *(part_of(a) for a in attachments)]
    Message.objects.filter(pk=message.pk).update(parts=message.parts)


def keep_imported(conversation, row: Message, parts) -> None:
    """An imported message's file parts whose bytes the provider kept (Orq's stored `bytes`)
    become attachments, shown as if they had been sent here; others keep their name (and link)."""
    shown = [p for p in row.parts if p.get("kind") == "file"]
    inline = [p for p in parts if p.kind == "file"]
    changed = False
    for stored, part in zip(shown, inline, strict=False):
        if not part.data:
            continue
        try:
            data = base64.b64decode(part.data, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(data) > settings.WEBCHAT_UPLOAD_MAX_BYTES:
            continue
        sniffed = sniffing.sniff(data[: sniffing.HEAD_BYTES], part.name or "")
        # Mistral's images come without a name.
        name = clean_name(part.name or ("image" if sniffed.startswith("image/") else "file"))
        attachment = Attachment(
            owner=conversation.owner,
            message=row,
            name=name,
            mime=sniffed if sniffed and sniffed != sniffing.PROGRAM else "application/octet-stream",
            size=len(data),
        )
        attachment.file.save(name, ContentFile(data), save=False)
        attachment.save()
        stored.update(part_of(attachment))
        changed = True
    if changed:
        Message.objects.filter(pk=row.pk).update(parts=row.parts)


def of_message(message: Message) -> list[Attachment]:
    """The files a user message was sent with (an edit or a regenerate sends them again)."""
    ids = [p["attachment"] for p in message.parts if p.get("kind") == "file" and "attachment" in p]
    if not ids:
        return []
    rows = {a.pk: a for a in Attachment.objects.filter(pk__in=ids)}
    return [rows[pk] for pk in ids if pk in rows]


def outgoing(attachment: Attachment, *, link: bool):
    """The file as a provider gets it (`upstream.types.OutgoingFile`): its bytes, or (`link`)
    a short-lived signed link."""
    from upstream.types import OutgoingFile

    if link:
        return OutgoingFile(name=attachment.name, mime=attachment.mime, url=signed_link(attachment))
    with attachment.file.open("rb") as handle:
        data = handle.read()
    return OutgoingFile(name=attachment.name, mime=attachment.mime, data=data)


def signed_link(attachment: Attachment) -> str:
    """A link to this one file that works for WEBCHAT_FILE_LINK_SECONDS, for a provider that
    fetches documents (Mistral), on WEBCHAT_PUBLIC_URL (it must reach us)."""
    token = signing.dumps(attachment.pk, salt=LINK_SALT)
    return settings.WEBCHAT_PUBLIC_URL + reverse("conversations:file_link", args=[token])


def from_link(token: str) -> Attachment | None:
    """The attachment a signed link names while it is valid, else None."""
    try:
        pk = signing.loads(token, salt=LINK_SALT, max_age=settings.WEBCHAT_FILE_LINK_SECONDS)
    except signing.BadSignature:
        return None
    return Attachment.objects.filter(pk=pk, message__isnull=False).first()


def file_response(attachment: Attachment) -> FileResponse:
    """The file, so that nothing in it can run: its sniffed type, never sniffed again by the
    browser; a sandbox with no script; raster images shown, anything else downloaded."""
    inline = attachment.mime in INLINE_IMAGES
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.mime,
        as_attachment=not inline,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "sandbox"
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@receiver(post_delete, sender=Attachment)
def _delete_stored_file(sender, instance: Attachment, **kwargs) -> None:
    """Its bytes go with its row (a deleted conversation's too), once that is committed."""
    name, storage = instance.file.name, instance.file.storage

    def delete() -> None:
        try:
            storage.delete(name)
        except OSError:
            log.warning("Could not delete the stored file %s", name, exc_info=True)

    if name:
        transaction.on_commit(delete)
