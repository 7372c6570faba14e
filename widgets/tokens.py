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
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext as _

SALT = "webchat.widget.visitor"


class Refused(Exception):
    """A token or identity that cannot be accepted; the message says why, for the visitor."""


@dataclass(frozen=True)
class Visitor:
    widget_key: str
    visitor: str  # "anon:<random>" or "user:<id from the site>"
    origin: str
    name: str = ""

    @property
    def verified(self) -> bool:
        return self.visitor.startswith("user:")


def issue(visitor: Visitor) -> str:
    payload = {"w": visitor.widget_key, "v": visitor.visitor, "o": visitor.origin}
    if visitor.name:
        payload["n"] = visitor.name
    return signing.dumps(payload, salt=SALT, compress=True)


def read(token: str, *, widget_key: str, origin: str | None = None) -> Visitor:
    """The visitor a token names, if it is genuine, current, and for this widget (and site)."""
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


def verify_identity(identity: str, secret: str) -> tuple[str, str]:
    """(visitor id, display name) from a signed identity, or `Refused` saying what is wrong."""
    body, _dot, signature = identity.partition(".")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(signature, expected):
        raise Refused(_("The site's sign-in for this chat could not be verified."))
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        user_id = str(claims["user_id"])
        expires = float(claims["exp"])
    except (ValueError, KeyError, TypeError):
        raise Refused(_("The site's sign-in for this chat is malformed.")) from None
    if expires < time.time():
        raise Refused(_("The site's sign-in for this chat has expired; reload the page."))
    if not user_id or len(user_id) > 90:
        raise Refused(_("The site's sign-in for this chat has no usable user id."))
    return f"user:{user_id}", str(claims.get("name", ""))[:100]


def sign_identity(claims: dict, secret: str) -> str:
    """What a site owner's server does (also used by tests and the demo host page)."""
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}"
