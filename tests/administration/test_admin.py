"""The admin by role: carol (superuser), dave (Transcript reviewer), erin (Operator), alice (not staff).

Every forbidden action is tried and refused; deletes reach the live emulator.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from administration.models import AuditAction, AuditEntry, Tombstone
from conversations import services
from conversations.models import Conversation, Message, MessageStatus
from conversations.rendering import render_markdown, render_user_text
from emulator.process import EmulatorProcess
from upstream import clients
from upstream.errors import NotFound

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:conversations_conversation_changelist")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def conversation_with(owner, title: str, *texts: str, provider="mistral", upstream_id=""):
    conversation = Conversation.objects.create(
        owner=owner, provider=provider, model="mistral-small-latest", title=title,
        upstream_id=upstream_id,
    )  # fmt: skip
    for index, text in enumerate(texts):
        user = index % 2 == 0
        Message.objects.create(
            conversation=conversation,
            role="user" if user else "assistant",
            text=text,
            # As the app stores them: what people type is escaped, replies are sanitized.
            html=render_user_text(text) if user else render_markdown(text),
            status=MessageStatus.COMPLETE,
        )
    services.refresh_counters(conversation.pk)
    conversation.refresh_from_db()
    return conversation


def transcript_url(conversation) -> str:
    return reverse("admin:conversations_conversation_change", args=[conversation.pk])


# --- who may see what -------------------------------------------------------------------------


def test_alice_who_is_not_staff_gets_no_admin_at_all(alice):
    conversation = conversation_with(alice, "Mine", "hello")
    client = signed_in(alice)
    for url in (reverse("admin:index"), CHANGELIST, transcript_url(conversation)):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_superuser_lists_reads_and_sees_the_audit_trail(carol, alice):
    conversation = conversation_with(alice, "Quarterly plan", "What is the plan?", "A **plan**.")
    client = signed_in(carol)
    listing = client.get(CHANGELIST)
    assert listing.status_code == 200 and "Quarterly plan" in listing.text
    page = client.get(transcript_url(conversation))
    assert page.status_code == 200
    assert "What is the plan?" in page.text and "<p>A <strong>plan</strong>.</p>" in page.text
    entry = AuditEntry.objects.get(action=AuditAction.VIEW_TRANSCRIPT)
    assert entry.actor == carol and entry.target_id == str(conversation.pk)
    assert entry.address == "127.0.0.1"
    assert client.get(reverse("admin:administration_auditentry_changelist")).status_code == 200


def test_a_reviewer_reads_transcripts_but_cannot_change_delete_or_export(dave, alice):
    conversation = conversation_with(alice, "Reviewed", "Please review this")
    client = signed_in(dave)
    assert "Reviewed" in client.get(CHANGELIST).text
    page = client.get(transcript_url(conversation))
    assert page.status_code == 200 and "Please review this" in page.text
    assert AuditEntry.objects.filter(actor=dave, action=AuditAction.VIEW_TRANSCRIPT).exists()
    # Delete: neither the page nor the bulk action.
    delete_url = reverse("admin:conversations_conversation_delete", args=[conversation.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    response = client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"},
    )
    assert Conversation.objects.filter(pk=conversation.pk).exists()
    assert response.status_code in (200, 302)
    # Change: the form is read-only and a POST changes nothing.
    client.post(transcript_url(conversation), {"title": "Hijacked"})
    conversation.refresh_from_db()
    assert conversation.title == "Reviewed"
    # No audit trail, no usage, no tombstones.
    for name in ("auditentry", "tombstone"):
        url = reverse(f"admin:administration_{name}_changelist")
        assert client.get(url).status_code == 403
    assert client.get(reverse("admin:conversations_dailyusage_changelist")).status_code == 403


def test_an_operator_sees_usage_but_no_conversation_or_transcript(erin, alice):
    conversation = conversation_with(alice, "Secret", "confidential words")
    client = signed_in(erin)
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(transcript_url(conversation)).status_code == 403
    assert client.get(reverse("admin:conversations_dailyusage_changelist")).status_code == 200
    assert client.get(reverse("admin:administration_tombstone_changelist")).status_code == 200
    assert client.get(reverse("admin:administration_auditentry_changelist")).status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.VIEW_TRANSCRIPT).exists()


def test_nobody_changes_or_deletes_the_audit_trail(carol):
    client = signed_in(carol)
    client.get(reverse("admin:index"))
    entry = AuditEntry.objects.create(actor_name="carol", action="export", summary="x")
    change = reverse("admin:administration_auditentry_change", args=[entry.pk])
    delete = reverse("admin:administration_auditentry_delete", args=[entry.pk])
    client.post(change, {"summary": "rewritten"})
    assert client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.summary == "x"
    assert client.get(reverse("admin:administration_auditentry_add")).status_code == 403


# --- list and search --------------------------------------------------------------------------


def test_search_finds_a_word_that_is_only_inside_a_message(carol, alice, bob):
    hidden = conversation_with(alice, "Untitled chat", "we talked about the aardvark budget")
    conversation_with(bob, "Other", "nothing to see")
    page = signed_in(carol).get(CHANGELIST, {"q": "aardvark"})
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [hidden]


def test_filters_by_provider_origin_status_and_date_range(carol, alice):
    old = conversation_with(alice, "Old one", "hi")
    Conversation.objects.filter(pk=old.pk).update(
        updated=timezone.now() - timezone.timedelta(days=40)
    )
    recent = conversation_with(alice, "Recent one", "hi", provider="orq")
    client = signed_in(carol)
    today = timezone.localdate().isoformat()
    in_range = client.get(CHANGELIST, {"updated__from": today, "updated__to": today})
    assert list(in_range.context["cl"].result_list) == [recent]
    by_provider = client.get(CHANGELIST, {"provider__exact": "mistral"})
    assert list(by_provider.context["cl"].result_list) == [old]
    refused = client.get(CHANGELIST, {"updated__from": "not-a-date"})
    assert refused.status_code == 400 and "is not a date (YYYY-MM-DD)" in refused.text


@pytest.mark.slow
@pytest.mark.parametrize("page", ["list", "search", "transcript"])
def test_queries_do_not_grow_with_the_number_of_conversations(carol, alice, page):
    client = signed_in(carol)

    def queries() -> int:
        target = Conversation.objects.order_by("id").first()
        with CaptureQueriesContext(connection) as captured:
            if page == "list":
                response = client.get(CHANGELIST)
            elif page == "search":
                response = client.get(CHANGELIST, {"q": "needle"})
            else:
                response = client.get(transcript_url(target))
        assert response.status_code == 200
        return len(captured)

    make = lambda n: [conversation_with(alice, f"c{i}", "a needle here", "reply") for i in range(n)]  # noqa: E731
    make(10)
    few = queries()
    make(990)
    assert queries() == few


# --- delete reaches upstream ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("upstreams")
def test_delete_reaches_the_provider_first_then_leaves_a_tombstone(carol, alice):
    upstream = async_to_sync(clients.mistral().start)(
        text="to be deleted", model="mistral-small-latest"
    )
    conversation = conversation_with(alice, "Doomed", "x", upstream_id=upstream.conversation_id)
    client = signed_in(carol)
    response = client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"},
        follow=True,
    )
    assert "deleted; upstream deleted" in response.text
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    with pytest.raises(NotFound):
        clients.run(lambda: clients.mistral().get_conversation(upstream.conversation_id))
    tombstone = Tombstone.objects.get(conversation_id=conversation.pk)
    assert (tombstone.reason, tombstone.upstream_result) == ("admin", "deleted")
    assert AuditEntry.objects.filter(action=AuditAction.DELETE, actor=carol).exists()


@pytest.fixture
def failing_upstream(settings):
    """Both providers answer 503 to everything."""
    emulator = EmulatorProcess("--tokens-per-second", "0", "--fault", "status=503")
    settings.ORQ_BASE_URL = settings.MISTRAL_BASE_URL = emulator.url
    settings.UPSTREAM_RETRIES = 0
    clients.orq.cache_clear()
    clients.mistral.cache_clear()
    yield emulator
    emulator.stop()
    clients.orq.cache_clear()
    clients.mistral.cache_clear()


def test_an_upstream_failure_keeps_the_local_record_and_says_why(carol, alice, failing_upstream):
    conversation = conversation_with(alice, "Stubborn", "x", upstream_id="conv_kept")
    response = signed_in(carol).post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"},
        follow=True,
    )
    assert Conversation.objects.filter(pk=conversation.pk).exists()
    assert "kept; upstream failed" in response.text
    assert not Tombstone.objects.exists()
    entry = AuditEntry.objects.get(action=AuditAction.DELETE)
    assert entry.detail["deleted"] is False


# --- export and import from the admin ---------------------------------------------------------


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_superuser_exports_selected_conversations_as_json_and_markdown(carol, alice):
    conversation = conversation_with(alice, "Exported", "question text", "answer text")
    client = signed_in(carol)
    as_json = client.post(
        CHANGELIST, {"action": "export_json", "_selected_action": [conversation.pk]}
    )
    document = json.loads(streamed(as_json))
    [exported] = document["conversations"]
    assert exported["id"] == conversation.pk
    assert [m["text"] for m in exported["messages"]] == ["question text", "answer text"]
    as_zip = client.post(
        CHANGELIST, {"action": "export_markdown", "_selected_action": [conversation.pk]}
    )
    with zipfile.ZipFile(io.BytesIO(streamed(as_zip))) as archive:
        [name] = archive.namelist()
        assert "answer text" in archive.read(name).decode()
    entries = AuditEntry.objects.filter(action=AuditAction.EXPORT, actor=carol)
    assert entries.count() == 2 and entries.first().detail["conversations"] == [conversation.pk]


def test_reviewers_cannot_export(dave, alice):
    conversation = conversation_with(alice, "Not for export", "x")
    client = signed_in(dave)
    for action in ("export_json", "export_markdown"):
        response = client.post(
            CHANGELIST, {"action": action, "_selected_action": [conversation.pk]}
        )
        assert not getattr(response, "streaming", False)
    assert not AuditEntry.objects.filter(action=AuditAction.EXPORT).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("upstreams")
def test_the_superuser_imports_from_a_provider_and_a_reviewer_cannot(carol, dave, alice):
    title = f"Made elsewhere {uuid.uuid4().hex[:6]}"
    upstream = clients.run(
        lambda: clients.mistral().start(text="hello from elsewhere", model="mistral-small-latest",
                                        title=title)
    )  # fmt: skip
    url = reverse("admin:conversations_conversation_import")
    assert signed_in(dave).get(url).status_code == 403
    assert signed_in(dave).post(url, {"provider": "mistral", "owner": "alice"}).status_code == 403
    response = signed_in(carol).post(url, {"provider": "mistral", "owner": "alice"}, follow=True)
    assert "Import from Mistral" in response.text
    imported = Conversation.objects.get(upstream_id=upstream.conversation_id)
    assert (imported.owner, imported.origin, imported.title) == (alice, "import", title)
    assert imported.messages.filter(text="hello from elsewhere").exists()
    assert AuditEntry.objects.get(action=AuditAction.IMPORT).actor == carol


def test_the_transcript_shows_what_people_and_tools_wrote_as_text(carol, alice):
    conversation = conversation_with(alice, "<b>bold title</b>", "<script>alert(1)</script>")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        text="fine",
        html="<p>fine</p>",
        model="<img src=x onerror=alert(2)>",
        error="<script>alert(3)</script>",
        error_detail="mistral: the connection dropped mid-reply (<script>7</script>)",
        status=MessageStatus.FAILED,
        parts=[
            {"kind": "reasoning", "text": "<img src=x onerror=alert(4)>"},
            {"kind": "tool_call", "id": "1", "name": "<x>", "arguments": "<script>5</script>"},
            {"kind": "tool_result", "id": "1", "result": "<script>6</script>"},
        ],
    )
    page = signed_in(carol).get(transcript_url(conversation)).text
    section = page[page.index('class="transcript"') : page.index("</section>")]
    assert "<script>" not in section and "<img" not in section
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in section
    assert "&lt;img src=x onerror=alert(4)&gt;" in section
    # The failure's detail, which the person was spared, is the reviewer's to read.
    assert "the connection dropped mid-reply (&lt;script&gt;7&lt;/script&gt;)" in section


def test_a_citation_in_the_transcript_is_a_link_only_through_the_allow_list(carol, alice):
    conversation = conversation_with(alice, "Sources", "what are your sources?")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        text="These.",
        html="<p>These.</p>",
        parts=[
            {"kind": "citation", "title": "Evil", "url": "javascript:alert(1)"},
            {"kind": "citation", "title": "Docs", "url": "https://docs.example.com/"},
        ],
    )
    page = signed_in(carol).get(transcript_url(conversation)).text
    section = page[page.index('class="transcript"') : page.index("</section>")]
    assert 'href="javascript' not in section.lower()
    assert "Evil <code>javascript:alert(1)</code>" in section  # named, as text
    assert '<a href="https://docs.example.com/" rel="noopener noreferrer nofollow">Docs</a>' in (
        section
    )


def test_filters_by_owner_and_by_ranges_of_messages_and_tokens(carol, alice, bob):
    short = conversation_with(alice, "Short", "one")
    long = conversation_with(bob, "Long", *[f"message {i}" for i in range(12)])
    Conversation.objects.filter(pk=long.pk).update(tokens_out=5_000)
    client = signed_in(carol)

    def listed(**params) -> list:
        return list(client.get(CHANGELIST, params).context["cl"].result_list)

    assert listed(owner="alice") == [short]
    assert listed(owner="nobody") == []
    assert listed(message_count_range="11-100") == [long]
    assert listed(message_count_range="1-10") == [short]
    assert listed(tokens_out_range="1001-10000") == [long]
    assert listed(tokens_out_range="0") == [short]
