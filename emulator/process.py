"""Start `manage.py emulator` as a child process and learn its address (tests and `serve`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(r"Emulator listening on (http://\S+)")


class EmulatorProcess:
    """The emulator exactly as a person starts it, on a free port unless told otherwise."""

    def __init__(
        self,
        *args: str,
        port: int = 0,
        env: Mapping[str, str] | None = None,
        echo: bool = False,
        startup_timeout: float = 30,
        prefix: tuple[str, ...] = (),
    ) -> None:
        self.echo = echo
        self.proc = subprocess.Popen(
            # `prefix`: e.g. ("taskset", "-c", "1") to pin it to a core in benchmarks.
            [*prefix, sys.executable, "manage.py", "emulator", "--port", str(port), *args],
            cwd=ROOT,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self.url = self._wait_for_url(startup_timeout)
        # Keep draining its output so a chatty emulator never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_for_url(self, timeout: float) -> str:
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stdout:
                self._keep(line)
                match = _LISTENING.search(line)
                if match:
                    return match.group(1)
        finally:
            timer.cancel()
        raise RuntimeError("the emulator did not start:\n" + "".join(self.output))

    def _keep(self, line: str) -> None:
        self.output.append(line)
        if self.echo:
            sys.stdout.write(line)
            sys.stdout.flush()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self._keep(line)

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen) -> None:
    """Ask a child to stop; kill it if it has not within ten seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
