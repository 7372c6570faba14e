"""The run command's page: the server is up, and which upstreams it talks to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from emulator.process import ROOT
from upstream import clients


def test_status_page_shows_both_upstreams_reachable(client, upstreams, emulator_url):
    response = client.get("/status")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("reachable") == 2
    assert page.count("bundled emulator") == 2
    assert emulator_url in page
    assert "openai/gpt-4o" in page and "mistral-medium-latest" in page


def test_status_page_says_why_an_upstream_is_unreachable(client, upstreams):
    upstreams.MISTRAL_BASE_URL = "http://127.0.0.1:9"
    clients.mistral.cache_clear()
    page = client.get("/status").content.decode()
    assert "unreachable" in page
    assert "cannot connect to http://127.0.0.1:9" in page


def test_a_provider_without_key_is_shown_disabled(client, upstreams):
    upstreams.ORQ_API_KEY = ""
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["providers"]["orq"]["configured"] is False
    assert health["providers"]["mistral"]["reachable"] is True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_command_serves_the_page_and_the_emulator_with_no_keys(tmp_path):
    """`manage.py serve` as the README runs it: no keys, so both providers are emulated."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORQ_", "MISTRAL_", "DJANGO_", "WEBCHAT_", "DATABASE_URL"))
    }
    env.update(
        WEBCHAT_DEMO="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="webchat.settings",
        PYTHONUNBUFFERED="1",
    )
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--emulator-port", "0"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        page = _wait_for_page(f"http://127.0.0.1:{port}/status", proc, log)
        assert page.count("reachable") == 2 and page.count("bundled emulator") == 2
        output = log.read_text()
        assert "Created a user to sign in with: demo / " in output
        emulator = output.split("bundled emulator at ")[1].split()[0]

        headers = {"Authorization": "Bearer any"}
        orq = httpx.get(f"{emulator}/v2/conversations/", headers=headers).json()
        assert orq["object"] == "list" and "has_more" in orq
        mistral = httpx.get(f"{emulator}/v1/conversations", headers=headers)
        assert mistral.status_code == 200 and isinstance(mistral.json(), list)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{emulator}/v1/conversations", headers=headers, timeout=2)


def _wait_for_page(url: str, proc: subprocess.Popen, log) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail("serve exited early:\n" + log.read_text())
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response.text
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail("serve did not answer within 60 s:\n" + log.read_text())
