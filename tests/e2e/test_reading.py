"""Issue 14, reading: what each message shows around its text (its time, the model, Copy, tool
activity as readable JSON), seen in Chromium at desktop and phone sizes."""

from __future__ import annotations

import datetime
import json

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat, send, sign_in

DOCS = ROOT / "docs"


def test_a_reply_shows_its_time_model_copy_and_tool_json(page: Page, live_webchat):
    sign_in(page, live_webchat)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_webchat.url)
    new_chat(page, "orq:agent:demo", "Find the release notes for billing exports")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)

    # Its time: relative, with the exact date and time on hover, for the question and reply.
    for when in (page.locator(".message.user time.when").last, reply.locator("time.when")):
        expect(when).to_have_text("now")
        assert when.get_attribute("datetime")
        assert str(datetime.date.today().year) in when.get_attribute("title")
    # The model that answered.
    expect(reply.locator(".model")).to_contain_text("agent demo")

    # Tool activity: folded, one line each; unfolded, indented JSON (never a Python dict).
    call, result = reply.locator(".tool.tool_call"), reply.locator(".tool.tool_result")
    expect(call.locator("summary")).to_contain_text("Tool")
    expect(call.locator("pre.json")).to_be_hidden()
    result.locator("summary").click()
    shown = result.locator("pre.json")
    expect(shown).to_be_visible()
    text = shown.inner_text()
    assert "'hits'" not in text and '\n  "hits": ' in text, text
    assert json.loads(text)["top"]["url"].startswith("https://docs.example.org/")
    page.screenshot(path=str(DOCS / "message-details.png"), caret="initial")

    # Copy puts the reply's Markdown on the clipboard: the syntax, not the formatted text.
    copy = reply.get_by_role("button", name="Copy this reply as Markdown")
    copy.click()
    expect(copy).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "**" in copied and "```python" in copied, copied
    assert copied.strip().endswith(reply.locator(".reply-body p").last.inner_text().strip()[-20:])


def test_message_actions_are_large_enough_to_tap_on_a_phone(phone: Page, live_webchat):
    sign_in(phone, live_webchat)
    new_chat(phone, "mistral:model:mistral-small-latest", "A short question for the phone")
    reply = last_reply(phone)
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    buttons = [
        phone.locator(".message.user").last.get_by_role("button", name="Edit this message"),
        reply.get_by_role("button", name="Copy this reply as Markdown"),
        reply.get_by_role("button", name="Regenerate"),
    ]
    for button in buttons:
        box = button.bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, (button, box)
    phone.screenshot(path=str(DOCS / "message-actions-phone.png"))


def regenerate_and_wait(page: Page) -> str:
    """Regenerate the last reply; the new reply's id once it has completed."""
    old = last_reply(page).get_attribute("data-id")
    last_reply(page).get_by_role("button", name="Regenerate").click()
    expect(last_reply(page)).not_to_have_attribute("data-id", old)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    return last_reply(page).get_attribute("data-id")


def test_versions_page_at_the_reply_and_mistral_continues_the_one_shown(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", "Versions: how do tides work?")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    first = last_reply(page).get_attribute("data-id")
    second = regenerate_and_wait(page)

    pager = last_reply(page).get_by_role("group", name="Version 2 of 2")
    expect(pager).to_be_visible()  # pushed on the socket: no reload needed
    expect(pager.get_by_role("button", name="Next version")).to_be_disabled()
    pager.get_by_role("button", name="Previous version").click()
    expect(page.locator(f"#reply-{first}")).to_be_visible()
    expect(page.locator(f"#reply-{second}")).to_have_count(0)
    back = page.locator(f"#reply-{first}").get_by_role("group", name="Version 1 of 2")
    expect(back.get_by_role("button", name="Next version")).to_be_focused()
    page.screenshot(path=str(DOCS / "versions.png"), caret="initial")

    # Mistral continues the version shown; the other one keeps its place.
    send(page, "And the moon?")
    expect(page.locator(".message.user")).to_have_count(2)
    expect(last_reply(page)).not_to_have_attribute("data-id", first)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    expect(page.locator(f"#reply-{first}")).to_be_visible()
    page.reload()
    expect(page.locator(".message.user")).to_have_count(2)
    page.locator(f"#reply-{first}").get_by_role("button", name="Next version").click()
    expect(page.locator(f"#reply-{second}")).to_be_visible()
    expect(page.locator(".message.user")).to_have_count(1)  # without the turn of version 1


def test_on_orq_an_earlier_version_is_read_only(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "orq:model:openai/gpt-4o", "Versions on Orq, please")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    regenerate_and_wait(page)
    last_reply(page).get_by_role("button", name="Previous version").click()
    notice = page.locator("#version-notice")
    expect(notice).to_contain_text("only the latest can be continued")
    expect(page.get_by_label("Message", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Regenerate")).to_have_count(0)
    page.screenshot(path=str(DOCS / "versions-read-only.png"), caret="initial")
    notice.get_by_role("button", name="Show the latest version").click()
    expect(page.locator("#version-notice")).to_have_count(0)
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()
    expect(last_reply(page).get_by_role("group", name="Version 2 of 2")).to_be_visible()
