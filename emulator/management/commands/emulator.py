"""`manage.py emulator`: serve the Orq and Mistral emulator on one port."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from emulator.app import EmulatorConfig
from emulator.knobs import DEFAULT_TOKENS_PER_SECOND, KnobError, ServerFault
from emulator.server import DEFAULT_HOST, DEFAULT_PORT, announce, bind_socket, serve


class Command(BaseCommand):
    help = "Serve the upstream emulator (Orq under /v2, Mistral under /v1) until interrupted."
    requires_system_checks: list[str] = []  # nothing of Django's is used; start fast and quietly

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=DEFAULT_HOST)
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
        parser.add_argument(
            "--tokens-per-second",
            type=float,
            default=DEFAULT_TOKENS_PER_SECOND,
            help="streaming pace; 0 sends as fast as possible",
        )
        parser.add_argument(
            "--fault",
            default="",
            help='server-wide knobs, e.g. "status=503 retry_after=1 times=1" (see the README)',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tokens_per_second"] < 0:
            raise CommandError("--tokens-per-second must be 0 or more")
        try:
            ServerFault(options["fault"])
        except KnobError as exc:
            raise CommandError(f"--fault: {exc}") from None
        try:
            sock = bind_socket(options["host"], options["port"])
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from None
        config = EmulatorConfig(
            tokens_per_second=options["tokens_per_second"], fault=options["fault"]
        )
        announce(sock, config=config)
        try:
            serve(tokens_per_second=config.tokens_per_second, fault=config.fault, sock=sock)
        except KeyboardInterrupt:
            pass
