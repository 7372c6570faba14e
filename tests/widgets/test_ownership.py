"""A visitor's conversation belongs to the widget: never in its owner's team chat, usage counted
as the widget's, read only through the admin's audited transcript."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from administration import exports, retention, users
from administration.models import AuditAction, AuditEntry, Tombstone
from conversations import message_search, services
from conversations.models import Conversation, DailyUsage, Message
from tests.replies import replies_finished
from tests.sockets import WITHIN, socket_for, until
from tests.sockets import widget_signed_in as signed_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("upstreams")]

QUESTION = "Where is my parcel zebra-42?"


async def visitor_conversation(widget) -> Conversation:
    """A visitor asks one question on the widget and gets the whole reply."""
    communicator = await signed_in(widget)
    await communicator.send_json_to({"type": "send", "text": QUESTION})
    await until(communicator, "done")
    await communicator.disconnect()
    await replies_finished()
    conversation = await Conversation.objects.aget(widget=widget)
    await sync_to_async(Conversation.objects.filter(pk=conversation.pk).update)(
        title="Parcel zebra-42"
    )
    return conversation


def signed_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def test_a_visitor_conversation_and_its_usage_belong_to_the_widget(widget):
    conversation = await visitor_conversation(widget)
    assert conversation.owner_id is None and conversation.widget_id == widget.pk
    usage = await DailyUsage.objects.aget(widget=widget)
    assert (usage.owner_id, usage.origin, usage.replies) == (None, "widget", 1)


async def test_the_widget_owner_gets_404_on_every_door_of_a_visitor_conversation(widget, alice):
    conversation = await visitor_conversation(widget)
    assert widget.owner_id == alice.pk

    def pages():
        client = signed_in_client(alice)
        detail = reverse("conversations:detail", args=[conversation.pk])
        return {
            "page": client.get(detail).status_code,
            "fragment": client.get(detail, HTTP_HX_REQUEST="true").status_code,
            "earlier": client.get(
                reverse("conversations:earlier", args=[conversation.pk])
            ).status_code,
            "rename": client.post(
                reverse("conversations:rename", args=[conversation.pk]), {"title": "Mine now"}
            ).status_code,
            "delete": client.post(
                reverse("conversations:delete", args=[conversation.pk])
            ).status_code,
        }

    assert await sync_to_async(pages)() == dict.fromkeys(
        ["page", "fragment", "earlier", "rename", "delete"], 404
    )
    # The socket: refused with 4404, and nothing sent there reaches the conversation.
    communicator, connected, _ = await socket_for(conversation.pk, alice)
    assert connected
    assert (await communicator.receive_output(timeout=WITHIN))["code"] == 4404
    assert await services.conversation_for(alice, conversation.pk) is None
    assert await Message.objects.filter(conversation=conversation).acount() == 2
    await sync_to_async(conversation.refresh_from_db)()
    assert conversation.title == "Parcel zebra-42"


async def test_the_owners_sidebar_and_search_never_show_a_visitor_conversation(widget, alice):
    conversation = await visitor_conversation(widget)

    def pages():
        client = signed_in_client(alice)
        return (
            client.get(reverse("conversations:index")).text,
            client.get(reverse("conversations:list")).text,
            client.get(reverse("conversations:list"), {"q": "zebra"}).text,
        )

    for text in await sync_to_async(pages)():
        for said in ("No conversation matches “zebra”", "No message contains “zebra”"):
            text = text.replace(said, "")  # the search's own words, not a result
        assert "zebra" not in text
        assert f"conversation-{conversation.pk}" not in text
    page = await sync_to_async(services.conversation_page)(owner=alice, query="zebra")
    assert page.conversations == []
    assert await sync_to_async(message_search.search)(alice, "zebra") == []


async def test_a_visitors_messages_never_count_against_the_owners_send_limit(
    widget, alice, settings
):
    settings.WEBCHAT_SENDS_PER_MINUTE = 1
    communicator = await signed_in(widget)
    for text in ("first", "second", "third"):
        await communicator.send_json_to({"type": "send", "text": text})
        await until(communicator, "done")
    await communicator.disconnect()
    await replies_finished()
    # The owner has sent nothing: their one message a minute is still theirs to send.
    await services.check_send_rate_async(alice)
    with pytest.raises(services.Refused):
        await services.check_send_rate_async(alice)


# --- the admin: the widget's, audited -----------------------------------------------------------


async def test_the_admin_shows_the_widget_as_owner_and_audits_the_transcript(widget, carol):
    conversation = await visitor_conversation(widget)

    def admin_pages():
        client = signed_in_client(carol)
        listing = client.get(reverse("admin:conversations_conversation_changelist"))
        detail = client.get(
            reverse("admin:conversations_conversation_change", args=[conversation.pk])
        )
        usage = client.get(reverse("admin:conversations_dailyusage_changelist"), {"group": "user"})
        csv_text = b"".join(
            client.get(reverse("admin:conversations_dailyusage_export")).streaming_content
        ).decode()
        return listing, detail, usage, csv_text

    listing, detail, usage, csv_text = await sync_to_async(admin_pages)()
    assert listing.status_code == 200 and "widget: Shop help" in listing.text
    assert detail.status_code == 200 and QUESTION in detail.text
    assert "<strong>Visitor</strong>" in detail.text
    entry = await AuditEntry.objects.aget(action=AuditAction.VIEW_TRANSCRIPT)
    assert "owner widget: Shop help" in entry.summary
    assert [row["key"] for row in usage.context["report"].rows] == ["widget: Shop help"]
    [row] = list(csv.DictReader(io.StringIO(csv_text)))
    assert (row["user"], row["origin"], row["replies"]) == ("widget: Shop help", "widget", "1")


async def test_exports_name_the_widget(widget):
    conversation = await visitor_conversation(widget)

    def exported():
        selected = Conversation.objects.filter(pk=conversation.pk)
        document = json.loads("".join(exports.iter_json(selected)))
        archive = zipfile.ZipFile(io.BytesIO(b"".join(exports.iter_markdown_zip(selected))))
        return document, archive.read(archive.namelist()[0]).decode()

    document, markdown = await sync_to_async(exported)()
    [record] = document["conversations"]
    assert (record["owner"], record["owner_id"], record["widget"]) == (None, None, widget.pk)
    assert "- Owner: widget: Shop help" in markdown


async def test_the_widget_owners_export_and_erasure_leave_visitors_conversations_alone(
    widget, alice
):
    conversation = await visitor_conversation(widget)

    def export_and_erase():
        archive = zipfile.ZipFile(io.BytesIO(b"".join(exports.iter_user_archive(alice))))
        document = json.loads(archive.read("conversations.json"))
        usage = archive.read("usage.csv").decode()
        outcomes = users.erase_user_data(alice)
        return document, usage, outcomes, archive.namelist()

    document, usage, outcomes, names = await sync_to_async(export_and_erase)()
    assert document["conversations"] == []
    assert usage.strip().splitlines()[1:] == []
    assert not [n for n in names if n.startswith("transcripts/")]
    assert outcomes == []
    assert await Conversation.objects.filter(pk=conversation.pk).aexists()
    assert await DailyUsage.objects.filter(widget=widget).aexists()


async def test_retention_and_deletion_name_the_widget(widget, settings):
    conversation = await visitor_conversation(widget)
    settings.WEBCHAT_RETENTION_BY_ORIGIN = {"widget": 1}
    await Conversation.objects.filter(pk=conversation.pk).aupdate(
        updated=conversation.updated.replace(year=2020)
    )

    def purge():
        [candidate] = retention.expired(retention.Policy.from_settings())
        return retention.describe(candidate), retention.purge()

    described, outcomes = await sync_to_async(purge)()
    assert "owner widget: Shop help" in described
    assert [o.deleted for o in outcomes] == [True]
    tombstone = await Tombstone.objects.aget(conversation_id=conversation.pk)
    assert (tombstone.owner_id, tombstone.owner_name) == (None, "widget: Shop help")


async def test_usage_rows_stay_one_per_widget_and_day(widget):
    """Owners are NULL in widget rows, and NULLs are distinct: the per-widget constraint holds."""
    from django.db import IntegrityError, transaction

    row = await DailyUsage.objects.acreate(
        day="2025-03-01", provider="mistral", model="m", origin="widget", widget=widget
    )

    def twin():
        with transaction.atomic():
            DailyUsage.objects.create(
                day=row.day, provider="mistral", model="m", origin="widget", widget=widget
            )

    with pytest.raises(IntegrityError):
        await sync_to_async(twin)()
