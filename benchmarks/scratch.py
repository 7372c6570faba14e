"""What the PostgreSQL benchmarks share: a scratch database made for one run (or kept for the
next with --keep), Django set up on it, data made by SQL, and the results written as JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def create_database(keep_name: str | None) -> tuple[str, str]:
    name = keep_name or f"webchat_bench_{uuid.uuid4().hex[:8]}"
    base, _, _ = ADMIN_URL.rpartition("/")
    if not keep_name:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    return name, f"{base}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def filled(model, given: dict[str, str]) -> tuple[str, str]:
    """The INSERT's columns and SQL values: `given`, and every other NOT NULL column at its
    field's default (fields added later need no change here)."""
    from django.db.models import JSONField

    values = dict(given)
    for field in model._meta.concrete_fields:
        if field.column in values or field.null or field.primary_key:
            continue
        default = field.get_default()
        if isinstance(field, JSONField):
            literal = "'" + json.dumps(default).replace("'", "''") + "'"
        elif isinstance(default, bool):
            literal = "true" if default else "false"
        elif isinstance(default, int | float):
            literal = str(default)
        elif default is None or hasattr(default, "isoformat"):
            literal = "now()"
        else:
            literal = "'" + str(default).replace("'", "''") + "'"
        values[field.column] = literal
    return ", ".join(values), ", ".join(values.values())


def run(
    description: str, populate: Callable[[str], None], measure: Callable[[], dict], name: str
) -> None:
    """Parse --keep, make (or reuse) the database, populate it, measure, write RESULTS/<name>.json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--keep", metavar="DATABASE", nargs="?", const="", default=None)
    args = parser.parse_args()
    database, url = create_database(args.keep or None)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="webchat.settings",
        WEBCHAT_DEMO="1",
        ORQ_API_KEY="bench",
        MISTRAL_API_KEY="bench",
        LOG_LEVEL="WARNING",
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    import django

    django.setup()
    from django.core.management import call_command

    began = time.monotonic()
    print(f"{platform.node()} · {platform.processor() or platform.machine()} · "
          f"{os.cpu_count()} cores · {time.strftime('%Y-%m-%d %H:%M %Z')} · {database}", flush=True)  # fmt: skip
    try:
        if not args.keep:
            call_command("migrate", verbosity=0)
            populate(url)
            print(f"populated in {time.monotonic() - began:.0f} s", flush=True)
        results = measure()
    finally:
        if args.keep is None:
            drop_database(database)
        else:
            print(f"kept {url}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2))
