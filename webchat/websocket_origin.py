"""Which pages may open a websocket: this site's own, as Django's CSRF check decides for a form.

A browser sends the page's origin with every websocket handshake and, unlike a form post, no
same-origin rule protects the socket: any site could open one with the visitor's cookies. So
the Origin must be the request's own scheme, host and port (the host one of ALLOWED_HOSTS, the
scheme https when the connection, or a trusted TLS proxy, says so), or one of
CSRF_TRUSTED_ORIGINS. Anything else, a missing Origin included, is refused at the handshake
(HTTP 403). The widget's frame is a page of this site, so its socket passes the same check.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host, port


class SameOriginValidator:
    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            # Refused at the handshake, before any consumer runs or any cookie is read.
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)


def origin_allowed(scope) -> bool:
    sent = _header(scope, b"origin")
    origin = parse_origin(sent) if sent is not None else None
    own = own_origin(scope)
    if origin is not None and (origin == own or _trusted(sent, origin)):
        return True
    # The operator's clue when the site's own pages are refused (behind a TLS proxy, say).
    log.warning(
        "Websocket refused: its Origin %r is neither this site's (%s) nor trusted",
        sent,
        "{}://{}:{}".format(*own)
        if own
        else f"none: Host {_header(scope, b'host')!r} is not allowed",
    )
    return False


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) of an origin such as `https://example.com`; None if it is not one."""
    try:
        url = urlsplit(value)
        port = url.port  # ValueError when it is not a number in range
    except ValueError:
        return None
    if (
        url.scheme not in DEFAULT_PORTS
        or not url.hostname
        or url.username is not None
        or url.path
        or url.query
        or url.fragment
    ):
        return None
    return url.scheme, url.hostname, port or DEFAULT_PORTS[url.scheme]


def own_origin(scope) -> Origin | None:
    """The origin the browser would send from this site's own pages; None for a foreign Host."""
    domain, port = split_domain_port(_header(scope, b"host") or "")
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]  # as Django's get_host
    if not domain or not validate_host(domain, allowed_hosts):
        return None
    scheme = _scheme(scope)
    return scheme, domain.strip("[]"), int(port) if port else DEFAULT_PORTS[scheme]


def _scheme(scope) -> str:
    """http or https, as `request.is_secure()` would say for a page request on this connection."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        forwarded = _header(scope, name.removeprefix("HTTP_").replace("_", "-").lower().encode())
        if forwarded is not None:
            return "https" if forwarded.split(",", 1)[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def _trusted(sent: str, origin: Origin) -> bool:
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if "*" in trusted:
            # "https://*.example.com": its subdomains, as CsrfViewMiddleware matches them.
            scheme, _, netloc = trusted.partition("://")
            if scheme == origin[0] and is_same_domain(urlsplit(sent).netloc.lower(), netloc[1:]):
                return True
        elif parse_origin(trusted) == origin:
            return True
    return False


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin1")
    return None
