"""Issue 14, item 11, in Chromium: a person shares a conversation as a read-only link; another
member reads it and continues it in their own chats; a signed-out visitor is sent to sign in,
reads a link made for anyone (at phone size too), and finds it not valid once it is revoked."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat, send, sign_in

DOCS = ROOT / "docs"
MEMBER, MEMBER_PASSWORD = "frank", "frank-password-1"


def make_member(live) -> None:
    live.manage(
        "shell", "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.filter(username={MEMBER!r}).exists() or "
        f"User.objects.create_user({MEMBER!r}, password={MEMBER_PASSWORD!r})",
    )  # fmt: skip


def share_button(page: Page):
    # A <summary> (the panel is a disclosure, as the Export menu beside it): Chromium gives it
    # no button role for get_by_role to find, so by its accessible name.
    return page.get_by_label("Share this conversation", exact=True)


def open_share_panel(page: Page):
    """The Share button in the chat's head opens its panel; returns the panel."""
    share_button(page).click()
    panel = page.locator("#share-panel")
    expect(panel.get_by_role("heading", name="Share a read-only link")).to_be_visible()
    return panel


def create_link(page: Page, panel, *, audience: str, expires: str) -> str:
    panel.get_by_role("radio", name=audience).check()
    panel.get_by_label("Expires").select_option(label=expires)
    panel.get_by_role("button", name="Create link").click()
    link = page.locator("#share-url")
    expect(link).to_be_focused()  # the new link, ready to copy
    expect(page.locator("#announcer")).to_contain_text("Link created.")
    url = link.input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]{32}", url), url
    return url


def test_a_member_reads_a_shared_conversation_and_continues_it(
    browser: Browser, page: Page, live_webchat
):
    live = live_webchat
    make_member(live)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    sign_in(page, live)
    new_chat(page, "mistral:model:mistral-small-latest", "How do leases work in our ledger?")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)

    # Share it with signed-in members, from the keyboard: the button is in the chat's head.
    share = share_button(page)
    share.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#share-panel")
    expect(panel.get_by_role("radio", name="Signed-in members")).to_be_checked()
    expect(panel.get_by_role("radio", name="Anyone with the link")).to_be_enabled()
    url = create_link(page, panel, audience="Signed-in members", expires="In 30 days")
    panel.get_by_role("button", name="Copy", exact=True).click()
    copy = panel.locator(".share-created button")  # by place: its name changes as it says so
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url
    expect(panel.locator("[data-share-status]")).to_have_text("Link copied.")
    expect(panel.locator(".share-row")).to_have_count(1)
    expect(panel.locator(".share-row")).to_contain_text("Signed-in members")
    expect(panel.locator(".share-row")).to_contain_text("expires in 4\xa0weeks")
    page.screenshot(path=str(DOCS / "share-panel.png"))

    # Esc closes the panel and gives the focus back to the Share button.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(share).to_be_focused()

    # What the owner writes after sharing is not in the link.
    send(page, "Not in the link: a later question")
    expect(page.locator(".reply")).to_have_count(2)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)

    # A signed-out visitor of a members' link is asked to sign in first.
    stranger = browser.new_context(viewport={"width": 1280, "height": 800})
    visitor = stranger.new_page()
    visitor.goto(url)
    expect(visitor).to_have_url(re.compile(r"/accounts/login/\?next=/s/"))
    stranger.close()

    # Another member signs in, and the link opens where it was going.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    reader = context.new_page()
    reader.set_default_timeout(15_000)
    reader.goto(url)
    reader.get_by_label("Username").fill(MEMBER)
    reader.get_by_label("Password").fill(MEMBER_PASSWORD)
    reader.get_by_role("button", name="Sign in").click()
    expect(reader).to_have_url(url)
    expect(reader.get_by_role("heading", level=1)).to_have_text("How do leases work in our ledger?")
    expect(reader.locator(".shared-head")).to_contain_text(f"Shared by {live.username} on")
    expect(reader.locator(".message.user")).to_have_count(1)
    expect(reader.locator(".reply")).to_have_count(1)
    expect(reader.get_by_text("Not in the link")).to_have_count(0)
    # Read-only: no composer, nothing that edits, regenerates or rates.
    expect(reader.locator("textarea")).to_have_count(0)
    for name in ("Edit this message", "Regenerate", "Good reply", "Send"):
        expect(reader.get_by_role("button", name=name)).to_have_count(0)
    expect(reader.get_by_text("The assistant is given these turns")).to_be_visible()
    reader.screenshot(path=str(DOCS / "shared-page.png"), full_page=True)

    # Continue in my chats: the reader's own copy, with the conversation so far, goes on.
    reader.get_by_role("button", name="Continue in my chats").click()
    expect(reader).to_have_url(re.compile(r"/conversations/\d+/$"))
    expect(reader.locator("#chat-title")).to_have_text("How do leases work in our ledger? (copy)")
    expect(reader.locator("#copy-notice")).to_contain_text(
        "The copied turns are given to the assistant"
    )
    expect(reader.locator(".sidebar-lists")).to_contain_text("(copy)")
    expect(reader.locator(".reply")).to_have_count(1)
    expect(reader.locator("#connection")).to_have_text("")
    send(reader, "And what does the ledger do with them?")
    expect(reader.locator(".reply")).to_have_count(2)
    expect(last_reply(reader)).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(last_reply(reader).locator(".reply-body")).not_to_be_empty()
    context.close()


def test_a_link_for_anyone_reads_signed_out_until_it_is_revoked(
    page: Page, phone: Page, live_webchat, browser_console
):
    # The not-valid page is a 404 on purpose (the same answer as an unknown link).
    browser_console.allow(r"status of 404 \(Not Found\) \(at http://[^ ]+/s/")
    sign_in(page, live_webchat)
    new_chat(page, "orq:model:openai/gpt-4o", "Which fruit keeps longest?")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    panel = open_share_panel(page)
    url = create_link(page, panel, audience="Anyone with the link", expires="In 7 days")

    # A visitor who never signed in, on a phone.
    phone.goto(url)
    # Orq names it after the first exchange.
    expect(phone.get_by_role("heading", level=1)).to_have_text(re.compile("Which fruit keeps"))
    expect(phone.locator(".reply")).to_have_count(1)
    expect(phone.get_by_role("link", name="Sign in")).to_be_visible()
    expect(phone.get_by_role("button", name="Continue in my chats")).to_have_count(0)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the shared page should fit a phone's width; it is {width}px wide"
    phone.screenshot(path=str(DOCS / "shared-page-phone.png"), full_page=True)

    # The owner sees the reading counted, and revokes the link.
    page.keyboard.press("Escape")
    panel = open_share_panel(page)
    row = panel.locator(".share-row").first
    expect(row).to_contain_text("Anyone with the link")
    expect(row).to_contain_text("1 view")
    row.get_by_role("button", name=re.compile(r"^Revoke link")).click()
    expect(page.locator("#announcer")).to_contain_text("Link revoked")
    expect(panel.get_by_role("heading", name="Links to this conversation")).to_be_focused()
    expect(panel.locator(".share-row").first).to_contain_text("revoked just now")
    expect(panel.get_by_role("button", name=re.compile(r"^Revoke link"))).to_have_count(0)

    # The visitor's next look finds the link not valid, and nothing of the conversation.
    phone.reload()
    expect(phone.get_by_role("heading", name="This link is not valid")).to_be_visible()
    expect(phone.get_by_text(re.compile("Which fruit keeps"))).to_have_count(0)


def test_the_share_panel_fits_a_phone(phone: Page, live_webchat):
    sign_in(phone, live_webchat)
    new_chat(phone, "mistral:model:mistral-small-latest", "A short question for the phone")
    expect(last_reply(phone)).to_have_attribute("data-status", "complete", timeout=30_000)
    panel = open_share_panel(phone)
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    for control in (
        panel.get_by_role("button", name="Create link"),
        panel.get_by_label("Expires"),
        panel.locator("label", has_text="Anyone with the link"),
    ):
        tap = control.bounding_box()
        assert tap is not None and tap["height"] >= 44, (control, tap)
