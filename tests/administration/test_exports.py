"""Exports: lossless JSON, readable Markdown zips, defused CSV; streamed, in flat memory."""

from __future__ import annotations

import base64
import csv
import datetime
import io
import json
import os
import tracemalloc
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from administration import exports
from administration.models import AuditAction, AuditEntry
from conversations.models import Conversation, DailyUsage, Message, MessageStatus

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def at(day: str, time: str = "12:00:00.123456") -> datetime.datetime:
    return datetime.datetime.fromisoformat(f"{day}T{time}+00:00")


def conversation(owner, title="A chat", **fields) -> Conversation:
    fields = {"provider": "mistral", "model": "mistral-small-latest", **fields}
    return Conversation.objects.create(owner=owner, title=title, **fields)


def many(owner, count: int, *, messages: int = 0, size: int = 20) -> None:
    """`count` conversations of `messages` messages of `size` characters, in two queries.

    Random text: it compresses about as little as real text, so a zip that kept it would show.
    """
    made = Conversation.objects.bulk_create(
        Conversation(owner=owner, provider="orq", model="gpt", title=f"Chat {i}")
        for i in range(count)
    )
    Message.objects.bulk_create(
        Message(
            conversation=c,
            role="user" if n % 2 == 0 else "assistant",
            text=f"{c.pk}:{n} " + base64.b64encode(os.urandom(size * 3 // 4)).decode(),
            usage_input=10,
        )
        for c in made
        for n in range(messages)
    )


def exported(conversations=None) -> dict:
    chunks = exports.iter_json(conversations or Conversation.objects.all())
    return json.loads("".join(chunks))


def unzipped(chunks) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    return archive


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_conversations", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- JSON -------------------------------------------------------------------------------------


def test_json_export_is_one_document_with_every_stored_field(alice, bob):
    full = conversation(
        alice,
        "Ünïcode “title” 🚀",
        provider="orq",
        model="",
        agent="support-agent",
        upstream_id="conv_01",
        superseded_upstream_ids=["conv_00", "conv_000"],
        turn_ref="task_9",
        titled=True,
        origin="widget",
        created=at("2025-03-01", "08:00:00.000001"),
        updated=at("2025-03-02", "09:30:15.654321"),
        message_count=2,
        tokens_in=1234,
        tokens_out=5678,
        last_status=MessageStatus.FAILED,
    )
    Message.objects.create(
        conversation=full, role="user", text="Hello <b>there</b>\n\nline", upstream_id="msg_1",
        created=at("2025-03-01", "08:00:01.5"),
    )  # fmt: skip
    Message.objects.create(
        conversation=full,
        role="assistant",
        text="Partial answer",
        html="<p>Partial answer</p>",
        parts=[
            {"kind": "reasoning", "text": "Think first."},
            {"kind": "tool_call", "id": "c1", "name": "search", "arguments": {"q": "x", "n": 2}},
            {"kind": "tool_result", "id": "c1", "result": "found"},
            {"kind": "citation", "title": "Docs", "url": "https://example.com/", "source": "web"},
            {"kind": "notice", "text": "Handed over"},
        ],
        status=MessageStatus.FAILED,
        error="upstream said no",
        model="gpt-4o",
        usage_input=11,
        usage_output=22,
        usage_total=33,
        upstream_id="msg_2",
        seq=17,
        runner="host:123",
        lease_until=at("2025-03-01", "08:05:00"),
        stop_requested=True,
        created=at("2025-03-01", "08:00:02"),
        completed=at("2025-03-01", "08:00:09.999999"),
    )
    empty = conversation(bob, "")

    document = exported()

    assert document["format"] == "webchat-export" and document["version"] == 1
    assert datetime.datetime.fromisoformat(document["exported"]).tzinfo is not None
    records = document["conversations"]
    assert [r["id"] for r in records] == [full.pk, empty.pk]
    for record in records:
        row = Conversation.objects.get(pk=record["id"])
        assert record["owner"] == row.owner.username and record["owner_id"] == row.owner_id
        assert_same_fields(record, row, skip={"owner"})
        rows = list(row.messages.order_by("id"))
        assert [m["id"] for m in record["messages"]] == [m.pk for m in rows]
        for message, message_row in zip(record["messages"], rows, strict=True):
            assert "conversation" not in message
            assert_same_fields(message, message_row, skip={"conversation"})
    assert records[0]["messages"][1]["parts"][1]["arguments"] == {"q": "x", "n": 2}
    assert records[0]["title"] == "Ünïcode “title” 🚀"
    assert records[1]["messages"] == []


def assert_same_fields(record: dict, row, *, skip: set[str]) -> None:
    fields = [f for f in row._meta.concrete_fields if f.name not in skip]
    for field in fields:
        value = field.value_from_object(row)
        if isinstance(value, datetime.datetime):
            moment = datetime.datetime.fromisoformat(record[field.name])
            assert moment.tzinfo is not None, field.name
            assert moment == value, field.name
        else:
            assert record[field.name] == value, field.name
    assert set(record) - {"owner", "owner_id", "messages", "feedback"} == {f.name for f in fields}


def test_filters_narrow_by_owner_provider_origin_days_and_status(alice, bob):
    first = conversation(alice, updated=at("2025-03-10", "00:00:00"))
    last = conversation(alice, updated=at("2025-03-10", "23:59:59.999999"))
    later = conversation(alice, provider="orq", updated=at("2025-03-11", "00:00:00"))
    widget = conversation(bob, origin="widget", updated=at("2025-03-01"), last_status="failed")

    def ids(**filters) -> list[int]:
        selected = exports.conversation_filters(Conversation.objects.all(), **filters)
        return [r["id"] for r in exported(selected)["conversations"]]

    assert ids() == [first.pk, last.pk, later.pk, widget.pk]
    assert ids(owner=bob) == [widget.pk]
    assert ids(provider="orq") == [later.pk]
    assert ids(origin="widget") == [widget.pk]
    assert ids(last_status="failed") == [widget.pk]
    day = datetime.date(2025, 3, 10)
    assert ids(since=day, until=day) == [first.pk, last.pk]
    assert ids(since=day + datetime.timedelta(days=1)) == [later.pk]
    assert ids(until=day - datetime.timedelta(days=1)) == [widget.pk]
    assert ids(owner=alice, provider="mistral", since=day) == [first.pk, last.pk]


def test_queries_follow_the_batches_not_the_conversations(alice):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            document = exported()
        assert all(len(c["messages"]) == 2 for c in document["conversations"])
        return len(captured)

    many(alice, 10, messages=2)
    assert queries() == 3  # one batch: its conversations, their messages and feedback
    many(alice, 990, messages=2)
    # Five full batches of 200, three queries each, and one more to find there is no sixth.
    assert queries() == 3 * 5 + 1


def peaks(owner, exporter) -> tuple[int, int]:
    """Peak traced memory while an export of 200, then of 2,000 conversations is consumed."""

    def peak() -> int:
        tracemalloc.start()
        try:
            for _chunk in exporter(Conversation.objects.all()):
                pass  # sent on and forgotten, as a streaming response does
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    many(owner, 200, messages=3, size=2000)
    for _chunk in exporter(Conversation.objects.all()):
        pass  # first use: imports and caches, not what is measured
    few = peak()
    many(owner, 1800, messages=3, size=2000)  # about 11 MB more text
    return few, peak()


@pytest.mark.slow
def test_json_memory_stays_flat_as_conversations_grow_tenfold(alice):
    few, lots = peaks(alice, exports.iter_json)
    # Each added conversation holds 6 KB of text: keeping them would add that much apiece.
    # What grows instead is noise (caches other tests warmed): well under a kilobyte each.
    assert (lots - few) / 1800 < 1024, (few, lots)


@pytest.mark.slow
def test_markdown_zip_memory_grows_only_by_the_zip_directory(alice):
    few, lots = peaks(alice, exports.iter_markdown_zip)
    # A zip lists every file at its end, so the writer keeps each file's name and offset until
    # then (about half a kilobyte); the ~6 KB transcripts themselves are never kept.
    assert (lots - few) / 1800 < 1024


# --- Markdown ---------------------------------------------------------------------------------


def test_markdown_zip_has_one_readable_transcript_per_conversation(alice, bob):
    twin_a = conversation(alice, "Same title", agent="helper", model="")
    twin_b = conversation(bob, "Same title")
    untitled = conversation(alice, "", origin="widget")
    Message.objects.create(conversation=twin_a, role="user", text="What is **2+2**?")
    Message.objects.create(
        conversation=twin_a,
        role="assistant",
        text="It is 4.",
        model="mistral-large",
        usage_input=7,
        usage_output=3,
        usage_total=10,
        parts=[
            {"kind": "reasoning", "text": "Add them.\nCarefully."},
            {"kind": "tool_call", "id": "c", "name": "calculator", "arguments": {"expr": "2+2"}},
            {"kind": "tool_result", "id": "c", "error": "calculator offline"},
            {"kind": "citation", "title": "Arithmetic", "url": "https://example.com/a"},
        ],
    )
    Message.objects.create(
        conversation=twin_b, role="assistant", text="Half a", status="stopped", error="Stopped."
    )

    chunks = list(exports.iter_markdown_zip(Conversation.objects.all()))

    assert len(chunks) == 4  # one per conversation, then the zip's directory: it streamed
    archive = unzipped(chunks)
    names = archive.namelist()
    assert names == [
        f"0001-same-title-{twin_a.pk}.md",
        f"0002-same-title-{twin_b.pk}.md",
        f"0003-conversation-{untitled.pk}.md",
    ]
    first = archive.read(names[0]).decode()
    assert first.startswith("# Same title\n")
    for expected in [
        "- Owner: alice",
        "- Provider: Mistral",
        "- Agent: helper",
        "## User · ",
        "What is **2+2**?",
        "## Assistant · ",
        "model mistral-large; tokens 7 in, 3 out, 10 total",
        "> Add them.\n> Carefully.",
        '- Tool call `calculator`: ` {"expr": "2+2"} `',
        "- Tool failed: ` calculator offline `",
        "- Source: [Arithmetic](https://example.com/a)",
        "It is 4.",
    ]:
        assert expected in first
    assert "Complete" not in first  # the usual status goes without saying
    second = archive.read(names[1]).decode()
    assert "- Owner: bob" in second and " · Stopped" in second and "> **Error:** Stopped." in second
    third = archive.read(names[2]).decode()
    assert third.startswith("# New conversation\n") and "- Origin: Widget" in third


def test_a_citation_in_the_markdown_export_is_a_link_only_through_the_allow_list(alice):
    chat = conversation(alice, "Sources")
    Message.objects.create(
        conversation=chat,
        role="assistant",
        text="These.",
        parts=[
            {"kind": "citation", "title": "Evil", "url": "javascript:alert(1)"},
            {"kind": "citation", "title": "A [b] c", "url": "https://example.com/a b"},
        ],
    )
    text = exports.conversation_markdown(chat, chat.messages.all())
    assert "](javascript" not in text
    assert "- Source: Evil ` javascript:alert(1) `" in text
    assert r"- Source: [A \[b\] c](<https://example.com/a%20b>)" in text


# --- usage CSV --------------------------------------------------------------------------------


def test_usage_csv_defuses_spreadsheet_formulas(django_user_model, alice):
    mallory = django_user_model.objects.create_user("=cmd|' /C calc'!A0")
    day = datetime.date(2025, 3, 1)
    for owner, model in [(mallory, "mistral-small"), (alice, "+1"), (alice, "-1")]:
        DailyUsage.objects.create(day=day, owner=owner, provider="mistral", model=model)
    DailyUsage.objects.create(
        day=day, owner=alice, provider="orq", model="@SUM(1)", replies=3, failures=1,
        tokens_in=100, tokens_out=200, estimated_replies=2,
    )  # fmt: skip
    DailyUsage.objects.create(day=day, owner=alice, provider="orq", model="\tcalc")

    text = "".join(exports.iter_usage_csv(DailyUsage.objects.order_by("id")))

    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    assert header == exports.USAGE_COLUMNS
    assert rows[0][:4] == ["2025-03-01", "'=cmd|' /C calc'!A0", "mistral", "mistral-small"]
    assert [row[3] for row in rows[1:]] == ["'+1", "'-1", "'@SUM(1)", "'\tcalc"]
    assert rows[3] == ["2025-03-01", "alice", "orq", "'@SUM(1)", "app", "3", "1", "100", "200", "2"]


# --- the command ------------------------------------------------------------------------------


def test_command_writes_json_of_the_owner_to_a_file_and_audits_it(alice, bob, tmp_path):
    mine = conversation(alice, "Mine", updated=at("2025-03-10"))
    Message.objects.create(conversation=mine, role="user", text="hello")
    conversation(alice, "Too old", updated=at("2025-01-01"))
    conversation(bob, "Not mine", updated=at("2025-03-10"))
    target = tmp_path / "export.json"

    out, err = run("--owner", "alice", "--since", "2025-03-01", "--output", str(target))

    assert out == ""
    assert f"Exported 1 conversation(s) as JSON to {target}" in err
    assert not list(tmp_path.glob("*.partial"))
    document = json.loads(target.read_text(encoding="utf-8"))
    [record] = document["conversations"]
    assert (record["title"], record["messages"][0]["text"]) == ("Mine", "hello")
    entry = AuditEntry.objects.get(action=AuditAction.EXPORT)
    assert entry.actor is None and entry.actor_name == "system (command line)"
    assert "Exported 1 conversation(s) as JSON" in entry.summary
    assert entry.detail == {
        "format": "json",
        "count": 1,
        "output": str(target),
        "filters": {"owner": "alice", "since": "2025-03-01"},
    }


def test_command_json_goes_to_stdout_by_default(alice):
    conversation(alice, "Piped")
    out, err = run("--provider", "mistral")
    assert [r["title"] for r in json.loads(out)["conversations"]] == ["Piped"]
    assert "to stdout" in err


def test_command_writes_the_markdown_zip_to_a_default_file(alice, tmp_path, monkeypatch):
    conversation(alice, "Zipped")
    monkeypatch.chdir(tmp_path)
    _, err = run("--format", "markdown")
    [written] = tmp_path.glob("webchat-conversations-*.zip")
    assert f"to {written}" in err
    with zipfile.ZipFile(written) as archive:
        [name] = archive.namelist()
        assert archive.read(name).decode().startswith("# Zipped\n")
    with pytest.raises(CommandError, match="zip is binary"):
        run("--format", "markdown", "--output", "-")


def test_command_exports_usage_csv_within_the_days(alice, bob):
    for day in (1, 2, 3):
        DailyUsage.objects.create(
            day=datetime.date(2025, 3, day), owner=alice, provider="orq", model="gpt"
        )
    DailyUsage.objects.create(day=datetime.date(2025, 3, 2), owner=bob, provider="orq", model="x")
    out, err = run(
        "--format",
        "usage-csv",
        "--owner",
        "alice",
        "--since",
        "2025-03-02",
        "--until",
        "2025-03-03",
    )
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert [(r[0], r[1]) for r in rows[1:]] == [("2025-03-02", "alice"), ("2025-03-03", "alice")]
    assert "Exported 2 usage row(s) as CSV to stdout" in err
    assert AuditEntry.objects.get(action=AuditAction.EXPORT).detail["count"] == 2


def test_command_refuses_an_unknown_owner_and_writes_nothing(alice, tmp_path):
    conversation(alice)
    target = tmp_path / "out.json"
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run("--owner", "nobody", "--output", str(target))
    assert not target.exists() and not AuditEntry.objects.exists()
    with pytest.raises(CommandError, match="before --since"):
        run("--since", "2025-03-02", "--until", "2025-03-01")
