"""`manage.py export_conversations`: conversations as JSON or a Markdown zip, or usage as CSV."""

from __future__ import annotations

import argparse
import datetime
import os
from collections.abc import Iterator
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from administration import audit, exports
from administration.models import AuditAction
from conversations.models import Conversation, DailyUsage, MessageStatus, Origin
from conversations.providers import ADAPTERS

STDOUT = "-"
LABELS = {"json": "JSON", "markdown": "a Markdown zip", "usage-csv": "CSV"}


class Command(BaseCommand):
    help = (
        "Export conversations as one JSON document (every stored field, lossless) or as a zip "
        "of one Markdown transcript per conversation; or, with --format usage-csv, the daily "
        "usage rows as CSV. Filters combine. Output: JSON and CSV go to stdout unless --output "
        "is given; the zip goes to --output, by default webchat-conversations-<time>.zip in "
        "the current directory. Every export is recorded in the audit trail."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--format", choices=list(LABELS), default="json", help="What to write (default json)."
        )
        parser.add_argument("--owner", metavar="USERNAME", help="Only this user's.")
        parser.add_argument("--provider", choices=list(ADAPTERS))
        parser.add_argument("--origin", choices=Origin.values)
        parser.add_argument(
            "--since",
            type=_day,
            metavar="YYYY-MM-DD",
            help="Conversations active on or after this day (usage: rows from this day).",
        )
        parser.add_argument(
            "--until",
            type=_day,
            metavar="YYYY-MM-DD",
            help="Conversations active on or before this day (usage: rows to this day).",
        )
        parser.add_argument(
            "--last-status",
            choices=MessageStatus.values,
            help="Conversations whose last reply ended so (not for usage-csv).",
        )
        parser.add_argument(
            "--output",
            metavar="PATH",
            help="File to write ('-' for stdout; not for the zip). Written whole or not at all.",
        )

    def handle(self, *args, **options) -> None:
        kind = options["format"]
        since, until = options["since"], options["until"]
        if since and until and until < since:
            raise CommandError(f"--until {until} is before --since {since}.")
        if kind == "usage-csv" and options["last_status"]:
            raise CommandError("--last-status filters conversations; usage rows have none.")
        output = options["output"] or (STDOUT if kind != "markdown" else _default_zip_name())
        if kind == "markdown" and output == STDOUT:
            raise CommandError("A zip is binary: give --output PATH for --format markdown.")

        owner = _owner(options["owner"]) if options["owner"] else None
        filters = {
            "owner": owner,
            "provider": options["provider"],
            "origin": options["origin"],
            "since": since,
            "until": until,
        }
        if kind == "usage-csv":
            selected = exports.usage_filters(DailyUsage.objects.all(), **filters)
            chunks = exports.iter_usage_csv(selected.order_by("day", "id"))
            noun = "usage row(s)"
        else:
            filters["last_status"] = options["last_status"]
            selected = exports.conversation_filters(Conversation.objects.all(), **filters)
            if kind == "json":
                chunks = exports.iter_json(selected)
            else:
                chunks = exports.iter_markdown_zip(selected)
            noun = "conversation(s)"
        # Counted up front: the streams do not report back, and the count is for the record.
        count = selected.count()

        if output == STDOUT:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
            where = "stdout"
        else:
            where = str(_write_whole(Path(output), chunks))

        described = _describe(filters)
        audit.record(
            AuditAction.EXPORT,
            f"Exported {count} {noun} as {LABELS[kind]} from the command line"
            + (f" ({described})" if described else ""),
            detail={
                "format": kind,
                "count": count,
                "output": where,
                "filters": {
                    key: _plain(value) for key, value in filters.items() if value is not None
                },
            },
        )
        self.stderr.write(f"Exported {count} {noun} as {LABELS[kind]} to {where}.")


def _day(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day (YYYY-MM-DD)") from None


def _owner(username: str):
    users = get_user_model()._default_manager
    try:
        return users.get_by_natural_key(username)
    except users.model.DoesNotExist:
        raise CommandError(f"No user named {username!r}: nothing exported.") from None


def _default_zip_name() -> str:
    return f"webchat-conversations-{timezone.now():%Y%m%d-%H%M%S}.zip"


def _write_whole(path: Path, chunks: Iterator[str] | Iterator[bytes]) -> Path:
    # A partial file beside the target, renamed at the end: an export that fails half-way
    # leaves no file that looks complete.
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as file:
            for chunk in chunks:
                file.write(chunk.encode() if isinstance(chunk, str) else chunk)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path.resolve()


def _describe(filters: dict) -> str:
    return ", ".join(f"{key} {_plain(value)}" for key, value in filters.items() if value)


def _plain(value) -> str:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if hasattr(value, "get_username"):
        return value.get_username()
    return str(value)
