"""Who is on the other end of a websocket: the Django session's user, read once at connect.

Channels' `AuthMiddlewareStack` does the same and also wraps every message the socket sends
so that a changed session can be saved with an HTTP response. A websocket has no response to
carry a cookie and our consumers never change the session, so that wrapper only cost time
on each relayed frame. The user is resolved with Channels' own `get_user`, which checks the
session's auth hash as Django's middleware does.
"""

from __future__ import annotations

from importlib import import_module

from channels.auth import get_user
from django.conf import settings
from django.http.cookie import parse_cookie


class SessionAuthMiddleware:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies.update(parse_cookie(value.decode("latin1")))
        scope = {**scope, "cookies": cookies}
        scope["session"] = self.store(cookies.get(settings.SESSION_COOKIE_NAME))
        scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)
