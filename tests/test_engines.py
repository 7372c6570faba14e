"""With DATABASE_URL and REDIS_URL set, Webchat runs on PostgreSQL and Redis (CI has both)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
from channels.layers import ChannelLayerManager
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from emulator.process import ROOT
from tests.conftest import REDIS_URL
from webchat.env import cache_config, channel_layers_config

DEMO_ENV = {"DJANGO_SETTINGS_MODULE": "webchat.settings", "WEBCHAT_DEMO": "1"}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webchat.settings",
            "WEBCHAT_DEMO": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_settings_switch_to_postgresql_and_redis(scratch_database):
    code = (
        "import django; django.setup();"
        "from django.conf import settings; from django.db import connection;"
        "from channels.layers import get_channel_layer;"
        "connection.ensure_connection();"
        "print(connection.vendor, type(get_channel_layer()).__name__,"
        " settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            **DEMO_ENV,
            "DATABASE_URL": scratch_database,
            "REDIS_URL": REDIS_URL,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["postgresql", "RedisChannelLayer", "RedisCache"]


def test_migrations_apply_on_postgresql(scratch_database):
    env = {"DATABASE_URL": scratch_database}
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    check = manage("migrate", "--check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    with psycopg.connect(scratch_database) as conn:
        applied = conn.execute("SELECT count(*) FROM django_migrations").fetchone()[0]
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        }
    assert applied > 10
    assert {"auth_user", "django_session"} <= tables


async def test_channels_redis_group_round_trip():
    config = channel_layers_config(REDIS_URL)
    config["default"]["CONFIG"]["prefix"] = f"webchat-test-{uuid.uuid4().hex[:8]}"
    with override_settings(CHANNEL_LAYERS=config):
        layer = ChannelLayerManager()["default"]
    assert type(layer).__name__ == "RedisChannelLayer"
    try:
        first = await layer.new_channel()
        second = await layer.new_channel()
        await layer.group_add("conversation.42", first)
        await layer.group_add("conversation.42", second)
        await layer.group_send("conversation.42", {"type": "reply.delta", "seq": 1, "text": "Hi"})
        assert await layer.receive(first) == {"type": "reply.delta", "seq": 1, "text": "Hi"}
        assert await layer.receive(second) == {"type": "reply.delta", "seq": 1, "text": "Hi"}
        await layer.group_discard("conversation.42", second)
        await layer.group_send("conversation.42", {"type": "reply.delta", "seq": 2, "text": "!"})
        assert (await layer.receive(first))["seq"] == 2
    finally:
        await layer.flush()


def test_redis_cache_round_trip():
    config = cache_config(REDIS_URL)["default"]
    cache = RedisCache(config["LOCATION"], {"KEY_PREFIX": f"webchat-test-{uuid.uuid4().hex[:8]}"})
    cache.set("limit:alice", 3, timeout=30)
    assert cache.incr("limit:alice") == 4
    assert cache.get("limit:alice") == 4
    cache.delete("limit:alice")
