"""Views of shared links: the owner's panel in the chat, the shared page, and its continuation."""

from __future__ import annotations

import logging
from dataclasses import replace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from conversations import failures
from conversations.choices import choice_of
from conversations.message_view import view_of
from conversations.services import Refused, owned_or_404
from sharing import services
from sharing.models import Share
from upstream.errors import UpstreamError
from webchat.badinput import parse_id

log = logging.getLogger(__name__)

PANEL = "sharing/panel.html"
PAGE = "sharing/shared.html"


def share_url(request, share: Share) -> str:
    """The link in full, as it is pasted elsewhere: on WEBCHAT_PUBLIC_URL when set (behind a
    proxy the request may not know the public name), else where this page was opened."""
    path = reverse("sharing:shared", args=[share.token])
    if settings.WEBCHAT_PUBLIC_URL:
        return settings.WEBCHAT_PUBLIC_URL + path
    return request.build_absolute_uri(path)


def _panel(request, conversation, *, created=None, error="", said="", status=200):
    """The owner's links to this conversation and the form that makes one: the chat's panel
    (htmx) or, without it, a page of its own."""
    context = {
        "conversation": conversation,
        "shares": [
            (share, share_url(request, share)) for share in services.shares_of(conversation)
        ],
        "created": created,
        "created_url": share_url(request, created) if created else "",
        "public_allowed": services.public_allowed(),
        "expiry": services.EXPIRY,
        "shown": conversation.messages.shown().count(),
        "error": error,
        "said": said,
    }
    template = f"{PANEL}#panel" if request.htmx else PANEL
    return render(request, template, context, status=status)


@login_required
@require_GET
def share_panel(request, pk):
    conversation = owned_or_404(request.user, pk)
    created = None
    if request.GET.get("created"):
        created = get_object_or_404(
            Share, pk=parse_id(request.GET["created"], what="link"), conversation=conversation
        )
    return _panel(request, conversation, created=created)


@login_required
@require_POST
def share_create(request, pk):
    conversation = owned_or_404(request.user, pk)
    try:
        share = services.share_create(
            conversation=conversation,
            by=request.user,
            audience=request.POST.get("audience", Share.Audience.MEMBERS),
            expires=request.POST.get("expires", "never"),
            request=request,
        )
    except Refused as refusal:
        return _panel(request, conversation, error=str(refusal), status=422)
    if not request.htmx:
        return redirect(reverse("sharing:panel", args=[pk]) + f"?created={share.pk}")
    said = gettext("Link created. Copy it and send it to whoever should read this conversation.")
    return _panel(request, conversation, created=share, said=said)


@login_required
@require_POST
def share_revoke(request, pk, share_pk):
    conversation = owned_or_404(request.user, pk)
    share = get_object_or_404(Share, pk=share_pk, conversation=conversation)
    services.share_revoke(share=share, request=request)
    if not request.htmx:
        return redirect("sharing:panel", pk)
    return _panel(request, conversation, said=gettext("Link revoked: it no longer opens."))


def _not_valid(request) -> HttpResponse:
    """Unknown, revoked and expired links get this one answer: nothing tells them apart."""
    return _private(render(request, "sharing/not_valid.html", status=404))


def _private(response: HttpResponse) -> HttpResponse:
    # The link is the secret: no cache keeps the page, no link to another site is told the
    # address (Referer; not "no-referrer", under which the browser sends "Origin: null" with
    # the Continue form and CSRF refuses it), and no search engine lists a link for anyone.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _shared_page(request, share: Share, *, error: str = "", status: int = 200) -> HttpResponse:
    conversation = share.conversation
    context = {
        "share": share,
        "conversation": conversation,
        # The chat's own partials, without what only the owner's chat offers.
        "read_only": True,
        "messages": [replace(view_of(m), feedback=None) for m in services.shared_messages(share)],
        "can_continue": choice_of(conversation) is not None,
        "members_only_now": share.audience == Share.Audience.ANYONE and not share.public,
        "error": error,
    }
    return _private(render(request, PAGE, context, status=status))


@require_GET
def shared(request, token):
    """A shared conversation, read-only: to signed-in members, or to anyone for a link made
    for anyone (while WEBCHAT_PUBLIC_SHARES allows it)."""
    share = services.share_open(token)
    if share is None:
        return _not_valid(request)
    if not share.public and not request.user.is_authenticated:
        return _private(redirect_to_login(request.get_full_path()))
    services.share_viewed(share=share, request=request)
    return _shared_page(request, share)


@require_POST
async def shared_continue(request, token):
    """ "Continue in my chats": a copy of the snapshot becomes the reader's own conversation."""
    share = await sync_to_async(services.share_open)(token)
    if share is None:
        return await sync_to_async(_not_valid)(request)
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(reverse("sharing:shared", args=[token]))
    try:
        conversation = await services.share_continue(share=share, user=user, request=request)
    except Refused as refusal:
        return await sync_to_async(_shared_page)(request, share, error=str(refusal), status=422)
    except UpstreamError as exc:
        explained = failures.explain(exc)
        log.info("%s %s: %s", request.method, request.path, explained.detail)
        return await sync_to_async(_shared_page)(
            request, share, error=explained.message, status=502
        )
    return redirect("conversations:detail", conversation.pk)
