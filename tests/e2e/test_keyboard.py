"""Issue 14, item 13: the team chat by keyboard, in Chromium."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat, send, sign_in


def test_a_person_works_the_chat_with_the_keyboard(page: Page, live_webchat):
    sign_in(page, live_webchat)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_webchat.url)
    new_chat(page, "mistral:model:mistral-small-latest", "Keyboard: what is a trie?")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    box = page.get_by_label("Message", exact=True)

    # Copy the last reply (its Markdown) without the mouse.
    box.focus()
    page.keyboard.press("Control+Shift+C")
    expect(last_reply(page).get_by_role("button", name="Copy this reply as Markdown")).to_have_text(
        "Copied"
    )
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "**" in copied and "trie" in copied.lower(), copied

    # Up in the empty box edits the last message; Escape leaves the edit.
    box.focus()
    page.keyboard.press("ArrowUp")
    edit = page.get_by_label("Edit message")
    expect(edit).to_be_focused()
    expect(edit).to_have_value("Keyboard: what is a trie?")
    page.keyboard.press("Escape")
    expect(edit).to_have_count(0)

    # Escape stops a reply being written.
    send(page, "[[emulator tokens_per_second=8]] A slow one, please")
    expect(last_reply(page)).to_have_attribute("data-status", "streaming")
    page.keyboard.press("Escape")
    expect(last_reply(page)).to_have_attribute("data-status", "stopped", timeout=10_000)

    # Search, then a new chat.
    page.keyboard.press("Control+K")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.press("Control+Shift+O")
    expect(page.get_by_role("heading", name="What shall we talk about?")).to_be_visible()
    expect(page.locator("#new-text")).to_be_focused()

    # "?" lists the shortcuts (not while typing); so does the sidebar's button.
    page.keyboard.press("?")
    expect(page.locator("#new-text")).to_have_value("?")
    page.locator("#new-text").fill("")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Shift+?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    page.screenshot(path=str(ROOT / "docs" / "keyboard-shortcuts.png"), caret="initial")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
