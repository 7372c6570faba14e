"""Views of the conversations app: thin, each calls one service and renders a page or fragment."""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, reswap, retarget, trigger_client_event

from conversations import (
    failures,
    feedback,
    leases,
    message_search,
    presets,
    runner,
    services,
    user_settings,
    versions,
)
from conversations.assistant_settings import AssistantSettingsForm
from conversations.choices import choice_for, default_choice, grouped_choices
from conversations.forms import UserSettingsForm
from conversations.message_view import MessageView, view_of
from conversations.models import Conversation, Feedback
from conversations.providers.status import checked_statuses
from conversations.sidebar import zone_of
from conversations.turns import Turn
from upstream.errors import NotFound, UpstreamError
from webchat.badinput import BadInput, parse_id

log = logging.getLogger(__name__)

PAGE = "conversations/index.html"
HISTORY_PAGE = 50  # messages shown at once; earlier ones load on demand
# Opened at a message (a search result): this many before it, and at most this many in all.
AROUND_LEAD = 3
AROUND_MAX = 1000


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
        **_lists_context(request, user=user, query=query),
        "active": active,
        "choices": grouped_choices(),
        "presets": presets.presets_for(user),
        "default_choice": _default_choice(request),
        **_new_chat_fields(_default_choice(request)),
        "max_chars": settings.WEBCHAT_MAX_MESSAGE_CHARS,
    }


def _new_chat_fields(choice) -> dict:
    """The new chat's settings fields, for the model or agent it starts with."""
    if choice is None:
        return {"new_form": None}
    takes = choice.takes
    return {"new_form": AssistantSettingsForm(takes=takes), "new_takes": takes}


def _default_choice(request):
    """The new chat's preselected model or agent: the person's own default, else the site's."""
    return default_choice(user_settings.of_request(request).default_choice)


@login_required
@require_GET
def index(request):
    """The sidebar and a new chat: pick a model or agent and write the first message."""
    if request.htmx and not request.htmx.history_restore_request:
        context = {"choices": grouped_choices(), "default_choice": _default_choice(request)}
        context["presets"] = presets.presets_for(request.user)
        context.update(_new_chat_fields(context["default_choice"]))
        context["max_chars"] = settings.WEBCHAT_MAX_MESSAGE_CHARS
        return render(request, f"{PAGE}#chat-pane", context)
    return render(request, PAGE, _page_context(request, user=request.user))


@login_required
@require_GET
def conversation_list(request):
    """The sidebar's lists (pinned, then dated) or a search's results, as a fragment; with a
    cursor, the rows of the next page (endless scroll)."""
    query = request.GET.get("q", "").strip()[:200]
    cursor = request.GET.get("cursor")
    if not cursor:
        context = _lists_context(request, user=request.user, query=query)
        return render(request, f"{PAGE}#sidebar-lists", {**context, "active": _open(request)})
    page = services.conversation_page(
        owner=request.user, query=query, cursor=cursor, zone=zone_of(request)
    )
    context = {"sidebar": page, "query": query, "active": _open(request)}
    return render(request, f"{PAGE}#conversation-rows", context)


@login_required
@require_GET
def conversation_archived(request):
    """The Archived view: a page of archived conversations (or, with a cursor, the next one);
    without htmx, the whole page showing it."""
    page = services.conversation_page(
        owner=request.user, archived=True, cursor=request.GET.get("cursor")
    )
    if request.htmx and not request.htmx.history_restore_request:
        context = {"sidebar": page, "archived": True, "active": _open(request)}
        return render(request, f"{PAGE}#conversation-rows", context)
    context = {**_page_context(request, user=request.user), "archived_page": page}
    return render(request, PAGE, context)


def _lists_context(request, *, user, query: str = "") -> dict:
    """The sidebar's lists: the pinned ones (none while searching: they are among the
    results), then the first page of the dated list or of the search, in the reader's zone."""
    return {
        "pinned": [] if query else services.pinned_conversations(owner=user),
        "sidebar": services.conversation_page(owner=user, query=query, zone=zone_of(request)),
        "query": query,
        # Inside the messages too: the newest match of each conversation, words marked (in
        # every conversation once asked to: common words are first looked for in the newest).
        "message_hits": (
            message_search.search(user, query, everywhere=request.GET.get("all") == "1")
            if query
            else []
        ),
    }


def _open(request) -> Conversation | None:
    """The conversation open in the page that sent this htmx request (its row is the active
    one), as far as its URL says: not read, only its id."""
    try:
        match = resolve(urlsplit(request.headers.get("HX-Current-URL", "")).path)
    except (ValueError, Resolver404):  # no header, or one htmx did not write
        return None
    if match.view_name != "conversations:detail":
        return None
    return Conversation(pk=match.kwargs["pk"])


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
        choice, fields = await sync_to_async(_new_chat_setup)(request, user)
        if choice is None:
            return flash(request, fields["error"])
    text = request.POST.get("text", "")
    services.check_message(text)
    ids = [parse_id(raw, what="file") for raw in request.POST.getlist("attachment")]
    sent_with = await services.files_to_send(choice, user, ids)
    await services.check_send_rate_async(user)
    conversation, _, reply = await services.conversation_start(
        owner=user, choice=choice, text=text, attachments=sent_with, **fields
    )
    turn = Turn(text=text, attachments=tuple(sent_with))
    await runner.start(conversation=conversation, reply=reply, turn=turn)
    url = reverse("conversations:detail", args=[conversation.pk])
    if not request.htmx:
        return redirect(url)
    response = await _pane(request, user=user, conversation=conversation, with_new_row=True)
    return push_url(response, url)


def _new_chat_setup(request, user) -> tuple:
    """The new chat's model or agent and settings: a preset's, or the picked choice's, as the
    form (filled by the preset) says; (None, {"error": ...}) when they do not hold."""
    value = request.POST.get("choice", "")
    found = presets.preset_for(user, value)
    choice = found[1] if found else choice_for(value)
    if choice is None:
        return None, {"error": gettext("Pick one of the offered models or agents.")}
    if found and "instructions" not in request.POST:
        # Sent without the fields (they had not loaded): the preset's own.
        return choice, presets.settings_of(found[0]).as_fields()
    form = AssistantSettingsForm(request.POST, takes=choice.takes)
    if not form.is_valid():
        problems = [
            f"{form[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()
        ]
        return None, {"error": " ".join(problems)}
    return choice, form.result.as_fields()


def _message_id(raw) -> int | None:
    try:
        return parse_id(raw, what="message") if raw else None
    except BadInput:  # a bad `at` opens the conversation as usual
        return None


async def _history(conversation, before=None, around=None) -> dict:
    """The latest messages (before `before`), oldest first, and whether earlier ones exist;
    with `around`, from a few messages before that one on (a search result opens there)."""
    rows = conversation.messages.shown().order_by("-id")
    if around is not None and await rows.filter(pk=around).aexists():
        lead = [m.pk async for m in rows.filter(pk__lt=around)[:AROUND_LEAD].only("pk")]
        start = lead[-1] if lead else around
        page = [m async for m in rows.filter(pk__gte=start).order_by("id")[:AROUND_MAX]]
        earlier = await rows.filter(pk__lt=start).aexists()
    else:
        if before is not None:
            rows = rows.filter(pk__lt=before)
        page = [m async for m in rows[: HISTORY_PAGE + 1]]
        earlier = len(page) > HISTORY_PAGE
        page = list(reversed(page[:HISTORY_PAGE]))
    pagers = await sync_to_async(versions.pagers)(page)
    # The owner's feedback on the page's replies, in one query whatever the page holds.
    given = await feedback.given_for(page, user_id=conversation.owner_id)
    # A copy of a shared conversation (sharing.SharedCopy: that app is above this one, so by
    # the relation's name): the composer says what the assistant remembers of the copied turns.
    copied = Conversation.objects.filter(pk=conversation.pk, shared_copy__isnull=False)
    return {
        "messages": [replace(view_of(m, pagers.get(m.pk)), feedback=given.get(m.pk)) for m in page],
        "earlier_before": page[0].pk if earlier and page else None,
        "shared_copy": before is None and await copied.aexists(),
        # In Trash: read only, until restored (the composer says so).
        "read_only": conversation.trashed_at is not None,
    }


async def _pane(request, *, user, conversation, with_new_row=False, focus=None):
    context = {
        "focus": focus,
        "active": conversation,
        "conversation": conversation,
        **(await _history(conversation, around=focus)),
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
    # A search result opens the conversation at its message.
    at = _message_id(request.GET.get("at"))
    if request.htmx and not request.htmx.history_restore_request:
        return await _pane(request, user=user, conversation=conversation, focus=at)
    context = await _sync_page_context(request, user, conversation)
    context.update(conversation=conversation, focus=at, **(await _history(conversation, around=at)))
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
@require_POST
@upstream_errors
async def conversation_version(request, pk, message_pk):
    """Show another version at the message that changed (the pager's arrows)."""
    conversation = await _owned(request, pk)
    try:
        if message_pk == 0:
            await sync_to_async(versions.show_latest)(conversation)
        else:
            await sync_to_async(versions.show)(conversation, message_pk)
    except versions.VersionRefused as refusal:
        return flash(request, str(refusal))
    url = reverse("conversations:detail", args=[pk])
    if not request.htmx:
        return redirect(url)
    conversation = await _owned(request, pk)  # its upstream pointers and read-only state
    user = await request.auser()
    return await _pane(request, user=user, conversation=conversation, focus=message_pk or None)


@login_required
@require_GET
async def message_markdown(request, pk, message_pk):
    """One message as the Markdown it was written in: what "Copy" puts on the clipboard."""
    conversation = await _owned(request, pk)
    message = await conversation.messages.shown().filter(pk=message_pk).afirst()
    if message is None:
        raise Http404("No such message in this conversation.")
    response = HttpResponse(message.text, content_type="text/markdown; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
async def message_feedback(request, pk, message_pk):
    """The owner's thumb up or down on a reply (the pressed one again takes it back), and an
    optional comment under it; GET opens the comment form (`?comment=1`) or closes it."""
    conversation = await _owned(request, pk)
    reply = await conversation.messages.shown().filter(pk=message_pk).afirst()
    if reply is None:
        raise Http404("No such reply in this conversation.")
    if not feedback.offered(reply):
        raise BadInput("Feedback is for a finished reply, and this message is not one.")
    user = await request.auser()
    context: dict = {"feedback_form": bool(request.GET.get("comment"))}
    status = 200
    if request.method == "GET":
        given = (await feedback.given_for([reply], user_id=user.pk))[reply.pk]
        # The button that asked is gone: focus the box it opened, or what Skip comes back to.
        # (After a thumb the thumb keeps the focus: htmx restores it by its id.)
        context["feedback_focus"] = True
    else:
        rating = request.POST.get("rating", "")
        if rating not in Feedback.Rating.values:
            raise BadInput("Say whether the reply was good or bad (rating up or down).")
        try:
            if "comment" in request.POST:
                given = await sync_to_async(feedback.feedback_comment)(
                    message=reply, user=user, rating=rating, comment=request.POST["comment"]
                )
                context["feedback_said"] = (
                    gettext("Comment saved.")
                    if given.comment
                    else gettext("Saved without a comment.")
                )
                context["feedback_focus"] = True  # the form is gone: focus what replaced it
            else:
                given = await sync_to_async(feedback.feedback_rate)(
                    message=reply, user=user, rating=rating
                )
                context["feedback_form"] = bool(given.rating and not given.comment)
                context["feedback_said"] = _feedback_said(given, context["feedback_form"])
        except services.Refused as refusal:
            if not request.htmx:
                return flash(request, str(refusal), status=422)
            given = (await feedback.given_for([reply], user_id=user.pk))[reply.pk]
            context.update(
                feedback_form=True,
                feedback_focus=True,
                feedback_error=str(refusal),
                feedback_rating=rating,
                feedback_text=request.POST.get("comment", ""),
            )
            status = 422
    if not request.htmx:
        return redirect(reverse("conversations:detail", args=[pk]) + f"#reply-{reply.pk}")
    context["m"] = MessageView(reply, "", feedback=given)
    return render(request, "conversations/feedback.html#feedback-response", context, status=status)


def _feedback_said(given: feedback.Given, form_open: bool) -> str:
    """What a screen reader hears after a thumb (the page's live region)."""
    if not given.rating:
        return gettext("Feedback taken back.")
    said = gettext("Marked as a good reply.") if given.up else gettext("Marked as a bad reply.")
    more = gettext("You may add a comment below.")
    return f"{said} {more}" if form_open else said


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
    # Its row may be in Trash's list while the open chat's notice deleted it: the page drops it.
    said = {
        "id": conversation.pk,
        "said": gettext("“%(title)s” is deleted for good.") % {"title": conversation.display_title},
    }
    if was_open:
        context = await _sync_page_context(request, user, None)
        response = render(request, f"{PAGE}#deleted-open", context)
        response = push_url(response, reverse("conversations:index"))
        return trigger_client_event(response, "trash-changed", said, after="swap")
    # htmx 2 swaps nothing on 204: an empty 200 removes the row.
    return trigger_client_event(HttpResponse(""), "trash-changed", said, after="swap")


# --- Trash -----------------------------------------------------------------------------------


@login_required
@require_POST
async def conversation_trash(request, pk):
    """The sidebar's Delete: to Trash at once (its row goes, a toast offers Undo); the open
    chat, if it was this one, says it is deleted."""
    conversation = await services.conversation_trash(conversation=await _owned(request, pk))
    if not request.htmx:
        return redirect("conversations:index")
    was_open = _is_current(request, conversation)
    context = {"conversation": conversation, "undo": True, "was_open": was_open}
    context["trash_days"] = settings.WEBCHAT_TRASH_DAYS
    response = render(request, f"{PAGE}#trashed", context)
    if was_open:
        response = push_url(response, reverse("conversations:index"))
    return response


@login_required
@require_POST
async def conversation_untrash(request, pk):
    """Undo (the toast), Restore (Trash's row, or the open chat's notice): back where it was.

    The lists are rendered again, with it (the search box comes along: a search shows it
    among the results), and its row leaves Trash's list. Open in the pane (read only), its
    chat is rendered again; undone while the pane still says it was deleted (the notice sends
    its id as `reopen`), the chat opens again."""
    try:
        conversation = await services.conversation_untrash(conversation=await _owned(request, pk))
    except services.Refused as refusal:
        return flash(request, str(refusal), status=422)  # being deleted for good
    if not request.htmx:
        return redirect("conversations:detail", conversation.pk)
    user = await request.auser()
    query = request.POST.get("q", "").strip()[:200]
    target = request.htmx.target or ""
    open_one = _open(request)
    context: dict = {"conversation": conversation, "active": open_one}
    context.update(await sync_to_async(_lists_context)(request, user=user, query=query))
    reopen = request.POST.get("reopen") == str(conversation.pk)
    if target == "toast":
        context.update(main="toast", focus_row=conversation.pk)
        context["said"] = gettext("“%(title)s” is back.") % {"title": conversation.display_title}
    if conversation.archived_at is not None:  # the Archived view, with it, out of band
        context["archived_page"] = await sync_to_async(services.conversation_page)(
            owner=user, archived=True
        )
    if target == "trash-notice" or reopen or (open_one and open_one.pk == conversation.pk):
        context.update(await _history(conversation), active=conversation)
        context["max_chars"] = settings.WEBCHAT_MAX_MESSAGE_CHARS
        context["pane"] = "main" if target == "trash-notice" else "oob"
    response = render(request, f"{PAGE}#untrashed", context)
    if target == "trash-notice":
        response = reswap(retarget(response, "#pane"), "innerHTML")
    if reopen:
        response = push_url(response, reverse("conversations:detail", args=[conversation.pk]))
    # Said aloud, unless the toast (a live region) says it already. After the swap: the page
    # drops a row of Trash then (trash.js), not before, while htmx still swaps from inside it.
    out = gettext("“%(title)s” is out of Trash.") % {"title": conversation.display_title}
    said = "" if target == "toast" else out
    detail = {"id": conversation.pk, "said": said}
    return trigger_client_event(response, "trash-changed", detail, after="swap")


@login_required
@require_GET
def trash_list(request):
    """The Trash view: a page of what is in Trash, the last moved there first (with a cursor,
    the next page's rows); without htmx, the whole page showing it."""
    cursor = request.GET.get("cursor")
    page = services.trash_page(owner=request.user, cursor=cursor)
    context = {"trash": page, "trash_days": settings.WEBCHAT_TRASH_DAYS, "active": _open(request)}
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, f"{PAGE}#{'trash-rows' if cursor else 'trash-body'}", context)
    return render(request, PAGE, {**_page_context(request, user=request.user), **context})


@login_required
@require_GET
async def conversation_delete_confirm(request, pk):
    """Delete forever asks first, in place: in Trash's row, or in the open chat's notice;
    `cancel` puts the row or the notice back."""
    conversation = await _owned(request, pk)
    in_notice = request.htmx.target == "trash-notice"
    context = {"conversation": conversation, "confirming": not request.GET.get("cancel")}
    context["focus_row"] = conversation.pk  # Cancel, or back: the focus stays on it
    return render(request, f"{PAGE}#{'trash-notice' if in_notice else 'trashed-row'}", context)


@login_required
@require_http_methods(["GET", "POST"])
@upstream_errors
async def trash_empty(request):
    """Empty trash: GET asks first (`cancel` takes the question back), POST deletes everything
    in it for good; what a provider could not delete stays, and the flash says why."""
    context: dict = {}
    if request.method == "GET":
        context["confirm_empty" if not request.GET.get("cancel") else "focus_empty"] = True
        return render(request, f"{PAGE}#empty-trash", context)
    user = await request.auser()
    outcomes = await services.trash_empty(owner=user, by=user, request=request)
    if not request.htmx:
        return redirect("conversations:trash_list")
    deleted = [o.conversation_id for o in outcomes if o.deleted]
    kept = [o for o in outcomes if not o.deleted]
    open_one = _open(request)
    context["trash"] = await sync_to_async(services.trash_page)(owner=user)
    context["was_open"] = open_one is not None and open_one.pk in deleted
    if kept:
        why = failures.explain(kept[0].error).message if kept[0].error else ""
        stayed = gettext("%(count)s conversation(s) stayed in Trash.") % {"count": len(kept)}
        context["flash"] = f"{stayed} {why}".strip()
    response = render(request, f"{PAGE}#trash-emptied", context)
    if context["was_open"]:
        response = push_url(response, reverse("conversations:index"))
    said = gettext("Trash emptied: %(count)s conversation(s) deleted for good.") % {
        "count": len(deleted)
    }
    detail = {"said": said, "emptied": deleted}
    return trigger_client_event(response, "trash-changed", detail, after="swap")


@login_required
@require_POST
async def conversation_pin(request, pk):
    conversation = await services.conversation_pin(conversation=await _owned(request, pk))
    return await _sidebar_changed(request, conversation, "pinned")


@login_required
@require_POST
async def conversation_unpin(request, pk):
    conversation = await _owned(request, pk)
    await services.conversation_pin(conversation=conversation, pinned=False)
    return await _sidebar_changed(request, conversation, "unpinned")


@login_required
@require_POST
async def conversation_archive(request, pk):
    conversation = await services.conversation_archive(conversation=await _owned(request, pk))
    return await _sidebar_changed(request, conversation, "archived")


@login_required
@require_POST
async def conversation_restore(request, pk):
    conversation = await _owned(request, pk)
    await services.conversation_archive(conversation=conversation, archived=False)
    return await _sidebar_changed(request, conversation, "restored")


SIDEBAR_SAID = {
    "pinned": gettext_lazy("“%(title)s” is pinned: it is listed first."),
    "unpinned": gettext_lazy("“%(title)s” is no longer pinned."),
    "archived": gettext_lazy(
        "“%(title)s” is archived: it is under Archived conversations, and search finds it."
    ),
    "restored": gettext_lazy("“%(title)s” is back in the list."),
}


async def _sidebar_changed(request, conversation: Conversation, change: str) -> HttpResponse:
    """The sidebar, and the open chat, after a pin, unpin, archive or restore.

    While a search shows (the search box comes with the request), the row stays where it is,
    in its new state. Otherwise it moves: pinned, to the top of Pinned; archived, out of the
    list. Unpinned or restored, it goes back to its dated group, which may be pages down or not
    loaded yet: the lists are rendered again. A restore from the open chat's notice renders
    them again whatever they show, and the chat's notice follows an archive or a restore.
    """
    if not request.htmx:
        return redirect("conversations:detail", conversation.pk)
    query = request.POST.get("q", "").strip()[:200]
    from_notice = request.htmx.target == "archived-notice"
    open_one = _open(request)
    context: dict = {"conversation": conversation, "active": open_one, "query": query}
    if from_notice:
        context["oob_lists"] = True
    elif query:
        context.update(main="row", focus_row=conversation.pk)
    elif change == "pinned":
        context.update(oob_pinned=True, focus_row=conversation.pk)  # nothing where it was
    elif change == "unpinned":
        context.update(main="lists", focus_row=conversation.pk)
    elif change == "restored":
        context["oob_lists"] = True  # and where it was, in the Archived view, nothing
        mine = Conversation.objects.filter(owner_id=conversation.owner_id)
        if not await mine.filter(archived_at__isnull=False).aexists():
            context["main"] = "no-archived"  # the view says it is empty now
    if context.get("oob_lists") or context.get("main") == "lists":
        user = await request.auser()
        context.update(await sync_to_async(_lists_context)(request, user=user, query=query))
    is_open = open_one is not None and open_one.pk == conversation.pk
    context["oob_notice"] = is_open and not from_notice and change in ("archived", "restored")
    response = render(request, f"{PAGE}#sidebar-changed", context)
    if context.get("main") == "lists":
        response = reswap(retarget(response, "#sidebar-lists"), "innerHTML")
    said = SIDEBAR_SAID[change] % {"title": conversation.display_title}
    # Restored from the open chat, its row may still be in the Archived view: the page drops it.
    detail = {"id": conversation.pk, "said": said, "restored": from_notice}
    return trigger_client_event(response, "sidebar-changed", detail)


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


# --- Settings --------------------------------------------------------------------------------

SETTINGS_PAGE = "conversations/settings.html"


@login_required
@require_http_methods(["GET", "POST"])
def user_settings_edit(request):
    """A person's own settings (there is no one else's to ask for): GET shows them, POST saves
    them. Saved, the page comes back (without htmx, after a redirect) in the language just
    chosen, and says so in its live region; htmx swaps the form and the page follows the theme,
    language and send key at once (static/js/settings.js)."""
    if request.method == "GET":
        form = UserSettingsForm.of(user_settings.of_request(request))
        return render(request, SETTINGS_PAGE, _settings_context(form))
    form = UserSettingsForm(request.POST)
    if not form.is_valid():
        # With htmx, the form again and an empty live region (no "saved" left from before).
        template = f"{SETTINGS_PAGE}#settings-saved" if request.htmx else SETTINGS_PAGE
        return render(request, template, _settings_context(form), status=422)
    saved = user_settings.user_settings_save(user=request.user, **form.cleaned_data)
    request.user_settings = saved  # the page that answers shows the new ones
    language = user_settings.language_for(saved, request.headers.get("Accept-Language", ""))
    with translation.override(language):
        said = gettext("Settings saved.")
        if not request.htmx:
            messages.success(request, said)
            return redirect("conversations:settings")
        context = {**_settings_context(UserSettingsForm.of(saved)), "said": said}
        response = render(request, f"{SETTINGS_PAGE}#settings-saved", context)
        title = f"{gettext('Settings')} · Webchat"
    detail = {"theme": saved.theme, "language": language, "sendKey": saved.send_key}
    return trigger_client_event(response, "settings-saved", {**detail, "title": title})


def _settings_context(form: UserSettingsForm) -> dict:
    site_default = default_choice()
    return {"form": form, "choices": grouped_choices(), "site_default": site_default}


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
