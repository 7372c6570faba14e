"""Views of the conversations app: thin, each calls one service and renders a page or fragment."""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, reswap, retarget, trigger_client_event

from conversations import failures, leases, runner, services
from conversations.choices import choice_for, default_choice, grouped_choices
from conversations.message_view import view_of
from conversations.models import Conversation
from conversations.providers.status import checked_statuses
from conversations.turns import Turn
from upstream.errors import NotFound, UpstreamError
from webchat.badinput import parse_id

log = logging.getLogger(__name__)

PAGE = "conversations/index.html"
HISTORY_PAGE = 50  # messages shown at once; earlier ones load on demand


def upstream_errors(view):
    """NotFound upstream is a 404; any other upstream failure is said in the flash area."""

    @functools.wraps(view)
    async def wrapper(request, *args, **kwargs):
        try:
            return await view(request, *args, **kwargs)
        except NotFound:
            raise Http404("That conversation no longer exists upstream.") from None
        except UpstreamError as exc:
            explained = failures.explain(exc)
            log.info("%s %s: %s", request.method, request.path, explained.detail)
            return flash(request, explained.message)
        except services.Refused as refusal:
            return flash(request, str(refusal))

    return wrapper


def flash(request, message: str, status: int = 200) -> HttpResponse:
    response = render(request, f"{PAGE}#flash", {"flash": message}, status=status)
    if request.htmx:
        response = reswap(retarget(response, "#flash"), "innerHTML")
    return response


async def _owned(request, pk) -> Conversation:
    conversation = await services.conversation_for(await request.auser(), pk)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def _page_context(request, *, user, active=None, query="") -> dict:
    return {
        "sidebar": services.conversation_page(owner=user, query=query),
        "query": query,
        "active": active,
        "choices": grouped_choices(),
        "default_choice": default_choice(),
        "max_chars": settings.WEBCHAT_MAX_MESSAGE_CHARS,
    }


@login_required
@require_GET
def index(request):
    """The sidebar and a new chat: pick a model or agent and write the first message."""
    if request.htmx and not request.htmx.history_restore_request:
        context = {"choices": grouped_choices(), "default_choice": default_choice()}
        context["max_chars"] = settings.WEBCHAT_MAX_MESSAGE_CHARS
        return render(request, f"{PAGE}#chat-pane", context)
    return render(request, PAGE, _page_context(request, user=request.user))


@login_required
@require_GET
def conversation_list(request):
    """Sidebar rows: one page (endless scroll) or a search, as a fragment."""
    query = request.GET.get("q", "").strip()[:200]
    page = services.conversation_page(
        owner=request.user, query=query, cursor=request.GET.get("cursor")
    )
    return render(request, f"{PAGE}#conversation-rows", {"sidebar": page, "query": query})


@login_required
@require_POST
@upstream_errors
async def conversation_create(request):
    """A new chat, made with its first message (and, continuing one the provider lost, made
    with that one's model or agent and title)."""
    user = await request.auser()
    fields: dict = {}
    if request.POST.get("continued_from"):
        earlier = await _owned(request, parse_id(request.POST["continued_from"], what="id"))
        choice, fields = services.continuation_of(earlier)
    else:
        choice = choice_for(request.POST.get("choice", ""))
        if choice is None:
            return flash(request, "Pick one of the offered models or agents.")
    text = request.POST.get("text", "")
    await services.check_send(user, text)
    conversation, _, reply = await services.conversation_start(
        owner=user, choice=choice, text=text, **fields
    )
    await runner.start(conversation=conversation, reply=reply, turn=Turn(text=text))
    url = reverse("conversations:detail", args=[conversation.pk])
    if not request.htmx:
        return redirect(url)
    response = await _pane(request, user=user, conversation=conversation, with_new_row=True)
    return push_url(response, url)


async def _history(conversation, before=None) -> dict:
    """The latest messages (before `before`), oldest first, and whether earlier ones exist."""
    rows = conversation.messages.shown().order_by("-id")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = [m async for m in rows[: HISTORY_PAGE + 1]]
    earlier = len(page) > HISTORY_PAGE
    page = list(reversed(page[:HISTORY_PAGE]))
    return {
        "messages": [view_of(m) for m in page],
        "earlier_before": page[0].pk if earlier and page else None,
    }


async def _pane(request, *, user, conversation, with_new_row=False):
    context = {
        "active": conversation,
        "conversation": conversation,
        **(await _history(conversation)),
        "new_row": with_new_row,
        "max_chars": settings.WEBCHAT_MAX_MESSAGE_CHARS,
    }
    return render(request, f"{PAGE}#chat-pane", context)


@login_required
@require_GET
@upstream_errors
async def conversation_detail(request, pk):
    user = await request.auser()
    conversation = await _owned(request, pk)
    await leases.mark_expired_interrupted(conversation.pk)
    try:
        await services.conversation_import_history(conversation=conversation)
    except NotFound:
        # Deleted at the provider before we had its messages: the page says so and offers to
        # continue in a new conversation (an import, by contrast, skips it: imports.py).
        await services.conversation_mark_gone(conversation=conversation)
    if request.htmx and not request.htmx.history_restore_request:
        return await _pane(request, user=user, conversation=conversation)
    context = await _sync_page_context(request, user, conversation)
    context.update(conversation=conversation, **(await _history(conversation)))
    # The whole page shows the user's name: a lazy, synchronous lookup.
    return await sync_to_async(render)(request, PAGE, context)


async def _sync_page_context(request, user, conversation):
    return await sync_to_async(_page_context)(request, user=user, active=conversation)


@login_required
@require_GET
async def conversation_earlier(request, pk):
    """Older messages of a long conversation, loaded when the reader scrolls up for them."""
    conversation = await _owned(request, pk)
    before = parse_id(request.GET.get("before"), what="message")  # load the ones before it
    history = await _history(conversation, before)
    context = {"conversation": conversation, "earlier_only": True, **history}
    return render(request, "conversations/chat.html#earlier", context)


@login_required
@require_http_methods(["GET", "POST"])
@upstream_errors
async def conversation_rename(request, pk):
    conversation = await _owned(request, pk)
    if request.method == "GET":
        if request.GET.get("cancel"):
            return _row(request, conversation)
        return render(request, f"{PAGE}#rename-form", {"conversation": conversation})
    try:
        await services.conversation_rename(
            conversation=conversation, title=request.POST.get("title", "")
        )
    except services.Refused as refusal:
        context = {
            "conversation": conversation,
            "error": str(refusal),
            "value": request.POST.get("title", ""),
        }
        return render(request, f"{PAGE}#rename-form", context, status=422)
    response = _row(request, conversation)
    if _is_current(request, conversation):
        # The open chat's heading and the tab's title are outside the swapped row.
        detail = {"id": conversation.pk, "title": conversation.display_title}
        response = trigger_client_event(response, "conversation-renamed", detail)
    return response


def _row(request, conversation):
    active = conversation if _is_current(request, conversation) else None
    return render(
        request, f"{PAGE}#conversation-row", {"conversation": conversation, "active": active}
    )


@login_required
@require_POST
@upstream_errors
async def conversation_delete(request, pk):
    conversation = await _owned(request, pk)
    was_open = _is_current(request, conversation)
    user = await request.auser()
    await services.conversation_delete(conversation=conversation, by=user, request=request)
    if not request.htmx:
        return redirect("conversations:index")
    if was_open:
        context = await _sync_page_context(request, user, None)
        response = render(request, f"{PAGE}#deleted-open", context)
        return push_url(response, reverse("conversations:index"))
    # htmx 2 swaps nothing on 204: an empty 200 removes the row.
    return HttpResponse("")


def _is_current(request, conversation) -> bool:
    try:
        current = urlsplit(request.headers.get("HX-Current-URL", "")).path
    except ValueError:  # a header htmx did not write (e.g. "http://[")
        return False
    return current == reverse("conversations:detail", args=[conversation.pk])


@login_required
@require_GET
@upstream_errors
async def conversation_continue(request, pk):
    """Going on from a conversation its provider no longer has: a new chat with its model or
    agent, made (like any) with the first message; one made already opens instead."""
    conversation = await _owned(request, pk)
    services.continuation_of(conversation)  # refused, in words, when it cannot be continued
    continuation = await conversation.continuations.order_by("-id").afirst()
    if continuation is not None:
        url = reverse("conversations:detail", args=[continuation.pk])
        if not request.htmx:
            return redirect(url)
        response = await _pane(request, user=await request.auser(), conversation=continuation)
        return push_url(response, url)
    context = {"continuing": conversation, "max_chars": settings.WEBCHAT_MAX_MESSAGE_CHARS}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, f"{PAGE}#chat-pane", context)
    page = await sync_to_async(_page_context)(request, user=await request.auser())
    return await sync_to_async(render)(request, PAGE, {**page, **context})


@login_required
@require_GET
async def status_page(request):
    """Which upstreams this server talks to and whether they answer: for staff only, since
    each view calls both providers with their keys."""
    user = await request.auser()
    if not user.is_staff:
        raise Http404("No such page.")
    return render(request, "conversations/status.html", {"providers": await checked_statuses()})


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on every page, the admin's too: it is our SVG icon."""
    return redirect(static("favicon.svg"))


@require_GET
async def health(request):
    """Liveness only: public, so it never calls upstream (a probe must not spend our keys)."""
    return JsonResponse({"status": "ok"})
