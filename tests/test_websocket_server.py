"""The chat socket under Webchat's daphne (webchat/server.py) on PostgreSQL: a frame over the
size cap is closed with 1009, which the page can explain; what PostgreSQL cannot store never
reaches it; served over TLS by daphne itself, the origin check knows the pages are https."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import time

import psycopg
import pytest
import trustme
import websockets

from conversations.frames import BYTES_PER_CHAR, ENVELOPE_BYTES
from emulator.process import ROOT, stop_process
from tests.cluster import PASSWORD, Cluster, frame, until
from tests.servers import free_port, prepare

LIMIT = 200  # characters a message may have here
CAP = BYTES_PER_CHAR * LIMIT + ENVELOPE_BYTES
FIRST = "Hello"  # a conversation starts with its first message


@pytest.fixture
def server(scratch_database, emulator_url, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WEBCHAT_"))},
        "DJANGO_SETTINGS_MODULE": "webchat.settings",
        "WEBCHAT_DEMO": "1",
        "DATABASE_URL": scratch_database,
        "ORQ_API_KEY": "k",
        "ORQ_PROJECT_ID": "prj_frames",
        "ORQ_BASE_URL": emulator_url,
        "MISTRAL_API_KEY": "k",
        "MISTRAL_BASE_URL": emulator_url,
        "WEBCHAT_MAX_MESSAGE_CHARS": str(LIMIT),
        "PYTHONUNBUFFERED": "1",
    }
    prepare(env, username="carl", password=PASSWORD)
    cluster = Cluster(env, tmp_path)
    one = cluster.start()
    try:
        client = cluster.sign_in(one)
        response = client.post(
            "/conversations/new",
            data={"choice": "mistral:model:mistral-small-latest", "text": FIRST},
            headers={"HX-Request": "true", "X-CSRFToken": client.cookies["csrftoken"]},
        )
        conversation = int(response.headers["HX-Push-Url"].strip("/").split("/")[-1])
        yield cluster, one, client, conversation
    finally:
        one.stop()


async def settled(ws) -> None:
    """The snapshot, and the first reply's end if it is still being written."""
    snapshot = await frame(ws)
    if snapshot.get("streaming"):
        await until(ws, "done")


def user_messages(cluster: Cluster, conversation: int) -> list[str]:
    """What the person wrote after the first message, as PostgreSQL has it."""
    with psycopg.connect(cluster.env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT text FROM conversations_message WHERE conversation_id = %s AND role = 'user'"
            " ORDER BY id",
            (conversation,),
        ).fetchall()
    return [text for (text,) in rows if text != FIRST]


async def test_a_frame_over_the_cap_is_closed_with_1009_and_the_limit_fits_any_json(server):
    cluster, one, client, conversation = server
    async with cluster.socket(one, client, conversation) as ws:
        await settled(ws)
        # The longest message in its widest JSON (Python's: 12 bytes per emoji) gets through.
        widest = "😀" * LIMIT
        encoded = json.dumps({"type": "send", "text": widest, "client_id": "c" * 64})
        assert len(encoded.encode()) > 4 * LIMIT
        await ws.send(encoded)
        _, turn = await until(ws, "turn")
        assert turn["client_id"] == "c" * 64
        await until(ws, "done")
        # One character more is refused in words, and the socket stays.
        await ws.send(json.dumps({"type": "send", "text": "x" * (LIMIT + 1)}))
        _, refusal = await until(ws, "error")
        assert f"That message is {LIMIT + 1} characters; the limit is {LIMIT}" in refusal["message"]
        # A frame over the cap: closed by the server with "message too big", not dropped.
        await ws.send(json.dumps({"type": "send", "text": "x" * CAP}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await frame(ws)
    assert closed.value.rcvd is not None, "a close frame, not a dropped connection"
    assert closed.value.rcvd.code == 1009
    assert user_messages(cluster, conversation) == [widest]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("NUL \x00 inside", "Messages cannot contain NUL characters."),
        ("half \ud83d a pair", "broken character"),
    ],
)
async def test_text_postgresql_cannot_store_is_refused_before_it_gets_there(server, text, says):
    cluster, one, client, conversation = server
    async with cluster.socket(one, client, conversation) as ws:
        await settled(ws)
        # json.dumps escapes both (\u0000, \ud83d): the frame itself is valid UTF-8 text.
        await ws.send(json.dumps({"type": "send", "text": text, "client_id": "nul-1"}))
        _, refusal = await until(ws, "error")  # after the first exchange's title, if any
        assert says in refusal["message"]
        assert refusal["client_id"] == "nul-1"
        await ws.send(json.dumps({"type": "send", "text": "Still here?"}))
        await until(ws, "turn")
        await until(ws, "done")
    assert user_messages(cluster, conversation) == ["Still here?"]


def test_when_daphne_serves_tls_itself_its_https_pages_open_sockets(tmp_path):
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    certificate.private_key_pem.write_to_path(str(key))
    certificate.cert_chain_pems[0].write_to_path(str(cert))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WEBCHAT_"))},
        "DJANGO_SETTINGS_MODULE": "webchat.settings",
        "DJANGO_SECRET_KEY": "tls-test-key",
        "DJANGO_HTTPS": "0",
    }
    endpoint = f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"
    command = [sys.executable, "-m", "webchat.server", "-e", endpoint, "webchat.asgi:application"]
    log = tmp_path / "daphne.log"
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    context = ssl.create_default_context()
    authority.configure_trust(context)

    async def opens(origin: str) -> bool:
        url = f"wss://127.0.0.1:{port}/ws/conversations/1/"
        try:
            async with websockets.connect(url, origin=origin, ssl=context, open_timeout=5) as ws:
                await ws.recv()  # nobody signed in: 4403, after the handshake passed
        except websockets.InvalidStatus as refused:
            assert refused.response.status_code == 403
            return False
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd.code == 4403
        return True

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert asyncio.run(opens(f"https://127.0.0.1:{port}"))
        assert not asyncio.run(opens(f"http://127.0.0.1:{port}"))
    finally:
        stop_process(server)
