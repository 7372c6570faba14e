"""Issue 14, item 14: the team chat on a 390 by 844 phone, in Chromium: the list is the home
screen, the chat has a full-width composer and large tap targets, what is out of sight is
inert, and the model picker shows whole names."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, sign_in

DOCS = ROOT / "docs"
TAP = 44  # px, the smallest target a thumb hits reliably


def assert_tappable(locator) -> None:
    box = locator.bounding_box()
    assert box and box["height"] >= TAP and box["width"] >= TAP, (locator, box)


def test_a_phone_opens_on_the_list_and_chats_full_width(phone: Page, live_webchat):
    sign_in(phone, live_webchat)
    sidebar, pane = phone.locator("#sidebar"), phone.locator("#pane")
    # Home: the list fills the screen, and nothing behind it can be reached.
    expect(sidebar).to_be_in_viewport()
    assert sidebar.bounding_box()["width"] >= 380
    expect(pane).to_be_hidden()
    assert_tappable(phone.get_by_role("link", name="New chat"))
    phone.screenshot(path=str(DOCS / "phone-home.png"), caret="initial")

    # A new chat: the picker shows each model or agent whole.
    phone.get_by_role("link", name="New chat").tap()
    picker = phone.get_by_label("Model or agent")
    expect(picker).to_be_visible()
    assert phone.evaluate("document.querySelector('#sidebar').inert")  # the closed list
    overflowing = picker.evaluate(
        """select => {
            const style = getComputedStyle(select);
            const context = document.createElement("canvas").getContext("2d");
            context.font = `${style.fontSize} ${style.fontFamily}`;
            const room = select.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight) - 24;  // the arrow
            return [...select.options].filter((o) => context.measureText(o.text).width > room)
                .map((o) => o.text);
        }"""
    )
    assert overflowing == [], overflowing
    picker.select_option("mistral:model:mistral-small-latest")
    box = phone.locator("#new-text")
    box.fill("Phone check: what is a monad?")
    box.press("Enter")
    reply = last_reply(phone)
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)

    # The chat: the composer spans the screen; every button is a thumb's size.
    composer = phone.locator("#composer").bounding_box()
    assert composer["width"] >= 370, composer
    assert_tappable(phone.get_by_role("button", name="Send"))
    assert_tappable(phone.locator("#chat").get_by_role("button", name="Show conversations"))
    for name in ("Edit this message", "Copy this reply as Markdown", "Regenerate", "Good reply"):
        assert_tappable(phone.get_by_role("button", name=name).last)
    assert_tappable(phone.locator(".export-menu > summary"))
    phone.screenshot(path=str(DOCS / "phone-chat.png"), caret="initial")

    # The list slides over the chat; the chat behind it is inert; Escape closes it.
    phone.locator("#chat").get_by_role("button", name="Show conversations").tap()
    expect(sidebar).to_be_in_viewport()
    assert phone.evaluate("document.getElementById('pane').inert")
    assert not phone.evaluate("document.querySelector('#sidebar').inert")
    phone.keyboard.press("Escape")
    expect(sidebar).not_to_be_in_viewport()
    assert phone.evaluate("document.querySelector('#sidebar').inert")
    expect(phone.locator("#chat").get_by_role("button", name="Show conversations")).to_be_focused()
    # Tab never lands in the closed list.
    for _ in range(12):
        phone.keyboard.press("Tab")
        assert not phone.evaluate("!!document.activeElement.closest('#sidebar')")
