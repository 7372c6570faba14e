"""A real Webchat under daphne, the emulator beside it, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from emulator.process import ROOT, EmulatorProcess

CHROMIUM = os.environ.get("WEBCHAT_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "e2e-password-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveWebchat:
    url: str
    username: str
    password: str


@pytest.fixture(scope="session")
def live_webchat(tmp_path_factory) -> Iterator[LiveWebchat]:
    """daphne + emulator as subprocesses on free ports, with a file SQLite database."""
    work = tmp_path_factory.mktemp("e2e")
    emulator = EmulatorProcess("--tokens-per-second", "40")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WEBCHAT_"))},
        "DJANGO_SETTINGS_MODULE": "webchat.settings",
        "WEBCHAT_DEMO": "1",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "ORQ_API_KEY": "e2e",
        "ORQ_PROJECT_ID": "prj_e2e",
        "ORQ_BASE_URL": emulator.url,
        "MISTRAL_API_KEY": "e2e",
        "MISTRAL_BASE_URL": emulator.url,
        "WEBCHAT_SENDS_PER_MINUTE": "200",
        "PYTHONUNBUFFERED": "1",
    }
    server = None
    try:
        manage = [sys.executable, "manage.py"]
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True)
        subprocess.run(
            [
                *manage,
                "shell",
                "-c",
                f"from django.contrib.auth.models import User; User.objects.create_user('erin', password='{PASSWORD}')",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        log = (work / "daphne.log").open("w")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "webchat.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/accounts/login/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("daphne did not start:\n" + (work / "daphne.log").read_text())
            time.sleep(0.2)
        yield LiveWebchat(url, "erin", PASSWORD)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        emulator.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread, which
    # must be gone before the async tests of other modules run.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_webchat: LiveWebchat) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
