"""Issue 14, item 3: what each message shows besides its text, and the Markdown behind Copy."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from conversations.models import Conversation, Message
from conversations.templatetags.display import MAX_SHOWN_CHARS, json_preview, pretty_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(django_user_model):
    owner = django_user_model.objects.create_user("olga", password="pw-olga-12345")
    conversation = Conversation.objects.create(
        owner=owner, provider="orq", model="openai/gpt-4o", upstream_id="conv_1", title="Billing"
    )
    return conversation


def reply_of(conversation, **fields) -> Message:
    Message.objects.create(conversation=conversation, role="user", text="Find the notes")
    return Message.objects.create(
        conversation=conversation,
        role="assistant",
        status="complete",
        text="Here is **the** answer.\n\n```python\nx = 1\n```\n",
        html="<p>Here is <strong>the</strong> answer.</p>",
        **fields,
    )


def test_copy_gives_the_owner_the_reply_as_markdown(client, conversation):
    reply = reply_of(conversation)
    client.force_login(conversation.owner)

    response = client.get(reverse("conversations:markdown", args=[conversation.pk, reply.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    assert response.content.decode() == reply.text


def test_copy_is_nobody_elses(client, conversation, django_user_model):
    reply = reply_of(conversation)
    url = reverse("conversations:markdown", args=[conversation.pk, reply.pk])
    assert client.get(url).status_code == 302  # signed out: to the sign-in page

    client.force_login(django_user_model.objects.create_user("mallory", password="pw-m-12345"))
    assert client.get(url).status_code == 404
    # Nor a message through a conversation it is not in.
    other = Conversation.objects.create(owner=conversation.owner, provider="orq", model="m")
    client.force_login(conversation.owner)
    assert (
        client.get(reverse("conversations:markdown", args=[other.pk, reply.pk])).status_code == 404
    )
    assert (
        client.get(reverse("conversations:markdown", args=[conversation.pk, 10**12])).status_code
        == 404
    )


def test_each_message_shows_its_time_and_tools_as_folded_json(client, conversation):
    reply_of(
        conversation,
        model="openai/gpt-4o-2024-08-06",
        parts=[
            {"kind": "tool_call", "id": "c1", "name": "search", "arguments": '{"query": "notes"}'},
            {"kind": "tool_result", "id": "c1", "result": {"hits": 3, "top": {"url": "https://x"}}},
            {"kind": "text", "text": "ignored here"},
        ],
    )
    client.force_login(conversation.owner)

    page = client.get(reverse("conversations:detail", args=[conversation.pk])).content.decode()

    assert page.count('<time class="when" datetime="') == 2
    assert ">now</time>" in page  # naturaltime, until the browser words it in the reader's language
    assert '<details><summary><span class="tool-label">Tool</span> <code>search</code>' in page
    assert "{&quot;query&quot;: &quot;notes&quot;}" not in page.split("<pre")[1]  # pretty, not raw
    assert "&quot;hits&quot;: 3" in page and "{&#x27;hits&#x27;" not in page
    assert "gpt-4o-2024-08-06" in page
    assert 'data-template="copy-reply"' in page


def test_pretty_json_reads_arguments_results_and_plain_text():
    assert pretty_json('{"a": [1, 2]}') == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert pretty_json({"é": "ü"}) == '{\n  "é": "ü"\n}'
    assert pretty_json("not json {") == "not json {"
    assert pretty_json('"a json string"') == "a json string"  # its text, unquoted
    assert pretty_json({"when": object()}).startswith("{'when'")  # not JSON: shown as it is
    long = pretty_json({"text": "x" * (MAX_SHOWN_CHARS * 2)})
    assert len(long) < MAX_SHOWN_CHARS + 100 and long.endswith("more characters)")
    assert json_preview({"query": "a  b\nc"}) == '{"query": "a b\\nc"}'  # one line, as JSON
    assert json_preview("y" * 200).endswith("…") and len(json_preview("y" * 200)) == 80
    assert json.loads(pretty_json('{"n": 1}')) == {"n": 1}
