"""A person downloads their own conversations: one, or all of them, as Markdown or JSON.

The admin's exporters (exports.py), restricted to the owner and to what the conversation reads
as (the messages shown; not how the server ran them, nor the provider's raw error text): the
same formats, streamed in flat memory however many conversations there are.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from administration import exports
from conversations.models import Conversation

KINDS = {"md", "json"}


@login_required
@require_GET
def export_conversation(request, pk: int, kind: str):
    """One conversation: a Markdown transcript (the messages shown) or everything as JSON."""
    conversation = Conversation.objects.filter(pk=pk, owner=request.user).first()
    if conversation is None or kind not in KINDS:
        raise Http404("No such conversation.")
    name = f"{slugify(conversation.title)[:60].strip('-') or 'conversation'}-{conversation.pk}"
    if kind == "md":
        messages = conversation.messages.shown().order_by("id")
        response = HttpResponse(
            exports.conversation_markdown(conversation, messages),
            content_type="text/markdown; charset=utf-8",
        )
    else:
        response = StreamingHttpResponse(
            exports.iter_json(Conversation.objects.filter(pk=conversation.pk), personal=True),
            content_type="application/json",
        )
    return _download(response, f"{name}.{kind}")


@login_required
@require_GET
def export_all(request, kind: str):
    """All of the person's conversations: a zip of Markdown transcripts, or one JSON file."""
    if kind not in KINDS:
        raise Http404("No such format.")
    mine = Conversation.objects.filter(owner=request.user, trashed_at__isnull=True)  # not Trash
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if kind == "md":
        response = StreamingHttpResponse(
            exports.iter_markdown_zip(mine, shown=True), content_type="application/zip"
        )
        return _download(response, f"my-conversations-{stamp}.zip")
    response = StreamingHttpResponse(
        exports.iter_json(mine, personal=True), content_type="application/json"
    )
    return _download(response, f"my-conversations-{stamp}.json")


def _download(response, name: str):
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response
