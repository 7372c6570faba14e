"""Views of the conversations app: thin, each calls one service and renders a page or fragment."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, reswap, retarget

from conversations import replies, services
from conversations.choices import choice_for, default_choice, grouped_choices
from conversations.models import Conversation
from conversations.providers import checked_statuses
from upstream.errors import NotFound, UpstreamError

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
            return flash(request, f"{_provider_name(exc.provider)} said no: {exc.message}")
        except services.Refused as refusal:
            return flash(request, str(refusal))

    return wrapper


def _provider_name(key: str) -> str:
    return {"orq": "Orq", "mistral": "Mistral"}.get(key, "The provider")


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
    choice = choice_for(request.POST.get("choice", ""))
    if choice is None:
        return flash(request, "Pick one of the offered models or agents.")
    user = await request.auser()
    conversation = await services.conversation_create(owner=user, choice=choice)
    url = reverse("conversations:detail", args=[conversation.pk])
    if not request.htmx:
        return redirect(url)
    response = await _pane(request, user=user, conversation=conversation, with_new_row=True)
    return push_url(response, url)


async def _history(conversation, before=None) -> dict:
    """The latest messages (before `before`), oldest first, and whether earlier ones exist."""
    rows = conversation.messages.order_by("-id")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = [m async for m in rows[: HISTORY_PAGE + 1]]
    earlier = len(page) > HISTORY_PAGE
    page = list(reversed(page[:HISTORY_PAGE]))
    return {
        "messages": [replies.view_of(m) for m in page],
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
    await replies.mark_expired_interrupted(conversation.pk)
    await services.conversation_import_history(conversation=conversation)
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
    try:
        before = int(request.GET["before"])
    except (KeyError, ValueError):
        return HttpResponse("Say which message to load before.", status=400)
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
    return _row(request, conversation)


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
    await services.conversation_delete(conversation=conversation)
    if not request.htmx:
        return redirect("conversations:index")
    if was_open:
        user = await request.auser()
        context = await _sync_page_context(request, user, None)
        response = render(request, f"{PAGE}#deleted-open", context)
        return push_url(response, reverse("conversations:index"))
    # htmx 2 swaps nothing on 204: an empty 200 removes the row.
    return HttpResponse("")


def _is_current(request, conversation) -> bool:
    current = request.headers.get("HX-Current-URL", "")
    return urlsplit(current).path == reverse("conversations:detail", args=[conversation.pk])


@require_GET
async def status_page(request):
    """The server is up, and these are the upstreams it talks to."""
    return render(request, "conversations/status.html", {"providers": await checked_statuses()})


@require_GET
async def health(request):
    providers = await checked_statuses()
    return JsonResponse(
        {
            "status": "ok",
            "providers": {
                p.key: {
                    "base_url": p.base_url,
                    "configured": p.configured,
                    "emulated": p.emulated,
                    "reachable": p.reachable,
                    "problem": p.problem,
                }
                for p in providers
            },
        }
    )
