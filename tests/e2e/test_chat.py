"""A person's session in headless Chromium: sign in, chat with both providers, stop, reload,
rename, delete, and see that HTML typed into the chat stays text."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from emulator.process import ROOT

SCREENSHOT = ROOT / "docs" / "screenshot.png"


def sign_in(page: Page, live) -> None:
    page.goto(f"{live.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(live.username)
    page.get_by_label("Password").fill(live.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="What shall we talk about?")).to_be_visible()


def new_chat(page: Page, choice: str) -> None:
    before = page.url
    page.get_by_label("Model or agent").select_option(choice)
    page.get_by_role("button", name="New chat").click()
    expect(page).not_to_have_url(before)
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("")


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def last_reply(page: Page):
    return page.locator(".reply").last


def watch_growth(page: Page, *, observations: int = 3, timeout: float = 20) -> list[int]:
    """Lengths of the last reply's text, each longer than the one before, while it streams."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while len(seen) < observations and time.monotonic() < deadline:
        reply = last_reply(page)
        if reply.get_attribute("data-status") != "streaming" and seen:
            break
        length = len(reply.locator(".reply-body").inner_text())
        if length and (not seen or length > seen[-1]):
            seen.append(length)
        page.wait_for_timeout(60)
    return seen


def test_a_person_chats_with_both_providers(page: Page, live_webchat):
    sign_in(page, live_webchat)

    for choice, label in (
        ("orq:model:openai/gpt-4o", "openai/gpt-4o"),
        ("mistral:model:mistral-small-latest", "mistral-small-latest"),
    ):
        new_chat(page, choice)
        expect(page.locator(".chat-meta")).to_contain_text(label)
        send(page, "How do cursors paginate?")
        expect(page.locator(".message.user").last).to_contain_text("How do cursors paginate?")
        growth = watch_growth(page)
        assert len(growth) >= 3, f"the reply should grow while it streams; saw {growth}"
        expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
        expect(last_reply(page).locator(".usage")).to_contain_text("tokens")
        expect(last_reply(page).locator(".reasoning summary")).to_have_text("Reasoning")
        expect(last_reply(page).locator(".code-block .copy")).to_have_text("Copy")
        # The title arrives after the first exchange, live in the sidebar.
        expect(page.locator(".conversation-row.active .title")).not_to_have_text("New conversation")
        assert page.url.endswith(
            f"/conversations/{page.locator('#chat').get_attribute('data-conversation')}/"
        )

    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SCREENSHOT))


def test_stop_keeps_the_partial_reply(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-medium-latest")
    send(page, "[[emulator tokens_per_second=15 tokens=300]] Write a long essay")
    watch_growth(page, observations=2)
    page.keyboard.press("Escape")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "stopped")
    expect(reply.locator(".badge")).to_have_text("Stopped")
    assert len(reply.locator(".reply-body").inner_text()) > 0
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()


def test_reload_mid_reply_shows_the_text_so_far_and_finishes(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "orq:model:openai/gpt-4o-mini")
    send(page, "[[emulator tokens_per_second=20 tokens=90]] Explain leases")
    before = watch_growth(page, observations=3)[-1]
    page.reload()
    reply = last_reply(page)
    expect(reply).to_be_visible()
    assert len(reply.locator(".reply-body").inner_text()) >= before * 0.8
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    body = reply.locator(".reply-body").inner_text()
    assert "Explain" in body or len(body) > before


def test_rename_and_delete_from_the_sidebar(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest")
    row = page.locator(".conversation-row.active")
    row.get_by_role("button", name=re.compile("^Rename")).click()
    field = page.get_by_label("New title")
    field.fill("Quarterly planning")
    field.press("Enter")
    expect(page.locator(".conversation-row.active .title")).to_have_text("Quarterly planning")

    # Escape cancels a rename.
    page.locator(".conversation-row.active").get_by_role(
        "button", name=re.compile("^Rename")
    ).click()
    page.get_by_label("New title").fill("Not this")
    page.get_by_label("New title").press("Escape")
    expect(page.locator(".conversation-row.active .title")).to_have_text("Quarterly planning")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".conversation-row.active").get_by_role(
        "button", name=re.compile("^Delete")
    ).click()
    expect(page.get_by_text("Quarterly planning")).to_have_count(0)
    expect(page.get_by_role("heading", name="Conversation deleted")).to_be_visible()


def test_html_in_a_message_is_shown_as_text(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest")
    nasty = '<script>window.pwned = 1</script> <img src=x onerror="window.pwned = 2"> hello'
    send(page, nasty)
    bubble = page.locator(".message.user .user-text").last
    expect(bubble).to_contain_text("<script>window.pwned = 1</script>")
    expect(bubble).to_contain_text('<img src=x onerror="window.pwned = 2">')
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    assert page.evaluate("window.pwned") is None
    assert page.locator(".messages img").count() == 0
    assert Path(SCREENSHOT).parent.exists()


def test_a_narrow_dark_screen_collapses_the_sidebar(browser, live_webchat):
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark")
    page = context.new_page()
    try:
        sign_in(page, live_webchat)
        sidebar = page.locator("#sidebar")
        expect(sidebar).not_to_be_in_viewport()  # the list starts hidden on a phone
        page.get_by_role("button", name="Show conversations").first.click()
        expect(sidebar).to_be_in_viewport()
        new_chat(page, "mistral:model:mistral-small-latest")
        expect(sidebar).not_to_be_in_viewport()  # opening a conversation hides it again
        send(page, "Dark mode check")
        expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(21, 23, 26)"
        page.screenshot(path=str(SCREENSHOT.with_name("screenshot-phone-dark.png")))
    finally:
        context.close()


def test_the_url_follows_the_open_conversation_and_back_works(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest")
    first_url = page.url
    send(page, "First topic")
    expect(page.locator("#chat-title")).to_have_text(re.compile("First topic"), timeout=20_000)
    new_chat(page, "orq:model:openai/gpt-4o")
    expect(page).not_to_have_url(first_url)
    expect(page.locator(".conversation-row.active .title")).to_have_text("New conversation")
    page.go_back()
    expect(page).to_have_url(first_url)
    expect(page.locator("#chat-title")).to_have_text(re.compile("First topic"))
    expect(page.locator(".conversation-row.active .title")).to_have_text(re.compile("First topic"))
    expect(page.locator("#connection")).to_have_text("")
