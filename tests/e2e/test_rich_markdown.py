"""Issue 14, item 2, in Debian's Chromium: a person asks for a table, a checklist and some math,
and sees them as a table, disabled checkboxes and MathML typeset by the browser, while the
reply streams and once it is done, on a desktop and on a phone."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat, sign_in

DOCS = ROOT / "docs"
MISTRAL = "mistral:model:mistral-small-latest"


def scroll_to(element, *, above: int) -> None:
    """Scroll the message list (only it, not the page) so `element` starts `above` px below
    its top."""
    element.evaluate(
        """(el, above) => {
            const list = el.closest("#messages");
            list.scrollTop += el.getBoundingClientRect().top - list.getBoundingClientRect().top - above;
        }""",
        above,
    )


def test_a_table_a_checklist_and_math_show_formatted_while_streaming_and_after(
    page: Page, live_webchat
):
    sign_in(page, live_webchat)
    new_chat(
        page,
        MISTRAL,
        "[[emulator tokens_per_second=15]] Show me a table, a checklist and some math",
    )
    reply = last_reply(page)

    # While it streams, the unfinished block shows boxes and formulas, never their syntax.
    seen = {"checkbox": False, "math": False}
    samples = 0
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and reply.get_attribute("data-status") == "streaming":
        open_block = reply.locator(".reply-body .tail")
        visible = open_block.inner_text()
        for syntax in ("[ ]", "[x]", "$$", "$", "**", "~~"):
            assert syntax not in visible, (syntax, visible)
        seen["checkbox"] |= open_block.locator("input[type=checkbox]").count() > 0
        seen["math"] |= open_block.locator("math").count() > 0
        samples += 1
        page.wait_for_timeout(40)
    assert samples > 20, "the reply should stream for a while"
    assert seen == {"checkbox": True, "math": True}, seen
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)

    # A table with header cells and aligned columns (classes: the policy allows no style="").
    table = reply.locator(".table-scroll table")
    expect(table).to_have_count(1)
    expect(table.locator("th")).to_have_count(3)
    expect(table.locator("th.align-center")).to_have_text("Who")
    expect(table.locator("td.align-right").first).to_have_css("text-align", "right")

    # Two disabled checkboxes, one ticked, each named by its item's text.
    boxes = reply.locator("input[type=checkbox][disabled]")
    expect(boxes).to_have_count(2)
    done = reply.get_by_role("checkbox", name=re.compile("current notes on"))
    expect(done).to_be_checked()
    expect(done).to_be_disabled()
    expect(reply.get_by_role("checkbox", name="Try the example")).not_to_be_checked()
    done.click(force=True)  # a box in a reply is a record, not a control
    expect(done).to_be_checked()

    # Struck words, inline math in a sentence and a display formula, typeset by Chromium.
    expect(reply.locator("del")).to_have_count(3)
    inline = reply.locator("p math")
    expect(inline).to_have_count(3)
    display = reply.locator('.math-display math[display="block"]')
    expect(display).to_have_count(1)
    expect(display.locator("mfrac")).to_have_count(1)
    fraction = display.locator("mfrac").bounding_box()
    assert fraction and fraction["height"] > 20, fraction  # stacked: numerator over denominator
    text = reply.locator(".reply-body").inner_text()
    assert "$" not in text and "[x]" not in text and "~~" not in text, text

    scroll_to(table, above=16)
    page.screenshot(path=str(DOCS / "rich-markdown.png"))


def test_on_a_phone_a_wide_table_scrolls_in_its_box_not_the_page(phone: Page, live_webchat):
    sign_in(phone, live_webchat)
    new_chat(
        phone,
        MISTRAL,
        "Supercalifragilisticexpialidocious table with incomprehensibilities and some math",
    )
    reply = last_reply(phone)
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)

    box = reply.locator(".table-scroll")
    expect(box.locator("table")).to_be_visible()
    widths = box.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] > widths[1], f"the table should be wider than the screen: {widths}"
    page_width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page_width[0] <= page_width[1], f"the page itself must not scroll sideways: {page_width}"
    # Keyboard users reach it too: Chromium makes a box that scrolls focusable.
    box.focus()
    expect(box).to_be_focused()
    phone.keyboard.press("ArrowRight")
    phone.wait_for_function("el => el.scrollLeft > 0", arg=box.element_handle())
    formula = reply.locator('math[display="block"]').bounding_box()
    assert formula and formula["x"] >= 0 and formula["x"] + formula["width"] <= 390, formula

    phone.emulate_media(color_scheme="dark")  # the same in the dark theme
    scroll_to(box, above=120)
    phone.screenshot(path=str(DOCS / "rich-markdown-phone.png"))
