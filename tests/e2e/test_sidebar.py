"""Issue 14, the sidebar: conversations grouped by the reader's days (Today, Yesterday, Previous 7
days, Previous 30 days, then months), pinned ones first, archived ones out of the list and back;
seen in Chromium at desktop and phone sizes, in a time zone far from UTC."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from emulator.process import ROOT
from tests.e2e.test_chat import last_reply, new_chat

DOCS = ROOT / "docs"
ZONE = "Pacific/Auckland"  # twelve or thirteen hours from UTC: its days are not the server's
PASSWORD = "sidebar-password-1"
# Title, and how many of the reader's days ago it was last active (0: just now).
CONVERSATIONS = [
    ("Launch checklist", 0),
    ("Dentist appointment", 1),
    ("Tax return 2025", 4),
    ("Bike repair", 12),
    ("Holiday in Lyon", 75),
]


def person_with_conversations(live, username: str) -> None:
    """A person of their own (the live server is shared by the whole session), with
    conversations whose last activity is backdated in the reader's time zone."""
    script = f"""
import datetime
from zoneinfo import ZoneInfo
from django.contrib.auth.models import User
from django.utils import timezone
from conversations.models import Conversation
zone = ZoneInfo({ZONE!r})
owner = User.objects.create_user({username!r}, password={PASSWORD!r})
today = timezone.now().astimezone(zone).date()
for title, days in {CONVERSATIONS!r}:
    noon = datetime.datetime.combine(today - datetime.timedelta(days=days), datetime.time(12), zone)
    when = timezone.now() if days == 0 else noon
    Conversation.objects.create(owner=owner, provider="mistral", model="mistral-small-latest",
                                title=title, titled=True, created=when, updated=when)
"""
    live.manage("shell", "-c", script)


def expected_groups() -> list[str]:
    today = datetime.datetime.now(ZoneInfo(ZONE)).date()
    month = today - datetime.timedelta(days=CONVERSATIONS[-1][1])
    return ["Today", "Yesterday", "Previous 7 days", "Previous 30 days", month.strftime("%B %Y")]


def sign_in_as(page: Page, live, username: str) -> None:
    page.goto(f"{live.url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="New chat")).to_be_visible()
    # And the page's scripts have run: a click before htmx has bound the links navigates
    # instead of swapping (no htmx request, for which new_chat waits).
    page.wait_for_load_state("load")


def dated_headings(page: Page):
    return page.locator("#conversation-list .group-heading:visible h2")


def row(page: Page, title: str):
    return page.locator(".conversation-row").filter(has_text=title)


# Playwright hides the caret for a screenshot with an inline style it leaves on each input
# (style=""); htmx would copy it to the next swap of that input, which the page's CSP refuses.
# The screenshots keep the caret instead.


def act(page: Page, title: str, action: str) -> None:
    """Point at the row (its actions show on hover) and press one of them."""
    target = row(page, title)
    target.hover()
    target.get_by_role("button", name=f"{action} {title}").click()


def test_a_person_groups_pins_archives_and_restores_on_a_desktop(browser, live_webchat):
    person_with_conversations(live_webchat, "sam")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id=ZONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in_as(page, live_webchat, "sam")
        # The dated groups, in order, in the reader's days.
        expect(dated_headings(page)).to_have_text(expected_groups())
        pinned = page.get_by_role("heading", name="Pinned")
        expect(pinned).to_be_hidden()  # nothing pinned yet

        # Pin, with the keyboard: the row goes to the top of Pinned and keeps the focus.
        target = row(page, "Dentist appointment")
        target.get_by_role("button", name="Pin Dentist appointment").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#pinned-list .conversation-row")).to_have_text(
            [re.compile("Dentist appointment")]
        )
        expect(page.get_by_role("button", name="Unpin Dentist appointment")).to_be_focused()
        expect(pinned).to_be_visible()
        expect(page.locator("#announcer")).to_contain_text("is pinned")
        # Its group had only it: the heading went with it.
        expect(dated_headings(page)).to_have_text(
            [g for g in expected_groups() if g != "Yesterday"]
        )
        act(page, "Bike repair", "Pin")
        expect(page.locator("#pinned-list .conversation-row .title")).to_have_text(
            ["Bike repair", "Dentist appointment"]  # the last pinned first
        )

        # A new chat comes under Today, with one Today heading.
        new_chat(page, "mistral:model:mistral-small-latest", "Packing list for Lyon")
        expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=20_000)
        expect(page.locator(".group-heading:visible", has_text="Today")).to_have_count(1)
        expect(page.locator(".conversation-row.active")).to_be_visible()

        # Pins survive a reload, above the rest.
        page.reload()
        expect(page.locator("#pinned-list .conversation-row .title")).to_have_text(
            ["Bike repair", "Dentist appointment"]
        )
        expect(dated_headings(page).first).to_have_text("Today")
        page.screenshot(path=str(DOCS / "sidebar-groups.png"), caret="initial")

        # Archive the open conversation: it leaves the list and stays open, saying so.
        row(page, "Tax return 2025").get_by_role("link").click()
        expect(page.locator("#chat-title")).to_have_text("Tax return 2025")
        act(page, "Tax return 2025", "Archive")
        expect(row(page, "Tax return 2025")).to_have_count(0)
        notice = page.locator("#archived-notice")
        expect(notice).to_contain_text("Archived")
        expect(page.locator("#chat-title")).to_have_text("Tax return 2025")
        expect(page.locator("#announcer")).to_contain_text("is archived")
        # With the keyboard: the focus stays in the list, on the row before it.
        row(page, "Holiday in Lyon").get_by_role("button", name="Archive Holiday in Lyon").focus()
        page.keyboard.press("Enter")
        expect(row(page, "Holiday in Lyon")).to_have_count(0)
        expect(page.locator("#conversation-list .conversation-row a:focus")).to_have_count(1)

        # Search finds archived ones, marked so.
        page.get_by_label("Search conversations and messages").fill("Lyon")
        found = row(page, "Holiday in Lyon")
        expect(found.locator(".badge")).to_have_text("Archived")
        expect(row(page, "Packing list for Lyon")).to_be_visible()
        page.get_by_label("Search conversations and messages").fill("")
        expect(row(page, "Holiday in Lyon")).to_have_count(0)

        # The Archived view lists them, with Restore and Delete.
        page.get_by_role("link", name="Archived conversations").click()
        archived = page.locator("#archived-list .conversation-row .title")
        expect(archived).to_have_text(["Tax return 2025", "Holiday in Lyon"])
        expect(page.get_by_role("heading", name="Archived", exact=True)).to_be_focused()
        expect(page.get_by_role("button", name="Delete Holiday in Lyon")).to_be_attached()
        page.screenshot(path=str(DOCS / "sidebar-archived.png"), caret="initial")
        act(page, "Holiday in Lyon", "Restore")
        expect(archived).to_have_text(["Tax return 2025"])
        page.get_by_role("button", name="Back to the list").click()
        expect(row(page, "Holiday in Lyon")).to_be_visible()
        expect(dated_headings(page).last).to_have_text(expected_groups()[-1])

        # Restore from the open chat's notice: it is back in its group.
        notice.get_by_role("button", name="Restore").click()
        expect(notice).to_be_empty()
        expect(row(page, "Tax return 2025")).to_have_class(re.compile(r"\bactive\b"))
        expect(dated_headings(page)).to_contain_text(["Previous 7 days"])

        # Unpinned, it goes back to its dated group.
        act(page, "Dentist appointment", "Unpin")
        expect(page.locator("#pinned-list .conversation-row .title")).to_have_text(["Bike repair"])
        expect(dated_headings(page)).to_contain_text(["Yesterday"])
    finally:
        context.close()


def test_a_page_dated_in_another_zone_is_dated_again_in_the_readers(browser, live_webchat):
    person_with_conversations(live_webchat, "uma")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id=ZONE)
    page = context.new_page()
    try:
        sign_in_as(page, live_webchat, "uma")
        # As if this browser had been somewhere else: the server dates the page in that zone,
        # then the page asks for the sidebar again in the reader's.
        context.add_cookies(
            [{"name": "webchat_tz", "value": "Etc/GMT+12", "url": live_webchat.url}]
        )
        with page.expect_request(re.compile(r"/conversations/$")):
            page.reload()
        expect(dated_headings(page)).to_have_text(expected_groups())
        cookie = {c["name"]: c["value"] for c in context.cookies()}["webchat_tz"]
        assert cookie == ZONE
    finally:
        context.close()


def test_on_a_phone_the_sidebar_pins_archives_and_restores(phone: Page, live_webchat):
    person_with_conversations(live_webchat, "pat")
    sign_in_as(phone, live_webchat, "pat")  # the list is the phone's home screen
    sidebar = phone.locator("#sidebar")
    expect(sidebar).to_be_in_viewport()
    expect(dated_headings(phone).first).to_have_text("Today")
    # On a touch screen every row shows its actions, each large enough to tap.
    pin = row(phone, "Bike repair").get_by_role("button", name="Pin Bike repair")
    box = pin.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 36, box
    pin.tap()
    expect(phone.locator("#pinned-list .conversation-row .title")).to_have_text(["Bike repair"])
    row(phone, "Launch checklist").get_by_role("button", name="Archive Launch checklist").tap()
    expect(row(phone, "Launch checklist")).to_have_count(0)
    expect(sidebar).to_be_in_viewport()  # the list stays open for the next action
    phone.screenshot(path=str(DOCS / "sidebar-phone.png"), caret="initial")

    phone.get_by_role("link", name="Archived conversations").tap()
    expect(phone.locator("#archived-list .conversation-row .title")).to_have_text(
        ["Launch checklist"]
    )
    phone.get_by_role("button", name="Restore Launch checklist").tap()
    expect(phone.locator("#archived-list")).to_contain_text("No archived conversations.")
    phone.get_by_role("button", name="Back to the list").tap()
    expect(row(phone, "Launch checklist")).to_be_visible()
    # Opening one gives the chat the screen.
    row(phone, "Launch checklist").get_by_role("link").tap()
    expect(sidebar).not_to_be_in_viewport()
    expect(phone.locator("#chat-title")).to_have_text("Launch checklist")


def test_the_dated_list_loads_more_as_one_scrolls_it(page: Page, live_webchat):
    script = f"""
import datetime
from django.contrib.auth.models import User
from django.utils import timezone
from conversations.models import Conversation
owner = User.objects.create_user("liz", password={PASSWORD!r})
now = timezone.now()
Conversation.objects.bulk_create(
    Conversation(owner=owner, provider="mistral", model="mistral-small-latest", title=f"Note {{i}}",
                 titled=True, updated=now - datetime.timedelta(hours=5 * i))
    for i in range(70)
)
"""
    live_webchat.manage("shell", "-c", script)
    sign_in_as(page, live_webchat, "liz")
    rows = page.locator("#conversation-list .conversation-row")
    expect(rows).to_have_count(30)  # one page
    for count in (60, 70):
        page.locator("#sidebar-lists").evaluate("el => { el.scrollTop = el.scrollHeight; }")
        expect(rows).to_have_count(count)
    expect(rows.last).to_contain_text("Note 69")
    # Each heading once, however the pages fell.
    labels = dated_headings(page).all_inner_texts()
    assert labels[:3] == ["Today", "Yesterday", "Previous 7 days"] and len(set(labels)) == len(
        labels
    )
