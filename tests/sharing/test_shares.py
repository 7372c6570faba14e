"""Issue 14, item 11: share a conversation as a read-only link, and continue it in one's own chats.

A link is a snapshot (the messages shown when it was made), for signed-in members or, where the
setting allows, anyone; revocable, optionally expiring, every reading counted and audited. The
reader may copy it into a conversation of their own: Mistral is given the copied turns as
entries (checked on the emulator), Orq starts without them, and the page says which.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from administration.models import AuditAction, AuditEntry
from conversations import versions
from conversations.history import earlier_turns
from conversations.models import Conversation, Message, MessageStatus
from emulator.assistant import compose_reply
from sharing import services
from sharing.models import Share, SharedCopy
from tests.replies import replies_finished
from tests.sockets import new_conversation, receive, socket_for, until
from upstream import clients

HTMX = {"HTTP_HX_REQUEST": "true"}
db = pytest.mark.django_db


def live(test):
    """Against the emulator, with the reply runner: on other threads, so real transactions."""
    return pytest.mark.django_db(transaction=True)(pytest.mark.usefixtures("upstreams")(test))


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def chat(owner, turns=(("user", "What is a lease?"), ("assistant", "A *lease* is a loan.")),
         provider="mistral", model="mistral-small-latest", **fields) -> Conversation:  # fmt: skip
    conversation = Conversation.objects.create(
        owner=owner, provider=provider, model=model, **{"title": "Leases", **fields}
    )
    for role, text in turns:
        say(conversation, role, text)
    return conversation


def say(conversation, role: str, text: str, **fields) -> Message:
    html = f"<p>{text}</p>"
    return Message.objects.create(
        conversation=conversation, role=role, text=text, html=html, **fields
    )


def share(conversation, audience="members", expires="never") -> Share:
    return services.share_create(
        conversation=conversation, by=conversation.owner, audience=audience, expires=expires
    )


def url(made: Share) -> str:
    return reverse("sharing:shared", args=[made.token])


def unmasked(page: bytes) -> bytes:
    """A page without its CSRF token, which is masked afresh on every render."""
    return re.sub(rb'"x-csrftoken": "[^"]+"', b"", page)


def panel_url(conversation) -> str:
    return reverse("sharing:panel", args=[conversation.pk])


# --- the snapshot ----------------------------------------------------------------------------


@db
def test_a_link_shows_the_conversation_as_it_was_and_nothing_written_later(alice, bob):
    conversation = chat(alice)
    made = share(conversation)
    say(conversation, "user", "A question asked after sharing")
    say(conversation, "assistant", "An answer written after sharing")

    page = signed_in(bob).get(url(made))

    assert page.status_code == 200
    html = page.content.decode()
    assert "What is a lease?" in html and "A *lease* is a loan." in html
    assert "after sharing" not in html
    assert "Shared by <strong>alice</strong>" in html
    assert "later messages are not shown" in html


@db
def test_the_snapshot_survives_another_version_shown_and_an_edit(alice, bob):
    conversation = chat(alice, [("user", "Name a colour")])
    first = say(conversation, "assistant", "Red")
    # A regenerate completed: "Red" is kept as the first version, "Blue" is shown.
    second = say(conversation, "assistant", "Blue", fork=first)
    Message.objects.filter(pk=first.pk).update(stash=first.pk)
    made = share(conversation)
    assert made.message_ids[-1] == second.pk

    versions.show(conversation, first.pk)  # the owner pages back to "Red"
    assert list(conversation.messages.shown().values_list("text", flat=True)) == [
        "Name a colour",
        "Red",
    ]
    html = signed_in(bob).get(url(made)).content.decode()
    assert "Blue" in html and "<p>Red</p>" not in html

    # An edit hides what it replaces; the link keeps showing it.
    question = conversation.messages.get(text="Name a colour")
    Message.objects.filter(pk=question.pk).update(stash=question.pk)
    html = signed_in(bob).get(url(made)).content.decode()
    assert "Name a colour" in html and "Blue" in html


@db
def test_the_shared_page_is_the_chat_rendering_without_anything_that_changes_it(alice, bob):
    conversation = chat(alice)
    made = share(conversation)

    html = signed_in(bob).get(url(made)).content.decode()

    assert 'class="message user"' in html and 'class="reply status-complete"' in html
    assert 'id="composer"' not in html and "<textarea" not in html
    for control in ("data-edit", "data-regenerate", "thumbs", 'class="versions"', "data-copy"):
        assert control not in html, control
    assert "Continue in my chats" in html


@db
def test_text_that_looks_like_html_stays_text_on_the_shared_page(alice, bob):
    conversation = chat(alice, [], title="<b>bold</b>")
    Message.objects.create(
        conversation=conversation,
        role="user",
        text="<script>alert(1)</script>",
        html="<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
    )
    html = signed_in(bob).get(url(share(conversation))).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


@db
def test_there_is_nothing_to_share_before_the_first_message(alice):
    conversation = chat(alice, [])
    response = signed_in(alice).post(
        reverse("sharing:create", args=[conversation.pk]), {"audience": "members"}, **HTMX
    )
    assert response.status_code == 422
    assert "nothing to share yet" in response.content.decode()
    assert not Share.objects.exists()


# --- who may read it -------------------------------------------------------------------------


@db
def test_a_members_link_sends_an_anonymous_reader_to_sign_in(alice):
    made = share(chat(alice))
    response = Client().get(url(made))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url(made)}"
    assert Share.objects.get().views == 0


@db
def test_a_link_for_anyone_reads_without_signing_in(alice):
    made = share(chat(alice), audience="anyone")
    response = Client().get(url(made))
    assert response.status_code == 200
    html = response.content.decode()
    assert "What is a lease?" in html
    assert "Sign in</a> to continue" in html and "Continue in my chats" not in html


@db
def test_with_public_links_off_anyone_cannot_be_chosen_and_old_ones_ask_to_sign_in(
    alice, bob, settings
):
    conversation = chat(alice)
    older = share(conversation, audience="anyone")
    settings.WEBCHAT_PUBLIC_SHARES = False
    owner = signed_in(alice)

    panel = owner.get(panel_url(conversation), **HTMX).content.decode()
    assert 'value="anyone" disabled aria-describedby="share-public-off"' in panel
    assert "An administrator has turned off links for anyone" in panel
    assert "Members only for now" in panel

    response = owner.post(
        reverse("sharing:create", args=[conversation.pk]), {"audience": "anyone"}, **HTMX
    )
    assert response.status_code == 422
    assert "turned off links for anyone" in response.content.decode()
    assert Share.objects.count() == 1

    assert Client().get(url(older)).status_code == 302
    page = signed_in(bob).get(url(older)).content.decode()
    assert "now shows shared conversations to signed-in members only" in page


@db
def test_revoked_expired_and_unknown_links_get_the_same_answer(alice, bob):
    conversation = chat(alice)
    revoked = share(conversation, audience="anyone")
    services.share_revoke(share=revoked)
    expired = share(conversation, audience="anyone", expires="1")
    Share.objects.filter(pk=expired.pk).update(expires=timezone.now() - timedelta(seconds=1))
    paths = [url(revoked), url(expired), reverse("sharing:shared", args=["x" * 32])]

    for client in (Client(), signed_in(bob), signed_in(alice)):
        answers = {(r.status_code, unmasked(r.content)) for r in map(client.get, paths)}
        assert len(answers) == 1, "the three must not be told apart"
        (status, body), *_ = answers
        assert status == 404 and b"This link is not valid" in body
        assert b"What is a lease?" not in body
    assert not Share.objects.filter(views__gt=0).exists()


@db
def test_a_conversation_in_the_trash_opens_to_no_one_until_it_is_restored(alice, bob):
    conversation = chat(alice)
    made = share(conversation, audience="anyone")
    Conversation.objects.filter(pk=conversation.pk).update(trashed_at=timezone.now())
    assert Client().get(url(made)).status_code == 404
    response = signed_in(bob).post(reverse("sharing:continue", args=[made.token]))
    assert response.status_code == 404 and not Conversation.objects.filter(owner=bob).exists()
    Conversation.objects.filter(pk=conversation.pk).update(trashed_at=None)
    assert Client().get(url(made)).status_code == 200


@db
def test_a_link_that_expires_opens_until_then(alice, bob):
    made = share(chat(alice), expires="7")
    assert timedelta(days=6, hours=23) < made.expires - timezone.now() <= timedelta(days=7)
    assert signed_in(bob).get(url(made)).status_code == 200


@db
def test_the_shared_page_is_not_cached_and_tells_other_sites_nothing(alice):
    response = Client().get(url(share(chat(alice), audience="anyone")))
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]


# --- counted and audited ---------------------------------------------------------------------


@db
def test_every_reading_is_counted_and_audited_with_its_reader(alice, bob):
    made = share(chat(alice), audience="anyone")
    Client().get(url(made), REMOTE_ADDR="10.0.0.7")
    signed_in(bob).get(url(made))

    made.refresh_from_db()
    assert made.views == 2 and made.last_viewed is not None
    entries = AuditEntry.objects.filter(action=AuditAction.SHARE_VIEW).order_by("id")
    assert [(e.actor_name, e.actor_id) for e in entries] == [("anonymous", None), ("bob", bob.pk)]
    assert entries[0].address == "10.0.0.7"
    assert (entries[0].target_type, entries[0].target_id) == ("sharing.Share", str(made.pk))
    assert entries[1].detail["viewer"] == "bob" and entries[1].detail["share"] == made.pk
    assert "Leases" not in entries[0].summary  # no titles in the trail


@db
def test_making_and_revoking_a_link_are_audited(alice):
    conversation = chat(alice)
    client = signed_in(alice)
    client.post(
        reverse("sharing:create", args=[conversation.pk]),
        {"audience": "members", "expires": "30"},
        **HTMX,
    )
    made = Share.objects.get()
    client.post(reverse("sharing:revoke", args=[conversation.pk, made.pk]), **HTMX)
    client.post(reverse("sharing:revoke", args=[conversation.pk, made.pk]), **HTMX)

    actions = list(
        AuditEntry.objects.order_by("id").values_list("action", "actor_name", "target_id")
    )
    assert actions == [
        (AuditAction.SHARE_CREATE, "alice", str(made.pk)),
        (AuditAction.SHARE_REVOKE, "alice", str(made.pk)),  # once: the second changed nothing
    ]
    assert AuditEntry.objects.get(action=AuditAction.SHARE_CREATE).detail["messages"] == 2


# --- the owner's panel -----------------------------------------------------------------------


@db
def test_the_owner_makes_a_link_and_gets_its_address_to_copy(alice):
    conversation = chat(alice)
    response = signed_in(alice).post(
        reverse("sharing:create", args=[conversation.pk]),
        {"audience": "anyone", "expires": "1"},
        **HTMX,
    )
    assert response.status_code == 200
    made = Share.objects.get()
    assert (made.audience, made.created_by, made.message_ids) == (
        "anyone",
        alice,
        list(conversation.messages.values_list("pk", flat=True)),
    )
    html = response.content.decode()
    assert f'value="http://testserver{url(made)}"' in html and "readonly" in html
    assert f'data-copy-link="http://testserver{url(made)}"' in html
    assert '<div id="announcer" hx-swap-oob="innerHTML">Link created.' in html
    assert "1 view" not in html and "0 views" in html


@db
def test_the_link_is_on_the_public_address_when_one_is_set(alice, settings):
    settings.WEBCHAT_PUBLIC_URL = "https://chat.example.com"
    conversation = chat(alice)
    signed_in(alice).post(reverse("sharing:create", args=[conversation.pk]), **HTMX)
    html = signed_in(alice).get(panel_url(conversation), **HTMX).content.decode()
    assert f'data-copy-link="https://chat.example.com{url(Share.objects.get())}"' in html


@db
def test_the_panel_lists_the_links_with_their_readings_and_revokes_one(alice, bob):
    conversation = chat(alice)
    made = share(conversation, audience="anyone", expires="7")
    signed_in(bob).get(url(made))
    client = signed_in(alice)

    html = client.get(panel_url(conversation), **HTMX).content.decode()
    assert 'id="share-panel"' in html and "<html" not in html
    assert "Anyone with the link" in html and "1 view" in html and "expires in 6\xa0days" in html
    assert ">Revoke</button>" in html

    response = client.post(reverse("sharing:revoke", args=[conversation.pk, made.pk]), **HTMX)
    html = response.content.decode()
    made.refresh_from_db()
    assert made.revoked is not None
    assert "revoked" in html and ">Revoke</button>" not in html
    assert '<div id="announcer" hx-swap-oob="innerHTML">Link revoked' in html
    assert Client().get(url(made)).status_code == 404


@db
def test_without_htmx_the_panel_is_a_page_and_posts_redirect(alice):
    conversation = chat(alice)
    client = signed_in(alice)
    page = client.get(panel_url(conversation))
    assert page.status_code == 200 and "<html" in page.content.decode()
    made = client.post(reverse("sharing:create", args=[conversation.pk]), {"expires": "never"})
    share_made = Share.objects.get()
    assert made.status_code == 302
    assert made["Location"] == f"{panel_url(conversation)}?created={share_made.pk}"
    shown = client.get(made["Location"]).content.decode()
    assert f'value="http://testserver{url(share_made)}"' in shown
    revoked = client.post(reverse("sharing:revoke", args=[conversation.pk, share_made.pk]))
    assert revoked.status_code == 302 and revoked["Location"] == panel_url(conversation)


@db
def test_the_chat_header_offers_share(alice):
    conversation = chat(alice)
    html = signed_in(alice).get(reverse("conversations:detail", args=[conversation.pk]))
    html = html.content.decode()
    assert 'aria-label="Share this conversation"' in html
    assert f'hx-get="{panel_url(conversation)}"' in html
    assert "js/sharing.js" in html


@db
@pytest.mark.parametrize("value", [{"audience": "everyone"}, {"expires": "365"}])
def test_a_choice_the_form_does_not_offer_is_a_400(alice, value):
    conversation = chat(alice)
    response = signed_in(alice).post(reverse("sharing:create", args=[conversation.pk]), value)
    assert response.status_code == 400
    assert not Share.objects.exists()


# --- ownership and CSRF ----------------------------------------------------------------------


@db
def test_a_strangers_conversation_or_link_is_404_everywhere(alice, bob):
    theirs = chat(alice)
    made = share(theirs)
    mine = chat(bob)
    client = signed_in(bob)

    assert client.get(panel_url(theirs), **HTMX).status_code == 404
    assert client.post(reverse("sharing:create", args=[theirs.pk]), **HTMX).status_code == 404
    for pk in (theirs.pk, mine.pk):
        response = client.post(reverse("sharing:revoke", args=[pk, made.pk]), **HTMX)
        assert response.status_code == 404
    assert client.get(f"{panel_url(mine)}?created={made.pk}").status_code == 404
    assert Share.objects.count() == 1 and Share.objects.get().revoked is None


@db
def test_the_panel_needs_a_signed_in_owner(alice):
    conversation = chat(alice)
    response = Client().get(panel_url(conversation))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@db
def test_making_revoking_and_continuing_need_the_csrf_token(alice, bob):
    conversation = chat(alice)
    made = share(conversation)
    owner = signed_in(alice, enforce_csrf_checks=True)
    reader = signed_in(bob, enforce_csrf_checks=True)

    create = owner.post(reverse("sharing:create", args=[conversation.pk]), **HTMX)
    revoke = owner.post(reverse("sharing:revoke", args=[conversation.pk, made.pk]), **HTMX)
    copy = reader.post(reverse("sharing:continue", args=[made.token]))

    assert (create.status_code, revoke.status_code, copy.status_code) == (403, 403, 403)
    assert Share.objects.count() == 1 and Share.objects.get().revoked is None
    assert not Conversation.objects.filter(owner=bob).exists()


# --- continue in my chats --------------------------------------------------------------------


@db
def test_continue_copies_only_the_snapshot_into_a_conversation_of_the_readers_own(alice, bob):
    conversation = chat(alice)
    say(conversation, "assistant", "", status=MessageStatus.FAILED, error="It broke.")
    made = share(conversation)
    say(conversation, "user", "Written after sharing")

    response = signed_in(bob).post(reverse("sharing:continue", args=[made.token]))

    copy = Conversation.objects.get(owner=bob)
    assert response.status_code == 302
    assert response["Location"] == reverse("conversations:detail", args=[copy.pk])
    assert (copy.provider, copy.model, copy.agent) == ("mistral", "mistral-small-latest", "")
    assert (copy.title, copy.titled, copy.upstream_id) == ("Leases (copy)", True, "")
    assert copy.continued_from is None, "the original is not the reader's to follow"
    rows = list(copy.messages.order_by("id"))
    assert [(m.role, m.text, m.status, m.upstream_id) for m in rows] == [
        ("user", "What is a lease?", "complete", ""),
        ("assistant", "A *lease* is a loan.", "complete", ""),
    ]
    assert rows[1].html == "<p>A *lease* is a loan.</p>"
    assert copy.message_count == 2
    assert SharedCopy.objects.get(conversation=copy).share == made
    assert conversation.messages.count() == 4, "the original is left as it was"
    entry = AuditEntry.objects.get(action=AuditAction.SHARE_COPY)
    assert (entry.actor, entry.detail["copy"]) == (bob, copy.pk)

    page = signed_in(bob).get(response["Location"]).content.decode()
    assert 'id="copy-notice"' in page and "Copied from a shared conversation" in page
    assert "The copied turns are given to the assistant" in page
    assert "A *lease* is a loan." in page


@db
def test_continue_signed_out_goes_to_sign_in_and_makes_nothing(alice):
    made = share(chat(alice), audience="anyone")
    response = Client().post(reverse("sharing:continue", args=[made.token]))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url(made)}"
    assert Conversation.objects.count() == 1


@db
def test_continue_from_a_revoked_link_is_the_not_valid_page(alice, bob):
    made = share(chat(alice))
    services.share_revoke(share=made)
    response = signed_in(bob).post(reverse("sharing:continue", args=[made.token]))
    assert response.status_code == 404 and b"This link is not valid" in response.content
    assert not Conversation.objects.filter(owner=bob).exists()


@db
def test_continue_is_refused_in_words_when_the_model_is_no_longer_offered(alice, bob):
    made = share(chat(alice, model="retired-model"))
    page = signed_in(bob).get(url(made)).content.decode()
    assert "retired-model on Mistral is no longer offered here" in page
    assert "Continue in my chats" not in page

    response = signed_in(bob).post(reverse("sharing:continue", args=[made.token]))
    assert response.status_code == 422
    assert "is no longer offered here" in response.content.decode()
    assert not Conversation.objects.filter(owner=bob).exists()


@db
def test_a_copys_page_says_an_orq_assistant_starts_without_the_copied_turns(alice, bob):
    copy = chat(bob, provider="orq", model="openai/gpt-4o")
    SharedCopy.objects.create(conversation=copy, messages=2)
    page = signed_in(bob).get(reverse("conversations:detail", args=[copy.pk])).content.decode()
    assert "Copied from a shared conversation" in page
    assert "An Orq turn carries one message, so the assistant starts without the copied turns" in (
        page
    )
    plain = chat(bob, provider="orq", model="openai/gpt-4o")
    page = signed_in(bob).get(reverse("conversations:detail", args=[plain.pk])).content.decode()
    assert "copy-notice" not in page


@db
def test_the_shared_page_says_what_the_assistant_will_remember(alice, bob):
    mistral = signed_in(bob).get(url(share(chat(alice)))).content.decode()
    assert "The assistant is given these turns, so it remembers them." in mistral
    orq = share(chat(alice, provider="orq", model="openai/gpt-4o"))
    page = signed_in(bob).get(url(orq)).content.decode()
    assert "An Orq turn carries one message, so the assistant starts without these turns" in page


# --- what the assistant remembers (against the emulator) --------------------------------------


async def exchange(socket, text: str) -> dict:
    await socket.send_json_to({"type": "send", "text": text})
    _, done = await until(socket, "done")
    assert done["status"] == "complete", done
    return done


async def shared_exchange(owner, provider: str) -> Share:
    """The owner's conversation of one real exchange, shared (then one more, not shared)."""
    conversation = await new_conversation(owner, provider)
    socket, connected, _ = await socket_for(conversation.pk, owner)
    assert connected
    await receive(socket)  # the snapshot
    await exchange(socket, "What is a lease?")
    await conversation.arefresh_from_db()
    made = await sync_to_async(share)(conversation)
    await exchange(socket, "Not in the link")
    await socket.disconnect()
    await replies_finished()
    return made


async def continued(reader, made: Share) -> Conversation:
    client = AsyncClient()
    await client.aforce_login(reader)
    response = await client.post(reverse("sharing:continue", args=[made.token]))
    assert response.status_code == 302, response.content
    return await Conversation.objects.aget(owner=reader)


@live
async def test_a_mistral_copy_starts_upstream_with_the_copied_turns_as_entries(alice, bob):
    made = await shared_exchange(alice, "mistral")
    copy = await continued(bob, made)
    assert copy.upstream_id == ""

    socket, connected, _ = await socket_for(copy.pk, bob)
    assert connected
    await receive(socket)
    await exchange(socket, "Tell me more")
    await copy.arefresh_from_db()
    history = await clients.mistral().http.call(
        "GET", f"/v1/conversations/{copy.upstream_id}/history"
    )
    entries = [(e["type"], e.get("role"), e["content"]) for e in history["entries"]]
    answer = compose_reply("What is a lease?").full_text
    assert entries[:3] == [
        ("message.input", "user", "What is a lease?"),
        ("message.output", "assistant", answer),
        ("message.input", "user", "Tell me more"),
    ]
    assert [e[0] for e in entries[3:]] == ["message.output"], "then its reply, and nothing else"

    # A regenerate restarts afresh (the copied reply has no entry of its own): the new
    # upstream conversation is given the copied turns again.
    await socket.send_json_to({"type": "regenerate"})
    _, done = await until(socket, "done")
    assert done["status"] == "complete"
    await socket.disconnect()
    await replies_finished()
    await copy.arefresh_from_db()
    history = await clients.mistral().http.call(
        "GET", f"/v1/conversations/{copy.upstream_id}/history"
    )
    contents = [e["content"] for e in history["entries"]]
    assert contents[:3] == ["What is a lease?", answer, "Tell me more"]
    assert "Not in the link" not in str(history)


@live
async def test_an_orq_copy_starts_without_the_copied_turns(alice, bob):
    made = await shared_exchange(alice, "orq")
    copy = await continued(bob, made)
    assert copy.upstream_id, "an Orq conversation exists upstream from the start"
    assert [m.text async for m in copy.messages.order_by("id")] == [
        "What is a lease?",
        compose_reply("What is a lease?").full_text,
    ]

    socket, connected, _ = await socket_for(copy.pk, bob)
    assert connected
    await receive(socket)
    await exchange(socket, "Tell me more")
    await socket.disconnect()
    await replies_finished()
    upstream = await clients.orq().get_conversation(copy.upstream_id)
    assert [(m.role, m.text) for m in upstream.messages] == [
        ("user", "Tell me more"),
        ("assistant", compose_reply("Tell me more").full_text),
    ]


# --- earlier turns -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_earlier_turns_are_the_shown_turns_before_the_one_being_started(alice):
    conversation = await Conversation.objects.acreate(
        owner=alice, provider="mistral", model="mistral-small-latest"
    )
    rows = {}
    for role, text in [("user", "One"), ("assistant", "Two"), ("assistant", "Hidden"),
                       ("user", "Three"), ("assistant", "")]:  # fmt: skip
        rows[text] = await Message.objects.acreate(conversation=conversation, role=role, text=text)
    await Message.objects.filter(pk=rows["Hidden"].pk).aupdate(stash=rows["Hidden"].pk)

    # No upstream conversation yet: its own turns before "Three" (the turn being started).
    assert await earlier_turns(conversation) == (("user", "One"), ("assistant", "Two"))
    # With one, only a fresh start is given them.
    conversation.upstream_id = "conv_1"
    assert await earlier_turns(conversation) == ()
    assert await earlier_turns(conversation, fresh=True) == (("user", "One"), ("assistant", "Two"))


@pytest.mark.django_db(transaction=True)
async def test_earlier_turns_of_a_continuation_leave_out_versions_not_shown(alice):
    lost = await Conversation.objects.acreate(
        owner=alice, provider="mistral", model="mistral-small-latest", upstream_id="conv_gone"
    )
    for role, text in [("user", "One"), ("assistant", "Old answer"), ("assistant", "Two")]:
        message = await Message.objects.acreate(conversation=lost, role=role, text=text)
        if text == "Old answer":
            await Message.objects.filter(pk=message.pk).aupdate(stash=message.pk)
    later = await Conversation.objects.acreate(
        owner=alice, provider="mistral", model="mistral-small-latest", continued_from=lost
    )
    await Message.objects.acreate(conversation=later, role="user", text="Three")
    assert await earlier_turns(later) == (("user", "One"), ("assistant", "Two"))


# --- the admin ---------------------------------------------------------------------------------


@db
def test_the_admin_lists_links_and_a_superuser_revokes_them(alice, carol):
    made = share(chat(alice), audience="anyone")
    client = signed_in(carol)
    listing = client.get(reverse("admin:sharing_share_changelist")).content.decode()
    assert "Anyone with the link" in listing and "Leases" in listing
    assert made.token not in listing
    assert 'value="revoke"' in listing

    response = client.post(
        reverse("admin:sharing_share_changelist"),
        {"action": "revoke", "_selected_action": [made.pk]},
    )
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.revoked is not None
    entry = AuditEntry.objects.get(action=AuditAction.SHARE_REVOKE)
    assert entry.actor == carol
    assert (
        made.token
        not in client.get(reverse("admin:sharing_share_change", args=[made.pk])).content.decode()
    )


@db
def test_a_reply_still_being_written_is_not_in_the_snapshot(alice):
    conversation = chat(alice)
    say(conversation, "user", "And then?")
    writing = say(conversation, "assistant", "Half of it", status="streaming")
    made = share(conversation)
    assert writing.pk not in made.message_ids and len(made.message_ids) == 3


@db
def test_the_admin_list_cannot_be_filtered_by_token(alice, carol):
    made = share(chat(alice), audience="anyone")
    client = signed_in(carol)
    changelist = reverse("admin:sharing_share_changelist")
    for lookup in ("token__startswith", "token", "token__gt"):
        response = client.get(changelist, {lookup: made.token[:1]})
        # Refused (a 400, or Django's "?e=1" redirect), never a list narrowed by the token.
        assert response.status_code in (302, 400), (lookup, response.status_code)


@db
def test_a_transcript_reviewer_reads_the_links_and_cannot_revoke(alice, dave, erin):
    made = share(chat(alice))
    listing = signed_in(dave).get(reverse("admin:sharing_share_changelist"))
    assert listing.status_code == 200 and 'value="revoke"' not in listing.content.decode()
    response = signed_in(dave).post(
        reverse("admin:sharing_share_changelist"),
        {"action": "revoke", "_selected_action": [made.pk]},
    )
    made.refresh_from_db()
    assert made.revoked is None, response.status_code
    assert signed_in(erin).get(reverse("admin:sharing_share_changelist")).status_code == 403


@db
def test_a_shared_files_name_shows_but_only_its_owner_opens_it(alice, bob):
    from django.core.files.base import ContentFile

    from conversations.attachments import part_of
    from conversations.models import Attachment
    from tests.conversations.test_attachments import PNG

    conversation = chat(alice)
    question = conversation.messages.filter(role="user").first()
    attachment = Attachment(owner=alice, message=question, name="dot.png", mime="image/png")
    attachment.size = len(PNG)
    attachment.file.save("dot.png", ContentFile(PNG))
    question.parts = [part_of(attachment)]
    question.save(update_fields=["parts"])
    made = share(conversation)
    html = signed_in(bob).get(url(made)).content.decode()
    assert "dot.png" in html
    assert reverse("conversations:attachment", args=[attachment.pk, "dot.png"]) not in html
    # The reader's copy keeps the file's name, type and size: the file stays the sharer's.
    copy = async_to_sync(services.share_continue)(share=made, user=bob, request=None)
    copied = copy.messages.filter(role="user").first()
    assert copied.files == [
        {"kind": "file", "name": "dot.png", "mime": "image/png", "size": len(PNG)}
    ]
