"""Exporting conversations (JSON, a zip of Markdown) and usage (CSV), streamed in flat memory.

Every exporter is a generator of chunks, so the admin hands it to a `StreamingHttpResponse` and
`manage.py export_conversations` writes it to a file; neither ever holds the whole export.
Conversations are read in batches by id, with their messages in one query per batch: memory
and the number of queries follow the number of batches, not of conversations.
"""

from __future__ import annotations

import csv
import datetime
import itertools
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from operator import attrgetter

from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from administration.owners import owner_label
from conversations.models import (
    Attachment,
    Conversation,
    DailyUsage,
    Feedback,
    Message,
    MessageStatus,
)
from conversations.rendering import safe_url

FORMAT = "webchat-export"
VERSION = 1
BATCH_SIZE = 200  # conversations per query; their messages come in one more query
MESSAGE_CHUNK = 100  # message rows fetched from the cursor at a time
SUMMARY_LIMIT = 500  # characters of a tool's arguments or result shown in Markdown
USAGE_COLUMNS = [
    "day",
    "user",
    "provider",
    "model",
    "origin",
    "replies",
    "failures",
    "tokens_in",
    "tokens_out",
    "estimated_replies",
]
# OWASP "CSV injection": a spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --- which conversations ----------------------------------------------------------------------


def conversation_filters(
    queryset: QuerySet,
    *,
    owner=None,
    provider: str | None = None,
    origin: str | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    last_status: str | None = None,
) -> QuerySet:
    """Narrow conversations; `since`/`until` are inclusive days of last activity (`updated`).

    `updated`, like the admin's date filter: an export "since Monday" is meant to catch the
    conversations that went on since Monday, not only those started then.
    """
    if owner is not None:
        queryset = queryset.filter(owner=owner)
    if provider:
        queryset = queryset.filter(provider=provider)
    if origin:
        queryset = queryset.filter(origin=origin)
    if since is not None:
        queryset = queryset.filter(updated__gte=_midnight(since))
    if until is not None and until < datetime.date.max:  # the last day has no day after it
        queryset = queryset.filter(updated__lt=_midnight(until + datetime.timedelta(days=1)))
    if last_status:
        queryset = queryset.filter(last_status=last_status)
    return queryset


def usage_filters(
    queryset: QuerySet,
    *,
    owner=None,
    provider: str | None = None,
    origin: str | None = None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> QuerySet:
    """Narrow `DailyUsage` rows: the conversation filters that a daily rollup has (inclusive)."""
    if owner is not None:
        queryset = queryset.filter(owner=owner)
    if provider:
        queryset = queryset.filter(provider=provider)
    if origin:
        queryset = queryset.filter(origin=origin)
    if since is not None:
        queryset = queryset.filter(day__gte=since)
    if until is not None:
        queryset = queryset.filter(day__lte=until)
    return queryset


def with_messages(
    conversations: QuerySet, *, batch_size: int = BATCH_SIZE, shown: bool = False
) -> Iterator[tuple[Conversation, Iterator[Message]]]:
    """Each conversation (in id order, owner and widget loaded) with an iterator over its messages.

    Two queries per batch of `batch_size` conversations. Consume a conversation's messages
    before asking for the next conversation: they are read from one cursor shared by the batch.
    `conversations` must not be sliced (the batches are slices of it).
    """
    for conversation, messages, _ in _batched(
        conversations, batch_size, feedback=False, shown=shown
    ):
        yield conversation, messages


def _batched(
    conversations: QuerySet, batch_size: int, *, feedback: bool, shown: bool = False
) -> Iterator[tuple[Conversation, Iterator[Message], Mapping[int, list[Feedback]]]]:
    """`with_messages`, and with `feedback` the batch's feedback by message id (one more query
    a batch: feedback is at most one row a reply and person); with `shown` only the messages
    the conversation reads as (no earlier version, no turn a regenerate is replacing)."""
    ordered = conversations.select_related("owner", "widget").order_by("pk")
    last_id = 0
    while True:
        # Keyset, not OFFSET: each batch starts where the last ended, in constant time.
        batch = list(ordered.filter(pk__gt=last_id)[:batch_size])
        if not batch:
            return
        ids = [c.pk for c in batch]
        given: dict[int, list[Feedback]] = {}
        if feedback:
            rows = Feedback.objects.filter(message__conversation_id__in=ids)
            for row in rows.select_related("user").order_by("created", "id"):
                given.setdefault(row.message_id, []).append(row)
        messages = Message.objects.filter(conversation_id__in=ids)
        rows = (
            (messages.shown() if shown else messages)
            .order_by("conversation_id", "id")
            .iterator(chunk_size=MESSAGE_CHUNK)
        )
        groups = itertools.groupby(rows, key=attrgetter("conversation_id"))
        group = next(groups, None)
        for conversation in batch:
            if group is not None and group[0] == conversation.pk:
                yield conversation, group[1], given
                group = next(groups, None)
            else:
                yield conversation, iter(()), given
        if len(batch) < batch_size:
            return
        last_id = batch[-1].pk


# --- JSON: everything we store ----------------------------------------------------------------


# What a person's own export leaves out: how the server ran their replies (leases, the runner,
# the upstream pointers and versions' bookkeeping) and the provider's raw error text, which only
# the admin's transcript shows (conversations/failures.py).
PRIVATE_FIELDS = {
    Conversation: frozenset({"superseded_upstream_ids", "turn_ref", "older_version_shown"}),
    Message: frozenset(
        {
            "error_detail", "runner", "lease_until", "stop_requested", "undo", "upstream_state",
            "replaced_by", "stash", "fork", "seq", "upstream_id",
        }
    ),
}  # fmt: skip


def iter_json(
    conversations: QuerySet, *, batch_size: int = BATCH_SIZE, personal: bool = False
) -> Iterator[str]:
    """One JSON document, a conversation a line, with every stored field of it and its messages.

    Lossless: every concrete field, by its model's own list (a new field is exported without
    changing this), including the reply runner's lease fields; timestamps are ISO 8601 with
    microseconds and offset. The owner is given by username and id; each message lists the
    feedback on it (`feedback`: every field, and its giver's username as `username`).
    `personal`: a person's own download: the messages shown, without PRIVATE_FIELDS.
    """
    exported = json.dumps(timezone.now().isoformat())
    yield f'{{"format": "{FORMAT}", "version": {VERSION}, "exported": {exported}, "conversations": ['
    separator = "\n"
    hidden = PRIVATE_FIELDS if personal else {}
    batches = _batched(conversations, batch_size, feedback=True, shown=personal)
    for conversation, messages, given in batches:
        record = _fields(conversation, skip=hidden.get(Conversation, frozenset()))
        # None for a widget visitor's conversation: it is the widget's (its id is in "widget").
        record["owner"] = conversation.owner.get_username() if conversation.owner_id else None
        record["owner_id"] = conversation.owner_id
        skip = hidden.get(Message, frozenset())
        record["messages"] = [_message_record(m, given.get(m.pk, ()), skip) for m in messages]
        yield separator + json.dumps(record, ensure_ascii=False, default=_json_default)
        separator = ",\n"
    yield "\n]}\n"


def _message_record(
    message: Message, feedback: Iterable[Feedback], skip: frozenset[str] = frozenset()
) -> dict:
    record = _fields(message, skip={"conversation", *skip})
    record["feedback"] = [
        {**_fields(f, skip={"message"}), "username": f.user.get_username()} for f in feedback
    ]
    return record


def _fields(instance: Model, *, skip: frozenset[str] | set[str] = frozenset()) -> dict:
    return {
        field.name: field.value_from_object(instance)
        for field in instance._meta.concrete_fields
        if field.name not in skip
    }


def _json_default(value):
    # Not DjangoJSONEncoder: it cuts datetimes to milliseconds, which would not be lossless.
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"cannot export a {type(value).__name__}")


# --- Markdown: a zip of readable transcripts --------------------------------------------------


class _ZipStream:
    """Where zipfile writes: kept only until the caller takes it; no seek, so it never goes back.

    Without `seek`, zipfile writes each entry's sizes after its data (a data descriptor), which
    is what lets a zip stream out while it is written.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._position = 0

    def write(self, data) -> int:
        self._buffer += data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def iter_markdown_zip(
    conversations: QuerySet, *, batch_size: int = BATCH_SIZE, shown: bool = False
) -> Iterator[bytes]:
    """A zip of one Markdown transcript per conversation, `0001-<title>-<id>.md`, in id order.

    Memory holds one conversation at a time, plus the zip's directory (its entries' names and
    offsets, which the format writes at the end): under a kilobyte per conversation.
    """
    stream = _ZipStream()
    with zipfile.ZipFile(stream, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        pairs = with_messages(conversations, batch_size=batch_size, shown=shown)
        for index, (conversation, messages) in enumerate(pairs, start=1):
            entry = zipfile.ZipInfo(
                markdown_name(conversation, index), date_time=_zip_time(conversation.updated)
            )
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16  # a plain readable file once unzipped
            sent: list[dict] = []
            text = conversation_markdown(conversation, messages, files=sent)
            archive.writestr(entry, text.encode())
            yield stream.take()
            yield from _write_files(archive, stream, conversation, sent)
    yield stream.take()  # the central directory, written on close


FILE_CHUNK = 256 * 1024


def file_path(conversation_id: int, part: dict) -> str:
    """Where a sent file is in an export's zip (the transcript links it)."""
    return f"files/{conversation_id}/{part['attachment']}-{part.get('name') or 'file'}"


def _write_files(archive, stream, conversation, parts: list[dict], prefix: str = ""):
    """The files sent in a conversation, into the zip a chunk at a time (flat memory)."""
    paths = {p["attachment"]: file_path(conversation.pk, p) for p in parts if p.get("attachment")}
    for attachment in Attachment.objects.filter(pk__in=paths).order_by("pk"):
        path = prefix + paths[attachment.pk]
        with (
            archive.open(path, mode="w", force_zip64=True) as member,
            attachment.file.open("rb") as handle,
        ):
            while chunk := handle.read(FILE_CHUNK):
                member.write(chunk)
                if data := stream.take():
                    yield data


def markdown_name(conversation: Conversation, index: int) -> str:
    slug = slugify(conversation.title)[:60].strip("-") or "conversation"
    return f"{index:04d}-{slug}-{conversation.pk}.md"


def conversation_markdown(
    conversation: Conversation,
    messages: Iterable[Message],
    files: list[dict] | None = None,
    files_at: str = "",
) -> str:
    """A transcript for people: what was said, by whom, when, and what the replies cost.

    `files`: filled with the file parts of its messages (a zip export adds their bytes, which
    the transcript links to under `files_at`)."""
    title = " ".join(conversation.display_title.split())
    lines = [
        f"# {title}",
        "",
        f"- Owner: {owner_label(conversation)}",
        f"- Provider: {conversation.provider_label}",
        f"- Agent: {conversation.agent}"
        if conversation.agent
        else f"- Model: {conversation.model}",
        f"- Origin: {conversation.get_origin_display()}",
        f"- Created: {_when(conversation.created)}",
        f"- Updated: {_when(conversation.updated)}",
        f"- Messages: {conversation.message_count}; tokens {conversation.tokens_in:,} in, "
        f"{conversation.tokens_out:,} out",
        f"- Webchat id: {conversation.pk}"
        + (f"; upstream id: {conversation.upstream_id}" if conversation.upstream_id else ""),
    ]
    for message in messages:
        lines += ["", "---", "", *_message_lines(message)]
        if message.files:
            lines += ["", *(_file_line(conversation, p, files_at) for p in message.files)]
            if files is not None:
                files.extend(message.files)
    return "\n".join(lines) + "\n"


def _message_lines(message: Message) -> list[str]:
    heading = f"## {message.get_role_display()} · {_when(message.created)}"
    if message.status != MessageStatus.COMPLETE:
        heading += f" · {message.get_status_display()}"
    lines = [heading, ""]
    if message.role == Message.Role.ASSISTANT:
        lines += [f"*{_reply_facts(message)}*", ""]
    if message.error:
        lines += [f"> **Error:** {' '.join(message.error.split())}", ""]
    if message.reasoning:
        lines += ["> **Reasoning**", ">", *_quoted(message.reasoning), ""]
    notices = [p for p in message.parts if p.get("kind") == "notice"]
    summaries = [_part_summary(p) for p in [*message.tools, *notices]]
    if summaries:
        lines += [*summaries, ""]
    lines.append(message.text or "*(no text)*")
    return lines


def _file_line(conversation: Conversation, part: dict, files_at: str) -> str:
    name = _link_text(part.get("name") or "file")
    size = f"{part['size']:,} bytes" if part.get("size") else ""
    about = ", ".join(v for v in (part.get("mime"), size) if v)
    if part.get("attachment"):
        return f"- File: [{name}](<{files_at}{file_path(conversation.pk, part)}>) ({about})"
    return f"- File: {name}" + (f" ({about})" if about else "")


def _reply_facts(message: Message) -> str:
    facts = [f"model {message.model}" if message.model else "model not reported"]
    if message.usage_input is not None or message.usage_output is not None:
        usage = f"tokens {message.usage_input or 0:,} in, {message.usage_output or 0:,} out"
        if message.usage_total is not None:
            usage += f", {message.usage_total:,} total"
        facts.append(usage)
    else:
        facts.append("usage not reported")
    if message.completed:
        facts.append(f"finished {_when(message.completed)}")
    return "; ".join(facts)


def _part_summary(part: dict) -> str:
    match part.get("kind"):
        case "tool_call":
            return f"- Tool call `{part.get('name', '?')}`: {_short(part.get('arguments'))}"
        case "tool_result" if part.get("error"):
            return f"- Tool failed: {_short(part['error'])}"
        case "tool_result":
            return f"- Tool result: {_short(part.get('result'))}"
        case "citation":
            title = part.get("title") or part.get("source") or "source"
            if url := safe_url(part.get("url")):
                return f"- Source: [{_link_text(title)}]({_destination(url)})"
            # Not on the allow-list Markdown links pass (javascript:, …): text, never a link.
            return (
                f"- Source: {title} {_short(part.get('url'))}"
                if part.get("url")
                else f"- Source: {title}"
            )
    return f"- Note: {_short(part.get('text'))}"


def _link_text(text: str) -> str:
    return re.sub(r"([\\\[\]])", r"\\\1", " ".join(str(text).split()))


def _destination(url: str) -> str:
    if re.fullmatch(r"[^\s()<>]+", url):
        return url
    # Inside <...> a destination may hold anything but these.
    return "<" + url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20") + ">"


def _short(value) -> str:
    if value is None or value == "":
        return "(nothing)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    if len(text) > SUMMARY_LIMIT:
        text = text[: SUMMARY_LIMIT - 1] + "…"
    # In backticks, so Markdown in a tool's output cannot restyle the transcript.
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}"


def _quoted(text: str) -> list[str]:
    return [f"> {line}".rstrip() for line in text.splitlines()]


def _when(moment: datetime.datetime | None) -> str:
    if moment is None:
        return "unknown"
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}"


def _zip_time(moment: datetime.datetime) -> tuple[int, int, int, int, int, int]:
    # Zip timestamps are local wall time from 1980 to 2107, without a zone.
    local = timezone.localtime(moment)
    clamped = min(max(local.year, 1980), 2107)
    return (clamped, local.month, local.day, local.hour, local.minute, local.second)


# --- usage as CSV -----------------------------------------------------------------------------


class _Line:
    """csv.writer's file: hands back each row instead of keeping it (Django's streaming CSV)."""

    def write(self, value: str) -> str:
        return value


def iter_usage_csv(rows: Iterable) -> Iterator[str]:
    """`DailyUsage` rows as CSV with a header; text a spreadsheet would run is defused."""
    if isinstance(rows, QuerySet):
        rows = rows.select_related("owner", "widget").iterator(chunk_size=2000)
    writer = csv.writer(_Line())
    yield writer.writerow(USAGE_COLUMNS)
    for row in rows:
        yield writer.writerow(
            [
                row.day.isoformat(),
                spreadsheet_safe(owner_label(row)),
                spreadsheet_safe(row.provider),
                spreadsheet_safe(row.model),
                spreadsheet_safe(row.origin),
                row.replies,
                row.failures,
                row.tokens_in,
                row.tokens_out,
                row.estimated_replies,
            ]
        )


def spreadsheet_safe(value: str) -> str:
    """A leading `'` makes a spreadsheet show `=1+1` as text instead of computing it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def iter_user_archive(user, *, batch_size: int = BATCH_SIZE) -> Iterator[bytes]:
    """Everything of one person: `conversations.json`, `usage.csv` and a Markdown transcript
    per conversation, as one streamed zip. Widget visitors' conversations are not the widget
    owner's (they have no owner), so they are not in it."""
    conversations = Conversation.objects.filter(owner=user)
    stream = _ZipStream()
    with zipfile.ZipFile(stream, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in (
            ("conversations.json", iter_json(conversations, batch_size=batch_size)),
            ("usage.csv", iter_usage_csv(DailyUsage.objects.filter(owner=user).order_by("day"))),
        ):
            with archive.open(name, mode="w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk.encode())
                    if data := stream.take():
                        yield data
        pairs = with_messages(conversations, batch_size=batch_size)
        for index, (conversation, messages) in enumerate(pairs, start=1):
            sent: list[dict] = []
            text = conversation_markdown(conversation, messages, files=sent, files_at="../")
            archive.writestr(f"transcripts/{markdown_name(conversation, index)}", text.encode())
            yield stream.take()
            yield from _write_files(archive, stream, conversation, sent)
    yield stream.take()
