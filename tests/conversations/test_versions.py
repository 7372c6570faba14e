"""Issue 14, item 4: a regenerate or edit keeps what it replaced as an earlier version, and the
reader pages between versions where the conversation changed.

Against the emulator, over the real socket: Mistral continues the version shown (each version is
its own upstream conversation, made by a restart); Orq keeps every version in one conversation,
so an earlier version is for reading only.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client
from django.utils import timezone

from conversations import services, versions
from conversations.models import Conversation, Message
from emulator.assistant import compose_reply
from tests.replies import replies_finished
from tests.sockets import new_conversation, receive, socket_for, until
from upstream import clients
from upstream.errors import NotFound

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]


async def exchange(socket, *texts: str) -> dict:
    done = {}
    for text in texts:
        await socket.send_json_to({"type": "send", "text": text})
        _, done = await until(socket, "done")
    return done


async def shown(conversation) -> list[str]:
    return [m.text async for m in conversation.messages.shown().order_by("id")]


async def mistral_history(upstream_id: str) -> list[str]:
    return [m.text for m in await clients.mistral().history(upstream_id)]


async def page_of(user, conversation) -> str:
    client = AsyncClient()
    await client.aforce_login(user)
    return (await client.get(f"/conversations/{conversation.pk}/")).content.decode()


async def show_version(user, conversation, message_id: int):
    client = AsyncClient()
    await client.aforce_login(user)
    return await client.post(
        f"/conversations/{conversation.pk}/versions/{message_id}", headers={"HX-Request": "true"}
    )


async def regenerate(socket) -> dict:
    await socket.send_json_to({"type": "regenerate"})
    frames, done = await until(socket, "done")
    assert done["status"] == "complete"
    # The new version's pager follows the reply, for every page watching.
    _, pagers = await until(socket, "versions")
    return {"done": done, "pagers": pagers, "before": frames}


async def test_regenerate_on_mistral_keeps_both_versions_and_continues_the_one_shown(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    first = await exchange(socket, "First question")
    await conversation.arefresh_from_db()
    upstream_first = conversation.upstream_id

    second = (await regenerate(socket))["done"]
    assert second["id"] != first["id"]
    await conversation.arefresh_from_db()
    upstream_second = conversation.upstream_id
    assert upstream_second != upstream_first  # a restart: its own upstream conversation

    # The page shows the latest, with 2/2 at the reply, and 1/2 one step back.
    page = await page_of(alice, conversation)
    assert f'id="reply-{first["id"]}"' not in page
    assert 'aria-label="Version 2 of 2"' in page
    response = await show_version(alice, conversation, first["id"])
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="reply-{first["id"]}"' in html and f'id="reply-{second["id"]}"' not in html
    assert 'aria-label="Version 1 of 2"' in html and f'data-focus="{first["id"]}"' in html

    # Writing on goes on from the version shown, in its own upstream conversation.
    await conversation.arefresh_from_db()
    assert conversation.upstream_id == upstream_first
    assert not conversation.older_version_shown  # Mistral can continue any version
    await socket.disconnect()
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await exchange(socket, "And then?")
    assert await shown(conversation) == [
        "First question",
        compose_reply("First question").full_text,
        "And then?",
        compose_reply("And then?").full_text,
    ]
    assert (await mistral_history(upstream_first))[-2:] == [
        "And then?",
        compose_reply("And then?").full_text,
    ]
    assert "And then?" not in await mistral_history(upstream_second)

    # Paging forward shows the second version again, without the turn added to the first.
    await show_version(alice, conversation, second["id"])
    assert await shown(conversation) == [
        "First question",
        compose_reply("First question").full_text,
    ]
    assert (await Message.objects.aget(pk=second["id"])).stash_id is None
    await conversation.arefresh_from_db()
    assert conversation.upstream_id == upstream_second

    # Deleting the conversation deletes every version upstream.
    await socket.disconnect()
    await replies_finished()
    await conversation.arefresh_from_db()
    await services.conversation_delete(conversation=conversation, by=alice)
    for upstream_id in (upstream_first, upstream_second):
        with pytest.raises(NotFound):
            await mistral_history(upstream_id)


async def test_on_orq_an_earlier_version_is_read_only_until_the_latest_is_shown(alice):
    conversation = await new_conversation(alice, "orq")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    first = await exchange(socket, "Orq question")
    await regenerate(socket)
    await conversation.arefresh_from_db()
    upstream = conversation.upstream_id

    html = (await show_version(alice, conversation, first["id"])).content.decode()
    await conversation.arefresh_from_db()
    assert conversation.older_version_shown and conversation.upstream_id == upstream
    assert "This is an earlier version." in html and "Show the latest version" in html
    assert 'id="composer-text"' in html and "data-regenerate" not in html
    assert "data-edit" not in html

    # The socket refuses a turn meanwhile, in words, and keeps nothing of it.
    await socket.send_json_to({"type": "send", "text": "Can I go on?", "client_id": "c1"})
    _, error = await until(socket, "error")
    assert "earlier version" in error["message"] and error["client_id"] == "c1"
    assert "Can I go on?" not in await shown(conversation)

    html = (await show_version(alice, conversation, 0)).content.decode()  # the latest
    await conversation.arefresh_from_db()
    assert not conversation.older_version_shown
    assert 'aria-label="Version 2 of 2"' in html
    await exchange(socket, "Now I can")
    assert (await shown(conversation))[-2] == "Now I can"
    await socket.disconnect()
    await replies_finished()


async def test_an_edit_is_paged_at_the_message_and_nested_versions_keep_their_place(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await exchange(socket, "One", "Two")
    two = await conversation.messages.filter(text="Two").afirst()
    await socket.send_json_to({"type": "edit", "id": two.pk, "text": "Two b"})
    await until(socket, "done")
    _, pagers = await until(socket, "versions")
    two_b = await conversation.messages.filter(text="Two b").afirst()
    assert list(pagers["html"]) == [str(two_b.pk)]  # at the edited message, not the reply
    assert "Version 2 of 2" in pagers["html"][str(two_b.pk)]
    # Inside the second version, a regenerate makes versions of its own.
    await regenerate(socket)
    inner_latest = await conversation.messages.shown().alast()
    assert await shown(conversation) == [
        "One",
        compose_reply("One").full_text,
        "Two b",
        compose_reply("Two b").full_text,
    ]

    await show_version(alice, conversation, two.pk)  # the outer first version
    assert await shown(conversation) == [
        "One",
        compose_reply("One").full_text,
        "Two",
        compose_reply("Two").full_text,
    ]
    # A version inside a version not shown cannot be shown on its own.
    response = await show_version(alice, conversation, inner_latest.pk)
    assert "inside another version" in response.content.decode()
    await show_version(alice, conversation, two_b.pk)
    assert (await conversation.messages.shown().alast()).pk == inner_latest.pk
    page = await page_of(alice, conversation)
    assert page.count('aria-label="Version 2 of 2"') == 2  # the edit, and the regenerate in it
    await socket.disconnect()
    await replies_finished()


async def test_versions_are_the_owners_only_and_need_csrf(alice, django_user_model):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    first = await exchange(socket, "Mine")
    await regenerate(socket)
    await socket.disconnect()
    await replies_finished()
    mallory = await sync_to_async(django_user_model.objects.create_user)(
        "mallory", password="pw-mallory-1"
    )
    assert (await show_version(mallory, conversation, first["id"])).status_code == 404
    # Another conversation's message is not a version here.
    other = await new_conversation(alice, "mistral")
    refused = await show_version(alice, other, first["id"])
    assert "That version is not in this conversation." in refused.content.decode()
    assert not await Conversation.objects.filter(pk=other.pk, older_version_shown=True).aexists()
    assert (await Message.objects.aget(pk=first["id"])).stash_id == first["id"]

    def post_without_token():
        client = Client(enforce_csrf_checks=True)
        client.force_login(alice)
        return client.post(f"/conversations/{conversation.pk}/versions/{first['id']}")

    assert (await sync_to_async(post_without_token)()).status_code == 403
    assert (await Message.objects.aget(pk=first["id"])).stash_id == first["id"]


def test_pagers_of_a_page_take_one_query(django_assert_num_queries, alice):
    conversation = Conversation.objects.create(owner=alice, provider="mistral", model="m")
    root = Message.objects.create(conversation=conversation, role="assistant", text="v1")
    later = [
        Message.objects.create(conversation=conversation, role="assistant", text=f"v{n}", fork=root)
        for n in (2, 3)
    ]
    Message.objects.filter(pk__in=[root.pk, later[1].pk]).update(stash=root)
    page = list(conversation.messages.shown())
    with django_assert_num_queries(1):
        found = versions.pagers(page)
    assert found == {later[0].pk: versions.Pager(2, 3, root.pk, later[1].pk)}


async def test_a_conversation_in_trash_keeps_the_version_it_shows(alice):
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    first = await exchange(socket, "Binned")
    await regenerate(socket)
    await socket.disconnect()
    await replies_finished()
    await Conversation.objects.filter(pk=conversation.pk).aupdate(trashed_at=timezone.now())
    response = await show_version(alice, conversation, first["id"])
    assert "in Trash" in response.content.decode()
    assert (await Message.objects.aget(pk=first["id"])).stash_id == first["id"]
