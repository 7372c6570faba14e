"""A new chat under a real server: the reply the create request starts outlives that request."""

from __future__ import annotations

import os
import sqlite3
import time

import httpx

from tests.servers import WebchatProcess, prepare

PASSWORD = "new-chat-password-1"


def test_the_first_reply_of_a_new_chat_completes_after_its_request_ended(tmp_path, emulator_url):
    database = tmp_path / "db.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WEBCHAT_"))},
        "DJANGO_SETTINGS_MODULE": "webchat.settings",
        "WEBCHAT_DEMO": "1",
        "DATABASE_URL": f"sqlite:///{database}",
        "ORQ_API_KEY": "k",
        "ORQ_PROJECT_ID": "prj_new_chat",
        "ORQ_BASE_URL": emulator_url,
        "MISTRAL_API_KEY": "k",
        "MISTRAL_BASE_URL": emulator_url,
        "WEBCHAT_SAVE_INTERVAL": "0.2",
    }
    prepare(env, username="nina", password=PASSWORD)
    server = WebchatProcess(env, tmp_path / "daphne.log")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as browser:
            browser.get("/accounts/login/")
            credentials = {"username": "nina", "password": PASSWORD}
            token = {"csrfmiddlewaretoken": browser.cookies["csrftoken"]}
            assert browser.post("/accounts/login/", data={**credentials, **token}).is_redirect
            response = browser.post(
                "/conversations/new",
                data={
                    "choice": "orq:model:openai/gpt-4o",
                    "text": "[[emulator tokens_per_second=50]] Hi",
                },
                headers={"HX-Request": "true", "X-CSRFToken": browser.cookies["csrftoken"]},
            )
            assert response.status_code == 200 and "HX-Push-Url" in response.headers
        deadline = time.monotonic() + 20
        while True:
            with sqlite3.connect(database) as db:
                status, text = db.execute(
                    "SELECT status, text FROM conversations_message WHERE role = 'assistant'"
                ).fetchone()
            if status != "streaming" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == "complete", (status, (tmp_path / "daphne.log").read_text()[-2000:])
        assert text
    finally:
        server.stop()
