"""Strict readers for settings that come from the environment: junk raises, never guesses."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "", environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(name, default).strip()


def env_bool(name: str, default: bool = False, environ: Mapping[str, str] = os.environ) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, environ: Mapping[str, str] = os.environ
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def env_float(
    name: str, default: float, *, minimum: float = 0.0, environ: Mapping[str, str] = os.environ
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number; got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def env_list(name: str, default: str = "", environ: Mapping[str, str] = os.environ) -> list[str]:
    raw = environ.get(name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_pairs(
    name: str, default: str = "", environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """Read `key=value,...` (agents: the key is what users pick, the value the upstream id)."""
    pairs: dict[str, str] = {}
    for item in env_list(name, default, environ):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(
                f"{name} must be key=value pairs separated by commas; got {item!r}"
            )
        pairs[key.strip()] = value.strip()
    return pairs


def env_json_object(name: str, environ: Mapping[str, str] = os.environ) -> dict:
    """A JSON object (a storage backend's options), or {} when unset."""
    raw = env_str(name, "", environ)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f'{name} must be a JSON object, such as {{"bucket_name": "x"}}')
    return value


def env_url(name: str, default: str, environ: Mapping[str, str] = os.environ) -> str:
    value = env_str(name, default, environ).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL; got {value!r}")
    return value


def env_secret(
    name: str, *, demo_default: str | None = None, environ: Mapping[str, str] = os.environ
) -> str:
    """A secret has no working default, except the one the run command's demo mode hands in."""
    value = env_str(name, "", environ)
    if value:
        return value
    if demo_default is not None:
        return demo_default
    raise ImproperlyConfigured(
        f"{name} must be set (it is a secret and has no default; WEBCHAT_DEMO=1 for a local demo)"
    )


def database_config(url: str, *, base_dir: os.PathLike | str) -> dict:
    """SQLite by default, tuned so streaming writes never lock; any dj-database-url otherwise."""
    if not url:
        return _sqlite(os.path.join(base_dir, "db.sqlite3"))
    try:
        config = dj_database_url.parse(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return _sqlite(config["NAME"])
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI every request runs in a thread of its own, so persistent connections
        # would pile up; psycopg's pool hands connections back when a request ends.
        config["OPTIONS"] = {"pool": {"min_size": 2, "max_size": 20, "timeout": 10}}
    return config


def _sqlite(name: str) -> dict:
    # Closing the last connection to a WAL database checkpoints it (an fsync, milliseconds).
    # Channels closes the consumers' shared connection before every socket event, so with
    # CONN_MAX_AGE 0 that close comes with each message sent. A SQLite connection is only a
    # file handle: keep it; request threads' connections close when their thread ends.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": _SQLITE_OPTIONS,
        "CONN_MAX_AGE": None,
    }


_SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def channel_layers_config(redis_url: str) -> dict:
    if not redis_url:
        # Each token can be a message: the default capacity of 100 is too small for a slow tab.
        return {
            "default": {
                "BACKEND": "channels.layers.InMemoryChannelLayer",
                "CONFIG": {"capacity": 1000},
            }
        }
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [redis_url],
                # A killed process never leaves its groups: short expiry, re-joined on a heartbeat.
                "group_expiry": 120,
                "capacity": 1000,
                "prefix": "webchat",
            },
        }
    }


def cache_config(redis_url: str) -> dict:
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "webchat",
        }
    }
