"""With DATABASE_URL and REDIS_URL set, Webchat runs on PostgreSQL and Redis (CI has both)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from channels.layers import ChannelLayerManager
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from conversations import fanout
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


@pytest.mark.slow
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


async def test_frames_go_through_redis_only_when_another_process_watches(monkeypatch):
    """Two layers with their own client prefixes are two processes sharing one Redis."""
    prefix = f"webchat-test-{uuid.uuid4().hex[:8]}"
    layers = []
    for _ in range(2):
        config = channel_layers_config(REDIS_URL)
        config["default"]["CONFIG"]["prefix"] = prefix
        with override_settings(CHANNEL_LAYERS=config):
            layers.append(ChannelLayerManager()["default"])
    here, there = layers
    monkeypatch.setattr(fanout, "get_channel_layer", lambda: here)
    group = fanout.group_name(7)
    try:
        mine = await here.new_channel()
        await here.group_add(group, mine)
        # Only this process's socket watches: it is handed the frame, nothing goes to Redis.
        await fanout.broadcast(7, '{"seq": 1}', recheck=True)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(here.receive(mine), 0.5)
        theirs = await there.new_channel()
        await there.group_add(group, theirs)
        await fanout.broadcast(7, '{"seq": 2}', recheck=True)
        message = await asyncio.wait_for(there.receive(theirs), 5)
        assert message["frame"] == '{"seq": 2}' and not fanout.from_elsewhere(message)
        # This process's socket also gets it by group; it drops what it was handed already.
        echoed = await asyncio.wait_for(here.receive(mine), 5)
        assert echoed["frame"] == '{"seq": 2}'
        await there.group_discard(group, theirs)
        await fanout.broadcast(7, '{"seq": 3}', recheck=True)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(here.receive(mine), 0.5)
    finally:
        await here.flush()
