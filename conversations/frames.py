"""What a chat socket may be sent: one incoming frame parsed into a `Request`, or `Malformed`.

Every field is checked here, once, before any handler sees it: strings are text the database
and the providers can take (no unpaired surrogate, no NUL, which PostgreSQL refuses), ids are
whole numbers in a database id's range. A frame that fails is answered with an error frame
saying why, and the socket stays open. Fields a request does not use are ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MAX_ID = 2**63 - 1  # a BigAutoField
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

# The fields each request carries; the widget's socket adds "auth" and "new".
ACTIONS: dict[str, tuple[str, ...]] = {
    "send": ("text", "client_id", "attachments"),
    "edit": ("id", "text", "client_id"),
    "regenerate": ("client_id",),
    "continue": ("client_id",),
    "stop": (),
    "snapshot": (),
    "auth": ("token", "origin", "page"),
    "new": ("client_id",),
}
REQUIRED = {"send": ("text",), "edit": ("id", "text")}

NOT_UNDERSTOOD = _("That request was not understood.")
UNKNOWN = _("Unknown request.")

# The widest JSON a character can take is 12 bytes: a character outside the Basic Multilingual
# Plane written as two \uXXXX escapes (what Python's json.dumps does by default; a browser's
# JSON.stringify writes 4 bytes of UTF-8, or 6 for an escaped control character). So a message
# at the length limit always fits, whoever encoded it, and is answered by the length check in
# words; only a frame no client of ours could send meets the server's cap. The rest is room for
# the other fields of the request.
BYTES_PER_CHAR = 12
ENVELOPE_BYTES = 4096


def max_frame_bytes() -> int:
    """The largest websocket message the server takes (see webchat/server.py)."""
    return BYTES_PER_CHAR * settings.WEBCHAT_MAX_MESSAGE_CHARS + ENVELOPE_BYTES


class Malformed(Exception):
    """A frame we cannot act on; the message says why, in words the page can show."""

    def __init__(self, message: str, *, client_id: str | None = None) -> None:
        super().__init__(message)
        self.client_id = client_id  # the composer waiting for an answer, if it could be read


@dataclass(frozen=True)
class Request:
    action: str
    text: str | None = None
    id: int | None = None
    client_id: str | None = None  # chosen by the page for one send, echoed in its answer
    token: str | None = None  # the widget's "auth": its visitor token,
    origin: str | None = None  # the host page's origin
    page: str | None = None  # and the address of the page it is on
    attachments: tuple[int, ...] | None = None  # the ids of the files uploaded for a send

    @property
    def content(self) -> dict:
        """The request as a JSON object again: only its checked fields."""
        content: dict = {"type": self.action}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name != "action" and value is not None:
                content[field.name] = value
        return content


def parse(text_data: str | None) -> Request:
    """One websocket frame (None: a binary one) as a request, or `Malformed`."""
    if text_data is None:
        raise Malformed(
            gettext("That request was not understood. This chat takes text, not binary data.")
        )
    try:
        content = json.loads(text_data)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise Malformed(NOT_UNDERSTOOD) from None
    return read(content)


def read(content) -> Request:
    """A decoded JSON value as a request, or `Malformed`."""
    if not isinstance(content, dict):
        raise Malformed(NOT_UNDERSTOOD)
    raw_client_id = content.get("client_id")
    # Read first, so that a refusal for any other reason still reaches the right composer.
    client_id = raw_client_id if _is_client_id(raw_client_id) else None
    action = content.get("type")
    if not isinstance(action, str) or action not in ACTIONS:
        raise Malformed(UNKNOWN, client_id=client_id)
    values: dict = {}
    for name in ACTIONS[action]:
        value = content.get(name)
        if value is None:
            if name in REQUIRED.get(action, ()):
                said = gettext("That request was not understood. It has no %(field)s.")
                raise Malformed(said % {"field": name}, client_id=client_id)
        elif name == "client_id":
            if client_id is None:
                raise Malformed(
                    gettext(
                        "That request was not understood. Its client_id must be up to 64 "
                        "letters, digits, - or _."
                    )
                )
            values[name] = client_id
        elif name == "id":
            values[name] = _id(value, client_id)
        elif name == "attachments":
            values[name] = _ids(value, client_id)
        else:
            values[name] = _text(name, value, client_id)
    return Request(action=action, **values)


def _is_client_id(value) -> bool:
    return isinstance(value, str) and CLIENT_ID.fullmatch(value) is not None


def _id(value, client_id: str | None) -> int:
    # bool is an int in Python, and 1e999 decodes as a float (infinity): neither is an id.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise Malformed(gettext("That message is not in this conversation."), client_id=client_id)
    return value


def _ids(value, client_id: str | None) -> tuple[int, ...]:
    # A few ids at most (the limit is checked with the files): a long list is no request.
    if not isinstance(value, list | tuple) or len(value) > 100:
        raise Malformed(NOT_UNDERSTOOD, client_id=client_id)
    return tuple(_id(item, client_id) for item in value)


def _text(name: str, value, client_id: str | None) -> str:
    if not isinstance(value, str):
        said = gettext("That request was not understood. Its %(field)s must be text.")
        raise Malformed(said % {"field": name}, client_id=client_id)
    if "\x00" in value:
        raise Malformed(gettext("Messages cannot contain NUL characters."), client_id=client_id)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800" in JSON): no database or provider can store it.
        raise Malformed(
            gettext(
                "That text contains a broken character (half of a pair); remove it and try again."
            ),
            client_id=client_id,
        ) from None
    return value
