"""Feedback on replies in the admin: in the transcript, as a filter of the conversation list, as
a read-only list of its own, and in the JSON export. carol is a superuser, dave a Transcript
reviewer, erin an Operator, alice (not staff) the person who gave the feedback."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from administration import exports
from conversations.models import Conversation, Feedback, Message

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversations_conversation_changelist")
FEEDBACK_LIST = reverse("admin:conversations_feedback_changelist")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def chat(owner, title: str, *, rating: str | None = None, comment: str = "") -> Conversation:
    """A conversation of one turn, with the owner's feedback on its reply if `rating`."""
    conversation = Conversation.objects.create(
        owner=owner, provider="mistral", model="mistral-small-latest", title=title
    )
    Message.objects.create(conversation=conversation, role="user", text=f"Ask {title}")
    reply = Message.objects.create(
        conversation=conversation, role="assistant", text=f"Answer {title}", html="<p>A</p>"
    )
    if rating:
        Feedback.objects.create(message=reply, user=owner, rating=rating, comment=comment)
    return conversation


def transcript_url(conversation) -> str:
    return reverse("admin:conversations_conversation_change", args=[conversation.pk])


def listed(client, **filters) -> list[str]:
    response = client.get(CHANGELIST, filters)
    assert response.status_code == 200
    return sorted(c.title for c in response.context["cl"].result_list)


# --- the transcript ---------------------------------------------------------------------------


def test_the_transcript_shows_each_replys_feedback_who_when_and_the_comment(carol, alice):
    conversation = chat(alice, "Ledger", rating="down", comment="Wrong <b>year</b>.\nIt was 1999.")
    feedback = Feedback.objects.get()

    page = signed_in(carol).get(transcript_url(conversation)).text

    aside = page.split('<aside class="feedback feedback-down" aria-label="Feedback">')[1]
    aside = aside.split("</aside>")[0]
    assert "Bad reply" in aside and "from <strong>alice</strong>" in aside
    when = timezone.localtime(feedback.updated)
    assert f'<time datetime="{when.isoformat()}">' in aside
    assert "Wrong &lt;b&gt;year&lt;/b&gt;.\nIt was 1999." in aside and "<b>" not in aside
    # Under the reply it is about, not under the question.
    reply = conversation.messages.get(role="assistant")
    assert page.index(f'id="message-{reply.pk}"') < page.index("feedback-down")


def test_a_thumb_without_a_comment_says_so(carol, alice):
    conversation = chat(alice, "Short", rating="up")
    page = signed_in(carol).get(transcript_url(conversation)).text
    assert "Good reply" in page and "No comment." in page


def test_a_reviewer_reads_feedback_in_the_transcript(dave, alice):
    conversation = chat(alice, "Reviewed", rating="down", comment="Too vague")
    assert "Too vague" in signed_in(dave).get(transcript_url(conversation)).text


def test_the_transcript_reads_feedback_in_one_query(carol, alice):
    conversation = chat(alice, "Long", rating="up")
    client = signed_in(carol)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(transcript_url(conversation)).status_code == 200
        return len(captured)

    few = queries()
    for index in range(10):
        reply = Message.objects.create(conversation=conversation, role="assistant", text="more")
        Feedback.objects.create(message=reply, user=alice, rating="down", comment=f"n{index}")
    assert queries() == few


# --- the conversation list's filter -----------------------------------------------------------


def test_the_conversation_list_filters_by_feedback(carol, alice, bob):
    chat(alice, "good", rating="up")
    chat(alice, "bad", rating="down")
    chat(bob, "bad with words", rating="down", comment="Wrong.")
    chat(bob, "none")
    client = signed_in(carol)

    assert listed(client, feedback="any") == ["bad", "bad with words", "good"]
    assert listed(client, feedback="up") == ["good"]
    assert listed(client, feedback="down") == ["bad", "bad with words"]
    assert listed(client, feedback="comment") == ["bad with words"]
    assert listed(client, feedback="none") == ["none"]
    assert listed(client) == ["bad", "bad with words", "good", "none"]
    page = client.get(CHANGELIST).text
    assert "By feedback" in page
    for label in ("Any feedback", "Good", "Bad", "With a comment", "None"):
        assert f">{label}</a>" in page


def test_a_feedback_filter_value_it_does_not_know_is_400_saying_why(carol):
    response = signed_in(carol).get(CHANGELIST, {"feedback": "sideways"})
    assert response.status_code == 400
    assert "&#x27;sideways&#x27; is not a kind of feedback" in response.text


# --- the read-only Feedback list --------------------------------------------------------------


def test_administrators_list_feedback_with_a_link_to_its_transcript(carol, alice):
    conversation = chat(alice, "Ledger", rating="down", comment="Wrong year.")
    reply = conversation.messages.get(role="assistant")

    page = signed_in(carol).get(FEEDBACK_LIST)

    assert page.status_code == 200
    assert "Bad reply" in page.text and "Wrong year." in page.text and "alice" in page.text
    assert f'href="{transcript_url(conversation)}#message-{reply.pk}">Ledger</a>' in page.text
    assert "Answer Ledger" not in page.text  # the reply is read in the (audited) transcript


def test_the_feedback_list_filters_by_rating_and_date_and_searches_comments(carol, alice, bob):
    chat(alice, "one", rating="up", comment="Clear and short")
    chat(bob, "two", rating="down", comment="Far too long")
    old = chat(bob, "three", rating="down", comment="Old news")
    Feedback.objects.filter(message__conversation=old).update(
        created=timezone.now() - datetime.timedelta(days=30)
    )
    client = signed_in(carol)

    def comments(**query) -> list[str]:
        response = client.get(FEEDBACK_LIST, query)
        assert response.status_code == 200
        return sorted(f.comment for f in response.context["cl"].result_list)

    assert comments(rating__exact="down") == ["Far too long", "Old news"]
    today = timezone.localdate().isoformat()
    assert comments(created__from=today, created__to=today) == ["Clear and short", "Far too long"]
    assert comments(q="too long") == ["Far too long"]
    refused = client.get(FEEDBACK_LIST, {"created__from": "yesterday"})
    assert refused.status_code == 400


def test_nobody_adds_changes_or_deletes_feedback_in_the_admin(carol, alice):
    chat(alice, "Kept", rating="up", comment="Fine")
    feedback = Feedback.objects.get()
    client = signed_in(carol)
    assert client.get(reverse("admin:conversations_feedback_add")).status_code == 403
    change = reverse("admin:conversations_feedback_change", args=[feedback.pk])
    client.post(change, {"rating": "down", "comment": "Rewritten"})
    delete = reverse("admin:conversations_feedback_delete", args=[feedback.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    feedback.refresh_from_db()
    assert (feedback.rating, feedback.comment) == ("up", "Fine")
    assert "delete_selected" not in client.get(FEEDBACK_LIST).text


def test_who_sees_the_feedback_list(alice, dave, erin):
    chat(alice, "Mine", rating="down", comment="private words")
    assert signed_in(dave).get(FEEDBACK_LIST).status_code == 200  # a Transcript reviewer
    assert signed_in(erin).get(FEEDBACK_LIST).status_code == 403  # an Operator: usage only
    assert "Feedback" not in signed_in(erin).get(reverse("admin:index")).text
    response = signed_in(alice).get(FEEDBACK_LIST)  # not staff
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- export and deletion ----------------------------------------------------------------------


def test_the_json_export_lists_each_messages_feedback(alice):
    conversation = chat(alice, "Exported", rating="down", comment="Wrong.")
    feedback = Feedback.objects.get()

    document = json.loads("".join(exports.iter_json(Conversation.objects.all())))

    question, reply = document["conversations"][0]["messages"]
    assert question["feedback"] == []
    [given] = reply["feedback"]
    assert given["id"] == feedback.pk and given["user"] == alice.pk
    assert (given["username"], given["rating"], given["comment"]) == ("alice", "down", "Wrong.")
    assert datetime.datetime.fromisoformat(given["created"]) == feedback.created
    assert "message" not in given
    assert conversation.pk == document["conversations"][0]["id"]


def test_feedback_goes_with_its_conversation(alice):
    conversation = chat(alice, "Gone", rating="up")
    conversation.delete()
    assert not Feedback.objects.exists()
