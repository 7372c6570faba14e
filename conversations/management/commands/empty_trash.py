"""`manage.py empty_trash [--dry-run]`: what was in Trash WEBCHAT_TRASH_DAYS, deleted for good."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations import trash
from upstream import clients


class Command(BaseCommand):
    help = (
        "Delete conversations that have been in Trash longer than WEBCHAT_TRASH_DAYS, at the "
        "provider first, leaving a tombstone for each (reason 'trash'). Safe from cron, safe to "
        "run twice, and beside the server, which does the same about once an hour."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; change nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        self.stderr.write(f"Trash keeps conversations {settings.WEBCHAT_TRASH_DAYS} days.")
        if dry_run:
            count = 0
            for conversation in trash.expired().order_by("pk").iterator(chunk_size=500):
                # No title: whoever runs cron must not read what conversations are about.
                self.stdout.write(
                    f"would delete conversation #{conversation.pk} ({conversation.provider}, "
                    f"in Trash since {conversation.trashed_at:%Y-%m-%d})"
                )
                count += 1
            self.stderr.write(
                f"Dry run: {count} conversation(s) would be deleted; nothing changed."
            )
            return
        outcomes = clients.run(trash.empty_expired)
        for outcome in outcomes:
            self.stdout.write(str(outcome))
        kept = [o for o in outcomes if not o.deleted]
        self.stderr.write(f"Deleted {len(outcomes) - len(kept)}, kept {len(kept)}.")
        if kept:
            raise CommandError(f"{len(kept)} conversation(s) could not be deleted upstream")
