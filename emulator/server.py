"""Run the emulator: bind the socket first, announce the address, then serve it with uvicorn."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from typing import TextIO

import uvicorn

from emulator.agents import banner_lines
from emulator.app import EmulatorConfig, build_app
from emulator.knobs import DEFAULT_TOKENS_PER_SECOND
from emulator.sse import DropConnection

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# Seconds before an idle keep-alive connection is closed: uvicorn's default, said here because
# clients must let theirs go sooner (upstream.http.Timeouts.keepalive) and tests check it.
IDLE_TIMEOUT = 5.0


class _HideDeliberateDrops(logging.Filter):
    """break_after drops a stream by raising; that is the point, not an error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DropConnection)


def bind_socket(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A listening socket (port 0: any free port), so connections queue before uvicorn starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicit IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets that carry it,
    # and without it every answer written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce(sock: socket.socket, *, config: EmulatorConfig, out: TextIO = sys.stdout) -> None:
    """The first line is what scripts wait for: `Emulator listening on http://HOST:PORT`."""
    print(f"Emulator listening on {url_of(sock)}", file=out, flush=True)
    for line in banner_lines():
        print(line, file=out)
    print(f"Pace: {config.tokens_per_second:g} tokens/s; fault: {config.fault or 'none'}", file=out)
    out.flush()


async def serve_async(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    tokens_per_second: float = DEFAULT_TOKENS_PER_SECOND,
    fault: str = "",
    sock: socket.socket | None = None,
    idle_timeout: float = IDLE_TIMEOUT,
) -> None:
    """Serve until cancelled or signalled; pass `sock` (`bind_socket`) to know the port first."""
    config = EmulatorConfig(tokens_per_second=tokens_per_second, fault=fault)
    app = build_app(config)  # invalid fault knobs raise here, before anything is served
    sock = sock or bind_socket(host, port)
    uvicorn_config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        server_header=False,
        timeout_keep_alive=idle_timeout,
        timeout_graceful_shutdown=1,
    )
    # After uvicorn.Config, which (re)configures its loggers.
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideDeliberateDrops) for f in logger.filters):
        logger.addFilter(_HideDeliberateDrops())
    await uvicorn.Server(uvicorn_config).serve(sockets=[sock])


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    tokens_per_second: float = DEFAULT_TOKENS_PER_SECOND,
    fault: str = "",
    sock: socket.socket | None = None,
) -> None:
    """Blocking `serve_async`, e.g. for a thread of its own."""
    asyncio.run(
        serve_async(host, port, tokens_per_second=tokens_per_second, fault=fault, sock=sock)
    )
