"""Socket test helpers, in one place: the chat socket and the widget socket over real Channels
routing, in process. (An importable module rather than conftest.py, which pytest does not mean
to be imported; tests/cluster.py has their counterparts for sockets to real server processes.)
"""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from conversations import services
from conversations.choices import choice_for
from webchat.asgi import application
from widgets import tokens

CHOICES = {"orq": "orq:model:openai/gpt-4o", "mistral": "mistral:model:mistral-small-latest"}
PROVIDERS = list(CHOICES)
WITHIN = 15  # seconds any one receive may take before the test fails instead of hanging
# The site the test widgets are embedded on (tests/widgets/conftest.py).
SITE = "https://shop.example.com"


async def session_cookie(user) -> bytes:
    client = Client()
    await sync_to_async(client.force_login)(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def socket_for(
    conversation_id,
    user=None,
    origin: bytes | None = b"http://localhost",
    *,
    cookie: bytes | None = None,
    host: bytes = b"localhost",
    extra=(),
):
    """A chat socket signed in as `user` (or with `cookie`), opened from `origin` (None: no
    Origin header); returns (communicator, connected, close code)."""
    headers = [(b"host", host), *extra]
    if origin is not None:
        headers.append((b"origin", origin))
    if cookie is None and user is not None:
        cookie = await session_cookie(user)
    if cookie is not None:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation_id}/", headers=headers
    )
    connected, code = await communicator.connect(timeout=WITHIN)
    return communicator, connected, code


async def receive(communicator) -> dict:
    return json.loads(await communicator.receive_from(timeout=WITHIN))


async def until(communicator, kind: str) -> tuple[list[dict], dict]:
    """Frames received before the first of `kind`, and that frame."""
    before = []
    while True:
        frame = await receive(communicator)
        if frame["type"] == kind:
            return before, frame
        before.append(frame)


async def new_conversation(owner, provider: str):
    return await services.conversation_create(owner=owner, choice=choice_for(CHOICES[provider]))


# --- the widget's socket ----------------------------------------------------------------------


def token_for(widget, origin=SITE, visitor="anon:test-visitor") -> str:
    return tokens.issue(tokens.Visitor(widget.public_key, visitor, origin))


async def widget_socket(widget_key: str):
    communicator = WebsocketCommunicator(
        application, f"/ws/widget/{widget_key}/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")],
    )  # fmt: skip
    connected, _ = await communicator.connect(timeout=WITHIN)
    assert connected
    return communicator


async def widget_signed_in(widget, **auth):
    """A visitor on SITE/pricing with the frame open: its history and snapshot received."""
    communicator = await widget_socket(widget.public_key)
    await communicator.send_json_to(
        {
            "type": "auth",
            "token": token_for(widget),
            "origin": SITE,
            "page": f"{SITE}/pricing",
            **auth,
        }
    )
    history = await receive(communicator)
    assert history["type"] == "history", history
    snapshot = await receive(communicator)
    assert snapshot["type"] == "snapshot"
    return communicator
