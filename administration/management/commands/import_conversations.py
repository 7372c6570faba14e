"""`manage.py import_conversations --provider KEY --owner USERNAME`: safe to run twice."""

from __future__ import annotations

import shutil

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from administration import imports
from conversations.providers import ADAPTERS


class ProgressBar:
    """A bar redrawn in place on a terminal; plain lines when the output is a file or a pipe."""

    def __init__(self, out: OutputWrapper, *, width: int = 30) -> None:
        self.out = out
        self.width = width
        self.tty = out.isatty()
        self.drawn = False
        self.listing = ""

    def __call__(self, done: int, total: int | None, title: str) -> None:
        if total is None:
            line = f"{title}: {done} found"
            # Listing walks one conversation at a time: a log gets one line per source.
            if not self.tty and title == self.listing:
                return
            self.listing = title
        else:
            filled = self.width * done // total if total else self.width
            what = "done" if done == total else f"importing “{title}”"
            line = f"[{'#' * filled}{'-' * (self.width - filled)}] {done}/{total} {what}"
        if not self.tty:
            self.out.write(line)
            return
        columns = shutil.get_terminal_size().columns - 1
        self.out.write("\r" + line[:columns].ljust(columns), ending="")
        self.out.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.out.write("")
            self.drawn = False


class Command(BaseCommand):
    help = (
        "Import the conversations made elsewhere at a provider (Orq: standalone and per "
        "configured agent; Mistral: all) for one user, with their messages. Conversations "
        "already known here, under any owner, are skipped, so it is safe to run again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--provider", required=True, choices=list(ADAPTERS))
        parser.add_argument(
            "--owner", required=True, metavar="USERNAME", help="Who the imports belong to."
        )

    def handle(self, *args, provider: str, owner: str, **options) -> None:
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(owner)
        except user_model.DoesNotExist:
            raise CommandError(
                f"There is no user {owner!r}: the owner must be an existing account's username."
            ) from None
        bar = ProgressBar(self.stderr)
        try:
            summary = imports.run_import(provider=provider, owner=user, progress=bar)
        except imports.CannotImport as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.finish()
        self.stdout.write(f"{summary.text()}.")
        for upstream_id, reason in summary.failed:
            self.stdout.write(f"failed {upstream_id}: {reason}")
        if summary.failed:
            raise CommandError(f"{len(summary.failed)} could not be imported; run again to retry.")
