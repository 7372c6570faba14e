"""Which sites may embed a widget: exact origins, or `scheme://*.domain` for its subdomains.

One parser serves the admin form, the token and socket checks and the frame's
`frame-ancestors`: what the form saves is exactly what the server matches, and a line that
got into the database without the form (a shell, an old row) and does not parse is left out
everywhere rather than passed on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError

log = logging.getLogger(__name__)

_ORIGIN = re.compile(
    r"(?P<scheme>https?)://(?P<wild>\*\.)?(?P<host>[a-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII,
)
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    """A parsed origin: lower-case scheme and host, and a port only when it is not the default."""

    scheme: str
    host: str
    port: int | None = None
    wildcard: bool = False  # `*.host`: any subdomain of host, not host itself

    def __str__(self) -> str:
        host = ("*." if self.wildcard else "") + self.host
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port else "")

    def covers(self, other: Origin) -> bool:
        if (self.scheme, self.port) != (other.scheme, other.port):
            return False
        if self.wildcard:
            return other.host.endswith("." + self.host)
        return other.host == self.host


class NotAnOrigin(ValueError):
    """Text that is not an origin; the message says why, for the admin."""


def parse(text: str, *, wildcard: bool = False) -> Origin:
    """`https://shop.example.com[:port]` (or `https://*.example.com` when `wildcard`)."""
    match = _ORIGIN.fullmatch(text)
    if match is None:
        raise NotAnOrigin("it is not scheme://host[:port] (http or https, nothing after)")
    if match["wild"] and not wildcard:
        raise NotAnOrigin("a * is not allowed here")
    labels = match["host"].split(".")
    if len(match["host"]) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise NotAnOrigin(f"{match['host']!r} is not a host name")
    if match["wild"] and len(labels) < 2:
        raise NotAnOrigin("a * must stand for subdomains of a domain, not of a whole top level")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise NotAnOrigin(f"{port} is not a port")
    if port == DEFAULT_PORTS[match["scheme"]]:
        port = None  # browsers never send the default port
    return Origin(match["scheme"], match["host"], port, bool(match["wild"]))


def parse_origins(text: str) -> list[Origin]:
    """The allowed origins, one per line; a line that is not one raises naming it (the form)."""
    origins = []
    for line, parsed in _lines(text):
        if isinstance(parsed, NotAnOrigin):
            raise ValidationError(
                {
                    "allowed_origins": f"{line.strip()!r} is not an origin like "
                    f"https://shop.example.com or https://*.example.com: {parsed}."
                }
            )
        origins.append(parsed)
    return origins


def usable_origins(text: str) -> list[Origin]:
    """The allowed origins the server acts on: lines that do not parse are skipped (and logged)."""
    origins = []
    for line, parsed in _lines(text):
        if isinstance(parsed, NotAnOrigin):
            log.warning("Widget origin %r ignored: %s", line.strip()[:200], parsed)
        else:
            origins.append(parsed)
    return origins


def _lines(text: str) -> Iterator[tuple[str, Origin | NotAnOrigin]]:
    """Each non-empty line with its origin, or why it is not one: one parser for both uses."""
    for line in (text or "").splitlines():
        entry = _normalise(line)
        if entry:
            try:
                yield line, parse(entry, wildcard=True)
            except NotAnOrigin as why:
                yield line, why


def _normalise(line: str) -> str:
    # What people paste: surrounding spaces, a trailing slash, capitals in the host.
    return line.strip().removesuffix("/").lower()


def allowed(origin: str | None, origins: list[Origin]) -> bool:
    """Whether a request's `Origin` is one of `origins` (a `*.` entry covers subdomains only).

    The header must be exactly what a browser sends: lower case, no path, no default port.
    """
    if not origin or not isinstance(origin, str):
        return False
    try:
        parsed = parse(origin)
    except NotAnOrigin:
        return False
    if str(parsed) != origin:
        return False
    return any(pattern.covers(parsed) for pattern in origins)


def frame_ancestors(origins: list[Origin]) -> str:
    """The CSP directive: only these sites may frame the widget ('none' when there are none).

    Built from parsed origins only, so nothing but `scheme://host[:port]` reaches the header.
    """
    return "frame-ancestors " + (" ".join(map(str, origins)) if origins else "'none'")
