"""Which sites may embed a widget: exact origins, or `scheme://*.domain` for its subdomains."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def parse_origins(text: str) -> list[str]:
    """The allowed origins, one per line, normalised; a line that is not an origin is an error."""
    origins = []
    for line in text.splitlines():
        line = line.strip().rstrip("/").lower()
        if not line:
            continue
        parts = urlsplit(line)
        host = parts.hostname or ""
        if (
            parts.scheme not in ("http", "https")
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
            or not _HOST.match(host)
        ):
            raise ValidationError(
                {"allowed_origins": f"{line!r} is not an origin like https://shop.example.com"}
            )
        origins.append(line)
    return origins


def allowed(origin: str | None, origins: list[str]) -> bool:
    """Whether a request's `Origin` is one of `origins` (a `*.` entry covers subdomains only)."""
    if not origin:
        return False
    parts = urlsplit(origin.lower())
    try:
        port = parts.port
    except ValueError:
        return False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
    ):
        return False
    for pattern in origins:
        wanted = urlsplit(pattern)
        if wanted.scheme != parts.scheme or wanted.port != port:
            continue
        host = wanted.hostname or ""
        if host.startswith("*."):
            if parts.hostname.endswith(host[1:]):
                return True
        elif parts.hostname == host:
            return True
    return False


def frame_ancestors(origins: list[str]) -> str:
    """The CSP directive: only these sites may frame the widget ('none' when there are none)."""
    return "frame-ancestors " + (" ".join(origins) if origins else "'none'")
