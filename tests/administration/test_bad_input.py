"""Input the admin cannot use is a 400 that says what was wrong: never a 500, never Django's
redirect to a page about a broken database installation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from administration.models import AuditEntry
from conversations.models import Conversation
from tests.administration.test_admin import CHANGELIST, conversation_with, signed_in
from widgets.models import Widget

pytestmark = pytest.mark.django_db

USAGE = reverse("admin:conversations_dailyusage_changelist")
USAGE_CSV = reverse("admin:conversations_dailyusage_export")
AUDIT = reverse("admin:administration_auditentry_changelist")


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        # These were 500s.
        (AUDIT, {"created__year": "99999999999999999"}, "a date is out of range"),
        (AUDIT, {"created__year": "2026", "created__month": "99999999999999999"}, "out of range"),
        (CHANGELIST, {"message_count_range": "²"}, "is not a range of messages"),
        (CHANGELIST, {"tokens_out_range": "1-²"}, "is not a range of tokens out"),
        # These were a redirect to "Something's wrong with your database installation".
        (CHANGELIST, {"updated__from": "2026-13-01"}, "is not a date (YYYY-MM-DD)"),
        (AUDIT, {"created__to": "yesterday"}, "is not a date (YYYY-MM-DD)"),
        (AUDIT, {"created__day": "99", "created__month": "2", "created__year": "2026"}, "range"),
        # These fell back on the defaults without a word.
        (USAGE, {"start": "last week"}, "The start date must be a day written YYYY-MM-DD"),
        (USAGE, {"end": "2026-02-30"}, "The end date must be a day written YYYY-MM-DD"),
        (USAGE, {"group": "planet"}, "Group usage by one of: day, user"),
        (USAGE_CSV, {"start": "bad"}, "The start date must be a day written YYYY-MM-DD"),
    ],
)
def test_a_filter_or_range_the_admin_cannot_use_is_400_saying_why(carol, url, query, message):
    response = signed_in(carol).get(url, query)
    assert response.status_code == 400
    assert message in response.text


@pytest.mark.parametrize(
    ("url", "query"),
    [
        (CHANGELIST, {"updated__to": "9999-12-31"}),  # the day after it does not exist
        (CHANGELIST, {"updated__from": "0001-01-01"}),
        (USAGE, {"start": "9999-12-31", "end": "9999-12-31"}),
        (USAGE, {"start": "0001-01-01", "end": "9999-12-31"}),
        (USAGE_CSV, {"start": "9999-12-31", "end": "9999-12-31"}),
    ],
)
def test_the_first_and_last_days_of_the_calendar_are_days_like_any_other(carol, url, query):
    """Each was a 500: a day added to 9999-12-31."""
    assert signed_in(carol).get(url, query).status_code == 200


def test_a_widget_filter_that_is_not_a_widget_is_400(carol, alice):
    Widget.objects.create(name="Shop", owner=alice, provider="mistral", model="m")
    for junk in ("first", "²"):  # "²".isdigit(), but int("²") raises
        response = signed_in(carol).get(CHANGELIST, {"widget": junk})
        assert response.status_code == 400 and "is not the number of a widget" in response.text


def test_a_page_past_the_last_is_400_not_a_500(carol, alice):
    Conversation.objects.bulk_create(
        Conversation(owner=alice, provider="mistral", title=f"c{i}") for i in range(51)
    )
    client = signed_in(carol)
    assert client.get(CHANGELIST, {"p": "2"}).status_code == 200
    response = client.get(CHANGELIST, {"p": "99999999999999999999"})
    assert response.status_code == 400 and "there is no such page" in response.text


@pytest.mark.parametrize("selected", ["first", "99999999999999999999999", "-1", "1.5"])
@pytest.mark.parametrize(
    ("url", "action"),
    [
        (CHANGELIST, "export_json"),
        (CHANGELIST, "delete_selected"),
        (reverse("admin:auth_user_changelist"), "erase_data"),
        (reverse("admin:auth_user_changelist"), "export_data"),
    ],
)
def test_selected_rows_that_are_not_ids_are_400(carol, alice, url, action, selected):
    conversation_with(alice, "Kept", "hi")
    data = {"action": action, "_selected_action": [selected], "index": "0"}
    response = signed_in(carol).post(url, data)
    assert response.status_code == 400
    assert "selected row" in response.text
    assert Conversation.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_null_character_anywhere_in_a_request_is_400_with_a_message(carol):
    """PostgreSQL cannot store or compare text with a NUL: it was a 500 wherever it was used
    (tests/test_postgresql_input.py shows it there). Refused for every request, on any engine."""
    client = signed_in(carol)
    for query in ({"q": "bud\x00get"}, {"owner": "\x00"}, {"provider__exact": "orq\x00"}):
        response = client.get(CHANGELIST, query)
        assert response.status_code == 400
        assert "null character" in response.text
    users = reverse("admin:auth_user_changelist")
    assert client.get(users, {"q": "\x00"}).status_code == 400
