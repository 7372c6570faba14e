"""Starting the emulator: the command's announcement, its refusals, and serving in-process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx

from emulator.agents import MISTRAL_AGENT_ID, ORQ_AGENT_ID, ORQ_AGENT_KEY
from emulator.process import ROOT, EmulatorProcess
from emulator.server import bind_socket, serve_async, url_of


def test_the_command_announces_its_address_first_then_the_agents(
    emulator_process: EmulatorProcess,
) -> None:
    assert emulator_process.output[0] == f"Emulator listening on {emulator_process.url}\n"
    assert emulator_process.url.startswith("http://127.0.0.1:")
    announced = "".join(emulator_process.output)
    assert f"key={ORQ_AGENT_KEY} id={ORQ_AGENT_ID}" in announced
    assert f"id={MISTRAL_AGENT_ID}" in announced


def test_the_command_refuses_an_invalid_fault() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "emulator", "--port", "0", "--fault", "status=abc"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "'status'" in result.stderr
    assert "Emulator listening" not in result.stdout


async def test_serve_async_runs_in_process_on_a_socket_bound_first() -> None:
    sock = bind_socket("127.0.0.1", 0)
    server = asyncio.create_task(serve_async(tokens_per_second=0, fault="status=418", sock=sock))
    try:
        async with httpx.AsyncClient(base_url=url_of(sock)) as client:
            # The socket listens before uvicorn starts, so this first request just waits for it.
            response = await client.get(
                "/v1/conversations", headers={"Authorization": "Bearer k"}, timeout=10
            )
        assert response.status_code == 418
        assert response.json() == {"detail": "I'm a Teapot (emulated)"}
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
