"""The chat socket: one per open conversation. It watches replies; runners own them."""

from __future__ import annotations

import asyncio
import json
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy

from conversations import (
    fanout,
    frames,
    inbox,
    leases,
    registry,
    runner,
    services,
    snapshots,
    user_settings,
)
from conversations.message_view import view_of
from conversations.models import Message, MessageStatus
from webchat import websocket_auth

log = logging.getLogger(__name__)

GROUP_REJOIN_SECONDS = 30  # well inside channels-redis's group_expiry
SNAPSHOT_ANSWER_SECONDS = 2.0
CLOSE_NOT_ALLOWED = 4403
CLOSE_NOT_FOUND = 4404
SOMETHING_WENT_WRONG = gettext_lazy("Something went wrong on our side; nothing was lost.")


class ChatConsumer(AsyncJsonWebsocketConsumer):
    session_groups: tuple[str, ...] = ()  # a signed-in person's socket (not a widget's)
    ended = False  # the session ended: frames are no longer acted on
    client_id: str | None = None  # the page's id for the request being answered
    # The person's language (their settings, else the handshake's Accept-Language), in which
    # every frame is answered; None: the widget's consumer says it in the widget's own.
    language: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        # Accept first so the refusal carries a code the browser (and tests) can read.
        await self.accept()
        if not getattr(user, "is_authenticated", False):
            await self.close(code=CLOSE_NOT_ALLOWED)
            return
        self.conversation = await services.conversation_for(
            user, self.scope["url_route"]["kwargs"]["pk"]
        )
        if self.conversation is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        chosen = await user_settings.asettings_of(user)
        self.language = user_settings.socket_language(chosen, self.scope)
        await self.follow_session()
        with translation.override(self.language):
            await self.watch()

    async def watch(self, *, snapshot: bool = True) -> None:
        """Join the open conversation's viewers and send its snapshot (not for one just begun
        here: its `turn` frame, sent next, shows it whole)."""
        self.group = fanout.group_name(self.conversation.pk)
        # Frames wait here while a snapshot is made; every (re)connect starts with one.
        self.held: list[str] | None = [] if snapshot else None
        self.asked_elsewhere = False
        await self.channel_layer.group_add(self.group, self.channel_name)
        fanout.watch(self.conversation.pk, self)
        self.heartbeat = asyncio.create_task(self.rejoin())
        await inbox.address()  # this process's sweeper and inbox are running from now on
        await leases.mark_expired_interrupted(self.conversation.pk)
        if snapshot:
            await self.send_snapshot()

    async def rejoin(self) -> None:
        """Group memberships expire (a killed process's must not linger): renew ours."""
        while True:
            await asyncio.sleep(GROUP_REJOIN_SECONDS)
            for group in (self.group, *self.session_groups):
                await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        # The reply goes on without us; we only stop watching.
        await self.unwatch()
        await self.unfollow_session()

    async def unwatch(self) -> None:
        if getattr(self, "group", None):
            self.held, self.asked_elsewhere = None, False  # nobody left to send to
            self.heartbeat.cancel()
            fanout.unwatch(self.conversation.pk, self)
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Every frame gets an answer: a malformed one an error frame, and the socket stays."""
        if self.ended:
            return  # its session ended: the socket is closing, nothing more is done for it
        if self.language is None:
            await self.answer(text_data, **kwargs)
            return
        with translation.override(self.language):
            await self.answer(text_data, **kwargs)

    async def answer(self, text_data, **kwargs) -> None:
        try:
            request = frames.parse(text_data)
        except frames.Malformed as refusal:
            await self.send_error(str(refusal), client_id=refusal.client_id)
            return
        self.client_id = request.client_id  # echoed by the turn it starts, or its refusal
        try:
            if self.session_groups and not await websocket_auth.still_signed_in(self.scope):
                await self.end_session()  # signed out, a new password, or no longer active
                return
            await self.receive_json(request.content, **kwargs)
        except Exception:
            # Not a 1011 that drops the socket and says nothing: the page hears, the log knows.
            log.exception("A %r request on a chat socket failed", request.action)
            await self.send_error(SOMETHING_WENT_WRONG)
        finally:
            self.client_id = None

    async def receive_json(self, content, **kwargs) -> None:
        """A request checked by `frames` (the widget's consumer hands on what it does not use)."""
        try:
            request = frames.read(content)
            match request.action:
                case "send":
                    await self.send_message(request.text, request.attachments or ())
                case "stop":
                    await registry.stop(self.conversation)
                case "regenerate":
                    await self.regenerate()
                case "continue":
                    await self.continue_reply()
                case "edit":
                    await self.edit(request.id, request.text)
                case "snapshot":
                    await self.send_snapshot()
                case _:
                    await self.send_error(frames.UNKNOWN)
        except (services.Refused, frames.Malformed) as refusal:
            await self.send_error(str(refusal))

    async def send_error(self, message: str, *, client_id: str | None = None) -> None:
        frame = {"type": "error", "message": str(message)}  # a lazy one, in this language
        client_id = client_id or self.client_id
        if client_id:
            frame["client_id"] = client_id  # so only the composer that sent it takes it as its own
        await self.send_json(frame)

    # --- the session the socket belongs to ----------------------------------------------------

    async def follow_session(self) -> None:
        """Join the groups told when this session ends or its user's sign-in changes."""
        self.session_groups = websocket_auth.groups_of(self.scope)
        for group in self.session_groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def unfollow_session(self) -> None:
        groups, self.session_groups = self.session_groups, ()
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def session_ended(self, event) -> None:
        """The person signed out of this session."""
        await self.end_session()

    async def session_check(self, event) -> None:
        """The user's password or account changed: this session may no longer sign them in."""
        if not await websocket_auth.still_signed_in(self.scope):
            await self.end_session()

    async def end_session(self) -> None:
        self.ended = True
        await self.close(code=CLOSE_NOT_ALLOWED)

    async def dispatch(self, message) -> None:
        # Channels closes stale database connections (a thread hop) before every handler.
        # Relayed frames touch no database, and they are the per-token path: skip it there.
        if message["type"] == "reply.frame":
            await self.reply_frame(message)
        else:
            await super().dispatch(message)

    async def reply_frame(self, event) -> None:
        """A frame from a runner in another process (this process's came by `deliver`)."""
        if fanout.from_elsewhere(event):
            await self.deliver(event["frame"])

    async def deliver(self, frame: str) -> None:
        if self.held is not None:
            self.held.append(frame)  # until the snapshot they follow has been sent
            return
        await self.send(text_data=frame)

    async def reply_snapshot(self, event) -> None:
        """The answer of the process that runs the reply: its live state."""
        if self.asked_elsewhere:
            await self.release(event["frame"])

    # --- actions ----------------------------------------------------------------------------

    async def send_message(self, text: str, attachment_ids=()) -> None:
        await self.refuse_if_gone()
        services.check_message(text)
        files = await services.files_to_send(self.conversation, self.scope["user"], attachment_ids)
        await self.check_rate()
        turn = services.Turn(text=text, attachments=tuple(files))
        await self.start_turn(text=text, turn=turn, attachments=files)

    async def check_rate(self) -> None:
        await services.check_send_rate_async(self.scope["user"])

    async def regenerate(self) -> None:
        await self.refuse_if_gone()
        await self.check_rate()
        plan = await services.plan_regenerate(conversation=self.conversation)
        await self.start_turn(text=None, turn=plan.turn, replace_from=plan.replace_from)

    async def continue_reply(self) -> None:
        """Go on with the latest reply, which stopped at its length limit."""
        await self.refuse_if_gone()
        await self.check_rate()
        await self.conversation.arefresh_from_db()
        reply = await services.begin_continue(conversation=self.conversation)
        turn = services.Turn(text=services.CONTINUE_PROMPT, continues=True)
        await self.run_turn(None, reply, turn=turn, replace_from=reply)

    async def edit(self, message_id, text: str) -> None:
        await self.refuse_if_gone()
        services.check_message(text)
        await self.check_rate()
        plan = await services.plan_edit(
            conversation=self.conversation, message_id=message_id, text=text
        )
        await self.start_turn(
            text=text, turn=plan.turn, replace_from=plan.replace_from, repoint=plan.repoint
        )

    async def start_turn(
        self, *, text, turn, replace_from: Message | None = None, repoint: str = "", attachments=()
    ) -> None:
        await self.conversation.arefresh_from_db()
        turn = services.with_reseed(self.conversation, turn)
        user_message, reply = await services.begin_turn(
            conversation=self.conversation,
            text=text,
            replace_from=replace_from,
            repoint=repoint,
            attachments=list(attachments or turn.attachments),
        )
        await self.run_turn(user_message, reply, turn=turn, replace_from=replace_from)

    async def run_turn(
        self, user_message: Message | None, reply: Message, *, turn, replace_from=None
    ) -> None:
        """Show a begun turn to every page on the conversation, then run its reply."""
        html = ""
        if user_message is not None:
            html += render_to_string(
                "conversations/chat.html#message", {"m": view_of(user_message)}
            )
        html += render_to_string("conversations/chat.html#message", {"m": view_of(reply)})
        frame = {
            "type": "turn",
            "replace_from": replace_from.pk if replace_from else None,
            "html": html,
            "client_id": self.client_id,  # the page whose send this is clears its composer
        }
        await fanout.broadcast(self.conversation.pk, json.dumps(frame), recheck=True)
        await runner.start(conversation=self.conversation, reply=reply, turn=turn)

    async def send_snapshot(self) -> None:
        """Send the latest reply as it stands; frames that come meanwhile wait behind it."""
        if self.asked_elsewhere:
            return  # a snapshot is already on its way; the frames held so far stay held
        if self.held is None:
            self.held = []
        reply = await self.conversation.messages.filter(role=Message.Role.ASSISTANT).alast()
        if reply is None:
            await self.release(json.dumps({"type": "snapshot", "id": None}))
            return
        streaming_elsewhere = (
            reply.status == MessageStatus.STREAMING
            and reply.runner
            and not registry.is_local(reply.pk)
        )
        if not streaming_elsewhere:
            await self.release(json.dumps(await self.settled_snapshot(reply)))
            return
        # Another process runs the reply and holds its latest text: ask it, and hold the
        # deltas until its answer (or, if it is gone, what was last saved) has been sent.
        self.asked_elsewhere = True
        await self.channel_layer.send(
            reply.runner, {"type": "reply.snapshot", "id": reply.pk, "reply_to": self.channel_name}
        )
        asyncio.get_running_loop().call_later(
            SNAPSHOT_ANSWER_SECONDS, lambda: asyncio.ensure_future(self.fall_back(reply.pk))
        )

    async def fall_back(self, message_id: int) -> None:
        if not self.asked_elsewhere:
            return
        reply = await Message.objects.aget(pk=message_id)
        await self.release(json.dumps(await self.settled_snapshot(reply)))

    async def settled_snapshot(self, reply: Message) -> dict:
        # A conversation in Trash is read only (as its page was rendered when it was opened).
        read_only = getattr(self.conversation, "trashed_at", None) is not None
        return await snapshots.settled_snapshot(reply, read_only=read_only)

    async def release(self, snapshot: str) -> None:
        if self.held is None:
            return  # disconnected meanwhile
        held, self.held, self.asked_elsewhere = self.held, None, False
        await self.send(text_data=snapshot)
        for frame in held:
            await self.send(text_data=frame)

    async def refuse_if_gone(self) -> None:
        """No turn goes to a conversation its provider no longer has (a reply may just have
        found that out, so the row is read again): the page offers to continue instead. Nor to
        one in Trash (moved there from another page, maybe), before an edit plans anything."""
        await self.conversation.arefresh_from_db(fields=["upstream_gone", "trashed_at"])
        if self.conversation.trashed_at:
            raise services.Refused(services.TRASHED)
        if self.conversation.upstream_gone:
            raise services.Refused(services.gone_message(self.conversation))
