"""Issue 14, item 5: thumbs up or down on a reply, with an optional comment, by its owner only."""

from __future__ import annotations

import re

import pytest
from django.db import IntegrityError, connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations.feedback import COMMENT_MAX_CHARS
from conversations.message_view import final_frames, view_of
from conversations.models import Conversation, Feedback, Message, MessageStatus

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def conversation(alice):
    return Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest", title="Ledger"
    )


def turn(conversation, reply_text="Here is **the** answer.", **fields) -> Message:
    Message.objects.create(conversation=conversation, role="user", text="A question")
    return Message.objects.create(
        conversation=conversation,
        role="assistant",
        status=fields.pop("status", MessageStatus.COMPLETE),
        text=reply_text,
        html=f"<p>{reply_text}</p>",
        **fields,
    )


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def url(reply) -> str:
    return reverse("conversations:feedback", args=[reply.conversation_id, reply.pk])


def pressed(html: str) -> dict[str, str]:
    """Each thumb's aria-pressed, by its accessible name."""
    thumbs = r'aria-label="(Good reply|Bad reply)" title="[^"]*" aria-pressed="(\w+)"'
    return dict(re.findall(thumbs, html))


# --- giving, changing and taking it back -------------------------------------------------------


def test_a_thumb_down_is_stored_and_opens_the_comment_form(alice, conversation):
    reply = turn(conversation)
    response = signed_in(alice).post(url(reply), {"rating": "down"}, **HTMX)

    assert response.status_code == 200
    feedback = Feedback.objects.get()
    assert (feedback.message, feedback.user, feedback.rating) == (reply, alice, "down")
    html = response.text
    assert pressed(html) == {"Good reply": "false", "Bad reply": "true"}
    assert f'id="feedback-{reply.pk}"' in html
    assert '<label for="feedback-comment-' in html and "What was wrong with this reply?" in html
    assert ">Skip</button>" in html and ">Send</button>" in html
    # The change is said to screen readers through the page's live region.
    assert '<div id="announcer" hx-swap-oob="innerHTML">Marked as a bad reply.' in html


def test_the_pressed_thumb_again_takes_it_back_and_the_other_changes_it(alice, conversation):
    reply = turn(conversation)
    client = signed_in(alice)
    client.post(url(reply), {"rating": "down", "comment": "Wrong year."}, **HTMX)

    changed = client.post(url(reply), {"rating": "up"}, **HTMX)
    feedback = Feedback.objects.get()
    assert (feedback.rating, feedback.comment) == ("up", "Wrong year.")  # the comment stays
    assert pressed(changed.text) == {"Good reply": "true", "Bad reply": "false"}
    assert "feedback-note" in changed.text and "Wrong year." in changed.text
    assert "<textarea" not in changed.text  # a comment is there: no form pushed at them

    gone = client.post(url(reply), {"rating": "up"}, **HTMX)
    assert not Feedback.objects.exists()
    assert pressed(gone.text) == {"Good reply": "false", "Bad reply": "false"}
    assert "Feedback taken back." in gone.text


def test_a_comment_is_saved_and_shown_as_given_escaped(alice, conversation):
    reply = turn(conversation)
    client = signed_in(alice)
    client.post(url(reply), {"rating": "down"}, **HTMX)

    response = client.post(
        url(reply), {"rating": "down", "comment": "  <b>Wrong</b> year.\nIt was 1999.  "}, **HTMX
    )

    assert response.status_code == 200
    assert Feedback.objects.get().comment == "<b>Wrong</b> year.\nIt was 1999."
    assert "&lt;b&gt;Wrong&lt;/b&gt; year.\nIt was 1999." in response.text
    assert "<b>Wrong" not in response.text
    assert "Edit comment" in response.text and "autofocus" in response.text
    assert "Comment saved." in response.text
    # Edit opens the form with the comment in it; Cancel closes it again.
    form = client.get(url(reply), {"comment": "1"}, **HTMX).text
    assert "&lt;b&gt;Wrong&lt;/b&gt; year." in form.split("<textarea")[1]
    assert ">Cancel</button>" in form
    closed = client.get(url(reply), **HTMX).text
    assert "<textarea" not in closed and "Edit comment" in closed


def test_skipping_the_comment_keeps_the_thumb(alice, conversation):
    reply = turn(conversation)
    client = signed_in(alice)
    client.post(url(reply), {"rating": "up"}, **HTMX)

    skipped = client.get(url(reply), **HTMX)

    assert skipped.status_code == 200 and "<textarea" not in skipped.text
    assert pressed(skipped.text)["Good reply"] == "true"
    assert "Add a comment" in skipped.text
    assert Feedback.objects.get().rating == "up"


def test_a_comment_over_the_limit_is_refused_in_words_and_kept_in_the_box(alice, conversation):
    reply = turn(conversation)
    client = signed_in(alice)
    client.post(url(reply), {"rating": "down"}, **HTMX)
    text = "x" * (COMMENT_MAX_CHARS + 1)

    response = client.post(url(reply), {"rating": "down", "comment": text}, **HTMX)

    assert response.status_code == 422  # htmx swaps it (base.html's responseHandling)
    assert "That comment is 2,001 characters; the limit is 2,000." in response.text
    assert 'role="alert"' in response.text and 'aria-invalid="true"' in response.text
    assert text in response.text  # nothing typed is lost
    assert Feedback.objects.get().comment == ""
    exactly = client.post(url(reply), {"rating": "down", "comment": text[:-1]}, **HTMX)
    assert exactly.status_code == 200 and len(Feedback.objects.get().comment) == COMMENT_MAX_CHARS


def test_one_feedback_per_reply_and_person(alice, conversation):
    reply = turn(conversation)
    Feedback.objects.create(message=reply, user=alice, rating="up")
    with pytest.raises(IntegrityError):
        Feedback.objects.create(message=reply, user=alice, rating="down")


def test_without_htmx_the_form_posts_and_comes_back_to_the_reply(alice, conversation):
    reply = turn(conversation)
    response = signed_in(alice).post(url(reply), {"rating": "up"})
    assert response.status_code == 302
    assert response["Location"] == f"/conversations/{conversation.pk}/#reply-{reply.pk}"
    assert Feedback.objects.get().rating == "up"


# --- who may, and on what ---------------------------------------------------------------------


def test_a_strangers_conversation_or_reply_is_404(alice, bob, conversation):
    reply = turn(conversation)
    as_bob = signed_in(bob)
    assert as_bob.post(url(reply), {"rating": "down"}, **HTMX).status_code == 404
    assert as_bob.get(url(reply), **HTMX).status_code == 404
    # Bob's own conversation with Alice's reply id: not in it.
    own = Conversation.objects.create(owner=bob, provider="mistral", model="m")
    path = reverse("conversations:feedback", args=[own.pk, reply.pk])
    assert as_bob.post(path, {"rating": "down"}, **HTMX).status_code == 404
    assert not Feedback.objects.exists()
    signed_out = Client().post(url(reply), {"rating": "down"}, **HTMX)
    assert signed_out.status_code == 302 and "/accounts/login/" in signed_out["Location"]


def test_a_widget_visitors_conversation_takes_no_feedback(alice):
    visitors = Conversation.objects.create(
        owner=None, provider="mistral", model="m", origin="widget"
    )
    reply = turn(visitors)
    assert signed_in(alice).post(url(reply), {"rating": "up"}, **HTMX).status_code == 404


@pytest.mark.parametrize(
    ("which", "status", "words"),
    [
        ("user message", 400, "Feedback is for a finished reply"),
        ("streaming reply", 400, "Feedback is for a finished reply"),
        ("failed reply with no text", 400, "Feedback is for a finished reply"),
        ("hidden reply", 404, ""),
    ],
)
def test_what_takes_no_feedback_is_refused(alice, conversation, which, status, words):
    reply = turn(conversation)
    target = {
        "user message": lambda: conversation.messages.get(role="user"),
        "streaming reply": lambda: turn(conversation, status=MessageStatus.STREAMING),
        "failed reply with no text": lambda: turn(conversation, "", status=MessageStatus.FAILED),
        "hidden reply": lambda: turn(conversation, replaced_by=reply),
    }[which]()
    response = signed_in(alice).post(url(target), {"rating": "up"}, **HTMX)
    assert response.status_code == status and words in response.text
    assert not Feedback.objects.exists()


@pytest.mark.parametrize("rating", ["", "sideways", "UP"])
def test_a_rating_that_is_not_up_or_down_is_400(alice, conversation, rating):
    reply = turn(conversation)
    response = signed_in(alice).post(url(reply), {"rating": rating}, **HTMX)
    assert response.status_code == 400 and "good or bad" in response.text
    assert not Feedback.objects.exists()


def test_feedback_needs_the_csrf_token_htmx_sends(alice, conversation):
    reply = turn(conversation)
    client = signed_in(alice, enforce_csrf_checks=True)
    assert client.post(url(reply), {"rating": "up"}, **HTMX).status_code == 403
    assert not Feedback.objects.exists()
    page = client.get(reverse("conversations:detail", args=[conversation.pk])).text
    token = re.search(r'"x-csrftoken": "([^"]+)"', page).group(1)  # base.html's hx-headers
    response = client.post(url(reply), {"rating": "up"}, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 200 and Feedback.objects.get().rating == "up"


# --- the chat's page and the socket's HTML -----------------------------------------------------


def test_the_page_shows_what_was_given_and_nothing_on_user_messages(alice, conversation):
    first = turn(conversation)
    second = turn(conversation)
    Feedback.objects.create(message=first, user=alice, rating="down", comment="Too long.")

    page = signed_in(alice).get(reverse("conversations:detail", args=[conversation.pk])).text

    assert page.count('class="feedback"') == 2  # the replies only, not the questions
    first_block = page.split(f'id="feedback-{first.pk}"')[1].split(f'id="reply-{second.pk}"')[0]
    assert pressed(first_block) == {"Good reply": "false", "Bad reply": "true"}
    assert "Too long." in first_block
    second_block = page.split(f'id="feedback-{second.pk}"')[1]
    assert pressed(second_block) == {"Good reply": "false", "Bad reply": "false"}
    assert 'role="group" aria-label="Feedback on this reply"' in page


def test_the_page_reads_feedback_in_one_query_however_many_replies(alice, conversation):
    client = signed_in(alice)
    detail = reverse("conversations:detail", args=[conversation.pk])

    def queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(detail).status_code == 200
        return [q["sql"] for q in captured]

    for _ in range(2):
        Feedback.objects.create(message=turn(conversation), user=alice, rating="up")
    few = queries()
    for index in range(20):
        reply = turn(conversation)
        Feedback.objects.create(message=reply, user=alice, rating="down", comment=f"No {index}")
    many = queries()
    assert len(many) == len(few)
    assert len([sql for sql in many if "conversations_feedback" in sql]) == 1


def test_a_reply_that_just_ended_offers_feedback_on_the_socket_but_not_in_a_widget(alice):
    mine = Conversation.objects.create(owner=alice, provider="mistral", model="m")
    reply = turn(mine)
    reply.conversation = mine  # as the runner leaves it
    [done] = final_frames(reply, [], seq=3)
    assert pressed(done["html"]) == {"Good reply": "false", "Bad reply": "false"}
    assert "csrfmiddlewaretoken" not in done["html"]  # no request here: htmx sends the header

    visitors = Conversation.objects.create(owner=None, provider="mistral", model="m")
    theirs = turn(visitors)
    theirs.conversation = visitors
    [done] = final_frames(theirs, [], seq=3)
    assert "feedback" not in done["html"]
    # A row read without its conversation cannot tell whose chat it is: none offered.
    bare = Message.objects.get(pk=reply.pk)
    html = render_to_string("conversations/chat.html#reply", {"m": view_of(bare)})
    assert "feedback" not in html


def test_streaming_replies_and_user_messages_offer_none(alice, conversation):
    streaming = turn(conversation, "so far", status=MessageStatus.STREAMING)
    for message in conversation.messages.all():
        view = view_of(message)
        assert view.feedback is None, message
    assert streaming.is_streaming
