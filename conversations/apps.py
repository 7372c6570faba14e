"""Conversations: what a team member chats in, and its records."""

from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
