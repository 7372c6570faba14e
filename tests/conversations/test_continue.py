"""A conversation the provider no longer has: said plainly, no Retry, continued in a new one."""

from __future__ import annotations

import pytest
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone

from conversations import services
from conversations.models import Conversation, Message, MessageStatus
from conversations.turns import earlier_turns
from emulator.assistant import compose_reply
from tests.replies import replies_finished
from tests.sockets import new_conversation, receive, socket_for, until
from upstream import clients

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

NAMES = {"orq": "Orq", "mistral": "Mistral"}
HTMX = {"headers": {"HX-Request": "true"}}


def client_of(provider: str):
    return clients.orq() if provider == "orq" else clients.mistral()


async def exchange(socket, text: str) -> dict:
    """Send a message; the reply's `done` frame."""
    await socket.send_json_to({"type": "send", "text": text})
    _, done = await until(socket, "done")
    return done


async def lost_conversation(owner, provider: str) -> tuple[Conversation, dict]:
    """One exchange, then the provider deletes the conversation behind Webchat's back and the
    next message finds out. Returns the conversation and that failed reply's `done` frame."""
    conversation = await new_conversation(owner, provider)
    socket, connected, _ = await socket_for(conversation.pk, owner)
    assert connected
    await receive(socket)  # the snapshot
    first = await exchange(socket, "What is a lease?")
    assert (await Message.objects.aget(pk=first["id"])).status == MessageStatus.COMPLETE
    await conversation.arefresh_from_db()
    await client_of(provider).delete_conversation(conversation.upstream_id)
    failed = await exchange(socket, "And when it runs out?")
    await socket.disconnect()
    await replies_finished()
    await conversation.arefresh_from_db()
    return conversation, failed


async def signed_in(user, **kwargs) -> AsyncClient:
    client = AsyncClient(**kwargs)
    await client.aforce_login(user)
    return client


@pytest.mark.parametrize("provider", ["orq", "mistral"])
async def test_a_message_to_a_conversation_gone_upstream_says_so_and_offers_to_continue(
    provider, alice
):
    conversation, done = await lost_conversation(alice, provider)

    reply = await Message.objects.aget(pk=done["id"])
    assert reply.status == MessageStatus.FAILED
    assert reply.error.startswith(f"{NAMES[provider]} no longer has this conversation")
    assert "Continue in a new conversation" in reply.error
    assert conversation.upstream_gone is not None
    assert "Retry" not in done["html"] and "data-regenerate" not in done["html"]
    assert f'form="continue-{conversation.pk}"' in done["html"]
    assert "Continue in a new conversation" in done["html"]


@pytest.mark.parametrize("provider", ["orq", "mistral"])
async def test_the_socket_refuses_every_turn_in_a_conversation_gone_upstream(provider, alice):
    conversation, _ = await lost_conversation(alice, provider)
    first = await conversation.messages.filter(role="user").afirst()
    count = await conversation.messages.acount()
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)  # the snapshot
    for request in (
        {"type": "send", "text": "Hello?"},
        {"type": "regenerate"},
        {"type": "edit", "id": first.pk, "text": "What is a lease, really?"},
    ):
        await socket.send_json_to(request)
        assert await receive(socket) == {
            "type": "error",
            "message": services.gone_message(conversation),
        }
    assert await conversation.messages.acount() == count
    await socket.disconnect()


@pytest.mark.parametrize("provider", ["orq", "mistral"])
async def test_a_404_about_something_else_keeps_retry(provider, alice):
    # The provider answers 404 although it still has the conversation: not gone.
    conversation = await new_conversation(alice, provider)
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await exchange(socket, "What is a lease?")
    done = await exchange(socket, "[[emulator status=404]] Once more")
    await socket.disconnect()
    await replies_finished()
    reply = await Message.objects.aget(pk=done["id"])
    await conversation.arefresh_from_db()
    assert reply.status == MessageStatus.FAILED
    assert conversation.upstream_gone is None
    assert "Retry" in done["html"] and "Continue in a new conversation" not in done["html"]
    assert "no longer has" not in reply.error, "it has: the page must not say otherwise"


async def continue_from(client, old: Conversation, text: str):
    """What the page does: Continue shows a new chat for it; its first message makes it."""
    draft = await client.get(reverse("conversations:continue", args=[old.pk]), **HTMX)
    assert draft.status_code == 200
    assert not await Conversation.objects.filter(continued_from=old).aexists()
    data = {"continued_from": old.pk, "text": text}
    made = await client.post(reverse("conversations:create"), data, **HTMX)
    assert made.status_code == 200, made.content
    return draft.content.decode(), made


async def test_continuing_a_mistral_conversation_gives_it_the_earlier_turns(alice):
    old, _ = await lost_conversation(alice, "mistral")
    client = await signed_in(alice)
    draft, made = await continue_from(client, old, "Tell me more")
    assert 'name="continued_from"' in draft and "the assistant is given the earlier turns" in draft
    assert f'href="{reverse("conversations:detail", args=[old.pk])}"' in draft
    new = await Conversation.objects.aget(continued_from=old)
    assert made["HX-Push-Url"] == reverse("conversations:detail", args=[new.pk])
    assert (new.provider, new.model, new.owner_id) == (old.provider, old.model, alice.pk)
    pane = made.content.decode()
    assert f'href="{reverse("conversations:detail", args=[old.pk])}"' in pane
    assert "the assistant was given its turns" in pane
    await replies_finished()
    reply = await Message.objects.aget(conversation=new, role="assistant")
    assert reply.status == MessageStatus.COMPLETE
    assert reply.text == compose_reply("Tell me more").full_text

    # On the wire: the new upstream conversation starts with the earlier turns as entries.
    await new.arefresh_from_db()
    history = await clients.mistral().http.call(
        "GET", f"/v1/conversations/{new.upstream_id}/history"
    )
    entries = [(e["type"], e.get("role"), e["content"]) for e in history["entries"]]
    first_answer = compose_reply("What is a lease?").full_text
    assert entries[:4] == [
        ("message.input", "user", "What is a lease?"),
        ("message.output", "assistant", first_answer),
        ("message.input", "user", "And when it runs out?"),
        ("message.input", "user", "Tell me more"),
    ]
    assert entries[4][0] == "message.output" and len(entries) == 5


async def test_an_orq_continuation_starts_without_the_earlier_turns_and_says_so(alice):
    old, _ = await lost_conversation(alice, "orq")
    client = await signed_in(alice)
    draft, made = await continue_from(client, old, "Tell me more")
    assert "the assistant starts without the earlier turns" in draft
    new = await Conversation.objects.aget(continued_from=old)
    pane = made.content.decode()
    assert "the assistant does not see its turns" in pane
    assert f'href="{reverse("conversations:detail", args=[old.pk])}"' in pane
    old_page = (await client.get(reverse("conversations:detail", args=[old.pk]))).content.decode()
    assert "Orq no longer has this conversation" in old_page
    assert "the assistant starts without the earlier turns" in old_page
    await replies_finished()
    await new.arefresh_from_db()
    upstream = await clients.orq().get_conversation(new.upstream_id)
    assert [(m.role, m.text) for m in upstream.messages] == [
        ("user", "Tell me more"),
        ("assistant", compose_reply("Tell me more").full_text),
    ]


async def test_continue_makes_nothing_until_the_first_message_then_opens_that_one(alice):
    before = len([c async for c in clients.mistral().iter_conversations()])
    old = await gone_row(alice)
    client = await signed_in(alice)
    url = reverse("conversations:continue", args=[old.pk])
    for _ in range(2):
        assert (await client.get(url, **HTMX)).status_code == 200
    assert not await Conversation.objects.filter(continued_from=old).aexists()
    assert len([c async for c in clients.mistral().iter_conversations()]) == before
    await continue_from(client, old, "Go on")
    await replies_finished()
    new = await Conversation.objects.aget(continued_from=old)
    again = await client.get(url, **HTMX)
    assert again["HX-Push-Url"] == reverse("conversations:detail", args=[new.pk])
    plain = await client.get(url)
    assert plain.status_code == 302
    assert plain["Location"] == reverse("conversations:detail", args=[new.pk])


async def test_continue_without_htmx_is_a_whole_page_with_the_new_chat(alice):
    old = await gone_row(alice)
    client = await signed_in(alice)
    response = await client.get(reverse("conversations:continue", args=[old.pk]))
    page = response.content.decode()
    assert response.status_code == 200 and 'id="sidebar"' in page
    assert 'name="continued_from"' in page


async def test_continuing_a_strangers_conversation_is_404(alice, bob):
    old = await gone_row(alice)
    client = await signed_in(bob)
    response = await client.get(reverse("conversations:continue", args=[old.pk]), **HTMX)
    assert response.status_code == 404
    data = {"continued_from": old.pk, "text": "Mine now?"}
    response = await client.post(reverse("conversations:create"), data, **HTMX)
    assert response.status_code == 404
    assert not await Conversation.objects.filter(continued_from=old).aexists()


async def test_continuing_without_csrf_is_403(alice):
    old = await gone_row(alice)
    client = await signed_in(alice, enforce_csrf_checks=True)
    data = {"continued_from": old.pk, "text": "Go on"}
    response = await client.post(reverse("conversations:create"), data, **HTMX)
    assert response.status_code == 403
    assert not await Conversation.objects.filter(continued_from=old).aexists()


async def test_a_conversation_that_can_go_on_is_not_continued(alice):
    old = await gone_row(alice)
    await Conversation.objects.filter(pk=old.pk).aupdate(upstream_gone=None)
    client = await signed_in(alice)
    response = await client.get(reverse("conversations:continue", args=[old.pk]), **HTMX)
    assert response["HX-Retarget"] == "#flash"
    assert "can still go on here" in response.content.decode()
    data = {"continued_from": old.pk, "text": "Go on"}
    response = await client.post(reverse("conversations:create"), data, **HTMX)
    assert "can still go on here" in response.content.decode()
    assert not await Conversation.objects.filter(continued_from=old).aexists()


async def test_the_page_of_a_gone_conversation_offers_only_to_continue(alice):
    old = await gone_row(alice)
    client = await signed_in(alice)
    page = (await client.get(reverse("conversations:detail", args=[old.pk]))).content.decode()
    assert "Mistral no longer has this conversation" in page
    assert "the earlier turns are given to the assistant" in page
    assert f'form="continue-{old.pk}"' in page
    assert f'action="{reverse("conversations:continue", args=[old.pk])}"' in page
    assert "data-regenerate" not in page and "data-edit" not in page
    assert 'id="send"' not in page


async def test_a_conversation_lost_before_its_messages_were_loaded_opens_with_the_notice(alice):
    # Known upstream, never loaded here, deleted there meanwhile: a page, not a 404.
    conversation = await Conversation.objects.acreate(
        owner=alice,
        provider="mistral",
        model="mistral-small-latest",
        upstream_id="conv_" + "0" * 32,
    )
    client = await signed_in(alice)
    response = await client.get(reverse("conversations:detail", args=[conversation.pk]))
    assert response.status_code == 200
    assert "Mistral no longer has this conversation" in response.content.decode()
    await conversation.arefresh_from_db()
    assert conversation.upstream_gone is not None


async def test_renaming_an_orq_conversation_gone_upstream_renames_it_here(alice):
    conversation = await new_conversation(alice, "orq")
    await clients.orq().delete_conversation(conversation.upstream_id)
    client = await signed_in(alice)
    url = reverse("conversations:rename", args=[conversation.pk])
    response = await client.post(url, {"title": "Kept here"}, **HTMX)
    assert response.status_code == 200
    await conversation.arefresh_from_db()
    assert conversation.title == "Kept here" and conversation.upstream_gone is not None


async def test_earlier_turns_follow_the_chain_of_continuations_oldest_first(alice):
    first = await gone_row(alice, [("user", "One"), ("assistant", "Two"), ("user", "Three")])
    await Message.objects.acreate(
        conversation=first, role="assistant", text="", status=MessageStatus.FAILED
    )
    second = await gone_row(alice, [("user", "Four"), ("assistant", "Five")], continued_from=first)
    third = await Conversation.objects.acreate(
        owner=alice, provider="mistral", model="mistral-small-latest", continued_from=second
    )
    assert await earlier_turns(third) == (
        ("user", "One"),
        ("assistant", "Two"),
        ("user", "Three"),
        ("user", "Four"),
        ("assistant", "Five"),
    )
    assert await earlier_turns(first) == ()


async def gone_row(owner, messages=(("user", "Hi"), ("assistant", "Hello")), **fields):
    """A Mistral conversation already known to be gone upstream, with these messages."""
    conversation = await Conversation.objects.acreate(
        owner=owner,
        provider="mistral",
        model="mistral-small-latest",
        upstream_id="conv_gone",
        upstream_gone=timezone.now(),
        **fields,
    )
    for role, text in messages:
        await Message.objects.acreate(conversation=conversation, role=role, text=text)
    return conversation
