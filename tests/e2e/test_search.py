"""Issue 14, item 6: a person finds words inside their messages and opens the conversation at
the message, in Chromium, at desktop and phone sizes."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat, send, sign_in


def test_search_finds_words_in_messages_and_opens_there(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", "Tell me about marmalade oranges")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    for text in ("And the sugar?", "And the jars?"):
        send(page, text)
        expect(page.locator(".message.user").last).to_contain_text(text)
        expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    new_chat(page, "orq:model:openai/gpt-4o", "Something else entirely")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)

    page.get_by_label("Search conversations and messages").fill("marmalade")
    hits = page.locator(".message-hits")
    hit = hits.get_by_role("link").first
    expect(hit).to_contain_text("marmalade")
    expect(hit.locator("mark").first).to_have_text("marmalade", ignore_case=True)
    page.screenshot(path=str(ROOT / "docs" / "search.png"), caret="initial")

    hit.click()
    found = page.locator(".message.found")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("marmalade")
    expect(found).to_be_in_viewport()
    expect(page.locator("#chat-title")).to_contain_text("marmalade")


def test_search_on_a_phone(phone: Page, live_webchat):
    sign_in(phone, live_webchat)  # the list is the phone's home screen
    new_chat(phone, "mistral:model:mistral-small-latest", "Pocket search: quinoa salad")
    expect(last_reply(phone)).to_have_attribute("data-status", "complete", timeout=20_000)
    phone.get_by_role("button", name="Show conversations").first.click()
    phone.get_by_label("Search conversations and messages").fill("quinoa")
    hit = phone.locator(".message-hits").get_by_role("link").first
    expect(hit).to_contain_text("quinoa")
    phone.screenshot(path=str(ROOT / "docs" / "search-phone.png"), caret="initial")
    hit.click()
    expect(phone.locator(".message.found")).to_be_in_viewport()
