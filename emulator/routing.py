"""Exact-path routes: no slash normalisation, no redirects, `{name}` matches one path segment."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from emulator.asgi import Answer, Request, Response
from emulator.knobs import KnobError, Knobs

Handler = Callable[[Request, Knobs], Awaitable[Answer]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    turn: bool  # a model turn: directives in the user's text apply, and so do the stream knobs

    def match(self, request: Request) -> dict[str, str] | None:
        if request.method != self.method:
            return None
        found = self.pattern.fullmatch(request.path)
        return found.groupdict() if found else None


def route(method: str, template: str, handler: Handler, *, turn: bool = False) -> Route:
    """`route("GET", "/v1/conversations/{conversation_id}", handler)`."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return Route(method, re.compile(pattern), handler, turn)


class Provider(Protocol):
    """One emulated API: its routes and the shapes of its errors."""

    prefix: str

    def routes(self) -> list[Route]: ...

    def error(self, status: int, message: str) -> Response: ...

    def knob_error(self, exc: KnobError, *, source: str) -> Response: ...

    def user_text(self, request: Request) -> str:
        """The user's text in a turn's body, where `[[emulator …]]` directives are read."""
        ...
