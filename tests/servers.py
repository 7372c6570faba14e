"""Webchat as real child processes (daphne), for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from emulator.process import ROOT, stop_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(env: Mapping[str, str], *, username: str, password: str) -> None:
    """Migrate, collect static files and create a user, as an operator would."""
    create = (
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user({username!r}, password={password!r})"
    )
    for command in (
        ["migrate", "--noinput"],
        ["collectstatic", "--noinput"],
        ["shell", "-c", create],
    ):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=dict(env),
            check=True,
            capture_output=True,
        )


def create_conversations(
    env: Mapping[str, str], *, username: str, choice: str, count: int = 1
) -> list[int]:
    """Conversations with no message yet, made as the service makes them (the app itself makes
    one only with its first message; benchmarks and tests want to time or watch that one)."""
    script = (
        "import asyncio, json\n"
        "from django.contrib.auth.models import User\n"
        "from conversations import services\n"
        "from conversations.choices import choice_for\n"
        f"owner = User.objects.get(username={username!r})\n"
        "async def make():\n"
        f"    choice = choice_for({choice!r})\n"
        f"    return [(await services.conversation_create(owner=owner, choice=choice)).pk"
        f" for _ in range({count})]\n"
        "print(json.dumps(asyncio.run(make())))\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_ALLOW_ASYNC_UNSAFE": "1"},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


class WebchatProcess:
    """One daphne process serving Webchat on a free port; ready once it answers."""

    def __init__(
        self,
        env: Mapping[str, str],
        log: Path,
        *,
        prefix: tuple[str, ...] = (),
        timeout: float = 30,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        # Webchat's daphne (webchat/server.py): its websocket size cap and clean 1009 closes.
        command = [*prefix, sys.executable, "-m", "webchat.server", "-b", "127.0.0.1"]
        command += ["-p", str(self.port)]
        self.proc = subprocess.Popen(
            [*command, "webchat.asgi:application"],
            cwd=ROOT,
            env=dict(env),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/accounts/login/", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"daphne did not start:\n{log.read_text()}")
            time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        stop_process(self.proc)
