"""Who is on the other end of a websocket: the Django session's user, read at connect and
checked again before each request; its sockets end when the session does.

Channels' `AuthMiddlewareStack` does the same and also wraps every message the socket sends
so that a changed session can be saved with an HTTP response. A websocket has no response to
carry a cookie and our consumers never change the session, so that wrapper only cost time
on each relayed frame. The user is resolved with Channels' own `get_user`, which checks the
session's auth hash as Django's middleware does.

A session ends when its person signs out, when their password changes (the session's auth hash
no longer matches), or when their account is deactivated or deleted. The signal receivers below
tell the sockets of that session or user at once (channel-layer groups, across processes); a
socket also checks its session before acting on each request, in case a message was missed or
the session expired or was removed by other means.
"""

from __future__ import annotations

import hashlib
import logging
from importlib import import_module

from asgiref.sync import async_to_sync
from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http.cookie import parse_cookie
from django.utils.crypto import constant_time_compare

log = logging.getLogger(__name__)

SESSION_ENDED = "session.ended"  # close the socket
SESSION_CHECK = "session.check"  # close it unless its session still signs its user in


class SessionAuthMiddleware:
    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies.update(parse_cookie(value.decode("latin1")))
        scope = {**scope, "cookies": cookies}
        scope["session"] = _session_store()(cookies.get(settings.SESSION_COOKIE_NAME))
        scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def groups_of(scope) -> tuple[str, ...]:
    """The channel-layer groups a signed-in socket joins: its session's and its user's."""
    return (session_group(scope["session"].session_key), user_group(scope["user"].pk))


def session_group(session_key: str) -> str:
    # A session key signs its holder in: only a hash of it goes to the channel layer (Redis).
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def user_group(user_id) -> str:
    return f"user.{user_id}"


async def still_signed_in(scope) -> bool:
    """Whether the socket's session, read afresh, still signs in the user it opened with."""
    user_id = await _signed_in_user_id(scope["session"].session_key)
    return user_id is not None and user_id == scope["user"].pk


@database_sync_to_async
def _signed_in_user_id(session_key: str):
    """Django's `get_user` checks (the secret key's fallbacks included), without its side
    effects: this only reads the session, it never flushes or changes it."""
    session = _session_store()(session_key)
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)
    session_hash = session.get(HASH_SESSION_KEY)
    if user is None or not session_hash:
        return None
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if any(constant_time_compare(session_hash, known) for known in hashes):
        return user.pk
    return None


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs) -> None:
    # Sent before the session is flushed: its key is still the one the sockets joined with.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        _tell(session_group(session_key), SESSION_ENDED)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _user_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    # Only a new password (set_password) or deactivation can end a session; a sign-in saves
    # last_login alone, and that must not cost every open socket a check.
    if created or (update_fields is not None and not {"password", "is_active"} & update_fields):
        return
    group = user_group(instance.pk)
    transaction.on_commit(lambda: _tell(group, SESSION_CHECK))


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def _user_deleted(sender, instance, **kwargs) -> None:
    group = user_group(instance.pk)
    transaction.on_commit(lambda: _tell(group, SESSION_CHECK))


def _tell(group: str, kind: str) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, {"type": kind})
    except Exception:
        # Signing out must not fail because the channel layer did: each socket checks its
        # session before it acts on the next request anyway.
        log.warning("Could not tell the sockets of %s that their session ended", group,
                    exc_info=True)  # fmt: skip
