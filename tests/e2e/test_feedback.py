"""Issue 14, item 5, in Chromium: a person says a reply was bad and why; an administrator finds
the conversation by that feedback and reads it in the transcript. At phone size the thumbs are
large enough to tap."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_admin import ADMIN_PASSWORD, make_superuser
from tests.e2e.test_chat import last_reply, new_chat, sign_in

DOCS = ROOT / "docs"
QUESTION = "Which year did the pangolin ledger start?"


def test_a_bad_reply_with_a_comment_reaches_the_administrator(page: Page, live_webchat):
    frames: list[dict] = []
    page.on(
        "websocket",
        lambda socket: socket.on(
            "framereceived", lambda payload: frames.append(json.loads(payload))
        ),
    )
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", QUESTION)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    good = reply.get_by_role("button", name="Good reply")
    bad = reply.get_by_role("button", name="Bad reply")
    expect(good).to_have_attribute("aria-pressed", "false")
    expect(bad).to_have_attribute("aria-pressed", "false")

    # From the keyboard: the thumb keeps the focus, and the comment form opens after it.
    good.focus()
    page.keyboard.press("Enter")
    expect(good).to_have_attribute("aria-pressed", "true")
    expect(good).to_be_focused()
    expect(page.locator("#announcer")).to_have_text(re.compile("Marked as a good reply"))
    expect(reply.get_by_label("What was good about this reply? (optional)")).to_be_visible()

    # Changed to bad, with a comment.
    bad.click()
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(good).to_have_attribute("aria-pressed", "false")
    box = reply.get_by_label("What was wrong with this reply? (optional)")
    box.fill("It named the wrong year: the ledger began in 1999.")
    reply.get_by_role("button", name="Send").click()
    comment = reply.locator(".feedback-comment")
    expect(comment).to_contain_text("It named the wrong year: the ledger began in 1999.")
    expect(reply.get_by_role("button", name="Edit comment")).to_be_focused()
    expect(page.locator("#announcer")).to_have_text("Comment saved.")
    expect(box).to_have_count(0)
    page.screenshot(path=str(DOCS / "feedback.png"))

    # A reload shows it as given, and the socket's snapshot of the reply does not undo that.
    frames.clear()
    page.reload()
    reply = last_reply(page)
    expect(reply.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => document.getElementById('connection').textContent === ''")
    for _ in range(50):
        if any(frame.get("type") == "snapshot" for frame in frames):
            break
        page.wait_for_timeout(100)
    assert any(f.get("type") == "snapshot" and f.get("id") for f in frames), frames
    reply = last_reply(page)
    expect(reply.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "true")
    expect(reply.get_by_role("button", name="Good reply")).to_have_attribute(
        "aria-pressed", "false"
    )
    expect(reply.locator(".feedback-comment")).to_contain_text("the ledger began in 1999")
    page.get_by_role("button", name="Sign out").click()

    # The administrator: the conversation list filtered to bad replies, then the transcript.
    make_superuser(live_webchat)
    page.goto(f"{live_webchat.url}/admin/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_webchat.url}/admin/conversations/conversation/")
    filters = page.locator("#changelist-filter")
    expect(filters).to_contain_text("By feedback")
    filters.get_by_role("link", name="Bad", exact=True).click()
    expect(page).to_have_url(re.compile(r"feedback=down"))
    row = page.locator("#result_list tbody tr", has_text="pangolin")
    expect(row).to_have_count(1)
    row.locator("th a").click()
    feedback = page.locator(".transcript .feedback-down")
    expect(feedback).to_contain_text("Bad reply")
    expect(feedback).to_contain_text("from erin")
    expect(feedback.locator(".feedback-comment")).to_have_text(
        "It named the wrong year: the ledger began in 1999."
    )
    feedback.scroll_into_view_if_needed()
    page.screenshot(path=str(DOCS / "feedback-admin.png"), full_page=True)

    # The Feedback list has it too, and leads back to the same transcript.
    page.goto(f"{live_webchat.url}/admin/conversations/feedback/?rating__exact=down")
    listed = page.locator("#result_list tbody tr", has_text="the ledger began in 1999")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Bad reply")
    listed.get_by_role("link", name=re.compile("pangolin")).click()
    expect(page.locator(".transcript .feedback-down")).to_be_visible()


def test_the_thumbs_are_large_enough_to_tap_on_a_phone(phone: Page, live_webchat):
    sign_in(phone, live_webchat)
    new_chat(phone, "mistral:model:mistral-small-latest", "A quick one to rate on the phone")
    reply = last_reply(phone)
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    good = reply.get_by_role("button", name="Good reply")
    good.tap()
    expect(good).to_have_attribute("aria-pressed", "true")
    skip = reply.get_by_role("button", name="Skip")
    targets = [good, reply.get_by_role("button", name="Bad reply"), skip]
    for target in targets:
        box = target.bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, (target, box)
    # The comment box fits the screen.
    field = reply.get_by_label("What was good about this reply? (optional)")
    box = field.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    field.scroll_into_view_if_needed()
    phone.screenshot(path=str(DOCS / "feedback-phone.png"))
    skip.tap()
    add = reply.get_by_role("button", name="Add a comment")
    expect(add).to_be_visible()
    box = add.bounding_box()
    assert box and box["height"] >= 44, box
    expect(good).to_have_attribute("aria-pressed", "true")
