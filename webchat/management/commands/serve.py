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

from conversations.providers import ADAPTERS
from emulator.process import EmulatorProcess
from widgets import demo_host


class Command(BaseCommand):
    help = "Migrate, collect static files and serve Webchat; keyless providers use the emulator."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--emulator-port", type=int, default=8765)
        parser.add_argument(
            "--demo-site-port",
            type=int,
            default=8001,
            help="In demo mode, a stand-in website with the demo widget embedded (0: none).",
        )
        parser.add_argument(
            "--no-emulator",
            action="store_true",
            help="Leave providers without an API key disabled instead of emulating them.",
        )

    def handle(self, *args, host, port, emulator_port, no_emulator, demo_site_port, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._ensure_demo_user()
        keyless = [adapter for adapter in ADAPTERS.values() if not adapter.configured]
        emulate = [adapter for adapter in keyless if adapter.emulated and not no_emulator]
        demo_site = None
        if settings.DEMO and demo_site_port:
            site_url = f"http://{host}:{demo_site_port}"
            offered = [a for a in ADAPTERS.values() if a.configured or a in emulate]
            key = self._ensure_demo_widget(site_url, offered)
            if key:
                demo_site = demo_host.start(
                    demo_site_port, webchat_url=f"http://{host}:{port}", key=key, host=host
                )
        env = dict(os.environ)
        emulator = None
        if emulate:
            emulator = EmulatorProcess(port=emulator_port, echo=True)
            env["WEBCHAT_EMULATOR_URL"] = emulator.url
            for adapter in emulate:
                env.update(adapter.emulator_settings(emulator.url))

        for adapter in ADAPTERS.values():
            if adapter in emulate:
                where = f"bundled emulator at {emulator.url}"
            elif adapter in keyless:
                where = "disabled (no key)"
            else:
                where = adapter.setting("BASE_URL")
            self.stdout.write(f"{adapter.key:8} {where}")
        self.stdout.write(self.style.SUCCESS(f"Webchat: http://{host}:{port}/  (Ctrl+C stops)"))
        if demo_site is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"A website with the demo widget: http://{host}:{demo_site_port}/"
                )
            )

        # `kill` and Ctrl+C both stop the children with us: no orphaned emulator or daphne.
        signal.signal(signal.SIGTERM, _interrupt)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "webchat.server",  # daphne, with the websocket size cap (webchat/server.py)
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
            if demo_site is not None:
                demo_site.shutdown()

    def _ensure_demo_user(self) -> None:
        """A fresh install has nobody to sign in as: make one and say how. Every later start
        says again whom to sign in as and how to set a new password: the password itself is
        printed once and kept nowhere (only its hash, as for every user)."""
        User = get_user_model()
        username = os.environ.get("WEBCHAT_DEMO_USER", "demo")
        if not User.objects.exists():
            password = os.environ.get("WEBCHAT_DEMO_PASSWORD") or secrets.token_urlsafe(9)
            # In the demo the one person is its administrator too: /status and /admin/ are
            # for staff, and a newcomer should see them.
            make = User.objects.create_superuser if settings.DEMO else User.objects.create_user
            make(username=username, password=password)
            self.stdout.write(
                self.style.WARNING(f"Created a user to sign in with: {username} / {password}")
            )
            if settings.DEMO:
                self.stdout.write("It is an administrator too: /admin/ and /status.")
            return
        if not User.objects.filter(username=username).exists():
            username = "USERNAME"  # the demo user is gone: any account's name
            self.stdout.write("Sign in with your account.")
        else:
            self.stdout.write(f"Sign in as {username} (its password was printed when it was made).")
        reset = f".venv/bin/python manage.py changepassword {username}"
        self.stdout.write(f"Forgot the password? Set a new one: {reset}")

    def _ensure_demo_widget(self, site_url: str, offered: list) -> str:
        """The demo widget, allowed on the stand-in website (made once, then kept), on the
        default choice or else the first model of the providers `offered` (those with a key,
        and those the emulator stands in for: this process does not see the emulator's keys);
        "" when there is none."""
        from conversations.choices import default_choice
        from widgets.models import Widget

        widget = Widget.objects.filter(name="Demo widget").first()
        if widget is None:
            choice = default_choice()
            if choice is not None:
                provider, kind, name, upstream = (
                    choice.provider, choice.kind, choice.name, choice.upstream
                )  # fmt: skip
            else:
                first = next((a for a in offered if a.models()), None)
                if first is None:
                    return ""
                provider, kind, name, upstream = first.key, "model", "", first.models()[0]
            widget = Widget.objects.create(
                name="Demo widget",
                owner=get_user_model().objects.order_by("id").first(),
                provider=provider,
                model=upstream if kind == "model" else "",
                agent=name if kind == "agent" else "",
                starters=["What can you do?", "Show me some code"],
            )
        origins = {site_url, site_url.replace("127.0.0.1", "localhost")}
        if set(widget.origins) != origins:
            widget.allowed_origins = "\n".join(sorted(origins))
            widget.save(update_fields=["allowed_origins"])
        return widget.public_key


def _interrupt(signum, frame):
    raise KeyboardInterrupt
