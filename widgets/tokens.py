"""Visitor tokens and verified identities.

A visitor token is Django-signed: which widget, which visitor, which site (origin) it was issued
to, with an expiry. The loader keeps it in the host page's own storage and hands it to the frame
by postMessage; it is never in a URL or a cookie.

A verified identity is made on the site owner's server: `base64url(json({user_id, name, email,
exp}))`, a dot, and the hex HMAC-SHA256 of that first part with the widget's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext as _

SALT = "webchat.widget.visitor"
MAX_TOKEN_CHARS = 2000  # ours are a few hundred characters


class Refused(Exception):
    """A token or identity that cannot be accepted; the message says why, for the visitor."""


class Malformed(Refused):
    """Not a token or identity at all (a bad request, rather than a refused one)."""


@dataclass(frozen=True)
class Visitor:
    widget_key: str
    visitor: str  # "anon:<random>" or "user:<id from the site>"
    origin: str
    name: str = ""

    @property
    def verified(self) -> bool:
        return is_verified(self.visitor)


def is_verified(visitor: str) -> bool:
    """A visitor id (as `Conversation.visitor` keeps it) the site's signed identity gave."""
    return visitor.startswith("user:")


def issue(visitor: Visitor) -> str:
    payload = {"w": visitor.widget_key, "v": visitor.visitor, "o": visitor.origin}
    if visitor.name:
        payload["n"] = visitor.name
    return signing.dumps(payload, salt=SALT, compress=True)


def read(token: str, *, widget_key: str, origin: str | None = None) -> Visitor:
    """The visitor a token names, if it is genuine, current, and for this widget (and site)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise Malformed(_("This chat session is not valid."))
    try:
        payload = signing.loads(
            token, salt=SALT, max_age=settings.WEBCHAT_WIDGET_TOKEN_DAYS * 86400
        )
    except signing.SignatureExpired:
        raise Refused(_("This chat session has expired; reload the page.")) from None
    except signing.BadSignature:
        raise Refused(_("This chat session is not valid.")) from None
    if not isinstance(payload, dict) or payload.get("w") != widget_key:
        raise Refused(_("This chat session belongs to another widget."))
    if origin is not None and payload.get("o") != origin:
        raise Refused(_("This chat session belongs to another site."))
    return Visitor(widget_key, str(payload.get("v", "")), str(payload.get("o", "")),
                   str(payload.get("n", "")))  # fmt: skip


def new_anonymous() -> str:
    return "anon:" + secrets.token_urlsafe(12)


MAX_IDENTITY_CHARS = 4096
_IDENTITY = re.compile(r"[A-Za-z0-9_-]+={0,2}\.[0-9a-fA-F]{64}", re.ASCII)


def verify_identity(identity: str, secret: str) -> tuple[str, str]:
    """(visitor id, display name) from a signed identity, or `Refused` saying what is wrong.

    `Malformed` when it cannot even be one (not base64url, a dot and a hex signature): any text
    may arrive here, non-ASCII included, and compare_digest refuses non-ASCII strings.
    """
    if len(identity) > MAX_IDENTITY_CHARS or not _IDENTITY.fullmatch(identity):
        raise Malformed(_("The site's sign-in for this chat is malformed."))
    body, _dot, signature = identity.partition(".")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.lower().encode(), expected.encode()):
        raise Refused(_("The site's sign-in for this chat could not be verified."))
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        user_id, expires = claims["user_id"], claims["exp"]
    except (ValueError, KeyError, TypeError):
        raise Malformed(_("The site's sign-in for this chat is malformed.")) from None
    if (
        not isinstance(user_id, str | int)
        or isinstance(user_id, bool)
        or not isinstance(expires, int | float)
        or isinstance(expires, bool)
        or not math.isfinite(expires)  # NaN would never expire
    ):
        raise Malformed(_("The site's sign-in for this chat is malformed."))
    if expires < time.time():
        raise Refused(_("The site's sign-in for this chat has expired; reload the page."))
    user_id = str(user_id)
    if not user_id or len(user_id) > 90 or not user_id.isprintable():
        raise Refused(_("The site's sign-in for this chat has no usable user id."))
    name = claims.get("name")
    name = name if isinstance(name, str) and name.isprintable() else ""
    return f"user:{user_id}", name[:100]
