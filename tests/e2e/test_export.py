"""Issue 14, item 10: a person downloads their conversations from the chat, in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat, sign_in


def download(page: Page, link) -> str:
    with page.expect_download() as info:
        link.click()
    return Path(info.value.path()).read_text()


def test_a_person_downloads_a_conversation_as_markdown_and_json(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", "Export me: a recipe for bread")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)

    menu = page.locator(".export-menu")
    menu.get_by_text("Export").click()
    expect(menu.get_by_role("link", name="Markdown (.md)")).to_be_visible()
    page.screenshot(path=str(ROOT / "docs" / "export-menu.png"), caret="initial")
    markdown = download(page, menu.get_by_role("link", name="Markdown (.md)"))
    assert "Export me: a recipe for bread" in markdown
    assert last_reply(page).locator(".reply-body p").last.inner_text() in markdown

    if menu.get_attribute("open") is None:
        menu.get_by_text("Export").click()
    document = json.loads(download(page, menu.get_by_role("link", name="JSON (.json)")))
    [conversation] = document["conversations"]
    assert conversation["messages"][0]["text"] == "Export me: a recipe for bread"

    # Everything of theirs, from the sidebar: a zip of Markdown or one JSON file.
    tools = page.locator(".export-all")
    tools.get_by_text("Export all").click()
    with page.expect_download() as info:
        tools.get_by_role("link", name="Markdown (.zip)").click()
    assert info.value.suggested_filename.startswith("my-conversations-")
    assert info.value.suggested_filename.endswith(".zip")
    if tools.get_attribute("open") is None:
        tools.get_by_text("Export all").click()
    everything = json.loads(download(page, tools.get_by_role("link", name="JSON (.json)")))
    titles = [c["messages"][0]["text"] for c in everything["conversations"] if c["messages"]]
    assert "Export me: a recipe for bread" in titles
