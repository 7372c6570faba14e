"""A tiny upstream for the test-only third provider, "Echo": real HTTP and real server-sent events.

Its protocol is its own, not Orq's or Mistral's, so the test proves that a provider is one adapter
and its client, not a variant of the two we have:

    GET    /v0/conversations?page=N&size=M   {"data": [conversation...], "more": bool}
    POST   /v0/conversations                 {"model"} -> conversation
    GET    /v0/conversations/{id}            conversation with "messages": [{id, role, text}]
    PATCH  /v0/conversations/{id}            {"title"} -> conversation
    DELETE /v0/conversations/{id}            204
    POST   /v0/conversations/{id}/turns      {"text", "after"?} -> an event stream:
           {"type": "begin", "user", "reply"}, {"type": "token", "text"}..., {"type": "end",
           "tokens_in", "tokens_out"}. "after": the entry the turn follows ("" for none: the
           conversation starts again); absent, it follows the last.

The reply is "You said: " and the text, one word a token.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_KEY = "echo-test-key"


def reply_to(text: str) -> str:
    return f"You said: {text}"


@dataclass
class StubConversation:
    id: str
    model: str
    title: str = ""
    messages: list[dict] = field(default_factory=list)

    def as_json(self, *, with_messages: bool = False) -> dict:
        data = {"id": self.id, "model": self.model, "title": self.title, "created": 1764540000}
        if with_messages:
            data["messages"] = self.messages
        return data


class EchoUpstream:
    def __init__(self) -> None:
        self.conversations: dict[str, StubConversation] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{next(self._ids)}"

    def create(self, model: str, title: str = "") -> StubConversation:
        conversation = StubConversation(self.new_id("echo"), model, title)
        self.conversations[conversation.id] = conversation
        return conversation

    def texts(self, conversation_id: str) -> list[str]:
        return [m["text"] for m in self.conversations[conversation_id].messages]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(upstream: EchoUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args) -> None:
            pass

        def _send(self, status: int, body: dict | None = None) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}")

        def _route(self) -> tuple[list[str], dict] | None:
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self._send(HTTPStatus.UNAUTHORIZED, {"error": "bad key"})
                return None
            url = urlsplit(self.path)
            return url.path.strip("/").split("/")[1:], parse_qs(url.query)

        def _conversation(self, conversation_id: str) -> StubConversation | None:
            conversation = upstream.conversations.get(conversation_id)
            if conversation is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no conversation {conversation_id}"})
            return conversation

        def do_GET(self) -> None:
            route = self._route()
            if route is None:
                return
            parts, query = route
            if parts == ["conversations"]:
                page, size = int(query.get("page", ["0"])[0]), int(query.get("size", ["20"])[0])
                every = list(upstream.conversations.values())
                rows = every[page * size : (page + 1) * size]
                self._send(
                    HTTPStatus.OK,
                    {"data": [c.as_json() for c in rows], "more": len(every) > (page + 1) * size},
                )
            elif len(parts) == 2 and (conversation := self._conversation(parts[1])):
                self._send(HTTPStatus.OK, conversation.as_json(with_messages=True))

        def do_POST(self) -> None:
            route = self._route()
            if route is None:
                return
            parts, _ = route
            body = self._body()
            if parts == ["conversations"]:
                self._send(HTTPStatus.CREATED, upstream.create(body.get("model", "")).as_json())
            elif len(parts) == 3 and parts[2] == "turns":
                if conversation := self._conversation(parts[1]):
                    self._turn(conversation, body)
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": "no such route"})

        def do_PATCH(self) -> None:
            route = self._route()
            if route is not None and (conversation := self._conversation(route[0][1])):
                conversation.title = self._body()["title"]
                self._send(HTTPStatus.OK, conversation.as_json())

        def do_DELETE(self) -> None:
            route = self._route()
            if route is not None and self._conversation(route[0][1]):
                del upstream.conversations[route[0][1]]
                self._send(HTTPStatus.NO_CONTENT)

        def _turn(self, conversation: StubConversation, body: dict) -> None:
            messages = conversation.messages
            if "after" in body:
                ids = [m["id"] for m in messages]
                if body["after"] and body["after"] not in ids:
                    self._send(HTTPStatus.NOT_FOUND, {"error": f"no entry {body['after']}"})
                    return
                del messages[ids.index(body["after"]) + 1 if body["after"] else 0 :]
            user = {"id": upstream.new_id("in"), "role": "user", "text": body["text"]}
            reply = {"id": upstream.new_id("out"), "role": "assistant", "text": ""}
            messages += [user, reply]
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            events = [{"type": "begin", "user": user["id"], "reply": reply["id"]}]
            words = reply_to(body["text"]).split(" ")
            for i, word in enumerate(words):
                token = word if i == 0 else f" {word}"
                reply["text"] += token
                events.append({"type": "token", "text": token})
            events.append({"type": "end", "tokens_in": len(body["text"]), "tokens_out": len(words)})
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()

    return Handler
