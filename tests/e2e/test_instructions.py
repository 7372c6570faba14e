"""Issue 15, instructions, parameters and presets, in Chromium: the chat's Instructions panel
sends Mistral instructions and max tokens (a reply cut at its length limit is continued in
place), shows what Orq does not take and changes its model per turn, and a preset saved from a
chat fills a new chat's fields."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from emulator.assistant import instructions_sentence
from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, send, sign_in

DOCS = ROOT / "docs"
PIRATE = "Answer like a pirate."
# What the emulator says first when a turn reached it with instructions (emulator/assistant.py).
FOLLOWING = instructions_sentence(PIRATE)


def fields_loaded(response) -> bool:
    return response.request.method == "GET" and "/conversations/new/fields" in response.url


def open_new_chat(page: Page):
    """New chat, once its form is the one swapped in (its fields come with it); returns the
    picker."""
    page.evaluate("document.querySelector('#new-choice')?.setAttribute('data-replaced', '')")
    page.get_by_role("link", name="New chat").click()
    picker = page.locator("#new-choice:not([data-replaced])")
    expect(picker).to_be_visible()
    return picker


def pick(page: Page, picker, value: str) -> None:
    """Pick `value` and wait for the fields it loads."""

    def its_fields(response) -> bool:
        asked = parse_qs(urlsplit(response.url).query).get("choice")
        return fields_loaded(response) and asked == [value]

    with page.expect_response(its_fields):
        picker.select_option(value)


def new_chat(page: Page, choice: str, text: str, label: str) -> None:
    """A new chat with `choice` (its chat head says `label`), made with its first message."""
    pick(page, open_new_chat(page), choice)
    first_message(page, text)
    expect(page.locator("#chat-meta")).to_contain_text(label)


def first_message(page: Page, text: str) -> None:
    first = page.locator("#new-text")
    first.fill(text)
    first.press("Enter")
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator(".message.user").last).to_contain_text(text)
    expect(page.locator("#connection")).to_have_text("")


def open_instructions(page: Page):
    """The Instructions menu in the chat's head opens its panel; returns the panel."""
    # A <summary>: Chromium gives it no button role, and its name is the panel's heading too.
    # Each opening loads the panel afresh (htmx): wait for it, not for the one shown before.
    with page.expect_response(
        lambda r: r.request.method == "GET" and r.url.endswith("/instructions")
    ):
        page.locator("details.instructions-menu > summary").click()
    panel = page.locator("#instructions-panel")
    expect(panel.get_by_role("heading", name="Instructions and parameters")).to_be_visible()
    return panel


def close_instructions(page: Page, panel) -> None:
    panel.get_by_role("button", name="Save", exact=True).focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def complete(page: Page, count: int):
    """The conversation's `count`th reply (by its id: it stays that reply), once complete."""
    expect(page.locator(".reply")).to_have_count(count, timeout=20_000)
    reply = page.locator(f"#{last_reply(page).get_attribute('id')}")
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    return reply


def body_of(reply) -> str:
    return reply.locator(".reply-body").inner_text().strip()


def test_mistral_instructions_and_max_tokens_reach_the_wire_and_a_cut_reply_continues(
    page: Page, live_webchat
):
    sign_in(page, live_webchat)
    page.set_viewport_size({"width": 1280, "height": 800})
    # A first turn without instructions: the upstream conversation starts without them.
    new_chat(page, "mistral:model:mistral-small-latest", "How do tides work?", "mistral-small")
    first = complete(page, 1)
    assert not body_of(first).startswith("Following your instructions")

    panel = open_instructions(page)
    # A Mistral model takes all but variables, and says when each applies.
    expect(panel).to_contain_text("Mistral fixes instructions when a conversation starts")
    expect(panel.get_by_label("Variables")).to_be_disabled()
    expect(panel.get_by_label("Model", exact=True)).to_have_value("mistral-small-latest")
    panel.get_by_label("Instructions", exact=True).fill(PIRATE)
    panel.get_by_label("Max tokens").fill("7")
    panel.get_by_role("button", name="Save", exact=True).click()
    said = panel.locator("[data-said]")
    expect(said).to_contain_text("Saved. Mistral fixes a conversation's instructions")
    expect(said).to_contain_text("your next message starts a new Mistral conversation")
    # Saved: the panel shows what was kept.
    expect(panel.get_by_label("Instructions", exact=True)).to_have_value(PIRATE)
    expect(panel.get_by_label("Max tokens")).to_have_value("7")
    page.locator("#instructions-popover").evaluate("popover => popover.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / "instructions-panel.png"), caret="initial")
    close_instructions(page, panel)

    # The next turn starts a new upstream conversation with the instructions, and says so; the
    # emulator echoes them first, and cuts the reply at 7 completion tokens (5 of reasoning
    # and the first 2 of the echo).
    send(page, "And why are there two a day?")
    reply = complete(page, 2)
    reply_id = reply.get_attribute("id")
    notice = reply.locator(".tool.notice")
    expect(notice).to_contain_text("A new Mistral conversation began with this reply")
    expect(notice).to_contain_text("Mistral fixes a conversation's instructions when it starts")
    cut = body_of(reply)
    assert cut and FOLLOWING.startswith(cut), (cut, FOLLOWING)
    expect(reply.locator(".badge")).to_have_text("Stopped at its length limit")
    expect(reply.locator(".usage")).to_contain_text(re.compile(r"\b7 out"))
    reply.get_by_role("button", name="Continue", exact=True).click()

    # The same reply goes on (same element), 7 more tokens, and stops at the limit again.
    same = page.locator(f"#{reply_id}")
    expect(page.locator(".reply")).to_have_count(2)
    expect(same.locator(".usage")).to_contain_text(re.compile(r"\b14 out"), timeout=20_000)
    expect(same).to_have_attribute("data-status", "complete", timeout=20_000)
    assert last_reply(page).get_attribute("id") == reply_id
    longer = body_of(same)
    assert longer.startswith(cut) and len(longer) > len(cut), (cut, longer)
    expect(same.locator(".badge")).to_have_text("Stopped at its length limit")
    expect(same.get_by_role("button", name="Continue", exact=True)).to_be_visible()
    expect(same.locator(".tool.notice")).to_contain_text("A new Mistral conversation began")
    page.screenshot(path=str(DOCS / "continued-reply.png"), caret="initial")

    # Without a max tokens the next turn is whole, and opens with the instructions' echo; a
    # parameter is sent with each turn, so no new conversation is needed for it.
    panel = open_instructions(page)
    panel.get_by_label("Max tokens").fill("")
    panel.get_by_role("button", name="Save", exact=True).click()
    expect(panel.locator("[data-said]")).to_have_text("Saved. They apply from your next message.")
    close_instructions(page, panel)
    send(page, "Tell me about the moon.")
    whole = complete(page, 3)
    assert body_of(whole).startswith(FOLLOWING), body_of(whole)
    expect(whole.locator(".badge")).to_have_count(0)
    expect(whole.locator(".tool.notice")).to_have_count(0)


def test_orq_takes_only_the_model_and_changes_it_per_turn(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "orq:model:openai/gpt-4o", "Which fruit keeps longest?", "openai/gpt-4o")
    first = complete(page, 1)
    expect(first.locator(".model")).to_have_text("openai/gpt-4o")

    panel = open_instructions(page)
    expect(panel.locator("#settings-why-not")).to_contain_text(
        "Orq conversations take no instructions or parameters"
    )
    for name in ("Instructions", "Temperature", "Top-p", "Max tokens", "Variables"):
        expect(panel.get_by_label(name, exact=True)).to_be_disabled()
    model = panel.get_by_label("Model", exact=True)
    expect(model).to_be_enabled()
    expect(model).to_have_value("openai/gpt-4o")
    expect(panel).to_contain_text("Orq takes the model with each turn")
    model.select_option("openai/gpt-4o-mini")
    panel.get_by_role("button", name="Save", exact=True).click()
    expect(panel.locator("[data-said]")).to_have_text("Saved. They apply from your next message.")
    expect(page.locator("#chat-meta")).to_contain_text("openai/gpt-4o-mini")
    expect(panel.get_by_label("Model", exact=True)).to_have_value("openai/gpt-4o-mini")
    close_instructions(page, panel)

    send(page, "And which spoils first?")
    reply = complete(page, 2)
    expect(reply.locator(".model")).to_have_text("openai/gpt-4o-mini")
    expect(first.locator(".model")).to_have_text("openai/gpt-4o")  # the earlier one as it was
    expect(reply.locator(".tool.notice")).to_have_count(0)  # Orq changes it in place


def test_a_preset_saved_from_a_chat_fills_a_new_chat(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(
        page, "mistral:model:mistral-medium-latest", "Where do parrots live?", "mistral-medium"
    )
    complete(page, 1)
    panel = open_instructions(page)
    panel.get_by_label("Instructions", exact=True).fill(PIRATE)
    panel.get_by_label("Temperature").fill("0.3")
    panel.get_by_role("button", name="Save", exact=True).click()
    expect(panel.locator("[data-said]")).to_contain_text("Saved.")
    panel.get_by_label("Save as a preset").fill("Pirate")
    panel.get_by_role("button", name="Save preset").click()
    expect(panel.locator("[data-said]")).to_contain_text("Saved as the preset “Pirate”")
    close_instructions(page, panel)

    # A new chat: the preset is first in the picker, in its own group.
    picker = open_new_chat(page)
    expect(picker).to_have_accessible_name("Model or agent")
    option = picker.locator("optgroup[label='Presets'] option", has_text="Pirate")
    expect(option).to_have_count(1)
    value = option.get_attribute("value")
    assert re.fullmatch(r"preset:\d+", value or ""), value
    assert picker.locator("option").first.get_attribute("value") == value
    pick(page, picker, value)
    page.locator("details.new-settings > summary").click()
    fields = page.locator("#new-fields")
    expect(fields).to_contain_text("From the preset “Pirate”")
    expect(fields.get_by_label("Instructions", exact=True)).to_have_value(PIRATE)
    expect(fields.get_by_label("Temperature")).to_have_value("0.3")

    first_message(page, "What do parrots eat?")
    expect(page.locator("#chat-meta")).to_contain_text("mistral-medium-latest")
    reply = complete(page, 1)
    assert body_of(reply).startswith(FOLLOWING), body_of(reply)

    # The new conversation keeps what the preset gave it.
    panel = open_instructions(page)
    expect(panel.get_by_label("Instructions", exact=True)).to_have_value(PIRATE)
    expect(panel.get_by_label("Temperature")).to_have_value("0.3")
