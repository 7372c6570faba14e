"""Regenerate and edit hide what they replace until the new reply completes (then keep it as an
earlier version: test_versions.py), and never lose it.

The emulator fails a turn whose user text carries a directive (`[[emulator status=502]]`,
`break_after=…`); a regenerate sends the last question again, so a test that wants the second
attempt to fail puts the directive into the stored question before regenerating, as if the
provider had fallen over in between.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import AsyncClient
from django.utils import timezone

from conversations import leases, services
from conversations.models import Conversation, Message, MessageStatus
from emulator.assistant import compose_reply
from tests.replies import replies_finished
from tests.sockets import (
    PROVIDERS,
    new_conversation,
    receive,
    socket_for,
    until,
)
from upstream import clients

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

FAULTS = {
    "a 502": "[[emulator status=502]]",
    "a 503": "[[emulator status=503]]",
    "a break": "[[emulator break_after=4]]",
}


async def exchange(socket, *texts: str) -> None:
    for text in texts:
        await socket.send_json_to({"type": "send", "text": text})
        await until(socket, "done")


async def transcript(conversation) -> list[tuple[str, str, str]]:
    return [
        (m.role, m.text, m.status)
        async for m in Message.objects.filter(conversation=conversation).shown().order_by("id")
    ]


async def upstream_texts(conversation: Conversation, upstream_id: str) -> list[str]:
    if conversation.provider == "orq":
        return [m.text for m in (await clients.orq().get_conversation(upstream_id)).messages]
    return [m.text for m in await clients.mistral().history(upstream_id)]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_failed_regenerate_gives_back_the_reply_it_was_to_replace(provider, fault, alice):
    conversation = await new_conversation(alice, provider)
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await exchange(socket, "Tell me a story")
    before = await transcript(conversation)
    assert before[1] == ("assistant", compose_reply("Tell me a story").full_text, "complete")
    question = await Message.objects.filter(conversation=conversation, role="user").alast()
    await Message.objects.filter(pk=question.pk).aupdate(text=f"{FAULTS[fault]} Tell me a story")

    old_reply = await Message.objects.filter(conversation=conversation, role="assistant").alast()
    await socket.send_json_to({"type": "regenerate"})
    _, turn = await until(socket, "turn")
    assert turn["replace_from"] == old_reply.pk
    _, restored = await until(socket, "restored")
    _, done = await until(socket, "done")

    assert restored["ids"] == [old_reply.pk]
    assert f'id="reply-{old_reply.pk}"' in restored["html"]
    after = await transcript(conversation)
    assert after[:2] == [("user", f"{FAULTS[fault]} Tell me a story", "complete"), before[1]]
    assert len(after) == 3 and after[2][0] == "assistant" and after[2][2] == "failed"
    failed = await Message.objects.aget(pk=done["id"])
    assert failed.error and "emulated" not in failed.error  # the provider's words stay in detail
    assert "Retry" in done["html"]
    assert not await Message.objects.filter(replaced_by__isnull=False).aexists()
    await socket.disconnect()
    await replies_finished()


@pytest.mark.parametrize("fault", ["a 502", "a break"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_failed_edit_of_the_first_turn_keeps_all_four_earlier_messages(
    provider, fault, alice
):
    conversation = await new_conversation(alice, provider)
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await exchange(socket, "Question one", "Question two")
    before = await transcript(conversation)
    await conversation.arefresh_from_db()
    upstream_before = conversation.upstream_id
    first = await Message.objects.filter(conversation=conversation, role="user").afirst()

    edited = f"{FAULTS[fault]} Question 1b"
    await socket.send_json_to({"type": "edit", "id": first.pk, "text": edited})
    _, turn = await until(socket, "turn")
    assert turn["replace_from"] == first.pk
    _, restored = await until(socket, "restored")
    assert len(restored["ids"]) == 4
    _, done = await until(socket, "done")
    assert done["status"] == "failed"

    after = await transcript(conversation)
    assert after[:4] == before, "every earlier message is back, as it was"
    assert after[4] == ("user", edited, "complete")
    assert after[5][0] == "assistant" and after[5][2] == "failed"
    # The conversation continues where it did before the failed attempt, upstream too.
    await conversation.arefresh_from_db()
    assert conversation.upstream_id == upstream_before
    await exchange(socket, "Question three")
    texts = await upstream_texts(conversation, conversation.upstream_id)
    assert texts[:4] == [text for _, text, _ in before]
    assert "Question three" in texts
    await socket.disconnect()
    await replies_finished()


@pytest.mark.slow
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_completed_regenerate_replaces_and_the_page_never_shows_both(provider, alice):
    conversation = await new_conversation(alice, provider)
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await exchange(socket, "Hello there")
    old = await Message.objects.filter(conversation=conversation, role="assistant").alast()
    question = await Message.objects.filter(conversation=conversation, role="user").alast()
    await Message.objects.filter(pk=question.pk).aupdate(
        text="[[emulator tokens_per_second=40]] Hello there"
    )
    await socket.send_json_to({"type": "regenerate"})
    await until(socket, "turn")
    # While the new reply streams, a reload shows the new attempt, not the one it replaces.
    client = AsyncClient()
    await client.aforce_login(alice)
    page = (await client.get(f"/conversations/{conversation.pk}/")).content.decode()
    assert f'id="reply-{old.pk}"' not in page
    _, done = await until(socket, "done")
    assert done["status"] == "complete"
    # Kept as the earlier version (issue 14, item 4), out of the page's sight.
    assert (await Message.objects.aget(pk=old.pk)).stash_id == old.pk
    assert [r for r, _, _ in await transcript(conversation)] == ["user", "assistant"]
    await socket.disconnect()
    await replies_finished()


async def test_an_interrupted_regenerate_gives_back_what_it_replaced(alice):
    """The runner's process died mid-regenerate: whoever marks it interrupted restores."""
    conversation = await new_conversation(alice, "mistral")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await exchange(socket, "Question one")
    await socket.disconnect()
    await replies_finished()
    before = await transcript(conversation)
    plan = await services.plan_regenerate(conversation=conversation)
    _, reply = await services.begin_turn(
        conversation=conversation, text=None, replace_from=plan.replace_from
    )
    assert await transcript(conversation) == [before[0], ("assistant", "", "streaming")]
    await Message.objects.filter(pk=reply.pk).aupdate(
        lease_until=timezone.now() - timedelta(seconds=1), text="Half a"
    )
    assert await leases.mark_expired_interrupted() == 1
    after = await transcript(conversation)
    assert after == [*before, ("assistant", "Half a", "interrupted")]


async def test_an_orq_edit_that_loses_the_race_leaves_nothing_behind_upstream(alice):
    """The plan made a new Orq conversation; another tab's reply began before this turn could:
    the refusal keeps that conversation in the list deleted with ours."""
    conversation = await new_conversation(alice, "orq")
    socket, _, _ = await socket_for(conversation.pk, alice)
    await receive(socket)
    await exchange(socket, "Question one")
    await socket.disconnect()
    await replies_finished()
    await conversation.arefresh_from_db()
    upstream_before = conversation.upstream_id
    first = await Message.objects.filter(conversation=conversation, role="user").afirst()
    plan = await services.plan_edit(conversation=conversation, message_id=first.pk, text="One b")
    assert plan.repoint
    await Message.objects.acreate(  # the other tab's reply, begun meanwhile
        conversation=conversation, role="assistant", status=MessageStatus.STREAMING
    )
    with pytest.raises(services.Refused):
        await services.begin_turn(
            conversation=conversation,
            text="One b",
            replace_from=plan.replace_from,
            repoint=plan.repoint,
        )
    stored = await Conversation.objects.aget(pk=conversation.pk)
    assert stored.upstream_id == upstream_before
    assert plan.repoint in stored.superseded_upstream_ids
    assert not await Message.objects.filter(conversation=conversation, text="One b").aexists()
