"""Attachments: the upload a message goes with, and the file served to who may read it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from conversations import attachments, presets
from conversations.choices import choice_for
from conversations.models import Attachment, Conversation
from conversations.providers import provider_for
from conversations.services import Refused


def _destination(request):
    """The provider and kind the upload is for (the open conversation, or the new chat's
    pick), so a file it cannot take is refused at once; (None, "model") when not said."""
    if raw := request.POST.get("conversation", ""):
        conversation = Conversation.objects.filter(
            owner=request.user, pk=int(raw) if raw.isdigit() else 0
        ).first()
        if conversation is None:
            raise Http404("No such conversation.")
        return conversation.adapter, "agent" if conversation.agent else "model"
    value = request.POST.get("choice", "")
    found = presets.preset_for(request.user, value)
    choice = found[1] if found else choice_for(value)
    if choice is None:
        return None, "model"
    return provider_for(choice.provider), choice.kind


@login_required
@require_POST
def attachment_upload(request):
    """One file, kept for the sender's next message: its chip for the composer, as JSON."""
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": gettext("Choose a file to attach.")}, status=400)
    adapter, kind = _destination(request)
    try:
        attachment = attachments.attachment_save(
            owner=request.user, upload=upload, adapter=adapter, kind=kind
        )
    except Refused as refusal:
        return JsonResponse({"error": str(refusal)}, status=422)
    chip = render_to_string(
        "conversations/chat.html#attachment-chip",
        {"file": attachments.part_of(attachment), "removable": True},
        request=request,
    )
    return JsonResponse({"id": attachment.pk, "name": attachment.name, "html": chip})


@login_required
@require_POST
def attachment_discard(request, pk):
    """A pending upload taken off the composer before sending."""
    attachment = Attachment.objects.filter(pk=pk, owner=request.user, message__isnull=True).first()
    if attachment is None:
        raise Http404("No such file.")
    attachment.delete()
    return JsonResponse({"discarded": pk})


@login_required
@require_GET
def attachment_file(request, pk, name):
    """The file, to its owner only: anyone else, like a file that does not exist, gets 404."""
    attachment = Attachment.objects.filter(pk=pk, owner=request.user).first()
    if attachment is None:
        raise Http404("No such file.")
    return attachments.file_response(attachment)


@require_GET
def file_link(request, token):
    """The one file a signed link names, for the provider that fetches it (Mistral), while the
    link lasts; every fetch goes to the audit trail."""
    attachment = attachments.from_link(token)
    if attachment is None:
        raise Http404("This link is not valid (or no longer).")
    attachments.file_link_fetched.send(Attachment, attachment=attachment, request=request)
    return attachments.file_response(attachment)
