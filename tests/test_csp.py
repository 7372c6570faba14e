"""Every response carries a strict Content-Security-Policy, and no page we serve needs more:
no inline script, no inline event handler, no inline style, no eval (htmx's included)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from administration.models import Tombstone
from conversations.models import Conversation, Message
from conversations.rendering import render_markdown
from widgets.models import Widget

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()
    }


class InlineCode(HTMLParser):
    """Everything in a page that a strict policy refuses to run or apply."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name.startswith("on") or name == "style" or name.startswith("hx-on"):
                self.found.append(f'<{tag} {name}="{value}">')
            if name in ("href", "src", "action") and (value or "").startswith("javascript:"):
                self.found.append(f'<{tag} {name}="{value}">')
            # htmx evaluates these with Function(): refused without 'unsafe-eval'.
            if (name == "hx-vals" and "js:" in (value or "")) or name == "hx-vars":
                self.found.append(f"<{tag} {name}> evaluated")
            if name == "hx-trigger" and "[" in (value or ""):
                self.found.append(f'<{tag} hx-trigger="{value}"> has an evaluated filter')


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def carol_client(carol) -> Client:
    client = Client()
    client.force_login(carol)
    return client


@pytest.fixture
def conversation(carol) -> Conversation:
    """A conversation whose reply has what Markdown and tools can bring: a table with aligned
    columns (once a `style` attribute), code, a citation."""
    conversation = Conversation.objects.create(
        owner=carol, provider="mistral", model="mistral-small-latest", title="Tables"
    )
    text = "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n```python\nx = 1\n```"
    Message.objects.create(conversation=conversation, role="user", text="hi", html="<p>hi</p>")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        text=text,
        html=render_markdown(text),
        parts=[{"kind": "citation", "title": "Docs", "url": "https://example.com/"}],
    )
    return conversation


def test_every_kind_of_response_has_the_strict_policy(client, carol_client, conversation):
    responses = [
        client.get(reverse("login")),
        client.get("/healthz"),
        client.get("/static/css/webchat.css"),
        carol_client.get("/"),
        carol_client.get(reverse("conversations:detail", args=[conversation.pk])),
        carol_client.get(reverse("conversations:list"), {"cursor": "junk"}, **HTMX),  # a 400
        carol_client.get(reverse("admin:index")),
        carol_client.get(reverse("admin:conversations_conversation_changelist")),
    ]
    for response in responses:
        rules = policy(response)
        assert rules["default-src"] == "'self'"
        assert rules["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
        assert rules["style-src"] == "'self'"
        assert rules["img-src"] == "'self' data:"
        assert rules["connect-src"] == "'self' ws://testserver"  # the page's own socket only
        assert rules["frame-ancestors"] == "'none'"
        assert rules["base-uri"] == "'none'"
        assert rules["form-action"] == "'self'"
        assert rules["object-src"] == "'none'"


def test_the_widget_frame_keeps_its_own_frame_ancestors_and_gets_the_rest(client, alice):
    widget = Widget.objects.create(
        name="Shop help",
        owner=alice,
        provider="mistral",
        model="mistral-small-latest",
        allowed_origins="https://shop.example.com",
    )
    response = client.get(reverse("widgets:frame", args=[widget.public_key]))
    rules = policy(response)
    assert rules["frame-ancestors"] == "https://shop.example.com"
    assert rules["script-src"] == "'self'" and rules["style-src"] == "'self'"
    assert response["Content-Security-Policy"].count("frame-ancestors") == 1


def test_no_page_has_inline_script_handlers_or_styles(carol_client, conversation, alice):
    Tombstone.objects.create(
        conversation_id=99, owner_name="alice", provider="orq", reason="admin", upstream_result="x"
    )
    detail = reverse("conversations:detail", args=[conversation.pk])
    pages = {
        "login": Client().get(reverse("login")),
        "index": carol_client.get("/"),
        "detail": carol_client.get(detail),
        "pane": carol_client.get(detail, **HTMX),
        "rename form": carol_client.get(
            reverse("conversations:rename", args=[conversation.pk]), **HTMX
        ),
        # The flash, with its Dismiss button.
        "flash": carol_client.post(reverse("conversations:create"), {"choice": "x"}, **HTMX),
        "status": carol_client.get("/status"),
        "bad request": carol_client.get(reverse("conversations:list"), {"cursor": "x"}),
        "admin": carol_client.get(reverse("admin:index")),
        "conversations": carol_client.get(reverse("admin:conversations_conversation_changelist")),
        "transcript": carol_client.get(
            reverse("admin:conversations_conversation_change", args=[conversation.pk])
        ),
        # A list with no actions, where Django adds a <style> of its own.
        "tombstones": carol_client.get(reverse("admin:administration_tombstone_changelist")),
        "audit trail": carol_client.get(reverse("admin:administration_auditentry_changelist")),
        "usage": carol_client.get(reverse("admin:conversations_dailyusage_changelist")),
        "users": carol_client.get(reverse("admin:auth_user_changelist")),
        "user": carol_client.get(reverse("admin:auth_user_change", args=[alice.pk])),
    }
    found = {name: inline_code(r.content.decode()) for name, r in pages.items()}
    assert {name: problems for name, problems in found.items() if problems} == {}
    assert "Dismiss" in pages["flash"].content.decode()
    assert "align-right" in pages["detail"].content.decode()


def test_htmx_is_told_not_to_eval_or_inject_styles(carol_client):
    page = carol_client.get("/").content.decode()
    config = json.loads(re.search(r'name="htmx-config" content=\'([^\']+)\'', page).group(1))
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
