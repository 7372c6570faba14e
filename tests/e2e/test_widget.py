"""A visitor on another site, in headless Chromium: the widget opens, streams, and follows them
to another page mid-reply; a site that is not allowed gets no widget at all."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from emulator.assistant import compose_reply, instructions_sentence, variables_sentence
from emulator.process import ROOT
from tests.e2e.test_admin import ADMIN_PASSWORD, make_superuser
from tests.servers import free_port
from widgets import demo_host

SCREENSHOT = ROOT / "docs" / "widget.png"


@pytest.fixture(scope="module")
def sites(live_webchat):
    """Two stand-in websites on their own origins: one allowed, one not."""
    allowed_port, foreign_port = free_port(), free_port()
    allowed = f"http://127.0.0.1:{allowed_port}"
    key = live_webchat.manage(
        "shell", "-c",
        "from django.contrib.auth.models import User; from widgets.models import Widget; "
        "w = Widget.objects.create(name='E2E widget', owner=User.objects.first(), "
        "provider='mistral', model='mistral-small-latest', title='Ask the shop', "
        f"allowed_origins={allowed!r}); print(w.public_key)",
    ).strip().splitlines()[-1]  # fmt: skip
    servers = [
        demo_host.start(port, webchat_url=live_webchat.url, key=key)
        for port in (allowed_port, foreign_port)
    ]
    yield allowed, f"http://127.0.0.1:{foreign_port}"
    for server in servers:
        server.shutdown()


def widget_conversations(live) -> int:
    return int(
        live.manage(
            "shell", "-c",
            "from conversations.models import Conversation; "
            "print(Conversation.objects.filter(widget__name='E2E widget').count())",
        ).strip().splitlines()[-1]
    )  # fmt: skip


def reply_text(frame) -> str:
    return frame.locator(".reply").last.locator(".reply-body").inner_text()


def test_the_widget_streams_and_a_reply_survives_a_change_of_page(page: Page, sites, live_webchat):
    allowed, _ = sites
    before = widget_conversations(live_webchat)
    page.goto(f"{allowed}/")
    launcher = page.get_by_role("button", name="Ask the shop")
    expect(launcher).to_be_visible()
    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    frame = page.frame_locator("iframe[title='Ask the shop']")
    expect(frame.locator("#connection")).to_have_text("")
    # Opening it made nothing: the conversation comes with the first message.
    expect(frame.locator(".greeting")).to_be_visible()
    assert widget_conversations(live_webchat) == before
    prompt = "Tell me about your return policy"
    box = frame.get_by_label("Message", exact=True)
    box.fill(f"[[emulator tokens_per_second=25 tokens=150]] {prompt}")
    box.press("Enter")

    seen: list[int] = []
    deadline = time.monotonic() + 20
    while len(seen) < 3 and time.monotonic() < deadline:
        length = len(reply_text(frame)) if frame.locator(".reply").count() else 0
        if length and (not seen or length > seen[-1]):
            seen.append(length)
        page.wait_for_timeout(80)
    assert len(seen) == 3, f"the reply did not grow in steps: {seen}"
    assert frame.locator(".reply").last.get_attribute("data-status") == "streaming"

    # The visitor moves to another page of the site while the reply is being written.
    page.get_by_role("link", name="Pricing").click()
    expect(page).to_have_url(f"{allowed}/pricing")
    frame = page.frame_locator("iframe[title='Ask the shop']")
    reply = frame.locator(".reply").last
    expect(reply).to_be_visible()
    assert len(reply.locator(".reply-body").inner_text()) >= seen[-1] * 0.8
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(frame.locator(".reply")).to_have_count(1)  # the same reply, not a second one
    full = compose_reply(prompt, tokens=150).full_text
    # The finished reply, rendered from the saved text: every word of the answer, once.
    words = [w for w in full.split() if w.isalpha() and len(w) > 6][:5]
    body = reply.locator(".reply-body").inner_text()
    for word in words:
        assert body.count(word) == full.count(word), word
    page.screenshot(path=str(SCREENSHOT))
    assert widget_conversations(live_webchat) == before + 1


def test_a_site_that_is_not_allowed_gets_no_widget(page: Page, sites, browser_console):
    _, foreign = sites
    # The refusal itself: the browser logs the 403 the loader then explains.
    browser_console.allow(r"status of 403 \(Forbidden\) \(at http://[^ ]+/widget/[^/]+/visitor\)")
    warnings: list[str] = []
    page.on(
        "console",
        lambda message: warnings.append(message.text) if message.type == "warning" else None,
    )
    page.goto(f"{foreign}/")
    page.wait_for_timeout(1500)
    expect(page.locator("[data-webchat]")).to_have_count(0)
    expect(page.locator("iframe")).to_have_count(0)
    assert any("is not allowed to use this widget" in w for w in warnings), warnings
    assert len([w for w in warnings if w.startswith("Webchat widget")]) == 1


def test_the_admin_copies_an_absolute_snippet(page: Page, sites, live_webchat):
    """The snippet's Copy button, under the admin's strict Content-Security-Policy."""
    make_superuser(live_webchat)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_webchat.url)
    page.goto(f"{live_webchat.url}/admin/login/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_webchat.url}/admin/widgets/widget/")
    page.get_by_role("link", name="E2E widget").click()
    snippet = page.locator("#widget-snippet")
    key = re.search(r'data-widget="([^"]+)"', snippet.inner_text())[1]
    expected = f'<script src="{live_webchat.url}/widget.js" data-widget="{key}" async></script>'
    expect(snippet).to_have_text(expected)
    copy = page.locator("button[data-copy='widget-snippet']")
    expect(copy).to_have_text("Copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == expected
    # The preview takes the widget's accent without a style attribute.
    head = page.locator(".widget-preview-head")
    assert head.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(37, 99, 235)"


def test_a_widget_assistant_takes_its_instructions_and_the_visitors_page(page: Page, live_webchat):
    """Issue 15, item 6: what the owner set on the Widget row reaches the provider with the
    visitor's first message: a Mistral model's instructions, an Orq agent's page variables."""
    briefly = "Answer briefly."
    hosts = []
    try:
        for title, fields in (
            ("Ask briefly", "provider='mistral', model='mistral-small-latest', "
                            f"instructions={briefly!r}"),
            ("Ask the agent", "provider='orq', agent='demo', page_variables=True"),
        ):  # fmt: skip
            port = free_port()
            host = f"http://127.0.0.1:{port}"
            key = live_webchat.manage(
                "shell", "-c",
                "from django.contrib.auth.models import User; from widgets.models import Widget; "
                f"w = Widget.objects.create(name={title!r}, owner=User.objects.first(), "
                f"title={title!r}, allowed_origins={host!r}, {fields}); print(w.public_key)",
            ).strip().splitlines()[-1]  # fmt: skip
            hosts.append(demo_host.start(port, webchat_url=live_webchat.url, key=key))

            # The visitor opens the widget on the site's pricing page and asks.
            page.goto(f"{host}/pricing")
            page.get_by_role("button", name=title).click()
            frame = page.frame_locator(f"iframe[title='{title}']")
            expect(frame.locator(".greeting")).to_be_visible()
            box = frame.get_by_label("Message", exact=True)
            box.fill("Do you ship abroad?")
            box.press("Enter")
            reply = frame.locator(".reply").last
            expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
            said = reply_text(frame).strip()
            if title == "Ask briefly":
                assert said.startswith(instructions_sentence(briefly)), said
                assert said.startswith(
                    'Following your instructions ("Answer briefly."), here goes.'
                ), said
            else:
                # The page the visitor was on, and the widget's language, as the agent's variables.
                assert f"page={host}/pricing" in said, said
                assert variables_sentence({"page": f"{host}/pricing", "language": "en"}) in said
    finally:
        for server in hosts:
            server.shutdown()
