"""`manage.py serve`: set up and run Webchat under daphne; keyless providers get the emulator."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from emulator.process import EmulatorProcess

EMULATOR_PROJECT_ID = "prj_01kfd2emu1at0r000000000000"


class Command(BaseCommand):
    help = "Migrate, collect static files and serve Webchat; keyless providers use the emulator."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--emulator-port", type=int, default=8765)
        parser.add_argument(
            "--no-emulator",
            action="store_true",
            help="Leave providers without an API key disabled instead of emulating them.",
        )

    def handle(self, *args, host, port, emulator_port, no_emulator, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._ensure_demo_user()

        keyless = [name for name, key in self._keys().items() if not key]
        env = dict(os.environ)
        emulator = None
        if keyless and not no_emulator:
            emulator = EmulatorProcess(port=emulator_port, echo=True)
            env["WEBCHAT_EMULATOR_URL"] = emulator.url
            if "orq" in keyless:
                env.update(ORQ_BASE_URL=emulator.url, ORQ_API_KEY="emulator")
                env.setdefault("ORQ_PROJECT_ID", EMULATOR_PROJECT_ID)
            if "mistral" in keyless:
                env.update(MISTRAL_BASE_URL=emulator.url, MISTRAL_API_KEY="emulator")

        for name in ("orq", "mistral"):
            if name in keyless:
                where = f"bundled emulator at {emulator.url}" if emulator else "disabled (no key)"
            else:
                where = getattr(settings, f"{name.upper()}_BASE_URL")
            self.stdout.write(f"{name:8} {where}")
        self.stdout.write(self.style.SUCCESS(f"Webchat: http://{host}:{port}/  (Ctrl+C stops)"))

        # `kill` and Ctrl+C both stop the children with us: no orphaned emulator or daphne.
        signal.signal(signal.SIGTERM, _interrupt)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                host,
                "-p",
                str(port),
                "webchat.asgi:application",
            ],
            env=env,
        )
        try:
            server.wait()
        except KeyboardInterrupt:
            server.terminate()
            server.wait()
        finally:
            if emulator is not None:
                emulator.stop()

    def _ensure_demo_user(self) -> None:
        """A fresh install has nobody to sign in as: make one and say how."""
        User = get_user_model()
        if User.objects.exists():
            return
        username = os.environ.get("WEBCHAT_DEMO_USER", "demo")
        password = os.environ.get("WEBCHAT_DEMO_PASSWORD") or secrets.token_urlsafe(9)
        User.objects.create_user(username=username, password=password)
        self.stdout.write(
            self.style.WARNING(f"Created a user to sign in with: {username} / {password}")
        )

    @staticmethod
    def _keys() -> dict[str, str]:
        return {"orq": settings.ORQ_API_KEY, "mistral": settings.MISTRAL_API_KEY}


def _interrupt(signum, frame):
    raise KeyboardInterrupt
