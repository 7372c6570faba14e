"""Just enough raw ASGI: read a request, answer with JSON or nothing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# What a handler returns: something that answers the request once called.
Answer = Callable[[Send, Receive], Awaitable[None]]

_NOT_PARSED = object()


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


class BadJSON(ValueError):
    """The request body is not JSON."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    _json: Any = field(default=_NOT_PARSED, repr=False)

    @classmethod
    async def read(cls, scope: Scope, receive: Receive) -> Request:
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        return cls(scope["method"], scope["path"], query, headers, b"".join(chunks))

    def json(self) -> Any:
        """The body as JSON (cached); raises BadJSON when it is not."""
        if self._json is _NOT_PARSED:
            try:
                self._json = json.loads(self.body) if self.body.strip() else None
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadJSON(str(exc)) from None
        return self._json

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except BadJSON:
            return None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()

    async def __call__(self, send: Send, receive: Receive) -> None:
        await send(
            {"type": "http.response.start", "status": self.status, "headers": list(self.headers)}
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": False})

    def with_headers(self, *headers: tuple[str, str]) -> Response:
        extra = tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers)
        return Response(self.status, self.body, self.headers + extra)


def json_response(status: int, payload: Any) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    length = str(len(body)).encode()
    return Response(
        status, body, ((b"content-type", b"application/json"), (b"content-length", length))
    )


def empty_response(status: int = 204) -> Response:
    return Response(status)
