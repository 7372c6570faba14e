"""Every page and partial: the happy path, a stranger's id, a missing CSRF token, bad input."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conversations import services
from conversations.choices import choice_for
from conversations.models import Conversation, Message
from upstream import clients
from upstream.errors import NotFound

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upstreams")]

HTMX = {"HTTP_HX_REQUEST": "true"}
ORQ_MODEL = "orq:model:openai/gpt-4o"
MISTRAL_MODEL = "mistral:model:mistral-small-latest"


@pytest.fixture
def strict_alice(alice) -> Client:
    """Alice with CSRF enforced, as a browser is."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def create(client: Client, choice: str = ORQ_MODEL) -> Conversation:
    """A conversation of the client's user with no message yet, as the service makes it (the
    create view makes one only with its first message: tests/conversations/test_new_chat.py)."""
    owner = User.objects.get(pk=client.session["_auth_user_id"])
    return async_to_sync(services.conversation_create)(owner=owner, choice=choice_for(choice))


def make_many(owner, count: int, title: str = "Chat") -> list[Conversation]:
    now = timezone.now()
    return Conversation.objects.bulk_create(
        Conversation(
            owner=owner,
            provider="mistral",
            model="mistral-small-latest",
            title=f"{title} {i}",
            updated=now - timedelta(minutes=i),
        )
        for i in range(count)
    )


def upstream_orq(conversation_id: str):
    async def get():
        client = clients.orq()
        try:
            return await client.get_conversation(conversation_id)
        finally:
            await client.http.aclose()

    return asyncio.run(get())


# --- pages ---------------------------------------------------------------------------------


def test_pages_need_a_signed_in_user(client):
    response = client.get(reverse("conversations:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_signs_in_and_logout_is_a_post(client, alice):
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b"Sign in to Webchat" in page.content
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302
    assert client.get(reverse("conversations:index")).status_code == 200
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("conversations:index")).status_code == 302


def test_wrong_password_says_so(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200 and b"do not match" in response.content


def test_index_lists_only_my_conversations_newest_first(as_alice, alice, bob):
    make_many(alice, 3, title="Mine")
    make_many(bob, 2, title="Bobs")
    page = as_alice.get(reverse("conversations:index")).content.decode()
    assert page.index("Mine 0") < page.index("Mine 1") < page.index("Mine 2")
    assert "Bobs" not in page
    assert "openai/gpt-4o" in page and "Agent: demo" in page  # the new-chat choices


# --- sidebar: list, endless scroll, search -------------------------------------------------


def test_sidebar_pages_by_cursor_with_no_overlap(as_alice, alice):
    made = make_many(alice, 35)
    first = as_alice.get(reverse("conversations:list"), **HTMX).content.decode()
    assert first.count('class="conversation-row') == 30
    assert 'class="more"' in first
    cursor = first.split("cursor=")[1].split("&")[0]
    second = as_alice.get(reverse("conversations:list"), {"cursor": cursor}, **HTMX).content
    second = second.decode()
    assert second.count('class="conversation-row') == 5
    assert 'class="more"' not in second
    for conversation in made:
        assert (f'conversation-{conversation.pk}"' in first) != (
            f'conversation-{conversation.pk}"' in second
        )


def test_sidebar_page_uses_a_constant_number_of_queries(
    as_alice, alice, django_assert_max_num_queries
):
    make_many(alice, 100)
    # The session, the user, their settings (conversations/user_settings.py), the pinned ones
    # and the page (tests/conversations/test_sidebar.py).
    with django_assert_max_num_queries(5):
        as_alice.get(reverse("conversations:list"), **HTMX)


def test_search_matches_titles(as_alice, alice, bob):
    make_many(alice, 3, title="Budget")
    make_many(alice, 2, title="Holiday")
    make_many(bob, 2, title="Budget secret")
    rows = as_alice.get(reverse("conversations:list"), {"q": "budg"}, **HTMX).content.decode()
    assert rows.count('class="conversation-row') == 3
    assert "Holiday" not in rows and "secret" not in rows
    nothing = as_alice.get(reverse("conversations:list"), {"q": "zzz"}, **HTMX).content.decode()
    assert "No conversation matches" in nothing


@pytest.mark.parametrize(
    "cursor",
    # 1e18 seconds is past any calendar (it was a 500); the others were read as "the top".
    ["1e18_1", "nan_1", "inf_1", "x_y", "1_0", "1_99999999999999999999999", "1_2_3", "-1_5"],
)
def test_a_cursor_webchat_did_not_make_is_400_with_a_message(as_alice, alice, cursor):
    make_many(alice, 2)
    response = as_alice.get(reverse("conversations:list"), {"cursor": cursor}, **HTMX)
    assert response.status_code == 400
    assert "not one Webchat gave out" in response.text


# --- create ----------------------------------------------------------------------------------


def test_create_refuses_a_choice_that_is_not_offered(as_alice):
    response = as_alice.post(
        reverse("conversations:create"), {"choice": "orq:model:evil/model", "text": "Hi"}, **HTMX
    )
    assert response["HX-Retarget"] == "#flash"
    assert b"Pick one of the offered" in response.content
    assert not Conversation.objects.exists()


def test_create_without_csrf_is_403(strict_alice):
    response = strict_alice.post(
        reverse("conversations:create"), {"choice": ORQ_MODEL, "text": "Hi"}, **HTMX
    )
    assert response.status_code == 403
    assert not Conversation.objects.exists()


def test_create_when_the_provider_is_down_says_why(as_alice, settings):
    settings.ORQ_BASE_URL = "http://127.0.0.1:9"
    clients.orq.cache_clear()
    response = as_alice.post(
        reverse("conversations:create"), {"choice": ORQ_MODEL, "text": "Hi"}, **HTMX
    )
    assert response["HX-Retarget"] == "#flash"
    assert b"Orq did not answer in time" in response.content
    assert b"cannot connect" not in response.content  # the transport's words go to the log
    assert not Conversation.objects.exists()


# --- detail ----------------------------------------------------------------------------------


def test_detail_is_a_page_or_a_pane(as_alice, alice):
    conversation = create(as_alice, MISTRAL_MODEL)
    Message.objects.create(
        conversation=conversation,
        role="user",
        text="<b>hi</b>",
        html="<p>&lt;b&gt;hi&lt;/b&gt;</p>",
    )
    url = reverse("conversations:detail", args=[conversation.pk])
    page = as_alice.get(url).content.decode()
    assert "<html" in page and 'id="chat"' in page and "&lt;b&gt;hi" in page
    pane = as_alice.get(url, **HTMX).content.decode()
    assert "<html" not in pane and 'id="chat"' in pane


def test_detail_of_a_strangers_conversation_is_404(as_bob, as_alice):
    conversation = create(as_alice)
    assert as_bob.get(reverse("conversations:detail", args=[conversation.pk])).status_code == 404
    assert as_bob.get(reverse("conversations:detail", args=[999999])).status_code == 404


def test_a_conversation_made_elsewhere_is_loaded_from_upstream(as_alice, alice):
    async def start():
        client = clients.mistral()
        try:
            return await client.start(text="Made in another app", model="mistral-small-latest")
        finally:
            await client.http.aclose()

    turn = asyncio.run(start())
    conversation = Conversation.objects.create(
        owner=alice,
        provider="mistral",
        model="mistral-small-latest",
        upstream_id=turn.conversation_id,
    )
    page = as_alice.get(reverse("conversations:detail", args=[conversation.pk])).content.decode()
    assert "Made in another app" in page
    assert [m.role for m in conversation.messages.all()] == ["user", "assistant"]


# --- rename ----------------------------------------------------------------------------------


def test_rename_orq_renames_upstream_too(as_alice):
    conversation = create(as_alice)
    url = reverse("conversations:rename", args=[conversation.pk])
    form = as_alice.get(url, **HTMX).content.decode()
    assert 'name="title"' in form and "data-rename" in form
    response = as_alice.post(url, {"title": "  Launch   plan "}, **HTMX)
    assert response.status_code == 200
    assert "Launch plan" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.title == "Launch plan" and conversation.titled
    assert upstream_orq(conversation.upstream_id).conversation.title == "Launch plan"


def test_rename_mistral_keeps_the_title_locally(as_alice):
    conversation = create(as_alice, MISTRAL_MODEL)
    url = reverse("conversations:rename", args=[conversation.pk])
    assert as_alice.post(url, {"title": "Ours only"}, **HTMX).status_code == 200
    conversation.refresh_from_db()
    assert conversation.title == "Ours only"


@pytest.mark.parametrize(
    ("title", "message"),
    [("   ", "cannot be empty"), ("x" * 101, "at most 100 characters")],
)
def test_rename_refuses_bad_titles_and_keeps_what_was_typed(as_alice, title, message):
    conversation = create(as_alice, MISTRAL_MODEL)
    url = reverse("conversations:rename", args=[conversation.pk])
    response = as_alice.post(url, {"title": title}, **HTMX)
    assert response.status_code == 422
    body = response.content.decode()
    assert message in body and 'aria-invalid="true"' in body
    assert f'value="{title}"' in body
    conversation.refresh_from_db()
    assert conversation.title == ""


def test_renaming_the_open_conversation_tells_the_page_its_new_title(as_alice):
    conversation = create(as_alice, MISTRAL_MODEL)
    url = reverse("conversations:rename", args=[conversation.pk])
    detail = reverse("conversations:detail", args=[conversation.pk])
    here = {"HTTP_HX_CURRENT_URL": f"http://testserver{detail}"}
    response = as_alice.post(url, {"title": "Trip to Lyon"}, **HTMX, **here)
    assert json.loads(response["HX-Trigger"]) == {
        "conversation-renamed": {"id": conversation.pk, "title": "Trip to Lyon"}
    }
    # Renamed from another page: nothing else on that page shows the title.
    elsewhere = {"HTTP_HX_CURRENT_URL": "http://testserver/"}
    assert "HX-Trigger" not in as_alice.post(url, {"title": "Trip"}, **HTMX, **elsewhere)


@pytest.mark.parametrize("current", ["http://[", "http://]x", "http://x:99999999/"])
def test_a_current_url_header_that_is_not_a_url_is_not_the_open_conversation(as_alice, current):
    """The header is the client's to write: one urlsplit cannot read was a 500."""
    conversation = create(as_alice, MISTRAL_MODEL)
    url = reverse("conversations:rename", args=[conversation.pk])
    header = {"HTTP_HX_CURRENT_URL": current}
    renamed = as_alice.post(url, {"title": "Fine"}, **HTMX, **header)
    assert renamed.status_code == 200 and "HX-Trigger" not in renamed
    assert as_alice.get(url, {"cancel": 1}, **HTMX, **header).status_code == 200


def test_rename_cancel_gives_back_the_row(as_alice):
    conversation = create(as_alice, MISTRAL_MODEL)
    url = reverse("conversations:rename", args=[conversation.pk])
    row = as_alice.get(url, {"cancel": 1}, **HTMX).content.decode()
    assert f'id="conversation-{conversation.pk}"' in row and "<form" not in row


def test_rename_of_a_strangers_conversation_is_404(as_alice, as_bob):
    conversation = create(as_alice, MISTRAL_MODEL)
    url = reverse("conversations:rename", args=[conversation.pk])
    assert as_bob.get(url, **HTMX).status_code == 404
    assert as_bob.post(url, {"title": "Mine now"}, **HTMX).status_code == 404
    conversation.refresh_from_db()
    assert conversation.title == ""


def test_rename_without_csrf_is_403(strict_alice, as_alice):
    conversation = create(as_alice, MISTRAL_MODEL)
    url = reverse("conversations:rename", args=[conversation.pk])
    assert strict_alice.post(url, {"title": "x"}, **HTMX).status_code == 403


# --- delete ----------------------------------------------------------------------------------


def test_delete_removes_upstream_then_here(as_alice):
    conversation = create(as_alice)
    response = as_alice.post(reverse("conversations:delete", args=[conversation.pk]), **HTMX)
    assert response.status_code == 200 and response.content == b""
    assert not Conversation.objects.exists()
    with pytest.raises(NotFound):
        upstream_orq(conversation.upstream_id)


def test_deleting_the_open_conversation_clears_the_pane(as_alice):
    conversation = create(as_alice)
    url = reverse("conversations:detail", args=[conversation.pk])
    response = as_alice.post(
        reverse("conversations:delete", args=[conversation.pk]),
        HTTP_HX_CURRENT_URL=f"http://testserver{url}",
        **HTMX,
    )
    assert response["HX-Push-Url"] == reverse("conversations:index")
    assert 'hx-swap-oob="innerHTML:#pane"' in response.content.decode()


def test_delete_when_upstream_fails_keeps_the_conversation_and_says_why(as_alice, settings):
    conversation = create(as_alice)
    settings.ORQ_BASE_URL = "http://127.0.0.1:9"
    clients.orq.cache_clear()
    response = as_alice.post(reverse("conversations:delete", args=[conversation.pk]), **HTMX)
    assert response["HX-Retarget"] == "#flash"
    assert b"Orq did not answer in time" in response.content
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_delete_of_a_conversation_already_gone_upstream_succeeds(as_alice):
    conversation = create(as_alice)

    async def gone():
        client = clients.orq()
        try:
            await client.delete_conversation(conversation.upstream_id)
        finally:
            await client.http.aclose()

    asyncio.run(gone())
    assert (
        as_alice.post(reverse("conversations:delete", args=[conversation.pk]), **HTMX).status_code
        == 200
    )
    assert not Conversation.objects.exists()


def test_delete_of_a_strangers_conversation_is_404(as_alice, as_bob):
    conversation = create(as_alice)
    response = as_bob.post(reverse("conversations:delete", args=[conversation.pk]), **HTMX)
    assert response.status_code == 404
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_delete_without_csrf_is_403(strict_alice, as_alice):
    conversation = create(as_alice)
    response = strict_alice.post(reverse("conversations:delete", args=[conversation.pk]), **HTMX)
    assert response.status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_mutations_refuse_get(as_alice):
    assert as_alice.get(reverse("conversations:create")).status_code == 405
    conversation = create(as_alice, MISTRAL_MODEL)
    assert as_alice.get(reverse("conversations:delete", args=[conversation.pk])).status_code == 405


# --- long conversations ----------------------------------------------------------------------


def test_a_long_conversation_shows_the_latest_messages_and_loads_earlier_ones(as_alice, alice):
    conversation = create(as_alice, MISTRAL_MODEL)
    Message.objects.bulk_create(
        Message(conversation=conversation, role="user", text=f"m{i}", html=f"<p>m{i}</p>")
        for i in range(120)
    )
    page = as_alice.get(reverse("conversations:detail", args=[conversation.pk])).content.decode()
    assert "<p>m119</p>" in page and "<p>m70</p>" in page and "<p>m69</p>" not in page
    before = re.search(r"before=(\d+)", page).group(1)
    url = reverse("conversations:earlier", args=[conversation.pk])
    earlier = as_alice.get(url, {"before": before}, **HTMX).content.decode()
    assert "<p>m69</p>" in earlier and "<p>m20</p>" in earlier and "<p>m70</p>" not in earlier
    assert "Show earlier messages" in earlier
    last = re.search(r"before=(\d+)", earlier).group(1)
    oldest = as_alice.get(url, {"before": last}, **HTMX).content.decode()
    assert "<p>m0</p>" in oldest and "Show earlier messages" not in oldest


def test_a_citation_link_from_upstream_passes_the_markdown_allow_list(as_alice, alice):
    """A provider's `tool_reference` url `javascript:...` was a live link under the reply."""
    conversation = make_many(alice, 1)[0]
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        text="See the sources.",
        html="<p>See the sources.</p>",
        parts=[
            {"kind": "citation", "title": "Evil", "url": "javascript:alert(document.cookie)"},
            {"kind": "citation", "title": "", "url": " JaVaScRiPt:alert(1)"},
            {"kind": "citation", "title": "Tabbed", "url": "java\tscript:alert(1)"},
            {"kind": "citation", "title": "Docs", "url": "https://docs.example.com/a"},
        ],
    )
    detail = reverse("conversations:detail", args=[conversation.pk])
    for page in (as_alice.get(detail), as_alice.get(detail, **HTMX)):
        html = page.content.decode()
        hrefs = re.findall(r'href="([^"]*)"', html)
        assert not [h for h in hrefs if "script:" in h.lower()], hrefs
        assert '<a href="https://docs.example.com/a" rel="noopener noreferrer nofollow"' in html
        assert "Evil" in html and "Tabbed" in html  # the source is named, as text


def test_earlier_messages_of_a_strangers_conversation_are_404(as_alice, as_bob):
    conversation = create(as_alice, MISTRAL_MODEL)
    url = reverse("conversations:earlier", args=[conversation.pk])
    assert as_bob.get(url, {"before": 10}, **HTMX).status_code == 404
    assert as_alice.get(url, {"before": "x"}, **HTMX).status_code == 400
    huge = as_alice.get(url, {"before": "99999999999999999999999"}, **HTMX)
    assert huge.status_code == 400 and "There is no message 99999999999999999999999" in huge.text
