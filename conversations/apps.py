"""Conversations: what a team member chats in, and its records."""

from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"

    def ready(self) -> None:
        from conversations import (
            attachments,  # noqa: F401  (a file goes with its row)
            checks,  # noqa: F401  (registers the checks)
        )
        from conversations.providers import load_adapters
        from webchat import websocket_auth  # noqa: F401  (a session's sockets end with it)

        load_adapters()
