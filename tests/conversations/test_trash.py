"""Delete with undo, and Trash: the sidebar's Delete moves a conversation to Trash at once (out
of every list, search and socket turn), Undo or Restore puts it back where it was, Delete forever
and Empty trash delete it everywhere, and Trash empties itself WEBCHAT_TRASH_DAYS later through
the one delete action (upstream first, a tombstone and an audit row). Each new POST is the
owner's alone and needs its CSRF token.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from administration.models import AuditAction, AuditEntry, Tombstone
from conversations import deletion, message_search, services, trash
from conversations.choices import choice_for
from conversations.models import Conversation, Message, MessageStatus
from tests.administration.test_admin import CHANGELIST, conversation_with
from tests.administration.test_retention import exists_upstream, upstream_conversation
from tests.sockets import receive, socket_for
from tests.test_settings import run_settings
from upstream import clients

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upstreams")]

HTMX = {"HTTP_HX_REQUEST": "true"}


def made(owner, title: str, *, ago=timedelta(0), upstream: bool = False, **fields):
    """A Mistral conversation of `owner` with one exchange; `upstream`: real at the emulator."""
    upstream_id = upstream_conversation(title) if upstream else ""
    conversation = conversation_with(owner, title, "hello", "hi there", upstream_id=upstream_id)
    Conversation.objects.filter(pk=conversation.pk).update(updated=timezone.now() - ago, **fields)
    conversation.refresh_from_db()
    return conversation


def url(name: str, conversation=None) -> str:
    return reverse(f"conversations:{name}", args=[conversation.pk] if conversation else [])


def opened(conversation) -> dict:
    """Headers of an htmx request from the page where `conversation` is open."""
    return {**HTMX, "HTTP_HX_CURRENT_URL": f"http://testserver{url('detail', conversation)}"}


def row_ids(html: str, prefix: str = "conversation") -> list[int]:
    return [int(pk) for pk in re.findall(rf'<li id="{prefix}-(\d+)" class="conversation-row', html)]


def sidebar_of(client: Client) -> str:
    return client.get(reverse("conversations:index")).content.decode()


def trash_of(client: Client) -> str:
    return client.get(url("trash_list"), **HTMX).content.decode()


def trashed(conversation, *, days_ago: float = 0) -> Conversation:
    at = timezone.now() - timedelta(days=days_ago)
    Conversation.objects.filter(pk=conversation.pk).update(trashed_at=at)
    conversation.refresh_from_db()
    return conversation


# --- to Trash, and back ----------------------------------------------------------------------


def test_delete_moves_it_to_trash_at_once_with_an_undo_toast(as_alice, alice):
    kept = made(alice, "Kept")
    gone = made(alice, "Budget 2026", upstream=True)
    response = as_alice.post(url("trash", gone), **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    main, _, rest = body.partition('<div hx-swap-oob="innerHTML:#toast">')
    assert main.strip() == ""  # its row goes
    assert "Moved to Trash." in rest and ">Undo</button>" in rest
    assert f'hx-post="{url("untrash", gone)}"' in rest
    assert 'aria-label="Undo: take “Budget 2026” out of Trash"' in rest
    gone.refresh_from_db()
    assert gone.trashed_at is not None
    # Nothing at the provider yet, nothing kept as deleted: it can come back whole.
    assert exists_upstream(gone.upstream_id)
    assert not Tombstone.objects.exists() and not AuditEntry.objects.exists()
    assert row_ids(sidebar_of(as_alice)) == [kept.pk]


def test_the_sidebars_delete_asks_no_question_any_more(as_alice, alice):
    conversation = made(alice, "Quick")
    page = sidebar_of(as_alice)
    assert f'hx-post="{url("trash", conversation)}"' in page
    assert "hx-confirm" not in page
    assert f'aria-label="Delete {conversation.title}"' in page


def test_trashed_ones_are_in_no_list_and_no_search(as_alice, alice):
    for title, fields in (
        ("Pinned budget", {"pinned_at": timezone.now()}),
        ("Archived budget", {"archived_at": timezone.now()}),
        ("Dated budget", {}),
    ):
        trashed(made(alice, title, **fields))
    listed = made(alice, "Listed budget")
    assert row_ids(sidebar_of(as_alice)) == [listed.pk]
    archived = as_alice.get(url("archived"), **HTMX).content.decode()
    assert row_ids(archived) == []
    found = as_alice.get(url("list"), {"q": "budget"}, **HTMX).content.decode()
    assert row_ids(found) == [listed.pk]
    hits = message_search.search(alice, "hello")
    assert [hit.conversation_id for hit in hits] == [listed.pk]


def test_undo_puts_it_back_where_it_was_pinned_archived_or_dated(as_alice, alice):
    pinned = made(alice, "Pinned one", pinned_at=timezone.now())
    archived = made(alice, "Archived one", archived_at=timezone.now())
    dated = made(alice, "Dated one", ago=timedelta(days=3))
    for conversation in (pinned, archived, dated):
        as_alice.post(url("trash", conversation), **HTMX)
    assert row_ids(sidebar_of(as_alice)) == []
    for conversation in (pinned, archived, dated):
        response = as_alice.post(url("untrash", conversation), HTTP_HX_TARGET="toast", **HTMX)
        assert response.status_code == 200
    for conversation in (pinned, archived, dated):
        conversation.refresh_from_db()
        assert conversation.trashed_at is None
    assert pinned.pinned_at is not None and archived.archived_at is not None
    page = sidebar_of(as_alice)
    pinned_part = page.split('id="pinned-list"', 1)[1].split("</ul>", 1)[0]
    assert row_ids(pinned_part) == [pinned.pk]
    assert row_ids(page.split('id="conversation-list"', 1)[1].split("</ul>", 1)[0]) == [dated.pk]
    archived_view = as_alice.get(url("archived"), **HTMX).content.decode()
    assert row_ids(archived_view) == [archived.pk]


def test_undo_from_the_toast_says_so_and_brings_the_row_back_focused(as_alice, alice):
    conversation = made(alice, "Back soon", ago=timedelta(days=1))
    as_alice.post(url("trash", conversation), **HTMX)
    response = as_alice.post(url("untrash", conversation), HTTP_HX_TARGET="toast", **HTMX)
    body = response.content.decode()
    toast, _, rest = body.partition('<div hx-swap-oob="innerHTML:#sidebar-lists">')
    assert "“Back soon” is back." in toast and "Undo" not in toast
    assert row_ids(rest) == [conversation.pk]
    assert f'aria-label="Pin {conversation.title}" title="Pin" autofocus' in rest
    # The toast says it (a live region): nothing more to announce.
    assert '"said": ""' in response["HX-Trigger-After-Swap"]


def test_undo_of_an_archived_one_puts_it_back_in_the_archived_view(as_alice, alice):
    conversation = made(alice, "Old project", archived_at=timezone.now())
    as_alice.post(url("trash", conversation), **HTMX)
    response = as_alice.post(url("untrash", conversation), HTTP_HX_TARGET="toast", **HTMX)
    archived = response.content.decode().split('hx-swap-oob="innerHTML:#archived-list">', 1)[1]
    assert row_ids(archived) == [conversation.pk]


def test_trashing_the_open_conversation_says_it_is_deleted_and_undo_reopens_it(as_alice, alice):
    conversation = made(alice, "Open one")
    response = as_alice.post(url("trash", conversation), **opened(conversation))
    body = response.content.decode()
    assert response["HX-Push-Url"] == reverse("conversations:index")
    assert 'hx-swap-oob="innerHTML:#pane"' in body and "Conversation deleted" in body
    assert "It is in Trash for 30 days" in body
    reopen = f'<input type="hidden" id="reopen-after-undo" name="reopen" value="{conversation.pk}">'
    assert reopen in body
    assert "Moved to Trash." in body
    # Undo while the pane says so: the chat opens again, at its address.
    index = {**HTMX, "HTTP_HX_CURRENT_URL": "http://testserver/"}
    response = as_alice.post(
        url("untrash", conversation), {"reopen": conversation.pk}, HTTP_HX_TARGET="toast", **index
    )
    body = response.content.decode()
    assert response["HX-Push-Url"] == url("detail", conversation)
    assert '<div hx-swap-oob="innerHTML:#pane">' in body
    assert f'data-conversation="{conversation.pk}"' in body
    assert "In Trash" not in body and 'id="composer-text"' in body


def test_trash_lists_the_last_trashed_first_and_pages(as_alice, alice, settings):
    settings.WEBCHAT_PAGE_SIZE = 3
    rows = [made(alice, f"Chat {i}") for i in range(5)]
    for age, conversation in enumerate(rows):
        trashed(conversation, days_ago=age)
    made(alice, "Not in Trash")
    first = trash_of(as_alice)
    assert row_ids(first, "trashed") == [c.pk for c in rows[:3]]
    cursor = re.search(r"cursor=([^\"&]+)", first)[1]
    second = as_alice.get(url("trash_list"), {"cursor": cursor}, **HTMX).content.decode()
    assert row_ids(second, "trashed") == [c.pk for c in rows[3:]]
    assert "Trash is empty." not in second  # the first page says it (hidden while rows show)
    ends = (rows[0].trashed_at + timedelta(days=30)).strftime("%-d %B %Y")
    assert f">{ends}</time>" in first
    assert 'aria-label="Restore Chat 0"' in first
    assert 'aria-label="Delete Chat 0 forever"' in first
    assert "Deleted for good 30 days after being moved here" in first


def test_a_cursor_trash_never_gave_is_a_400(as_alice):
    assert as_alice.get(url("trash_list"), {"cursor": "x_1"}, **HTMX).status_code == 400


def test_the_trash_page_without_htmx_opens_on_trash(as_alice, alice):
    conversation = trashed(made(alice, "In the bin"))
    page = as_alice.get(url("trash_list")).content.decode()
    assert "showing-trash" in page
    assert row_ids(page.split('id="trash-list"', 1)[1], "trashed") == [conversation.pk]


def test_restore_from_trash_takes_its_row_away_and_puts_it_back_in_the_list(as_alice, alice):
    conversation = trashed(made(alice, "Restore me"))
    response = as_alice.post(
        url("untrash", conversation), HTTP_HX_TARGET=f"trashed-{conversation.pk}", **HTMX
    )
    body = response.content.decode()
    main, _, rest = body.partition('<div hx-swap-oob="innerHTML:#sidebar-lists">')
    assert main.strip() == ""
    assert row_ids(rest) == [conversation.pk]
    assert "is out of Trash" in response["HX-Trigger-After-Swap"]
    assert row_ids(trash_of(as_alice), "trashed") == []


def test_a_conversation_due_to_be_emptied_cannot_be_restored(as_alice, alice, settings):
    """Emptying deletes at the provider, then here: a restore in between kept a conversation
    that is gone upstream (or lost it anyway). Past WEBCHAT_TRASH_DAYS a restore is refused,
    in the same UPDATE that would restore it, and the conversation stays in Trash."""
    settings.WEBCHAT_TRASH_DAYS = 7
    due = trashed(made(alice, "Due"), days_ago=7.01)
    recent = trashed(made(alice, "Recent"), days_ago=6.9)

    response = as_alice.post(url("untrash", due), HTTP_HX_TARGET=f"trashed-{due.pk}", **HTMX)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#flash"
    assert "in Trash for 7 days and is being deleted for good" in response.content.decode()
    due.refresh_from_db()
    assert due.trashed_at is not None
    assert [c.pk for c in trash.expired()] == [due.pk]

    assert as_alice.post(url("untrash", recent), **HTMX).status_code == 200
    recent.refresh_from_db()
    assert recent.trashed_at is None


# --- opened from Trash -----------------------------------------------------------------------


def test_a_trashed_conversation_opens_read_only_with_restore_and_delete_forever(as_alice, alice):
    conversation = trashed(made(alice, "Read only"))
    page = as_alice.get(url("detail", conversation)).content.decode()
    ends = conversation.trash_ends.strftime("%-d %B %Y")
    assert re.search(
        rf"<strong>In Trash</strong> \(deleted forever on <time [^>]+>{ends}</time>\)", page
    )
    notice = page.split('id="trash-notice"', 1)[1].split("</div>", 1)[0]
    assert f'hx-post="{url("untrash", conversation)}"' in notice and ">Restore</button>" in notice
    assert f'hx-get="{url("delete_confirm", conversation)}"' in notice
    assert re.search(r'<textarea id="composer-text"[^>]* disabled', page)
    assert re.search(r'id="send" disabled', page)
    assert not re.search(r"data-edit\b", page) and "data-regenerate" not in page


def test_restore_from_the_open_chats_notice_renders_the_chat_again(as_alice, alice):
    conversation = trashed(made(alice, "Notice"))
    response = as_alice.post(
        url("untrash", conversation), HTTP_HX_TARGET="trash-notice", **opened(conversation)
    )
    assert response["HX-Retarget"] == "#pane" and response["HX-Reswap"] == "innerHTML"
    body = response.content.decode()
    assert "<webchat-chat>" in body.split("hx-swap-oob")[0]  # the chat, as the pane
    assert "In Trash" not in body
    assert row_ids(body) == [conversation.pk]  # the lists, with it, out of band


def test_delete_forever_asks_first_in_the_row_and_cancel_puts_it_back(as_alice, alice):
    conversation = trashed(made(alice, "Ask first"))
    asked = as_alice.get(url("delete_confirm", conversation), **HTMX).content.decode()
    assert "Delete “Ask first” forever? It is deleted at Mistral too." in asked
    assert f'hx-post="{url("delete", conversation)}"' in asked
    assert re.search(r"autofocus data-confirm-cancel>Cancel</button>", asked)
    back = as_alice.get(url("delete_confirm", conversation), {"cancel": 1}, **HTMX)
    back = back.content.decode()
    assert row_ids(back, "trashed") == [conversation.pk] and "forever?" not in back
    in_notice = as_alice.get(
        url("delete_confirm", conversation), HTTP_HX_TARGET="trash-notice", **HTMX
    ).content.decode()
    assert 'class="trash-notice trash-confirm"' in in_notice
    assert 'hx-target="#trash-notice"' in in_notice


# --- deleted for good ------------------------------------------------------------------------


def test_delete_forever_deletes_upstream_with_a_tombstone_and_an_audit_row(as_alice, alice):
    conversation = trashed(made(alice, "Gone for good", upstream=True))
    response = as_alice.post(
        url("delete", conversation), HTTP_HX_TARGET=f"trashed-{conversation.pk}", **HTMX
    )
    assert response.status_code == 200 and response.content == b""
    assert "is deleted for good" in response["HX-Trigger-After-Swap"]
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not exists_upstream(conversation.upstream_id)
    tombstone = Tombstone.objects.get(conversation_id=conversation.pk)
    assert (tombstone.reason, tombstone.upstream_result) == ("user", "deleted")
    entry = AuditEntry.objects.get(action=AuditAction.DELETE)
    assert entry.actor == alice and entry.detail["reason"] == "user"


def test_empty_trash_asks_first_then_deletes_everything_in_it_everywhere(as_alice, alice, bob):
    mine = [trashed(made(alice, f"Old {i}", upstream=True)) for i in range(2)]
    kept = made(alice, "Not in Trash")
    bobs = trashed(made(bob, "Bob's"))
    asked = as_alice.get(url("trash_empty"), **HTMX).content.decode()
    assert "Delete everything in Trash forever?" in asked and "Delete all forever" in asked
    response = as_alice.post(url("trash_empty"), HTTP_HX_TARGET="empty-trash", **HTMX)
    body = response.content.decode()
    assert "Empty trash…" in body
    trash_list = body.split('hx-swap-oob="innerHTML:#trash-list">', 1)[1]
    assert row_ids(trash_list, "trashed") == [] and "Trash is empty." in trash_list
    assert "2 conversation(s) deleted for good" in response["HX-Trigger-After-Swap"]
    assert set(Conversation.objects.values_list("pk", flat=True)) == {kept.pk, bobs.pk}
    for conversation in mine:
        assert not exists_upstream(conversation.upstream_id)
    reasons = Tombstone.objects.values_list("reason", flat=True)
    assert sorted(reasons) == ["user", "user"]


def test_empty_trash_keeps_what_the_provider_could_not_delete_and_says_why(
    as_alice, alice, settings
):
    conversation = trashed(made(alice, "Stuck"))
    Conversation.objects.filter(pk=conversation.pk).update(upstream_id="conv_stuck")
    settings.MISTRAL_BASE_URL = "http://127.0.0.1:9"  # nothing answers there
    clients.mistral.cache_clear()
    response = as_alice.post(url("trash_empty"), HTTP_HX_TARGET="empty-trash", **HTMX)
    body = response.content.decode()
    assert '<div hx-swap-oob="innerHTML:#flash">' in body
    assert "1 conversation(s) stayed in Trash. Mistral did not answer in time" in body
    assert row_ids(body, "trashed") == [conversation.pk]
    assert Conversation.objects.filter(pk=conversation.pk).exists()


# --- emptying itself -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_trash_empties_itself_after_the_days_with_reason_trash(alice, settings):
    settings.WEBCHAT_TRASH_DAYS = 7
    old = trashed(made(alice, "Week old", upstream=True), days_ago=7.1)
    recent = trashed(made(alice, "Yesterday's", upstream=True), days_ago=1)
    busy = trashed(made(alice, "Still writing"), days_ago=30)
    Message.objects.create(conversation=busy, role="assistant", status=MessageStatus.STREAMING)
    listed = made(alice, "Not in Trash", ago=timedelta(days=90))

    outcomes = async_to_sync(trash.empty_expired)()
    assert [(o.conversation_id, o.deleted, o.upstream) for o in outcomes] == [
        (old.pk, True, "deleted")
    ]
    assert set(Conversation.objects.values_list("pk", flat=True)) == {
        recent.pk, busy.pk, listed.pk,
    }  # fmt: skip
    assert not exists_upstream(old.upstream_id) and exists_upstream(recent.upstream_id)
    tombstone = Tombstone.objects.get(conversation_id=old.pk)
    assert (tombstone.reason, tombstone.owner, tombstone.upstream_result) == (
        "trash", alice, "deleted",
    )  # fmt: skip
    entry = AuditEntry.objects.get(action=AuditAction.DELETE)
    assert (entry.actor, entry.address, entry.detail["reason"]) == (None, None, "trash")
    assert "Week old" not in entry.summary
    # Eight days later the rest of what is due goes too (not the one still being written).
    later = timezone.now() + timedelta(days=8)
    assert [o.conversation_id for o in async_to_sync(trash.empty_expired)(now=later)] == [recent.pk]


@pytest.mark.django_db(transaction=True)
def test_the_command_empties_the_trash_and_is_safe_twice(alice):
    old = trashed(made(alice, "Month old", upstream=True), days_ago=31)
    out, err = io.StringIO(), io.StringIO()
    call_command("empty_trash", "--dry-run", stdout=out, stderr=err)
    assert f"would delete conversation #{old.pk} (mistral, in Trash since" in out.getvalue()
    assert "Month old" not in out.getvalue()
    assert Conversation.objects.filter(pk=old.pk).exists()
    call_command("empty_trash", stdout=out, stderr=err)
    assert "Deleted 1, kept 0" in err.getvalue()
    call_command("empty_trash", stdout=out, stderr=err)
    assert "Deleted 0, kept 0" in err.getvalue()
    assert Tombstone.objects.filter(conversation_id=old.pk, reason="trash").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_command_fails_when_a_provider_keeps_one(alice, settings):
    old = trashed(made(alice, "Month old"), days_ago=31)
    Conversation.objects.filter(pk=old.pk).update(upstream_id="conv_stuck")
    settings.MISTRAL_BASE_URL = "http://127.0.0.1:9"
    clients.mistral.cache_clear()
    with pytest.raises(CommandError, match="1 conversation"):
        call_command("empty_trash", stdout=io.StringIO(), stderr=io.StringIO())
    assert Conversation.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_two_deletes_of_one_conversation_keep_one_tombstone(alice):
    conversation = trashed(made(alice, "Twice", upstream=True), days_ago=40)
    stale = Conversation.objects.get(pk=conversation.pk)  # what a second process had read
    deletion.delete_everywhere([conversation], reason="trash")
    [outcome] = deletion.delete_everywhere([stale], reason="trash")
    assert outcome.upstream == "already gone"
    assert Tombstone.objects.filter(conversation_id=conversation.pk).count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.DELETE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_server_empties_it_once_a_period_whichever_process_asks(alice):
    cache.delete(trash.SWEEP_LOCK)
    old = trashed(made(alice, "Due"), days_ago=31)
    first = async_to_sync(trash.empty_if_due)()
    assert [o.conversation_id for o in first] == [old.pk]
    trashed(made(alice, "Due too"), days_ago=31)
    assert async_to_sync(trash.empty_if_due)() is None  # done this period already
    cache.delete(trash.SWEEP_LOCK)


def test_trash_days_must_be_at_least_one():
    result = run_settings({"WEBCHAT_DEMO": "1", "WEBCHAT_TRASH_DAYS": "0"}, "pass")
    assert result.returncode != 0
    assert "WEBCHAT_TRASH_DAYS must be at least 1; got 0" in result.stderr
    junk = run_settings({"WEBCHAT_DEMO": "1", "WEBCHAT_TRASH_DAYS": "a month"}, "pass")
    assert "WEBCHAT_TRASH_DAYS must be a whole number" in junk.stderr
    fine = run_settings(
        {"WEBCHAT_DEMO": "1", "WEBCHAT_TRASH_DAYS": "7"},
        "from django.conf import settings; print(settings.WEBCHAT_TRASH_DAYS)",
    )
    assert fine.stdout.strip() == "7"


def test_by_default_trash_keeps_thirty_days():
    code = "from django.conf import settings; print(settings.WEBCHAT_TRASH_DAYS)"
    assert run_settings({"WEBCHAT_DEMO": "1"}, code).stdout.strip() == "30"


# --- no turn in Trash ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_every_turn_in_a_trashed_conversation(alice):
    choice = choice_for("mistral:model:mistral-small-latest")
    conversation = await services.conversation_create(owner=alice, choice=choice)
    await Message.objects.acreate(conversation=conversation, role="user", text="hello")
    await Message.objects.acreate(conversation=conversation, role="assistant", text="hi")
    first = await conversation.messages.filter(role="user").afirst()
    socket, connected, _ = await socket_for(conversation.pk, alice)
    assert connected
    await receive(socket)  # the snapshot
    # Moved to Trash from another page while this one is open.
    await services.conversation_trash(conversation=conversation)
    for request in (
        {"type": "send", "text": "Hello?"},
        {"type": "regenerate"},
        {"type": "edit", "id": first.pk, "text": "Hello, really?"},
    ):
        await socket.send_json_to(request)
        assert await receive(socket) == {"type": "error", "message": services.TRASHED}
    assert await conversation.messages.acount() == 2
    await socket.disconnect()
    # Opened again while in Trash: the reply it shows offers no Regenerate.
    socket, _, _ = await socket_for(conversation.pk, alice)
    snapshot = await receive(socket)
    assert snapshot["type"] == "snapshot" and "data-regenerate" not in snapshot["html"]
    await socket.disconnect()


def test_no_turn_begins_in_a_trashed_conversation(alice):
    conversation = trashed(made(alice, "Closed"))
    with pytest.raises(services.Refused, match="in Trash"):
        async_to_sync(services.begin_turn)(conversation=conversation, text="Hello?")
    assert conversation.messages.count() == 2


# --- who may, and how ------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["trash", "untrash", "delete_confirm"])
def test_trash_actions_on_a_strangers_conversation_are_404(as_bob, alice, action):
    conversation = made(alice, "Alice's", trashed_at=timezone.now() if action != "trash" else None)
    request = as_bob.get if action == "delete_confirm" else as_bob.post
    assert request(url(action, conversation), **HTMX).status_code == 404
    fresh = Conversation.objects.get(pk=conversation.pk)
    assert fresh.trashed_at == conversation.trashed_at


def test_trash_and_empty_trash_are_ones_own(as_bob, alice, bob):
    alices = trashed(made(alice, "Alice's secret"))
    bobs = trashed(made(bob, "Bob's"))
    listed = trash_of(as_bob)
    assert row_ids(listed, "trashed") == [bobs.pk] and "secret" not in listed
    as_bob.post(url("trash_empty"), **HTMX)
    assert Conversation.objects.filter(pk=alices.pk).exists()
    assert not Conversation.objects.filter(pk=bobs.pk).exists()


@pytest.mark.parametrize("action", ["trash", "untrash", "trash_empty"])
def test_trash_posts_need_a_csrf_token(alice, action):
    conversation = made(alice, "Mine", trashed_at=timezone.now() if action != "trash" else None)
    target = url(action) if action == "trash_empty" else url(action, conversation)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(target, **HTMX).status_code == 403
    fresh = Conversation.objects.get(pk=conversation.pk)
    assert fresh.trashed_at == conversation.trashed_at


@pytest.mark.parametrize("action", ["trash", "untrash"])
def test_trash_actions_refuse_get(as_alice, alice, action):
    assert as_alice.get(url(action, made(alice, "Mine")), **HTMX).status_code == 405


def test_trash_pages_need_a_signed_in_user(client):
    for target in (url("trash_list"), url("trash_empty")):
        response = client.get(target)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_titles_in_trash_stay_text(as_alice, alice):
    trashed(made(alice, '<img src=x onerror="alert(1)">'))
    listed = trash_of(as_alice)
    assert "<img src=x" not in listed and "&lt;img src=x" in listed


# --- the admin -------------------------------------------------------------------------------


def test_the_admin_still_sees_trashed_ones_with_a_filter_and_a_column(carol, alice):
    in_trash = trashed(made(alice, "In Trash"))
    out = made(alice, "Not in Trash")
    admin = Client()
    admin.force_login(carol)
    everything = admin.get(CHANGELIST).content.decode()
    assert "In Trash" in everything and "Not in Trash" in everything
    assert "column-trashed" in everything
    only = admin.get(CHANGELIST, {"trashed": "yes"}).content.decode()
    assert f"/{in_trash.pk}/change/" in only and f"/{out.pk}/change/" not in only
    others = admin.get(CHANGELIST, {"trashed": "no"}).content.decode()
    assert f"/{out.pk}/change/" in others and f"/{in_trash.pk}/change/" not in others
    assert admin.get(CHANGELIST, {"trashed": "maybe"}).status_code == 400
