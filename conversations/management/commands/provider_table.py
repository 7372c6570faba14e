"""`manage.py provider_table [--write README.md]`: the providers' differences, from the adapters."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from conversations.providers import ADAPTERS
from conversations.providers.differences import table, with_table


class Command(BaseCommand):
    help = (
        "Print the 'Where the providers differ' table the adapters' capabilities make, or write "
        "it between the markers in a Markdown file."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--write", metavar="FILE", help="Replace the table in this file.")

    def handle(self, *args, write: str | None, **options) -> None:
        if write is None:
            self.stdout.write(table(ADAPTERS.values()))
            return
        path = Path(write)
        path.write_text(with_table(path.read_text(encoding="utf-8"), ADAPTERS.values()))
        self.stdout.write(f"Wrote the provider table into {path}.")
