"""The widget's socket: a token first, then the team chat's streaming, within the widget's limits."""

from __future__ import annotations

import httpx
import pytest
from asgiref.sync import sync_to_async

from conversations.models import Conversation, Message
from tests.replies import replies_finished
from tests.sockets import SITE, WITHIN, receive, token_for, until
from tests.sockets import widget_signed_in as signed_in
from tests.sockets import widget_socket as socket
from widgets import tokens
from widgets.models import LimitHit, Widget

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]


async def refused(widget_key: str, message: dict) -> str:
    communicator = await socket(widget_key)
    await communicator.send_json_to(message)
    frame = await receive(communicator)
    assert frame["type"] == "error" and frame["fatal"]
    assert (await communicator.receive_output(timeout=WITHIN))["code"] == 4401
    return frame["message"]


async def test_a_visitor_chats_and_the_reply_streams(widget):
    communicator = await signed_in(widget)
    await communicator.send_json_to(
        {"type": "send", "text": "[[emulator tokens_per_second=100]] Hi"}
    )
    deltas, _ = await until(communicator, "done")
    assert sum(1 for f in deltas if f.get("text")) >= 3
    conversation = await Conversation.objects.aget(widget=widget)
    assert (conversation.origin, conversation.visitor) == ("widget", "anon:test-visitor")
    assert conversation.started_on == f"{SITE}/pricing"
    assert conversation.owner_id is None  # the widget's, not its owner's
    await communicator.disconnect()
    await replies_finished()
    # Coming back (another page, another day): the same conversation, with its messages.
    again = await socket(widget.public_key)
    await again.send_json_to({"type": "auth", "token": token_for(widget), "origin": SITE})
    history = await receive(again)
    assert history["id"] == conversation.pk and "Hi" in history["html"]
    await again.disconnect()


async def test_a_visitor_cannot_choose_the_model_or_agent(widget):
    communicator = await signed_in(widget)
    await communicator.send_json_to(
        {"type": "send", "text": "hello", "model": "mistral-medium-latest", "agent": "demo",
         "provider": "orq", "choice": "orq:agent:demo"}
    )  # fmt: skip
    await until(communicator, "done")
    conversation = await Conversation.objects.aget(widget=widget)
    assert (conversation.provider, conversation.model, conversation.agent) == (
        "mistral", "mistral-small-latest", "",
    )  # fmt: skip
    reply = await Message.objects.aget(conversation=conversation, role="assistant")
    assert reply.model == "mistral-small-latest"
    await communicator.disconnect()
    await replies_finished()


async def test_without_a_good_token_nothing_is_opened(widget, bob):
    other = await Widget.objects.acreate(
        name="Other",
        owner=bob,
        provider="mistral",
        model="mistral-small-latest",
        allowed_origins=SITE,
    )
    good = token_for(widget)
    cases = {
        "needs a visitor token": {"type": "send", "text": "hi"},
        "not valid": {"type": "auth", "token": good[:-3] + "xyz", "origin": SITE},
        "another widget": {"type": "auth", "token": token_for(other), "origin": SITE},
        "another site": {"type": "auth", "token": good, "origin": "https://evil.com"},
    }
    for why, message in cases.items():
        assert why in await refused(widget.public_key, message)
    # A site removed from the list since the token was issued.
    await Widget.objects.filter(pk=widget.pk).aupdate(allowed_origins="https://new.example.com")
    assert "not available on this site" in await refused(
        widget.public_key, {"type": "auth", "token": good, "origin": SITE}
    )
    assert not await Conversation.objects.filter(widget=widget).aexists()


async def test_a_disabled_or_unknown_widget_closes_at_once(widget):
    await Widget.objects.filter(pk=widget.pk).aupdate(enabled=False)
    for key in (widget.public_key, "wk_unknown"):
        communicator = await socket(key)
        assert (await communicator.receive_output(timeout=WITHIN))["code"] == 4404


async def test_required_identity_refuses_anonymous_visitors(widget):
    await Widget.objects.filter(pk=widget.pk).aupdate(identity=Widget.Identity.REQUIRED)
    assert "Sign in" in await refused(
        widget.public_key, {"type": "auth", "token": token_for(widget), "origin": SITE}
    )
    verified = tokens.issue(tokens.Visitor(widget.public_key, "user:7", SITE, "Ada"))
    communicator = await socket(widget.public_key)
    await communicator.send_json_to({"type": "auth", "token": verified, "origin": SITE})
    assert (await receive(communicator))["type"] == "history"
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("limits", "text", "kind"),
    [
        ({"max_message_chars": 10}, "far too long a message", "message_length"),
        ({"messages_per_minute": 0}, "hi", "messages_per_minute"),
        ({"visitor_tokens_per_day": 0}, "hi", "visitor_tokens_per_day"),
        ({"tokens_per_day": 0}, "hi", "tokens_per_day"),
    ],
)
async def test_each_limit_refuses_with_the_owners_message_and_saves_nothing(
    widget, limits, text, kind
):
    await Widget.objects.filter(pk=widget.pk).aupdate(
        limit_message="Our chat is resting.", **limits
    )
    communicator = await signed_in(widget)
    await communicator.send_json_to({"type": "send", "text": text})
    _, error = await until(communicator, "error")
    assert error["message"].startswith("Our chat is resting.")
    assert not await Message.objects.filter(conversation__widget=widget).aexists()
    assert (await LimitHit.objects.aget(widget=widget)).kind == kind
    await communicator.disconnect()


async def test_the_token_budget_counts_what_replies_used_today(widget):
    await Widget.objects.filter(pk=widget.pk).aupdate(visitor_tokens_per_day=1)
    communicator = await signed_in(widget)
    await communicator.send_json_to({"type": "send", "text": "first"})
    await until(communicator, "done")  # the emulator reports usage: more than one token
    await communicator.send_json_to({"type": "send", "text": "second"})
    _, error = await until(communicator, "error")
    assert "limit" in error["message"]
    assert await Message.objects.filter(conversation__widget=widget, role="user").acount() == 1
    await communicator.disconnect()
    await replies_finished()


async def test_new_conversation_starts_afresh(widget):
    communicator = await signed_in(widget)
    await communicator.send_json_to({"type": "send", "text": "remember me"})
    await until(communicator, "done")
    await communicator.send_json_to({"type": "new"})
    _, history = await until(communicator, "history")
    assert (history["id"], history["html"]) == (None, "")
    assert await receive(communicator) == {"type": "snapshot", "id": None}
    assert await Conversation.objects.filter(widget=widget).acount() == 1  # until it is written
    await communicator.send_json_to({"type": "send", "text": "a new question"})
    _, turn = await until(communicator, "turn")
    assert "a new question" in turn["html"] and "remember me" not in turn["html"]
    await until(communicator, "done")
    assert await Conversation.objects.filter(widget=widget).acount() == 2
    await communicator.disconnect()
    await replies_finished()


async def test_widget_conversations_show_in_the_admin_with_their_widget_page_and_usage(
    widget, carol
):
    from asgiref.sync import sync_to_async
    from django.test import Client
    from django.urls import reverse

    from conversations.models import DailyUsage

    communicator = await signed_in(widget)
    await communicator.send_json_to({"type": "send", "text": "hello from the shop"})
    await until(communicator, "done")
    await communicator.disconnect()
    await replies_finished()
    usage = await DailyUsage.objects.aget(widget=widget)
    assert (usage.origin, usage.replies) == ("widget", 1)

    def admin_pages():
        client = Client()
        client.force_login(carol)
        listing = client.get(
            reverse("admin:conversations_conversation_changelist"),
            {"origin__exact": "widget", "widget": str(widget.pk)},
        )
        conversation = listing.context["cl"].result_list[0]
        detail = client.get(
            reverse("admin:conversations_conversation_change", args=[conversation.pk])
        )
        by_widget = client.get(
            reverse("admin:conversations_dailyusage_changelist"), {"group": "widget"}
        )
        return listing, detail, by_widget

    listing, detail, by_widget = await sync_to_async(admin_pages)()
    assert "Shop help" in listing.text
    assert f"{SITE}/pricing" in detail.text and "anon:test-visitor" in detail.text
    assert [row["key"] for row in by_widget.context["report"].rows] == ["Shop help"]


async def test_a_verified_visitor_finds_their_conversation_on_another_device(widget):
    await Widget.objects.filter(pk=widget.pk).aupdate(identity=Widget.Identity.OPTIONAL)
    phone = await socket(widget.public_key)
    await phone.send_json_to(
        {"type": "auth", "origin": SITE,
         "token": tokens.issue(tokens.Visitor(widget.public_key, "user:7", SITE, "Ada"))}
    )  # fmt: skip
    await receive(phone)
    await phone.send_json_to({"type": "send", "text": "started on my phone"})
    await until(phone, "done")
    await phone.disconnect()
    await replies_finished()
    # Another device: another token, issued later, for the same signed-in user.
    laptop = await socket(widget.public_key)
    await laptop.send_json_to(
        {"type": "auth", "origin": SITE,
         "token": tokens.issue(tokens.Visitor(widget.public_key, "user:7", SITE, "Ada"))}
    )  # fmt: skip
    history = await receive(laptop)
    assert "started on my phone" in history["html"]
    await laptop.disconnect()


async def test_switching_a_widget_off_stops_open_sockets_at_their_next_message(widget):
    communicator = await signed_in(widget)
    await Widget.objects.filter(pk=widget.pk).aupdate(enabled=False)
    await communicator.send_json_to({"type": "send", "text": "still there?"})
    _, error = await until(communicator, "error")
    assert error["fatal"]
    assert not await Message.objects.filter(conversation__widget=widget).aexists()


# --- a conversation is made by the visitor's first message, not by opening the widget ----------


def orq_conversations(emulator_url: str) -> set[str]:
    """The ids of the conversations the emulator's Orq holds (newest first, up to 100)."""
    response = httpx.get(
        f"{emulator_url}/v2/conversations/",
        params={"limit": 100},
        headers={"Authorization": "Bearer test-orq-key"},
        timeout=WITHIN,
    )
    response.raise_for_status()
    return {c["_id"] for c in response.json()["data"]}


@pytest.fixture
def orq_widget(widget):
    # Orq conversations are made upstream when ours is: the one that shows an empty one there.
    Widget.objects.filter(pk=widget.pk).update(provider="orq", model="openai/gpt-4o")
    widget.refresh_from_db()
    return widget


async def test_opening_the_widget_and_new_make_nothing_until_the_first_message(
    orq_widget, emulator_url
):
    widget = orq_widget
    before = await sync_to_async(orq_conversations)(emulator_url)
    communicator = await signed_in(widget)  # the frame opens: history, then an empty snapshot
    await communicator.send_json_to({"type": "new"})
    _, history = await until(communicator, "history")
    assert (history["id"], history["html"]) == (None, "")
    assert await receive(communicator) == {"type": "snapshot", "id": None}
    # What the page may ask before anything is written gets an answer, not a crash.
    for ask in ({"type": "snapshot"}, {"type": "stop"}):
        await communicator.send_json_to(ask)
        assert await receive(communicator) == {"type": "snapshot", "id": None}
    await communicator.send_json_to({"type": "regenerate"})
    error = await receive(communicator)
    assert error["type"] == "error" and "nothing to regenerate" in error["message"]
    assert not error.get("fatal")
    assert not await Conversation.objects.filter(widget=widget).aexists()
    assert await sync_to_async(orq_conversations)(emulator_url) == before

    await communicator.send_json_to({"type": "send", "text": "my first question"})
    # The turn comes first and whole: no snapshot of a reply the page has not been shown yet.
    turn = await receive(communicator)
    assert turn["type"] == "turn" and "my first question" in turn["html"]
    await until(communicator, "done")
    conversation = await Conversation.objects.aget(widget=widget)
    made = await sync_to_async(orq_conversations)(emulator_url) - before
    assert made == {conversation.upstream_id}
    assert conversation.started_on == f"{SITE}/pricing"
    # The socket now watches it: a snapshot shows its reply.
    await communicator.send_json_to({"type": "snapshot"})
    _, snapshot = await until(communicator, "snapshot")
    assert snapshot["id"] is not None
    await communicator.disconnect()
    await replies_finished()


async def test_new_costs_nothing_against_the_limits(widget):
    await Widget.objects.filter(pk=widget.pk).aupdate(messages_per_minute=1, limit_message="Easy!")
    communicator = await signed_in(widget)
    for _ in range(5):
        await communicator.send_json_to({"type": "new"})
        await until(communicator, "history")
    await communicator.send_json_to({"type": "send", "text": "hi"})
    await until(communicator, "done")
    assert not await LimitHit.objects.filter(widget=widget).aexists()
    assert await Conversation.objects.filter(widget=widget).acount() == 1
    await communicator.disconnect()
    await replies_finished()


# --- whatever arrives gets a clear answer -------------------------------------------------------


async def answered(communicator, message) -> dict:
    """The error frame a request gets (the socket stays open)."""
    await communicator.send_json_to(message)
    frame = await receive(communicator)
    assert frame["type"] == "error", frame
    return frame


@pytest.mark.parametrize(
    "token",
    ["é", "visitor:é:signé", "tök" * 2000, "😀.😀"],
    ids=["accent", "signed", "long", "emoji"],
)
async def test_a_non_ascii_or_junk_token_is_refused_with_an_error_frame(widget, token):
    assert "not valid" in await refused(
        widget.public_key, {"type": "auth", "token": token, "origin": SITE}
    )


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "auth", "token": "\ud800", "origin": SITE},  # half of a surrogate pair
        {"type": "auth", "token": 42, "origin": SITE},
        {"type": "auth", "token": "x", "origin": ["https://shop.example.com"]},
        {"type": "auth", "token": "x", "origin": SITE, "page": f"{SITE}/a\x00b"},
        {"type": "auth", "token": "x", "origin": SITE, "page": 7},
        ["auth", "x"],
    ],
)
async def test_an_auth_message_of_the_wrong_shape_gets_an_error_and_opens_nothing(widget, auth):
    communicator = await socket(widget.public_key)
    await answered(communicator, auth)  # in words (the chat socket's checks), never a 1011
    # Still no visitor: a message is refused until a good token comes.
    await communicator.send_json_to({"type": "send", "text": "hi"})
    refusal = await receive(communicator)
    assert refusal["fatal"] and "needs a visitor token" in refusal["message"]
    assert not await Conversation.objects.filter(widget=widget).aexists()


@pytest.mark.parametrize("key", ["wk_%C3%A9t%C3%A9", "wk_%00nul", "x" * 41])
async def test_a_key_that_cannot_be_one_closes_like_an_unknown_widget(widget, key):
    communicator = await socket(key)
    assert (await communicator.receive_output(timeout=WITHIN))["code"] == 4404


@pytest.mark.parametrize("page", [f"{SITE}/a b", "https://evil.com/", f"{SITE}x/", ""])
async def test_a_page_that_is_not_a_page_of_the_site_is_not_recorded(widget, page):
    communicator = await signed_in(widget, page=page)
    await communicator.send_json_to({"type": "send", "text": "hi"})
    await until(communicator, "done")
    assert (await Conversation.objects.aget(widget=widget)).started_on == ""
    await communicator.disconnect()
    await replies_finished()


async def test_a_first_message_refused_while_restarting_leaves_no_conversation(
    orq_widget, emulator_url
):
    from conversations import shutdown

    widget = orq_widget
    before = await sync_to_async(orq_conversations)(emulator_url)
    communicator = await signed_in(widget)
    await shutdown.drain()
    try:
        await communicator.send_json_to({"type": "send", "text": "hello?"})
        _, error = await until(communicator, "error")
    finally:
        shutdown.reset()
    assert "restarting" in error["message"]
    assert not await Conversation.objects.filter(widget=widget).aexists()
    assert await sync_to_async(orq_conversations)(emulator_url) == before
    # Sent again once it is back: one conversation, as if nothing had happened.
    await communicator.send_json_to({"type": "send", "text": "hello?"})
    await until(communicator, "done")
    assert await Conversation.objects.filter(widget=widget).acount() == 1
    await communicator.disconnect()
    await replies_finished()
