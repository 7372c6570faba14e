"""A real Webchat under daphne, the emulator beside it, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from emulator.process import ROOT, EmulatorProcess
from tests.servers import WebchatProcess, prepare

CHROMIUM = os.environ.get("WEBCHAT_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "e2e-password-1"


@dataclass
class LiveWebchat:
    url: str
    username: str
    password: str
    env: dict

    def manage(self, *args: str) -> str:
        """Run a management command against the live server's database."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return result.stdout


@pytest.fixture(scope="session")
def live_webchat(tmp_path_factory) -> Iterator[LiveWebchat]:
    """daphne + emulator as subprocesses on free ports, with a file SQLite database."""
    work = tmp_path_factory.mktemp("e2e")
    emulator = EmulatorProcess("--tokens-per-second", "40")
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
        prepare(env, username="erin", password=PASSWORD)
        server = WebchatProcess(env, work / "daphne.log")
        yield LiveWebchat(server.url, "erin", PASSWORD, env)
    finally:
        if server is not None:
            server.stop()
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


@dataclass
class BrowserConsole:
    """What went wrong in the test's pages: console errors (a Content-Security-Policy refusal,
    an htmx error such as `htmx:oobErrorNoTarget`, a resource that failed to load), any
    Content-Security-Policy report, and uncaught exceptions."""

    problems: list[str] = field(default_factory=list)
    expected: list[re.Pattern] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """A problem this test causes on purpose (a refused request, say) is not a failure."""
        self.expected.append(re.compile(pattern))

    def watch(self, context: BrowserContext) -> None:
        context.on("console", self._message)
        context.on("weberror", lambda error: self.problems.append(f"uncaught: {error.error}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            where = message.location.get("url", "")
            self.problems.append(f"console {message.type}: {message.text} (at {where})")

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(e.search(p) for e in self.expected)]


@pytest.fixture(autouse=True)
def browser_console(request, monkeypatch) -> Iterator[BrowserConsole]:
    """Every browser test fails on a console error or a CSP violation in any of its pages."""
    console = BrowserConsole()
    if "browser" in request.fixturenames:
        browser: Browser = request.getfixturevalue("browser")
        new_context = browser.new_context

        def watched_context(*args, **kwargs) -> BrowserContext:
            context = new_context(*args, **kwargs)
            console.watch(context)
            return context

        monkeypatch.setattr(browser, "new_context", watched_context)
    yield console
    if "browser" in request.fixturenames:
        problems = console.unexpected()
        assert not problems, "the browser reported problems:\n" + "\n".join(problems)


@pytest.fixture
def page(browser: Browser, live_webchat: LiveWebchat, browser_console) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def phone(browser: Browser, live_webchat: LiveWebchat, browser_console) -> Iterator[Page]:
    """A page on a 390 by 844 touch screen (a phone held upright)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
