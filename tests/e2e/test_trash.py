"""Issue 14, delete with undo: a person deletes a conversation from the sidebar and it goes to
Trash at once, with an Undo toast; Trash lists it, restores it, or deletes it for good (after a
question), at the provider too. Seen in Chromium at desktop and phone sizes."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat
from tests.e2e.test_sidebar import PASSWORD, act, row, sign_in_as

DOCS = ROOT / "docs"
MODEL = "mistral:model:mistral-small-latest"


def person(live, username: str) -> None:
    """A person of their own: the live server is shared by the whole session."""
    live.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({username!r}, password={PASSWORD!r})",
    )


def chat(page: Page, text: str) -> None:
    """A new chat with its first message, its reply finished and its title in the sidebar."""
    new_chat(page, MODEL, text)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    expect(page.locator(".conversation-row.active .title")).to_have_text(text)


def tombstones(live, title_owner: str) -> str:
    """Why each of the person's deleted conversations went (the tombstones' reasons)."""
    return live.manage(
        "shell",
        "-c",
        "from administration.models import Tombstone; "
        f"print(sorted(Tombstone.objects.filter(owner_name={title_owner!r})"
        ".values_list('reason', flat=True)))",
    ).splitlines()[-1]


def trash_link(page: Page):
    return page.get_by_role("link", name="Trash", exact=True)


def trash_rows(page: Page):
    return page.locator("#trash-list .conversation-row .title")


def test_a_person_deletes_undoes_restores_and_deletes_for_good(page: Page, live_webchat):
    person(live_webchat, "tia")
    sign_in_as(page, live_webchat, "tia")
    chat(page, "Plan a trip to Porto")
    chat(page, "Write a grocery list")
    toast = page.locator("#toast")

    # Delete from the sidebar: no question, the row goes, and the toast offers Undo.
    act(page, "Plan a trip to Porto", "Delete")
    expect(row(page, "Plan a trip to Porto")).to_have_count(0)
    expect(toast).to_contain_text("Moved to Trash.")
    expect(toast).to_have_attribute("role", "status")
    undo = toast.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    page.screenshot(path=str(DOCS / "trash-undo.png"), caret="initial")
    undo.click()
    expect(row(page, "Plan a trip to Porto")).to_be_visible()
    expect(toast).to_contain_text("“Plan a trip to Porto” is back.")
    # The focus is on the row that came back (on its first action), not lost.
    expect(page.get_by_role("button", name="Pin Plan a trip to Porto")).to_be_focused()
    # The page settles the focus a moment after each swap (static/js/sidebar.js): a person's
    # next key comes later than that, and so does this test's.
    page.wait_for_timeout(150)

    # With the keyboard: the focus goes to the neighbouring row, and the toast goes by itself.
    row(page, "Plan a trip to Porto").get_by_role(
        "button", name="Delete Plan a trip to Porto"
    ).focus()
    page.keyboard.press("Enter")
    expect(row(page, "Plan a trip to Porto")).to_have_count(0)
    expect(page.locator("#conversation-list .conversation-row a:focus")).to_have_text(
        re.compile("Write a grocery list")
    )
    expect(toast).to_contain_text("Moved to Trash.")
    page.mouse.move(900, 100)  # it stays while pointed at (the mouse was on Undo)
    expect(toast).to_be_empty(timeout=15_000)

    # Trash lists it, with the day it goes for good; Restore puts it back in the list.
    trash_link(page).click()
    expect(page.get_by_role("heading", name="Trash", exact=True)).to_be_focused()
    expect(trash_rows(page)).to_have_text(["Plan a trip to Porto"])
    expect(page.locator("#trash-list .conversation-row .meta")).to_contain_text(
        "Deleted for good on"
    )
    page.screenshot(path=str(DOCS / "trash.png"), caret="initial")
    act(page, "Plan a trip to Porto", "Restore")
    expect(trash_rows(page)).to_have_count(0)
    expect(page.locator("#trash-list")).to_contain_text("Trash is empty.")
    expect(page.locator("#announcer")).to_contain_text("is out of Trash")
    page.get_by_role("button", name="Back to the list").click()
    expect(trash_link(page)).to_be_focused()
    expect(row(page, "Plan a trip to Porto")).to_be_visible()

    # Delete forever asks first (Escape says no), then deletes it, at the provider too.
    act(page, "Plan a trip to Porto", "Delete")
    trash_link(page).click()
    expect(trash_rows(page)).to_have_text(["Plan a trip to Porto"])
    in_trash = row(page, "Plan a trip to Porto")
    in_trash.hover()
    in_trash.get_by_role("button", name="Delete Plan a trip to Porto forever").click()
    question = page.locator("#trash-list .trash-confirm")
    expect(question).to_contain_text("Delete “Plan a trip to Porto” forever?")
    expect(question.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(question).to_have_count(0)
    expect(page.get_by_role("button", name="Delete Plan a trip to Porto forever")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator("#trash-list .trash-confirm").get_by_role("button", name="Delete forever").click()
    expect(trash_rows(page)).to_have_count(0)
    expect(page.locator("#trash-list")).to_contain_text("Trash is empty.")
    expect(page.locator("#announcer")).to_contain_text("is deleted for good")
    assert tombstones(live_webchat, "tia") == "['user']"


def test_the_open_conversation_goes_to_trash_and_comes_back_with_ctrl_z(page: Page, live_webchat):
    person(live_webchat, "ugo")
    sign_in_as(page, live_webchat, "ugo")
    chat(page, "Notes on the garden")
    address = page.url

    act(page, "Notes on the garden", "Delete")
    expect(page.get_by_role("heading", name="Conversation deleted")).to_be_visible()
    expect(page.locator("#pane")).to_contain_text("It is in Trash for 30 days")
    expect(page).not_to_have_url(address)
    # Ctrl+Z, away from any text field, is the toast's Undo: the chat opens again.
    page.locator("#pane h1").click()  # the focus away from the search box, where Ctrl+Z edits
    page.keyboard.press("Control+z")
    expect(page).to_have_url(address)
    expect(page.locator("#chat-title")).to_have_text("Notes on the garden")
    expect(row(page, "Notes on the garden")).to_have_class(re.compile(r"\bactive\b"))
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()

    # Opened by its address while in Trash: read only, with Restore and Delete forever.
    act(page, "Notes on the garden", "Delete")
    expect(page.get_by_role("heading", name="Conversation deleted")).to_be_visible()
    page.goto(address)
    notice = page.locator(".trash-notice")
    expect(notice).to_contain_text(re.compile(r"In Trash \(deleted forever on \d{1,2} \w+ \d{4}\)"))
    expect(page.get_by_label("Message", exact=True)).to_be_disabled()
    expect(page.locator("[data-regenerate]")).to_have_count(0)
    notice.get_by_role("button", name="Restore").click()
    expect(page.locator(".trash-notice")).to_have_count(0)
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()
    expect(row(page, "Notes on the garden")).to_be_visible()

    # Empty trash asks first, then deletes everything in it.
    chat(page, "Recipe for soup")
    for title in ("Notes on the garden", "Recipe for soup"):
        act(page, title, "Delete")
        expect(row(page, title)).to_have_count(0)
    trash_link(page).click()
    expect(trash_rows(page)).to_have_text(["Recipe for soup", "Notes on the garden"])
    page.get_by_role("button", name="Empty trash…").click()
    expect(page.locator("#empty-trash")).to_contain_text("Delete everything in Trash forever?")
    page.get_by_role("button", name="Delete all forever").click()
    expect(page.locator("#trash-list")).to_contain_text("Trash is empty.")
    expect(page.get_by_role("heading", name="Trash", exact=True)).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text("2 conversation(s) deleted for good")
    assert tombstones(live_webchat, "ugo") == "['user', 'user']"


def test_on_a_phone_delete_undo_and_restore_from_trash(phone: Page, live_webchat):
    person(live_webchat, "vic")
    sign_in_as(phone, live_webchat, "vic")
    new_chat(phone, MODEL, "Ideas for a birthday")
    expect(last_reply(phone)).to_have_attribute("data-status", "complete", timeout=20_000)

    phone.get_by_role("button", name="Show conversations").first.tap()
    sidebar = phone.locator("#sidebar")
    expect(sidebar).to_be_in_viewport()
    expect(row(phone, "Ideas for a birthday")).to_be_visible()
    delete = row(phone, "Ideas for a birthday").get_by_role(
        "button", name="Delete Ideas for a birthday"
    )
    delete.tap()
    expect(row(phone, "Ideas for a birthday")).to_have_count(0)
    toast = phone.locator("#toast")
    expect(toast).to_contain_text("Moved to Trash.")
    expect(toast).to_be_in_viewport()
    undo = toast.get_by_role("button", name="Undo")
    box = undo.bounding_box()
    assert box and box["height"] >= 44, box  # large enough to tap
    undo.tap()
    # The open one was deleted, so the pane said so; Undo opens it again.
    expect(phone.locator("#chat-title")).to_have_text("Ideas for a birthday")

    phone.get_by_role("button", name="Show conversations").first.tap()
    row(phone, "Ideas for a birthday").get_by_role(
        "button", name="Delete Ideas for a birthday"
    ).tap()
    expect(phone.get_by_role("heading", name="Conversation deleted")).to_have_count(1)
    expect(sidebar).to_be_in_viewport()  # the list stays open for the next action
    trash_link(phone).tap()
    expect(trash_rows(phone)).to_have_text(["Ideas for a birthday"])
    phone.screenshot(path=str(DOCS / "trash-phone.png"), caret="initial")
    phone.get_by_role("button", name="Restore Ideas for a birthday").tap()
    expect(trash_rows(phone)).to_have_count(0)
    phone.get_by_role("button", name="Back to the list").tap()
    expect(row(phone, "Ideas for a birthday")).to_be_visible()
