"""Shared fixtures: a live upstream emulator over real HTTP, and the test personas."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.test import Client

from emulator.process import EmulatorProcess
from upstream import clients

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# Whole files marked `slow` (`pytest -m "not slow"` leaves them out): each test starts a browser,
# real server processes or several of them. Slow tests elsewhere carry @pytest.mark.slow.
SLOW_FILES = (
    "e2e/",
    "test_multiprocess.py",
    "test_multiprocess_faults.py",
    "test_new_chat_server.py",
    "test_postgresql_input.py",
    "test_serve_shutdown.py",
    "test_websocket_server.py",
)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items) -> None:
    tests = Path(__file__).parent
    for item in items:
        if item.path.relative_to(tests).as_posix().startswith(SLOW_FILES):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"webchat_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cluster(scratch_database, emulator_url, tmp_path):
    """Webchat processes on one PostgreSQL database and Redis (tests/cluster.py)."""
    from tests.cluster import running_cluster

    yield from running_cluster(scratch_database, emulator_url, tmp_path)


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[EmulatorProcess]:
    # Pace 0: as fast as possible. Tests that are about pacing ask for it per request.
    emulator = EmulatorProcess("--tokens-per-second", "0")
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def emulator_url(emulator_process: EmulatorProcess) -> str:
    return emulator_process.url


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "alice-password-1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "bob-password-1")


# Signed-in test clients: alice's and bob's.
@pytest.fixture
def as_alice(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def as_bob(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def carol(django_user_model):
    """A superuser."""
    return django_user_model.objects.create_superuser(
        "carol", "carol@example.com", "carol-password-1"
    )


@pytest.fixture
def dave(django_user_model):
    """Staff in the Transcript reviewers role."""
    return _staff_in_role(django_user_model, "dave", "Transcript reviewers")


@pytest.fixture
def erin(django_user_model):
    """Staff in the Operators role."""
    return _staff_in_role(django_user_model, "erin", "Operators")


def _staff_in_role(user_model, name: str, role: str):
    from django.contrib.auth.models import Group

    user = user_model.objects.create_user(
        name, f"{name}@example.com", f"{name}-password-1", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def upstreams(settings, emulator_url):
    """Point both providers at the live emulator (and rebuild the cached clients)."""
    settings.ORQ_BASE_URL = emulator_url
    settings.MISTRAL_BASE_URL = emulator_url
    settings.WEBCHAT_EMULATOR_URL = emulator_url
    settings.UPSTREAM_RETRIES = 0
    clients.orq.cache_clear()
    clients.mistral.cache_clear()
    yield settings
    clients.orq.cache_clear()
    clients.mistral.cache_clear()
