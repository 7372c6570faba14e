"""The sidebar: dated groups in the reader's time zone, across pages; pin and archive, each a
POST for the owner only; and a page's work that does not grow with the number of conversations.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations import sidebar
from conversations.models import Conversation
from conversations.sidebar import ZONE_COOKIE, group_of, with_headings

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def made(owner, title: str, *, ago=timedelta(0), **fields) -> Conversation:
    return Conversation.objects.create(
        owner=owner,
        provider="mistral",
        model="mistral-small-latest",
        title=title,
        updated=timezone.now() - ago,
        **fields,
    )


def headings(html: str) -> list[str]:
    return re.findall(r'<li class="group-heading"[^>]*><h2 class="group-label">([^<]+)</h2>', html)


def row_ids(html: str) -> list[int]:
    return [
        int(pk) for pk in re.findall(r'<li id="conversation-(\d+)" class="conversation-row', html)
    ]


def pinned_part(html: str) -> str:
    return html.split('id="pinned-list"', 1)[1].split("</ul>", 1)[0]


def dated_part(html: str) -> str:
    return html.split('id="conversation-list"', 1)[1].split('id="archived"', 1)[0]


# --- the groups, in the reader's day -----------------------------------------------------------


def test_groups_are_the_readers_days_not_utcs():
    auckland = ZoneInfo("Pacific/Auckland")  # UTC+13 in March
    now = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)  # 14:30 on the 10th in Auckland
    today = now.astimezone(auckland).date()
    late_last_night_utc = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # 01:00 on the 10th there
    assert group_of(late_last_night_utc, today=today, zone=auckland) == sidebar.TODAY
    assert group_of(late_last_night_utc, today=now.date(), zone=UTC) == sidebar.YESTERDAY


@pytest.mark.parametrize(
    ("days_ago", "label"),
    [
        (0, "Today"),
        (1, "Yesterday"),
        (2, "Previous 7 days"),
        (7, "Previous 7 days"),
        (8, "Previous 30 days"),
        (30, "Previous 30 days"),
        (31, "February 2026"),
        (58, "February 2026"),
        (60, "January 2026"),
        (400, "February 2025"),
    ],
)
def test_groups_go_today_yesterday_seven_days_thirty_days_then_months(days_ago, label):
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert group_of(now - timedelta(days=days_ago), today=now.date(), zone=UTC).label == label


def test_a_page_going_on_in_the_group_the_last_one_ended_in_repeats_no_heading():
    now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    ages = [timedelta(hours=h) for h in (1, 20, 26, 96)]  # today, yesterday twice, 4 days
    rows = [Conversation(pk=i, updated=now - age) for i, age in enumerate(ages, 1)]
    first = with_headings(rows[:2], zone=UTC, now=now)
    rest = with_headings(rows[2:], zone=UTC, now=now, after=rows[1].updated)
    assert [h.label if h else None for h, _ in first] == ["Today", "Yesterday"]
    assert [h.label if h else None for h, _ in rest] == [None, "Previous 7 days"]


def test_the_sidebar_shows_the_headings_in_order(as_alice, alice):
    for days in (0, 1, 3, 12, 45, 0.01):
        made(alice, f"{days} days old", ago=timedelta(days=days))
    page = as_alice.get(reverse("conversations:index")).content.decode()
    month = (timezone.now() - timedelta(days=45)).strftime("%B %Y")
    assert headings(page) == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days", month]
    # A heading is a real heading inside the list, which screen readers announce.
    assert '<li class="group-heading" role="presentation" data-group="today">' in page


def test_the_readers_time_zone_comes_from_the_cookie(as_alice, alice, monkeypatch):
    # Noon UTC: 02:00 tomorrow in Kiritimati (UTC+14), 01:00 today in Pago Pago (UTC-11).
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: noon)
    made(alice, "At half past midnight in Kiritimati", ago=timedelta(minutes=90))
    seen = {}
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"):
        as_alice.cookies[ZONE_COOKIE] = zone
        seen[zone] = headings(as_alice.get(reverse("conversations:list"), **HTMX).text)
    assert seen == {
        "Pacific/Kiritimati": ["Today"],
        "Pacific/Pago_Pago": ["Yesterday"],  # 23:30 there
        "UTC": ["Today"],
    }


@pytest.mark.parametrize(
    "cookie",
    [
        "../../../etc/passwd",
        "Nowhere/City",
        "/etc/localtime",
        "x" * 300,
        "Europe/../UTC",
        "America",
    ],
)
def test_a_time_zone_cookie_that_is_not_a_zone_means_the_sites_zone(as_alice, alice, cookie):
    made(alice, "Recent")
    as_alice.cookies[ZONE_COOKIE] = cookie
    response = as_alice.get(reverse("conversations:list"), **HTMX)
    assert response.status_code == 200
    assert headings(response.content.decode()) == ["Today"]


def test_the_next_page_does_not_repeat_the_heading_it_goes_on_under(as_alice, alice, settings):
    settings.WEBCHAT_PAGE_SIZE = 5
    for i in range(7):
        made(alice, f"Today {i}", ago=timedelta(seconds=i))
    for i in range(3):
        made(alice, f"Older {i}", ago=timedelta(days=3, seconds=i))
    first = as_alice.get(reverse("conversations:list"), **HTMX).content.decode()
    cursor = re.search(r"cursor=([^&\"]+)", first)[1]
    second = as_alice.get(reverse("conversations:list"), {"cursor": cursor}, **HTMX)
    second = second.content.decode()
    assert headings(first) == ["Today"]
    assert headings(second) == ["Previous 7 days"]  # two more of Today's first, unheaded
    assert second.index("Today 6") < second.index("Previous 7 days")


# --- pin -------------------------------------------------------------------------------------


def test_pinned_ones_come_first_all_of_them_and_not_again_below(as_alice, alice, settings):
    settings.WEBCHAT_PAGE_SIZE = 5
    old = [made(alice, f"Old pinned {i}", ago=timedelta(days=90 + i)) for i in range(7)]
    for conversation in old:
        conversation.pinned_at = timezone.now() - timedelta(minutes=conversation.pk)
        conversation.save()
    recent = [made(alice, f"Recent {i}", ago=timedelta(minutes=i)) for i in range(3)]
    page = as_alice.get(reverse("conversations:index")).content.decode()
    assert row_ids(pinned_part(page)) == [c.pk for c in old]  # the last pinned first
    assert row_ids(dated_part(page)) == [c.pk for c in recent]
    assert page.index("Pinned") < page.index("Today")


def test_pin_moves_the_row_to_the_top_of_pinned(as_alice, alice):
    first = made(alice, "First")
    other = made(alice, "Other", ago=timedelta(days=2))
    response = as_alice.post(reverse("conversations:pin", args=[other.pk]), **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    # Nothing where it was (the main swap), the row at the top of Pinned (out of band).
    assert body.lstrip().startswith('<div hx-swap-oob="afterbegin:#pinned-list">')
    assert row_ids(body) == [other.pk]
    assert f'aria-label="Unpin {other.title}"' in body and "autofocus" in body
    assert "is pinned" in response["HX-Trigger"]
    other.refresh_from_db()
    assert other.pinned_at is not None and other.archived_at is None
    page = as_alice.get(reverse("conversations:index")).content.decode()
    assert row_ids(pinned_part(page)) == [other.pk]
    assert row_ids(dated_part(page)) == [first.pk]


def test_pin_keeps_the_conversations_time_and_pinning_twice_its_place(as_alice, alice):
    conversation = made(alice, "Keep", ago=timedelta(days=5))
    updated = conversation.updated
    as_alice.post(reverse("conversations:pin", args=[conversation.pk]), **HTMX)
    conversation.refresh_from_db()
    pinned_at = conversation.pinned_at
    as_alice.post(reverse("conversations:pin", args=[conversation.pk]), **HTMX)
    conversation.refresh_from_db()
    assert (conversation.updated, conversation.pinned_at) == (updated, pinned_at)


def test_unpin_puts_it_back_in_its_dated_group_by_rendering_the_lists(as_alice, alice):
    conversation = made(alice, "Was pinned", ago=timedelta(days=1), pinned_at=timezone.now())
    response = as_alice.post(reverse("conversations:unpin", args=[conversation.pk]), **HTMX)
    assert response["HX-Retarget"] == "#sidebar-lists" and response["HX-Reswap"] == "innerHTML"
    body = response.content.decode()
    assert row_ids(pinned_part(body)) == []
    assert headings(body) == ["Yesterday"] and row_ids(dated_part(body)) == [conversation.pk]
    conversation.refresh_from_db()
    assert conversation.pinned_at is None


# --- archive ---------------------------------------------------------------------------------


def test_archive_takes_it_out_of_the_list_and_into_the_archived_view(as_alice, alice):
    kept = made(alice, "Kept")
    gone = made(alice, "Old project", ago=timedelta(hours=1), pinned_at=timezone.now())
    response = as_alice.post(reverse("conversations:archive", args=[gone.pk]), **HTMX)
    assert response.status_code == 200 and response.content.strip() == b""
    assert "is archived" in response["HX-Trigger"]
    gone.refresh_from_db()
    assert gone.archived_at is not None and gone.pinned_at is None  # archiving unpins
    page = as_alice.get(reverse("conversations:index")).content.decode()
    assert row_ids(page) == [kept.pk]
    archived = as_alice.get(reverse("conversations:archived"), **HTMX).content.decode()
    assert row_ids(archived) == [gone.pk]
    assert 'aria-label="Restore Old project"' in archived
    assert 'aria-label="Delete Old project"' in archived
    assert "Pin Old project" not in archived and "Archive Old project" not in archived


def test_search_finds_archived_ones_and_says_so(as_alice, alice):
    made(alice, "Budget 2025", archived_at=timezone.now())
    made(alice, "Budget 2026", pinned_at=timezone.now())
    made(alice, "Budget draft")
    rows = as_alice.get(reverse("conversations:list"), {"q": "budget"}, **HTMX).content.decode()
    assert len(row_ids(rows)) == 3
    assert row_ids(pinned_part(rows)) == []  # the pinned one is among the results
    assert rows.count('<span class="badge state-archived">Archived</span>') == 1
    assert rows.count('<span class="badge state-pinned">Pinned</span>') == 1


def test_while_searching_an_action_leaves_the_row_in_place_in_its_new_state(as_alice, alice):
    conversation = made(alice, "Budget 2025", archived_at=timezone.now())
    response = as_alice.post(
        reverse("conversations:restore", args=[conversation.pk]), {"q": "budget"}, **HTMX
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<li id="conversation-{conversation.pk}"')
    assert "Archive Budget 2025" in body and "state-archived" not in body
    assert "hx-swap-oob" not in body


def test_restore_brings_it_back_to_its_dated_group(as_alice, alice):
    conversation = made(alice, "Back", ago=timedelta(days=3), archived_at=timezone.now())
    last = made(alice, "Still archived", ago=timedelta(days=9), archived_at=timezone.now())
    response = as_alice.post(reverse("conversations:restore", args=[conversation.pk]), **HTMX)
    body = response.content.decode()
    # Nothing where it was (the Archived view); the lists, with it, out of band.
    assert body.lstrip().startswith('<div hx-swap-oob="innerHTML:#sidebar-lists">')
    assert headings(body) == ["Previous 7 days"] and row_ids(body) == [conversation.pk]
    assert "is back in the list" in response["HX-Trigger"]
    conversation.refresh_from_db()
    assert conversation.archived_at is None
    # The last one out leaves the Archived view saying it is empty.
    response = as_alice.post(reverse("conversations:restore", args=[last.pk]), **HTMX)
    main = response.content.decode().split("<div hx-swap-oob")[0]
    assert main.strip() == '<li class="empty">No archived conversations.</li>'


def test_archiving_the_open_conversation_keeps_it_open_with_a_notice(as_alice, alice):
    conversation = made(alice, "Open one")
    url = reverse("conversations:detail", args=[conversation.pk])
    headers = {**HTMX, "HTTP_HX_CURRENT_URL": f"http://testserver{url}"}
    response = as_alice.post(reverse("conversations:archive", args=[conversation.pk]), **headers)
    body = response.content.decode()
    assert '<div hx-swap-oob="innerHTML:#archived-notice">' in body and "Restore" in body
    page = as_alice.get(url).content.decode()
    assert 'class="archived-notice"' in page
    assert f'hx-post="{reverse("conversations:restore", args=[conversation.pk])}"' in page
    assert f'id="conversation-{conversation.pk}"' not in page  # not in the list


def test_restore_from_the_open_chats_notice_renders_the_lists_again(as_alice, alice):
    conversation = made(alice, "Open one", archived_at=timezone.now())
    url = reverse("conversations:detail", args=[conversation.pk])
    headers = {**HTMX, "HTTP_HX_CURRENT_URL": f"http://testserver{url}"}
    response = as_alice.post(
        reverse("conversations:restore", args=[conversation.pk]),
        HTTP_HX_TARGET="archived-notice",
        **headers,
    )
    body = response.content.decode()
    assert '<div hx-swap-oob="innerHTML:#sidebar-lists">' in body
    assert "archived-notice" not in body.split("hx-swap-oob")[0]  # the notice itself: empty
    assert 'class="conversation-row active"' in body  # the open one's row is the active one
    assert '"restored": true' in response["HX-Trigger"]


def test_pinned_and_archived_at_once_cannot_be_stored(alice):
    with pytest.raises(IntegrityError):
        made(alice, "Both", pinned_at=timezone.now(), archived_at=timezone.now())


# --- who may, and how ------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["pin", "unpin", "archive", "restore"])
def test_an_action_on_a_strangers_conversation_is_404(as_bob, alice, action):
    conversation = made(alice, "Alice's", pinned_at=timezone.now() if action == "unpin" else None)
    response = as_bob.post(reverse(f"conversations:{action}", args=[conversation.pk]), **HTMX)
    assert response.status_code == 404
    fresh = Conversation.objects.get(pk=conversation.pk)
    assert (fresh.pinned_at, fresh.archived_at) == (conversation.pinned_at, None)


@pytest.mark.parametrize("action", ["pin", "unpin", "archive", "restore"])
def test_actions_are_posts_with_a_csrf_token(as_alice, alice, action):
    conversation = made(alice, "Mine")
    url = reverse(f"conversations:{action}", args=[conversation.pk])
    assert as_alice.get(url, **HTMX).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(url, **HTMX).status_code == 403


def test_the_archived_view_shows_only_my_archived_ones(as_alice, alice, bob):
    mine = made(alice, "Mine", archived_at=timezone.now())
    made(bob, "Bob's", archived_at=timezone.now())
    made(alice, "Not archived")
    page = as_alice.get(reverse("conversations:archived")).content.decode()
    assert "showing-archived" in page  # the whole page opens on the Archived view
    archived = page.split('id="archived-list"', 1)[1].split("</ul>", 1)[0]
    assert row_ids(archived) == [mine.pk]
    assert "Bob" not in page


def test_titles_in_the_sidebar_stay_text(as_alice, alice):
    made(alice, '<img src=x onerror="alert(1)">', pinned_at=timezone.now())
    page = as_alice.get(reverse("conversations:index")).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x" in page


# --- speed -----------------------------------------------------------------------------------


def queries_for(client: Client, url: str, **extra) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, **extra).status_code == 200
    return len(captured)


def test_a_sidebar_page_costs_the_same_few_queries_whatever_one_has(as_alice, alice):
    def grow(count: int) -> None:
        now = timezone.now()
        Conversation.objects.bulk_create(
            Conversation(
                owner=alice,
                provider="mistral",
                model="mistral-small-latest",
                title=f"Chat {count} {i}",
                updated=now - timedelta(hours=i * 7),
                pinned_at=now if i % 10 == 0 else None,
                archived_at=now if i % 10 == 5 else None,
            )
            for i in range(count)
        )

    pages = {
        "lists": (reverse("conversations:list"), HTMX),
        "search": (reverse("conversations:list") + "?q=chat", HTMX),
        "archived": (reverse("conversations:archived"), HTMX),
        "page": (reverse("conversations:index"), {}),
    }
    grow(12)
    few = {name: queries_for(as_alice, url, **extra) for name, (url, extra) in pages.items()}
    grow(400)
    many = {name: queries_for(as_alice, url, **extra) for name, (url, extra) in pages.items()}
    assert few == many
    assert many["lists"] <= 5  # session, user, their settings, the pinned ones, one page
