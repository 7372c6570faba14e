"""Issue 15, item 7, in Chromium: a reply's instructions and parameters, and a message's file, in
the admin transcript; the file opens through the audited admin view."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_admin import ADMIN_PASSWORD, make_superuser
from tests.e2e.test_attachments import PNG, attach, chips
from tests.e2e.test_chat import send, sign_in
from tests.e2e.test_instructions import close_instructions, complete, new_chat, open_instructions

BRIEF = "Answer in one short paragraph, like a ship's log."
MAX_TOKENS = 120


def test_the_transcript_shows_what_a_reply_was_asked_with_and_opens_its_file(
    page: Page, live_webchat
):
    # A person sets instructions and max tokens in the panel, then sends an image with them.
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", "Good morning, a numbat question", "small")
    complete(page, 1)
    panel = open_instructions(page)
    panel.get_by_label("Instructions", exact=True).fill(BRIEF)
    panel.get_by_label("Max tokens").fill(str(MAX_TOKENS))
    panel.get_by_role("button", name="Save", exact=True).click()
    expect(panel.locator("[data-said]")).to_contain_text("Saved.")
    close_instructions(page, panel)
    attach(page, "numbat.png", PNG, "image/png")
    expect(chips(page)).to_have_count(1)
    send(page, "What animal is in this numbat picture?")
    reply = complete(page, 2)
    expect(page.locator(".message.user").last.locator(".attachment")).to_have_count(1)
    # The bytes reached the emulator (a Mistral image chunk carries no file name).
    expect(reply).to_contain_text(f"I received 1 file: image (image/png, {len(PNG)} bytes).")
    page.get_by_role("button", name="Sign out").click()

    # An administrator reads that conversation.
    make_superuser(live_webchat)
    page.goto(f"{live_webchat.url}/admin/login/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_webchat.url}/admin/conversations/conversation/")
    page.locator("#searchbar").fill("numbat picture")
    page.locator("#searchbar").press("Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("th a").click()

    transcript = page.locator(".transcript")
    expect(transcript).to_contain_text("What animal is in this numbat picture?")
    # The reply, with what it was asked with.
    answer = transcript.locator("article.turn-assistant").last
    produced = answer.locator("dl.produced-with")
    expect(produced).to_have_count(1)
    expect(produced).to_contain_text("Instructions")
    expect(produced).to_contain_text(BRIEF)
    expect(produced).to_contain_text(f"max tokens {MAX_TOKENS}")
    # The first reply had none of them.
    expect(
        transcript.locator("article.turn-assistant").first.locator("dl.produced-with")
    ).to_have_count(0)

    answer.scroll_into_view_if_needed()
    page.screenshot(path=str(ROOT / "docs" / "admin-transcript-produced-with.png"), caret="initial")

    # The message, with its file, opened through the admin's own (audited) view.
    asked = transcript.locator("article.turn-user").last
    link = asked.locator("ul.files a", has_text="numbat.png")
    expect(link).to_have_count(1)
    href = link.get_attribute("href") or ""
    assert re.fullmatch(r"/admin/conversations/conversation/attachment/\d+/", href), href
    with page.expect_navigation() as navigation:
        link.click()
    served = navigation.value
    assert served is not None and served.status == 200, served
    assert served.headers["content-type"] == "image/png"
    assert served.body() == PNG
    assert page.url == f"{live_webchat.url}{href}"

    page.goto(f"{live_webchat.url}/admin/administration/auditentry/")
    opened = page.locator("#result_list tbody tr", has_text="Opened an attached file")
    expect(opened.first).to_be_visible()
    attachment = href.rstrip("/").rsplit("/", 1)[-1]
    expect(opened.first).to_contain_text(f"Opened attachment #{attachment} of conversation")
    expect(opened.first).to_contain_text("carol")
