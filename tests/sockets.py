"""Socket test helpers, in one place: the chat socket over real Channels routing, in process.

(tests/cluster.py has their counterparts for sockets to real server processes.)
"""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from conversations import services
from conversations.choices import choice_for
from webchat.asgi import application

CHOICES = {"orq": "orq:model:openai/gpt-4o", "mistral": "mistral:model:mistral-small-latest"}
PROVIDERS = list(CHOICES)
WITHIN = 15  # seconds any one receive may take before the test fails instead of hanging


async def session_cookie(user) -> bytes:
    client = Client()
    await sync_to_async(client.force_login)(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def socket_for(conversation_id, user=None, origin=b"http://localhost"):
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if user is not None:
        headers.append((b"cookie", await session_cookie(user)))
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
