"""Two (or more) real daphne processes on PostgreSQL and Redis, for the multiprocess tests."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psycopg
import websockets

from tests.conftest import REDIS_URL
from tests.servers import WebchatProcess, create_conversations, prepare

PASSWORD = "cluster-password-1"
WITHIN = 20


class Cluster:
    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env = env
        self.work = work
        self.servers: list[WebchatProcess] = []

    def start(self) -> WebchatProcess:
        server = WebchatProcess(self.env, self.work / f"daphne-{len(self.servers)}.log")
        self.servers.append(server)
        return server

    def sign_in(self, server: WebchatProcess) -> httpx.Client:
        client = httpx.Client(base_url=server.url, timeout=10)
        client.get("/accounts/login/")
        token = client.cookies["csrftoken"]
        response = client.post(
            "/accounts/login/",
            data={"username": "carl", "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{server.url}/accounts/login/"},
        )
        assert response.status_code == 302, response.text
        return client

    def new_conversation(self, client: httpx.Client, choice: str) -> int:
        """One with no message yet: the tests send its first one over the socket."""
        return create_conversations(self.env, username="carl", choice=choice)[0]

    @asynccontextmanager
    async def socket(self, server: WebchatProcess, client: httpx.Client, conversation: int):
        url = f"ws://127.0.0.1:{server.port}/ws/conversations/{conversation}/"
        cookie = f"sessionid={client.cookies['sessionid']}"
        async with websockets.connect(
            url, additional_headers={"Cookie": cookie}, origin=server.url, close_timeout=1
        ) as ws:
            yield ws

    def reply_row(self, conversation: int):
        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return conn.execute(
                "SELECT id, status, text, runner FROM conversations_message "
                "WHERE conversation_id = %s AND role = 'assistant' ORDER BY id DESC LIMIT 1",
                (conversation,),
            ).fetchone()


def running_cluster(scratch_database, emulator_url, tmp_path):
    """The `cluster` fixture (tests/conftest.py): processes started on demand, killed after."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WEBCHAT_"))},
        "DJANGO_SETTINGS_MODULE": "webchat.settings",
        "WEBCHAT_DEMO": "1",
        "DATABASE_URL": scratch_database,
        "REDIS_URL": REDIS_URL,
        "ORQ_API_KEY": "k",
        "ORQ_PROJECT_ID": "prj_cluster",
        "ORQ_BASE_URL": emulator_url,
        "MISTRAL_API_KEY": "k",
        "MISTRAL_BASE_URL": emulator_url,
        "WEBCHAT_LEASE_SECONDS": "2",
        "WEBCHAT_SAVE_INTERVAL": "0.2",
        # Every test's database has its first user as id 1, and the send rate is counted per
        # user id in the one Redis: tests that follow each other within a minute would add up.
        "WEBCHAT_SENDS_PER_MINUTE": "10000",
        "PYTHONUNBUFFERED": "1",
    }
    prepare(env, username="carl", password=PASSWORD)
    cluster = Cluster(env, tmp_path)
    yield cluster
    for server in cluster.servers:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


async def frame(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), WITHIN))


async def until(ws, kind: str) -> tuple[list[dict], dict]:
    before = []
    while True:
        got = await frame(ws)
        if got["type"] == kind:
            return before, got
        before.append(got)
