"""Issue 14, item 12: a person's settings in Chromium: a dark theme, Ctrl+Enter to send, an agent
as the new chat's default, and the team chat in French; on a phone too."""

from __future__ import annotations

import itertools
import re

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_chat import last_reply

DOCS = ROOT / "docs"
DARK_BACKGROUND = "rgb(21, 23, 26)"  # --bg of the dark theme (static/css/webchat.css)
LIGHT_BACKGROUND = "rgb(255, 255, 255)"
AGENT = "mistral:agent:demo"
TAP = 44  # px
APOSTROPHE = "\u2019"  # French typography's, not the ASCII one
_people = itertools.count(1)


def person(live) -> str:
    """A person of their own: settings are per person, and the live server is shared by the
    whole session (a French or Ctrl+Enter erin would surprise every other test)."""
    username = f"settings-{next(_people)}"
    script = (
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({username!r}, password={PASSWORD!r})"
    )
    live.manage("shell", "-c", script)
    return username


def sign_in_as(page: Page, live, username: str) -> None:
    page.goto(f"{live.url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="New chat")).to_be_visible()


def background(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def save(page: Page, said: str = "Settings saved.") -> None:
    page.locator("#settings-save").click()
    expect(page.locator("#settings-status")).to_have_text(said)


def test_a_person_sets_a_dark_theme_ctrl_enter_an_agent_and_french(page: Page, live_webchat):
    page.emulate_media(color_scheme="light")  # the system's is light: dark must come from them
    sign_in_as(page, live_webchat, person(live_webchat))
    assert background(page) == LIGHT_BACKGROUND

    # Settings, from the sidebar's foot.
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    expect(page).to_have_title("Settings · Webchat")
    theme = page.get_by_role("group", name="Theme")
    expect(theme.get_by_role("radio", name="Same as the system")).to_be_checked()
    status = page.locator("#settings-status")
    expect(status).to_have_attribute("aria-live", "polite")

    # Dark, by keyboard: arrows move within the group, and the focus shows.
    theme.get_by_role("radio", name="Same as the system").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    dark = theme.get_by_role("radio", name="Dark")
    expect(dark).to_be_focused()
    expect(dark).to_be_checked()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    save(page)
    # The page is dark at once, and the focus stays on Save.
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert background(page) == DARK_BACKGROUND
    expect(page.locator("#settings-save")).to_be_focused()

    # Ctrl+Enter sends; an agent is the default.
    send_key = page.get_by_role("group", name="Sending a message")
    send_key.get_by_role("radio", name="Ctrl+Enter sends, Enter adds a line").check()
    page.get_by_label("Default model or agent").select_option(AGENT)
    save(page)
    page.screenshot(path=str(DOCS / "settings.png"), caret="initial", full_page=True)

    # Every page is dark now, and the new chat starts with the agent.
    page.get_by_role("link", name="Back to the chat").click()
    expect(page.get_by_role("link", name="New chat")).to_be_visible()
    assert background(page) == DARK_BACKGROUND
    expect(page.get_by_label("Model or agent")).to_have_value(AGENT)

    # Enter adds a line in the new chat's box; Ctrl+Enter sends.
    first = page.locator("#new-text")
    expect(first).to_have_attribute("placeholder", re.compile(r"Ctrl\+Enter sends"))
    first.fill("Settings check:")
    first.press("Enter")
    first.press_sequentially("two lines")
    expect(first).to_have_value("Settings check:\ntwo lines")
    expect(page.locator("#chat")).to_have_count(0)
    first.press("Control+Enter")
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator(".chat-meta").first).to_contain_text("agent demo")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)

    # The same in the chat's box.
    box = page.get_by_label("Message", exact=True)
    expect(box).to_have_attribute(
        "placeholder", re.compile(r"Ctrl\+Enter sends, Enter adds a line")
    )
    box.fill("Line one")
    box.press("Enter")
    box.press_sequentially("line two")
    expect(box).to_have_value("Line one\nline two")
    expect(page.locator(".message.user")).to_have_count(1)
    box.press("Control+Enter")
    expect(page.locator(".message.user")).to_have_count(2)
    expect(page.locator(".message.user").last).to_contain_text("line two")
    expect(box).to_have_value("")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)

    # And when editing a message.
    page.locator(".message.user").last.get_by_role("button", name="Edit this message").click()
    edit = page.get_by_label("Edit message")
    expect(edit).to_be_focused()
    edit.press("Control+End")
    edit.press("Enter")
    edit.press_sequentially("and a third")
    expect(edit).to_have_value("Line one\nline two\nand a third")
    edit.press("Control+Enter")
    expect(edit).to_have_count(0)
    expect(page.locator(".message.user").last).to_contain_text("and a third")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    # The "?" list says so too.
    page.get_by_role("button", name="Keyboard shortcuts").click()
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_contain_text("Send (Enter adds a line)")
    shortcuts.get_by_role("button", name="Close").click()

    # Français: the settings come back in French, then the whole chat.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("group", name="Language").get_by_role("radio", name="Français").check()
    save(page, said="Paramètres enregistrés.")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Paramètres")).to_be_visible()
    expect(page).to_have_title("Paramètres · Webchat")
    page.get_by_role("link", name="Retour à la discussion").click()
    expect(page.get_by_role("link", name="Nouvelle discussion")).to_be_visible()
    expect(page.get_by_role("button", name="Raccourcis clavier")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Aujourd{APOSTROPHE}hui")).to_be_visible()
    page.locator(".conversation-row a").first.click()
    expect(page.locator("#chat")).to_be_visible()
    box = page.get_by_label("Message", exact=True)
    expect(box).to_have_attribute("placeholder", re.compile(r"Ctrl\+Entrée envoie"))
    expect(page.get_by_role("button", name="Envoyer", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Régénérer").last).to_be_visible()
    expect(last_reply(page).locator(".usage")).to_contain_text("jetons")
    # Times in French too (static/js/chat.js reads <html lang>).
    expect(page.locator("time.when").last).to_have_text(re.compile(r"maintenant|il y a"))
    # An empty message is refused in French, and one in French is answered.
    box.fill("   ")
    box.press("Control+Enter")
    expect(page.locator("#composer-error")).to_have_text(f"Écrivez d{APOSTROPHE}abord un message.")
    box.fill("Bonjour")
    box.press("Control+Enter")
    expect(page.locator(".message.user").last).to_contain_text("Bonjour")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    assert background(page) == DARK_BACKGROUND

    # A new chat, in French from its first word.
    page.get_by_role("link", name="Nouvelle discussion").click()
    expect(page.get_by_role("heading", name="De quoi voulez-vous parler")).to_be_visible()
    expect(page.get_by_label("Modèle ou agent")).to_have_value(AGENT)
    first = page.locator("#new-text")
    first.fill(f"Bonjour ! Qu{APOSTROPHE}est-ce qu{APOSTROPHE}un arbre préfixe ?")
    first.press("Control+Enter")
    expect(page.locator("#chat")).to_be_visible()
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(page.locator("#connection")).to_have_text("")
    page.screenshot(path=str(DOCS / "french.png"), caret="initial")


def test_on_a_phone_the_settings_page_fits_and_saves(phone: Page, live_webchat):
    phone.emulate_media(color_scheme="light")
    sign_in_as(phone, live_webchat, person(live_webchat))

    phone.get_by_role("link", name="Settings", exact=True).tap()
    expect(phone.get_by_role("heading", name="Settings")).to_be_visible()
    # Nothing wider than the screen, every choice a thumb's height.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    for name in ("Dark", "Light", "Ctrl+Enter sends, Enter adds a line", "Français"):
        box = phone.get_by_role("radio", name=name).locator("xpath=..").bounding_box()
        assert box and box["height"] >= TAP and box["width"] <= 390, (name, box)
    save_button = phone.get_by_role("button", name="Save settings").bounding_box()
    assert save_button["height"] >= TAP and save_button["width"] >= 300, save_button

    phone.get_by_role("radio", name="Dark").tap()
    phone.get_by_role("button", name="Save settings").tap()
    expect(phone.locator("#settings-status")).to_have_text("Settings saved.")
    expect(phone.locator("html")).to_have_attribute("data-theme", "dark")
    assert background(phone) == DARK_BACKGROUND
    phone.screenshot(path=str(DOCS / "settings-phone.png"), caret="initial", full_page=True)

    # Back on the list (the phone's home), dark too.
    phone.get_by_role("link", name="Back to the chat").tap()
    expect(phone.get_by_role("link", name="New chat")).to_be_visible()
    assert background(phone) == DARK_BACKGROUND
