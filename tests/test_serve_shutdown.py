"""`manage.py serve` stopped with SIGTERM mid-reply: the reply is saved and ended, then it exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys

import httpx
import websockets

from emulator.process import ROOT
from tests.servers import create_conversations, free_port
from tests.test_status_page import _wait_for_page

PASSWORD = "serve-password-1"


async def test_sigterm_to_serve_saves_the_reply_it_was_writing_and_tells_the_page(tmp_path):
    database = tmp_path / "db.sqlite3"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORQ_", "MISTRAL_", "DJANGO_", "WEBCHAT_", "DATABASE_URL"))
    }
    env.update(
        WEBCHAT_DEMO="1",
        WEBCHAT_DEMO_USER="sam",
        WEBCHAT_DEMO_PASSWORD=PASSWORD,
        WEBCHAT_SHUTDOWN_GRACE="0.5",
        WEBCHAT_SAVE_INTERVAL="30",  # nothing saved before SIGTERM but what shutdown saves
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_SETTINGS_MODULE="webchat.settings",
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once; the test waits on it in a thread)
            [sys.executable, "manage.py", "serve", "--port", str(port), "--emulator-port", "0",
             "--demo-site-port", "0"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        await asyncio.to_thread(_wait_for_page, f"{url}/healthz", proc, log)
        emulator = log.read_text().split("bundled emulator at ")[1].split()[0]
        made = {**env, "MISTRAL_BASE_URL": emulator, "MISTRAL_API_KEY": "emulator"}
        choice = "mistral:model:mistral-small-latest"
        [conversation] = create_conversations(made, username="sam", choice=choice)
        async with httpx.AsyncClient(base_url=url, timeout=10) as browser:
            await browser.get("/accounts/login/")
            credentials = {"username": "sam", "password": PASSWORD}
            token = {"csrfmiddlewaretoken": browser.cookies["csrftoken"]}
            signed_in = await browser.post("/accounts/login/", data={**credentials, **token})
            assert signed_in.is_redirect
            cookie = f"sessionid={browser.cookies['sessionid']}"
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/conversations/{conversation}/",
            additional_headers={"Cookie": cookie},
            origin=url,
        ) as ws:
            await asyncio.wait_for(ws.recv(), 10)  # the snapshot
            text = "[[emulator tokens_per_second=20 tokens=400]] Keep talking"
            await ws.send(json.dumps({"type": "send", "text": text}))
            seen = 0
            while seen < 10:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame["type"] == "delta":
                    seen = frame["seq"]
            proc.send_signal(signal.SIGTERM)
            while frame["type"] != "done":
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame["type"] == "delta":
                    seen = frame["seq"]
        assert frame["status"] == "interrupted"
        await asyncio.to_thread(proc.wait, 15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with sqlite3.connect(database) as db:
        status, saved, seq = db.execute(
            "SELECT status, text, seq FROM conversations_message WHERE role = 'assistant'"
        ).fetchone()
    assert status == "interrupted" and saved
    assert seq >= seen, "every token the page saw is saved"
