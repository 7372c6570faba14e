"""Settings come from the environment through strict helpers; junk is refused, not guessed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from emulator.process import ROOT
from webchat.env import (
    cache_config,
    channel_layers_config,
    database_config,
    env_bool,
    env_int,
    env_pairs,
    env_secret,
    env_url,
)


def test_env_bool_reads_the_usual_spellings_and_refuses_junk():
    assert env_bool("X", environ={"X": "yes"}) is True
    assert env_bool("X", environ={"X": "0"}) is False
    assert env_bool("X", True, environ={}) is True
    with pytest.raises(ImproperlyConfigured, match="X must be one of"):
        env_bool("X", environ={"X": "maybe"})


def test_env_int_refuses_junk_and_out_of_range():
    assert env_int("N", 3, environ={}) == 3
    assert env_int("N", 3, environ={"N": " 7 "}) == 7
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("N", 3, environ={"N": "seven"})
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("N", 3, minimum=0, environ={"N": "-1"})


def test_env_pairs_reads_agent_lists():
    assert env_pairs("A", environ={"A": "demo=agent_1, support = agent_2"}) == {
        "demo": "agent_1",
        "support": "agent_2",
    }
    with pytest.raises(ImproperlyConfigured, match="key=value"):
        env_pairs("A", environ={"A": "demo"})


def test_env_url_requires_http():
    assert env_url("U", "https://api.orq.ai/", environ={}) == "https://api.orq.ai"
    with pytest.raises(ImproperlyConfigured, match="http"):
        env_url("U", "", environ={"U": "ftp://example.com"})


def test_secrets_have_no_default_outside_demo_mode():
    assert env_secret("S", environ={"S": "s3cret"}) == "s3cret"
    assert env_secret("S", demo_default="demo", environ={}) == "demo"
    with pytest.raises(ImproperlyConfigured, match="S must be set"):
        env_secret("S", environ={})


def test_default_database_is_sqlite_tuned_for_streaming_writes(tmp_path):
    config = database_config("", base_dir=tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


def test_database_url_selects_postgresql(tmp_path):
    config = database_config("postgres://web:pw@db.internal:5433/chat", base_dir=tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "chat")


def test_redis_url_selects_channels_redis_and_the_redis_cache():
    assert channel_layers_config("")["default"]["BACKEND"].endswith("InMemoryChannelLayer")
    layer = channel_layers_config("redis://127.0.0.1:6379/2")["default"]
    assert layer["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    assert layer["CONFIG"]["hosts"] == ["redis://127.0.0.1:6379/2"]
    assert layer["CONFIG"]["group_expiry"] <= 300
    assert cache_config("redis://x:6379/0")["default"]["BACKEND"].endswith("RedisCache")


def run_settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WEBCHAT_"))}
    clean.pop("DATABASE_URL", None)
    clean.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "webchat.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_refuse_to_start_without_a_secret_key_outside_demo_mode():
    result = run_settings({}, "pass")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
    assert run_settings({"WEBCHAT_DEMO": "1"}, "pass").returncode == 0


def test_junk_in_the_environment_is_a_clear_startup_error():
    result = run_settings({"WEBCHAT_DEMO": "1", "UPSTREAM_RETRIES": "lots"}, "pass")
    assert result.returncode != 0
    assert "UPSTREAM_RETRIES must be a whole number" in result.stderr


def test_orq_key_without_project_is_flagged_at_start_up(settings):
    from conversations.checks import upstream_configuration

    settings.ORQ_API_KEY = "k"
    settings.ORQ_PROJECT_ID = ""
    assert [w.id for w in upstream_configuration(None)] == ["webchat.W001"]
    settings.ORQ_PROJECT_ID = "prj_1"
    assert upstream_configuration(None) == []
