"""An administrator in headless Chromium: find a conversation by a word inside one of its
messages, read the transcript, export it, delete it, and see all of it in the audit trail."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat, send, sign_in

SCREENSHOTS = ROOT / "docs"
ADMIN_PASSWORD = "carol-admin-password-1"


def make_superuser(live) -> None:
    live.manage(
        "shell", "-c",
        "from django.contrib.auth.models import User; "
        "User.objects.filter(username='carol').exists() or "
        f"User.objects.create_superuser('carol', 'carol@example.com', {ADMIN_PASSWORD!r})",
    )  # fmt: skip


def test_an_administrator_finds_reads_exports_and_deletes_a_conversation(page: Page, live_webchat):
    # A person chats first: the word "quokka" is only inside their second message.
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", "Hello there, a question about our ledger")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    send(page, "What does the quokka column in the ledger mean? Give an example with code.")
    expect(page.locator(".reply")).to_have_count(2)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    page.get_by_role("button", name="Sign out").click()

    make_superuser(live_webchat)
    page.goto(f"{live_webchat.url}/admin/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(
        page.get_by_role("heading", name="Conversations, usage and the audit trail")
    ).to_be_visible()

    page.goto(f"{live_webchat.url}/admin/conversations/conversation/")
    page.locator("#searchbar").fill("quokka")
    page.locator("#searchbar").press("Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).not_to_contain_text("quokka")  # the title is from the first message

    rows.first.locator("th a").click()
    transcript = page.locator(".transcript")
    expect(transcript).to_contain_text("quokka column")
    expect(transcript.locator(".code-block").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "admin-transcript.png"), full_page=True)
    page.go_back()

    rows.first.locator("input[type=checkbox]").check()
    page.locator("select[name=action]").select_option("export_json")
    with page.expect_download() as download:
        page.get_by_role("button", name="Go").click()
    exported = json.loads(open(download.value.path()).read())
    [conversation] = exported["conversations"]
    assert any("quokka" in m["text"] for m in conversation["messages"])

    rows.first.locator("input[type=checkbox]").check()
    page.locator("select[name=action]").select_option("delete_selected")
    page.get_by_role("button", name="Go").click()
    page.get_by_role("button", name=re.compile("Yes, I.m sure")).click()
    expect(page.locator(".messagelist")).to_contain_text("deleted; upstream deleted")
    page.locator("#searchbar").fill("quokka")
    page.locator("#searchbar").press("Enter")
    expect(page.locator("#result_list")).to_have_count(0)

    page.goto(f"{live_webchat.url}/admin/administration/auditentry/")
    trail = page.locator("#result_list")
    expect(trail).to_contain_text("Read the transcript")
    expect(trail).to_contain_text("Exported 1 conversation(s) as json")
    expect(trail).to_contain_text("Deleted")

    page.goto(f"{live_webchat.url}/admin/conversations/dailyusage/?group=model")
    expect(page.locator(".usage-chart")).to_be_visible()
    expect(page.locator(".usage-table")).to_contain_text("mistral-small-latest")
    page.screenshot(path=str(SCREENSHOTS / "admin-usage.png"), full_page=True)
