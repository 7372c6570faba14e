"""Webchat under daphne: `python -m webchat.server [daphne's options] webchat.asgi:application`.

daphne's own command line, with these changes:

- an incoming websocket message may be as large as the longest allowed message can be written
  in JSON (`conversations.frames.max_frame_bytes`), not daphne's 1 MiB, unless
  `--websocket-max-message-size` / `--websocket-max-frame-size` say otherwise;
- a larger one is answered with a close frame with code 1009 (message too big), which the page
  reads and explains, instead of autobahn's default of dropping the connection (a browser then
  sees 1006, the same as a network failure, and cannot tell the person what happened);
- a websocket's scope says its scheme (wss when daphne serves TLS itself), which the origin
  check compares with the page's;
- on SIGTERM or SIGINT, replies finish (within WEBCHAT_SHUTDOWN_GRACE) or are saved and marked
  interrupted before the sockets close.
"""

from __future__ import annotations

import logging

from daphne.cli import CommandLineInterface
from daphne.server import Server

logger = logging.getLogger(__name__)


class WebchatServer(Server):
    def __init__(
        self, *args, websocket_max_message_size=None, websocket_max_frame_size=None, **kwargs
    ) -> None:
        # The application is loaded before the server is made: settings are ready.
        from conversations.frames import max_frame_bytes

        cap = max_frame_bytes()
        super().__init__(
            *args,
            websocket_max_message_size=(
                cap if websocket_max_message_size is None else websocket_max_message_size
            ),
            websocket_max_frame_size=(
                cap if websocket_max_frame_size is None else websocket_max_frame_size
            ),
            **kwargs,
        )

    def run(self) -> None:
        # daphne makes the websocket factory in run() and then starts the reactor; this runs
        # as the reactor starts, before any connection is accepted.
        from twisted.internet import reactor  # the asyncio reactor daphne.server installed

        reactor.callWhenRunning(self.close_oversized_messages_cleanly)
        super().run()

    def close_oversized_messages_cleanly(self) -> None:
        self.ws_factory.setProtocolOptions(failByDrop=False)

    def create_application(self, protocol, scope):
        if scope["type"] == "websocket" and "scheme" not in scope:
            # daphne leaves a websocket's scheme out; the origin check (webchat/websocket_origin)
            # needs it when daphne itself serves TLS: then this site's pages are https.
            from twisted.internet.interfaces import ISSLTransport

            secure = ISSLTransport.providedBy(protocol.transport)
            scope["scheme"] = "wss" if secure else "ws"
        return super().create_application(protocol, scope)

    def kill_all_applications(self):
        """On SIGTERM/SIGINT, before daphne cancels every socket: replies finish or are saved
        and marked interrupted, and their viewers are told (conversations/shutdown.py)."""
        import asyncio

        from twisted.internet import defer

        from conversations import shutdown

        drained = defer.Deferred.fromFuture(asyncio.ensure_future(shutdown.drain()))
        drained.addErrback(lambda failure: logger.error("draining replies failed: %s", failure))
        drained.addBoth(lambda _: super(WebchatServer, self).kill_all_applications())
        return drained


class WebchatCommandLine(CommandLineInterface):
    server_class = WebchatServer

    def __init__(self) -> None:
        super().__init__()
        # None: the cap that fits the longest allowed message (see WebchatServer).
        self.parser.set_defaults(websocket_max_message_size=None, websocket_max_frame_size=None)


if __name__ == "__main__":
    WebchatCommandLine.entrypoint()
