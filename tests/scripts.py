"""A Django script run in a child process against a scratch PostgreSQL database (tests that
make thousands of rows and read query plans keep them out of the test process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from emulator.process import ROOT


def run_script(script: str, database_url: str, *, timeout: float = 300):
    """Run `script` with Django set up on `database_url`; the JSON its last line prints."""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webchat.settings",
            "WEBCHAT_DEMO": "1",
            "DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
