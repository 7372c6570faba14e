"""Files in the browser: attach (button, drop, paste), refused by content, sent to the provider,
shown in the message, and an SVG that cannot run script wherever it appears."""

from __future__ import annotations

import base64

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat, send, sign_in

SCREENSHOT = ROOT / "docs" / "attachments.png"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="document.title=\'pwned\'">'
    b"<script>document.title='pwned'</script><rect width='40' height='40' fill='teal'/></svg>"
)


def attach(page: Page, name: str, data: bytes, mime: str) -> None:
    page.locator("#composer input[data-attach-input]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )


def chips(page: Page):
    return page.locator("#composer [data-attachments] [data-attachment]")


def test_files_attached_by_button_drop_and_paste_go_with_the_message(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "orq:model:openai/gpt-4o", "Hello")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)

    attach(page, "notes.pdf", PDF, "application/pdf")
    expect(chips(page)).to_have_count(1)
    # Dropped on the composer.
    page.evaluate(
        """([bytes]) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes)], "dropped.png", {type: "image/png"}));
          document.querySelector("#composer-text").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        [list(PNG)],
    )
    expect(chips(page)).to_have_count(2)
    # An image pasted into the box.
    page.evaluate(
        """([bytes]) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes)], "pasted.png", {type: "image/png"}));
          document.querySelector("#composer-text").dispatchEvent(
            new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        [list(PNG)],
    )
    expect(chips(page)).to_have_count(3)

    send(page, "What are these files?")
    user = page.locator(".message.user").last
    expect(user.locator(".attachment")).to_have_count(3)
    expect(chips(page)).to_have_count(0)  # the composer is clear for the next message
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    # The emulator says what reached it: each file's name and size in bytes.
    for name, size in (
        ("notes.pdf", len(PDF)),
        ("dropped.png", len(PNG)),
        ("pasted.png", len(PNG)),
    ):
        expect(reply).to_contain_text(name)
        expect(reply).to_contain_text(str(size))
    # The thumbnails load (served to their owner).
    thumbnail = user.locator("img").first
    expect(thumbnail).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", thumbnail.element_handle()) == 1
    page.screenshot(path=str(SCREENSHOT), caret="initial")


def test_a_program_renamed_png_is_refused_and_said(page: Page, live_webchat, browser_console):
    browser_console.allow(r"status of 422")
    sign_in(page, live_webchat)
    new_chat(page, "orq:model:openai/gpt-4o", "Hello again")
    attach(page, "holiday.png", EXE, "image/png")
    expect(page.locator("#composer-error")).to_contain_text("is a program")
    expect(chips(page)).to_have_count(0)


def test_an_svg_runs_no_script_shown_or_opened(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "orq:model:openai/gpt-4o", "A logo")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attach(page, "logo.svg", SVG, "image/svg+xml")
    expect(chips(page)).to_have_count(1)
    send(page, "Here is the logo")
    image = page.locator(".message.user").last.locator("img")
    expect(image).to_be_visible()
    title = page.title()
    assert "pwned" not in title
    # Opened by its address, it is a download, never a page of ours that could run it.
    url = image.get_attribute("src")
    with page.expect_download() as download:
        page.evaluate(
            "(url) => { const a = document.createElement('a'); a.href = url; a.click(); }", url
        )
    assert download.value.suggested_filename == "logo.svg"
    assert "pwned" not in page.title() and not dialogs
