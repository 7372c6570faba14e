"""A strict Content-Security-Policy on every response Webchat serves, the admin's included.

Django 5.2 has none of its own (6.0 has), and a package (django-csp) is more than this needs:
one fixed policy, merged into what a view sets itself. Each of our directives that a response
does not already have is added and nothing else changes, so the widget frame keeps its
per-widget `frame-ancestors` and gets the rest.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.utils.decorators import sync_and_async_middleware

HEADER = "Content-Security-Policy"

# Scripts and styles come only from our own static files: no inline code, no eval. Images may be
# data: URLs (Django's admin icons are files; the favicon is a file too; data: costs nothing).
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",  # and the page's own websocket origin: see _connect_src
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "object-src": "'none'",
}


def policy_for(request, existing: str = "") -> str:
    """Our directives merged into `existing` (a view's own policy wins for what it names)."""
    named = {part.split()[0].lower() for part in existing.split(";") if part.strip()}
    ours = {**POLICY, "connect-src": _connect_src(request)}
    added = [f"{name} {value}" for name, value in ours.items() if name not in named]
    return "; ".join([existing.strip().rstrip(";"), *added] if existing.strip() else added)


def _connect_src(request) -> str:
    # 'self' covers ws(s): of the same host in current browsers, not in older Safari: name the
    # page's own websocket origin too, and no other (a bare `ws:` would allow any host).
    try:
        host = request.get_host()  # checked against ALLOWED_HOSTS: safe to echo
    except DisallowedHost:
        return "'self'"
    scheme = "wss" if request.is_secure() else "ws"
    return f"'self' {scheme}://{host}"


@sync_and_async_middleware
def content_security_policy(get_response):
    def apply(request, response):
        if settings.DEBUG and response.status_code >= 400:
            return response  # Django's debug pages style and script themselves inline
        response[HEADER] = policy_for(request, response.get(HEADER, ""))
        return response

    if iscoroutinefunction(get_response):

        async def middleware(request):
            return apply(request, await get_response(request))

    else:

        def middleware(request):
            return apply(request, get_response(request))

    return middleware
