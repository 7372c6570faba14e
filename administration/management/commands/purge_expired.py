"""`manage.py purge_expired [--dry-run]`: the retention policy, safe from cron and to run twice."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from administration import retention


class Command(BaseCommand):
    help = (
        "Delete conversations idle longer than WEBCHAT_RETENTION_DAYS (per origin: "
        "WEBCHAT_RETENTION_BY_ORIGIN), at the provider first, leaving a tombstone for each."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be deleted; change nothing."
        )

    def handle(self, *args, dry_run: bool = False, **options) -> None:
        try:
            policy = retention.Policy.from_settings()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"Policy: {policy.describe()}")
        if dry_run:
            count = 0
            for conversation in retention.expired(policy).iterator(chunk_size=500):
                self.stdout.write(f"would delete {retention.describe(conversation)}")
                count += 1
            self.stderr.write(
                f"Dry run: {count} conversation(s) would be deleted; nothing changed."
            )
            return
        outcomes = retention.purge()
        for outcome in outcomes:
            self.stdout.write(str(outcome))
        kept = [o for o in outcomes if not o.deleted]
        self.stderr.write(f"Deleted {len(outcomes) - len(kept)}, kept {len(kept)}.")
        if kept:
            raise CommandError(f"{len(kept)} conversation(s) could not be deleted upstream")
