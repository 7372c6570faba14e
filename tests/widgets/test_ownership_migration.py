"""The migration that gives visitors' conversations and usage to their widget, on both engines.

Run in a child process against a database of its own (a file SQLite, a scratch PostgreSQL):
migrate to just before it, make rows with the models of that time, migrate on, read back, and back again.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

from emulator.process import ROOT

MIGRATION = "0012_widget_conversations_belong_to_the_widget"

SCRIPT = """
import json
import django
django.setup()
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps

before, after = {before!r}, {after!r}
migrate([("conversations", after)])  # everything there, then back to just before
apps = migrate([("conversations", before)])
User = apps.get_model("auth", "User")
Widget = apps.get_model("widgets", "Widget")
Conversation = apps.get_model("conversations", "Conversation")
DailyUsage = apps.get_model("conversations", "DailyUsage")
alice = User.objects.create(username="alice")
bob = User.objects.create(username="bob")
shop = Widget.objects.create(name="Shop", owner=alice, provider="mistral", model="m",
                             public_key="wk_shop", secret="s")
team = Conversation.objects.create(owner=alice, provider="mistral", model="m", origin="app")
visitor = Conversation.objects.create(owner=alice, provider="mistral", model="m",
                                      origin="widget", widget=shop, visitor="anon:1")
day = "2025-03-01"
usage = dict(day=day, provider="mistral", model="m")
DailyUsage.objects.create(owner=alice, origin="app", replies=5, **usage)
# The widget changed hands during the day: two rows of one widget, under two owners.
DailyUsage.objects.create(owner=alice, origin="widget", widget=shop, replies=2, tokens_in=10,
                          tokens_out=20, failures=1, estimated_replies=1, **usage)
DailyUsage.objects.create(owner=bob, origin="widget", widget=shop, replies=3, tokens_in=1,
                          tokens_out=2, **usage)

apps = migrate([("conversations", after)])
Conversation = apps.get_model("conversations", "Conversation")
DailyUsage = apps.get_model("conversations", "DailyUsage")
rows = DailyUsage.objects.order_by("origin").values(
    "owner_id", "origin", "widget_id", "replies", "failures", "tokens_in", "tokens_out",
    "estimated_replies")
result = {{
    "team": Conversation.objects.get(pk=team.pk).owner_id == alice.pk,
    "visitor": Conversation.objects.get(pk=visitor.pk).owner_id,
    "usage": list(rows),
}}
# And back: the widget's owner has them again.
apps = migrate([("conversations", before)])
Conversation = apps.get_model("conversations", "Conversation")
result["reversed"] = Conversation.objects.get(pk=visitor.pk).owner_id == alice.pk
print(json.dumps(result))
"""


def migrate_and_read(database_url: str) -> dict:
    module = importlib.import_module(f"conversations.migrations.{MIGRATION}")
    [before] = [name for app, name in module.Migration.dependencies if app == "conversations"]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(before=before, after=MIGRATION)],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webchat.settings",
            "WEBCHAT_DEMO": "1",
            "DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def check(result: dict) -> None:
    assert result["team"] is True
    assert result["visitor"] is None
    assert result["reversed"] is True
    app, widget = result["usage"]
    assert (app["owner_id"], app["replies"]) == (1, 5)
    assert widget == {
        "owner_id": None,
        "origin": "widget",
        "widget_id": 1,
        "replies": 5,
        "failures": 1,
        "tokens_in": 11,
        "tokens_out": 22,
        "estimated_replies": 1,
    }


@pytest.mark.slow
def test_the_migration_gives_visitors_conversations_and_usage_to_the_widget_on_sqlite(tmp_path):
    check(migrate_and_read(f"sqlite:///{tmp_path / 'db.sqlite3'}"))


@pytest.mark.slow
@pytest.mark.django_db(databases=[])
def test_the_migration_gives_visitors_conversations_and_usage_to_the_widget_on_postgresql(
    scratch_database,
):
    check(migrate_and_read(scratch_database))
