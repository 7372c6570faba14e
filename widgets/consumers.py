"""The widget's socket: the team chat's consumer, for a visitor who proves who they are first.

The frame opens the socket and its first message is the visitor token the host page handed it
(never in the URL). The conversation is the visitor's latest with this widget, or none until
their first message; its model or agent is the widget's, whatever the visitor sends. It belongs
to the widget (no owner), so no team member's chat ever shows it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from asgiref.sync import sync_to_async
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conversations import services
from conversations.assistant_settings import AssistantSettings, takes_of
from conversations.choices import choice_of
from conversations.consumers import CLOSE_NOT_FOUND, ChatConsumer
from conversations.message_view import view_of
from conversations.models import Conversation, Origin
from upstream.errors import UpstreamError
from widgets import limits, origins, tokens
from widgets.models import PUBLIC_KEY, Widget

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
AUTH_SECONDS = 10
HISTORY = 50  # the latest messages a returning visitor sees


class WidgetConsumer(ChatConsumer):
    async def connect(self) -> None:
        await self.accept()
        key = self.scope["url_route"]["kwargs"]["key"]
        self.widget = None
        if PUBLIC_KEY.fullmatch(key):
            self.widget = await Widget.objects.filter(public_key=key, enabled=True).afirst()
        self.visitor: tokens.Visitor | None = None
        self.conversation = None
        self.group = None
        if self.widget is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.auth_timer = asyncio.get_running_loop().call_later(
            AUTH_SECONDS,
            lambda: asyncio.ensure_future(self.refuse(gettext_lazy("No visitor token arrived."))),
        )

    async def refuse(self, why) -> None:
        with translation.override(self.widget.language):
            why = str(why)  # a lazy or plain string, in the widget's language
        await self.send_json({"type": "error", "message": why, "fatal": True})
        await self.close(code=CLOSE_UNAUTHORIZED)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "auth_timer", None):
            self.auth_timer.cancel()
        await super().disconnect(code)

    async def receive_json(self, content, **kwargs) -> None:
        if self.widget is None:
            return  # refused at connect; the socket is closing
        with translation.override(self.widget.language):
            await self.handle_visitor_message(content, **kwargs)

    async def handle_visitor_message(self, content, **kwargs) -> None:
        if self.visitor is None:
            try:
                await self.authenticate(content if isinstance(content, dict) else {})
            except services.Refused as refusal:
                await self.refuse(str(refusal))
            return
        if isinstance(content, dict):
            match content.get("type"):
                case "new":
                    # Nothing is made until the visitor writes: no row here, none upstream.
                    await self.open_conversation(new=True)
                    return
                case "edit":
                    await self.send_json(
                        {"type": "error", "message": _("Editing is not available here.")}
                    )
                    return
                case "snapshot" | "stop" if self.conversation is None:
                    # Nothing written yet: nothing to show, nothing to stop.
                    await self.send_json({"type": "snapshot", "id": None})
                    return
                case "regenerate" | "continue" if self.conversation is None:
                    await self.send_json(
                        {"type": "error", "message": _("There is nothing to regenerate yet.")}
                    )
                    return
        await super().receive_json(content, **kwargs)

    async def authenticate(self, content: dict) -> None:
        token, origin = content.get("token"), content.get("origin")
        if content.get("type") != "auth" or not isinstance(token, str):
            await self.refuse(_("This chat needs a visitor token first."))
            return
        if origin is not None and not isinstance(origin, str):
            await self.refuse(_("This chat session is not valid."))
            return
        try:
            visitor = tokens.read(token, widget_key=self.widget.public_key, origin=origin)
        except tokens.Refused as refusal:
            await self.refuse(str(refusal))
            return
        if not origins.allowed(visitor.origin, self.widget.origins):
            await self.refuse(_("This chat is not available on this site."))
            return
        if self.widget.identity == Widget.Identity.REQUIRED and not visitor.verified:
            await self.refuse(_("Sign in on the site to use this chat."))
            return
        self.auth_timer.cancel()
        self.visitor = visitor
        self.page = _page(content.get("page"), visitor.origin)
        await self.open_conversation(new=False)

    async def open_conversation(self, *, new: bool) -> None:
        """Show the visitor's latest conversation, or (none yet, or "new") an empty one.

        An empty one is not made: it becomes a conversation with the visitor's first message
        (`send_message`), so opening the widget leaves no empty rows here or at the provider.
        """
        conversation = None
        if not new:
            conversation = await (
                Conversation.objects.filter(widget=self.widget, visitor=self.visitor.visitor)
                .order_by("-updated", "-id")
                .afirst()
            )
        await self.unwatch()
        self.conversation = conversation
        await self.send_history()
        if conversation is None:
            await self.send_json({"type": "snapshot", "id": None})
        else:
            await self.watch()

    def widget_choice(self):
        choice = choice_of(self.widget)
        if choice is None:
            raise services.Refused(_("This chat's assistant is not available right now."))
        return choice

    async def send_history(self) -> None:
        if self.conversation is None:
            await self.send_json({"type": "history", "id": None, "html": ""})
            return
        messages = [m async for m in self.conversation.messages.shown().order_by("-id")[:HISTORY]]
        html = "".join(
            render_to_string("conversations/chat.html#message", {"m": view_of(m)})
            for m in reversed(messages)
        )
        await self.send_json({"type": "history", "id": self.conversation.pk, "html": html})

    # --- the team chat's actions, with the widget's limits -----------------------------------

    async def send_message(self, text: str, attachment_ids=()) -> None:
        # Visitors upload nothing (the frame offers no attaching): ids a frame names anyway are
        # left out, as is anything else in it besides the text.
        await self.current_widget()
        if self.conversation is not None:
            await self.refuse_if_gone()  # the provider lost it: "New conversation" goes on
        await sync_to_async(limits.check_message)(
            self.widget, text, visitor=self.visitor.visitor, address=self.address()
        )
        if self.conversation is not None:
            await self.start_turn(text=text, turn=services.Turn(text=text))
        else:
            await self.start_conversation(text)

    async def start_conversation(self, text: str) -> None:
        """The visitor's first message makes the conversation: the widget's, nobody's else.

        It has no owner: visitors' conversations are read only through the admin's audited
        transcript, never in a team member's chat, and count against the widget's limits.
        """
        try:
            conversation, message, reply = await services.conversation_start(
                owner=None,
                choice=self.widget_choice(),
                text=text,
                origin=Origin.WIDGET,
                widget=self.widget,
                visitor=self.visitor.visitor,
                started_on=self.page,
                **self.assistant_settings(),
            )
        except UpstreamError:
            log.warning("Widget %s: the provider refused a new conversation", self.widget.pk,
                        exc_info=True)  # fmt: skip
            raise services.Refused(
                _("This chat's assistant is not available right now. Please try again later.")
            ) from None
        self.conversation = conversation
        await self.watch(snapshot=False)
        await self.run_turn(message, reply, turn=services.Turn(text=text))

    def assistant_settings(self) -> dict:
        """A new conversation's instructions, parameters and variables: the widget's, kept to
        what its provider takes, and the visitor's page and language where the widget passes
        them. Nothing the visitor sends sets any of them (the page is checked by `_page`)."""
        takes = takes_of(self.widget)
        kept = AssistantSettings.of(self.widget).kept_for(takes)
        if takes.variables:
            page = self.widget.page_variables_for(page=self.page)
            kept = replace(kept, variables=kept.variables | page)
        return kept.as_fields()

    async def check_rate(self) -> None:
        # Regenerate counts as a message: the same per-minute and token limits. The widget's
        # own limits, never those of a team member.
        await self.current_widget()
        await sync_to_async(limits.check_turn)(
            self.widget, visitor=self.visitor.visitor, address=self.address()
        )

    async def current_widget(self) -> None:
        """The owner may have changed limits, sites or switched it off since the socket opened."""
        await self.widget.arefresh_from_db()
        if not self.widget.enabled or not origins.allowed(self.visitor.origin, self.widget.origins):
            await self.refuse(_("This chat is not available on this site."))
            raise services.Refused(_("This chat is not available on this site."))

    def address(self) -> str | None:
        client = self.scope.get("client")
        return client[0] if client else None


def _page(url, origin: str) -> str:
    """The host page the conversation started on, if it is on the visitor's site (else none)."""
    if (
        isinstance(url, str)
        and url.startswith(origin + "/")
        and len(url) <= 500
        and url.isprintable()  # no NUL (PostgreSQL refuses it), no lone surrogate
        and " " not in url
    ):
        return url
    return ""
