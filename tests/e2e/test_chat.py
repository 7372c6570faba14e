"""A person's session in headless Chromium: sign in, chat with both providers, stop, reload,
rename, delete, and see that HTML typed into the chat stays text."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from emulator.process import ROOT

SCREENSHOT = ROOT / "docs" / "screenshot.png"


def sign_in(page: Page, live) -> None:
    page.goto(f"{live.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(live.username)
    page.get_by_label("Password").fill(live.password)
    page.get_by_role("button", name="Sign in").click()
    # Signed in: the list (a phone's home screen; beside the new chat on a wider one).
    expect(page.get_by_role("link", name="New chat")).to_be_visible()
    # And the page's scripts have run: a click before htmx has bound the links navigates
    # instead of swapping (no htmx request, for which new_chat waits).
    page.wait_for_load_state("load")


def new_chat(page: Page, choice: str, text: str) -> None:
    """New chat, then the first message: the conversation is made with it."""
    before = page.url
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        page.get_by_role("link", name="New chat").click()
    page.wait_for_load_state()  # the new chat's form is swapped in
    page.get_by_label("Model or agent").select_option(choice)
    first = page.locator("#new-text")
    first.fill(text)
    first.press("Enter")
    expect(page).not_to_have_url(before)
    expect(page.locator("#chat")).to_be_visible()
    expect(page.locator(".message.user").last).to_contain_text(text.split("]]")[-1].strip())
    expect(page.locator("#connection")).to_have_text("")


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def last_reply(page: Page):
    return page.locator(".reply").last


def watch_growth(page: Page, *, observations: int = 3, timeout: float = 20) -> list[int]:
    """Lengths of the last reply's text, each longer than the one before, while it streams."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while len(seen) < observations and time.monotonic() < deadline:
        reply = last_reply(page)
        if reply.get_attribute("data-status") != "streaming" and seen:
            break
        length = len(reply.locator(".reply-body").inner_text())
        if length and (not seen or length > seen[-1]):
            seen.append(length)
        page.wait_for_timeout(60)
    return seen


def test_a_person_chats_with_both_providers(page: Page, live_webchat):
    sign_in(page, live_webchat)

    for choice, label in (
        ("orq:model:openai/gpt-4o", "openai/gpt-4o"),
        ("mistral:model:mistral-small-latest", "mistral-small-latest"),
    ):
        new_chat(page, choice, "How do cursors paginate?")
        expect(page.locator(".chat-meta")).to_contain_text(label)
        expect(page.locator(".message.user").last).to_contain_text("How do cursors paginate?")
        growth = watch_growth(page)
        assert len(growth) >= 3, f"the reply should grow while it streams; saw {growth}"
        expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
        expect(last_reply(page).locator(".usage")).to_contain_text("tokens")
        expect(last_reply(page).locator(".reasoning summary")).to_have_text("Reasoning")
        expect(last_reply(page).locator(".code-block .copy")).to_have_text("Copy")
        # The title arrives after the first exchange, live in the sidebar.
        expect(page.locator(".conversation-row.active .title")).not_to_have_text("New conversation")
        assert page.url.endswith(
            f"/conversations/{page.locator('#chat').get_attribute('data-conversation')}/"
        )

    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SCREENSHOT))


def test_stop_keeps_the_partial_reply(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(
        page,
        "mistral:model:mistral-medium-latest",
        "[[emulator tokens_per_second=15 tokens=300]] Write a long essay",
    )
    watch_growth(page, observations=2)
    page.keyboard.press("Escape")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "stopped")
    expect(reply.locator(".badge")).to_have_text("Stopped")
    assert len(reply.locator(".reply-body").inner_text()) > 0
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()


def test_reload_mid_reply_shows_the_text_so_far_and_finishes(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(
        page,
        "orq:model:openai/gpt-4o-mini",
        "[[emulator tokens_per_second=20 tokens=90]] Explain leases",
    )
    before = watch_growth(page, observations=3)[-1]
    page.reload()
    reply = last_reply(page)
    expect(reply).to_be_visible()
    assert len(reply.locator(".reply-body").inner_text()) >= before * 0.8
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    body = reply.locator(".reply-body").inner_text()
    assert "Explain" in body or len(body) > before


def test_rename_and_delete_from_the_sidebar(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", "Plans for the next quarter")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    row = page.locator(".conversation-row.active")
    row.get_by_role("button", name=re.compile("^Rename")).click()
    field = page.get_by_label("New title")
    field.fill("Quarterly planning")
    field.press("Enter")
    expect(page.locator(".conversation-row.active .title")).to_have_text("Quarterly planning")

    # Escape cancels a rename.
    page.locator(".conversation-row.active").get_by_role(
        "button", name=re.compile("^Rename")
    ).click()
    page.get_by_label("New title").fill("Not this")
    page.get_by_label("New title").press("Escape")
    expect(page.locator(".conversation-row.active .title")).to_have_text("Quarterly planning")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".conversation-row.active").get_by_role(
        "button", name=re.compile("^Delete")
    ).click()
    expect(page.get_by_text("Quarterly planning")).to_have_count(0)
    expect(page.get_by_role("heading", name="Conversation deleted")).to_be_visible()


def test_html_in_a_message_is_shown_as_text(page: Page, live_webchat):
    sign_in(page, live_webchat)
    nasty = '<script>window.pwned = 1</script> <img src=x onerror="window.pwned = 2"> hello'
    new_chat(page, "mistral:model:mistral-small-latest", nasty)
    bubble = page.locator(".message.user .user-text").last
    expect(bubble).to_contain_text("<script>window.pwned = 1</script>")
    expect(bubble).to_contain_text('<img src=x onerror="window.pwned = 2">')
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    assert page.evaluate("window.pwned") is None
    assert page.locator(".messages img").count() == 0
    assert Path(SCREENSHOT).parent.exists()


def test_a_narrow_dark_screen_collapses_the_sidebar(browser, live_webchat):
    context = browser.new_context(viewport={"width": 375, "height": 740}, color_scheme="dark")
    page = context.new_page()
    try:
        sign_in(page, live_webchat)
        sidebar = page.locator("#sidebar")
        expect(sidebar).to_be_in_viewport()  # the list is the phone's home screen
        new_chat(page, "mistral:model:mistral-small-latest", "Dark mode check")
        expect(sidebar).not_to_be_in_viewport()  # a new chat hides it again
        expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(21, 23, 26)"
        page.screenshot(path=str(SCREENSHOT.with_name("screenshot-phone-dark.png")))
    finally:
        context.close()


def test_the_url_follows_the_open_conversation_and_back_works(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", "First topic")
    first_url = page.url
    expect(page.locator("#chat-title")).to_have_text(re.compile("First topic"), timeout=20_000)
    new_chat(page, "orq:model:openai/gpt-4o", "Second topic")
    expect(page).not_to_have_url(first_url)
    expect(page.locator(".conversation-row.active .title")).not_to_have_text(
        re.compile("First topic")
    )
    page.go_back()  # to the new chat it was made from
    expect(page.get_by_role("heading", name="What shall we talk about?")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(first_url)
    expect(page.locator("#chat-title")).to_have_text(re.compile("First topic"))
    expect(page.locator(".conversation-row.active .title")).to_have_text(re.compile("First topic"))
    expect(page.locator("#connection")).to_have_text("")


def test_a_conversation_deleted_upstream_continues_in_a_new_one(page: Page, live_webchat):
    sign_in(page, live_webchat)
    new_chat(page, "mistral:model:mistral-small-latest", "What is a lease?")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    old_url = page.url
    pk = page.locator("#chat").get_attribute("data-conversation")
    lookup = f"from conversations.models import Conversation as C; print(C.objects.get(pk={pk}).upstream_id)"
    # The last line: `shell` may first say what it imported.
    upstream_id = live_webchat.manage("shell", "-c", lookup).split()[-1]
    # Behind Webchat's back: the provider deletes the conversation.
    gone = httpx.delete(
        f"{live_webchat.env['MISTRAL_BASE_URL']}/v1/conversations/{upstream_id}",
        headers={"Authorization": "Bearer e2e"},
    )
    assert gone.status_code == 204

    send(page, "And when it runs out?")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "failed", timeout=20_000)
    expect(reply.locator(".reply-error")).to_contain_text("Mistral no longer has this conversation")
    expect(reply.get_by_role("button", name="Retry")).to_have_count(0)
    reply.get_by_role("button", name="Continue in a new conversation").click()

    # A new chat with the same model, made with its first message.
    expect(page.get_by_role("heading", name=re.compile("^Continue"))).to_be_visible()
    expect(page.locator(".continued-from")).to_contain_text("given the earlier turns")
    first = page.locator("#new-text")
    first.fill("Tell me more")
    first.press("Enter")
    expect(page).not_to_have_url(re.compile(r"/continue$"))
    expect(page).not_to_have_url(old_url)
    expect(page.locator(".continued-from a")).to_have_attribute("href", f"/conversations/{pk}/")
    expect(page.locator("#connection")).to_have_text("")
    expect(page.locator(".message.user").last).to_contain_text("Tell me more")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)

    page.locator(".continued-from a").click()
    expect(page).to_have_url(old_url)
    expect(page.locator("#gone-notice")).to_contain_text("Mistral no longer has this conversation")
    expect(page.get_by_role("button", name="Send")).to_have_count(0)


def one_exchange(page: Page, live, text: str = "Hello") -> None:
    """Signed in, in a new Mistral conversation whose first reply is complete."""
    sign_in(page, live)
    new_chat(page, "mistral:model:mistral-small-latest", text)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
    expect(page.locator("#connection")).to_have_text("")


def test_an_oversized_message_is_refused_in_words_and_kept(page: Page, live_webchat):
    one_exchange(page, live_webchat)
    sent = page.locator(".message.user")
    expect(sent).to_have_count(1)
    box = page.get_by_label("Message", exact=True)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_webchat.url)
    page.evaluate("text => navigator.clipboard.writeText(text)", "x" * 32_001)
    box.focus()
    page.keyboard.press("ControlOrMeta+V")  # a paste: a maxlength would cut it silently
    box.press("Enter")
    expect(page.locator("#composer-error")).to_have_text(
        "That message is 32,001 characters; the limit is 32,000."
    )
    assert len(box.input_value()) == 32_001, "the text stays in the box"
    page.wait_for_timeout(500)
    expect(sent).to_have_count(1)


def test_a_message_too_large_for_the_server_is_explained_and_kept(page: Page, live_webchat):
    # A page given a larger limit than the server's (rendered before the operator lowered it):
    # the server closes the socket with 1009, and the page says what happened in words.
    def larger_limit(route):
        response = route.fetch()
        body = response.text().replace('data-max-chars="32000"', 'data-max-chars="1000000"')
        route.fulfill(response=response, body=body)

    one_exchange(page, live_webchat)
    conversation = page.url
    # The page itself is the server's (a fulfilled document may not open local sockets); the
    # conversation comes into it by htmx, as when it is picked in the sidebar.
    page.goto(f"{live_webchat.url}/")
    page.route(re.compile(r"/conversations/\d+/$"), larger_limit)
    page.locator(".conversation-row a").first.click()
    expect(page).to_have_url(conversation)
    expect(page.locator("#connection")).to_have_text("")
    box = page.get_by_label("Message", exact=True)
    box.focus()
    page.keyboard.insert_text("x" * 400_000)  # over the server's cap of 12 bytes a character
    box.press("Enter")
    expect(page.locator("#composer-error")).to_contain_text("That message was too large to send")
    assert len(box.input_value()) == 400_000, "the text stays in the box"
    expect(page.locator("#connection")).to_have_text("")  # and the socket is back
    expect(page.locator(".message.user")).to_have_count(1)


def test_two_tabs_sending_together_the_loser_keeps_its_text(page: Page, live_webchat):
    one_exchange(page, live_webchat)
    other = page.context.new_page()
    # The race, made certain: the other tab hears nothing from the server until its own send
    # has gone out, so the winner's turn reaches it between its send and its refusal.
    held: list[str] = []
    state = {"holding": True}

    def relay(ws) -> None:
        server = ws.connect_to_server()

        def from_page(message) -> None:
            server.send(message)
            if state["holding"] and '"type":"send"' in message:
                state["holding"] = False
                for frame in held:
                    ws.send(frame)

        def from_server(message) -> None:
            (held.append if state["holding"] else ws.send)(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    other.route_web_socket(re.compile(r"/ws/conversations/"), relay)
    other.goto(page.url)
    expect(other.locator("#connection")).to_have_text("")

    mine = page.get_by_label("Message", exact=True)
    theirs = other.get_by_label("Message", exact=True)
    theirs.fill("Sent from the second tab")
    send(page, "[[emulator tokens_per_second=10 tokens=60]] Sent from the first tab")
    expect(page.locator(".message.user").last).to_contain_text("Sent from the first tab")
    expect(mine).to_have_value("")  # the winner's own turn clears its box
    theirs.press("Enter")
    expect(other.locator(".message.user").last).to_contain_text("Sent from the first tab")
    expect(other.locator("#composer-error")).to_contain_text("still being written")
    expect(theirs).to_have_value("Sent from the second tab")
    page.keyboard.press("Escape")
    expect(last_reply(page)).to_have_attribute("data-status", "stopped")


def test_renaming_the_open_conversation_renames_its_heading_and_the_tab(page: Page, live_webchat):
    made = live_webchat.manage(
        "shell", "-c",
        "from django.contrib.auth.models import User; from conversations.models import "
        f"Conversation; print(Conversation.objects.create(owner=User.objects.get(username="
        f"{live_webchat.username!r}), provider='mistral', model='mistral-small-latest', "
        "title='Where to travel', titled=True).pk)",
    )  # fmt: skip
    sign_in(page, live_webchat)
    page.goto(f"{live_webchat.url}/conversations/{made.split()[-1]}/")
    expect(page).to_have_title("Where to travel · Webchat")
    page.locator(".conversation-row.active").get_by_role(
        "button", name=re.compile("^Rename")
    ).click()
    field = page.get_by_label("New title")
    field.fill("Holiday in Lyon")
    field.press("Enter")
    expect(page.locator(".conversation-row.active .title")).to_have_text("Holiday in Lyon")
    # Without a reload: the open chat's heading and the tab's title follow.
    expect(page.locator("#chat-title")).to_have_text("Holiday in Lyon")
    expect(page).to_have_title("Holiday in Lyon · Webchat")


def test_signing_out_in_one_tab_ends_the_chat_in_the_other(page: Page, live_webchat):
    one_exchange(page, live_webchat)
    other = page.context.new_page()
    other.goto(page.url)
    expect(other.locator("#connection")).to_have_text("")
    other.get_by_role("button", name="Sign out").click()
    expect(page.locator("#connection")).to_have_text("Sign in again.")


def test_editing_a_message_uses_the_servers_form(page: Page, live_webchat):
    one_exchange(page, live_webchat, "Name a colour")
    message = page.locator(".message.user").last
    message.get_by_role("button", name="Edit this message").click()
    field = message.get_by_label("Edit message")  # the label the server rendered
    expect(field).to_be_focused()
    expect(field).to_have_value("Name a colour")
    message.get_by_role("button", name="Cancel").click()
    expect(message.locator(".edit-form")).to_have_count(0)
    expect(message.locator(".user-text")).to_have_text("Name a colour")

    message.get_by_role("button", name="Edit this message").click()
    field = message.get_by_label("Edit message")
    field.fill("Name a fruit")
    page.get_by_role("button", name="Send edit").click()
    edited = page.locator(".message.user")
    expect(edited).to_have_count(1)
    expect(edited.last.locator(".user-text")).to_have_text("Name a fruit")
    expect(page.locator(".edit-form")).to_have_count(0)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)


def test_a_reply_is_formatted_while_it_streams(page: Page, live_webchat):
    """Issue 14, item 1: the unfinished block shows as formatted text, never as `**` or a
    fence; bold, list items and a code block appear while the reply is still streaming (its code
    as plain text, highlighted once the block is whole)."""
    sign_in(page, live_webchat)
    page.set_viewport_size({"width": 1280, "height": 800})
    new_chat(
        page,
        "mistral:model:mistral-small-latest",
        "[[emulator tokens_per_second=12]] Show me formatted streaming",
    )
    reply = last_reply(page)
    seen = {"strong": False, "li": False, "code": False}
    samples = 0
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and reply.get_attribute("data-status") == "streaming":
        body = reply.locator(".reply-body")
        visible = body.inner_text()
        assert "**" not in visible and "```" not in visible, visible
        open_block = reply.locator(".reply-body .tail")
        seen["strong"] |= open_block.locator("strong").count() > 0
        seen["li"] |= open_block.locator("li").count() > 0
        code = open_block.locator(".code-block .highlight")
        if not seen["code"] and code.count():
            if code.inner_text().count("\n") >= 2:  # some lines in: the picture shows them
                seen["code"] = True
                page.screenshot(path=str(ROOT / "docs" / "streaming-markdown.png"))
        samples += 1
        page.wait_for_timeout(40)
    assert samples > 20, "the reply should stream for a while"
    assert seen == {"strong": True, "li": True, "code": True}, seen
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    assert "**" not in reply.locator(".reply-body").inner_text()
    expect(reply.locator(".reply-body .tail")).to_be_empty()
    expect(reply.locator(".reply-body .code-block .highlight span").first).to_be_visible()
